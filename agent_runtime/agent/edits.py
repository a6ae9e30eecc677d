"""The fix as a model writes it best: what is wrong, then each changed piece whole.

Small coder models fix more bugs writing code in a Markdown block under a heading (as in a chat
answer, or Aider's "whole" edit format) than writing it into a string argument of a tool call.
For a fix request the model is asked for that form; agent/repair.py reads the reply here and
proposes, applies and tests the change through the one tool path (policy, approval, sandbox,
spans). The model's reply stays in the LLM span; the step shows the change as a diff.

What a heading names (an EditTarget): a small file whole (`### shop/cart.py`); in a big file, one
function or method whole (`### pkg/core.py::Parser.parse`: only that definition is written back,
the rest of the file stays byte for byte); or, in a function too long to write back, the lines
that were shown of it (`### pkg/core.py lines 410-460`). Unchanged code is never re-typed: for
functions and lines the reply writes only the lines it changes (SEARCH/REPLACE pairs under the
heading, the "changes" form), and the step proposes them as one unified diff.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

from agent_runtime.agent.blocks import Edit, apply_changes, parse_changes, parse_edits
from agent_runtime.agent.shot import by_name
from agent_runtime.code.byname import first_block, place
from agent_runtime.code.symbols import SymbolError
from agent_runtime.models.grammar import DIVIDER, REPLACE, SEARCH

# A fix's reply says first what is wrong (the grammar holds it to that); the shot asks it in a sentence.
EXPLAIN = "First say in one or two sentences what is wrong and where. Then "
EDIT_ASK = (
    f"Fix the code so that the tests pass. Do not change the tests. {EXPLAIN}reply with the complete new content "
    "of every file you change, each as a heading with its path followed by a code block, like this:\n\n"
    "### path/to/file.py\n```python\n...the whole file...\n```"
)
# Only the lines that change, for functions too long to write back whole on 2 cores (a 110-line
# method re-typed to change one line took a 1.5B model 1,151 tokens, over two minutes). Aider's
# SEARCH/REPLACE blocks, which coder models know; the grammar (models/grammar.changes_grammar)
# holds SEARCH to lines of the code shown, so it is always found. The example names no real heading.
CHANGES_ASK = (
    f"Fix the code so that the failing tests pass. Do not change the tests. {EXPLAIN}write only the lines you "
    "change: the heading line exactly as shown above "
    "(### path::name), then a code block with the lines as they are now, copied exactly, and the lines that "
    f"replace them, like this:\n\n### shop/cart.py::Cart.total\n```python\n{SEARCH}\n        return sum(prices)\n"
    f"{DIVIDER}\n        return round(sum(prices), 2)\n{REPLACE}\n```"
)
CHANGES_REMINDER = ("That reply changed nothing that can be found. Say in one sentence what is wrong, then under a "
                    "heading as shown above ({paths}) write the lines as they are now, copied exactly, and their "
                    f"replacement:\n\n### heading\n```python\n{SEARCH}\n...\n{DIVIDER}\n...\n{REPLACE}\n```")
CHANGES_UNCHANGED = ("The lines under REPLACE are the lines as they are now, and the tests fail with them. Find the "
                     "line that causes the failure and write it changed under REPLACE.")
EDIT_REMINDER = ("That reply has no file to use. Say in one sentence what is wrong, then write the complete corrected "
                 "file under a heading with its path ({paths}) and a code block:\n\n### path\n```python\n...\n```")
FUNCTIONS_REMINDER = ("That reply has no function to use. Say in one sentence what is wrong, then write the complete "
                      "corrected function under a heading with its file and name ({paths}) and a code block:\n\n"
                      "### path/to/file.py::function_name\n```python\n...\n```")
THOUGHT_CHARS = 300  # the step's Thought line: the explanation's first sentences
PROJECT_HEADING = "Project instructions (AGENTS.md):"  # as agent/prompt.py writes them


@dataclass(frozen=True)
class EditTarget:
    """What one heading of a fix names, and its text now (as shown to the model)."""

    heading: str
    path: str
    symbol: str | None = None  # replace this class, function or method
    region: tuple[int, int] | None = None  # replace these lines (1-based, inclusive)
    text: str = ""

    @classmethod
    def file(cls, path: str, text: str) -> "EditTarget":
        return cls(path, path, text=text)

    @classmethod
    def of_symbol(cls, path: str, name: str, text: str) -> "EditTarget":
        return cls(f"{path}::{name}", path, symbol=name, text=text)

    @classmethod
    def of_lines(cls, path: str, first: int, last: int, text: str, within: str | None = None) -> "EditTarget":
        """Lines of a file (of the definition `within`, named in the heading for the reader)."""
        heading = f"{path}::{within} lines {first}-{last}" if within else f"{path} lines {first}-{last}"
        return cls(heading, path, region=(first, last), text=text)


def summary_line(explanation: str) -> str:
    """The explanation as one line of plain text (the answer's last sentence): anything after a
    code block or tag is cut, and a `Thought:` label."""
    text = re.split(r"</?code>|```", explanation, maxsplit=1)[0]
    text = re.sub(r"\b[Tt]hought:\s*", "", text)
    line = " ".join(text.replace("<", "‹").replace(">", "›").split())
    if len(line) > THOUGHT_CHARS:
        line = line[:THOUGHT_CHARS].rsplit(" ", 1)[0] + " ..."
    return line or "Fix the code and run the tests."


# An attempt held to one heading (agent/attempts.py: each shown function gets its turn).
LOOK_THERE = ("\n\nThe earlier attempts changed other code and the tests still failed. This time, look for the "
              "mistake in {heading} and write the fix there.")
UNCHANGED = ("That is the code exactly as it is now, and the tests fail with it. Find the line that causes the "
             "failure, change it, and write the corrected code whole under its heading.")
NAMED_UNCHANGED = ("That is the code exactly as it is now, and the tests fail with it. Find the line that causes the "
                   "failure, change it, and write the corrected function whole in one python code block.")
NAMED_REMINDER = ("That reply has no python code block to use. Say in one sentence what is wrong, then write the "
                  "corrected function whole in one python code block.")


@dataclass
class EditRequest:
    """One fix request: what it may change (headings: files, functions, lines), room for them
    whole, the tests that judge it and how long a run of them may take, and the text of each
    heading now (a piece written back unchanged is no fix)."""

    paths: tuple[str, ...]  # the headings the reply may write (the edit grammar's alternatives)
    max_tokens: int | None = None
    test_timeout: int | None = None
    current: Callable[[str], str | None] = lambda path: None
    test_command: str | None = None  # the tests to run (None: the project's, detected)
    targets: dict[str, EditTarget] = field(default_factory=dict)  # heading -> what it names (none: whole files)
    wider_command: str | None = None  # then these tests, once the failing ones pass
    ask: str = EDIT_ASK
    max_blocks: int | None = None  # pieces one reply may write (None: every heading)
    # "whole": each heading's code written whole; "changes": SEARCH/REPLACE pairs; "named" (Python) and
    # "shot" (other code, files whole): the first fix as one completion asks it, alone()
    form: str = "whole"
    file_text: Callable[[str], str | None] | None = None  # a file's text now (pieces go as one diff)
    written: list[str] = field(default_factory=list)  # the headings the last reply read wrote (changed or not)
    held_to: str | None = None  # the heading an attempt is held to (narrowed)
    explain: bool = True  # the reply starts with what is wrong (plain(): not asked, not let in)
    shot: str | None = None  # this fix as one completion asks it (agent/shot.py), where the repository is shown whole
    split: Callable[[list[Edit]], list[Edit]] = lambda edits: edits  # blocks into pieces (agent/pieces.py)
    unplaced: str = ""  # why the last reply's block could not be written back by name (form "named")

    @classmethod
    def of(cls, targets: list[EditTarget], **options: Any) -> "EditRequest":
        by_heading = {t.heading: t for t in targets}
        whole = all(t.symbol is None and t.region is None for t in targets)
        return cls(tuple(by_heading), current=lambda heading: by_heading[heading].text if heading in by_heading else None,
                   targets=by_heading, ask=EDIT_ASK if whole else CHANGES_ASK, max_blocks=None if whole else 2,
                   form="whole" if whole else "changes", **options)

    def read(self, text: str) -> tuple[str, list[Edit], list[str]]:
        """(explanation, the edits that change something, the headings written back as they are)."""
        if self.form == "changes":
            explanation, changed, unchanged = self._read_changes(text)
        elif self.form == "named":
            explanation, changed, unchanged = self._read_named(text)
        else:
            files = tuple(dict.fromkeys(t.path for t in self.targets.values())) if self.by_function and not self.held_to else ()
            explanation, edits = parse_edits(text, self.paths + tuple(f for f in files if f not in self.paths))
            if files:  # without a grammar a model may write a file whole instead; beside a function of it, not
                pieces_of = {e.path for e in edits if e.heading != e.path}
                edits = [e for e in edits if e.heading != e.path or e.path not in pieces_of]
            edits = self.split(edits)
            first: dict[str, Edit] = {}  # a heading split out of two blocks: the first that changes it
            for edit in edits:
                if edit.heading not in first and not _same(edit.content, self.current(edit.heading)):
                    first[edit.heading] = edit
            changed = list(first.values())
            unchanged = list(dict.fromkeys(e.heading for e in edits if e.heading not in first))
        self.written = [e.heading for e in changed] + unchanged
        return explanation, changed, unchanged

    def refreshed(self) -> "EditRequest":
        """This request on the code as it is now (a failed change stays when fresh_restart is off): each
        file, and each function of one, read again; what can no longer be found keeps its old text."""
        from agent_runtime.code.symbols import find, index, source

        if self.file_text is None:
            return self
        targets = dict(self.targets)
        for heading, target in self.targets.items():
            now = self.file_text(target.path)
            if now is None or target.region is not None:
                continue
            if target.symbol is None:
                targets[heading] = dataclasses.replace(target, text=now)
                continue
            try:
                targets[heading] = dataclasses.replace(target, text=source(now, find(index(now) or [], target.symbol)))
            except Exception:  # noqa: BLE001 (a definition the change renamed or broke: its last known text)
                continue
        return dataclasses.replace(self, targets=targets, written=[],
                                   current=lambda heading: targets[heading].text if heading in targets else None)

    def narrowed(self, heading: str) -> "EditRequest":
        """This request held to one of its headings: the next attempt writes its fix there."""
        target = self.targets.get(heading)
        return dataclasses.replace(self, paths=(heading,), targets={heading: target} if target else {},
                                   max_blocks=1, ask=self.ask + LOOK_THERE.format(heading=heading), written=[],
                                   held_to=heading, split=lambda edits: edits)

    def alone(self) -> "EditRequest":
        """Asked as the strong one completion (agent/shot.py): the shot's one message, no grammar; Python
        by name (the corrected functions in one block), other code files whole."""
        if not self.shot:
            return self
        named = by_name({t.path: t.text for t in self.targets.values()})
        return dataclasses.replace(self, form="named" if named else "shot", explain=False, written=[])

    def _read_named(self, text: str) -> tuple[str, list[Edit], list[str]]:
        """The reply's first code block, its definitions put into the files by name: each file it
        changes written whole (what the model wrote, and not a line more, is what changes)."""
        explanation, block = first_block(text)
        self.unplaced = ""
        if block is None:
            return explanation, [], []
        files = {heading: self.current(heading) or "" for heading in self.paths}
        try:
            placed = place(block, files)
        except SymbolError as exc:
            self.unplaced = f"{exc.error}. {exc.suggestion}"
            return explanation, [], []
        changed = [Edit(path, new) for path, new in placed.texts.items() if not _same(new, files[path])]
        return explanation, changed, [] if changed else placed.names

    def _read_changes(self, text: str) -> tuple[str, list[Edit], list[str]]:
        """Each heading's code with its pairs applied. A heading any of whose SEARCH text is not in
        its code is left out (half a fix is not applied), as is one its pairs leave as it was.
        Without a grammar a model may write the whole definition instead: that is taken whole."""
        explanation, changes = parse_changes(text, self.paths)
        edits, unchanged = [], []
        if not changes:
            whole_explanation, whole = parse_edits(text, self.paths)
            edits = [e for e in whole if SEARCH not in e.content and not _same(e.content, self.current(e.heading))]
            unchanged = [e.heading for e in whole if e not in edits and SEARCH not in e.content]
            if whole:
                return whole_explanation, edits, unchanged
        for heading, pairs in changes.items():
            now = self.current(heading) or ""
            new, missing = apply_changes(now, pairs)
            if missing:
                continue
            if _same(new, now):
                unchanged.append(heading)
            else:
                edits.append(Edit(heading, new))
        return explanation, edits, unchanged

    def again(self, unchanged: bool) -> str:
        """What a retry is told when a reply changed nothing usable."""
        if self.form == "changes":
            return CHANGES_UNCHANGED if unchanged else CHANGES_REMINDER.format(paths=", ".join(self.paths))
        if self.form == "named":
            return NAMED_UNCHANGED if unchanged else f"That reply could not be used: {self.unplaced}" \
                if self.unplaced else NAMED_REMINDER
        reminder = FUNCTIONS_REMINDER if self.by_function else EDIT_REMINDER
        return UNCHANGED if unchanged else reminder.format(paths=", ".join(self.paths))

    def unreminded(self, observations: str) -> str:
        """A step's observation without this request's reminder of its form (again())."""
        return observations.replace(self.again(False), "").strip()

    @property
    def by_function(self) -> bool:
        """Asked for functions written whole (agent/pieces.py, function_retries), not files."""
        return self.form == "whole" and any(t.symbol for t in self.targets.values())

def _same(new: str, now: str | None) -> bool:
    """The same file but for trailing whitespace and blank lines: no fix, so it is not applied and
    tested as if it were one."""
    if now is None:
        return False

    def lines(text: str) -> list[str]:  # dedented: a method written back at column 0 is no change either
        return [line.rstrip() for line in textwrap.dedent(text).splitlines() if line.strip()]

    return lines(new) == lines(now)


def _text_of(message: Any) -> tuple[Any, str]:
    role = message.get("role") if isinstance(message, dict) else getattr(message, "role", None)
    content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
    if isinstance(content, list):
        content = "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return role, content or ""


def edit_messages(messages: list[Any], ask: str) -> list[Any]:
    """A fix request: one user message with the project's instructions (AGENTS.md), the task's first
    message (the task, the files, the failing tests) and `ask`. Not the agent's system prompt: its
    reply format (a Thought, a code block of tool calls) is not this one, and small models mixed
    the two."""
    from smolagents.models import ChatMessage, MessageRole

    parts = []
    for message in messages:
        role, text = _text_of(message)
        if role == MessageRole.SYSTEM and PROJECT_HEADING in text:
            parts.append(PROJECT_HEADING + text.split(PROJECT_HEADING, 1)[1].rstrip())
        elif role == MessageRole.USER:
            parts.append(text.removeprefix("New task:\n"))
            break
    parts.append(ask)
    return [ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": "\n\n".join(parts)}])]
