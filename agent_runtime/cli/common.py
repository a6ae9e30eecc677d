"""Helpers the command-line modules share (main.py, commands.py, repl.py), kept out of main.py
so that none of them imports main.py back. Light at import: rich and the approval gate are
loaded when called, so `--help` stays fast."""

from __future__ import annotations

import sys

from agent_runtime.config import Settings, default_approval_mode


def escape_markup(text: str) -> str:
    """Text for the terminal display (rich markup escaped, control characters visible)."""
    from rich.markup import escape

    from agent_runtime.core import visible

    return escape(visible(text))


def make_approver(settings: Settings):
    from agent_runtime.safety.approval import Approver

    mode = default_approval_mode(settings)
    interactive = sys.stdin.isatty()
    approver = Approver(mode, interactive, mode_from_default=settings.approval_mode is None)
    if mode == "judge":
        from agent_runtime.cli.judgemodel import make_judge

        approver.judge = make_judge(settings)  # its model opens on its first question
    return approver
