"""The REPL in a real pseudo-terminal: prompt, commands, Ctrl-C, history across sessions."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import BUGGY_PROJECT, VENV_BIN, make_repo, step, write_replay
from terminal import Terminal


def repl(repo: Path, replay: Path, *extra: str, sigint_ignored: bool = False) -> Terminal:
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200"}
    return Terminal([str(VENV_BIN / "agent-runtime"), "--model", f"replay:{replay}", *extra], repo, env,
                    sigint_ignored=sigint_ignored)


def test_ctrl_c_works_in_a_repl_started_with_sigint_ignored(tmp_path):
    """Started from a script's background job, the REPL inherits SIGINT ignored; Ctrl-C typed at it
    still stops the running task and its command, and the REPL goes on."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [step("Wait a long time.", 'print(run_cmd(command="sleep 61"))')])
    term = repl(repo, replay, "--approval", "auto", sigint_ignored=True)
    term.read_until("› ", timeout=20)
    term.type("wait\n")
    assert term.stop_task_when_shown('print(run_cmd(command="sleep 61"))') < 20
    assert subprocess.run(["pgrep", "-u", str(os.geteuid()), "-f", "sleep 61"], capture_output=True).returncode != 0, "the command was killed"
    term.type("/exit\n")
    assert term.wait() == 0


def test_prompt_help_and_exit(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    term = repl(repo, write_replay(tmp_path / "r.json", []))
    term.read_until("› ", timeout=20)
    term.type("/help\n")
    term.read_until("/reset")
    term.type("/nonsense\n")
    term.read_until("unknown command /nonsense")
    term.type("/exit\n")
    assert term.wait() == 0


def test_ctrl_c_stops_the_task_not_the_repl_and_history_is_kept(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [
        step("Wait a long time.", 'print(run_cmd(command="sleep 60"))'),
        step("Answer.", 'final_answer("second task answered")'),
    ])
    term = repl(repo, replay, "--approval", "auto")
    term.read_until("› ", timeout=20)
    term.type("first task: wait\n")
    # (The step is shown before it runs.)
    assert term.stop_task_when_shown("print(run_cmd(command=\"sleep 60\"))") < 20, "Ctrl-C must stop the command at once"
    assert subprocess.run(["pgrep", "-u", str(os.geteuid()), "-f", "sleep 60"], capture_output=True).returncode != 0, "the command was killed"
    term.type("second task\n")
    term.read_until_after("second task answered", "› ", timeout=60)
    term.type("\x04")  # Ctrl-D at the prompt leaves
    assert term.wait() == 0
    history = Path(os.environ["XDG_STATE_HOME"]) / "agent-runtime" / "history"
    assert "first task: wait" in history.read_text() and "second task" in history.read_text()
    # A new session starts with that history: arrow-up brings back the last line.
    term = repl(repo, write_replay(tmp_path / "r2.json", []))
    term.read_until("› ", timeout=20)
    term.type("\x1b[A")
    term.read_until("second task", timeout=10)
    term.type("\x15/exit\n")  # Ctrl-U clears the recalled line
    assert term.wait() == 0


def test_approval_status_runs_and_compact_commands(tmp_path):
    """/approval changes the mode for the next task; /status, /runs and /compact say what is so."""
    from conftest import flat

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    runs = tmp_path / "runs"
    replay = write_replay(tmp_path / "r.json", [
        step("Make it.", 'print(run_cmd(command="touch made.txt"))'),
        step("Done.", 'final_answer("could not make it")'),
    ])
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200", "RUNS_DIR": str(runs)}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}"], repo, env)
    term.read_until("› ", timeout=30)
    term.type("/approval sometimes\n")
    term.read_until("usage: /approval ask|auto|never|judge (now: ask)", timeout=30)
    term.type("/approval never\n")
    term.read_until("Approval mode: never", timeout=30)
    term.type("make a file\n")
    term.read_until_after("could not make it", "› ", timeout=120)
    assert "[y/N/a/r/m]" not in term.output, "never: no prompt"
    assert not (repo / "made.txt").exists()
    [run] = list(runs.iterdir())

    mark = len(term.output)
    term.type("/status\n")
    term.read_until_after("/status", "repo ", timeout=30)
    shown = flat(term.output[mark:])
    assert "approval never" in shown and f"run {run.name}" in shown and "conversation 1 task(s), 2 step(s)" in shown
    assert "context " in shown and " of 16,384 tokens" in shown

    mark = len(term.output)
    term.type("/runs\n")
    term.read_until_after("/runs", "make a file", timeout=30)
    shown = term.output[mark:]
    assert "RUN" in shown and "OUTCOME" in shown and run.name in shown

    mark = len(term.output)
    term.type("/compact\n")
    term.read_until_after("/compact", "tokens", timeout=30)
    assert "Nothing more to compact" in term.output[mark:] or "Compacted older steps" in term.output[mark:]

    mark = len(term.output)
    term.type("/trace last\n")
    term.read_until_after("/trace last", f"files: {run}", timeout=30)
    assert "[TOOL] run_cmd touch made.txt" in flat(term.output[mark:])
    term.type("/exit\n")
    assert term.wait() == 0


