"""The repair loop the harness owns (agent/repair.py): the model writes code; the harness proposes,
applies and tests it through the tool path, reflects the failure, never applies a failed change
again, and stops with an answer that says what is on disk."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

from conftest import BUGGY_PROJECT, make_repo, run_cli, step, write_replay
from rich.console import Console

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.records import load_spans

CALC = BUGGY_PROJECT["calc.py"]


def edit(explanation: str, content: str) -> str:
    return f"{explanation}\n\n### calc.py\n```python\n{content}```\n"


def session_for(tmp_path, replies, approval="auto", **env):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", replies)
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs"), **env})
    return Session(settings, repo, Approver(approval, interactive=False),
                   Display(console=Console(file=io.StringIO()), out=io.StringIO()))


def text_of(message) -> str:
    content = message.content if not isinstance(message, dict) else message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def test_one_failed_attempt_stops_with_an_answer_that_says_what_is_on_disk(tmp_path):
    """--max-attempts 1 and a fix that fails: the change is undone, nothing says "trying a new fix",
    the answer says what the attempt changed and that it is undone, and the run says no file changed."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [edit("add must multiply.", CALC.replace("a - b", "a * b"))])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", "--max-attempts", "1",
                   "Fix the failing test.", cwd=repo, timeout=600)
    assert done.returncode == 4, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert warnings == ["The tests still fail: undid the change to calc.py."], warnings
    answer = next(e["answer"] for e in events if e["type"] == "final_answer")
    assert "- attempt 1 (changed calc.py, undone): add must multiply. -> assert 6 == 5" in answer, answer
    end = events[-1]
    assert end["files_changed"] == [] and end["attempts"] == 1
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout == ""
    assert "no file changed · tests: last run on a change since undone" in done.stderr
    ran_first = next(e for e in events if e["type"] == "harness_step")
    assert ran_first["what"] == "ran the tests before the first request" and ran_first["seconds"] > 0
    assert events.index(ran_first) < next(i for i, e in enumerate(events) if e["type"] == "step_started"), \
        "the runtime's own test run shows before the first request, as a step of its own"


def test_each_attempt_is_a_step_span_with_its_model_call_and_tool_calls_under_it(tmp_path):
    replies = [edit("add must multiply.", CALC.replace("a - b", "a * b")),
               edit("add must add.", CALC.replace("a - b", "a + b"))]
    with session_for(tmp_path, replies) as session:
        result = session.run("Fix the failing test.")
    assert result.status == "answered" and result.steps == 2, result
    assert result.answer == "The tests pass. add must add."
    spans = load_spans(session.last_run.dir)
    steps = {s["span_id"]: s for s in spans if s["name"].startswith("step ")}
    assert sorted(s["name"] for s in steps.values()) == ["step 1", "step 2"]
    under = {name: [s for s in spans if s["parent_id"] in steps and steps[s["parent_id"]]["name"] == name]
             for name in ("step 1", "step 2")}
    kinds = {name: [s["attributes"]["openinference.span.kind"] for s in found] for name, found in under.items()}
    assert kinds["step 1"].count("LLM") == 1 and kinds["step 1"].count("TOOL") == 4, kinds  # propose, apply, test, undo
    assert kinds["step 2"].count("LLM") == 1 and kinds["step 2"].count("TOOL") == 3, kinds
    assert all("python" not in s["name"] for s in spans), "no code is generated from a reply and run"
    first = steps[next(k for k, s in steps.items() if s["name"] == "step 1")]
    assert "-    return a - b\n+    return a * b" in first["attributes"]["input.value"], "the step shows the change"


def test_the_exchange_stays_in_the_conversation_for_the_next_task(tmp_path):
    replies = [edit("add must add.", CALC.replace("a - b", "a + b")),
               step("I changed add.", 'final_answer("add now adds")')]
    with session_for(tmp_path, replies) as session:
        assert session.run("Fix the failing test.").status == "answered"
        assert session.run("What did you change?").answer == "add now adds"
        asked = "\n".join(text_of(m) for m in session.model.requests[1])
    assert "New task:\nFix the failing test." in asked and "add must add." in asked
    assert "passed: true" in asked, "the attempt's test run is in the conversation"


def test_a_change_the_approval_refuses_ends_the_task_with_the_proposal_and_nothing_applied(tmp_path):
    replies = [edit("add must add.", CALC.replace("a - b", "a + b"))] * 3
    with session_for(tmp_path, replies, approval="never") as session:
        result = session.run("Fix the failing test.")
        now = (session.repo / "calc.py").read_text()
    assert result.status == "answered" and result.exit_code == 5, result
    assert result.answer.startswith("The fix was not applied: apply_patch needs approval and was refused")
    assert "It was proposed as p1: add must add." in result.answer
    assert now == CALC and session.model.calls == 1, "no second attempt the approval would refuse again"


