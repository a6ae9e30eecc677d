"""What a suite is made of: a task (the project's own kind; an instance, instance.py, is one too)
and the error a suite that cannot be used raises."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence


class SuiteError(ValueError):
    """The suite cannot be used; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    files: dict[str, str]
    check: str | None  # None: only a task with `answer` (a question) has no check
    setup: str | None = None
    timeout_s: int = 300
    protected: tuple[str, ...] = ()
    kind: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other fields, kept for reports
    answer: tuple[str, ...] = ()  # regexes the agent's final answer must all match (case-insensitive)


def answer_misses(patterns: Sequence[str], answer: str | None) -> list[str]:
    """The patterns the answer does not match (re.search, case-insensitive); all of them when
    there is no answer."""
    return [p for p in patterns if answer is None or not re.search(p, answer, re.IGNORECASE)]
