"""Every CodeAgent task ends on its own, and says only what happened: a question about a repository
shown whole is answered in one request (agent/answer.py); another is answered from
what was read, with no tool that writes (agent/codeagent.py CodingAgent.only); a step that repeats
an earlier one ends the task with what its calls found and exit code 3 (agent/repeats.py)."""

from __future__ import annotations

import json
import subprocess

from conftest import BUGGY_PROJECT, json_lines, make_repo, run_cli, step, write_replay

# Tests that pass: a task here goes to the CodeAgent, not to the repair loop a failure starts.
FIXED = {**BUGGY_PROJECT, "calc.py": BUGGY_PROJECT["calc.py"].replace("a - b", "a + b")}
# Too big to show whole in the first message: a question goes to the CodeAgent's read-only steps.
BIG = {**FIXED, "NOTES.md": "A line of notes about nothing in particular.\n" * 250}
PROPOSE = 'p = propose_patch(path="calc.py", old="a + b", new="a - b")\nprint(apply_patch(patch_id=p["patch_id"]))'


def _run(tmp_path, replies, task, *extra, env=None, files=FIXED):
    repo = make_repo(tmp_path / "p", files)
    replay = write_replay(tmp_path / "r.json", replies)
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", *extra, task, cwd=repo,
                   env={"RUNS_DIR": str(tmp_path / "runs"), **(env or {})})
    return repo, done, json_lines(done.stdout)


def _unchanged(repo) -> bool:
    return subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout == ""


def test_a_question_is_offered_only_the_tools_that_read_and_ends_with_its_answer(tmp_path):
    """The model reads, then writes a patch as small models do when asked what code does: the patch
    tools are not there (the reply is asked again), and the answer comes in two steps."""
    repo, done, events = _run(tmp_path, [
        step("Read it.", 'print(read_file(path="calc.py"))'),
        step("Fix it.", PROPOSE),
        step("Answer.", 'final_answer("add returns a + b; mul returns a * b")'),
    ], "what does calc.py do?", files=BIG)
    assert done.returncode == 0, done.stderr[-3000:]
    calls = [e["tool"] for e in events if e["type"] == "tool_call"]
    assert calls == ["read_file"], calls
    end = events[-1]
    assert end["type"] == "run_ended" and end["status"] == "answered" and end["steps"] <= 3, end
    assert next(e["answer"] for e in events if e["type"] == "final_answer") == "add returns a + b; mul returns a * b"
    assert _unchanged(repo)


def test_a_question_cannot_reach_a_patch_tool_even_when_its_code_calls_one(tmp_path):
    """With every coaching rule off nothing asks the reply again: the code that calls propose_patch runs,
    and the interpreter has no such tool; nothing is proposed or applied."""
    repo, done, events = _run(tmp_path, [
        step("Fix it.", PROPOSE),
        step("Answer.", 'final_answer("add adds")'),
    ], "what does add do in calc.py?", env={"AGENT_COACHING": "plain"}, files=BIG)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not [e for e in events if e["type"] == "tool_call"], "no tool ran"
    step_one = next(e for e in events if e["type"] == "step_ended")
    assert "propose_patch" in str(step_one.get("error")), step_one
    assert _unchanged(repo)


def test_a_change_task_keeps_the_tools_that_write(tmp_path):
    repo, done, events = _run(tmp_path, [
        step("Change it.", PROPOSE),
        step("Done.", 'final_answer("add now subtracts")'),
    ], "change add in calc.py to subtract")
    assert done.returncode == 0, done.stderr[-3000:]
    assert [e["tool"] for e in events if e["type"] == "tool_call"] == ["propose_patch", "apply_patch"]
    assert "a - b" in (repo / "calc.py").read_text()


