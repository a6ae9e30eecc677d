"""What a task tried and was refused, in a few words each: for the summary line and `run_ended`,
so that "done" never hides that the patch it reports was not applied (the exit code says it too:
agent/taskloop.py TaskResult)."""

from __future__ import annotations

from typing import Any, Iterable

from agent_runtime.core import why_refused


def refusal_notes(calls: Iterable[Any]) -> list[str]:
    """`tool: why` for each refused call, in order (a CallRecord's error is in its facts)."""
    return [f"{c.tool}: {why_refused(str(c.facts.get('error') or 'refused'))}" for c in calls if c.outcome == "refused"]


def summary_part(notes: list[str]) -> str:
    """`1 refused (apply_patch: approval mode is 'never')`; the first two reasons, then how many more."""
    shown = "; ".join(notes[:2]) + (f"; {len(notes) - 2} more" if len(notes) > 2 else "")
    return f"{len(notes)} refused ({shown})"
