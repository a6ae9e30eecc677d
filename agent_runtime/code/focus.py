"""The code a failure goes through, ranked, for a repository too big to show whole.

From a failing test: the test's own function (shown, never edited), the library functions of
its traceback (innermost first), what the test calls, and what those call, as far as static
resolution reaches (code/index.py). Names the error message or the task mention rank higher.
What fits a character budget is shown in full; the rest is listed by name, to read on demand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import zip_longest

from agent_runtime.code.frames import Failure
from agent_runtime.code.index import RepoIndex, Target
from agent_runtime.code.lexical import related, weighted
from agent_runtime.code.symbols import Symbol, enclosing

TEST_PATH = re.compile(r"(^|/)(tests?/|test_[^/]*$|[^/]*_test\.py$|conftest\.py$)")
# A function longer than this is shown only around the lines that matter (its frame's line).
LONG_FUNCTION_LINES = 120


def is_test_path(path: str) -> bool:
    return bool(TEST_PATH.search(path))


@dataclass(frozen=True)
class Focus:
    path: str
    symbol: Symbol
    role: str  # "test" (the failing test: context, not to edit), "frame", "called", "related" (by its words),
    # "suspect" (run by the failing tests, few passing ones: code/spectrum.py)
    score: float
    line: int | None = None  # the frame's line in it, if any

    @property
    def key(self) -> str:
        return f"{self.path}::{self.symbol.name}"


def _test_symbol(index: RepoIndex, test_id: str) -> Target | None:
    path, _, rest = test_id.partition("::")
    name = re.sub(r"\[.*\]$", "", rest).replace("::", ".")
    symbol = index.symbol(path, name) if name else None
    return Target(path, symbol) if symbol is not None else None


def failure_focus(index: RepoIndex, failure: Failure, task: str = "", depth: int = 2,
                  suspects: list[str] | None = None, ran: set[str] | None = None) -> list[Focus]:
    """Ranked definitions for this failure: tests first, then library code by score.
    suspects: `path::name` of the functions the failing tests ran, most suspect first (code/spectrum.py);
    the two rankings take turns. ran: every function the failing tests ran: the others are not the cause."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", failure.message + "\n" + task))
    library = [p for p in index.files if not is_test_path(p)]
    ranked: dict[tuple[str, str], Focus] = {}

    def put(target: Target, role: str, score: float, line: int | None = None) -> None:
        if target.symbol.short in words or target.symbol.name in words:
            score += 3
        key = (target.path, target.symbol.name)
        if role != "test" and is_test_path(target.path):
            return  # helpers of the tests are context the test shows, not code to fix
        old = ranked.get(key)
        if old is None or (old.role != "test" and old.score < score):
            ranked[key] = Focus(target.path, target.symbol, role, score, line if line else (old.line if old else None))

    tests: list[Target] = []
    for test_id in failure.tests:
        found = _test_symbol(index, test_id)
        if found is not None and found not in tests:
            tests.append(found)
    frames: list[tuple[Target, int]] = []
    for frame in failure.frames:
        facts = index.facts(frame.path)
        symbol = enclosing(facts.symbols, frame.line) if facts else None
        if symbol is None:
            continue
        target = Target(frame.path, symbol)
        if is_test_path(frame.path):
            if symbol.name.split(".")[-1].startswith("test") and target not in tests:
                tests.append(target)
        else:
            frames.append((target, frame.line))
    for position, target in enumerate(tests):
        put(target, "test", 100 - position)
    # Innermost frames first: where it was raised, then its callers.
    for position, (target, line) in enumerate(reversed(frames)):
        put(target, "frame", 20 - position * 0.5, line)
    # The line a test failed on says which of its calls failed: those rank first, and what they call.
    failing_lines = {(f.path, f.line) for f in failure.frames}
    level = [(t, 0.0) for t in tests] + [(t, 0.0) for t, _ in frames]
    for step in range(depth):
        following: list[tuple[Target, float]] = []
        for caller, inherited in level:
            for position, (callee, line) in enumerate(index.calls_at(caller, wide=library)):
                if is_test_path(callee.path):
                    continue
                bonus = inherited + (8.0 if (caller.path, line) in failing_lines else 0.0)
                put(callee, "called", (8 if step == 0 else 4) + bonus - position * 0.1)
                following.append((callee, bonus * 0.75))
        level = following
    # What static resolution cannot reach (calls through a table, by name): functions that share
    # rare words with the failure, the test's name above all.
    query = weighted(("\n".join(_source(index, t) for t in tests), 0.5), (task + "\n" + failure.message, 1.0),
                     (" ".join(t.symbol.name for t in tests), 3.0))
    found = related(index, library, query)
    for item in found:
        put(item.target, "related", 6 + 8 * item.score / found[0].score)
    ordered = sorted(ranked.values(), key=lambda f: (f.role != "test", -f.score))
    if ran:
        # What the failing tests never ran is not the cause (a class stays: its body is no function).
        ordered = [f for f in ordered if f.role == "test" or f.symbol.kind == "class" or f.key in ran]
    return _with_suspects(index, ordered, suspects) if suspects else ordered


def _with_suspects(index: RepoIndex, ordered: list[Focus], suspects: list[str]) -> list[Focus]:
    """The static ranking and the spectrum's suspects, taking turns: each finds what the other misses
    (a traceback names the function that raised; a spectrum, the filter a plugin stack called that
    no name leads to)."""
    tests = [f for f in ordered if f.role == "test"]
    static = [f for f in ordered if f.role != "test"]
    found: list[Focus] = []
    for key in suspects:
        path, _, name = key.partition("::")
        symbol = index.symbol(path, name)
        if symbol is not None and not is_test_path(path):
            found.append(Focus(path, symbol, "suspect", 0.0))
    merged: list[Focus] = []
    seen: set[str] = set()
    for pair in zip_longest(static, found):
        for item in pair:
            if item is not None and item.key not in seen:
                seen.add(item.key)
                merged.append(item)
    # Scores in the merged order, so that a later sort keeps it.
    return tests + [Focus(f.path, f.symbol, f.role, 50.0 - i * 0.5, f.line) for i, f in enumerate(merged)]


def _source(index: RepoIndex, target: Target) -> str:
    text = index.text(target.path) or ""
    return "\n".join(text.splitlines()[target.symbol.start - 1:target.symbol.end])
