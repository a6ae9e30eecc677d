"""The CLI as a user runs it (subprocess): exit codes, bad configuration, unreachable models,
and end-to-end runs with the replay model."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess

from conftest import BUGGY_PROJECT, flat, git, make_repo, run_cli, step, write_replay

FIX_REPLIES = [
    step("Find where add is defined.", 'print(rg_search(pattern="def add"))'),
    step("Read it.", 'print(read_file(path="calc.py"))'),
    step("The sign is wrong: propose the fix.",
         'p = propose_patch(path="calc.py", old="return a - b", new="return a + b")\nprint(p)'),
    step("Apply it.", 'print(apply_patch(patch_id="p1"))'),
    step("Run the tests.", 'r = run_tests()\nprint(r["summary"])'),
    step("Done.", 'final_answer("add() subtracted; fixed it to add. Tests pass.")'),
]
# A fix task ("fix the failing test": the tests fail before the first request) is the harness's repair
# loop (agent/repair.py): one reply per attempt, in the edit form; the harness applies and tests it.
FIXED_CALC = BUGGY_PROJECT["calc.py"].replace("a - b", "a + b")
FIX_EDIT = f"add() subtracted; fixed it to add.\n\n### calc.py\n```python\n{FIXED_CALC}```\n"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_is_fast_and_lists_commands(tmp_path):
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("tools [--json]", "tool NAME", "policy check", "policy test", "phoenix", "runs", "undo"):
        assert command in result.stdout


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("--frobnicate", cwd=tmp_path).returncode == 2
    assert run_cli("--max-steps", "0", "task", cwd=tmp_path).returncode == 2
    missing = run_cli("--repo", str(tmp_path / "nope"), "task", cwd=tmp_path)
    assert missing.returncode == 2 and "is not a directory" in missing.stderr
    assert run_cli("--approval", "sometimes", "task", cwd=tmp_path).returncode == 2


def test_bad_configuration_exits_1_naming_the_variable(tmp_path):
    for name, value in (("MODEL_TEMPERATURE", "hot"), ("AGENT_MAX_STEPS", "-1")):
        result = run_cli("a task", cwd=tmp_path, env={name: value})
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0] and "Traceback" not in result.stderr


def test_bad_configuration_in_dotenv(tmp_path):
    (tmp_path / ".env").write_text("MODEL_MAX_TOKENS=lots\n")
    result = run_cli("a task", cwd=tmp_path)
    assert result.returncode == 1 and '.env:1, MODEL_MAX_TOKENS: expected a whole number from 16 to 32768; found "lots"' in result.stderr


def test_unreachable_ollama_says_what_to_start(tmp_path):
    port = closed_port()
    result = run_cli("--model", "ollama_chat/qwen2.5-coder:14b", "a task", cwd=tmp_path,
                     env={"MODEL_API_BASE": f"http://127.0.0.1:{port}"})
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert f"127.0.0.1:{port}" in message and "ollama serve" in message
    assert "ollama pull qwen2.5-coder:14b" in message and "Traceback" not in result.stderr


def test_unreachable_openai_compatible_server(tmp_path):
    port = closed_port()
    result = run_cli("--model", "openai/local", "a task", cwd=tmp_path,
                     env={"MODEL_API_BASE": f"http://127.0.0.1:{port}/v1"})
    assert result.returncode == 1
    assert f"cannot reach the model server at http://127.0.0.1:{port}/v1" in result.stderr
    assert "llama_cpp.server" in result.stderr


def test_a_model_id_no_provider_serves_stops_before_the_run(tmp_path):
    """LiteLLM's own routing is asked before the run: one line saying what ids look like, exit 1,
    and no run is recorded (as for an unreachable server), so nothing fails in step 1."""
    repo = make_repo(tmp_path / "project", BUGGY_PROJECT)
    runs = tmp_path / "runs"
    result = run_cli("--model", "nonsense-model", "hi", cwd=repo, env={"RUNS_DIR": str(runs)})
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and "litellm" not in result.stderr.lower()
    assert "'nonsense-model'" in lines[0] and "ollama_chat/qwen2.5-coder:7b" in lines[0]
    assert "agent-runtime models" in lines[0] and "Step 1" not in result.stderr
    assert not runs.exists() or not any(runs.iterdir())
    events = [json.loads(line) for line in run_cli("--json", "--model", "nonsense-model", "hi", cwd=repo).stdout.splitlines()]
    assert [e["type"] for e in events] == ["error", "run_ended"]
    assert events[-1]["run_id"] is None and events[-1]["exit_code"] == 1


def test_end_to_end_fix_with_auto_approval(tmp_path):
    repo = make_repo(tmp_path / "project", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "fix.json", [FIX_EDIT])
    result = run_cli("--approval", "auto", "--model", f"replay:{replay}", "fix the failing test", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "The tests pass. add() subtracted; fixed it to add."
    assert (repo / "calc.py").read_text() == FIXED_CALC
    assert "2 passed" in flat(result.stderr)  # the harness's run_tests result, shown as the step ran
    assert git(repo, "status", "--porcelain").strip() == "M calc.py"


def test_end_to_end_with_approval_never_refuses_and_tells_the_model(tmp_path):
    repo = make_repo(tmp_path / "project", BUGGY_PROJECT)
    # A fix task: the harness proposes the change, the approval refuses to apply it, and the task ends
    # with an answer that says so (the refusal is no failure another attempt could fix).
    replay = write_replay(tmp_path / "fix.json", [FIX_EDIT])
    result = run_cli("--approval", "never", "--model", f"replay:{replay}", "fix the failing test", cwd=repo)
    assert result.returncode == 5, result.stderr  # answered, but something it tried was refused
    assert (repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"]
    assert "apply_patch needs approval and was refused because approval mode is 'never'" in flat(result.stderr)
    answer = flat(result.stdout).strip()
    assert answer.startswith("The fix was not applied: apply_patch needs approval and was refused"), answer
    assert answer.endswith("It was proposed as p1: add() subtracted; fixed it to add."), answer
    summary = next(line for line in result.stderr.splitlines() if line.startswith("done:"))
    assert "no file changed" in summary and summary.endswith("· 1 refused (apply_patch: approval mode is 'never')")


def test_a_refused_patch_reaches_the_summary_run_ended_and_the_exit_code(tmp_path):
    """The model says "fixed" although its patch was refused: a script sees exit 5 and run_ended's
    refusals; a run with nothing refused still exits 0 with refusals 0."""
    repo = make_repo(tmp_path / "project", BUGGY_PROJECT)
    replies = [FIX_REPLIES[2], FIX_REPLIES[3], step("Done.", 'final_answer("fixed")')]
    replay = write_replay(tmp_path / "fix.json", replies)
    result = run_cli("--json", "-q", "--approval", "never", "--model", f"replay:{replay}", "fix it", cwd=repo)
    assert result.returncode == 5, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    end = events[-1]
    assert end["type"] == "run_ended" and end["status"] == "answered" and end["exit_code"] == 5
    assert end["refusals"] == 1 and end["refused"] == ["apply_patch: approval mode is 'never'"]
    assert events[-2] == {**events[-2], "type": "final_answer", "answer": "fixed"}
    allowed = run_cli("--json", "-q", "--approval", "auto", "--model", f"replay:{replay}", "fix it", cwd=repo)
    end = json.loads(allowed.stdout.splitlines()[-1])
    assert allowed.returncode == 0 and end["exit_code"] == 0 and end["refusals"] == 0 and end["refused"] == []


def test_without_a_terminal_approval_defaults_to_never(tmp_path):
    repo = make_repo(tmp_path / "project", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [FIX_REPLIES[2], FIX_REPLIES[3], FIX_REPLIES[5]])
    result = run_cli("--model", f"replay:{replay}", "fix it", cwd=repo, input="")
    assert result.returncode == 5  # answered, but the patch was refused
    assert "no one is at a terminal to approve it" in flat(result.stderr)
    assert "1 refused (apply_patch: no one is at a terminal to approve it)" in result.stderr
    assert (repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"]


def test_step_limit_exits_3(tmp_path):
    repo = make_repo(tmp_path / "project", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", FIX_REPLIES[:3])
    result = run_cli("--max-steps", "2", "--model", f"replay:{replay}", "fix it", cwd=repo)
    assert result.returncode == 3 and "step limit (2)" in result.stderr
    assert result.stdout == ""


def test_replay_running_out_is_an_error_that_says_so(tmp_path):
    repo = make_repo(tmp_path / "project", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", FIX_REPLIES[:1])
    result = run_cli("--model", f"replay:{replay}", "fix it", cwd=repo)
    assert result.returncode == 1
    assert "has 1 replies and the agent asked for reply 2" in result.stderr


def test_replay_file_errors(tmp_path):
    (tmp_path / "bad.json").write_text('{"not": "a list"}')
    result = run_cli("--model", f"replay:{tmp_path / 'bad.json'}", "task", cwd=tmp_path)
    assert result.returncode == 1 and "must hold a JSON list of strings" in result.stderr
    result = run_cli("--model", f"replay:{tmp_path / 'missing.json'}", "task", cwd=tmp_path)
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_tools_listing(tmp_path):
    result = run_cli("tools", "--json", cwd=tmp_path)
    assert result.returncode == 0
    tools = {t["name"]: t for t in json.loads(result.stdout)}
    assert set(tools) == {"repo_info", "list_files", "rg_search", "read_file", "read_file_snippet", "git_status",
                          "git_diff", "git_log", "propose_patch_unified", "propose_patch", "propose_file", "show_patch",
                          "apply_patch", "run_cmd", "run_tests", "remember", "outline", "read_symbol",
                          "find_symbol", "replace_symbol", "undo_patch", "promote_tool"}
    assert tools["apply_patch"]["approval"] == "always" and tools["read_file"]["approval"] == "no"
    assert tools["promote_tool"]["approval"] == "always"
    assert tools["read_file"]["inputs"]["path"]["required"] is True
    assert tools["read_file"]["inputs"]["start_line"]["required"] is False
    text = run_cli("tools", cwd=tmp_path).stdout
    assert "read_file(path: string, start_line?: integer, end_line?: integer)" in text


def test_tool_command_runs_the_full_path(tmp_path):
    repo = make_repo(tmp_path / "project", BUGGY_PROJECT)
    read = run_cli("tool", "read_file", '{"path": "calc.py", "end_line": 1}', cwd=repo)
    assert read.returncode == 0 and json.loads(read.stdout)["content"] == "def add(a, b):\n"
    refused = run_cli("tool", "run_cmd", '{"command": "rm calc.py"}', cwd=repo, input="")
    assert refused.returncode == 1 and "refused" in json.loads(refused.stdout)["error"]
    assert (repo / "calc.py").exists()
    allowed = run_cli("--approval", "auto", "tool", "run_cmd", '{"command": "rm calc.py"}', cwd=repo)
    assert allowed.returncode == 0 and json.loads(allowed.stdout)["exit_code"] == 0
    assert not (repo / "calc.py").exists()
    denied = run_cli("--approval", "auto", "tool", "run_cmd", '{"command": "sudo rm -rf /"}', cwd=repo)
    assert denied.returncode == 1 and "rule privilege" in json.loads(denied.stdout)["error"]
    assert run_cli("tool", "no_such_tool", cwd=repo).returncode == 2
    assert run_cli("tool", "read_file", "{not json", cwd=repo).returncode == 2


def test_a_tool_command_is_a_run_with_its_trace(tmp_path):
    """`agent-runtime tool` is recorded like a task: a run directory, and a trace whose root holds
    the TOOL span with the policy's decision (what `trace` and Phoenix show)."""
    repo = make_repo(tmp_path / "project", BUGGY_PROJECT)
    env = {"RUNS_DIR": str(tmp_path / "runs")}
    refused = run_cli("tool", "run_cmd", '{"command": "rm calc.py"}', cwd=repo, input="", env=env)
    run_id = re.search(r"^run (\S+) · agent-runtime trace \1$", refused.stderr, re.M).group(1)
    metadata = json.loads((tmp_path / "runs" / run_id / "metadata.json").read_text())
    assert metadata["outcome"] == "error" and metadata["task"] == 'tool run_cmd {"command": "rm calc.py"}'
    spans = [json.loads(line) for line in (tmp_path / "runs" / run_id / "trace.jsonl").read_text().splitlines()]
    (root,) = [s for s in spans if s["parent_id"] is None]
    (tool,) = [s for s in spans if s["attributes"].get("openinference.span.kind") == "TOOL"]
    assert root["attributes"]["openinference.span.kind"] == "AGENT" and tool["parent_id"] == root["span_id"]
    assert tool["attributes"]["tool.name"] == "run_cmd" and tool["attributes"]["approval.outcome"] == "denied"
    shown = run_cli("trace", run_id, cwd=repo, env=env)
    assert shown.returncode == 0 and "[TOOL] run_cmd" in shown.stdout and "denied" in shown.stdout


