"""An instance's repository and its judgement.

Preparing: the snapshot's history up to base_commit is fetched into a fresh repository (the
snapshot is only read; later commits, which may hold the fix, are not fetched); with
`tests_visible` the test patch is committed on top, so the agent's `git diff` shows only its own
changes. A second git directory, outside the repository where the agent cannot write, records
the state the agent starts from: the judge reads the agent's work tree through it and never
through the repository's own .git, whose settings (hooks, fsmonitor, filters) the agent could
have changed (see gitcmd.py for what those run).

Judging: what the agent changed is measured (files, lines added and removed); the test files
(those the test patch touches, those the test ids name, any conftest.py) go back to base_commit
and the test patch is applied again, so the original tests judge; then FAIL_TO_PASS and
PASS_TO_PASS run with the instance's test command inside the sandbox, as a task's check does.
Solved: every listed test passed (an expected failure, xfail, counts as passed, as in SWE-bench).
The outcome of each test is read from pytest's summary (`-rfEpx`): the test command must be
pytest or pass its arguments on to it.
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from agent_runtime.eval.instance import Instance, is_git_repository, patch_paths
from agent_runtime.eval.repo import GIT_IDENTITY, run_shell
from agent_runtime.gitcmd import NO_PROGRAMS, GitError, run_git

JUDGE_TIMEOUT_S = 600
DIFF_KEEP_CHARS = 20_000  # the agent's diff kept in the result, for reading what it did
REPORT_FLAGS = "-rfEpx"  # pytest's summary lists failed, error, passed and xfailed tests by id


class PrepareError(RuntimeError):
    """The instance's repository could not be made (a missing snapshot, an unknown commit)."""


def _env(git_dir: Path | None = None, work_tree: Path | None = None) -> dict[str, str]:
    env = {"HOME": os.environ.get("HOME", "/tmp"), **GIT_IDENTITY}
    if git_dir is not None:
        env["GIT_DIR"] = str(git_dir)
    if work_tree is not None:
        env["GIT_WORK_TREE"] = str(work_tree)
    return env


# Where an instance's snapshot may come from: a local repository, GitHub (https), git@ (ssh).
FETCH_PROTOCOLS = ("file", "https", "ssh")


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None,
         timeout: float = 600) -> str:
    """git through the door (gitcmd); only fetch and clone may use a transport."""
    protocols = FETCH_PROTOCOLS if args[0] in ("fetch", "clone") else ()
    try:
        done = run_git(args, cwd, env=env or _env(), timeout=timeout, protocols=protocols,
                       input=None if stdin is None else stdin.encode("utf-8", "surrogateescape"))
    except GitError as exc:
        raise PrepareError(f"git {args[0]}: {exc}") from None
    stdout = done.stdout.decode("utf-8", "surrogateescape")
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "surrogateescape")
        raise PrepareError(f"git {args[0]} failed: {(stderr or stdout).strip()[-400:]}")
    return stdout


@dataclass
class InstanceRepo:
    """The agent's repository (`repo`) and the judge's own view of it (`judge_dir`, outside it)."""

    instance: Instance
    repo: Path
    judge_dir: Path
    base: str  # base_commit, or the plain directory's commit
    start_tree: str = ""  # the work tree the agent was given (after setup)

    def git(self, *args: str, stdin: str | None = None) -> str:
        return _git(self.repo, *args, env=_env(self.judge_dir, self.repo), stdin=stdin)

    def mark_start(self) -> None:
        """The state the agent starts from; its changes are measured against it."""
        self.git("add", "-A")
        self.start_tree = self.git("write-tree").strip()


def prepare_instance(instance: Instance, where: Path) -> InstanceRepo:
    where = where.resolve()
    repo = where / "repo"
    repo.mkdir(parents=True)
    if instance.base_commit is not None:
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "fetch", "-q", "--no-tags", "--", instance.source, instance.base_commit)
        _git(repo, "checkout", "-q", "-B", "main", instance.base_commit)
        base = instance.base_commit
    else:
        source = Path(instance.source)
        if not source.is_dir() or is_git_repository(source):
            raise PrepareError(f"{source} is no longer a plain directory")
        shutil.rmtree(repo)
        shutil.copytree(source, repo, symlinks=True)
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--no-verify", "-m", f"{instance.id}: {source.name}")
        base = _git(repo, "rev-parse", "HEAD").strip()
    if instance.tests_visible and instance.test_patch.strip():
        _git(repo, "apply", "--index", "-", stdin=instance.test_patch)
        _git(repo, "commit", "-q", "--no-verify", "-m", f"{instance.id}: the failing tests")
    judge_dir = where / "judge.git"
    _git(where, "clone", "-q", "--bare", "--no-hardlinks", "--", str(repo), str(judge_dir))
    prepared = InstanceRepo(instance, repo, judge_dir, base)
    prepared.git("read-tree", "HEAD")  # a bare clone has no index: the judge's starts from HEAD
    return prepared