def test_a_test_run_after_a_change_is_no_repeat(tmp_path):
    """The CodeAgent's own steps (a task with no failing test in front of the model): running the tests
    again after a patch is not the step it repeats, so no reply is discarded."""
    replies = [step("Run them.", "print(run_tests())"),
               step("Fix add.", 'p = propose_patch(path="calc.py", old="a - b", new="a + b")\n'
                                'print(apply_patch(patch_id=p["patch_id"]))'),
               step("Run them again.", "print(run_tests())"),
               step("Done.", 'final_answer("add adds")')]
    with session_for(tmp_path, replies) as session:  # the 1.5B's profile: repeat_retry on
        result = session.run("Change add in calc.py so that it adds.")
    assert result.status == "answered", result
    assert session.model.calls == 4 and session.agent.repeat_retries == 0
    ran = [c for c in session.runtime.state.history if c.tool == "run_tests"]
    assert [c.facts["passed"] for c in ran] == [False, True]


def test_a_discarded_reply_shows_as_a_step_of_the_runtime(tmp_path):
    replies = [step("Run them.", "print(run_tests())"), step("Run them.", "print(run_tests())"),
               step("Done.", 'final_answer("it fails")')]
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", replies)
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", "Check whether calc.py works.", cwd=repo,
                   timeout=600)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    discarded = [e for e in events if e["type"] == "harness_step" and "discarded" in e["what"]]
    assert len(discarded) == 1 and "repeat_retry" in discarded[0]["what"], events
    assert "runtime: a reply was discarded and asked again" in done.stderr


def test_the_give_up_answer_says_why_an_attempt_was_not_tested(tmp_path):
    """An attempt whose proposal was refused (here: the second, a file written whole that would delete
    its functions) was told as "changed nothing -> not tested": the answer says what refused it. It is
    not one of the fixes --max-attempts counts (those that went in and failed their tests); the third is."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    long = "add subtracts where it should add, " * 8
    replay = write_replay(tmp_path / "r.json", [edit("add multiplies?", CALC.replace("a - b", "a * b")),
                                                edit("add subtracts.", "X = 1\n"),
                                                edit(long, CALC.replace("a - b", "a ** b"))])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", "--max-attempts", "2",
                   "Fix the failing test.", cwd=repo, timeout=600)
    assert done.returncode == 4, done.stderr
    answer = next(json.loads(line)["answer"] for line in done.stdout.splitlines() if '"final_answer"' in line)
    assert answer.startswith("Could not fix it: stopped after 3 attempts (2 went in and failed their tests; 1 changed "
                             "nothing or was not applied) because that is the limit (AGENT_MAX_ATTEMPTS=2"), answer
    assert "- attempt 2 (changed nothing): add subtracts. -> not tested: propose_file refused it: content would " \
           "delete add, mul from calc.py" in answer, answer
    third = next(line for line in answer.splitlines() if line.startswith("- attempt 3"))
    assert third.split(" -> ")[0].endswith(", add subtracts where …"), third  # cut between words


def test_a_fix_of_code_alone_that_fails_is_told_apart_in_the_give_up_answer(tmp_path):
    """The give-up answer names what an attempt changed even when its reply explained nothing."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [f"### calc.py\n```python\n{CALC.replace('a - b', 'a * b')}```\n"])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", "--max-attempts", "1",
                   "Fix the failing test.", cwd=repo, timeout=600)
    assert done.returncode == 4, done.stderr
    answer = next(json.loads(line)["answer"] for line in done.stdout.splitlines() if '"final_answer"' in line)
    assert "- attempt 1 (changed calc.py, undone): (no explanation) -> assert 6 == 5" in answer, answer


def test_a_person_s_no_at_a_fix_asks_for_another_and_a_yes_applies_it(tmp_path):
    """At a terminal the person refuses the first fix (n): it is not applied, and the next fix is asked
    for (a person's no is not the end of the task); the second, approved, is applied and passes. What
    the give-up or the answer says of the first is that it was refused, never that it was tested."""
    import os

    from conftest import VENV_BIN
    from terminal import Terminal

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replies = [edit("add subtracts.", CALC.replace("a - b", "a + b")), edit("add must add.", CALC.replace("a - b", "b + a"))]
    replay = write_replay(tmp_path / "r.json", replies)
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "160", "RUNS_DIR": str(tmp_path / "runs")}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}",
                     "Fix the failing test."], repo, env)
    term.read_until("[y/N", timeout=120)
    term.type("n")
    term.read_count("[y/N", 2, timeout=120)
    assert "a + b" not in (repo / "calc.py").read_text(), "the refused fix is not on disk"
    term.type("y")
    assert term.wait(timeout=120) == 5, term.output[-3000:]  # answered, with a call refused on the way
    assert "b + a" in (repo / "calc.py").read_text()
    run_dir = next((tmp_path / "runs").iterdir())
    asked = [s["attributes"] for s in load_spans(run_dir) if s["attributes"].get("openinference.span.kind") == "LLM"]
    assert len(asked) == 2 and "fresh_restart" in asked[1]["agent_runtime.request"]


