"""A task suite: JSONL files, one task a line. Loading checks every task once, so a typo in line
17 is reported before any model time is spent. A line is one of the project's own tasks (`id`,
files written into a fresh repository, a check command) or a SWE-bench-shaped instance
(`instance_id`: a repository at a commit, judged by its tests; see instance.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

import agent_runtime.schema as schema
from agent_runtime.eval.instance import Instance, parse_instance
from agent_runtime.eval.task import SuiteError, Task

__all__ = ["SuiteError", "Task", "load_suite"]


def _regex(pattern: str) -> str:
    if not pattern.strip():
        raise schema.Wrong("a regex (a non-empty string)")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise schema.Wrong("a valid regex", f"{schema.shown(pattern)} ({exc})") from None
    return pattern


def _relative(path: str) -> str:
    if path.startswith("/") or ".." in Path(path).parts or not path.strip():
        raise schema.Wrong("a relative path inside the repository")
    return path


class SuiteTask(BaseModel):
    """One line of a suite: one of the project's own tasks. Other keys are kept, for reports."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    id: str
    prompt: str
    files: dict[Annotated[str, AfterValidator(_relative)], str]  # written into a fresh repository
    check: str | None = None  # the command that judges it; only a question (with answer) has none
    setup: str | None = None
    timeout_s: Annotated[int, Field(gt=0)] = 300
    protected: list[str] = []
    kind: str | None = None
    # Regexes the final answer must all match (a question: its check may then be null or missing).
    # Absent: None; a null written is refused (it is not a list).
    answer: list[Annotated[str, AfterValidator(_regex)]] = Field(None, min_length=1)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _judged(self) -> "SuiteTask":
        if self.check is None and self.answer is None:
            raise schema.Wrong('a check command (or, for a question, "answer": regexes)', "none", "check")
        return self


def _task(raw: Any, where: str) -> Task:
    known = set(SuiteTask.model_fields)
    task = schema.validate(SuiteTask, raw, where, SuiteError, table="a JSON object")
    return Task(id=task.id, prompt=task.prompt, files=dict(task.files), check=task.check, setup=task.setup,
                timeout_s=task.timeout_s, protected=tuple(task.protected), kind=task.kind,
                extra={k: v for k, v in raw.items() if k not in known}, answer=tuple(task.answer or ()))


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
                raise SuiteError(schema.message(where, "", "a JSON object", f"not valid JSON ({exc})")) from None
            if isinstance(raw, dict) and "instance_id" in raw and "id" not in raw:
                task = parse_instance(raw, where, file.parent)
            else:
                task = _task(raw, where)
            if task.id in seen:
                key = "instance_id" if isinstance(task, Instance) else "id"
                raise SuiteError(schema.message(where, key, "each id once", f"{schema.shown(task.id)} a second time"))
            seen.add(task.id)
            tasks.append(task)
    if not tasks:
        raise SuiteError(f"{path}: the suite has no tasks")
    return tasks