def test_a_step_that_repeats_the_one_before_ends_the_task_with_what_was_found(tmp_path):
    """The model reads the same file again and again (the retries that ask it not to are spent too): the
    task ends at the second read with exit code 3 and an answer that says why and what the calls found."""
    read = step("Read it.", 'print(read_file(path="calc.py"))')
    repo, done, events = _run(tmp_path, [read] * 8, "rename mul to multiply in calc.py")
    assert done.returncode == 3, done.stderr[-3000:]
    end = events[-1]
    assert end["status"] == "repeated" and end["exit_code"] == 3 and end["steps"] == 2, end
    assert [e["tool"] for e in events if e["type"] == "tool_call"] == ["read_file", "read_file"]
    answer = next(e["answer"] for e in events if e["type"] == "final_answer")
    first = answer.splitlines()[0]
    assert first == ("Stopped without a final answer: step 2 repeated step 1 (the same code), so doing it again "
                     "would find nothing new."), answer
    assert "- read_file(path='calc.py'): ok" in answer and "def mul(a, b):" in answer, answer
    assert "stopped: a step repeated" in done.stderr
    assert _unchanged(repo)


def test_the_same_calls_with_the_same_results_are_a_repeat_though_the_code_differs(tmp_path):
    repo, done, events = _run(tmp_path, [
        step("Look.", 'print(rg_search(pattern="def "))'),
        step("Look again.", 'found = rg_search(pattern="def ")\nprint(found)'),
        step("Answer.", 'final_answer("never reached")'),
    ], "rename mul to multiply in calc.py")
    assert done.returncode == 3, done.stderr[-3000:]
    answer = next(e["answer"] for e in events if e["type"] == "final_answer")
    assert answer.startswith("Stopped without a final answer: step 2 repeated step 1 (the same tool calls, "
                             "with the same results)"), answer


def test_code_run_again_after_a_change_is_no_repeat(tmp_path):
    """The tests run before and after a patch run on other code: the task goes on to its answer."""
    tests = step("Test.", "print(run_tests())")
    repo, done, events = _run(tmp_path, [
        tests,
        step("Change it.", 'p = propose_patch(path="calc.py", old="a * b", new="b * a")\n'
                           'print(apply_patch(patch_id=p["patch_id"]))'),
        tests,
        step("Done.", 'final_answer("mul now computes b * a; the tests pass")'),
    ], "change mul in calc.py to compute b * a")
    assert done.returncode == 0, done.stderr[-3000:]
    assert events[-1]["status"] == "answered" and events[-1]["steps"] == 4, events[-1]


def test_the_same_reply_without_code_twice_ends_the_task(tmp_path):
    """A small model's "The code is already correct." with no code, again: the task stops at the second."""
    repo, done, events = _run(tmp_path, ["The code is already correct."] * 6, "rename mul to multiply in calc.py")
    assert done.returncode == 3, done.stderr[-3000:]
    answer = next(e["answer"] for e in events if e["type"] == "final_answer")
    assert answer.startswith("Stopped without a final answer: step 2 repeated step 1 (the same reply)"), answer
    assert "No tool was called." in answer and events[-1]["steps"] == 2, answer


def test_after_a_question_the_next_task_of_the_session_has_every_tool_again(tmp_path):
    """As in the REPL: a question, then a change in the same session; the change's code reaches the
    patch tools (the interpreter is sent the session's tools again), and the question's did not."""
    import io

    from rich.console import Console

    from agent_runtime.agent.session import Session
    from agent_runtime.cli.display import Display
    from agent_runtime.config import load_settings
    from agent_runtime.safety.approval import Approver

    repo = make_repo(tmp_path / "p", BIG)
    replay = write_replay(tmp_path / "r.json", [
        step("Try to change it.", PROPOSE),
        step("Answer.", 'final_answer("add adds")'),
        step("Change it.", PROPOSE),
        step("Done.", 'final_answer("add subtracts now")'),
    ])
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs"),
                              "AGENT_COACHING": "plain"})
    with Session(settings, repo, Approver("auto", interactive=False),
                 Display(console=Console(file=io.StringIO()), out=io.StringIO())) as session:
        asked = session.run("what does add do?")
        assert asked.status == "answered" and session.runtime.state.history == [], "no tool ran for the question"
        assert "propose_patch" not in session.agent.memory.system_prompt.system_prompt
        changed = session.run("change add in calc.py to subtract")
        assert changed.status == "answered", changed
        assert [c.tool for c in session.runtime.state.history] == ["propose_patch", "apply_patch"]
        assert "propose_patch" in session.agent.memory.system_prompt.system_prompt
    assert "a - b" in (repo / "calc.py").read_text()


