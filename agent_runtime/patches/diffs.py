"""Diffs as bytes: one file's change (FileEdit), split lines, parse unified diffs, apply hunks, render edits as
git-style diffs.

Pure functions, no disk access. Bytes are bytes throughout (CRLF, no final newline,
non-UTF-8 text): a git diff applied here gives what `git apply` gives.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from agent_runtime.core import ToolError
from agent_runtime.patches import linediff

DEV_NULL = "/dev/null"
_PREFIX = re.compile(r"^[abciow12]/")
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


class PatchError(ToolError):
    def __init__(self, error: str, suggestion: str = "Read the file again with read_file and propose a new patch."):
        super().__init__(error, suggestion, kind="patch_failed")


class NothingToUndo(PatchError):
    """An undo with nothing applied left: nothing went wrong, nothing was done."""


@dataclass
class FileEdit:
    """One file's change, as bytes before and after. None = the file does not exist."""

    old_path: str | None
    new_path: str | None
    before: bytes | None
    after: bytes | None
    old_mode: int | None = None
    new_mode: int | None = None

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""

    @property
    def status(self) -> str:
        if self.old_path is None:
            return "added"
        if self.new_path is None:
            return "deleted"
        return "renamed" if self.old_path != self.new_path else "modified"

    def inverse(self) -> "FileEdit":
        return FileEdit(self.new_path, self.old_path, self.after, self.before, self.new_mode, self.old_mode)


# --- lines as bytes ---


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their b"\\n" kept; only \\n ends a line (a lone \\r is content, as in git)."""
    if not data:
        return []
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def line_counts(before: bytes | None, after: bytes | None) -> tuple[int, int]:
    a, b = split_lines(before or b""), split_lines(after or b"")
    added = removed = 0
    for tag, i1, i2, j1, j2 in linediff.opcodes(a, b):
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def _show(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


# --- rendering: a git-style diff of an edit, used for show_patch and approval ---


def render_edit(edit: FileEdit, context: int = 3) -> str:
    a_name = f"a/{edit.old_path}" if edit.old_path else DEV_NULL
    b_name = f"b/{edit.new_path}" if edit.new_path else DEV_NULL
    head = [f"diff --git a/{edit.old_path or edit.new_path} b/{edit.new_path or edit.old_path}\n"]
    if edit.status == "added":
        head.append(f"new file mode {oct(edit.new_mode or 0o100644)[2:]}\n")
    elif edit.status == "deleted":
        head.append(f"deleted file mode {oct(edit.old_mode or 0o100644)[2:]}\n")
    elif edit.status == "renamed":
        head += [f"rename from {edit.old_path}\n", f"rename to {edit.new_path}\n"]
    if edit.status in ("modified", "renamed") and edit.new_mode and edit.old_mode and edit.new_mode != edit.old_mode:
        head += [f"old mode {oct(edit.old_mode)[2:]}\n", f"new mode {oct(edit.new_mode)[2:]}\n"]
    a, b = split_lines(edit.before or b""), split_lines(edit.after or b"")
    body: list[str] = []
    for group in _Grouped(a, b).get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        body.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@\n")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                body += _diff_lines(" ", a[x1:x2])
            else:
                body += _diff_lines("-", a[x1:x2]) + _diff_lines("+", b[y1:y2])
    if body:
        head += [f"--- {a_name}\n", f"+++ {b_name}\n"]
    return "".join(head + body)


class _Grouped(difflib.SequenceMatcher):
    """difflib's grouping into hunks, over the bounded-time opcodes of linediff."""

    def __init__(self, a: list[bytes], b: list[bytes]) -> None:  # no super(): it would index b for nothing
        self.a, self.b = a, b

    def get_opcodes(self):
        return linediff.opcodes(self.a, self.b)


def _range(start: int, length: int) -> str:
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def _diff_lines(sign: str, lines: list[bytes]) -> list[str]:
    out = []
    for line in lines:
        text = line.decode("utf-8", errors="surrogateescape")
        if text.endswith("\n"):
            out.append(sign + text)
        else:
            out += [sign + text + "\n", "\\ No newline at end of file\n"]
    return out


# --- parsing unified diffs ---


def _repair_hunk_counts(diff: str) -> str:
    """Recompute @@ line counts from the hunk bodies (models often miscount them)."""
    lines = diff.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _HUNK_HEADER.match(lines[i].rstrip("\r\n"))
        if not match:
            out.append(lines[i])
            i += 1
            continue
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            line = lines[j]
            if line.startswith(("@@", "diff --git ")) or (
                line.startswith("--- ") and j + 1 < len(lines) and lines[j + 1].startswith("+++ ")
            ):
                break
            if line[:1] not in (" ", "-", "+", "\\") and line.strip():
                break
            body.append(line if line[:1] in (" ", "-", "+", "\\") else " " + line)
            j += 1
        old = sum(1 for line in body if line[0] in " -")
        new = sum(1 for line in body if line[0] in " +")
        old_start, new_start = int(match.group(1)), int(match.group(3))
        out.append(f"@@ -{old_start},{old} +{new_start},{new} @@{match.group(5)}\n")
        out += body
        i = j
    return "".join(out)


