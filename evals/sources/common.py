"""Helpers for writing task sources: each task is buggy files plus the edits that fix them."""

from __future__ import annotations

PYTEST = "python -m pytest -q -p no:cacheprovider"
KINDS = ("multi-module", "traceback", "feature", "edge-case", "renamed-api", "change", "question")
DIFFICULTIES = ("easy", "medium", "hard")


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
    test_files = sorted(p for p in files if p.startswith("tests/"))
    protected = test_files + sorted(also_protected)
    check = f"{PYTEST} {' '.join(tests or [p for p in test_files if p.rsplit('/', 1)[-1].startswith('test_')])}"
    return {
        "task": {"id": id, "prompt": prompt.strip(), "files": files, "setup": setup, "check": check,
                 "timeout_s": timeout_s, "protected": protected, "kind": kind},
        "solution": {"id": id, "files": solution},
        "difficulty": difficulty,
    }


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
