"""A task suite: JSONL files, one task a line. Loading checks every task once, so a typo in line
17 is reported before any model time is spent. A line is one of the project's own tasks (`id`,
files written into a fresh repository, a check command) or a SWE-bench-shaped instance
(`instance_id`: a repository at a commit, judged by its tests; see instance.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agent_runtime.eval.instance import parse_instance
from agent_runtime.eval.task import SuiteError, Task

__all__ = ["SuiteError", "Task", "load_suite"]


_FIELDS = {"id": str, "prompt": str, "files": dict, "check": str}
_OPTIONAL = {"setup": (str, type(None)), "timeout_s": int, "protected": list, "kind": (str, type(None)),
             "answer": list}


def _answer(raw: dict[str, Any], where: str) -> tuple[str, ...]:
    """A question's `answer`: regexes its final answer must all match. Its `check` may then be
    null or missing (the answer alone judges it)."""
    patterns = raw.get("answer", [])
    if not isinstance(patterns, list):
        raise SuiteError(f"{where}: 'answer' has the wrong type ({type(patterns).__name__})")
    if "answer" in raw and not patterns:
        raise SuiteError(f"{where}: 'answer' must list at least one regex")
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip():
            raise SuiteError(f"{where}: 'answer' must be a list of regexes (strings)")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SuiteError(f"{where}: 'answer' has an invalid regex {pattern!r} ({exc})") from None
    return tuple(patterns)


def _task(raw: Any, where: str) -> Task:
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: a task must be a JSON object")
    answer = _answer(raw, where)
    for name, kind in {**_FIELDS, **_OPTIONAL}.items():
        if name == "check" and answer and raw.get("check") is None:
            continue  # a question: its answer is the check
        if name in _FIELDS and name not in raw:
            raise SuiteError(f"{where}: the task has no {name!r}")
        if name in raw and not isinstance(raw[name], kind):
            raise SuiteError(f"{where}: {name!r} has the wrong type ({type(raw[name]).__name__})")
    for path, content in raw["files"].items():
        if not isinstance(content, str):
            raise SuiteError(f"{where}: files[{path!r}] must be a string")
        if path.startswith("/") or ".." in Path(path).parts or not path.strip():
            raise SuiteError(f"{where}: files[{path!r}] must be a relative path inside the repository")
    protected = raw.get("protected", [])
    if not all(isinstance(p, str) for p in protected):
        raise SuiteError(f"{where}: 'protected' must be a list of paths")
    if raw.get("timeout_s", 300) <= 0:
        raise SuiteError(f"{where}: 'timeout_s' must be positive")
    known = set(_FIELDS) | set(_OPTIONAL)
    return Task(id=raw["id"], prompt=raw["prompt"], files=dict(raw["files"]), check=raw.get("check"),
                setup=raw.get("setup"), timeout_s=raw.get("timeout_s", 300), protected=tuple(protected),
                kind=raw.get("kind"), extra={k: v for k, v in raw.items() if k not in known}, answer=answer)


def load_suite(path: Path) -> list[Task]:
    """A JSONL file, or a directory of them (sorted by name); instances and tasks may be mixed."""

    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        files = [f for f in files if f.name != "solutions.jsonl"]  # reference fixes, never tasks
        if not files:
            raise SuiteError(f"{path}: no *.jsonl files in this directory")
    elif path.is_file():
        files = [path]
    else:
        raise SuiteError(f"{path}: no such file or directory")
    tasks: list[Task] = []
    seen: set[str] = set()
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{file}:{number}"
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise SuiteError(f"{where}: not valid JSON ({exc})") from None
            if isinstance(raw, dict) and "instance_id" in raw and "id" not in raw:
                task = parse_instance(raw, where, file.parent)
            else:
                task = _task(raw, where)
            if task.id in seen:
                raise SuiteError(f"{where}: the id {task.id!r} is used twice")
            seen.add(task.id)
            tasks.append(task)
    if not tasks:
        raise SuiteError(f"{path}: the suite has no tasks")
    return tasks
