"""The planner/coder mode (agent/planner.py): a planner model reads the failure and names the functions
the coder is shown; an unusable plan leaves the coder exactly as it is alone; the planner cannot write."""

from __future__ import annotations

import io
import json
import random
import re

import pytest
from conftest import BUGGY_PROJECT, make_repo, step, write_replay
from rich.console import Console

from agent_runtime.agent.edits import CHANGES_ASK
from agent_runtime.agent.planner import PlanRequest, read_plan
from agent_runtime.agent.session import Session
from agent_runtime.agent.shot import ASK
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.records import load_spans

TASK = "tests/test_core.py::test_parse fails: fix it."
DONE = step("done", 'final_answer("x")')


def text_of(message) -> str:
    content = message.content if not isinstance(message, dict) else message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def big_repo(tmp_path):
    """Too big to show whole: a failing test, the method it runs, and a helper the ranking does not show."""
    filler = "".join(f"\n\ndef helper_{i}(value):\n    return value + {i}\n" for i in range(60))
    core = ("class Parser:\n    def parse(self, text):\n        return clean(text.split())[1:]\n\n\n"
            "def clean(words):\n    return [w for w in words if w]\n" + filler)
    files = {f"tools/util_{i}.py": f"def util_{i}():\n    return {i}\n" for i in range(14)}
    files |= {"pkg/__init__.py": "", "pkg/core.py": core,
              "tests/test_core.py": "from pkg.core import Parser\n\n\ndef test_parse():\n"
                                    "    assert Parser().parse('a b') == ['a', 'b']\n"}
    return make_repo(tmp_path / "big", files)


def run(tmp_path, repo, task, coder, planner=None, name="run", display_out=None):
    """One task with a replay coder (and a replay planner, if given): the session, its result, what it showed."""
    env = {"MODEL_ID": f"replay:{write_replay(tmp_path / f'{name}-coder.json', coder)}",
           "RUNS_DIR": str(tmp_path / f"runs-{name}")}
    if planner is not None:
        env["PLANNER_MODEL"] = f"replay:{write_replay(tmp_path / f'{name}-planner.json', planner)}"
    console = io.StringIO()
    display = Display(console=Console(file=console, width=400), out=io.StringIO())
    with Session(load_settings(env), repo, Approver("auto", interactive=False), display) as session:
        result = session.run(task)
    return session, result, console.getvalue()


def first_request(session) -> str:
    return "\n".join(text_of(m) for m in session.model.requests[0])


def plan(problem: str, *targets: str) -> str:
    return json.dumps({"problem": problem, "targets": list(targets)})


def test_a_plan_naming_a_real_function_is_what_the_coder_is_shown(tmp_path):
    repo = big_repo(tmp_path)
    alone, _, _ = run(tmp_path, repo, TASK, [DONE], name="alone")
    assert "### pkg/core.py::Parser.parse" in first_request(alone)
    assert "### pkg/core.py::helper_7" not in first_request(alone)

    session, result, shown = run(tmp_path, repo, TASK, [DONE],
                                 [plan("helper_7 adds the wrong value.", "pkg/core.py::helper_7", "pkg/nope.py::f")],
                                 name="planned")
    request = first_request(session)
    assert request.endswith(CHANGES_ASK)
    assert "### pkg/core.py::helper_7\n```python\ndef helper_7(value):" in request
    assert "### pkg/core.py::Parser.parse" not in request, "the plan, not the ranking, says what is shown"
    assert "### tests/test_core.py::test_parse" in request, "the failing test is still shown"
    assert ("A first reading of the failure (by a planning model): helper_7 adds the wrong value. "
            "The code to change: pkg/core.py::helper_7.") in request
    assert session.attempts.request.paths == ("pkg/core.py::helper_7",), "the coder may change only the plan's code"
    assert session.plan.targets == ["pkg/core.py::helper_7"] and session.plan.dropped == ["pkg/nope.py::f"]
    assert "plan (replay:" in shown and "pkg/core.py::helper_7. helper_7 adds the wrong value." in shown
    meta = json.loads((session.last_run.dir / "metadata.json").read_text())
    assert meta["plan"]["targets"] == ["pkg/core.py::helper_7"] and meta["plan"]["used"] is True
    assert meta["plan"]["problem"] == "helper_7 adds the wrong value."


