"""Finding the text a model means by `old` in propose_patch(path, old, new).

Small models copy code almost exactly: a missing indentation, trailing spaces, a final newline
too many or too few. Each looser match is tried only when the stricter one finds nothing, and
only a match of exactly one place is used; `new` is re-indented the way `old` was. When nothing
matches, the closest lines of the file are shown, so the next try can copy them.
"""

from __future__ import annotations

import difflib
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Match:
    start: int  # byte offsets in the file
    end: int
    new: bytes  # the replacement, re-indented like the matched lines
    how: str  # "exact", or what was forgiven


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _indent(line: bytes) -> bytes:
    return line[: len(line) - len(line.lstrip(b" \t"))]


def _reindent(new: bytes, old_lines: list[bytes], block: list[bytes]) -> bytes:
    """Shift each line of `new` as much as the line of `old` at the same position (or the last
    one) had to shift to match the file: a lost indentation is put back where it was lost. A blank
    line says nothing of indentation: its position takes the shift of the line before it."""
    shifts: list[int | None] = [len(_indent(f)) - len(_indent(o)) if o.strip() else None
                                for o, f in zip(old_lines, block)]
    first = next((x for x in shifts if x is not None), 0)
    for i, x in enumerate(shifts):
        shifts[i] = x if x is not None else (shifts[i - 1] if i else first)
    fill = next((_indent(f)[:1] for f in block if _indent(f)), b" ")
    out = []
    for i, line in enumerate(_lines(new)):
        shift = shifts[min(i, len(shifts) - 1)] if shifts else 0
        if not line.strip() or shift == 0:
            out.append(line)
        elif shift > 0:
            out.append(fill * shift + line)
        else:
            out.append(line[min(-shift, len(_indent(line))):])
    return b"".join(out)


def _shifted(block: list[bytes], old_lines: list[bytes]) -> tuple[bytes, bytes] | None:
    """(the file's indentation, old's) when every line of old is the block's line with one
    indentation put for another (blank lines aside); None when the lines are indented otherwise."""
    pivot = min((k for k, line in enumerate(old_lines) if line.strip()), key=lambda k: len(_indent(old_lines[k])))
    theirs, ours = _indent(block[pivot]), _indent(old_lines[pivot])  # at old's least indented line
    if all(not o.strip() or (f.startswith(theirs) and o.startswith(ours) and f[len(theirs):].rstrip() == o[len(ours):].rstrip())
           for f, o in zip(block, old_lines)):
        return theirs, ours
    return None


def _one_kind_of_indentation(block: list[bytes], old_lines: list[bytes]) -> bool:
    """Spaces or tabs, not both: a shift counted in characters means nothing across the two."""
    return len({c for line in block + old_lines if line.strip() for c in _indent(line)}) <= 1


# pytest's listing of the failing code: `>   ` marks the failing line, `E   ` lines and `^^^^`
# lines are its report. Small models copy these into old (and new) from the test output.
_PYTEST_MARK = re.compile(rb"^>   ", re.M)
_PYTEST_REPORT = re.compile(rb"^(?:E   .*|[ \t]*\^+[ \t]*)(?:\r?\n|$)", re.M)


def without_pytest_marks(text: bytes) -> bytes:
    # The mark takes the place of the 4 columns every listed line is indented by: spaces keep it in line.
    return _PYTEST_MARK.sub(b"    ", _PYTEST_REPORT.sub(b"", text))


def find(data: bytes, old: bytes, new: bytes) -> Match | list[int] | None:
    """A unique match of `old` in `data`; a list of line numbers when it matches several places;
    None when it matches nowhere. Last, old (and new) without lines copied from pytest's report."""
    found = _find(data, old, new)
    if found is None:
        # (both without a final line break: the report lines removed may have left one)
        clean_old, clean_new = without_pytest_marks(old).rstrip(b"\r\n"), without_pytest_marks(new).rstrip(b"\r\n")
        if clean_old != old.rstrip(b"\r\n") and clean_old.strip():
            found = _find(data, clean_old, clean_new)
            if isinstance(found, Match):
                found = Match(found.start, found.end, found.new, "the test output's >, E and ^ lines copied into old")
    return found


