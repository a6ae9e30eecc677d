"""The bug-fixing suite in evals/, the change tasks of evals/kinds/ and the single-function bugs of
evals/single/: every task is well formed, fails as shipped, and passes once its reference
solution is applied. Standard library and pytest only. (The question tasks of evals/kinds/:
test_question_tasks.py.)"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EVALS = Path(__file__).resolve().parents[2] / "evals"
TASKS_FILE = EVALS / "tasks.jsonl"
SOLUTIONS_FILE = EVALS / "solutions.jsonl"

REQUIRED = {"id": str, "prompt": str, "files": dict, "setup": (str, type(None)), "check": str,
            "timeout_s": int, "protected": list, "kind": str}
KINDS = {"multi-module", "traceback", "feature", "edge-case", "renamed-api", "change", "single-function"}
BUGS = {"off-by-one", "wrong-operator", "edge-case", "wrong-return", "swapped-args"}
PUBLIC_BENCHMARK_MARKERS = ("humaneval", "mbpp", "quixbugs", "fizzbuzz", "is_palindrome", "is_prime")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


TASKS = read_jsonl(TASKS_FILE)
SOLUTIONS = {entry["id"]: entry for entry in read_jsonl(SOLUTIONS_FILE)}
BY_ID = {task["id"]: task for task in TASKS}
# evals/kinds/: changes across several files (judged like the fixes) and questions (by their answer)
KIND_TASKS = read_jsonl(EVALS / "kinds" / "tasks.jsonl")
KIND_SOLUTIONS = {entry["id"]: entry for entry in read_jsonl(EVALS / "kinds" / "solutions.jsonl")}
CHANGES = [task for task in KIND_TASKS if task["kind"] == "change"]
# evals/single/: single-function bugs (one module, one wrong function)
SINGLE_TASKS = read_jsonl(EVALS / "single" / "tasks.jsonl")
SINGLE_SOLUTIONS = {entry["id"]: entry for entry in read_jsonl(EVALS / "single" / "solutions.jsonl")}
CHECKED = TASKS + CHANGES + SINGLE_TASKS  # every task judged by its check command
CHECKED_SOLUTIONS = {**SOLUTIONS, **{task["id"]: KIND_SOLUTIONS[task["id"]] for task in CHANGES}, **SINGLE_SOLUTIONS}


def test_suite_shape():
    ids = [task["id"] for task in TASKS]
    assert len(TASKS) >= 28
    assert len(ids) == len(set(ids)), "duplicate task ids"
    assert set(ids) == set(SOLUTIONS), "every task needs exactly one solution and vice versa"
    counts = {kind: sum(task["kind"] == kind for task in TASKS) for kind in KINDS - {"change", "single-function"}}
    assert min(counts.values()) >= 4, counts


def test_features_come_with_their_tests():
    """A feature task is judged by tests written for the feature, which the agent cannot edit."""
    features = [task for task in TASKS if task["kind"] == "feature"]
    assert len(features) >= 5
    for task in features:
        run = [word for word in task["check"].split() if word.endswith(".py")]
        assert run and all(word.startswith("tests/") and word in task["protected"] for word in run), task["id"]


def test_the_kinds_suite_shape():
    ids = [task["id"] for task in KIND_TASKS]
    assert len(ids) == len(set(ids)) and not set(ids) & set(BY_ID), "ids unique across both suites"
    assert set(ids) == set(KIND_SOLUTIONS)
    counts = {kind: sum(task["kind"] == kind for task in KIND_TASKS) for kind in ("change", "question")}
    assert counts == {"change": len(CHANGES), "question": len(KIND_TASKS) - len(CHANGES)}
    assert min(counts.values()) >= 5, counts
    for task in CHANGES:  # several files change, and the check reads more than one of them
        assert len(KIND_SOLUTIONS[task["id"]]["files"]) >= 2, task["id"]
        assert "answer" not in task


def single_bugs() -> dict[str, str]:
    """Each single-function task's bug sub-kind, kept in evals/sources/ (read from `build.py --table`)."""
    table = subprocess.run([sys.executable, str(EVALS / "build.py"), "--table"], capture_output=True, text=True,
                           timeout=60, check=True).stdout
    return {row[0]: row[3] for row in (line.split() for line in table.splitlines()) if row[1:2] == ["single-function"]}


