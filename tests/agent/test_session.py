"""Sessions: what the model is told, conversations across tasks, AGENTS.md, the prompt."""

from __future__ import annotations

import io
import json
from pathlib import Path

from conftest import BUGGY_PROJECT, make_repo, step, write_replay
from rich.console import Console

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver


def quiet_display() -> Display:
    return Display(console=Console(file=io.StringIO(), width=120), out=io.StringIO())


def open_session(repo: Path, replies: list[str], tmp_path: Path, approval: str = "never", **env: str) -> Session:
    replay = write_replay(tmp_path / "replay.json", replies)
    settings = load_settings({"MODEL_ID": f"replay:{replay}", **env})
    session = Session(settings, repo, Approver(approval, interactive=False), quiet_display())
    session.open()
    return session


def observations(session: Session) -> list[str]:
    return [s.observations or "" for s in session.agent.memory.steps if hasattr(s, "observations")]


def test_refused_patch_is_explained_to_the_model(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = open_session(repo, [
        step("fix", 'print(propose_patch(path="calc.py", old="return a - b", new="return a + b"))'),
        step("apply", 'print(apply_patch(patch_id="p1"))'),
        step("report", 'final_answer("refused")'),
    ], tmp_path)
    result = session.run("fix add")
    assert result.status == "answered" and result.refusals == 1 and result.exit_code == 5  # answered, but refused
    told = observations(session)[1]
    assert "apply_patch needs approval and was refused because approval mode is 'never'" in told
    assert "recovery_suggestion: Choose an approach that does not need this action" in told
    assert (repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"]


def test_conversation_continues_across_tasks_until_reset(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = open_session(repo, [
        step("look", 'print(read_file(path="README.md"))'),
        step("answer", 'final_answer("a calculator")'),
        step("answer again", 'final_answer("still a calculator")'),
        step("after reset", 'final_answer("fresh")'),
    ], tmp_path)
    assert session.run("what is this?").answer == "a calculator"
    assert session.run("and now?").answer == "still a calculator"
    tasks = [s.task for s in session.agent.memory.steps if hasattr(s, "task")]
    assert tasks == ["what is this?", "and now?"]  # the second task sees the first
    session.reset()
    assert session.run("start over").answer == "fresh"
    assert [s.task for s in session.agent.memory.steps if hasattr(s, "task")] == ["start over"]


def test_code_errors_are_steps_not_crashes(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = open_session(repo, [
        "Thought: no code here at all",
        "Thought: still no code",  # the one retry; then the step counts as a parse failure
        step("bad python", "print(read_file(path=\"calc.py\"\n"),
        step("fixed", 'print(read_file(path="calc.py"))'),
        step("division", "print(1 / 0)"),
        step("done", 'final_answer("ok")'),
    ], tmp_path, AGENT_COACHING="+reply_repairs")
    result = session.run("x")
    assert result.status == "answered" and result.steps == 4
    errors = [type(s.error).__name__ for s in session.agent.memory.steps if getattr(s, "error", None)]
    assert errors == ["AgentParsingError", "AgentExecutionError"]
    assert session.agent.format_retries == 2
    meta = json.loads((session.last_run.dir / "metadata.json").read_text())
    assert (meta["parse_errors"], meta["code_errors"], meta["format_retries"]) == (1, 1, 2)


def test_a_reply_that_does_not_parse_gets_one_retry_with_a_reminder(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = open_session(repo, ["I think I will read the file.", step("d", 'final_answer("ok")')], tmp_path,
                           AGENT_COACHING="+reply_repairs")
    result = session.run("x")
    seen = session.model.requests
    assert result.status == "answered" and result.steps == 1, "the retry is part of the same step"
    reminder = seen[1][-1].content[0]["text"]
    assert reminder.startswith("Your reply could not be used (no code block") and "<code>" in reminder
    assert seen[1][-2].content[0]["text"] == "I think I will read the file."
    assert "I think I will" not in str(session.agent.memory.steps[-1].model_output)


def test_imports_are_not_authorized(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = open_session(repo, [step("escape", "import os\nprint(os.listdir('/'))"), step("d", 'final_answer("x")')],
                           tmp_path)
    session.run("x")
    first = session.agent.memory.steps[1]
    assert "Import of os is not allowed" in str(first.error)


def test_agents_md_is_added_to_the_prompt(tmp_path):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "AGENTS.md": "Always run `make check` before answering.\n"})
    session = open_session(repo, [step("d", 'final_answer("x")')], tmp_path)
    prompt = session.agent.system_prompt
    assert "Project instructions (AGENTS.md):\nAlways run `make check` before answering." in prompt
    plain = open_session(make_repo(tmp_path / "q", BUGGY_PROJECT), [step("d", 'final_answer("x")')], tmp_path)
    assert "AGENTS.md" not in plain.agent.system_prompt


def test_prompt_lists_every_tool_in_one_line(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = open_session(repo, [step("d", 'final_answer("x")')], tmp_path)
    prompt = session.agent.system_prompt
    assert "- read_file(path, start_line=None, end_line=None): Read lines of a text file." in prompt
    assert "- apply_patch(patch_id): " in prompt and "- final_answer(answer): " in prompt
    assert prompt.split("Tools (")[1].count("\n- ") == 23  # 22 tools and final_answer


def test_executor_waits_for_slow_tools(tmp_path):
    """An approval (or a long command) must not be cut off by smolagents' 30 s executor timeout."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = open_session(repo, [step("d", 'final_answer("x")')], tmp_path)
    assert session.agent.python_executor.timeout_seconds is None
