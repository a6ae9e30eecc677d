"""Project memory: the `remember` tool, and the notes it keeps, read into later sessions' instructions.

Notes go into the repository's AGENTS.md, in a section of their own:

    ## Notes (saved by agent-runtime)

    - 2026-11-23: the tests need `make fixtures` first

Why AGENTS.md and not `.agent-runtime/notes.md`: AGENTS.md is already what every session reads
as the project's instructions (agent/prompt.py), it lives in the repository where the team sees
and reviews each note in `git diff`, and writing it passes the same policy path as any patch.
`.agent-runtime/**` is deny_write on purpose (it configures what the agent may do): giving the
model a door into it would weaken that floor. Instead, writes to AGENTS.md get their own rule,
`instructions`: every one is shown as a diff and asked (a session's "always" for patches and the
user's saved approvals never cover it), and commands may not write it unasked either. So the
model cannot leave instructions that a later session obeys without a person approving them.

Later sessions read the notes within their own budget (MAX_NOTES_CHARS, newest kept), apart from
the rest of AGENTS.md, so a long AGENTS.md never pushes the notes out.
"""

from __future__ import annotations

import re
import stat
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from agent_runtime.core import Action, ToolError, visible, within
from agent_runtime.patches.apply import (
    REGULAR,
    FileEdit,
    Patch,
    check_unchanged,
    normalize,
    permissions,
    write_edits,
)
from agent_runtime.patches.apply import _read as read_file
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import encodable

NOTES_FILE = "AGENTS.md"
NOTES_HEADING = "## Notes (saved by agent-runtime)"
NOTES_COMMENT = ("<!-- Each note was approved at a prompt. Edit or delete them freely; "
                 "in the REPL, /memory shows and edits them. -->")
MAX_NOTE_CHARS = 300
MAX_BODY_CHARS = 8000  # the rest of AGENTS.md, read into every request
MAX_NOTES_CHARS = 2000  # the notes, newest first until the budget is spent
_NEXT_SECTION = re.compile(r"^#{1,2} ", re.M)


def split_notes(text: str) -> tuple[str, list[str], str]:
    """(AGENTS.md before the notes section, the notes (bullet lines, oldest first), what follows it)."""
    at = _heading_at(text)
    if at is None:
        return text, [], ""
    start = at + len(NOTES_HEADING)
    following = _NEXT_SECTION.search(text, start)
    end = following.start() if following else len(text)
    notes = [line[2:].strip() for line in text[start:end].splitlines() if line.startswith("- ") and line[2:].strip()]
    return text[:at], notes, text[end:]


def _heading_at(text: str) -> int | None:
    for match in re.finditer(rf"^{re.escape(NOTES_HEADING)}[ \t]*$", text, re.M):
        return match.start()
    return None


def with_note(text: str | None, note: str) -> str:
    """AGENTS.md's text with `note` appended to the notes section (made when missing)."""
    line = f"- {note}\n"
    if not text:
        return f"# AGENTS.md\n\n{NOTES_HEADING}\n\n{NOTES_COMMENT}\n\n{line}"
    at = _heading_at(text)
    if at is None:
        return text.rstrip("\n") + f"\n\n{NOTES_HEADING}\n\n{NOTES_COMMENT}\n\n{line}"
    start = at + len(NOTES_HEADING)
    following = _NEXT_SECTION.search(text, start)
    end = following.start() if following else len(text)
    section = text[at:end].rstrip("\n") + "\n" + line
    return text[:at] + section + ("\n" + text[end:] if following else "")


def prompt_text(text: str) -> str | None:
    """AGENTS.md as the instructions carry it: the body within MAX_BODY_CHARS, then the notes within
    MAX_NOTES_CHARS (the newest kept; how many older ones were left out is said)."""
    before, notes, after = split_notes(text)
    body = (before.rstrip() + ("\n\n" + after.strip() if after.strip() else "")).strip()
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS] + "\n[AGENTS.md truncated]"
    kept: list[str] = []
    used = 0
    for note in reversed(notes):
        used += len(note) + 3
        if used > MAX_NOTES_CHARS:
            break
        kept.append(note)
    kept.reverse()
    if not kept:
        return body or None
    dropped = len(notes) - len(kept)
    section = NOTES_HEADING + "\n" + (f"[{dropped} older notes left out]\n" if dropped else "")
    section += "\n".join(f"- {note}" for note in kept)
    return f"{body}\n\n{section}" if body else section


