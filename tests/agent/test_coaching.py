"""Each coaching rule (models/profiles.py) on where the profile turns it on, and the plain core where
it is off: the model wrapper's retries, the attempts' restart, per-function turns and warmer fixes,
what runs before the first request, the hints."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from conftest import step

from agent_runtime.models.profiles import ALL, FULL, PLAIN_CORE, Coaching


def only_off(rule: str) -> Coaching:
    return Coaching("test", ALL - {rule})


def guarded(replies: list[str], coaching: Coaching, earlier=(), hint="read calc.py", variables=(),
            tools=("run_tests", "read_file"), **options):
    """The model wrapper bound to an agent with these tools, variables and earlier steps; told the
    hint before its step, as the task loop tells it."""
    from smolagents.models import ChatMessage, MessageRole

    from agent_runtime.agent.codeagent import CODE_TAGS
    from agent_runtime.agent.replies import GuardedModel

    texts = iter(replies)
    sent: list = []
    inner = SimpleNamespace(model_id="m", generate=lambda messages, **kw: sent.append((messages, kw)) or ChatMessage(
        role=MessageRole.ASSISTANT, content=next(texts)))
    model = GuardedModel(inner, "text", CODE_TAGS, check_format=True, coaching=coaching, **options)
    model.bind(SimpleNamespace(step_number=1, tools=dict.fromkeys(tools), task_codes=lambda: list(earlier),
                               python_executor=SimpleNamespace(variable_names=lambda: set(variables))))
    model.next_step(hint)
    return model, sent


@pytest.mark.parametrize("coaching, calls", [(FULL, 2), (only_off("reply_repairs"), 1), (PLAIN_CORE, 1)])
def test_reply_repairs_ask_again_for_a_reply_that_does_not_parse_only_where_on(coaching, calls):
    model, sent = guarded(["Thought: no code here", step("ok", "print(run_tests())")], coaching)
    reply = model.generate([])
    assert len(sent) == calls and model.format_retries == calls - 1
    assert reply.content == ("Thought: no code here" if calls == 1 else step("ok", "print(run_tests())")), \
        "off: the reply is kept as the model wrote it"


@pytest.mark.parametrize("coaching, calls", [(FULL, 2), (only_off("reply_repairs"), 1)])
def test_reply_repairs_ask_again_for_a_read_of_a_name_nothing_set_only_where_on(coaching, calls):
    model, sent = guarded([step("x", "print(made_up)"), step("ok", "print(run_tests())")], coaching,
                          variables=set())
    model.generate([])
    assert len(sent) == calls


@pytest.mark.parametrize("coaching, calls", [(FULL, 2), (only_off("repeat_retry"), 1), (PLAIN_CORE, 1)])
def test_repeat_retry_asks_again_for_a_repeated_step_only_where_on(coaching, calls):
    model, sent = guarded([step("again", "print(run_tests())"), step("next", 'print(read_file(path="calc.py"))')],
                          coaching, earlier=[(1, "print(run_tests())")])
    model.generate([], temperature=0.1)
    assert len(sent) == calls and model.repeat_retries == calls - 1


@pytest.mark.parametrize("coaching, suggested", [(FULL, True), (only_off("hints"), False)])
def test_hints_suggest_the_next_step_only_where_on(coaching, suggested):
    model, sent = guarded([step("again", "print(run_tests())"), step("next", "print(1)")], coaching,
                          earlier=[(1, "print(run_tests())")], hint="read calc.py")
    model.generate([])
    nudge = sent[1][0][-1].content[0]["text"]
    assert ("Suggested next step: read calc.py" in nudge) is suggested


@pytest.mark.parametrize("coaching, temperature", [(FULL, 0.5), (only_off("temperature_bumps"), 0.1)])
def test_temperature_bumps_sample_a_retry_warmer_only_where_on(coaching, temperature):
    from agent_runtime.agent.replies import RETRY_TEMPERATURE

    model, sent = guarded([step("again", "print(run_tests())"), step("next", "print(1)")], coaching,
                          earlier=[(1, "print(run_tests())")])
    model.generate([], temperature=0.1)
    assert RETRY_TEMPERATURE == 0.5 and sent[1][1]["temperature"] == temperature, "off: the user's temperature"


# --- the attempts (agent/attempts.py) ---


def call(tool, outcome="ok", **facts):
    return SimpleNamespace(tool=tool, arguments={"path": "calc.py"}, outcome=outcome, facts=facts)


def failed_step(fix: str = "a * b") -> SimpleNamespace:
    observations = ("patch_id: p\ncommand: python -m pytest -q\npassed: false\nsummary: 1 failed, 1 passed\noutput:\n"
                    "E       assert 6 == 5\n(end of output)")
    tests = {"command": "python -m pytest -q", "passed": False, "summary": "1 failed, 1 passed",
             "output": "E       assert 6 == 5"}  # the run_tests result
    code = f'p = propose_file(path="calc.py", content={fix!r})\nprint(apply_patch(patch_id=p["patch_id"]))\n'
    return SimpleNamespace(is_final_answer=False, observations=observations, model_output=f"Thought: {fix}\n",
                           code_action=code, tests=tests)


def failed_attempt(coaching: Coaching, request=None):
    from agent_runtime.agent.attempts import RULES, FixAttempts
    from agent_runtime.agent.edits import EditRequest

    undone: list = []
    attempts = FixAttempts(undo=lambda patch_id: undone.append(patch_id) or {"patch_id": patch_id, "files": ["calc.py"]},
                           **{rule: coaching.on(rule) for rule in RULES})
    attempts.begin(request or EditRequest(("calc.py",)), first_call=0)
    attempts.take()
    history = [call("propose_file", patch_id="p1"), call("apply_patch", patch_id="p1"), call("run_tests", passed=False)]
    step_ = failed_step()
    attempts.after_step(step_, history, tests=step_.tests)
    return attempts, undone, step_


def test_with_the_failed_change_kept_each_attempt_is_read_against_the_code_now_and_says_what_it_wrote(tmp_path):
    """fresh_restart off: the next request is the code as the failed change left it (what a reply writes
    back unchanged is no fix), and each attempt's record names the files its own reply wrote."""
    from agent_runtime.agent.attempts import RULES, FixAttempts
    from agent_runtime.agent.edits import EditRequest, EditTarget

    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "b.py").write_text("B = 1\n")
    rules = only_off("fresh_restart")
    attempts = FixAttempts(undo=lambda patch_id: {}, **{rule: rules.on(rule) for rule in RULES})
    attempts.begin(EditRequest.of([EditTarget.file(p, (tmp_path / p).read_text()) for p in ("a.py", "b.py")],
                                  file_text=lambda p: (tmp_path / p).read_text()), first_call=0)
    history = []
    for number, (path, text) in enumerate([("a.py", "A = 2\n"), ("b.py", "B = 2\n")], start=1):
        request = attempts.take().edit
        explanation, edits, unchanged = request.read(f"Wrong.\n\n### {path}\n```python\n{text}```\n")
        assert [e.heading for e in edits] == [path] and not unchanged
        (tmp_path / path).write_text(text)  # applied, and it stays
        history += [call("propose_file", patch_id=f"p{number}"), call("apply_patch", patch_id=f"p{number}"),
                    call("run_tests", passed=False)]
        step_ = failed_step()
        attempts.after_step(step_, history, tests=step_.tests)
    assert [a.wrote for a in attempts.attempts] == [("a.py",), ("b.py",)]
    assert [a.changed for a in attempts.attempts] == [("a.py",), ("b.py",)]
    _, edits, unchanged = attempts.take().edit.read("### a.py\n```python\nA = 2\n```\n")
    assert not edits and unchanged == ["a.py"], "the code now is A = 2: writing it back changes nothing"


