"""`@path` in a task: the person attaches a file; its content joins the task text.

Each `@path` passes the same checks as a read_file call by the model (the path validators:
inside the workspace, no symlink out, a regular text file; then the policy: a deny_read path
such as `.env` is refused with the policy's reason) and is read the same way (its first lines,
with how to read on). The contents share one size budget. A word after `@` that names no file
(`@pytest.fixture`, an e-mail address) is left as it is; when it looks like a path (it has a `/`,
ends with a source file's extension, or is one typo from a file next to it: `@calc.pyy`), the
person gets a one-line warning, with the near file when there is one, and the task still runs.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Callable

from agent_runtime.core import ToolError

if TYPE_CHECKING:
    from agent_runtime.tools.runtime import Runtime

MENTION = re.compile(r"(?<![\w@])@([^\s@]+)")
TRAILING = ".,;:!?)]}'\""
BUDGET_FACTOR = 4  # the attachments together: 4 x TRUNCATION_MAX_CHARS (12,000 characters by default)
# A word with one of these endings that names no file is taken for a mistyped path, and said.
SOURCE_EXTENSIONS = frozenset({
    ".py", ".pyi", ".md", ".rst", ".txt", ".toml", ".json", ".yaml", ".yml", ".cfg", ".ini", ".js", ".jsx",
    ".ts", ".tsx", ".mjs", ".cjs", ".html", ".css", ".sh", ".rs", ".go", ".c", ".h", ".cc", ".cpp", ".hpp",
    ".java", ".kt", ".rb", ".php", ".cs", ".swift", ".sql", ".lock", ".csv", ".xml",
})
PATH_LIKE = re.compile(r"[\w.~+-][\w./~+-]*")  # nothing a path rarely has: (, ', =, :
NEAR_CUTOFF = 0.8  # difflib ratio: calc.pyy ~ calc.py (0.93), but pytest.fixture !~ pytest.ini


class AttachmentError(ValueError):
    """An @path the person wrote cannot be attached; the message says which and why."""


def mentions(task: str) -> list[str]:
    found: list[str] = []
    for match in MENTION.finditer(task):
        raw = match.group(1).rstrip(TRAILING)
        if raw and raw not in found:
            found.append(raw)
    return found


def _near_file(raw: str, runtime: "Runtime") -> str | None:
    """A file next to where `raw` points whose name is one typo away (calc.pyy: calc.py), never
    one the policy forbids reading."""
    import difflib

    from agent_runtime.core import Action

    typed = PurePosixPath(raw)
    root = runtime.workspace.root
    folder = (root / typed.parent).resolve()
    if not folder.is_relative_to(root) or not folder.is_dir():
        return None
    try:
        names = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
    except OSError:
        return None
    for name in difflib.get_close_matches(typed.name, names, n=3, cutoff=NEAR_CUTOFF):
        rel = (folder / name).relative_to(root).as_posix()
        if runtime.decide(Action("read", paths=(rel,))).decision != "deny":
            return rel
    return None


def unmatched_warning(raw: str, runtime: "Runtime") -> str | None:
    """One line for a word after `@` that names no file but looks like a mistyped path; None for
    a decorator, an address or a word."""
    if not PATH_LIKE.fullmatch(raw) or "://" in raw:
        return None
    near = _near_file(raw, runtime)
    if near is None and "/" not in raw and PurePosixPath(raw).suffix.lower() not in SOURCE_EXTENSIONS:
        return None
    hint = f"did you mean @{near}?" if near else "a mistyped path?"
    return f"@{raw} names no file in the repository and is not attached ({hint}); the task goes on without it"


def attach_files(task: str, runtime: "Runtime", warn: Callable[[str], None] | None = None) -> str:
    """The task with the content of each file it names with @path appended; AttachmentError for a
    path the policy forbids reading or that cannot be read (nothing is run then). A word that
    names no file but looks like a path is said through `warn` (default: the session's warning
    line, which the session gives the runtime's hooks: Display.warn)."""
    names = mentions(task)
    if not names:
        return task
    warn = warn or runtime.hooks.warn
    from agent_runtime.tools.checks import validate
    from agent_runtime.tools.files import ReadFileTool

    tool = ReadFileTool(runtime)
    budget = BUDGET_FACTOR * runtime.settings.truncation_max_chars
    parts: list[str] = []
    for raw in names:
        try:
            validated = validate(tool, {"path": raw, "start_line": None, "end_line": None}, runtime)
        except ToolError as exc:
            if exc.kind == "not_found":  # not a file: a decorator, an address, a word; or a typo
                said = unmatched_warning(raw, runtime)
                if said is not None:
                    warn(said)
                continue
            raise AttachmentError(f"@{raw} cannot be attached: {exc.error}. {exc.suggestion}") from None
        decision = runtime.decide(tool.action(**validated))
        if decision.decision == "deny":  # "ask" is fine: the person asked for it themselves
            rule = f" (rule {decision.rule})" if decision.rule else ""
            raise AttachmentError(f"@{raw} is not attached: the policy forbids reading it{rule}: {decision.reason}. "
                                  "Remove it from the task; nothing was run.")
        try:
            result = tool.run(**validated)
        except ToolError as exc:
            raise AttachmentError(f"@{raw} cannot be attached: {exc.error}. {exc.suggestion}") from None
        shown, content = result["path"], str(result.get("content", ""))
        where = f"lines {result['lines']}" if result.get("lines") else "empty"
        more = result.get("more")
        if len(content) > budget:
            kept = content[:max(budget, 0)]
            kept = kept[:kept.rfind("\n") + 1] if "\n" in kept else kept
            last = kept.count("\n")
            content, where = kept, f"its first {last} lines: the attachments' size budget is used up"
            more = f'read_file(path="{shown}", start_line={last + 1})'
        budget -= len(content)
        tail = f"(end of the attachment; the rest: {more})" if more else f"(end of {shown})"
        parts.append(f"Attached file {shown} ({where}):\n{content.rstrip(chr(10))}\n{tail}")
    return task if not parts else task + "\n\n" + "\n\n".join(parts)
