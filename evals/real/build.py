"""Build the real-repository suite: bugs fixed between two releases of public pure-Python
projects, as SWE-bench-shaped instances for `agent-runtime eval`.

    python evals/real/build.py                 # download (cached), snapshot, write the instances
    python evals/real/build.py --check         # also prove each task fails as given and passes with its fix
    python evals/real/build.py --table         # tasks per project, fixed module sizes, fix sizes
    options: --spec FILE (default evals/real/tasks.toml), --out DIR (default
             ~/.cache/agent-runtime/evals/real), --cache DIR (sdists; default
             ~/.cache/agent-runtime/evals/sdists), --only ID (repeatable)

A task (tasks.toml) names a project, an older and a newer release, the newer release's test(s)
for the fix and the function(s) it fixed. The older release's source distribution is the
repository (one git snapshot per release, committed with a fixed identity and date, so
base_commit is the same everywhere); the newer release's test functions added to the older
test file are the test patch (visible to the agent, committed before it starts); the newer
release's fixed functions put into the older source are the reference fix (never shown).
PASS_TO_PASS is every other test of the files (or classes) `pass_to_pass` names, less `exclude`,
that pytest collects and that passes as given (a skipped test never passes, so it is left out). Only names, versions, hashes and test ids are committed; sources are downloaded
from the package index (PYPI_JSON_URL, default https://pypi.org/pypi) and verified by sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))  # agent_runtime from this checkout (--check uses its judge)
sys.dont_write_bytecode = True

from transplant import TransplantError, add_imports, transplant  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agent-runtime" / "evals"
INDEX = os.environ.get("PYPI_JSON_URL", "https://pypi.org/pypi")
DEFAULT_TEST_CMD = "python -m pytest -q -p no:cacheprovider"
# The snapshot commit: the same bytes everywhere, so base_commit is too.
SNAPSHOT_ENV = {"GIT_AUTHOR_NAME": "agent-runtime evals", "GIT_AUTHOR_EMAIL": "evals@agent-runtime.invalid",
                "GIT_COMMITTER_NAME": "agent-runtime evals", "GIT_COMMITTER_EMAIL": "evals@agent-runtime.invalid",
                "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LANG": "C"}


class BuildError(RuntimeError):
    """The suite cannot be built; the message says which task or file and why."""


@dataclass(frozen=True)
class Project:
    name: str  # on the package index
    sdists: dict[str, str]  # version -> sha256 of its source distribution
    snapshots: dict[str, str]  # version -> the snapshot's commit (checked when given)
    test_cmd: str = DEFAULT_TEST_CMD


@dataclass(frozen=True)
class Spec:
    id: str
    project: str
    old: str
    new: str
    tests: tuple[str, ...]  # FAIL_TO_PASS: test ids in the older tree, taken from the newer release
    fix: tuple[str, ...]  # path::Qualified.name in the newer release
    statement: str
    pass_to_pass: tuple[str, ...] = ()  # test files (or classes, ids) whose other tests must keep passing
    exclude: tuple[str, ...] = ()  # tests of those files that fail as released here
    test_helpers: tuple[str, ...] = ()  # path::name of helpers the new tests need (fixtures), moved too
    test_data: tuple[str, ...] = ()  # files the new tests read (tests/files/x.sql), taken whole from the newer release
    test_imports: tuple[str, ...] = ()  # import lines the new tests need, added to each test file the patch touches
    timeout_s: int = 600
    extra: dict = field(default_factory=dict)


def load_spec(path: Path) -> tuple[dict[str, Project], list[Spec]]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"{path}: {exc}") from None
    projects = {}
    for name, entry in raw.get("projects", {}).items():
        projects[name] = Project(name, dict(entry.get("sdists", {})), dict(entry.get("snapshots", {})),
                                 entry.get("test_cmd", DEFAULT_TEST_CMD))
    specs, seen = [], set()
    for number, entry in enumerate(raw.get("tasks", []), start=1):
        where = f"{path}: task {number} ({entry.get('id', '?')})"
        missing = [k for k in ("id", "project", "old", "new", "tests", "fix", "statement") if k not in entry]
        if missing:
            raise BuildError(f"{where}: missing {', '.join(missing)}")
        if entry["id"] in seen:
            raise BuildError(f"{where}: the id is used twice")
        seen.add(entry["id"])
        project = projects.get(entry["project"])
        if project is None:
            raise BuildError(f"{where}: no [projects.{entry['project']}]")
        for version in (entry["old"], entry["new"]):
            if version not in project.sdists:
                raise BuildError(f"{where}: [projects.{project.name}.sdists] has no sha256 for {version}")
        known = {"id", "project", "old", "new", "tests", "fix", "statement", "pass_to_pass", "exclude",
                 "test_helpers", "test_data", "test_imports", "timeout_s"}
        specs.append(Spec(entry["id"], entry["project"], entry["old"], entry["new"], tuple(entry["tests"]),
                          tuple(entry["fix"]), entry["statement"].strip(), tuple(entry.get("pass_to_pass", ())),
                          tuple(entry.get("exclude", ())), tuple(entry.get("test_helpers", ())),
                          tuple(entry.get("test_data", ())), tuple(entry.get("test_imports", ())),
                          entry.get("timeout_s", 600), {k: v for k, v in entry.items() if k not in known}))
    return projects, specs


# -- sources -----------------------------------------------------------------------------------

def sdist(project: Project, version: str, cache: Path) -> Path:
    """The release's source distribution, from the cache or the index, its sha256 checked."""
    want = project.sdists[version]
    for cached in cache.glob(f"*-{version}.*"):
        if cached.suffix in (".gz", ".zip") and hashlib.sha256(cached.read_bytes()).hexdigest() == want:
            return cached
    # The project's JSON, not the release's (`/NAME/VERSION/json`): the index's per-release pages
    # answered 404 here on 2026-11-25 while the project's page listed every release.
    url = f"{INDEX}/{project.name}/json"
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            files = json.load(answer)["releases"][version]
    except (OSError, ValueError, KeyError) as exc:
        raise BuildError(f"{project.name} {version}: the index did not answer ({url}: {exc})") from None
    chosen = [f for f in files if f.get("packagetype") == "sdist" and f.get("digests", {}).get("sha256") == want]
    if not chosen:
        raise BuildError(f"{project.name} {version}: no source distribution with sha256 {want} on the index")
    link = urllib.parse.urljoin(url, chosen[0]["url"])
    try:
        with urllib.request.urlopen(link, timeout=300) as answer:
            data = answer.read()
    except OSError as exc:
        raise BuildError(f"{project.name} {version}: download failed ({link}: {exc})") from None
    if hashlib.sha256(data).hexdigest() != want:
        raise BuildError(f"{project.name} {version}: {link} does not have the sha256 the spec names")
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / Path(urllib.parse.urlparse(link).path).name
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def unpack(archive: Path, into: Path) -> Path:
    """The archive's single top-level folder, unpacked (no links or paths leaving it)."""
    into.mkdir(parents=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise BuildError(f"{archive.name}: unsafe path {name}")
            zipped.extractall(into)
    else:
        with tarfile.open(archive) as tarred:
            tarred.extractall(into, filter="data")
    tops = list(into.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise BuildError(f"{archive.name}: expected one top-level folder")
    return tops[0]


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    """git's output as it is (bytes decoded, no newline translation: a CRLF file stays one)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), **SNAPSHOT_ENV}
    done = subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false", *args], cwd=cwd,
                          env=env, input=None if stdin is None else stdin.encode("utf-8", "surrogateescape"),
                          capture_output=True, timeout=300)
    if done.returncode != 0:
        raise BuildError(f"git {' '.join(args[:2])} in {cwd}: {done.stderr.decode(errors='replace').strip()[-300:]}")
    return done.stdout.decode("utf-8", "surrogateescape")


def snapshot(project: Project, version: str, cache: Path, repos: Path) -> tuple[Path, str]:
    """One git repository per release: the sdist's files, committed reproducibly."""
    repo = repos / f"{project.name}-{version}"
    if not (repo / ".git").is_dir():
        with tempfile.TemporaryDirectory(prefix="real-build-") as tmp:
            tree = unpack(sdist(project, version, cache), Path(tmp) / "x")
            git(tree, "init", "-q", "-b", "main")
            git(tree, "add", "-A", "-f")  # every file of the release, whatever its own .gitignore says
            git(tree, "commit", "-q", "--no-verify", "--no-gpg-sign", "-m", f"{project.name} {version} (sdist)")
            repo.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(tree), repo)
    commit = git(repo, "rev-parse", "HEAD").strip()
    expected = project.snapshots.get(version)
    if expected and expected != commit:
        raise BuildError(f"{project.name} {version}: snapshot commit {commit}, the spec says {expected} "
                         f"(a different sdist, or an old snapshot in {repo}: delete it)")
    return repo, commit


def show(repo: Path, rel: str) -> str:
    try:
        return git(repo, "show", f"HEAD:{rel}")
    except BuildError:
        raise BuildError(f"{repo.name} has no {rel}") from None


def diff(old: dict[str, str], new: dict[str, str]) -> str:
    """A unified diff (git's) from `old` to `new` files, for `git apply`."""
    with tempfile.TemporaryDirectory(prefix="real-diff-") as tmp:
        root = Path(tmp)
        for files in (old, new):
            for rel, text in files.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(text.encode("utf-8", "surrogateescape"))
            if files is old:
                git(root, "init", "-q")
                git(root, "add", "-A", "-f")
                git(root, "commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "old")
        git(root, "add", "-A", "-f")
        return git(root, "diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames")


def _by_file(symbols: tuple[str, ...], what: str, task: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for symbol in symbols:
        rel, sep, name = symbol.partition("::")
        if not sep or not name:
            raise BuildError(f"{task}: {what} {symbol!r} must be path::Name")
        out.setdefault(rel, []).append(name.replace("::", "."))
    return out


def patches(spec: Spec, old_repo: Path, new_repo: Path) -> tuple[str, str, dict[str, int]]:
    """(test patch, reference fix, lines of each fixed file)."""
    def moved(symbols: dict[str, list[str]], imports: tuple[str, ...] = ()) -> tuple[dict[str, str], dict[str, str]]:
        before, after = {}, {}
        for rel, names in symbols.items():
            before[rel] = show(old_repo, rel)
            try:
                after[rel] = add_imports(transplant(before[rel], show(new_repo, rel), names), list(imports))
            except (TransplantError, SyntaxError) as exc:
                raise BuildError(f"{spec.id}: {rel}: {exc}") from None
        return before, after

    tests = _by_file(spec.test_helpers, "test helper", spec.id)
    for rel, names in _by_file(spec.tests, "test", spec.id).items():
        tests.setdefault(rel, []).extend(n.split("[")[0] for n in names if n.split("[")[0] not in tests.get(rel, []))
    before, after = moved(tests, spec.test_imports)
    for rel in spec.test_data:
        try:
            before[rel] = show(old_repo, rel)
        except BuildError:
            pass  # a new file
        after[rel] = show(new_repo, rel)
    test_patch = diff(before, after)
    old_src, new_src = moved(_by_file(spec.fix, "fix", spec.id))
    for rel in old_src:
        if old_src[rel] == new_src[rel]:
            raise BuildError(f"{spec.id}: the fix's functions in {rel} are the same in both releases")
    return test_patch, diff(old_src, new_src), {rel: text.count("\n") for rel, text in old_src.items()}


def _numstat(patch: str) -> tuple[int, int]:
    lines = patch.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return added, removed


# -- instances ---------------------------------------------------------------------------------

def _prepared(line: dict, out: Path, where: Path):
    from agent_runtime.eval.instance import parse_instance
    from agent_runtime.eval.judge import PrepareError, prepare_instance
    from agent_runtime.eval.repo import check_env, python_bin_dir
    from agent_runtime.eval.suite import SuiteError

    where.mkdir(parents=True, exist_ok=True)
    try:
        ready = prepare_instance(parse_instance(line, line["instance_id"], out), where)
        ready.mark_start()
    except (PrepareError, SuiteError) as exc:
        raise BuildError(f"{line['instance_id']}: {exc}") from None
    return ready, check_env(python_bin_dir(where))


def pass_to_pass(line: dict, spec: Spec, out: Path) -> list[str]:
    """The tests pytest collects under `pass_to_pass` (less FAIL_TO_PASS and `exclude`) that pass
    as given, the test patch applied: skipped ones, and ones that fail in this Python, are left
    out (with a note). Collected and run in the sandbox, as the judge runs them."""
    from agent_runtime.eval.instance import parse_instance
    from agent_runtime.eval.judge import judge_command, outcomes, passed
    from agent_runtime.eval.repo import run_shell

    if not spec.pass_to_pass:
        return []
    with tempfile.TemporaryDirectory(prefix="real-collect-") as tmp:
        ready, env = _prepared({**line, "PASS_TO_PASS": []}, out, Path(tmp))
        files = " ".join(sorted({t.split("::")[0] for t in spec.pass_to_pass}))
        done = run_shell(f"{line['test_cmd']} --collect-only {files}", ready.repo, env, timeout=300, tail_chars=None)
        collected = [row.strip() for row in done.output.splitlines() if "::" in row and not row.startswith(" ")]
        if not done.passed or not collected:
            raise BuildError(f"{spec.id}: pytest could not collect {files}:\n{done.output[-1500:]}")
        missing = [t for t in spec.tests if t not in collected]
        if missing:
            raise BuildError(f"{spec.id}: pytest does not collect {', '.join(missing)}")
        candidates = [t for t in collected if t not in spec.tests and not _under(t, spec.exclude)
                      and _under(t, spec.pass_to_pass)]
        instance = parse_instance({**line, "PASS_TO_PASS": candidates}, spec.id, out)
        run = run_shell(judge_command(instance), ready.repo, env, timeout=600, tail_chars=None)
    found = outcomes(run.output, tuple(candidates))
    left_out = [f"{t} ({found[t].lower()})" for t in candidates if not passed(found[t])]
    if left_out:
        print(f"{spec.id}: PASS_TO_PASS leaves out {len(left_out)} tests that do not pass as given: "
              f"{', '.join(left_out[:5])}{' ...' if len(left_out) > 5 else ''}", file=sys.stderr)
    return [t for t in candidates if passed(found[t])]


def build_one(spec: Spec, project: Project, cache: Path, out: Path) -> dict:
    old_repo, base = snapshot(project, spec.old, cache, out / "repos")
    new_repo, _ = snapshot(project, spec.new, cache, out / "repos")
    test_patch, fix, file_lines = patches(spec, old_repo, new_repo)
    added, removed = _numstat(fix)
    line = {
        "instance_id": spec.id, "repo": f"repos/{old_repo.name}", "base_commit": base,
        "problem_statement": spec.statement, "test_patch": test_patch, "FAIL_TO_PASS": list(spec.tests),
        "PASS_TO_PASS": [], "test_cmd": project.test_cmd, "patch": fix, "tests_visible": True,
        "timeout_s": spec.timeout_s, "project": project.name, "old_version": spec.old, "new_version": spec.new,
        "fixed_symbols": list(spec.fix), "fixed_file_lines": file_lines, "fix_added": added, "fix_removed": removed,
        **spec.extra,
    }
    line["PASS_TO_PASS"] = pass_to_pass(line, spec, out)
    return line


def _under(test: str, prefixes: tuple[str, ...]) -> bool:
    """The test is one of these ids, or in one of these files, classes or parametrized functions."""
    return any(test == p or test.startswith(p + "::") or test.startswith(p + "[") for p in prefixes)


def build(spec_path: Path, out: Path, cache: Path, only: list[str] | None = None) -> list[dict]:
    projects, specs = load_spec(spec_path)
    if only:
        unknown = set(only) - {s.id for s in specs}
        if unknown:
            raise BuildError(f"no task {', '.join(sorted(unknown))} in {spec_path}")
        specs = [s for s in specs if s.id in only]
    lines = [build_one(spec, projects[spec.project], cache, out) for spec in specs]
    out.mkdir(parents=True, exist_ok=True)
    target = out / "instances.jsonl"
    partial = target.with_suffix(".part")
    partial.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    partial.replace(target)
    return lines


# -- proof -------------------------------------------------------------------------------------

def check_one(line: dict, out: Path) -> dict:
    """Unsolved as given (every FAIL_TO_PASS fails, every PASS_TO_PASS passes); solved with the
    reference fix: the eval's own judge, in the sandbox, both ways."""
    from agent_runtime.eval.judge import PrepareError, judge_instance

    problems = []
    with tempfile.TemporaryDirectory(prefix="real-check-") as tmp:
        ready, env = _prepared(line, out, Path(tmp) / "before")
        before = judge_instance(ready, env)
        if before["f2p_passed"] or before["p2p_passed"] != before["p2p_total"]:
            problems.append(f"as given: {before['f2p_passed']}/{before['f2p_total']} FAIL_TO_PASS pass (want 0), "
                            f"{before['p2p_passed']}/{before['p2p_total']} PASS_TO_PASS; not passed: "
                            f"{_listed(before['not_passed'], line['PASS_TO_PASS'])}")
        ready, env = _prepared(line, out, Path(tmp) / "after")
        try:
            ready.git("apply", "-", stdin=line["patch"])
        except PrepareError as exc:
            raise BuildError(f"{line['instance_id']}: the reference fix does not apply: {exc}") from None
        started = time.monotonic()
        after = judge_instance(ready, env)
        seconds = round(time.monotonic() - started, 1)
        if not after["solved"]:
            problems.append(f"with the fix: {after['f2p_passed']}/{after['f2p_total']} FAIL_TO_PASS, "
                            f"{after['p2p_passed']}/{after['p2p_total']} PASS_TO_PASS; not passed: "
                            f"{_listed(after['not_passed'], line['FAIL_TO_PASS'] + line['PASS_TO_PASS'])}\n"
                            f"{after['check_output'][-600:]}")
    return {"id": line["instance_id"], "ok": not problems, "problems": problems, "tests_s": seconds,
            "fix_lines": after["diff_added"] + after["diff_removed"]}


def _listed(not_passed: dict[str, str], among: list[str]) -> str:
    shown = [f"{test} ({status})" for test, status in not_passed.items() if test in among]
    return ", ".join(shown[:12]) + (f" and {len(shown) - 12} more" if len(shown) > 12 else "") if shown else "none"


def figures(lines: list[dict]) -> dict:
    per_project: dict[str, int] = {}
    for line in lines:
        per_project[line["project"]] = per_project.get(line["project"], 0) + 1
    return {
        "tasks": len(lines), "projects": len(per_project), "tasks_per_project": per_project,
        "per_task": [{"id": line["instance_id"], "release": f"{line['project']} {line['old_version']} -> {line['new_version']}",
                      "fixed": line["fixed_symbols"], "fixed_file_lines": line["fixed_file_lines"],
                      "fix_added": line["fix_added"], "fix_removed": line["fix_removed"],
                      "fail_to_pass": len(line["FAIL_TO_PASS"]), "pass_to_pass": len(line["PASS_TO_PASS"])}
                     for line in lines],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python evals/real/build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=HERE / "tasks.toml", metavar="FILE",
                        help="the tasks (default: evals/real/tasks.toml)")
    parser.add_argument("--out", type=Path, default=CACHE / "real", metavar="DIR",
                        help="where instances.jsonl and the snapshots go (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=CACHE / "sdists", metavar="DIR",
                        help="downloaded source distributions (default: %(default)s)")
    parser.add_argument("--only", action="append", metavar="ID",
                        help="build (and check) only this task; repeatable; instances.jsonl then holds only these")
    parser.add_argument("--check", action="store_true", help="prove every task fails as given and passes with its fix")
    parser.add_argument("--table", action="store_true", help="print the suite's figures as JSON")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        lines = build(args.spec, args.out.resolve(), args.cache, args.only)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    build_s = round(time.monotonic() - started, 1)
    print(f"wrote {len(lines)} instances to {args.out / 'instances.jsonl'} in {build_s} s", file=sys.stderr)
    if args.table:
        print(json.dumps({**figures(lines), "build_s": build_s}, indent=1))
    if not args.check:
        return 0
    failed = 0
    for line in lines:
        try:
            result = check_one(line, args.out.resolve())
        except BuildError as exc:
            result = {"id": line["instance_id"], "ok": False, "problems": [str(exc)], "tests_s": 0, "fix_lines": 0}
        failed += not result["ok"]
        mark = "ok  " if result["ok"] else "FAIL"
        print(f"{mark} {result['id']:<40} tests {result['tests_s']:>5} s  fix {result['fix_lines']} lines", flush=True)
        for problem in result["problems"]:
            print("     " + problem.replace("\n", "\n     "))
    print(f"{len(lines) - failed}/{len(lines)} tasks fail as given and pass with their fix "
          f"({round(time.monotonic() - started, 1)} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
