"""The code a failure goes through, put in front of the model in a repository too big to show
whole: the failing test's function, then the library functions it runs (code/focus.py ranks
them), each under the heading a fix writes it back under (agent/edits.py). A function too long
to write back is shown around the line the traceback names, and those lines are the heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from agent_runtime.agent.blocks import file_block
from agent_runtime.agent.edits import EditTarget
from agent_runtime.code.focus import LONG_FUNCTION_LINES, Focus, failure_focus
from agent_runtime.code.frames import Failure, parse_failure
from agent_runtime.code.index import RepoIndex
from agent_runtime.code.values import MAX_WATCHED

# What the first message may spend on code: about 2,500 tokens (prompt processing on 2 cores runs
# at ~60 tokens/s for a 1.5B model, so every 1,000 characters shown costs ~4 s a request).
FOCUS_CHARS = 9000
MAX_SHOWN = 6  # definitions shown whole (the test's included)
MAX_LISTED = 8  # more, by name only


@dataclass
class Seen:
    """What the failing tests' traced run found (RunTestsTool's `values`)."""

    text: str
    not_called: set[str] = field(default_factory=set)


Observe = Callable[[list[str]], "Seen | None"]


@dataclass
class FocusView:
    text: str  # the blocks, for the first message
    targets: list[EditTarget]  # what a fix may write back
    shown: list[str] = field(default_factory=list)  # the files whose code is shown
    failure: Failure | None = None


def focus_view(root: Path, files: list[str], output: str, task: str, readable: Callable[[str], bool],
               cache_dir: Path | None = None, budget: int = FOCUS_CHARS,
               plan: list[str] | None = None, observe: Observe | None = None,
               suspects: list[str] | None = None, ran: set[str] | None = None) -> FocusView | None:
    """The failure's code as blocks and edit targets; None when nothing of the library is found.
    plan: `path::name` of the functions a planner chose (agent/planner.py): those are the code shown
    and edited, in its order, instead of the ranking's.
    observe: runs the failing tests watching the leading candidates (code/values.py); a function they
    never called is not the cause and is left out (unless planned), and what the others held is shown.
    suspects: what the failing tests ran and the passing ones did not, most suspect first (run_tests'
    `suspects`, code/spectrum.py): ranked in turn with what names and calls lead to; ran: every
    function they ran (what they did not run is left out of the ranking)."""
    failure = parse_failure(output, files)
    index = RepoIndex(root, files, cache_dir=cache_dir, readable=readable)
    ranked = failure_focus(index, failure, task, suspects=suspects, ran=ran)
    if plan:
        ranked = _planned(index, ranked, failure, plan)
    index.save()
    seen = None
    if observe is not None:
        watched = [item.key for item in ranked if item.symbol.kind != "class"][:MAX_WATCHED]
        seen = observe(watched) if watched else None
        # Not over a plan (the planner may name what should be called), nor when none was called (the
        # run broke early).
        if seen is not None and not plan and len(seen.not_called) < len(watched):
            ranked = [item for item in ranked if item.role == "test" or item.key not in seen.not_called]
    blocks: list[str] = []
    targets: list[EditTarget] = []
    listed: list[str] = []
    used = 0
    spans: list[tuple[str, int, int]] = []  # what is shown already: a class holding a method shown is not shown again
    tests_shown: set[str] = set()
    for item in ranked:
        text = index.text(item.path)
        if text is None:
            continue
        lines = text.splitlines()
        region = None
        if item.symbol.lines > LONG_FUNCTION_LINES:
            if item.line is None:
                if item.role != "test":
                    listed.append(_listed(item))  # too long, and nothing says where to look in it
                continue
            region = _region(item)
        first, last = region or (item.symbol.start, item.symbol.end)
        if any(path == item.path and first <= end and start <= last for path, start, end in spans):
            continue
        piece = "\n".join(lines[first - 1:last])
        if len(blocks) >= MAX_SHOWN or used + len(piece) > budget:
            if item.role != "test":
                listed.append(_listed(item))
            continue
        used += len(piece)
        spans.append((item.path, first, last))
        if item.role == "test":
            heading = item.key if region is None else f"{item.key} lines {first}-{last}"
            blocks.append(file_block(item.path, piece, heading=heading))
            tests_shown.add(item.key)
            continue
        target = (EditTarget.of_symbol(item.path, item.symbol.name, piece) if region is None
                  else EditTarget.of_lines(item.path, first, last, piece, item.symbol.name))
        targets.append(target)
        blocks.append(file_block(item.path, piece, heading=target.heading))
    if not targets:
        return None
    parts = ["The code the failure goes through (no need to read it again):", *blocks]
    if listed:
        parts.append("It also calls (read one with read_symbol if you need it): " + ", ".join(listed[:MAX_LISTED]))
    held = _values_of(seen.text, {t.heading.split(" lines ")[0] for t in targets} | tests_shown) if seen else ""
    if held:
        parts.append("What their variables held when the failing tests ran them (the last call of each):\n" + held)
    shown = sorted({t.path for t in targets})
    return FocusView("\n\n".join(parts), targets, shown, failure)


def _values_of(text: str, keys: set[str]) -> str:
    """The paragraphs of the values run (code/values.py render: a line `key (...): ...`, then its
    variables indented) of the definitions shown: those of the ones only listed by name are noise
    at the price of prompt time."""
    kept: list[str] = []
    keep = False
    for line in text.splitlines():
        if line and not line[0].isspace():
            keep = line.split(" (", 1)[0] in keys
        if keep:
            kept.append(line)
    return "\n".join(kept)


def _planned(index: RepoIndex, ranked: list[Focus], failure: Failure, plan: list[str]) -> list[Focus]:
    """The failing tests, then the planned definitions (with the traceback's line in each, if any)."""
    found = {item.key: item for item in ranked}
    chosen = [item for item in ranked if item.role == "test"]
    for position, key in enumerate(plan):
        path, _, name = key.partition("::")
        symbol = index.symbol(path, name)
        if symbol is None:
            continue
        line = found[key].line if key in found else next(
            (f.line for f in reversed(failure.frames) if f.path == path and symbol.start <= f.line <= symbol.end), None)
        if symbol.lines > LONG_FUNCTION_LINES and line is None:
            line = min(symbol.end, symbol.body + 25)  # nothing says where: its first lines
        chosen.append(Focus(path, symbol, "planned", 50.0 - position, line))
    return chosen


def _listed(item: Focus) -> str:
    return f"{item.key} ({item.symbol.lines} lines)"


def _region(item: Focus, around: int = 25) -> tuple[int, int]:
    """The lines of a long function around its frame's line: what is shown, and what a fix writes back."""
    assert item.line is not None
    return max(item.symbol.body, item.line - around), min(item.symbol.end, item.line + around)
