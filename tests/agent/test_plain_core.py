"""A capable model's habits, replayed with the plain core (AGENT_COACHING=plain: every coaching rule
off): long reasoning kept whole, several tool calls in one step, a second attempt that builds on the
first one's failure in the same conversation, a fix across two files, a new test written with the
code, a question answered from the code read; no reply rewritten, retried or restarted. And what every
run says of its rules: the LLM spans' `llm.coaching_rules`, the run record, the time to the first request."""

from __future__ import annotations

import io
import json

from conftest import BUGGY_PROJECT, make_repo, step, write_replay
from rich.console import Console

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.models.profiles import RULES, RULES_BY_PROFILE
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.records import load_spans


def session_for(tmp_path, replies, files=BUGGY_PROJECT, **env):
    repo = make_repo(tmp_path / "p", files)
    replay = write_replay(tmp_path / "r.json", replies)
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs"), **env})
    return Session(settings, repo, Approver("auto", interactive=False),
                   Display(console=Console(file=io.StringIO()), out=io.StringIO()))


def text_of(message) -> str:
    content = message.content if not isinstance(message, dict) else message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def spans_of(session, kind: str) -> list[dict]:
    return [s for s in load_spans(session.last_run.dir) if s["attributes"].get("openinference.span.kind") == kind]


def untouched(session, replies: list[str]) -> None:
    """Every reply ran as the model wrote it: one request per reply, none retried or rewritten."""
    assert session.model.calls == len(replies) == len(session.model.requests)
    assert session.agent.format_retries == 0 and session.agent.repeat_retries == 0
    outputs = [s.model_output for s in session.agent.memory.steps if getattr(s, "model_output", None)]
    # (smolagents closes a code block cut at its stop sequence: the layout may differ, not the text)
    assert ["".join(o.split()) for o in outputs] == ["".join(r.split()) for r in replies[:len(outputs)]]
    assert set(session.model.temperatures) == {None}, "the user's temperature, never overridden"


def test_long_reasoning_and_several_tool_calls_in_one_step_run_as_written(tmp_path):
    thought = "Thought: " + " ".join(f"Point {i}: calc.py may define add and mul, and the tests check both."
                                     for i in range(24))
    assert len(thought) > 1000
    replies = [f'{thought}\n<code>\nprint(read_file(path="calc.py"))\nprint(read_file(path="test_calc.py"))\n'
               'print(read_file(path="README.md"))\nprint(run_tests())\n</code>',
               step("All read.", 'final_answer("calc.py adds and multiplies; add is wrong")')]
    with session_for(tmp_path, replies, AGENT_COACHING="plain") as session:
        result = session.run("Go through calc.py and say what it does; read everything first.")
    assert result.status == "answered" and result.steps == 2, result
    untouched(session, replies)
    first = next(s for s in session.agent.memory.steps if getattr(s, "model_output", None))
    assert first.model_output.startswith(thought), "the thought is kept whole in memory"
    assert [c.tool for c in session.runtime.state.history] == ["read_file", "read_file", "read_file", "run_tests"]
    llm = spans_of(session, "LLM")
    assert thought in llm[0]["attributes"]["output.value"], "and whole in the trace"
    assert {tuple(s["attributes"]["llm.coaching_rules"]) for s in llm} == {()}
    assert "You have read" not in (first.observations or ""), "no hint"


def edit(explanation: str, content: str) -> str:
    return f"{explanation}\n\n### calc.py\n```python\n{content}```\n"


