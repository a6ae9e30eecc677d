"""The tests a fix is judged by (agent/start.py runs them before the first request): the failing
ones the task names, then their files with what failed already left out, and the traced runs
that rank the code shown (the coaching rules `localization` and `extra_test_runs`)."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from agent_runtime.agent.focus import Seen
from agent_runtime.agent.tasks import TEST_FILE, named, named_tests
from agent_runtime.code.frames import parse_failure
from agent_runtime.tools.commands import detect_test_command

WIDER_FIRST_S = 30  # the longest the run of the failing tests' files may take before the first request


@dataclass
class TestPlan:
    """The tests a fix is judged by: `first` (the failing ones the task names; None: the project's
    whole suite, detected), then `wider` (their files, with tests that failed before the fix left
    out), if any."""

    first: str | None = None
    wider: str | None = None
    classes: str | None = None  # the failing tests' classes, when their files are too slow to run on each fix
    first_run_s: float = 0.0
    wider_checked: bool = False  # `wider` was run before any fix (what fails in it already is left out)
    spectrum_timed_out: bool = False  # the traced run of `wider` was stopped at its timeout

    @property
    def timeout(self) -> int:
        # A fix that loops forever should cost a minute, not the task's whole time.
        return min(300, max(60, int(10 * self.first_run_s)))


def plan_tests(task: str, files: list[str], repo: Path, small: bool) -> TestPlan:
    """In a small repository the whole suite; else the tests (or test files) the task names."""
    if small:
        return TestPlan()
    ids = named_tests(task, files)
    test_files = [f for f in named(task, files) if TEST_FILE.search(f)]
    if not ids and not test_files:
        return TestPlan()
    detected = detect_test_command(repo)
    if not detected or "pytest" not in detected:
        return TestPlan()
    # Short tracebacks: the failing line and the error of each frame. The long form repeats code the
    # first message shows whole anyway.
    detected += " --tb=short"
    if ids:
        around = list(dict.fromkeys([i.split("::", 1)[0] for i in ids] + test_files))
        # A test's class (`file::Class::test` -> `file::Class`): between the test and its file in cost, and
        # a fix judged by the failing test alone can break its neighbours unseen.
        classes = list(dict.fromkeys(class_of_test(i) for i in ids))
        return TestPlan(f"{detected} {' '.join(shlex.quote(i) for i in ids)}",
                        f"{detected} {' '.join(shlex.quote(f) for f in around)}",
                        classes=f"{detected} {' '.join(shlex.quote(c) for c in classes)}"
                        if classes != ids and set(around) == {i.split("::", 1)[0] for i in ids} else None)
    return TestPlan(f"{detected} {' '.join(shlex.quote(f) for f in test_files)}")


def class_of_test(test_id: str) -> str:
    """`file::Class::test[params]` -> `file::Class`; a test outside a class stays as it is."""
    base = test_id.split("[", 1)[0]
    return base.rsplit("::", 1)[0] if base.count("::") >= 2 else test_id


def run_once(tool: Any, command: str | None, **options: Any) -> tuple[dict | None, float]:
    started = time.monotonic()
    options = {k: v for k, v in options.items() if v}
    result = tool(command=command, **options) if command else tool(**options)
    return (result if isinstance(result, dict) and "error" not in result else None), time.monotonic() - started


def observer(run_tests: Any, plan: TestPlan) -> Callable[[list[str]], Seen | None] | None:
    """The failing tests run again watching these functions (run_tests' `values`; pytest only)."""
    if not plan.first:
        return None

    def observe(keys: list[str]) -> Seen | None:
        result, _ = run_once(run_tests, plan.first, values=", ".join(keys), timeout=plan.timeout)
        if result is None or "not_called" not in result:
            return None  # not pytest, or the run never reported: the view as without
        return Seen(str(result.get("values", "")).strip(), set(result["not_called"]))

    return observe


def spectrum_run(run_tests: Any, plan: TestPlan, task: str, files: list[str]) -> dict | None:
    """The failing tests' files run once, traced: which functions the failing tests run that the
    passing ones do not (run_tests' `suspects`, code/spectrum.py), and which of their tests fail
    already. None when it cannot be had (not pytest, no failing test counted)."""
    command = plan.wider or plan.first
    if not command or "pytest" not in command:
        return None
    named = named_tests(task, files)
    result, _ = run_once(run_tests, command, suspects=", ".join(named) if named else "failing",
                           timeout=spectrum_timeout())
    plan.spectrum_timed_out = result is not None and "timed out" in str(result.get("summary", ""))
    if result is None or not result.get("suspects"):
        return None
    return result


def spectrum_timeout() -> int:
    # The tracer stops starting tests at 70% of the timeout: WIDER_FIRST_S, as the untraced run had.
    return int(WIDER_FIRST_S / 0.7) + 1


def ran_by_failing(spectrum: dict | None) -> set[str] | None:
    """Every function the failing tests ran, when the traced run listed them all."""
    if spectrum is None:
        return None
    counted = spectrum.get("suspects_counted") or {}
    ran = {s["function"] for s in spectrum.get("suspects", [])} | set(spectrum.get("ran_by_failing", []))
    return ran if len(ran) >= counted.get("ran_by_failing", len(ran) + 1) else None


def wider_from(spectrum: dict, wider: str, task: str, files: list[str]) -> str | None:
    """The wider run as without_failing makes it, from the traced run: None when it did not run to
    the end in its time; else with the tests that failed already (other than the named) left out."""
    counted = spectrum.get("suspects_counted") or {}
    if not counted.get("complete") or "timed out" in str(spectrum.get("summary", "")):
        return None
    listed = spectrum.get("other_failures", [])
    if spectrum.get("other_failures_count", 0) > len(listed):
        return None  # too many broken already to leave out one by one
    return deselecting(wider, listed, task, files)


def without_failing(wider: str, run_tests: Any, task: str, files: list[str]) -> str | None:
    """The wider run with the tests that fail before any fix left out (other than those the task
    names): a fix is judged by what it breaks, not by what was broken already. None when the wider
    run cannot be made (it errs, or nothing of it passes) or takes longer than WIDER_FIRST_S: then
    the failing tests alone judge a fix, rather than a large test file's run spending the task's
    time before the model is asked anything."""
    result, _ = run_once(run_tests, wider, timeout=WIDER_FIRST_S)
    if result is None or "timed out" in str(result.get("summary", "")):
        return None
    if result.get("passed"):
        return wider
    return deselecting(wider, parse_failure(str(result.get("output", "")), files).tests, task, files)


def deselecting(wider: str, failing: list[str], task: str, files: list[str]) -> str:
    """The wider run without the tests that failed already, except those the task names (and their
    parametrized cases)."""
    wanted = set(named_tests(task, files))
    others = [t for t in failing if t not in wanted and not any(t.startswith(w + "[") for w in wanted)]
    return wider + "".join(f" --deselect {shlex.quote(t)}" for t in others)
