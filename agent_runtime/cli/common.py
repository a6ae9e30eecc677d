"""Helpers the command-line modules share (main.py, commands.py, repl.py), kept out of main.py
so that none of them imports main.py back. Light at import: rich and the approval gate are
loaded when called, so `--help` stays fast."""

from __future__ import annotations

import sys
from typing import Any, Callable

from agent_runtime.config import Settings, default_approval_mode


def escape_markup(text: str) -> str:
    """Text for the terminal display (rich markup escaped, control characters visible)."""
    from rich.markup import escape

    from agent_runtime.core import visible

    return escape(visible(text))


def stdout_to_devnull() -> None:
    """Point stdout at /dev/null once its reader is gone (`| head`), so that later writes and the
    flush at exit do not fail on the closed pipe again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def make_approver(settings: Settings, before_prompt: Callable[[], None] | None = None):
    """before_prompt: called just before a prompt is drawn (`--json -q` shows the step it asks about)."""
    from agent_runtime.safety.approval import Approver, terminal_prompt

    def prompt(tool_name: str, action: Any, decision: Any) -> tuple[str, str | None]:
        if before_prompt is not None:
            before_prompt()
        return terminal_prompt(tool_name, action, decision)

    mode = default_approval_mode(settings)
    interactive = sys.stdin.isatty()
    approver = Approver(mode, interactive, prompt=prompt, mode_from_default=settings.approval_mode is None)
    if mode == "judge":
        from agent_runtime.cli.judgemodel import make_judge

        approver.judge = make_judge(settings)  # its model opens on its first question
    return approver
