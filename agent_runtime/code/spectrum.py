"""Which functions the failing tests run that the passing ones do not: spectrum-based fault
localization (Ochiai), at the level a fix is written (a function or method).

A failing test far from its cause names none of the code at fault: an assertion on a formatter's
output has no library frame, and what it calls goes through tables and plugin stacks that static
resolution does not follow (sqlparse's filters, markdown's processors). Running the failing tests'
files once under a trace function that notes every function each test calls says what the
failing tests run; the passing tests of the same files say what is ordinary. A function every
failing test runs and few passing tests run is suspect: score = failed / sqrt(all failed x
(failed + passed)) (Ochiai), the measure that did best in studies of fault localization.

The tracer is the tests' own tool: a pytest plugin that pytest loads inside the sandbox, as the
tests themselves run (pytest_plugins/agent_runtime_spectrum.py, `-p`), never this process; what it
found comes back as one marked JSON line on stderr. The named failing tests run early (after one
other test, which takes what runs once per process), and the run stops itself after a time budget
(the tests it reached are counted), so a slow test file costs at most that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from agent_runtime.code.symbols import Symbol
from agent_runtime.code.values import marked_report, report_number, with_plugin

MARKER = "@@agent-runtime-spectrum@@"
MAX_SUSPECTS = 20  # reported by run_tests with their counts
MAX_RAN = 400  # the others the failing tests ran, by name only

@dataclass(frozen=True)
class Suspect:
    key: str  # "pkg/mod.py::Class.method"
    failed: int  # failing tests that ran it
    passed: int  # passing tests that ran it
    score: float  # Ochiai


@dataclass
class Spectrum:
    suspects: list[Suspect]  # every function a failing test ran, most suspect first
    failing: int  # the named tests that failed (and were counted)
    passing: int  # the tests that passed (and were counted)
    other_failures: list[str]  # tests that failed but were not named: broken before any fix
    complete: bool  # every test of the command ran (the run was not cut short by its budget)

    @property
    def executed(self) -> set[str]:
        return {s.key for s in self.suspects}


def traced_command(argv: list[str], first: list[str], budget: float) -> str:
    """`python -m pytest ARGS` (the caller checked the form) with the spectrum plugin loaded; first:
    the failing tests that count (empty: every test that fails)."""
    return with_plugin(argv, "agent_runtime_spectrum",
                       {"first": list(first) if first else None, "budget": budget, "marker": MARKER})


def split_output(stderr: str) -> tuple[str, dict | None]:
    """stderr without the tracer's line, and what it reported (None: it never reported)."""
    return marked_report(stderr, MARKER)


def rank(report: dict, definition: Callable[[str, int], str | None]) -> Spectrum | None:
    """The report as suspects. `definition(path, line)`: the key of the definition a code object
    starting at that line belongs to (the fix's unit), or None for one not to consider (a test, a
    file the agent may not read, anything not in the repository's listing). The report is the
    tests' stderr, which the project's code can write too: only well-formed entries count, and
    every key comes from `definition`, never from the report."""
    try:
        # Counts bounded (report_number): Ochiai's square root of a product of huge ones overflows.
        functions = [(str(path), report_number(line)) for path, line in report["functions"]]
        failed = {int(i): report_number(n) for i, n in dict(report["failed"]).items()}
        passed = {int(i): report_number(n) for i, n in dict(report["passed"]).items()}
        failing, passing = report_number(report["counts"]["failed"]), report_number(report["counts"]["passed"])
        others = [str(t) for t in report.get("other_failures", [])][:1000]
        stopped = bool(report.get("stopped", False))
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError):
        return None
    if failing <= 0:
        return None
    ran_failing: dict[str, int] = {}
    ran_passing: dict[str, int] = {}
    for index, (path, line) in enumerate(functions):
        key = definition(path, line)
        if key is None:
            continue
        # Several code objects (nested functions, comprehensions) make one definition: the most
        # tests any of them was run by.
        if index in failed:
            ran_failing[key] = max(ran_failing.get(key, 0), failed[index])
        if index in passed:
            ran_passing[key] = max(ran_passing.get(key, 0), passed[index])
    suspects = [Suspect(key, n, ran_passing.get(key, 0), n / math.sqrt(failing * (n + ran_passing.get(key, 0))))
                for key, n in ran_failing.items()]
    suspects.sort(key=lambda s: (-s.score, s.passed, s.key))
    return Spectrum(suspects, failing, passing, others, not stopped)


def definition_at(symbols: list[Symbol], line: int) -> Symbol | None:
    """The function or method a code object starting at `line` belongs to, as a fix would name it:
    a nested function or a comprehension is part of the outermost function or method around it."""
    best = None
    for symbol in symbols:
        if symbol.kind != "class" and symbol.start <= line <= symbol.end and (best is None or symbol.start < best.start):
            best = symbol
    return best