def parse_unified(diff: str):
    from unidiff import PatchSet
    from unidiff.errors import UnidiffParseError

    if not diff.endswith("\n"):
        diff += "\n"
    try:
        patchset = PatchSet(diff)
    except UnidiffParseError as first:
        try:
            patchset = PatchSet(_repair_hunk_counts(diff))
        except UnidiffParseError:
            raise PatchError(
                f"the diff cannot be parsed: {first}",
                "Write a unified diff: '--- a/path', '+++ b/path', then '@@ -start,count +start,count @@' hunks "
                "whose lines start with ' ', '-' or '+'. Or use propose_patch(path, old, new).",
            ) from None
    if not len(patchset):
        raise PatchError(
            "the diff contains no file changes",
            "Start it with '--- a/path' and '+++ b/path' lines. Or use propose_patch(path, old, new).",
        )
    return patchset


def strip_prefix(source: str, target: str) -> tuple[str | None, str | None]:
    def clean(name: str) -> str:
        return name.split("\t")[0].strip().strip('"')

    source, target = clean(source), clean(target)
    both_prefixed = all(n == DEV_NULL or _PREFIX.match(n) for n in (source, target))
    def strip(name: str) -> str | None:
        if name == DEV_NULL:
            return None
        return name[2:] if both_prefixed else name

    return strip(source), strip(target)


def _hunk_lines(hunk) -> list[tuple[str, bytes]]:
    """(type, bytes) for each line of a hunk, with '\\ No newline' folded into the line before it."""
    seq: list[tuple[str, bytes]] = []
    for line in hunk:
        kind = line.line_type
        if kind == "\\":
            if seq and seq[-1][1].endswith(b"\n"):
                seq[-1] = (seq[-1][0], seq[-1][1][:-1])
            continue
        value = line.value.encode("utf-8", "surrogateescape")
        seq.append((" " if kind not in "-+" else kind, value))
    return seq


# Line comparisons placing the hunks of one diff may make: a hunk whose numbers are far off is
# searched for line by line, and 40,000 such hunks over a big file would take hours.
SEARCH_BUDGET = 5_000_000


def _find(lines: list[bytes], block: list[bytes], expected: int, floor: int, loose: bool, left: list[int]) -> int | None:
    """Index where `block` occurs in `lines` at or after `floor`, nearest to `expected` first.
    `left`: the comparisons still allowed (shared by the hunks of a diff); spent, the patch is refused."""
    def norm(line: bytes) -> bytes:
        return line.rstrip(b" \t\r\n") if loose else line

    want = [norm(line) for line in block]
    last_start = len(lines) - len(block)
    if last_start < floor:
        return None
    expected = min(max(expected, floor), last_start)
    for distance in range(0, max(expected - floor, last_start - expected) + 1):
        for at in (expected - distance, expected + distance) if distance else (expected,):
            if not floor <= at <= last_start:
                continue
            k = 0
            while k < len(want) and norm(lines[at + k]) == want[k]:
                k += 1
            left[0] -= k + 1
            if k == len(want):
                return at
            if left[0] < 0:
                raise PatchError("the diff's hunks are too far from the lines they name to be placed in bounded time",
                                 "Give each hunk's @@ line numbers as they are in the file now, or split the patch.")
    return None


def apply_hunks(shown: str, data: bytes, hunks, left: list[int] | None = None) -> tuple[bytes, list[str]]:
    lines = split_lines(data)
    out: list[bytes] = []
    pos, offset = 0, 0
    notes: list[str] = []
    left = [SEARCH_BUDGET] if left is None else left
    for number, hunk in enumerate(hunks, start=1):
        seq = _hunk_lines(hunk)
        old = [v for kind, v in seq if kind in " -"]
        new = [v for kind, v in seq if kind in " +"]
        anchor = hunk.source_start if not old else hunk.source_start - 1
        at = _find(lines, old, anchor + offset, pos, False, left)
        if at is None:
            at = _find(lines, old, anchor + offset, pos, True, left)
            if at is None:
                raise PatchError(_mismatch(shown, number, hunk, lines, old, anchor + offset))
            new = _adapt(seq, lines[at : at + len(old)])
            notes.append(f"{shown}: hunk {number} matched ignoring whitespace and line endings")
        if at != anchor + offset:
            notes.append(f"{shown}: hunk {number} applied at line {at + 1} (offset {at - anchor:+d})")
        out += lines[pos:at] + new
        pos = at + len(old)
        offset = at - anchor
    out += lines[pos:]
    return b"".join(out), notes


def _adapt(seq: list[tuple[str, bytes]], matched: list[bytes]) -> list[bytes]:
    """For a loose match: keep the file's own context lines, give added lines the file's line ending."""
    crlf = any(line.endswith(b"\r\n") for line in matched)
    new, i = [], 0
    for kind, value in seq:
        if kind == " ":
            new.append(matched[i])
            i += 1
        elif kind == "-":
            i += 1
        else:
            if crlf and value.endswith(b"\n") and not value.endswith(b"\r\n"):
                value = value[:-1] + b"\r\n"
            new.append(value)
    return new


def _mismatch(shown: str, number: int, hunk, lines: list[bytes], old: list[bytes], expected: int) -> str:
    header = f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@"
    if not old:
        return f"hunk {number} ({header}) of {shown} cannot be placed"
    at = min(max(expected, 0), max(len(lines) - 1, 0))
    for k, want in enumerate(old):
        have = lines[at + k] if at + k < len(lines) else None
        if have is None or have.rstrip(b"\r\n") != want.rstrip(b"\r\n"):
            found = "end of file" if have is None else repr(_show(have))
            return (
                f"hunk {number} ({header}) does not match {shown}: its line {k + 1} is {_show(want)!r} "
                f"but line {at + k + 1} of the file is {found}, and the hunk's lines occur nowhere else"
            )
    return f"hunk {number} ({header}) does not match {shown}"


