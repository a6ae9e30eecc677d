"""Helpers for writing task sources: each task is buggy files plus the edits that fix them."""

from __future__ import annotations

PYTEST = "python -m pytest -q -p no:cacheprovider"
KINDS = ("multi-module", "traceback", "feature", "edge-case", "renamed-api", "change", "question", "skill",
         "single-function")
DIFFICULTIES = ("easy", "medium", "hard")
# the small bug of a single-function task (evals/single/), kept in sources like difficulty
BUGS = ("off-by-one", "wrong-operator", "edge-case", "wrong-return", "swapped-args")


def src(text: str) -> str:
    """File content written as a raw triple-quoted string: drop the newline after the quotes."""
    return text[1:] if text.startswith("\n") else text


def task(*, id: str, kind: str, difficulty: str, prompt: str, files: dict[str, str],
         fix: dict[str, str | list[tuple[str, str]]], also_protected: tuple[str, ...] = (),
         tests: tuple[str, ...] | None = None, setup: str | None = None, timeout_s: int = 300) -> dict:
    """One task. `fix` maps a path to its fixed full content, or to (old, new) replacements that
    are applied to the buggy file (each `old` must occur exactly once). Every file under tests/
    is protected, plus `also_protected`. The check runs `tests` (default: all test files)."""
    assert kind in KINDS and difficulty in DIFFICULTIES, id
    files = {path: src(text) for path, text in files.items()}
    solution = applied(id, files, fix)
    test_files = sorted(p for p in files if p.startswith("tests/"))
    protected = test_files + sorted(also_protected)
    check = f"{PYTEST} {' '.join(tests or [p for p in test_files if p.rsplit('/', 1)[-1].startswith('test_')])}"
    return {
        "task": {"id": id, "prompt": prompt.strip(), "files": files, "setup": setup, "check": check,
                 "timeout_s": timeout_s, "protected": protected, "kind": kind},
        "solution": {"id": id, "files": solution},
        "difficulty": difficulty,
    }


def applied(id: str, files: dict[str, str], fix: dict[str, str | list[tuple[str, str]]]) -> dict[str, str]:
    """The files `fix` changes, each as its full new content (see `task`)."""
    solution = {}
    for path, change in fix.items():
        if isinstance(change, str):
            solution[path] = src(change)
            continue
        text = files[path]
        for old, new in change:
            assert text.count(old) == 1, f"{id}: {path}: {old!r} occurs {text.count(old)} times"
            text = text.replace(old, new)
        solution[path] = text
    return solution


def question(*, id: str, difficulty: str, prompt: str, files: dict[str, str], answer: list[str],
             reference: str, timeout_s: int = 300) -> dict:
    """A question about the code: no check command; the agent's final answer must match every
    regex of `answer` (case-insensitive). `reference` is a right answer, kept with the solutions.
    Every file is protected: the code is read, not changed."""
    assert difficulty in DIFFICULTIES and answer, id
    files = {path: src(text) for path, text in files.items()}
    return {
        "task": {"id": id, "prompt": prompt.strip(), "files": files, "setup": None, "check": None,
                 "timeout_s": timeout_s, "protected": sorted(files), "kind": "question", "answer": answer},
        "solution": {"id": id, "answer": reference.strip()},
        "difficulty": difficulty,
    }


SKILLS_FOLDER = ".agent-runtime/skills"


def procedure_check(tests: str) -> str:
    """A check in two parts: the project's own tests (tests/), then `tests`, a pytest module that
    checks the project's procedure was followed. The second is kept out of the repository (written
    to a temporary folder by the check command itself): the agent learns the procedure from the
    skill, not from a test it can read. The module's working directory is the repository's root."""
    runner = (
        "import os, pathlib, subprocess, sys, tempfile\n"
        f"TEST = {src(tests)!r}\n"
        "folder = tempfile.mkdtemp(prefix='procedure-')\n"
        "path = pathlib.Path(folder, 'test_procedure.py')\n"
        "path.write_text(TEST, encoding='utf-8')\n"
        "env = {**os.environ, 'PYTHONPATH': os.getcwd()}\n"
        "sys.exit(subprocess.call([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--rootdir', folder,"
        " str(path)], env=env))\n"
    )
    assert "\nCHECK\n" not in runner
    return f"{PYTEST} tests && python - <<'CHECK'\n{runner}CHECK"


def skill_task(*, id: str, difficulty: str, prompt: str, files: dict[str, str], skill: tuple[str, str],
               fix: dict[str, str | list[tuple[str, str]]], without_skill: dict[str, str | list[tuple[str, str]]],
               procedure: str, timeout_s: int = 300) -> dict:
    """A task a repository's skill matters for: `skill` is (name, SKILL.md text), written to
    .agent-runtime/skills/NAME/SKILL.md and protected. The prompt names the procedure, never
    restates it. The check runs the project's tests and `procedure` (procedure_check). `fix` is
    the reference solution; `without_skill` a plausible one that ignores the skill (the check must
    fail it), kept in the solution line as `without_skill`."""
    name, text = skill
    path = f"{SKILLS_FOLDER}/{name}/SKILL.md"
    entry = task(id=id, kind="skill", difficulty=difficulty, prompt=prompt, files={**files, path: text}, fix=fix,
                 also_protected=(path,), timeout_s=timeout_s)
    entry["task"]["check"] = procedure_check(procedure)
    entry["solution"]["without_skill"] = applied(id, entry["task"]["files"], without_skill)
    return entry


def single_function(*, id: str, bug: str, difficulty: str, prompt: str, files: dict[str, str],
                    fix: dict[str, str | list[tuple[str, str]]]) -> dict:
    """A single-function bug (evals/single/): one module, one wrong function in it, tests under
    tests/. `bug` is its sub-kind (BUGS), kept beside difficulty, not in the task."""
    assert bug in BUGS, id
    entry = task(id=id, kind="single-function", difficulty=difficulty, prompt=prompt, files=files, fix=fix)
    entry["bug"] = bug
    return entry