def test_the_judges_verdicts_are_shown_in_the_repl(tmp_path):
    """`/approval judge` (issue 23): every verdict is a line in the REPL, the one it approves runs, the
    one it sends to the person is then asked at the prompt (and refused here)."""
    import pytest

    from agent_runtime.safety.sandbox import isolation

    if isolation().bwrap is None:
        pytest.skip("bubblewrap does not run here: the judge approves nothing without it")
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [
        step("Make the build directory.", 'print(run_cmd(command="mkdir -p build"))'),
        step("Remove the readme.", 'print(run_cmd(command="rm README.md"))'),
        step("Done.", 'final_answer("built it")')])
    judge = write_replay(tmp_path / "judge.json", ["APPROVE: the task builds into build/",
                                                   "HUMAN: removing the readme is not part of building"])
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200", "JUDGE_MODEL": f"replay:{judge}"}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}"], repo, env)
    term.read_until("› ", timeout=30)
    term.type("/approval judge\n")
    term.read_until("Approval mode: judge", timeout=30)
    term.type("build the project into build/\n")
    term.read_until("approved by the judge: the task builds into build/ — run_cmd: mkdir -p build", timeout=120)
    term.read_until("judge: for you to decide: removing the readme is not part of building — run_cmd: rm README.md",
                    timeout=120)
    term.read_until("[y/N/a/r/m]", timeout=60)
    term.type("n\n")
    term.read_until_after("built it", "› ", timeout=120)
    assert (repo / "build").is_dir() and (repo / "README.md").exists()
    term.type("/exit\n")
    assert term.wait() == 0


def test_roles_a_profile_a_plan_and_an_mcp_tool_in_the_repl(tmp_path):
    """Issue 25's rows at the REPL: a profile of the models file picks the coder and the planner, /model
    shows each role and where it came from, a fix task is planned before the coder's first request, a
    tool of the user's MCP server is called like a built-in one, and each model call's span names its role."""
    import json

    from conftest import flat
    from mcp_helpers import demo_server, write_mcp_config

    from agent_runtime.telemetry.records import load_spans

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    runs = tmp_path / "runs"
    fix = ("add subtracts.\n\n### calc.py\n```python\ndef add(a, b):\n    return a + b\n\n\n"
           "def mul(a, b):\n    return a * b\n```\n")
    coder = write_replay(tmp_path / "coder.json", [fix, step("Add.", "print(mcp__demo__add(a=2, b=3))"),
                                                   step("Done.", 'final_answer("the server says five")')])
    planner = write_replay(tmp_path / "planner.json", [json.dumps({"problem": "add subtracts",
                                                                    "targets": ["calc.py::add"]})])
    models = tmp_path / "models.toml"
    models.write_text(f'[models.writer]\nid = "replay:{coder}"\n\n[models.reader]\nid = "replay:{planner}"\n\n'
                      '[profiles.pair]\ncoder = "writer"\nplanner = "reader"\n')
    write_mcp_config({"demo": demo_server(allow=["add"])})
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200", "RUNS_DIR": str(runs), "MODELS_FILE": str(models)}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "auto", "--model", "pair"], repo, env)
    term.read_until("› ", timeout=60)
    term.type("/model\n")
    term.read_until("choices for the coder", timeout=30)
    shown = term.output
    assert f"coder    writer (replay:{coder})" in shown and f"planner  reader (replay:{planner})" in shown
    term.type("test_calc.py fails: fix it\n")
    term.read_until_after("Final answer", "› ", timeout=300)
    assert "plan (replay:" in term.output and "calc.py::add. add subtracts" in flat(term.output)
    assert "return a + b" in (repo / "calc.py").read_text()
    term.type("add 2 and 3 with the demo server\n")
    term.read_until_after("the server says five", "› ", timeout=300)
    term.type("/exit\n")
    assert term.wait(120) == 0
    fixed, added = sorted(runs.iterdir())
    fixed_spans, added_spans = load_spans(fixed), load_spans(added)
    roles = [s["attributes"]["llm.role"] for s in fixed_spans if s["attributes"].get("openinference.span.kind") == "LLM"]
    assert roles == ["planner", "coder"]
    assert [s for s in fixed_spans if s["name"] == "plan"][0]["attributes"]["plan.used"] is True
    [tool] = [s for s in added_spans if s["attributes"].get("tool.name") == "mcp__demo__add"]
    assert tool["attributes"]["policy.decision"] == "allow" and tool["attributes"]["sandbox"] == "bwrap"
    assert '"content": "5"' in tool["attributes"]["output.value"]
    assert {s["attributes"]["llm.role"] for s in added_spans if "llm.role" in s["attributes"]} == {"coder"}


def test_a_fix_given_up_in_the_repl_shows_its_attempts_report_and_so_does_its_root_span(tmp_path):
    """The REPL prints what the single-task route prints (`Could not fix it: ... - attempt 1 ...`), not a
    bare error; the trace's root span carries the same first line as its error."""
    from conftest import flat, runs_in_order

    from agent_runtime.telemetry.records import load_spans

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    wrong = "add must multiply.\n\n### calc.py\n```python\n" + BUGGY_PROJECT["calc.py"].replace("a - b", "a * b") + "```\n"
    replay = write_replay(tmp_path / "r.json", [wrong])
    runs = tmp_path / "runs"
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200", "RUNS_DIR": str(runs)}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--model", f"replay:{replay}", "--approval", "auto",
                     "--max-attempts", "1"], repo, env)
    term.read_until("› ", timeout=20)
    term.type("Fix the failing test.\n")
    term.read_until_after("Could not fix it", "› ", timeout=300)
    shown = flat(term.output)
    assert "Could not fix it: stopped after 1 attempt" in shown and "- attempt 1 (changed calc.py, undone)" in shown, shown
    assert "the task failed" not in shown
    term.type("/exit\n")
    assert term.wait() == 0
    root = next(s for s in load_spans(runs_in_order(runs)[-1]) if s["parent_id"] is None)
    assert root["status"] == "ERROR" and root["status_message"].startswith("Could not fix it: stopped after 1 attempt"), root
