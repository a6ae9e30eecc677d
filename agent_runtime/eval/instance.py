"""SWE-bench-shaped instances in a suite: a repository at a commit, a problem statement, a test
patch and the tests that must pass. A line with `instance_id` is one of these; a line with `id`
is one of the project's own tasks (suite.py). Everything is checked at load, so a bad field is
reported with its file and line before any model time is spent.

The reference fix (`patch`) is kept for reports and never reaches the agent: the agent gets
`problem_statement` as its task, nothing else of the instance.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from agent_runtime.eval.task import SuiteError, Task

DEFAULT_TEST_CMD = "python -m pytest -q -p no:cacheprovider"
_GITHUB_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_SHA = re.compile(r"[0-9a-f]{7,40}")
_KNOWN = {"instance_id", "repo", "base_commit", "problem_statement", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS",
          "test_cmd", "setup", "timeout_s", "patch", "tests_visible", "kind"}


@dataclass(frozen=True)
class Instance(Task):
    """A Task whose repository comes from `source` at `base_commit` (None: a plain directory,
    committed as it is) and that is judged by its tests, not by `check` (which only shows the
    command for reports)."""

    source: str = ""  # an absolute path (a git repository or a plain directory) or a git URL
    base_commit: str | None = None
    test_patch: str = ""
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    test_cmd: str = DEFAULT_TEST_CMD
    tests_visible: bool = False  # the test patch committed before the agent starts (our own suite)
    reference_patch: str | None = None


def patch_paths(diff: str) -> list[str]:
    """The files a unified diff touches (old and new names), in order, without a/ b/ prefixes."""
    found: list[str] = []
    for line in diff.splitlines():
        if line.startswith(("--- ", "+++ ")):
            name = line[4:].split("\t")[0].strip()
            if name == "/dev/null":
                continue
            if name.startswith(('"a/', '"b/')):
                name = '"' + name[3:]
            elif name.startswith(("a/", "b/")):
                name = name[2:]
            if name.startswith('"'):
                try:
                    name = json.loads(name)  # git quotes unusual names C-style; JSON covers the common escapes
                except ValueError:
                    pass
            if name not in found:
                found.append(name)
    return found


def _relative(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return bool(path.strip()) and not path.startswith("/") and ".." not in parts and ".git" not in parts


def _test_list(raw: dict[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = raw.get(name, [] if name == "PASS_TO_PASS" else None)
    if value is None:
        raise SuiteError(f"{where}: the instance has no {name!r}")
    if isinstance(value, str):  # SWE-bench ships these as JSON strings of lists
        try:
            value = json.loads(value)
        except ValueError:
            raise SuiteError(f"{where}: {name!r} is a string but not a JSON list of test ids") from None
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() and "\n" not in t for t in value):
        raise SuiteError(f"{where}: {name!r} must be a list of test ids")
    for test in value:
        if not _relative(test.split("::")[0]):
            raise SuiteError(f"{where}: {name!r}: {test!r} must name a test inside the repository")
    return tuple(dict.fromkeys(value))


def is_git_repository(path: Path) -> bool:
    """A work tree with its own .git, or a bare repository (not a folder inside someone's work tree)."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def _resolve_commit(repo: Path, commit: str, where: str) -> str:
    from agent_runtime.gitcmd import GitError, run_git  # git only through the door

    try:
        done = run_git(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], repo)
    except GitError as exc:
        raise SuiteError(f"{where}: 'base_commit': git could not read {repo} ({exc})") from None
    if done.returncode != 0:
        raise SuiteError(f"{where}: 'base_commit' {commit} is not a commit of {repo}")
    return done.stdout.decode("utf-8", "replace").strip()  # the full sha: a fetch needs it


