"""A line diff in bounded time, for the counts and the diffs shown of an edit (diffs.py).

difflib's SequenceMatcher is quadratic or worse in the lines it compares: a file of many equal
lines (a data file, a generated file) made propose_file or show_patch run for minutes. Here the
common start and end are taken off first, then lines that occur once on each side anchor the rest
(a patience diff), and difflib only sees the gaps between anchors, within a budget of line pairs.
Past the budget a gap is shown as replaced whole: a longer diff, never a wrong one.
"""

from __future__ import annotations

import bisect
import difflib
from collections import Counter

Opcode = tuple[str, int, int, int, int]
# difflib's time grows with the line pairs it compares times the matches it finds: about the cube
# of a gap's length on repetitive lines (1,400 lines of `a b c` against `c b a`: 20 seconds). So
# it sees gaps of at most GAP_PAIRS pairs, PAIR_BUDGET in all: a second or two at worst.
GAP_PAIRS = 40_000
PAIR_BUDGET = 1_000_000


def opcodes(a: list[bytes], b: list[bytes], budget: int = PAIR_BUDGET) -> list[Opcode]:
    """difflib-style opcodes turning `a` into `b`, in time about linear in their lengths."""
    out: list[Opcode] = []
    left = [budget]
    _diff(a, b, 0, len(a), 0, len(b), out, left, depth=0)
    merged: list[Opcode] = []
    for code in out:  # join neighbours of one kind, as difflib gives them
        if merged and merged[-1][0] == code[0] and merged[-1][2] == code[1] and merged[-1][4] == code[3]:
            merged[-1] = (code[0], merged[-1][1], code[2], merged[-1][3], code[4])
        elif code[1] != code[2] or code[3] != code[4]:
            merged.append(code)
    return merged


def _diff(a, b, a1: int, a2: int, b1: int, b2: int, out: list[Opcode], left: list[int], depth: int) -> None:
    start = 0
    while a1 + start < a2 and b1 + start < b2 and a[a1 + start] == b[b1 + start]:
        start += 1
    end = 0
    while a2 - end > a1 + start and b2 - end > b1 + start and a[a2 - end - 1] == b[b2 - end - 1]:
        end += 1
    out.append(("equal", a1, a1 + start, b1, b1 + start))
    _middle(a, b, a1 + start, a2 - end, b1 + start, b2 - end, out, left, depth)
    out.append(("equal", a2 - end, a2, b2 - end, b2))


def _middle(a, b, a1: int, a2: int, b1: int, b2: int, out: list[Opcode], left: list[int], depth: int) -> None:
    if a1 == a2 or b1 == b2:
        out.append(("delete" if a1 < a2 else "insert", a1, a2, b1, b2))
        return
    pairs = (a2 - a1) * (b2 - b1)
    if pairs <= min(left[0], GAP_PAIRS):
        left[0] -= pairs
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a[a1:a2], b[b1:b2], autojunk=False).get_opcodes():
            out.append((tag, a1 + i1, a1 + i2, b1 + j1, b1 + j2))
        return
    anchors = _anchors(a, b, a1, a2, b1, b2) if depth < 4 else []
    if not anchors:
        out.append(("replace", a1, a2, b1, b2))
        return
    for i, j in anchors:
        _diff(a, b, a1, i, b1, j, out, left, depth + 1)
        out.append(("equal", i, i + 1, j, j + 1))
        a1, b1 = i + 1, j + 1
    _diff(a, b, a1, a2, b1, b2, out, left, depth + 1)


def _anchors(a, b, a1: int, a2: int, b1: int, b2: int) -> list[tuple[int, int]]:
    """Lines that occur exactly once in each range, the longest run of them in the same order."""
    count_a, count_b = Counter(a[a1:a2]), Counter(b[b1:b2])
    where_b = {b[j]: j for j in range(b1, b2) if count_b[b[j]] == 1}
    unique = [(i, where_b[a[i]]) for i in range(a1, a2) if count_a[a[i]] == 1 and a[i] in where_b]
    # longest increasing subsequence of the b positions (patience sorting)
    tops: list[int] = []
    top_at: list[int] = []
    back: list[int] = []
    for k, (_, j) in enumerate(unique):
        pile = bisect.bisect_left(tops, j)
        back.append(top_at[pile - 1] if pile else -1)
        if pile == len(tops):
            tops.append(j)
            top_at.append(k)
        else:
            tops[pile], top_at[pile] = j, k
    chain, k = [], top_at[-1] if top_at else -1
    while k != -1:
        chain.append(unique[k])
        k = back[k]
    return chain[::-1]