def test_a_second_attempt_builds_on_the_first_ones_failure_in_the_same_conversation(tmp_path):
    """The harness's repair loop (agent/repair.py) with every rule off: the failed change stays, its
    failure is reflected back in the same conversation, and the model's code is applied as written."""
    calc = BUGGY_PROJECT["calc.py"]
    first = edit("add must multiply.", calc.replace("a - b", "a * b"))
    second = edit("6 != 5: add must add.", calc.replace("a - b", "a + b"))
    replies = [first, second]
    with session_for(tmp_path, replies, AGENT_COACHING="plain") as session:
        result = session.run("Fix the failing test.")
        now = (session.repo / "calc.py").read_text()
    assert result.status == "answered" and result.answer.endswith("6 != 5: add must add."), result
    assert now == calc.replace("a - b", "a + b")
    untouched(session, replies)
    assert "undo_patch" not in [c.tool for c in session.runtime.state.history], "nothing undone"
    assert [e.undone for e in session.runtime.journal.history()] == [None, None]
    asked = [text_of(m) for m in session.model.requests[1]]
    assert len(asked) == 3 and asked[1].rstrip() == first.rstrip(), "the same conversation, the first reply as written"
    assert asked[2].startswith("The tests still fail with your change applied") and "assert 6 == 5" in asked[2]
    assert "Attempt 1 did not work" not in "".join(asked), "no restart"
    assert session.attempts.made(answered=True) == 2


def test_every_llm_span_and_the_run_record_say_which_rules_ran_and_when_the_first_request_went(tmp_path):
    replies = [step("Read it.", 'print(read_file(path="calc.py"))'), step("Done.", 'final_answer("it adds")')]
    with session_for(tmp_path, replies) as session:  # replay: the 1.5B model's profile
        session.run("Go through calc.py and say what it does.")
    llm = spans_of(session, "LLM")
    small = [r for r in RULES if r in RULES_BY_PROFILE["qwen2.5-coder-1.5b"]]
    assert len(llm) == 2 and all(s["attributes"]["llm.coaching_rules"] == small for s in llm)
    meta = json.loads((session.last_run.dir / "metadata.json").read_text())
    assert meta["coaching_rules"] == small
    assert 0 < meta["time_to_first_request_s"] < 120
    (root,) = [s for s in spans_of(session, "AGENT") if s["parent_id"] is None]
    assert root["attributes"]["agent_runtime.time_to_first_request_s"] == meta["time_to_first_request_s"]


PARSER = ("class Parser:\n    def parse(self, text):\n        words = text.split()\n        return words[1:]\n"
          + "".join(f"\n\ndef helper_{i}(value):\n    return value + {i}\n" for i in range(60)))
TESTS = ("from pkg.core import Parser\n\n\ndef test_parse():\n    assert Parser().parse('a b') == ['a', 'b']\n\n\n"
         "def test_broken_before():\n    assert False\n\n\ndef test_other():\n    assert Parser().parse('') == []\n")
FIX = ("parse drops the first word.\n\n### pkg/core.py::Parser.parse\n```python\n<<<<<<< SEARCH\n"
       "        return words[1:]\n=======\n        return words\n>>>>>>> REPLACE\n```\n")


def test_before_the_first_request_only_the_failing_tests_run_unless_the_profile_says_more(tmp_path):
    files = {f"tools/util_{i}.py": f"def util_{i}():\n    return {i}\n" for i in range(14)}
    files |= {"pkg/__init__.py": "", "pkg/core.py": PARSER, "tests/test_core.py": TESTS}
    before = {}
    for name, env in (("plain", {"AGENT_COACHING": "plain"}), ("localized", {"AGENT_COACHING": "localization"}),
                      ("extra", {"AGENT_COACHING": "extra_test_runs"})):
        with session_for(tmp_path / name, [FIX], files=files, **env) as session:
            result = session.run("tests/test_core.py::test_parse fails: fix it.")
        calls = session.runtime.state.history
        first_fix = next(i for i, c in enumerate(calls) if c.tool.startswith("propose"))
        before[name] = [{k: v for k, v in c.arguments.items() if v is not None} for c in calls[:first_fix]
                        if c.tool == "run_tests"]
        assert result.status == "answered", (name, result)
    assert before["plain"] == [{"command": "python3 -m pytest -q --tb=short tests/test_core.py::test_parse"}], before
    assert [sorted(a) for a in before["localized"]] == [["command"], ["command", "suspects", "timeout"],
                                                        ["command", "timeout", "values"]], before["localized"]
    assert before["extra"][1:] == [{"command": "python3 -m pytest -q --tb=short tests/test_core.py", "timeout": 30}], \
        "extra_test_runs: the failing tests' file, to leave out what failed before"


