"""`@path` in a task: the person attaches a file; its content joins the task text.

Each `@path` passes the same checks as a read_file call by the model (the path validators:
inside the workspace, no symlink out, a regular text file; then the policy: a deny_read path
such as `.env` is refused with the policy's reason) and is read the same way (its first lines,
with how to read on). The contents share one size budget. A word after `@` that names no file
(`@pytest.fixture`, an e-mail address) is left as it is.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from agent_runtime.core import ToolError

if TYPE_CHECKING:
    from agent_runtime.tools.runtime import Runtime

MENTION = re.compile(r"(?<![\w@])@([^\s@]+)")
TRAILING = ".,;:!?)]}'\""
BUDGET_FACTOR = 4  # the attachments together: 4 x TRUNCATION_MAX_CHARS (12,000 characters by default)


class AttachmentError(ValueError):
    """An @path the person wrote cannot be attached; the message says which and why."""


def mentions(task: str) -> list[str]:
    found: list[str] = []
    for match in MENTION.finditer(task):
        raw = match.group(1).rstrip(TRAILING)
        if raw and raw not in found:
            found.append(raw)
    return found


def attach_files(task: str, runtime: "Runtime") -> str:
    """The task with the content of each file it names with @path appended; AttachmentError for a
    path the policy forbids reading or that cannot be read (nothing is run then)."""
    names = mentions(task)
    if not names:
        return task
    from agent_runtime.tools.checks import validate
    from agent_runtime.tools.files import ReadFileTool

    tool = ReadFileTool(runtime)
    budget = BUDGET_FACTOR * runtime.settings.truncation_max_chars
    parts: list[str] = []
    for raw in names:
        try:
            validated = validate(tool, {"path": raw, "start_line": None, "end_line": None}, runtime)
        except ToolError as exc:
            if exc.kind == "not_found":
                continue  # not a file: a decorator, an address, a word
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