def test_fresh_restart_undoes_a_failed_fix_and_starts_afresh_only_where_on():
    attempts, undone, step_ = failed_attempt(FULL)
    plan = attempts.take()
    assert undone == ["p1"] and plan.edit is not None and plan.fresh.startswith("Attempt 1 did not work")
    attempts, undone, step_ = failed_attempt(only_off("fresh_restart"))
    plan = attempts.take()
    assert undone == [], "the failed change stays: the next attempt builds on it"
    assert plan.edit is not None and plan.fresh is None, "the next fix is asked in the same conversation"
    assert plan.reflect.startswith("The tests still fail with your change applied (1 failed, 1 passed):\n"
                                        "E       assert 6 == 5\nThe change stays")
    assert len(attempts.attempts) == 1 and attempts.made(answered=True) == 2


def test_a_plain_attempt_is_counted_only_when_a_fix_failed_and_its_stop_says_the_changes_stay():
    from agent_runtime.agent.attempts import reflection

    attempts, undone, _ = failed_attempt(PLAIN_CORE)
    plan = attempts.take()
    assert plan.temperature is None and plan.fresh is None and plan.edit.paths == ("calc.py",), \
        "no warmer fix, no fresh start: the failure reflected back in the same conversation"
    assert undone == [] and len(attempts.attempts) == 1
    assert "The changes are still applied" in attempts.summary("test")
    refused = reflection([call("propose_file", outcome="refused", error="outside the workspace")], None)
    assert refused == "That fix did not go in: propose_file refused it: outside the workspace. Write the fix again."
    long = reflection([call("apply_patch"), call("run_tests", passed=False)], {"output": "y" * 9000})
    assert len(long) < 1700, "bounded"


