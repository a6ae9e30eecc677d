"""What a person sees: steps as they happen (stderr), the final answer last (stdout).

Progress and steps go to stderr so that `agent-runtime "task" > answer.md` captures only
the answer.
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from agent_runtime.telemetry.redact import redact_text

OBSERVATION_LINES = 14


def _thought(model_output: str | None) -> str:
    if not model_output:
        return ""
    head = re.split(r"<code>|```", model_output, maxsplit=1)[0]
    return head.replace("Thought:", "", 1).strip()


class Display:
    def __init__(self, console: Console | None = None, out: Any = None):
        self.console = console or Console(stderr=True, highlight=False)
        self.out = out or sys.stdout

    def info(self, message: str) -> None:
        self.console.print(message)

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]{escape(redact_text(message))}[/]", soft_wrap=True)

    def error(self, message: str) -> None:
        self.console.print(f"[bold red]error:[/] {escape(redact_text(message))}", soft_wrap=True)  # one line

    def banner(self, details: dict[str, str]) -> None:
        line = "  ".join(f"[dim]{k}[/] {escape(v)}" for k, v in details.items())
        self.console.print(line)

    @contextmanager
    def waiting(self, message: str) -> Iterator[Any]:
        """A spinner for long waits (server start, model thinking); no-op when not on a terminal."""
        if not self.console.is_terminal:
            yield None
            return
        with self.console.status(message, spinner="dots") as status:
            yield status

    def task(self, task: str) -> None:
        self.console.rule(f"[bold]{escape(task[:100])}")

    def step_code(self, number: int, model_output: str | None, code: str) -> None:
        """A step's thought and code, shown before the code runs."""
        self.console.rule(f"Step {number}", style="dim", align="left")
        thought = _thought(model_output)
        if thought:
            self.console.print(Text(thought, style="italic"))
        self.console.print(Syntax(code, "python", theme="ansi_dark", background_color="default"))

    def step_done(self, step: Any, code_shown: bool) -> None:
        """What the step gave back, once it has run (or why it could not)."""
        if not code_shown:
            self.console.rule(f"Step {step.step_number}", style="dim", align="left")
            if isinstance(step.model_output, str) and step.model_output.strip():
                self.console.print(Text(step.model_output.strip()[:800], style="italic"))
        if step.observations:
            text = step.observations.replace("Execution logs:\n", "", 1)
            text = re.sub(r"\n?Last output from code snippet:\nNone\s*$", "", text)  # print() returns None
            lines = text.rstrip().splitlines()
            shown = "\n".join(lines[:OBSERVATION_LINES])
            more = f"\n… {len(lines) - OBSERVATION_LINES} more lines" if len(lines) > OBSERVATION_LINES else ""
            self.console.print(Panel(Text(shown + more, style="dim"), title="observation", title_align="left",
                                     border_style="dim"))
        if step.error:
            self.console.print(f"[red]{escape(type(step.error).__name__)}:[/] {escape(str(step.error))[:600]}")
        facts = []
        if step.timing and step.timing.end_time:
            facts.append(f"{step.timing.duration:.1f}s")
        usage = step.token_usage
        if usage and (usage.input_tokens or usage.output_tokens):
            facts.append(f"{usage.input_tokens:,} in / {usage.output_tokens:,} out tokens")
        if facts:
            self.console.print(f"[dim]{' · '.join(facts)}[/]")

    def run_saved(self, run_id: str, trace_url: str | None) -> None:
        where = f"trace in Phoenix: {trace_url}" if trace_url else f"see it with: agent-runtime trace {run_id}"
        self.console.print(f"[dim]run {run_id} · {where}[/]", soft_wrap=True)

    def final(self, answer: Any) -> None:
        text = str(answer)
        if self.out.isatty():
            self.console.rule("[bold green]Final answer", style="green")
        print(text, file=self.out, flush=True)