def test_the_tests_run_again_on_the_same_code_are_a_repeat_though_their_times_differ(tmp_path):
    """1.5B, asked what a function returns: `print(run_tests())` again; pytest's "3 passed in 2.21s" is
    not the same text twice, but nothing new was found."""
    tests = step("Test.", "print(run_tests())")
    repo, done, events = _run(tmp_path, [tests] * 6, "rename mul to multiply in calc.py")
    assert done.returncode == 3, done.stderr[-3000:]
    answer = next(e["answer"] for e in events if e["type"] == "final_answer")
    assert answer.startswith("Stopped without a final answer: step 2 repeated step 1 (the same code)"), answer
    assert "- run_tests(): tests passed" in answer, answer


def test_what_the_calls_found_is_their_result_not_the_refusal_to_run_them_again(tmp_path):
    """A step that runs the tests three times (the third is refused as a loop), then the same step twice
    (every call refused): the answer quotes what the test run found, not "called 3 times in a row"."""
    tests = step("Test.", "print(run_tests())\nprint(run_tests())\nprint(run_tests())")
    repo, done, events = _run(tmp_path, [tests] * 8, "rename mul to multiply in calc.py")
    assert done.returncode == 3, done.stderr[-3000:]
    assert [e["outcome"] for e in events if e["type"] == "tool_call"][:3] == ["ok", "ok", "error"], events
    answer = next(e["answer"] for e in events if e["type"] == "final_answer")
    found = answer.split("What the calls found:")[1].split("The last step's result:")[0]
    assert "- run_tests(): tests passed" in found and "times in a row" not in found, answer


def test_a_question_about_code_shown_whole_is_answered_in_one_request(tmp_path):
    """Every file is in the first message and the question names a function there: one request asks
    for the answer in plain words; no code runs, no tool is called; the answer is the reply; the next
    question recalls the exchange; a change after it has every tool."""
    import io

    from rich.console import Console

    from agent_runtime.agent.answer import ASK
    from agent_runtime.agent.session import Session
    from agent_runtime.cli.display import Display
    from agent_runtime.config import load_settings
    from agent_runtime.safety.approval import Approver

    repo = make_repo(tmp_path / "p", FIXED)
    reply = "`mul` in calc.py returns `a * b`, the product of its two arguments."
    replay = write_replay(tmp_path / "r.json", [reply, "add returns a + b.",
                                                step("Change it.", PROPOSE), step("Done.", 'final_answer("done")')])
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs")})
    shown, out = io.StringIO(), io.StringIO()
    with Session(settings, repo, Approver("auto", interactive=False),
                 Display(console=Console(file=shown, width=200), out=out)) as session:
        asked = session.run("what does mul return?")
        assert (asked.status, asked.steps, asked.answer) == ("answered", 1, reply), asked
        # The step is shown by its figures: its text is the final answer, which the front end prints once.
        assert "step 1 ·" in shown.getvalue() and reply not in shown.getvalue(), shown.getvalue()
        assert session.runtime.state.history == [], "no tool ran"
        assert not session.agent.python_executor.started(), "no code ran"
        [request] = session.model.requests
        text = "".join(part["text"] for m in request for part in (m.content if isinstance(m.content, list) else []))
        assert BUGGY_PROJECT["calc.py"].replace("a - b", "a + b").strip() in text and text.endswith(ASK), text[-500:]
        assert "final_answer" not in text, "not the CodeAgent's reply format"
        followed = session.run("What does add return?")
        assert (followed.status, followed.answer) == ("answered", "add returns a + b.")
        later = "".join(str(m.content) for m in session.model.requests[1])
        assert "- The task: what does mul return?\\n  Your answer: " + reply in later, "the exchange is recalled"
        assert session.run("change add in calc.py to subtract").status == "answered"
    assert "a - b" in (repo / "calc.py").read_text()
    for trace in (tmp_path / "runs").glob("*/trace.jsonl"):
        spans = [json.loads(line) for line in trace.read_text().splitlines()]
        if any(s["name"] == "task: what does mul return?" for s in spans):
            break
    [step_span] = [s for s in spans if s["name"] == "step 1"]
    [llm] = [s for s in spans if s["kind"] == "LLM"]
    assert llm["parent_id"] == step_span["span_id"] and step_span["status"] == "OK", spans
    assert "Observation:" not in llm["attributes"].get("llm.invocation_parameters", ""), "no stop of the code form"