def functions(source: str) -> dict[str, str]:
    """The module's top-level functions, each as its AST dump (what it does, not how it is laid out)."""
    return {node.name: ast.dump(node) for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


def test_the_single_function_suite_shape():
    ids = [task["id"] for task in SINGLE_TASKS]
    assert len(ids) >= 20 and len(ids) == len(set(ids)) and set(ids) == set(SINGLE_SOLUTIONS)
    assert not set(ids) & (set(BY_ID) | {task["id"] for task in KIND_TASKS}), "ids unique across the suites"
    assert {task["kind"] for task in SINGLE_TASKS} == {"single-function"}
    bugs = single_bugs()
    assert set(bugs) == set(ids) and set(bugs.values()) == BUGS
    counts = {bug: sum(b == bug for b in bugs.values()) for bug in BUGS}
    assert min(counts.values()) >= 4, counts
    assert load_suite_ids(EVALS / "single") == ids and not set(ids) & set(load_suite_ids(EVALS))


def load_suite_ids(path: Path) -> list[str]:
    from agent_runtime.eval.suite import load_suite

    return [task.id for task in load_suite(path)]


@pytest.mark.parametrize("task", SINGLE_TASKS, ids=[task["id"] for task in SINGLE_TASKS])
def test_a_single_function_task_is_one_module_with_one_wrong_function(task):
    """One module of 3-6 functions beside its tests, under 80 lines in all; the fix changes one
    function of it and nothing else; the prompt names a test or quotes what running it printed."""
    (module,) = [path for path in task["files"] if not path.startswith("tests/")]
    assert module.endswith(".py") and "/" not in module
    assert all(path.startswith("tests/test_") and path.endswith(".py") for path in task["files"] if path != module)
    assert sum(content.count("\n") for content in task["files"].values()) <= 80
    before = functions(task["files"][module])
    assert 3 <= len(before) <= 6, sorted(before)
    fixed = SINGLE_SOLUTIONS[task["id"]]["files"]
    assert set(fixed) == {module}
    after = functions(fixed[module])
    assert set(after) == set(before)
    changed = [name for name in before if before[name] != after[name]]
    assert len(changed) == 1, changed
    rest = [node for node in ast.parse(task["files"][module]).body if not isinstance(node, ast.FunctionDef)]
    assert [ast.dump(n) for n in rest] == [ast.dump(n) for n in ast.parse(fixed[module]).body
                                           if not isinstance(n, ast.FunctionDef)], "only the function changes"
    assert re.search(r"test_\w+|Traceback|Error\b", task["prompt"]), "the prompt names a test or quotes the failure"


def test_jsonl_matches_sources():
    """tasks.jsonl and solutions.jsonl are generated from evals/sources/ by evals/build.py."""
    result = subprocess.run([sys.executable, str(EVALS / "build.py"), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("task", CHECKED, ids=[task["id"] for task in CHECKED])
def test_task_schema(task):
    for key, kind in REQUIRED.items():
        assert key in task, key
        assert isinstance(task[key], kind), key
    assert set(task) == set(REQUIRED), set(task) ^ set(REQUIRED)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", task["id"])
    assert task["kind"] in KINDS
    assert task["prompt"].strip() and task["timeout_s"] > 0
    assert 2 <= len(task["files"]) <= 8
    for path, content in task["files"].items():
        assert isinstance(content, str)
        assert not path.startswith("/") and ".." not in Path(path).parts
    assert any(path.startswith("tests/") for path in task["files"])
    assert sum(content.count("\n") for content in task["files"].values()) <= 250
    assert task["protected"] and all(path in task["files"] for path in task["protected"])
    assert task["check"].startswith("python -m pytest ") and "-p no:cacheprovider" in task["check"]
    for word in task["check"].split():
        if word.endswith(".py"):
            assert word in task["protected"], f"{word} is read by the check but not protected"
    text = json.dumps(task).lower()
    assert not any(marker in text for marker in PUBLIC_BENCHMARK_MARKERS)

    solution = CHECKED_SOLUTIONS[task["id"]]
    assert set(solution) == {"id", "files"} and solution["files"]
    for path, content in solution["files"].items():
        assert isinstance(content, str)
        assert path not in task["protected"], f"the solution edits protected {path}"
        assert content != task["files"].get(path), f"the solution leaves {path} unchanged"


@pytest.fixture(scope="module")
def python_bin(tmp_path_factory) -> Path:
    """A directory whose `python` is this interpreter, to put first on PATH."""
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "python").symlink_to(sys.executable)
    return bin_dir


def run(command: str, cwd: Path, python_bin: Path, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{python_bin}{os.pathsep}{os.environ.get('PATH', '')}",
           # no stale .pyc after a same-size edit within the same second; no slow plugins
           "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    for name in ("PYTHONPATH", "PYTEST_ADDOPTS", "VIRTUAL_ENV"):
        env.pop(name, None)
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.mark.parametrize("task", CHECKED, ids=[task["id"] for task in CHECKED])
def test_task_fails_then_solution_passes(task, tmp_path, python_bin):
    repo = tmp_path / "repo"
    repo.mkdir()
    for path, content in task["files"].items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "task")
    if task["setup"]:
        setup = run(task["setup"], repo, python_bin, timeout=60)
        assert setup.returncode == 0, setup.stdout + setup.stderr

    unsolved = run(task["check"], repo, python_bin, timeout=120)
    output = unsolved.stdout + unsolved.stderr
    assert unsolved.returncode != 0, f"the check passes before any fix:\n{output}"
    # A real test failure, not a broken check command.
    assert re.search(r"\b\d+ (failed|errors?)\b", output), output

    for path, content in CHECKED_SOLUTIONS[task["id"]]["files"].items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content, encoding="utf-8")
    solved = run(task["check"], repo, python_bin, timeout=120)
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert re.search(r"\b\d+ passed\b", solved.stdout) and "skipped" not in solved.stdout, solved.stdout
