"""What a suite is made of: a task (the project's own kind; an instance, instance.py, is one too)
and the error a suite that cannot be used raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class SuiteError(ValueError):
    """The suite cannot be used; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    files: dict[str, str]
    check: str
    setup: str | None = None
    timeout_s: int = 300
    protected: tuple[str, ...] = ()
    kind: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other fields, kept for reports
