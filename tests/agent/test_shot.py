"""The first fix (agent/shot.py), for every model, where the repository is shown whole: the strong one
completion's request -- the code that may change, the tests and other files read-only, the tests' output,
the corrected function(s) asked in one block -- sent with no grammar and stopped where that block ends;
the block written back by name. The next attempts start from the same words, then the notes and the
agent's own ask. Where the repository is not shown whole, the first request is the agent's."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli, write_replay

from agent_runtime.agent.edits import EXPLAIN, EditRequest, EditTarget
from agent_runtime.agent.shot import ASK, STOP, shot_context, shot_message
from agent_runtime.telemetry.records import load_spans

CALC = BUGGY_PROJECT["calc.py"]
TASK = "Fix the failing test."


def llm_spans(runs):
    run_dir = next(runs.iterdir())
    return [s["attributes"] for s in load_spans(run_dir) if s["attributes"].get("openinference.span.kind") == "LLM"]


@pytest.mark.parametrize("coaching", ["", "plain"])
def test_the_first_fix_asks_only_for_the_code_and_a_second_block_is_cut(tmp_path, coaching):
    """The first request shows calc.py as the code to fix, the test file and the README read-only,
    `.gitignore` not at all, and asks for the corrected function(s) in one block: for the 1.5B's profile
    and for the plain loop alike. The reply's second block (the tests, rewritten) is cut at the stop: the
    test file is never written; the first block's `add` goes into calc.py by name. It fails, is undone, and
    the next attempt starts from the shot's words (a prefix the server has cached)."""
    test_file = BUGGY_PROJECT["test_calc.py"]
    wrong = "add is wrong.\n\n```python\ndef add(a, b):\n    return a * b\n```\n" \
            "And the tests:\n\n```python\n" + test_file.replace("== 5", "== 6") + "```\n"
    second = ("add must add.\n\n### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n" if not coaching
              else f"add must add.\n\n### calc.py\n```python\n{CALC.replace('a - b', 'a + b')}```\n")
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [wrong, second])
    env = {"RUNS_DIR": str(tmp_path / "runs"), **({"AGENT_COACHING": coaching} if coaching else {})}
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", TASK, cwd=repo, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert next(e["answer"] for e in events if e["type"] == "final_answer") == "The tests pass. add must add."
    assert "a + b" in (repo / "calc.py").read_text() and (repo / "test_calc.py").read_text() == test_file
    asked = llm_spans(tmp_path / "runs")
    first = asked[0]["llm.input_messages.0.message.content"]
    assert all("llm.input_messages.1.message.content" not in a for a in asked[:1]), "one user message"
    command = first.split("Running `", 1)[1].split("`", 1)[0]
    output = first.split("` gives:\n\n", 1)[1].split("\n\nFix the code so that", 1)[0]
    assert "assert -1 == 5" in output and "1 failed" in output, "the tests' output as they ran"
    context = {"test_calc.py": test_file, "README.md": BUGGY_PROJECT["README.md"]}
    assert first == shot_message(TASK, {"calc.py": CALC}, context, command, output), "the shot, byte for byte"
    assert first.endswith(ASK) and ".gitignore" not in first and "build/" not in first
    code, read_only = first.split("read-only", 1)
    assert "### calc.py" in code and "test_calc.py" not in code, "the tests only as read-only context"
    assert "### test_calc.py" in read_only and "### README.md" in read_only
    assert "def test_add" not in asked[0]["output.value"], "the reply stopped at the end of the asked block"
    assert asked[0]["agent_runtime.request"] == "fix asked as one completion"
    later = asked[1]["llm.input_messages.0.message.content"] if not coaching else ""
    if not coaching:  # fresh_restart: from the shot's words, the note, then the agent's ask for functions
        assert later.startswith(shot_context(first)) and "Attempt 1 did not work" in later
    steps = [e for e in events if e["type"] == "step_ended"]
    assert len(steps) == 2


@pytest.mark.parametrize("said, answer", [("Here is the fix:", "Changed calc.py."),
                                           ("add subtracts. Here is the fix:", "add subtracts.")])
