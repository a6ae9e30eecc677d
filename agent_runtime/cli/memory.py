"""/memory in the REPL: the project notes the `remember` tool saved (AGENTS.md, tools/remember.py),
then $VISUAL / $EDITOR on that file, or its path when no editor is set."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from typing import Any

from rich.markup import escape

from agent_runtime.core import visible


def show_memory(ctx: Any) -> None:
    from agent_runtime.tools.remember import MAX_NOTES_CHARS, NOTES_FILE, NOTES_HEADING, prompt_text, split_notes

    path = ctx.repo / NOTES_FILE
    console = getattr(ctx.display, "console", None)

    def say(text: str) -> None:  # markup already escaped; one line stays one (a path is never folded)
        if console is not None:
            console.print(text, soft_wrap=True)
        else:
            ctx.display.info(text)
    from agent_runtime.config import outside_of

    if os.path.lexists(path) and (why := outside_of(path, ctx.repo)):  # a symlink to a key is not shown
        ctx.display.error(visible(why))
        return
    try:
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    except OSError as exc:
        ctx.display.error(f"cannot read {path}: {exc.strerror}")
        return
    if text is None:
        say(f"No project notes yet ({NOTES_FILE} does not exist). The agent saves one with remember, and you "
            "approve each.")
    else:
        notes = split_notes(text)[1]
        loaded = prompt_text(text.strip()) or ""
        kept = sum(1 for n in notes if f"- {n}" in loaded)
        say(escape(visible(f"{NOTES_FILE}: {len(notes)} note(s) under '{NOTES_HEADING}'"
                           + (f", the newest {kept} read into each session (budget {MAX_NOTES_CHARS} characters)"
                              if kept < len(notes) else ""))))
        for note in notes:
            say(escape(visible(f"  - {note}")))
        if not notes:
            say("  (none yet; the rest of AGENTS.md is read into every session too)")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor or not sys.stdin.isatty():
        say(escape(visible(f"Edit it: {path}")) + ("" if editor else "  (set EDITOR to open it from here)"))
        return
    before = text
    try:
        subprocess.run([*shlex.split(editor), str(path)], check=False)
    except (OSError, ValueError) as exc:
        ctx.display.error(f"could not start the editor {editor!r}: {exc}; edit {path} yourself")
        return
    try:
        after = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    except OSError:
        after = before
    if after != before and ctx.session is not None and getattr(ctx.session, "agent", None) is not None:
        from agent_runtime.agent.prompt import project_instructions
        from agent_runtime.core import Action

        runtime = ctx.session.runtime
        ctx.session.agent.instructions = project_instructions(ctx.repo, denied=lambda rel: runtime.decide(
            Action("read", paths=(rel,))).decision == "deny")
        say("Saved; the next task reads the new notes.")