def test_python_dash_m_works_too(tmp_path):
    import sys

    result = subprocess.run([sys.executable, "-m", "agent_runtime", "tools"], cwd=tmp_path, capture_output=True,
                            text=True, env=os.environ)
    assert result.returncode == 0 and "apply_patch" in result.stdout


def test_a_reader_that_goes_away_stops_the_command_quietly(tmp_path):
    """`agent-runtime runs --json | head`, or a CI step that stops reading `--json` events: the
    command stops quietly with exit 0 (issue 13), no "internal error" and no traceback."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [step("Answer.", 'final_answer("hi")')])
    env = {**os.environ, "RUNS_DIR": str(tmp_path / "runs")}
    assert run_cli("--model", f"replay:{replay}", "say hi", cwd=repo, env=env).returncode == 0
    from conftest import VENV_BIN

    for argv in (["runs", "--json"], ["tools"], ["--json", "--model", f"replay:{replay}", "say hi"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # nobody reads: the first write fails
        try:
            done = subprocess.run([str(VENV_BIN / "agent-runtime"), *argv], cwd=repo, env=env, stdout=write_end,
                                  stderr=subprocess.PIPE, text=True, timeout=300)
        finally:
            os.close(write_end)
        assert done.returncode == 0, (argv, done.stderr)
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert "Exception ignored" not in done.stderr, done.stderr
    from agent_runtime.cli import main as cli_main

    for text in (cli_main.EPILOG, cli_main.__doc__):
        said = " ".join(text.split())
        assert "141" not in said and "quietly with 0" in said, said


def test_long_code_lines_are_wrapped_with_line_numbers_never_cropped():
    from rich.console import Console

    from agent_runtime.cli.display import Display

    long = "total = " + " + ".join(f"len('segment {i}')" for i in range(12))
    code = f"{long}\nprint(total)\nname = '{'a' * 90}'"
    console = Console(width=60, record=True, file=open(os.devnull, "w"))
    Display(console=console).step_code(1, "Thought: add them\n<code>\n...", code)
    shown = console.export_text()
    lines = shown.splitlines()
    assert "len('segment 11')" in shown
    assert "a" * 90 in "".join(line.strip() for line in lines[lines.index(next(x for x in lines if "name =" in x)):])
    assert all(len(line) <= 60 for line in lines)
    assert any(line.lstrip().startswith("1 total = ") for line in lines), "line numbers show where a line wraps"
    assert any(line.lstrip().startswith("2 print(total)") for line in lines)
    console = Console(width=60, record=True, file=open(os.devnull, "w"))
    Display(console=console).step_code(2, None, "print(total)")
    assert console.export_text().splitlines()[-1] == "print(total)", "short code stays as it was written"


def test_an_observation_box_never_hides_its_last_line():
    """The last line of an observation is where the answer or the tests' summary is: a long one is cut
    in the middle, and a marker never stands in for a single line."""
    from types import SimpleNamespace

    from rich.console import Console

    from agent_runtime.cli.display import OBSERVATION_LINES, Display

    def shown(count: int) -> str:
        console = Console(width=100, record=True, file=open(os.devnull, "w"))
        lines = [f"line {n}" for n in range(1, count + 1)]
        step = SimpleNamespace(step_number=1, model_output=None, observations="\n".join(lines), error=None)
        Display(console=console).step_done(step, code_shown=True)
        return console.export_text()

    one_more = shown(OBSERVATION_LINES + 1)
    assert f"line {OBSERVATION_LINES + 1} " in one_more and "more line" not in one_more
    many = shown(40)
    assert "line 40 " in many and "line 1 " in many and f"line {OBSERVATION_LINES} " not in many
    assert f"… {40 - OBSERVATION_LINES} more lines" in many
