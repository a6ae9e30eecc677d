"""What a person sees: steps as they happen (stderr), the final answer last (stdout).

Progress and steps go to stderr so that `agent-runtime "task" > answer.md` captures only
the answer.
"""

from __future__ import annotations

import os
import re
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from agent_runtime.agent.blocks import thought_of
from agent_runtime.core import visible
from agent_runtime.redact import redact_text
from agent_runtime.safety.approval import end_interrupted_prompt
from agent_runtime.safety.approval import stderr_console as plain_console

OBSERVATION_LINES = 14
# Not a terminal (a log, `2>file`, a pipe): the file has no edge, so lines are never wrapped. The
# console gets this width (text is not wrapped at all); boxes and rules are drawn as wide as they need.
UNBOUNDED = 100_000
RULE_WIDTH = 80


def stderr_console(**options: Any) -> Console:
    """The console for progress on stderr: the terminal's own width on a terminal (rich asks the
    terminal, COLUMNS overrides), no wrapping at all elsewhere."""
    console = plain_console(**options)  # no emoji codes, no highlighting (safety/approval.py)
    if console.is_terminal:
        columns, lines = os.environ.get("COLUMNS", ""), os.environ.get("LINES", "")
        if console.is_dumb_terminal and columns.isdigit():  # rich gives TERM=dumb 80 columns whatever COLUMNS says
            return plain_console(width=int(columns), height=int(lines) if lines.isdigit() else 25, **options)
        return console
    return plain_console(width=UNBOUNDED, soft_wrap=True, **options)


def for_terminal(text: Any) -> str:
    """Text from the model, files or commands as it may reach a terminal: secrets redacted, control
    characters made visible (an escape sequence must never redraw the screen)."""
    return visible(redact_text(text if isinstance(text, str) else str(text)))


def observation_lines(lines: list[str]) -> list[str]:
    """An observation cut to OBSERVATION_LINES: its first lines and its last (where the answer or the
    tests' summary is), never a marker in place of a single line."""
    if len(lines) <= OBSERVATION_LINES + 1:
        return lines
    hidden = len(lines) - OBSERVATION_LINES
    return lines[:OBSERVATION_LINES - 1] + [f"… {hidden} more line{'s' if hidden != 1 else ''}"] + lines[-1:]


def plan_line(plan: dict[str, Any]) -> str:
    """The planner's answer in one line (agent/planner.py): where the fix goes and why, or why the coder
    goes on alone."""
    took = f"{plan.get('seconds') or 0:.0f}s"
    if plan.get("used"):
        problem = f" {plan['problem']}" if plan.get("problem") else ""
        dropped = f" (dropped: {', '.join(plan['dropped'])})" if plan.get("dropped") else ""
        return f"plan ({plan.get('model')}, {took}): {', '.join(plan.get('targets') or [])}.{problem}{dropped}"
    return f"plan ({plan.get('model') or 'planner'}, {took}): none, {plan.get('note')}; the coder goes on alone"


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m {seconds % 60:02d}s"


class Elapsed:
    """A spinner's message with the time since it began; rich renders it anew on every refresh."""

    _HAS_TIME = re.compile(r"\d+(\.\d+)?\s*s\W*$")  # a caller that shows its own seconds

    def __init__(self, message: str):
        self.message = message
        self.started = time.monotonic()

    def update(self, message: str) -> None:
        self.message = message

    def __rich__(self) -> Text:
        shown = visible(self.message)
        if self._HAS_TIME.search(shown):
            return Text(shown)
        return Text(f"{shown} {clock(time.monotonic() - self.started)}")


