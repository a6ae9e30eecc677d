"""What a session needs from whoever shows it (the terminal display, the `--json` event stream,
a test's quiet display). The session calls these; `cli/` implements them. Defined here so the
agent layer never imports the command line."""

from __future__ import annotations

from typing import Any, ContextManager, Protocol


class ReaderGone(KeyboardInterrupt):
    """Whoever read the events went away (`agent-runtime --json ... | head -1`): the task stops as
    at Ctrl-C (commands killed, the run recorded), and the run is recorded as stopped by the reader."""


class Frontend(Protocol):
    reader_closed: bool  # the output's reader went away (ReaderGone was raised)


    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def error(self, message: str) -> None: ...

    def waiting(self, message: str) -> ContextManager[Any]:
        """A spinner (or nothing) while something slow runs."""

    def step_code(self, number: int, model_output: str | None, code: str) -> None:
        """A step's thought and code, before the code runs."""

    def step_done(self, step: Any, code_shown: bool) -> None:
        """What a step gave back once it ran (a smolagents ActionStep)."""

    def run_saved(self, run_id: str, trace_url: str | None) -> None: ...

    def event(self, kind: str, **fields: Any) -> None:
        """A structured event (run_started, tool_call, ...): its fields as agent/events.py declares them
        (made there and sent with `emit`)."""