def test_a_question_naming_no_code_goes_to_the_tools(tmp_path):
    repo, done, events = _run(tmp_path, [step("Look.", 'print(list_files())'),
                                         step("Answer.", 'final_answer("four files")')], "Which files are there?")
    assert done.returncode == 0, done.stderr[-3000:]
    assert [e["tool"] for e in events if e["type"] == "tool_call"] == ["list_files"], events


def test_a_question_about_the_history_is_answered_from_what_git_says(tmp_path):
    """git_log runs before the first request, through the one tool path (a tool_call); the question is
    answered in one request from what it said. One about the working tree is the CodeAgent's."""
    from agent_runtime.agent.tasks import git_questions

    assert git_questions("What changed in calc.py?") == git_questions("What did you change?") == []
    assert git_questions("Who are the authors?") == [("git_log", {"max_count": 10})]
    for task, tools in (("Show the recent commits.", ["git_log"]), ("What is the git log?", ["git_log"])):
        repo = make_repo(tmp_path / task[:4], FIXED)
        (repo / "calc.py").write_text(FIXED["calc.py"] + "\n# a note\n")
        replay = write_replay(tmp_path / f"{task[:4]}.json", ["It says so."])
        done = run_cli("--approval", "never", "--model", f"replay:{replay}", "--json", task, cwd=repo,
                       env={"RUNS_DIR": str(tmp_path / "runs")})
        events = json_lines(done.stdout)
        assert done.returncode == 0, done.stderr[-3000:]
        assert [e["tool"] for e in events if e["type"] == "tool_call"] == tools, (task, events)
        assert events[-1]["steps"] == 1 and next(e["answer"] for e in events if e["type"] == "final_answer") == "It says so."
    spans = [json.loads(line) for p in (tmp_path / "runs").glob("*/trace.jsonl") for line in p.read_text().splitlines()]
    sent = " ".join(s["attributes"].get("input.value", "") for s in spans if s["kind"] == "LLM")
    assert "What git says, read for you just now:" in sent, sent[-2000:]
    assert "subject=initial" in sent, sent[-2000:]


def test_which_questions_are_about_the_code_shown():
    from agent_runtime.agent.tasks import about_code

    paths, text = ["shop/cart.py", "README.md"], "def cart_total(items):\n    pass\n\nclass Cart:\n    pass\n"
    about = ["What does shop/cart.py do?", "what does cart.py do?", "Where is cart_total defined?",
             "Explain what Cart holds.", "What does README.md say?"]
    not_about = ["Which files are there?", "What did you change?", "Show the recent commits.",
                 "what changed in cart.py since the last commit?", "does cart_total pass its tests?",
                 "Fix cart_total.", "What is the branch?"]
    assert [t for t in about if not about_code(t, paths, text)] == []
    assert [t for t in not_about if about_code(t, paths, text)] == []