def _find(data: bytes, old: bytes, new: bytes) -> Match | list[int] | None:
    count = data.count(old)
    if count == 1:
        start = data.index(old)
        line_start = data.rfind(b"\n", 0, start) + 1
        inside_indent = start > line_start and not data[line_start:start].strip()
        if not (inside_indent and b"\n" in new.strip(b"\n")):
            return Match(start, start + len(old), new, "exact")
        # old begins inside a line's indentation and new has several lines: matched as whole
        # lines below, so that new's later lines get the file's indentation too.
    if count > 1:
        return [data[: i].count(b"\n") + 1 for i in _all(data, old)][:10]
    file_lines = _lines(data)
    # Blank lines at old's ends are not looked for; as many come off new's ends.
    old_lines, lead, trail = _without_blank_ends(_lines(old), len(old), len(old))
    found = by_lines(file_lines, old_lines, b"".join(_without_blank_ends(_lines(new), lead, trail)[0]))
    if count == 1:
        start = data.index(old)
        if not (isinstance(found, Match) and found.start <= start < found.end):  # the exact place, not another
            return Match(start, start + len(old), new, "exact")
    return found


def by_lines(file_lines: list[bytes], old_lines: list[bytes], new: bytes,
             first: bool = False) -> Match | list[int] | None:
    """Where `old_lines` stand as whole lines of the file: (with `first`, exactly, then) trailing
    whitespace forgiven, then an indentation shifted by one amount, then (not with `first`) each
    line's indentation. Several places give their line numbers, or with `first` the first place (a SEARCH/REPLACE block is
    applied where it first matches, so it is never matched by the loosest stage, which would take a
    block nested otherwise)."""
    if not old_lines or not any(line.strip() for line in old_lines):
        return None
    size = len(old_lines)
    stripped, file_stripped = [line.strip() for line in old_lines], [line.strip() for line in file_lines]
    places = [i for i in range(len(file_lines) - size + 1) if file_stripped[i:i + size] == stripped]  # once, every stage

    def same(key: Callable[[bytes], bytes]) -> Callable[[list[bytes]], bool]:
        return lambda block: [key(line) for line in block] == [key(line) for line in old_lines]

    # (what is forgiven, whether a place fits, whether new is re-indented line by line)
    stages = [("exact", same(lambda line: line.rstrip(b"\r\n")), False)] if first else []
    stages += [("trailing whitespace", same(bytes.rstrip), False),
               ("indentation", lambda block: _shifted(block, old_lines) is not None, False)]
    if not first:
        stages.append(("indentation", lambda block: _one_kind_of_indentation(block, old_lines), True))
    for how, fits, by_line in stages:
        hits = [i for i in places if fits(file_lines[i:i + size])]
        if len(hits) > 1 and not first:
            return [i + 1 for i in hits][:10]
        if hits:
            return _replaced(file_lines, hits[0], old_lines, new, how, by_line)
    return None


def _replaced(file_lines: list[bytes], i: int, old_lines: list[bytes], new: bytes, how: str, by_line: bool) -> Match:
    """The Match of old at line i: new re-indented as the file is there, in the file's line endings."""
    block = file_lines[i:i + len(old_lines)]
    start = sum(len(line) for line in file_lines[:i])
    end = start + sum(len(line) for line in block)
    if by_line:
        replacement = _reindent(new, old_lines, block)
    else:
        theirs, ours = _shifted(block, old_lines) or (b"", b"")
        replacement = b"".join(_swapped(line, theirs, ours) for line in _lines(new))
    replacement = replacement.replace(b"\r\n", b"\n")
    if any(line.endswith(b"\r\n") for line in file_lines[max(0, i - 1):i + len(block)]):  # the file's line endings
        replacement = replacement.replace(b"\n", b"\r\n")
    ends = block[-1].endswith((b"\n", b"\r"))
    # Keep the file's line ending after the block when old had none (or one too many).
    if ends and replacement and not replacement.endswith((b"\n", b"\r")):
        replacement += b"\r\n" if block[-1].endswith(b"\r\n") else b"\n"
    elif not ends:
        replacement = replacement.removesuffix(b"\n").removesuffix(b"\r")
    return Match(start, end, replacement, how)


def _swapped(line: bytes, theirs: bytes, ours: bytes) -> bytes:
    """A line of new with old's indentation put back as the file's; a line indented less than old
    shifts by as many columns, where both are of one kind (spaces or tabs)."""
    if not line.strip():
        return line
    if line.startswith(ours):
        return theirs + line[len(ours):]
    shift = len(theirs) - len(ours)
    if len(set(theirs + ours)) != 1 or not shift:
        return line
    return theirs[:1] * shift + line if shift > 0 else line[min(-shift, len(_indent(line))):]


