"""A fix task's attempts: a failed fix undone through the tool path, the next attempt planned
explicitly, and the task stopped with an honest answer when attempts stop telling anything new."""

from __future__ import annotations

import io
from types import SimpleNamespace

from conftest import BUGGY_PROJECT, make_repo, run_cli, write_replay
from rich.console import Console

from agent_runtime.agent.attempts import (
    REFIX_TEMPERATURE,
    REPEATED_FIX_LIMIT,
    SAME_FAILURE_LIMIT,
    FixAttempts,
    RequestPlan,
)
from agent_runtime.agent.edits import EditRequest
from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver


def call(tool, outcome="ok", **facts):
    return SimpleNamespace(tool=tool, arguments={"path": "calc.py"}, outcome=outcome, facts=facts)


def failed_step(fix: str, failure: str = "E       assert -1 == 5") -> SimpleNamespace:
    code = f'p = propose_file(path="calc.py", content={fix!r})\nprint(apply_patch(patch_id=p["patch_id"]))\n'
    observations = f"patch_id: p\ncommand: python -m pytest -q\npassed: false\noutput:\n{failure}\n(end of output)"
    tests = {"command": "python -m pytest -q", "passed": False, "output": failure}  # the run_tests result
    return SimpleNamespace(is_final_answer=False, observations=observations, model_output=f"Thought: try {fix}\n",
                           code_action=code, tests=tests)


def after(attempts, step, history):
    attempts.after_step(step, history, tests=getattr(step, "tests", None))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def attempts_with(history, clock=None, budget=None):
    undone = []
    attempts = FixAttempts(undo=lambda patch_id: undone.append(patch_id) or {"patch_id": patch_id, "files": ["calc.py"]},
                           budget_s=budget, clock=clock or Clock())
    attempts.begin(EditRequest(("calc.py",)), first_call=len(history))
    return attempts, undone


def one_attempt(attempts, history, fix, failure="E       assert -1 == 5", patch="p1"):
    history += [call("propose_file", patch_id=patch), call("apply_patch", patch_id=patch),
                call("run_tests", passed=False)]
    after(attempts, failed_step(fix, failure), history)
    history.append(call("undo_patch"))  # what the undo callable would have recorded


def test_the_first_request_is_the_fix_and_a_failed_one_is_undone_and_tried_warmer():
    history: list = []
    attempts, undone = attempts_with(history)
    plan = attempts.take()
    assert isinstance(plan, RequestPlan) and plan.edit is not None and plan.temperature is None
    assert attempts.take() is None, "asked for once per request"
    one_attempt(attempts, history, "a * b")
    assert undone == ["p1"] and attempts.stopped is None
    plan = attempts.take()
    assert plan.temperature == REFIX_TEMPERATURE and plan.fresh.startswith("Attempt 1 did not work: it changed calc.py")
    assert attempts.made(answered=True) == 2 and attempts.made(answered=False) == 1


def test_a_change_that_already_failed_is_known_and_a_different_one_is_not():
    history: list = []
    attempts, _ = attempts_with(history)
    one_attempt(attempts, history, "a * b")
    first_change = failed_step("a * b").code_action
    assert attempts.failed_with(first_change) == 1
    assert attempts.failed_with(first_change.replace("\n", "  \n\n")) == 1, "trailing spaces and blank lines do not matter"
    assert attempts.failed_with(first_change.replace("\n", "\n  ")) is None, "indentation does: Python reads it"
    assert attempts.failed_with(failed_step("a - b").code_action) is None


def test_the_same_failure_after_several_different_fixes_stops_the_task():
    history: list = []
    attempts, _ = attempts_with(history)
    for i in range(SAME_FAILURE_LIMIT):
        assert attempts.stopped is None
        one_attempt(attempts, history, f"fix {i}", patch=f"p{i}")
    assert attempts.stopped is not None and attempts.take() is None
    assert attempts.stopped.startswith(f"Could not fix it: stopped after {SAME_FAILURE_LIMIT} attempts because "
                                       f"{SAME_FAILURE_LIMIT} different fixes in a row left the same failure")
    assert "Still failing:\nE       assert -1 == 5" in attempts.stopped


def test_different_failures_keep_it_trying():
    history: list = []
    attempts, _ = attempts_with(history)
    for i in range(SAME_FAILURE_LIMIT + 2):
        one_attempt(attempts, history, f"fix {i}", failure=f"E       assert {i} == 5", patch=f"p{i}")
    assert attempts.stopped is None, "each fix changed what fails: they still tell something"


def test_fixes_already_tried_stop_the_task():
    history: list = []
    attempts, _ = attempts_with(history)
    fixes = ["a * b", "a * b", "a / b", "a * b", "a / b", "a * b", "a / b", "a - b"]
    for i, fix in enumerate(fixes):
        one_attempt(attempts, history, fix, failure=f"E       assert {i} == 5", patch=f"p{i}")
        if attempts.stopped:
            break
    assert i == 6 and "the model kept writing fixes it had already tried" in attempts.stopped
    assert REPEATED_FIX_LIMIT == 5


