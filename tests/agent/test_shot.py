"""shot_first (agent/shot.py): in a repository shown whole, the first fix is asked exactly as one plain
completion is -- the request benchmarks/baselines.py single_shot measures the agent against -- with no
grammar; the next attempts start from the same words, then the notes and the agent's own ask. Off, or where the repository is not shown whole, nothing changes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli, write_replay

from agent_runtime.agent.edits import EDIT_ASK, EXPLAIN, EditRequest, EditTarget
from agent_runtime.agent.shot import shot_context, shot_message
from agent_runtime.telemetry.records import load_spans

CALC = BUGGY_PROJECT["calc.py"]
TASK = "Fix the failing test."


def llm_spans(runs):
    run_dir = next(runs.iterdir())
    return [s["attributes"] for s in load_spans(run_dir) if s["attributes"].get("openinference.span.kind") == "LLM"]


def test_the_first_fix_is_one_completion_s_request_and_the_next_one_the_agent_s(tmp_path):
    """The first request is the shot, byte for byte around the test run (the task, every file of the
    repository whole, the command the agent ran and its output, the ask for whole files), with no grammar; a reply of free text around
    the files is read, only the files a fix may change are taken (never the tests), its failure undone;
    the next attempt starts from the shot's words (a prefix the server has cached), then the note and
    the agent's own ask, with its explanation."""
    test_file = BUGGY_PROJECT["test_calc.py"]
    replies = ["Here is the corrected code:\n\n### calc.py\n```python\n" + CALC.replace("a - b", "a * b") + "```\n\n"
               "### test_calc.py\n```python\n" + test_file.replace("== 5", "== 6") + "```\nThat should do it.",
               f"add must add.\n\n### calc.py\n```python\n{CALC.replace('a - b', 'a + b')}```\n"]
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", replies)
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", TASK, cwd=repo,
                   timeout=600, env={"AGENT_COACHING": "+shot_first,-function_retries", "RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert next(e["answer"] for e in events if e["type"] == "final_answer") == "The tests pass. add must add."
    assert "a + b" in (repo / "calc.py").read_text() and (repo / "test_calc.py").read_text() == test_file
    asked = llm_spans(tmp_path / "runs")
    assert [a["agent_runtime.request"] for a in asked] == [
        "fix asked as one completion (shot_first)",
        "fix after a failed one, from one completion's words (fresh_restart, shot_first)"]
    first, second = (a["llm.input_messages.0.message.content"] for a in asked)
    assert all("llm.input_messages.1.message.content" not in a for a in asked), "one user message each"
    command = first.split("Running `", 1)[1].split("`", 1)[0]
    output = first.split("` gives:\n\n", 1)[1].split("\n\nFix the code so that", 1)[0]
    assert "assert -1 == 5" in output and "1 failed" in output, "the tests' output as they ran"
    assert first == shot_message(TASK, dict(BUGGY_PROJECT), command, output), "the shot, byte for byte around the run"
    assert "pytest" in command and EXPLAIN not in first and "run_tests" not in first
    assert second.startswith(shot_context(first)) and first != shot_context(first), "the same words first: cached"
    assert "Attempt 1 did not work" in second and second.endswith(EDIT_ASK), "then the note and the agent's own ask"
    assert "The repository's files (" not in second, "not the agent's own first message: other words, read again"
    thoughts = [e.get("thought") for e in events if e["type"] == "model_reply"]
    assert thoughts[0] == "Here is the corrected code:", "the text before the first heading is the thought"


@pytest.mark.parametrize("said, answer", [("Here is the fix:", "Changed calc.py."),
                                           ("add subtracts. Here is the fix:", "add subtracts.")])
def test_a_shot_that_passes_is_labelled_by_what_it_said_or_changed_and_keeps_the_project_s_instructions(
        tmp_path, said, answer):
    """The shot asks for no explanation: what the model says anyway is the answer's, but for its lead-in
    to the code ("Here is the fix:"); with nothing else said, the answer names what changed. The
    project's instructions (AGENTS.md) come first, as in every fix request, and only there. The 1.5B's profile."""
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "AGENTS.md": "Keep functions short.\n"})
    replay = write_replay(tmp_path / "r.json", [f"{said}\n\n### calc.py\n```python\n{CALC.replace('a - b', 'a + b')}```\n"])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", TASK, cwd=repo, timeout=600,
                   env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert next(e["answer"] for e in events if e["type"] == "final_answer") == f"The tests pass. {answer}"
    sent = llm_spans(tmp_path / "runs")[0]["llm.input_messages.0.message.content"]
    assert sent.startswith("Project instructions (AGENTS.md):\nKeep functions short.\n\nFix the failing test.\n\n"
                           "Here are the repository's files."), sent[:200]
    assert sent.count("Keep functions short.") == 1, "AGENTS.md leads the request, not again among the files"