def _without_blank_ends(lines: list[bytes], lead: int, trail: int) -> tuple[list[bytes], int, int]:
    """The lines without up to `lead` blank lines at the start and `trail` at the end, and how
    many of each were taken off."""
    first, last = 0, len(lines)
    while first < last and first < lead and not lines[first].strip(b"\r\n"):
        first += 1
    while last > first and len(lines) - last < trail and not lines[last - 1].strip(b"\r\n"):
        last -= 1
    return lines[first:last], first, len(lines) - last


def _all(data: bytes, old: bytes) -> list[int]:
    found, at = [], data.find(old)
    while at != -1 and old:
        found.append(at)
        at = data.find(old, at + 1)
    return found


# difflib's ratio() is quadratic in characters, worse on repetitive text: scored over every window,
# a 20-line `old` not found in a 2,000-line file took seconds, a longer one minutes. So windows are
# scored in the order of the words they share with `old`, on their first CLOSEST_CHARS characters,
# until CLOSEST_SECONDS have passed: the best of those is shown.
CLOSEST_CHARS = 600
CLOSEST_SECONDS = 0.5


def _by_shared_words(stripped: list[str], old_lines: list[str]) -> list[int]:
    """Window starts, those sharing the most words with old first (a sliding count, linear)."""
    want = Counter(word for line in old_lines for word in line.split())
    have: Counter[str] = Counter()
    shared, scores, size = 0, [], len(old_lines)
    for i, line in enumerate(stripped):
        for word in line.split():
            shared += have[word] < want[word]
            have[word] += 1
        if i >= size:
            for word in stripped[i - size].split():
                have[word] -= 1
                shared -= have[word] < want[word]
        if i >= size - 1:
            scores.append(shared)
    scores = scores or [0]
    return sorted(range(len(scores)), key=lambda i: -scores[i])


def closest(data: bytes, old: bytes, context: int = 1) -> tuple[int, str] | None:
    """The 1-based first line and text of the file's lines most like `old` (for the error)."""
    file_lines = data.decode("utf-8", "replace").splitlines()
    old_lines = old.decode("utf-8", "replace").strip("\n").splitlines() or [""]
    size = len(old_lines)
    if not file_lines:
        return None
    target = "\n".join(line.strip() for line in old_lines)[:CLOSEST_CHARS]
    stripped = [line.strip() for line in file_lines]
    best, best_at, deadline = 0.0, 0, time.monotonic() + CLOSEST_SECONDS
    for i in _by_shared_words(stripped, [line.strip() for line in old_lines]):
        if time.monotonic() > deadline:
            break
        window = "\n".join(stripped[i:i + size])[:CLOSEST_CHARS]
        score = difflib.SequenceMatcher(None, target, window, autojunk=False).ratio()
        if score > best or (score == best and i < best_at):
            best, best_at = score, i
    if best < 0.5:
        return None
    first = max(0, best_at - context)
    last = min(len(file_lines), best_at + size + context)
    return first + 1, "\n".join(file_lines[first:last])


def mismatched_lines(data: bytes, old: bytes, limit: int = 5) -> tuple[int, list[str]] | None:
    """Where `old` comes closest to the file, which of its lines differ from the file's (indentation
    and trailing spaces aside): (the file line where the closest place starts, one description per
    differing line). None when nothing in the file is close."""
    file_lines = data.decode("utf-8", "replace").splitlines()
    old_lines = old.decode("utf-8", "replace").strip("\n").splitlines()
    found = closest(data, old, context=0)
    if found is None or not old_lines:
        return None
    first = found[0]
    window = file_lines[first - 1:first - 1 + len(old_lines)]
    report = []
    for i, line in enumerate(old_lines):
        there = window[i] if i < len(window) else None
        if there is None or line.strip() != there.strip():
            shown = repr(there.strip()) if there is not None else "(past the end of the file)"
            report.append(f"old line {i + 1} {line.strip()!r} is not file line {first + i}: {shown}")
    return first, report[:limit] + ([f"... and {len(report) - limit} more"] if len(report) > limit else [])
