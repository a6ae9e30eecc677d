"""What a task tried and was refused, in a few words each: for the summary line and `run_ended`,
so that "done" never hides that the patch it reports was not applied (the exit code says it too:
agent/taskloop.py TaskResult)."""

from __future__ import annotations

import re
from typing import Any, Iterable

# The refusals tools/wrapper.py writes, shortest true reason first; others keep their first clause.
_FORMS = (
    (re.compile(r"was refused by the command policy \(rule ([^)]+)\)"), r"denied by rule \1"),
    (re.compile(r"was refused by the command policy"), "denied by the policy"),
    (re.compile(r"refused because (approval mode is 'never')"), r"\1"),
    (re.compile(r"refused because (no one is at a terminal to approve it)"), r"\1"),
    (re.compile(r"^The user refused"), "refused by the user"),
    (re.compile(r"was blocked by the user's hook (\S+?):"), r"blocked by the hook \1"),
)


def why_refused(error: str) -> str:
    for pattern, short in _FORMS:
        found = pattern.search(error)
        if found:
            return found.expand(short)
    first = re.split(r"(?<=[.:;])\s", error.strip(), maxsplit=1)[0].rstrip(".:;")
    return first[:80] + ("…" if len(first) > 80 else "")


def refusal_notes(calls: Iterable[Any]) -> list[str]:
    """`tool: why` for each refused call, in order (a CallRecord's error is in its facts)."""
    return [f"{c.tool}: {why_refused(str(c.facts.get('error') or 'refused'))}" for c in calls if c.outcome == "refused"]


def summary_part(notes: list[str]) -> str:
    """`1 refused (apply_patch: approval mode is 'never')`; the first two reasons, then how many more."""
    shown = "; ".join(notes[:2]) + (f"; {len(notes) - 2} more" if len(notes) > 2 else "")
    return f"{len(notes)} refused ({shown})"