def test_the_planner_is_shown_the_failure_and_the_candidates_and_no_tools(tmp_path):
    repo = big_repo(tmp_path)
    session, _, _ = run(tmp_path, repo, TASK, [DONE], [plan("x", "pkg/core.py::clean")])
    (asked,) = session.planner.opened.model.requests
    (message,) = asked
    text = text_of(message)
    assert text.startswith(f"Task: {TASK}") and "The tests, run just now:" in text and "assert" in text
    assert "### tests/test_core.py::test_parse" in text, "the failing test's code"
    assert "- pkg/core.py::Parser.parse: def parse(self, text)" in text and "- pkg/core.py::clean:" in text
    assert "tests/test_core.py::test_parse:" not in text, "a test is no candidate"
    for tool in ("propose_file", "apply_patch", "run_cmd", "replace_symbol", "<code>"):
        assert tool not in text, "the planner is not an agent: it has no tools"
    assert "### pkg/core.py::clean" in first_request(session)


UNUSABLE = [
    (plan("It is in a file that does not exist.", "pkg/gone.py::parse", "pkg/core.py::Parser.nothing"),
     "the plan named no function of the code (pkg/gone.py::parse, pkg/core.py::Parser.nothing are not one)"),
    (plan("The test is wrong.", "tests/test_core.py::test_parse"), "the plan named no function of the code"),
    ("The bug is in parse, it drops the first word.", "the planner's reply was not a plan"),
    ('{"problem": "cut off", "targets": ["pkg/core.py::Par', "the planner's reply was not a plan"),
]


def same_request(messages) -> list[str]:
    """A request's texts, the test run's times left out (they differ from run to run)."""
    return [re.sub(r"\d+\.\d+s\b", "N s", text_of(m)) for m in messages]


def test_an_unusable_plan_leaves_the_coder_as_it_is_alone_with_a_note(tmp_path):
    repo = big_repo(tmp_path)
    alone, _, _ = run(tmp_path, repo, TASK, [DONE], name="alone")
    for number, (reply, note) in enumerate(UNUSABLE):
        session, result, shown = run(tmp_path, repo, TASK, [DONE], [reply], name=f"planned{number}")
        assert same_request(session.model.requests[0]) == same_request(alone.model.requests[0]), \
            "the coder's first request is as without a planner"
        assert session.plan.used is False and session.plan.note.startswith(note)
        assert "none, " + note in shown and "the coder goes on alone" in shown
        meta = json.loads((session.last_run.dir / "metadata.json").read_text())
        assert meta["plan"]["used"] is False and meta["plan"]["note"].startswith(note)