def _source(raw: dict[str, Any], base_dir: Path, where: str) -> tuple[str, str | None]:
    """(where the repository comes from, its full base commit or None for a plain directory)."""
    repo, commit = raw["repo"], raw.get("base_commit")
    if commit is not None and (not isinstance(commit, str) or not _SHA.fullmatch(commit)):
        raise SuiteError(f"{where}: 'base_commit' must be a commit id (hex)")
    local = (base_dir / os.path.expanduser(repo)).resolve()
    if local.is_dir():
        if is_git_repository(local):
            if commit is None:
                raise SuiteError(f"{where}: 'base_commit' is needed: {local} is a git repository")
            return str(local), _resolve_commit(local, commit, where)
        if commit is not None:
            raise SuiteError(f"{where}: 'base_commit' given, but {local} is a plain directory, not a git repository")
        return str(local), None
    if "://" in repo or repo.startswith("git@"):
        url = repo
    elif _GITHUB_NAME.fullmatch(repo) and not repo.startswith("."):
        url = f"https://github.com/{repo}.git"  # SWE-bench names repositories owner/name
    else:
        raise SuiteError(f"{where}: 'repo' {repo!r}: no such directory, and not a git URL or owner/name")
    if commit is None or len(commit) != 40:
        raise SuiteError(f"{where}: 'base_commit' must be a full 40-character commit id for a remote repository")
    return url, commit


def parse_instance(raw: dict[str, Any], where: str, base_dir: Path) -> Instance:
    """One instance line; `base_dir` is where relative repository paths start (the suite file's folder)."""
    for name in ("instance_id", "repo", "problem_statement", "test_patch"):
        if name not in raw:
            raise SuiteError(f"{where}: the instance has no {name!r}")
        if not isinstance(raw[name], str):
            raise SuiteError(f"{where}: {name!r} has the wrong type ({type(raw[name]).__name__})")
    for name, kinds in {"test_cmd": str, "setup": (str, type(None)), "timeout_s": int, "patch": (str, type(None)),
                        "tests_visible": bool, "kind": (str, type(None))}.items():
        if name in raw and (not isinstance(raw[name], kinds) or (name == "timeout_s" and isinstance(raw[name], bool))):
            raise SuiteError(f"{where}: {name!r} has the wrong type ({type(raw[name]).__name__})")
    if not raw["instance_id"].strip():
        raise SuiteError(f"{where}: 'instance_id' is empty")
    if not raw["problem_statement"].strip():
        raise SuiteError(f"{where}: 'problem_statement' is empty")
    if raw.get("timeout_s", 300) <= 0:
        raise SuiteError(f"{where}: 'timeout_s' must be positive")
    if not raw.get("test_cmd", DEFAULT_TEST_CMD).strip():
        raise SuiteError(f"{where}: 'test_cmd' is empty")
    test_patch = raw["test_patch"]
    touched = patch_paths(test_patch)
    if test_patch.strip() and not touched:
        raise SuiteError(f"{where}: 'test_patch' is not a unified diff (no ---/+++ file lines)")
    for path in touched:
        if not _relative(path):
            raise SuiteError(f"{where}: 'test_patch' touches {path!r}, outside the repository")
    fail_to_pass = _test_list(raw, "FAIL_TO_PASS", where)
    if not fail_to_pass:
        raise SuiteError(f"{where}: 'FAIL_TO_PASS' is empty: nothing would show the fix")
    pass_to_pass = tuple(t for t in _test_list(raw, "PASS_TO_PASS", where) if t not in fail_to_pass)
    source, commit = _source(raw, base_dir, where)
    test_cmd = raw.get("test_cmd", DEFAULT_TEST_CMD).strip()
    test_files = [t.split("::")[0] for t in fail_to_pass + pass_to_pass]
    return Instance(
        id=raw["instance_id"], prompt=raw["problem_statement"], files={},
        check=f"{test_cmd} <{len(fail_to_pass)} FAIL_TO_PASS + {len(pass_to_pass)} PASS_TO_PASS tests>",
        setup=raw.get("setup"), timeout_s=raw.get("timeout_s", 300),
        protected=tuple(dict.fromkeys(touched + test_files)), kind=raw.get("kind") or "instance",
        extra={k: v for k, v in raw.items() if k not in _KNOWN},
        source=source, base_commit=commit, test_patch=test_patch, fail_to_pass=fail_to_pass,
        pass_to_pass=pass_to_pass, test_cmd=test_cmd, tests_visible=raw.get("tests_visible", False),
        reference_patch=raw.get("patch"))