class Display:
    reader_closed = False  # JsonDisplay: the reader of stdout went away

    def __init__(self, console: Console | None = None, out: Any = None):
        self.console = console or stderr_console()
        self.out = out or sys.stdout
        self.unbounded = self.console.width >= UNBOUNDED  # not a terminal: nothing is wrapped
        self.wrap = self.console.is_terminal  # lines of figures: wrapped at words, at the terminal's edge

    def _rule(self, title: str, **options: Any) -> None:
        from rich.rule import Rule

        if not self.unbounded:
            self.console.rule(title, **options)
            return
        width = max(RULE_WIDTH, cell_len(Text.from_markup(title).plain) + 8)  # the whole title, never cut
        self.console.print(Rule(title, **options), width=width)

    def _boxed(self, renderable: Any, lines: list[str], extra: int) -> None:
        """A panel or code: on a terminal as wide as it is; elsewhere as wide as its longest line."""
        if not self.unbounded:
            self.console.print(renderable)
            return
        widest = max((cell_len(line) for line in lines), default=0)
        self.console.print(renderable, width=max(RULE_WIDTH // 2, widest + extra))

    def info(self, message: str) -> None:
        self.console.print(message)

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]{escape(for_terminal(message))}[/]", soft_wrap=not self.wrap)

    def error(self, message: str) -> None:
        self.console.print(f"[bold red]error:[/] {escape(for_terminal(message))}", soft_wrap=not self.wrap)

    def banner(self, details: dict[str, str]) -> None:
        line = "  ".join(f"[dim]{k}[/] {escape(for_terminal(v))}" for k, v in details.items())
        self.console.print(line)

    @contextmanager
    def waiting(self, message: str) -> Iterator[Any]:
        """A spinner with the time elapsed for long waits (server start, model thinking, a tool running);
        no-op when not on a terminal. Yields an object whose update(text) changes the message."""
        if not self.console.is_terminal:
            yield None
            return
        text = Elapsed(message)
        with self.console.status(text, spinner="dots"):
            yield text

    def event(self, kind: str, **fields: Any) -> None:
        """A structured event (for --json); the terminal view shows the few it needs (the figures of a
        step and of a task, agent/stats.py) and everything else through the calls above."""
        end_interrupted_prompt()  # a prompt Ctrl-C left mid-line: what follows starts a line of its own
        if kind == "step_ended":
            from agent_runtime.agent.stats import step_line

            self.console.print(f"[dim]{escape(step_line(fields))}[/]", soft_wrap=not self.wrap)
        elif kind == "plan":
            self.console.print(escape(for_terminal(plan_line(fields))), soft_wrap=not self.wrap)
        elif kind == "harness_step":  # what the runtime ran or asked on its own, never hidden
            took = f" ({fields['seconds']:.1f} s)" if fields.get("seconds") is not None else ""
            self.console.print(f"[dim]runtime: {escape(for_terminal(fields['what']))}{took}[/]", soft_wrap=not self.wrap)
        elif kind == "run_ended" and fields.get("run_id"):  # not for a run that could not start
            from agent_runtime.agent.stats import summary_line

            self.console.print(f"[bold]{escape(summary_line(fields))}[/]", soft_wrap=not self.wrap)

    @contextmanager
    def progress(self, total: int) -> Iterator[Any]:
        """A progress bar over `total` items with solved-so-far and elapsed time; yields advance(result, progress)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=self.console, transient=False, disable=not self.console.is_terminal)
        task = bar.add_task("solved 0", total=total)

        def advance(result: dict[str, Any], state: Any) -> None:
            bar.update(task, advance=1, description=f"solved {state.solved}")
            if not self.console.is_terminal:  # a log line per task instead of a bar
                mark = "solved" if result.get("solved") else f"not solved ({result.get('status')})"
                self.console.print(f"[{state.done}/{state.total}] {result['id']}: {mark} in "
                                   f"{result.get('wall_s', 0):.0f} s · solved so far {state.solved}")

        with bar:
            yield advance

    def task(self, task: str) -> None:
        self._rule(f"[bold]{escape(for_terminal(task[:100]))}")

    def step_code(self, number: int, model_output: str | None, code: str) -> None:
        """A step's thought and code, shown before the code runs."""
        self._rule(f"Step {number}", style="dim", align="left")
        thought = thought_of(model_output)
        if thought:
            self.console.print(Text(for_terminal(thought), style="italic"))
        shown = for_terminal(code)
        # A line wider than the terminal is wrapped, never cropped: the person sees all the code that
        # runs; line numbers then tell a wrapped line's continuation from the next line.
        long = any(cell_len(line) > self.console.width for line in shown.splitlines())
        self._boxed(Syntax(shown, "python", theme="ansi_dark", background_color="default", word_wrap=True,
                           line_numbers=long), shown.splitlines(), 1)

    def step_done(self, step: Any, code_shown: bool) -> None:
        """What the step gave back, once it has run (or why it could not)."""
        end_interrupted_prompt()
        if not code_shown:
            self._rule(f"Step {step.step_number}", style="dim", align="left")
            if isinstance(step.model_output, str) and step.model_output.strip():
                self.console.print(Text(for_terminal(step.model_output.strip()[:800]), style="italic"))
        if step.observations:
            text = for_terminal(step.observations).replace("Execution logs:\n", "", 1)
            text = re.sub(r"\n?Last output from code snippet:\nNone\s*$", "", text)  # print() returns None
            shown = "\n".join(observation_lines(text.rstrip().splitlines()))
            self._boxed(Panel(Text(shown, style="dim"), title="observation", title_align="left",
                              border_style="dim"), shown.splitlines(), 4)
        if step.error:
            self.console.print(f"[red]{escape(type(step.error).__name__)}:[/] {escape(for_terminal(step.error))[:600]}")
        # The step's figures follow as the step_ended event (event() above).

    def run_saved(self, run_id: str, trace_url: str | None) -> None:
        where = f"trace in Phoenix: {trace_url}" if trace_url else f"see it with: agent-runtime trace {run_id}"
        self.console.print(f"[dim]run {run_id} · {where}[/]", soft_wrap=not self.wrap)

    def final(self, answer: Any) -> None:
        text = redact_text(str(answer))
        if self.out.isatty():
            text = visible(text)  # a file gets the answer as written; a terminal never raw escapes
            self._rule("[bold green]Final answer", style="green")
        print(text, file=self.out, flush=True)