SHOP = {
    "shop/prices.py": "def net(gross, rate):\n    return gross * rate\n",
    "shop/cart.py": "from shop.prices import net\n\n\ndef total(items, rate):\n    return sum(net(g, rate) for g in items) + 1\n",
    "shop/__init__.py": "",
    "tests/test_cart.py": "from shop.cart import total\n\n\ndef test_total():\n    assert total([100, 50], 0.2) == 120\n",
}


def test_a_fix_across_two_files_is_one_step_of_two_patches_and_one_test_run(tmp_path):
    """The tests fail for two reasons in two files; the model fixes both in the one block the first
    request asks for, each function goes into the file that defines it, and the harness proposes,
    applies and tests them."""
    fix = ("net subtracts the tax, and total adds a stray 1: two files.\n\n"
           "```python\nfrom shop.prices import net\n\n\ndef net(gross, rate):\n    return gross * (1 - rate)\n\n\n"
           "def total(items, rate):\n    return sum(net(g, rate) for g in items)\n```\n")
    replies = [fix]
    with session_for(tmp_path, replies, files=SHOP, AGENT_COACHING="plain") as session:
        result = session.run("tests/test_cart.py fails: fix the shop code.")
        prices, cart = ((session.repo / f).read_text() for f in ("shop/prices.py", "shop/cart.py"))
    assert result.status == "answered", result
    assert "gross * (1 - rate)" in prices and cart.endswith("for g in items)\n")
    untouched(session, replies)
    # (the plain core's one run before the first request: the failing tests)
    tools = [c.tool for c in session.runtime.state.history]
    assert tools == ["run_tests", "propose_file", "propose_file", "apply_patch", "apply_patch", "run_tests"], tools
    assert session.runtime.state.history[0].facts["passed"] is False
    assert session.runtime.state.history[-1].facts["passed"] is True
    assert [e.undone for e in session.runtime.journal.history()] == [None, None], "both changes kept"


def test_a_new_test_file_is_written_run_and_kept(tmp_path):
    """A feature with its test: the model writes a test file that did not exist, then the code, then runs both."""
    test = "from calc import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"
    write = step("A test for sub first, then sub itself.",
                 f't = propose_file(path="test_sub.py", content={test!r})\n'
                 'print(apply_patch(patch_id=t["patch_id"]))\n'
                 'c = propose_patch(path="calc.py", old="def mul(a, b):", '
                 'new="def sub(a, b):\\n    return a - b\\n\\n\\ndef mul(a, b):")\n'
                 'print(apply_patch(patch_id=c["patch_id"]))\nprint(run_tests(command="python -m pytest -q test_sub.py"))')
    replies = [write, step("It passes.", 'final_answer("sub added, with test_sub.py")')]
    with session_for(tmp_path, replies, AGENT_COACHING="plain") as session:
        result = session.run("Add a sub(a, b) function to calc.py, with a test.")
        written = (session.repo / "test_sub.py").read_text()
    assert result.status == "answered" and written == test, result
    untouched(session, replies)
    ran = session.runtime.state.history[-1]
    assert ran.tool == "run_tests" and ran.facts["passed"] is True and "1 passed" in ran.summary(), ran.facts


def test_a_question_is_answered_from_the_code_it_read(tmp_path):
    """A question, no check to pass: search, read, answer; nothing proposed and no test run."""
    replies = [step("Where is add?", 'print(rg_search(pattern="def add"))'),
               step("Read it.", 'print(read_file(path="calc.py", start_line=1, end_line=2))'),
               step("It subtracts.", 'final_answer("add in calc.py returns a - b: it subtracts")')]
    # Too big to show whole: the question is answered from what the model reads (agent/answer.py otherwise).
    files = {**BUGGY_PROJECT, "NOTES.md": "A line of notes about nothing in particular.\n" * 250}
    with session_for(tmp_path, replies, files=files, AGENT_COACHING="plain") as session:
        result = session.run("What does add in calc.py return?")
    assert result.status == "answered" and "a - b" in result.answer, result
    untouched(session, replies)
    assert [c.tool for c in session.runtime.state.history] == ["rg_search", "read_file"]
    observations = "".join(s.observations or "" for s in session.agent.memory.steps if hasattr(s, "observations"))
    assert "calc.py" in observations and "return a - b" in observations
    assert (session.repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"]