def test_a_planner_reply_that_attempts_an_edit_writes_nothing(tmp_path):
    """The planner's reply is data: code in it is never run, and no tool is called for it."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    edit = step("Fix add.", 'p = propose_file(path="calc.py", content="def add(a, b):\\n    return a + b\\n")\n'
                            'print(apply_patch(patch_id=p["patch_id"]))\nprint(run_cmd(command="touch owned"))')
    whole = "Fixed:\n\n### calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
    before = (repo / "calc.py").read_text()
    for name, reply in (("code", edit), ("file", whole)):
        session, result, shown = run(tmp_path, repo, "Fix the failing test.", [DONE], [reply], name=name)
        assert [c.tool for c in session.runtime.state.history] == ["run_tests"], "the planner called no tool"
        assert (repo / "calc.py").read_text() == before and not (repo / "owned").exists()
        assert session.plan.used is False and "not a plan" in session.plan.note
        assert session.runtime.patches.all() == []


def test_in_a_small_repository_the_plan_orders_the_files_but_every_one_stays_writable(tmp_path):
    """A planner that names the wrong file must not make the fix impossible (it did, measured)."""
    files = dict(BUGGY_PROJECT, **{"fmt.py": "def show(x):\n    return str(x)\n"})
    repo = make_repo(tmp_path / "p", files)
    alone, _, _ = run(tmp_path, repo, "Fix the failing test.", [DONE], name="alone")
    assert alone.attempts.request.paths == ("calc.py", "fmt.py")
    session, _, _ = run(tmp_path, repo, "Fix the failing test.", [DONE], [plan("show is wrong.", "fmt.py::show")],
                        name="planned")
    assert session.attempts.request.paths == ("fmt.py", "calc.py")
    request = first_request(session)
    assert request.endswith(ASK) and "The code to change: fmt.py::show." in request, "the shot carries the plan"
    assert "def add(a, b)" in request, "a small repository is still shown whole"


def test_spans_say_which_role_answered_and_the_plan_is_a_chain_span(tmp_path):
    repo = big_repo(tmp_path)
    session, _, _ = run(tmp_path, repo, TASK, [DONE], [plan("clean drops words.", "pkg/core.py::clean")])
    spans = load_spans(session.last_run.dir)
    llm = [s for s in spans if s["attributes"].get("openinference.span.kind") == "LLM"]
    roles = {s["attributes"]["llm.model_name"]: s["attributes"]["llm.role"] for s in llm}
    assert roles == {"replay:run-planner.json": "planner", "replay:run-coder.json": "coder"}
    (chain,) = [s for s in spans if s["name"] == "plan"]
    assert chain["attributes"]["openinference.span.kind"] == "CHAIN"
    assert list(chain["attributes"]["plan.targets"]) == ["pkg/core.py::clean"]
    assert chain["attributes"]["plan.used"] is True and chain["attributes"]["plan.problem"] == "clean drops words."
    planner_span = next(s for s in llm if s["attributes"]["llm.role"] == "planner")
    assert planner_span["parent_id"] == chain["span_id"], "the planner's call is inside the plan's span"
    root = next(s for s in spans if s["parent_id"] is None)
    assert chain["parent_id"] == root["span_id"]


def test_without_a_planner_nothing_plans_and_no_plan_is_recorded(tmp_path):
    repo = big_repo(tmp_path)
    session, _, shown = run(tmp_path, repo, TASK, [DONE])
    assert session.planner is None and session.plan is None and "plan (" not in shown
    assert "planning model" not in first_request(session)
    assert not [s for s in load_spans(session.last_run.dir) if s["name"] == "plan"]
    assert "plan" not in json.loads((session.last_run.dir / "metadata.json").read_text())


def test_a_question_is_not_planned(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session, _, _ = run(tmp_path, repo, "Why does the test fail?", [DONE], [plan("x", "calc.py::add")])
    assert session.plan is None and session.planner.opened is None, "no planner call, no planner started"


def test_every_reply_the_plan_grammar_admits_is_a_plan_of_the_candidates():
    from gbnf_sampler import Grammar

    from agent_runtime.agent.planner import Candidate
    from agent_runtime.models.grammar import plan_grammar

    keys = ["pkg/core.py::Parser.parse", "pkg/core.py::clean", 'odd/"q".py::f']
    request = PlanRequest("t", "", [Candidate(k, "def f()") for k in keys])
    grammar = Grammar(plan_grammar(keys, 3))
    rng = random.Random(3)
    for _ in range(300):
        reply = grammar.sample(rng)
        found = read_plan(reply, request)
        assert found.used and set(found.targets) <= set(keys) and not found.dropped, reply


def test_the_plan_grammar_parses_in_llama_cpp():
    from agent_runtime.models.grammar import plan_grammar

    try:
        from models.test_grammar import assert_llama_cpp_parses
    except ImportError:
        pytest.skip("the grammar tests' llama.cpp check is not importable here")
    assert_llama_cpp_parses(plan_grammar([f"pkg/m{i}.py::C.f{i}" for i in range(24)], 3))