def test_replies_that_change_nothing_stop_the_task_later_than_repeats_would():
    """A reply that writes the code back as it is changes nothing: not a repeated fix (a copy, then a
    real fix, solved tasks), but NO_CHANGE_LIMIT of them end the task."""
    from agent_runtime.agent.attempts import NO_CHANGE_LIMIT

    history: list = []
    attempts, _ = attempts_with(history)
    copy = SimpleNamespace(is_final_answer=False, observations="The reply wrote calc.py exactly as it is now.",
                           model_output="Thought: it is fine\n", code_action=None)
    for i in range(NO_CHANGE_LIMIT):
        assert attempts.stopped is None, f"stopped after {i} copies"
        after(attempts, copy, history)
    assert "the model kept writing the code back unchanged" in attempts.stopped
    assert NO_CHANGE_LIMIT > REPEATED_FIX_LIMIT


def test_no_time_left_for_another_attempt_stops_the_task():
    history: list = []
    clock = Clock()
    attempts, _ = attempts_with(history, clock, budget=100)
    clock.now = 40
    one_attempt(attempts, history, "fix 1", failure="E 1")
    assert attempts.stopped is None, "60 s of 100 after a later attempt (half the first)"
    clock.now = 75
    one_attempt(attempts, history, "fix 2", failure="E 2")
    assert attempts.stopped and "there is no time left for another attempt" in attempts.stopped, \
        "75 s spent, a later attempt takes 35 s: past 100 s"


def test_the_first_attempt_counts_half_in_the_time_left():
    """The first attempt pays for the whole first message (a sqlparse task: 142 s, 74 of them the
    prompt); the next ones find it cached. It stopped with 130 s left; now it goes on."""
    history: list = []
    clock = Clock()
    attempts = FixAttempts(undo=lambda patch_id: {"patch_id": patch_id}, budget_s=280, clock=clock)
    clock.now = 3
    attempts.begin(EditRequest(("calc.py",)), first_call=0)
    clock.now = 145
    one_attempt(attempts, history, "fix 1", failure="E 1")
    assert attempts.stopped is None and attempts.take() is not None


def test_the_time_before_the_first_attempt_counts_against_the_budget():
    """The failing tests' run and a planner's reply come before the first attempt, from the same
    task time: a 300 s eval task whose plan took 40 s was killed at its timeout, not stopped."""
    history: list = []
    clock = Clock()
    attempts = FixAttempts(undo=lambda patch_id: {"patch_id": patch_id}, budget_s=100, clock=clock)
    clock.now = 40  # preparing the task
    attempts.begin(EditRequest(("calc.py",)), first_call=0)
    clock.now = 85
    one_attempt(attempts, history, "fix 1", failure="E 1")
    assert attempts.stopped and "there is no time left for another attempt" in attempts.stopped, \
        "85 s spent, a later attempt takes half the first's 45 s: past 100 s"


FIXED_CALC = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"


def edit(explanation: str, content: str) -> str:
    return f"{explanation}\n\n### calc.py\n```python\n{content}```\n"