def test_a_shot_that_passes_is_labelled_by_what_it_said_or_changed_and_keeps_the_project_s_instructions(
        tmp_path, said, answer):
    """The shot asks for no explanation: what the model says anyway is the answer's, but for its lead-in
    to the code ("Here is the fix:"); with nothing else said, the answer names what changed. The
    project's instructions (AGENTS.md) come first, as in every fix request, and only there. A file written
    whole in the block goes in by its functions' names too."""
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "AGENTS.md": "Keep functions short.\n"})
    replay = write_replay(tmp_path / "r.json", [f"{said}\n\n### calc.py\n```python\n{CALC.replace('a - b', 'a + b')}```\n"])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", TASK, cwd=repo, timeout=600,
                   env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert next(e["answer"] for e in events if e["type"] == "final_answer") == f"The tests pass. {answer}"
    sent = llm_spans(tmp_path / "runs")[0]["llm.input_messages.0.message.content"]
    assert sent.startswith("Project instructions (AGENTS.md):\nKeep functions short.\n\nFix the failing test.\n\n"
                           "The code (the fix goes here):"), sent[:200]
    assert sent.count("Keep functions short.") == 1, "AGENTS.md leads the request, not again among the files"


def test_in_a_repository_not_shown_whole_the_first_fix_is_the_agent_s(tmp_path):
    """A repository too big to show whole (here: over the small repository's file count) has no shot:
    its first request is the agent's, with its explanation asked first."""
    files = {**BUGGY_PROJECT, **{f"pkg/m{i}.py": f"X{i} = {i}\n" for i in range(40)}}
    repo = make_repo(tmp_path / "p", files)
    replay = write_replay(tmp_path / "r.json", [f"add must add.\n\n### calc.py\n```python\n{CALC.replace('a - b', 'a + b')}```\n"])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", TASK, cwd=repo, timeout=600,
                   env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    asked = llm_spans(tmp_path / "runs")
    assert [a["agent_runtime.request"] for a in asked] == ["fix"]
    assert EXPLAIN in asked[0]["llm.input_messages.0.message.content"]


def test_a_shot_request_goes_out_with_no_grammar_and_stops_at_its_block_s_end():
    """The model wrapper asks the grammar chooser for nothing and hands the model a chooser that
    answers "" (none) for every backend kind, and the stop at the asked block's end; the LiteLLM model
    then sends no grammar, though it has one, and keeps the stop."""
    from smolagents.models import ChatMessage, MessageRole

    from agent_runtime.agent.codeagent import CODE_TAGS
    from agent_runtime.agent.replies import GuardedModel
    from agent_runtime.config import load_settings
    from agent_runtime.models.litellm_model import make_litellm_model

    request = EditRequest.of([EditTarget.file("calc.py", CALC)], shot="the shot")
    assert EditRequest.of([EditTarget.file("calc.py", CALC)]).alone().form == "whole", "no shot: as it was"
    alone = request.alone()
    assert (alone.form, alone.explain, alone.paths) == ("named", False, ("calc.py",)), "Python: by name"
    other = EditRequest.of([EditTarget.file("calc.js", "x")], shot="the shot").alone()
    assert other.form == "shot", "other code: the files whole"
    sent, chosen = [], []
    inner = SimpleNamespace(model_id="m", generate=lambda messages, **kw: sent.append(kw) or ChatMessage(
        role=MessageRole.ASSISTANT, content="### calc.py\n```python\nx = 1\n```"))
    model = GuardedModel(inner, "text", CODE_TAGS, check_format=True,
                         grammars=lambda tools, **options: chosen.append(options))
    model.fix([], alone, "fix asked as one completion", 1)
    model.fix([], request, "fix", 2)
    assert chosen[0] == {} and [sent[0]["grammar_for"](k) for k in ("gbnf-python", "gbnf-tools", "none")] == [""] * 3
    assert sent[0]["stop_sequences"] == [STOP] and not sent[1]["stop_sequences"]
    assert chosen[1]["edit"] == ("calc.py",), "the agent's own request keeps its edit grammar"
    litellm = make_litellm_model("openai/x", load_settings({}), api_base="http://127.0.0.1:9")
    litellm.constraint, litellm.grammar = SimpleNamespace(kind="gbnf-python"), "root ::= \"own\""
    calls = []
    litellm.client = SimpleNamespace(completion=lambda **kw: calls.append(kw) or (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        litellm.generate([{"role": "user", "content": [{"type": "text", "text": "hi"}]}], grammar_for=sent[0]["grammar_for"],
                         stop_sequences=[STOP])
    assert "grammar" not in (calls[0].get("extra_body") or {}), calls[0].get("extra_body")
    assert calls[0]["stop"] == [STOP]