@pytest.mark.parametrize("coaching, temperature", [(FULL, 0.7), (only_off("temperature_bumps"), None)])
def test_temperature_bumps_sample_the_next_fix_warmer_only_where_on(coaching, temperature):
    attempts, _, _ = failed_attempt(coaching)
    assert attempts.take().temperature == temperature


@pytest.mark.parametrize("coaching, narrowed", [(FULL, True), (only_off("new_function_per_attempt"), False)])
def test_new_function_per_attempt_holds_the_next_attempt_to_another_function_only_where_on(coaching, narrowed):
    from agent_runtime.agent.edits import EditRequest, EditTarget

    request = EditRequest.of([EditTarget.of_symbol("pkg/core.py", n, f"def {n}():\n    return 1\n") for n in "AB"])
    attempts, _, _ = failed_attempt(coaching, request)
    assert (attempts.take().edit.paths == ("pkg/core.py::A",)) is narrowed


def test_the_time_to_the_first_request_is_measured_from_the_task_s_start():
    from agent_runtime.agent.attempts import FixAttempts

    now = [10.0]
    attempts = FixAttempts(undo=lambda patch_id: {}, clock=lambda: now[0], started=4.0)
    assert attempts.first_request_s is None
    now[0] = 12.5
    attempts.take()
    now[0] = 20.0
    attempts.take()
    assert attempts.first_request_s == 8.5, "the first request only"


def test_each_request_says_which_rule_shaped_it():
    """The reason each request is made (agent/tracing.py REQUEST, the LLM span's
    agent_runtime.request) names the rule: a fix held to a function, a fresh start, a retry."""
    from smolagents.models import ChatMessage, MessageRole

    from agent_runtime.agent.attempts import RequestPlan
    from agent_runtime.agent.codeagent import CODE_TAGS
    from agent_runtime.agent.edits import EditRequest, EditTarget
    from agent_runtime.agent.repair import reason
    from agent_runtime.agent.replies import GuardedModel
    from agent_runtime.agent.tracing import REQUEST

    why: list = []
    texts = iter(["A fix.\n### pkg/core.py::A\n```python\ndef A():\n    return 2\n```\n",
                  "Thought: no code here", step("ok", "print(run_tests())")])
    inner = SimpleNamespace(model_id="m", generate=lambda messages, **kw: why.append(REQUEST.get()) or ChatMessage(
        role=MessageRole.ASSISTANT, content=next(texts)))
    model = GuardedModel(inner, "text", CODE_TAGS, check_format=True, coaching=FULL)
    model.bind(SimpleNamespace(step_number=1, tools={"run_tests": None}, task_codes=lambda: [],
                               python_executor=SimpleNamespace(variable_names=lambda: set())))
    request = EditRequest.of([EditTarget.of_symbol("pkg/core.py", n, f"def {n}():\n    return 1\n") for n in "AB"])
    first = [ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": "Fix it."}])]
    plan = RequestPlan(edit=request.narrowed("pkg/core.py::A"), fresh="Attempt 1 did not work.")
    model.fix(first, plan.edit, reason(plan), 1)
    model.next_step(None)
    model.generate(first)
    assert why[:2] == ["fix held to pkg/core.py::A (new_function_per_attempt) after a failed one, from the first "
                       "message (fresh_restart)", "step"]
    assert re.fullmatch(r"retry \(reply_repairs\): no code block: .+", why[2]), why
    assert len(why) == 3 and REQUEST.get() is None, "set for the call only"