def read_instructions(root: Path, denied: Callable[[str], bool] | None = None) -> str | None:
    """The project's AGENTS.md for the prompt, or None. Only a regular file inside the workspace that
    the policy lets the model read: a symlink to ~/.ssh/id_rsa or to .env is not read into a prompt."""
    root = Path(root).resolve()
    path = root / NOTES_FILE
    try:
        resolved = path.resolve()
        if not within(resolved, root) or not resolved.is_file():
            return None
        if denied is not None and denied(NOTES_FILE):
            return None
        text = resolved.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return prompt_text(text.strip())


def note_check(value: Any, runtime: Any) -> str:
    if not isinstance(value, str):
        raise ToolError("note must be a string", 'Pass one short line, e.g. note="the tests need make fixtures first".')
    note = " ".join(value.split()) if "\n" not in value.strip() else ""
    if not note:
        raise ToolError("note must be one non-empty line", "Write one fact per note, on one line; call remember "
                                                           "again for another fact.")
    encodable("note", note)
    if visible(note) != note:
        raise ToolError("note contains control characters", "Write the note in plain text.")
    if len(note) > MAX_NOTE_CHARS:
        raise ToolError(f"note is {len(note)} characters; at most {MAX_NOTE_CHARS}",
                        "Keep it to one short fact; leave out what the code already says.")
    from agent_runtime.redact import redact_text

    if redact_text(note) != note:
        raise ToolError("the note looks like it holds a secret (a key, token or password)",
                        "Never write secrets into notes; describe where the user keeps it instead.")
    return note


class RememberTool(RuntimeTool):
    name = "remember"
    description = ("Save one short fact about this project for later sessions (how to run something, a convention); "
                   "the user approves each note.")
    inputs = {"note": {"type": "string", "description": "one short line, a fact (at most 300 characters)"}}
    checks = {"note": note_check}
    approval = "always"

    _planned: tuple[str, Patch] | None = None

    def action(self, note: str) -> Action:
        patch = self._plan(note)
        self._planned = (note, patch)
        return Action("write", paths=(NOTES_FILE,), preview=patch)

    def _plan(self, note: str) -> Patch:
        """The change to AGENTS.md, as a patch the person sees and the undo journal records."""
        rel = normalize(self.workspace, NOTES_FILE)
        if rel != NOTES_FILE:  # AGENTS.md is a symlink to another file of the workspace
            raise ToolError(f"{NOTES_FILE} is a link to {rel}", f"Ask the user to make {NOTES_FILE} a regular file.")
        before, mode = read_file(self.workspace, rel)
        text = before.decode("utf-8", "surrogateescape") if before is not None else None
        if text is not None and any(n == note or n.endswith(f": {note}") for n in split_notes(text)[1]):
            raise ToolError("this note is already saved", "Nothing to do; continue with the task.", kind="duplicate")
        dated = f"{datetime.now().strftime('%Y-%m-%d')}: {note}"
        after = with_note(text, dated).encode("utf-8", "surrogateescape")
        if before is None:
            return Patch("note", [FileEdit(None, rel, None, after, None, REGULAR)])
        mode = stat.S_IFREG | permissions(mode)
        return Patch("note", [FileEdit(rel, rel, before, after, mode, mode)])

    def run(self, note: str) -> dict[str, Any]:
        # What the person approved is what is written (refused if AGENTS.md changed since).
        planned = self._planned[1] if self._planned and self._planned[0] == note else self._plan(note)
        self._planned = None
        check_unchanged(planned.edits, self.workspace, "note")
        patch = self.runtime.patches.add(planned.edits, [])
        patch.made_dirs = write_edits(patch.edits, self.workspace)
        patch.applied = True
        self.runtime.patch_applied(patch)  # the undo journal: `agent-runtime undo` takes it back
        return {"saved": True, "file": NOTES_FILE, "patch_id": patch.id,
                "next": "later sessions read it with AGENTS.md; continue with the task"}