def test_a_session_that_stops_trying_answers_what_it_tried_with_exit_code_4(tmp_path):
    """The same wrong fix written again and again: applied, tested and undone once (undo_patch
    through the tool path), never applied again, then the task ends with the honest answer; the code
    is as it was."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    wrong = edit("add() must multiply.", FIXED_CALC.replace("a + b", "a * b"))
    replay = write_replay(tmp_path / "r.json", [wrong] * (REPEATED_FIX_LIMIT + 1) + [edit("add.", FIXED_CALC)])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", "Fix the failing test.", cwd=repo,
                   env={"AGENT_MAX_ATTEMPTS": "20"}, timeout=900)
    assert done.returncode == 4, done.stderr
    import json

    events = [json.loads(line) for line in done.stdout.splitlines()]
    end = events[-1]
    assert end["type"] == "run_ended" and end["status"] == "gave_up" and end["exit_code"] == 4
    assert end["attempts"] == REPEATED_FIX_LIMIT + 1 and end["steps"] == REPEATED_FIX_LIMIT + 1
    answer = next(e["answer"] for e in events if e["type"] == "final_answer")
    assert answer.startswith(f"Could not fix it: stopped after {REPEATED_FIX_LIMIT + 1} attempts (1 went in and failed its "
                             f"tests; {REPEATED_FIX_LIMIT} changed nothing or were not applied) because the model kept "
                             "writing fixes it had already tried"), answer
    assert (repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"], "every failed change was undone"
    undos = [e for e in events if e["type"] == "tool_call" and e["tool"] == "undo_patch"]
    assert len(undos) == 1 and undos[0]["outcome"] == "ok", "the undo is a call of the tool path (policy, span)"
    applied = [e for e in events if e["type"] == "tool_call" and e["tool"] == "apply_patch"]
    assert len(applied) == 1, "a change that already failed is not applied again"
    assert answer.count("wrote attempt 1's change again, not applied") == 5
    assert all(e["step"] == 1 for e in events if e["type"] == "tool_call" and e["tool"] != "run_tests"
               or e["type"] == "tool_call" and e["step"] is not None)


def test_the_attempt_limit_stops_the_task_and_says_how_to_try_more():
    history: list = []
    attempts, _ = attempts_with(history)
    attempts.max_attempts = 3
    for i in range(3):
        assert attempts.stopped is None
        one_attempt(attempts, history, f"fix {i}", failure=f"E       assert {i} == 5", patch=f"p{i}")
    assert attempts.take() is None
    assert attempts.stopped.startswith("Could not fix it: stopped after 3 attempts because that is the limit "
                                       "(AGENT_MAX_ATTEMPTS=3; --max-attempts N tries more).")
    assert "Still failing:\nE       assert 2 == 5" in attempts.stopped


def test_three_failed_fixes_end_a_cli_task_by_default_and_max_attempts_allows_more(tmp_path):
    """Aider stops after 3 reflections; so does a fix task here by default (exit code 4, every change
    undone). The same replies with --max-attempts 4 reach the fix that passes."""
    wrongs = [edit(f"add() must use {op}.", FIXED_CALC.replace("a + b", f"a {op} b")) for op in ("*", "**", "//")]
    replay = write_replay(tmp_path / "r.json", [*wrongs, edit("add.", FIXED_CALC)])
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "Fix the failing test.", cwd=repo, timeout=600)
    assert done.returncode == 4, done.stderr
    assert "stopped after 3 attempts because that is the limit (AGENT_MAX_ATTEMPTS=3; --max-attempts N tries more)" \
        in " ".join(done.stdout.split())
    assert (repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"], "every failed change was undone"
    repo = make_repo(tmp_path / "q", BUGGY_PROJECT)
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "Fix the failing test.", "--max-attempts", "4",
                   cwd=repo, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (repo / "calc.py").read_text() == FIXED_CALC
    bad = run_cli("--max-attempts", "0", "hi", cwd=repo)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_a_new_task_starts_without_the_last_ones_attempts(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [edit("multiply.", FIXED_CALC.replace("a + b", "a * b")),
                                                'Thought: answer.\n<code>\nfinal_answer("it adds")\n</code>'])
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs"), "AGENT_MAX_STEPS": "1"})
    with Session(settings, repo, Approver("auto", interactive=False),
                 Display(console=Console(file=io.StringIO()), out=io.StringIO())) as session:
        assert session.run("Fix the failing test.").status == "step_limit"
        session.run("What does calc.py do?")
        assert not session.attempts.active and session.attempts.attempts == []


def test_in_a_big_repository_each_function_shown_gets_its_turn():
    """The changes form with four functions shown: after the free first attempt (which wrote B), the
    next attempts are held to A, C, D in the ranking's order, each alone, told where to look; then
    the model chooses again."""
    from agent_runtime.agent.edits import EditTarget

    targets = [EditTarget.of_symbol("pkg/core.py", name, f"def {name}():\n    return 1\n") for name in "ABCD"]
    request = EditRequest.of(targets)
    assert request.form == "changes" and request.max_blocks == 2
    history: list = []
    attempts = FixAttempts(undo=lambda patch_id: {"patch_id": patch_id, "files": ["pkg/core.py"]})
    attempts.begin(request, first_call=0)
    first = attempts.take().edit
    assert first is request
    held = []
    for number, wrote in enumerate(["B", "A", "C", "D", "D"]):
        current = attempts._current
        current.written = [f"pkg/core.py::{wrote}"]
        one_attempt(attempts, history, f"fix {number}", patch=f"p{number}")
        plan = attempts.take()
        held.append(plan.edit.paths)
    assert held[:3] == [("pkg/core.py::A",), ("pkg/core.py::C",), ("pkg/core.py::D",)]
    assert held[3] == request.paths and held[4] == request.paths, "every one had its turn: the model chooses"
    narrowed = request.narrowed("pkg/core.py::C")
    assert narrowed.max_blocks == 1 and list(narrowed.targets) == ["pkg/core.py::C"]
    assert narrowed.ask.endswith("look for the mistake in pkg/core.py::C and write the fix there.")
    assert narrowed.current("pkg/core.py::C") == "def C():\n    return 1\n"
    # Small files written whole (the project's small tasks): the model always chooses.
    whole = EditRequest.of([EditTarget.file("a.py", "x = 1\n"), EditTarget.file("b.py", "y = 2\n")])
    attempts = FixAttempts(undo=lambda patch_id: {"patch_id": patch_id, "files": ["a.py"]})
    attempts.begin(whole, first_call=0)
    attempts.take()
    one_attempt(attempts, [], "fix", patch="p9")
    assert attempts.take().edit is whole