@pytest.mark.parametrize("rules", ["-shot_first", "+shot_first"])
def test_off_or_in_a_repository_not_shown_whole_the_first_fix_is_the_agent_s(tmp_path, rules):
    """Without the rule the first request is the agent's. With it, a repository too big to show whole
    (here: over the small repository's file count) has no shot, and its first request is the agent's too."""
    files = dict(BUGGY_PROJECT) if rules == "-shot_first" else {**BUGGY_PROJECT, **{f"pkg/m{i}.py": f"X{i} = {i}\n" for i in range(40)}}
    repo = make_repo(tmp_path / "p", files)
    replay = write_replay(tmp_path / "r.json", [f"add must add.\n\n### calc.py\n```python\n{CALC.replace('a - b', 'a + b')}```\n"])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "--json", TASK, cwd=repo, timeout=600,
                   env={"AGENT_COACHING": rules, "RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    asked = llm_spans(tmp_path / "runs")
    assert [a["agent_runtime.request"] for a in asked] == ["fix"]
    assert EXPLAIN in asked[0]["llm.input_messages.0.message.content"]


def test_a_shot_request_goes_out_with_no_grammar_not_even_the_model_s_own():
    """The model wrapper asks the grammar chooser for nothing and hands the model a chooser that
    answers "" (none) for every backend kind; the LiteLLM model then sends no grammar, though it has one."""
    from smolagents.models import ChatMessage, MessageRole

    from agent_runtime.agent.codeagent import CODE_TAGS
    from agent_runtime.agent.replies import GuardedModel
    from agent_runtime.config import load_settings
    from agent_runtime.models.litellm_model import make_litellm_model

    request = EditRequest.of([EditTarget.file("calc.py", CALC)], shot="the shot")
    assert EditRequest.of([EditTarget.file("calc.py", CALC)]).alone().form == "whole", "no shot: as it was"
    alone = request.alone()
    assert (alone.form, alone.explain, alone.paths) == ("shot", False, ("calc.py",))
    sent, chosen = [], []
    inner = SimpleNamespace(model_id="m", generate=lambda messages, **kw: sent.append(kw) or ChatMessage(
        role=MessageRole.ASSISTANT, content="### calc.py\n```python\nx = 1\n```"))
    model = GuardedModel(inner, "text", CODE_TAGS, check_format=True,
                         grammars=lambda tools, **options: chosen.append(options))
    model.fix([], alone, "fix asked as one completion (shot_first)", 1)
    model.fix([], request, "fix", 2)
    assert chosen[0] == {} and [sent[0]["grammar_for"](k) for k in ("gbnf-python", "gbnf-tools", "none")] == [""] * 3
    assert chosen[1]["edit"] == ("calc.py",), "the agent's own request keeps its edit grammar"
    litellm = make_litellm_model("openai/x", load_settings({}), api_base="http://127.0.0.1:9")
    litellm.constraint, litellm.grammar = SimpleNamespace(kind="gbnf-python"), "root ::= \"own\""
    calls = []
    litellm.client = SimpleNamespace(completion=lambda **kw: calls.append(kw) or (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        litellm.generate([{"role": "user", "content": [{"type": "text", "text": "hi"}]}], grammar_for=sent[0]["grammar_for"])
    assert "grammar" not in (calls[0].get("extra_body") or {}), calls[0].get("extra_body")
