"""What a span is called: a line of a task or command, and what a tool call was about
(`run_cmd: git push --force`); shared by the spans and the root's review."""

from __future__ import annotations

import re
from typing import Any

NAME_MAX = 60  # characters of a task, command or path in a span name

# The argument that says what a tool call is about, in order of preference.
_SUBJECT_KEYS = ("command", "path", "patch_id", "pattern", "diff")
_DIFF_TARGET = re.compile(r"^\+\+\+ (?:b/)?(\S+)", re.MULTILINE)


def one_line(text: str, limit: int = NAME_MAX) -> str:
    """The first line of text, at most `limit` characters; '…' says something was left out."""
    lines = str(text).strip().splitlines() or [""]
    first = " ".join(lines[0].split())
    cut = len(lines) > 1
    if len(first) > limit:
        first, cut = first[: limit - 1].rstrip(), True
    return first + "…" if cut else first


def tool_label(name: str, arguments: dict[str, Any]) -> str:
    """A span name that says what the call did: `run_cmd: git push --force`, `read_file: src/app.py:10-40`,
    `apply_patch p1`, `propose_patch_unified: calc.py`, or the tool's name alone."""
    for key in _SUBJECT_KEYS:
        value = arguments.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        if key == "patch_id":
            return f"{name} {one_line(value)}"
        if key == "diff":
            targets = list(dict.fromkeys(t for t in _DIFF_TARGET.findall(value) if t != "/dev/null"))
            if not targets:
                return name
            return f"{name}: {one_line(', '.join(targets))}"
        subject = one_line(value)
        if key == "path" and isinstance(arguments.get("start_line"), int):
            end = arguments.get("end_line")
            subject += f":{arguments['start_line']}" + (f"-{end}" if isinstance(end, int) else "-")
        return f"{name}: {subject}"
    return name