def _is_protected(path: str, protected: set[str]) -> bool:
    """A test file, a conftest.py, or what stands where a test file's folder was (a symlink to elsewhere)."""
    return (path in protected or PurePosixPath(path).name == "conftest.py"
            or any(other.startswith(path + "/") for other in protected))


def _changes(prepared: InstanceRepo) -> list[tuple[int | None, int | None, str]]:
    """(added, removed, path) of every file changed since the start (None: a binary file)."""
    prepared.git("add", "-A")
    out = prepared.git("diff", "--cached", "--numstat", "-z", "--no-renames", *NO_PROGRAMS, prepared.start_tree)
    changes = []
    for entry in out.split("\0"):
        if entry.strip():
            added, removed, path = entry.split("\t", 2)
            changes.append((int(added) if added.isdigit() else None, int(removed) if removed.isdigit() else None, path))
    return changes


def _clear_way(repo: Path, rel: str) -> None:
    """Nothing on the way to `rel` may lead out of the repository: a directory the agent replaced
    by a symlink (or a file) is removed before anything is written there."""
    current = repo
    for part in PurePosixPath(rel).parts[:-1]:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            current.unlink()
    target = repo / rel
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)


def restore_tests(prepared: InstanceRepo, paths: list[str]) -> None:
    """Each path as base_commit has it (or gone), then the test patch applied to the work tree."""
    at_base = set(prepared.git("ls-tree", "-r", "--name-only", "-z", prepared.base, "--", *paths).split("\0")) - {""}
    for rel in paths:
        _clear_way(prepared.repo, rel)
        if rel in at_base:
            prepared.git("checkout", prepared.base, "--", rel)
    if prepared.instance.test_patch.strip():
        prepared.git("apply", "--whitespace=nowarn", "-", stdin=prepared.instance.test_patch)


def outcomes(output: str, tests: tuple[str, ...]) -> dict[str, str]:
    """Test id -> PASSED / XFAIL / FAILED / ERROR / MISSING, from the last summary pytest printed
    (what the tests themselves printed comes before it). A test listed as failed or in error is
    that, even if also listed as passed (a teardown error lists a test twice)."""
    start = output.rfind("short test summary info")
    lines = set(output[start:].splitlines()) if start >= 0 else set()

    def listed(status: str, test: str) -> bool:
        return f"{status} {test}" in lines or any(line.startswith(f"{status} {test} - ") for line in lines)

    return {test: next((status for status in ("FAILED", "ERROR", "PASSED", "XFAIL") if listed(status, test)), "MISSING")
            for test in tests}


def passed(status: str) -> bool:
    return status in ("PASSED", "XFAIL")  # as SWE-bench counts: an expected failure is not a regression


def judge_command(instance: Instance) -> str:
    tests = " ".join(shlex.quote(t) for t in instance.fail_to_pass + instance.pass_to_pass)
    if "{tests}" in instance.test_cmd:
        return instance.test_cmd.replace("{tests}", f"{REPORT_FLAGS} {tests}")
    return f"{instance.test_cmd} {REPORT_FLAGS} {tests}"


def judge_instance(prepared: InstanceRepo, env: dict[str, str], timeout: float = JUDGE_TIMEOUT_S) -> dict[str, Any]:
    instance = prepared.instance
    changes = _changes(prepared)
    protected = set(instance.protected) | set(patch_paths(instance.test_patch))
    tampered = sorted(path for _, _, path in changes if _is_protected(path, protected))
    judged = [change for change in changes if change[2] not in tampered]
    diff = prepared.git("diff", "--cached", "--no-color", "--no-renames", *NO_PROGRAMS, prepared.start_tree, "--",
                        *[path for _, _, path in judged]) if judged else ""
    facts: dict[str, Any] = {
        "tampered": tampered,
        "diff_files": len(judged),
        "diff_added": sum(added or 0 for added, _, _ in judged),
        "diff_removed": sum(removed or 0 for _, removed, _ in judged),
        "diff": diff[:DIFF_KEEP_CHARS],
    }
    restore_tests(prepared, sorted(protected | set(tampered)))
    check = run_shell(judge_command(instance), prepared.repo, env, timeout=timeout, tail_chars=None)
    found = outcomes(check.output, instance.fail_to_pass + instance.pass_to_pass)
    f2p = sum(passed(found[t]) for t in instance.fail_to_pass)
    p2p = sum(passed(found[t]) for t in instance.pass_to_pass)
    solved = f2p == len(instance.fail_to_pass) and p2p == len(instance.pass_to_pass) and not check.timed_out
    facts.update(
        solved=solved,  # edited tests were put back first: only the tests' outcome counts
        f2p_passed=f2p, f2p_total=len(instance.fail_to_pass),
        p2p_passed=p2p, p2p_total=len(instance.pass_to_pass),
        not_passed={test: status for test, status in found.items() if not passed(status)},
        check_exit_code=check.exit_code,
        check_output="" if solved else check.output[-1500:],
    )
    return facts
