"""`--json`: one JSON object per line on stdout for each event of a single task, and nothing
else on stdout (progress and warnings go to stderr as usual, without colour).

Every event has `type`, `time` (ISO 8601, UTC) and the fields its type declares (agent/events.py);
their JSON Schema is docs/events.schema.json (`agent-runtime --json-schema`), and a test validates
every event of real runs against it.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Any, Iterator

from agent_runtime.agent.blocks import thought_of
from agent_runtime.agent.events import ErrorEvent, ModelReply, WarningEvent, emit
from agent_runtime.agent.frontend import ReaderGone
from agent_runtime.cli.common import stdout_to_devnull
from agent_runtime.cli.display import Display, stderr_console
from agent_runtime.core import visible

_NOT_ASCII = re.compile("[\x7f-\U0010ffff]")


def _hidden_escaped(match: re.Match[str]) -> str:
    """A character that visible() would mark (core.py), as a JSON escape; any other letter as it is."""
    char = match.group()
    if visible(char) == char:
        return char
    code = ord(char)
    if code > 0xFFFF:  # JSON escapes a character past the BMP as its UTF-16 surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class JsonDisplay(Display):
    """The events of a task as JSON lines on stdout; the human view (steps, their figures, warnings)
    on stderr as usual, uncoloured, unless quiet (`-q`): then stderr says nothing but what an
    approval prompt needs, the step it asks about first."""

    def __init__(self, out: Any = None, quiet: bool = False) -> None:
        super().__init__(console=stderr_console(no_color=True), out=out or sys.stdout)
        self.stdout = self.out
        self.quiet = quiet
        self._unshown: tuple[int, str | None, str] | None = None  # quiet: the step an approval would ask about

    def event(self, kind: str, **fields: Any) -> None:
        from agent_runtime.redact import active_redactor

        if not self.quiet:
            super().event(kind, **fields)
        if self.reader_closed:
            return
        # Secrets redacted (in the values, before escaping could hide them, and in the line); what JSON
        # leaves raw and a terminal would obey or hide (DEL, C1 controls, bidi overrides, zero-width and
        # tag characters, line separators, lone surrogates), escaped: the same value, seen as \uXXXX.
        redact = active_redactor()
        line = redact(json.dumps(redact.value({"type": kind, "time": _now(), **fields}), ensure_ascii=False,
                                 default=str))
        line = _NOT_ASCII.sub(_hidden_escaped, line)
        try:  # a lone surrogate from a model must not break the stream: it goes out escaped
            self.stdout.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
            self.stdout.flush()
        except BrokenPipeError:  # `| head -1` had what it wanted: stop the task, recorded as such
            self.reader_closed = True
            if self.stdout is sys.stdout:
                stdout_to_devnull()
            raise ReaderGone() from None

    def info(self, message: str) -> None:
        if not self.quiet:
            super().info(message)

    def warn(self, message: str) -> None:
        if not self.quiet:
            super().warn(message)
        emit(self, WarningEvent(message=message))

    def error(self, message: str) -> None:
        if not self.quiet:
            super().error(message)
        emit(self, ErrorEvent(message=message))

    def banner(self, details: dict[str, str]) -> None:
        if not self.quiet:
            super().banner(details)

    def task(self, task: str) -> None:
        if not self.quiet:
            super().task(task)

    @contextmanager
    def waiting(self, message: str) -> Iterator[Any]:
        with (nullcontext() if self.quiet else super().waiting(message)) as shown:
            yield shown

    def step_code(self, number: int, model_output: str | None, code: str) -> None:
        if self.quiet:
            self._unshown = (number, model_output, code)
        else:
            super().step_code(number, model_output, code)
        emit(self, ModelReply(step=number, thought=thought_of(model_output), code=code))

    def step_done(self, step: Any, code_shown: bool) -> None:
        self._unshown = None
        if not self.quiet:
            super().step_done(step, code_shown)
        if not code_shown and isinstance(step.model_output, str):
            emit(self, ModelReply(step=step.step_number, thought=thought_of(step.model_output),
                                  code=getattr(step, "code_action", None) or ""))
        # step_ended comes from the session (agent/stats.py): its seconds leave out approval prompts.

    def before_approval(self) -> None:
        """Quiet: the step an approval prompt is about, shown above it (never a box out of nowhere)."""
        if self._unshown is not None:
            super().step_code(*self._unshown)
            self._unshown = None

    def run_saved(self, run_id: str, trace_url: str | None) -> None:
        if not self.quiet:
            super().run_saved(run_id, trace_url)

    def final(self, answer: Any) -> None:
        pass  # the session sent final_answer before run_ended
