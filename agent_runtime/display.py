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
        self.console.print(f"[yellow]{escape(message)}[/]")

    def error(self, message: str) -> None:
        self.console.print(f"[bold red]error:[/] {escape(message)}")

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

    def step(self, step: Any) -> None:
        seconds = step.timing.duration if step.timing and step.timing.end_time else None
        usage = step.token_usage
        facts = [f"Step {step.step_number}"]
        if seconds is not None:
            facts.append(f"{seconds:.1f}s")
        if usage and (usage.input_tokens or usage.output_tokens):
            facts.append(f"{usage.input_tokens:,} in / {usage.output_tokens:,} out tokens")
        self.console.rule(" · ".join(facts), style="dim", align="left")
        thought = _thought(step.model_output if isinstance(step.model_output, str) else None)
        if thought:
            self.console.print(Text(thought, style="italic"))
        if step.code_action:
            self.console.print(Syntax(step.code_action, "python", theme="ansi_dark", background_color="default"))
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

    def final(self, answer: Any) -> None:
        text = str(answer)
        if self.out.isatty():
            self.console.rule("[bold green]Final answer", style="green")
        print(text, file=self.out, flush=True)