def test_a_reply_that_changes_nothing_is_asked_again_once_and_is_no_attempt(tmp_path):
    """The first reply writes the code back as it is: asked again in the same exchange (the reply and
    why it changed nothing shown), warmer; the second reply is the fix, so one attempt, not two, and
    --max-attempts 1 is enough."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replies = [edit("Looks right.", CALC), edit("add subtracts.", CALC.replace("a - b", "a + b"))]
    replay = write_replay(tmp_path / "r.json", replies)
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", "--max-attempts", "1",
                   "Fix the failing test.", cwd=repo, timeout=600, env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    assert "a + b" in (repo / "calc.py").read_text()
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert len([e for e in events if e["type"] == "step_ended"]) == 1
    run_dir = next((tmp_path / "runs").iterdir())
    asked = [s["attributes"] for s in load_spans(run_dir) if s["attributes"].get("openinference.span.kind") == "LLM"]
    assert [a["agent_runtime.request"] for a in asked] == [
        "fix asked as one completion", "fix asked as one completion, asked again: the reply changed nothing"]
    again = asked[1]
    assert "That is the code exactly as it is now" in again["llm.input_messages.2.message.content"]
    assert json.loads(again["llm.invocation_parameters"]).get("temperature") == 0.7


def test_the_give_up_of_a_fix_that_never_went_in_says_no_change_was_applied():
    """An attempt whose change never went in: the answer says no change was applied (not that changes
    are still applied, not that each was undone), and counts one attempt in the singular."""
    from agent_runtime.agent.attempts import Attempt, FixAttempts

    for fresh in (True, False):
        attempts = FixAttempts(undo=lambda **_: {}, fresh_restart=fresh)
        attempts.attempts.append(Attempt(1, "Looks right.", "", "", 1.0))
        said = attempts.summary("the model kept writing the code back unchanged")
        assert said.startswith("Could not fix it: stopped after 1 attempt (1 changed nothing or was not applied) "
                               "because the model kept writing the code "
                               "back unchanged. No change was applied.\n- attempt 1 (changed nothing)"), said
        attempts.attempts.append(Attempt(2, "add subtracts.", "E assert 6 == 5", "x", 1.0, changed=("calc.py",),
                                         applied=True))
        said = attempts.summary("that is the limit")
        assert ("Each failed change was undone" in said) is fresh and ("still applied" in said) is not fresh
        assert said.startswith("Could not fix it: stopped after 2 attempts (1 went in and failed its tests; 1 changed "
                               "nothing or was not applied) because that is the limit."), said


def descendants_running(marker: bytes) -> list[int]:
    """This process's descendants whose command line holds `marker`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found = []
    for pid in parents:
        up = pid
        while up in parents and up not in (0, 1, os.getpid()):
            up = parents[up]
        try:
            if up == os.getpid() and pid != up and marker in (Path(f"/proc/{pid}/cmdline")).read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_a_fix_task_starts_no_interpreter_and_a_task_that_runs_code_does(tmp_path):
    """The harness drives a fix: the model's code never runs, so no sandboxed interpreter is started
    (nor the sandbox probed for it); the first task that runs the model's code starts one."""
    replies = [edit("add must add.", CALC.replace("a - b", "a + b")),
               step("I changed add.", 'final_answer("add now adds")')]
    with session_for(tmp_path, replies) as session:
        assert session.run("Fix the failing test.").status == "answered"
        executor = session.agent.python_executor
        assert not executor.started() and executor._kind is None
        assert descendants_running(b"executor_child.py") == []
        assert session.run("What did you change?").answer == "add now adds"
        assert executor.started() and descendants_running(b"executor_child.py")


def test_a_fix_asked_after_a_question_in_the_same_conversation_is_the_harness_s_too(tmp_path):
    """The REPL's next task: after a question, "fix the failing test" is still run by the repair loop,
    its first request the one completion's, told the conversation's earlier task and answer."""
    fix = "add subtracts.\n\n```python\ndef add(a, b):\n    return a + b\n```\n"
    with session_for(tmp_path, ["add returns a - b.", fix]) as session:
        assert session.run("What does add return?").answer == "add returns a - b."
        result = session.run("Fix the failing test.")
        assert result.status == "answered" and result.answer.startswith("The tests pass"), result
        asked = text_of(session.model.requests[1][-1])
    assert asked.startswith("Earlier in this conversation:\n- The task: What does add return?\n"
                            "  Your answer: add returns a - b.\n\nFix the failing test."), asked[:400]
    assert [c.tool for c in session.runtime.state.history][-2:] == ["apply_patch", "run_tests"]
    assert "a + b" in (session.repo / "calc.py").read_text()


def test_the_repair_loop_takes_a_fix_but_not_a_task_about_a_change_already_proposed():
    from agent_runtime.agent.tasks import repairable

    assert all(repairable(t) for t in ("Fix the failing test.", "Now fix the failing test as you said.",
                                       "tests/test_calc.py::test_add fails: fix it"))
    assert not any(repairable(t) for t in ("apply your fix and run the tests", "undo p2 and fix it another way",
                                           "fix that patch: it breaks mul", "add a test for add and fix it"))
