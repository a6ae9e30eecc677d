"""read_file and read_file_snippet: bounded reads of text files in the workspace."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from agent_runtime.core import Action, ToolError
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import int_check, line_range, path_check, text_check

BINARY_SNIFF_BYTES = 8192
MAX_SNIPPET_MATCHES = 20


def ensure_text(path: Path, shown: str) -> None:
    """Refuse binary files: their bytes mean nothing to the model and flood the context."""
    with path.open("rb") as handle:
        head = handle.read(BINARY_SNIFF_BYTES)
    if b"\x00" in head:
        size = path.stat().st_size
        raise ToolError(
            f"{shown} is a binary file ({size:,} bytes)",
            "Binary files cannot be read; look for a text source or documentation instead.",
            kind="binary_file",
        )


def iter_lines(path: Path) -> Iterator[str]:
    """Lines without their endings, decoded leniently (bad bytes shown as U+FFFD)."""
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        for line in handle:
            yield line.rstrip("\r\n")


def utf8(path: Path) -> bool:
    """Whether the whole file decodes as UTF-8 (read in chunks: a file of any size)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def not_utf8_note(shown: str) -> str:
    """What the model (and the person reading the step) must know of a file in another encoding."""
    return (f"{shown} is not UTF-8 (Latin-1 or another 8-bit encoding?): each byte shown as \ufffd is not that "
            "character. Patches keep the file's bytes as they are except what they change, but a patch's old "
            "text cannot match a line with \ufffd: change other lines, or tell the user what to change there.")


def count_lines(path: Path) -> int:
    count, last = 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk
    return count + (1 if last and not last.endswith(b"\n") else 0)


class ReadFileTool(RuntimeTool):
    reads_only = True
    name = "read_file"
    description = (
        "Read lines of a text file. Without a range it returns the first lines and says how to read on."
    )
    inputs = {
        "path": {"type": "string", "description": "file path relative to the repository root"},
        "start_line": {"type": "integer", "description": "first line to read, 1-based", "nullable": True},
        "end_line": {"type": "integer", "description": "last line to read (inclusive)", "nullable": True},
    }
    checks = {
        "path": path_check("file"),
        "start_line": int_check("start_line"),
        "end_line": int_check("end_line"),
    }

    def action(self, path: Path, **_: Any) -> Action:
        return self.reads(path)

    def run(self, path: Path, start_line: int | None = None, end_line: int | None = None) -> dict[str, Any]:
        shown = self.workspace.relative(path)
        ensure_text(path, shown)
        start, end = line_range(start_line, end_line, self.runtime)
        if end is None:
            end = start + self.runtime.settings.truncation_max_lines - 1
        total = count_lines(path)
        if total == 0:
            return {"path": shown, "total_lines": 0, "content": ""}
        if start > total:
            raise ToolError(
                f"start_line {start} is past the end of {shown} ({total} lines)",
                f"Pass a start_line from 1 to {total}.",
            )
        lines = []
        for number, line in enumerate(iter_lines(path), start=1):
            if number > end:
                break
            if number >= start:
                lines.append(line)
        last = start + len(lines) - 1
        result: dict[str, Any] = {"path": shown, "lines": f"{start}-{last} of {total}", "content": "\n".join(lines) + "\n"}
        if last < total:
            result["more"] = f'read_file(path="{shown}", start_line={last + 1})'
        if "\ufffd" in result["content"] and not utf8(path):
            result["note"] = not_utf8_note(shown)
        return result


WHOLE_FILE_LINES = 80


class ReadFileSnippetTool(RuntimeTool):
    reads_only = True
    name = "read_file_snippet"
    description = ("Show the lines of one file that match a regex, with line numbers and context around each match "
                   "(a small file is shown whole, matches marked with >).")
    inputs = {
        "path": {"type": "string", "description": "file path relative to the repository root"},
        "pattern": {"type": "string", "description": "Python regular expression to look for"},
        "context_lines": {"type": "integer", "description": "lines of context before and after (default 3)", "nullable": True},
    }
    checks = {
        "path": path_check("file"),
        "pattern": text_check("pattern", allow_empty=False),
        "context_lines": int_check("context_lines", low=0, high=50),
    }

    def action(self, path: Path, **_: Any) -> Action:
        return self.reads(path)

    def run(self, path: Path, pattern: str, context_lines: int | None = None) -> dict[str, Any]:
        shown = self.workspace.relative(path)
        ensure_text(path, shown)
        literal = None  # `def f(self` is meant literally, as models write it: searched as text
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            regex, literal = re.compile(re.escape(pattern)), f"not a valid regular expression ({exc}); searched as plain text"
        context = 3 if context_lines is None else context_lines
        lines = list(iter_lines(path))
        if context_lines is None and len(lines) <= WHOLE_FILE_LINES:
            context = len(lines)  # a small file is shown whole, the matches marked: pieces of it mislead
        hits = [i for i, line in enumerate(lines) if regex.search(line)]
        if not hits and regex.pattern != re.escape(pattern):  # `f(x)` meant literally, as models write it
            hits = [i for i, line in enumerate(lines) if pattern in line]
        if not hits:
            return {"path": shown, "matches": 0, "snippets": f"no line of {shown} matches {pattern!r}",
                    **({"pattern": literal} if literal else {}),
                    "next": f'read the whole file: read_file(path="{shown}"), or search with a shorter pattern'}
        shown_hits = hits[:MAX_SNIPPET_MATCHES]
        hit_set = set(shown_hits)
        out: list[str] = []
        last_printed = -1
        for index in shown_hits:
            low, high = max(0, index - context), min(len(lines), index + context + 1)
            if last_printed >= 0 and low > last_printed + 1:
                out.append("--")
            for i in range(max(low, last_printed + 1), high):
                marker = ">" if i in hit_set else " "
                out.append(f"{marker}{i + 1:>5}: {lines[i]}")
            last_printed = max(last_printed, high - 1)
        result: dict[str, Any] = {"path": shown, "matches": len(hits), "snippets": "\n".join(out) + "\n"}
        if literal:
            result["pattern"] = literal
        if len(hits) > MAX_SNIPPET_MATCHES:
            result["note"] = f"showing the first {MAX_SNIPPET_MATCHES} matches; use a more specific pattern"
        return result
