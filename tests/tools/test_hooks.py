"""Hooks (tools/hooks.py): the user's programs at session and tool events, from the user's config
only; a before_tool hook blocks (the model sees why) or approves; each run is a span; a hook that
hangs is killed and counts as no opinion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, make_repo, plant_user_config, run_cli, step, write_replay

from agent_runtime.config import config_home
from agent_runtime.core import Action, Decision
from agent_runtime.tools.hooks import HookConfigError, Hooks

NO_PUSH = '''\
import json, sys
event = json.load(sys.stdin)
if event["tool"] == "run_cmd" and "git push" in event["arguments"].get("command", ""):
    print("pushing is for humans here: commit, then stop and tell the user", file=sys.stderr)
    sys.exit(2)
'''
LOG = '''\
import json, sys
event = json.load(sys.stdin)
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(event) + "\\n")
'''


def write_hooks(text: str) -> Path:
    path = config_home() / "hooks.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def spans_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]


def test_a_blocking_hook_and_a_logging_hook_in_a_replay_run(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    log = tmp_path / "tool-log.jsonl"
    write_hooks(f"""
[[hooks]]
event = "before_tool"
command = [{json.dumps(sys.executable)}, {json.dumps(script(tmp_path, "no_push.py", NO_PUSH))}]
tools = ["run_cmd"]
name = "no-push"

[[hooks]]
event = "after_tool"
command = [{json.dumps(sys.executable)}, {json.dumps(script(tmp_path, "log.py", LOG))}, {json.dumps(str(log))}]
name = "log"
""")
    replay = write_replay(tmp_path / "r.json", [
        step("Publish.", 'print(run_cmd(command="git push origin main"))'),
        step("Look.", 'print(run_cmd(command="git status --short"))'),
        step("Done.", 'final_answer("not pushed")'),
    ])
    runs = tmp_path / "runs"
    done = run_cli("--model", f"replay:{replay}", "publish it", cwd=repo, env={"RUNS_DIR": str(runs)})
    assert done.returncode == 5, done.stderr  # answered, but the hook blocked the push
    assert "1 refused (run_cmd: blocked by the hook no-push)" in done.stderr
    [run] = list(runs.iterdir())
    spans = spans_of(run)
    # The block reached the model: its next request carries the hook's message.
    llm = [s for s in spans if s["attributes"].get("openinference.span.kind") == "LLM"]
    assert "pushing is for humans here" not in llm[0]["attributes"]["input.value"]
    assert "blocked by the user's hook no-push: pushing is for humans here" in llm[1]["attributes"]["input.value"]
    # Both hooks ran, each as a span under the tool call it belongs to.
    hooks = [s for s in spans if s["name"].startswith("hook ")]
    names = [s["name"] for s in hooks]
    assert names.count("hook before_tool: no-push") == 2 and names.count("hook after_tool: log") == 2
    tools = {s["span_id"]: s for s in spans if s["attributes"].get("openinference.span.kind") == "TOOL"}
    assert all(h["parent_id"] in tools for h in hooks)
    first_block = next(h for h in hooks if h["name"] == "hook before_tool: no-push")
    assert first_block["attributes"]["hook.outcome"] == "block" and first_block["attributes"]["hook.exit_code"] == 2
    assert first_block["attributes"]["hook.duration_ms"] > 0
    assert not any(k.startswith("tool.") for k in first_block["attributes"]), "no tool-span attributes"
    push = next(s for s in tools.values() if "git push" in s["attributes"]["input.value"])
    assert push["attributes"]["error.type"] == "refused"
    # `agent-runtime trace` tells the hook's block from a refusal, with what the hook said.
    from agent_runtime.telemetry.records import span_tree

    tree = span_tree(spans)
    [tool_line] = [line for line in tree if "[TOOL] run_cmd git push" in line]
    assert "blocked by hook no-push" in tool_line
    blocks = [line for line in tree if "hook before_tool: no-push" in line and "block: " in line]
    assert len(blocks) == 1 and '"pushing is for humans here: commit, then stop and tell the user"' in blocks[0]
    # The after_tool hook got both calls as JSON on stdin.
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["event"], e["tool"], e["outcome"]) for e in logged] == [
        ("after_tool", "run_cmd", "refused"), ("after_tool", "run_cmd", "ok")]
    assert logged[0]["arguments"]["command"] == "git push origin main"
    assert logged[0]["policy"]["decision"] == "ask" and logged[0]["repo"] == str(repo.resolve())
    assert logged[1]["result"]["exit_code"] == 0


def _span(span_id: str, parent: str | None, name: str, kind: str, status: str = "OK", **attributes) -> dict:
    return {"name": name, "span_id": span_id, "parent_id": parent, "kind": kind, "status": status,
            "start_time": int(span_id) * 1_000_000, "end_time": int(span_id) * 1_000_000 + 2_000_000,
            "attributes": {"openinference.span.kind": kind, **attributes}}


def test_the_trace_view_tells_a_hook_block_from_a_refusal():
    from agent_runtime.telemetry.records import span_tree

    tool = {"tool.name": "run_cmd", "input.value": json.dumps({"command": "git push origin main"}),
            "policy.decision": "ask", "approval.outcome": "not_required", "error.type": "refused"}
    spans = [
        _span("1", None, "run_cmd", "TOOL", "ERROR", **tool),
        _span("2", "1", "hook before_tool: no-push", "CHAIN", **{
            "hook.event": "before_tool", "hook.name": "no-push", "hook.outcome": "block", "hook.exit_code": 2,
            "output.value": "pushing is for humans here"}),
        _span("3", "1", "hook after_tool: log", "CHAIN", **{
            "hook.event": "after_tool", "hook.name": "log", "hook.outcome": "no_opinion",
            "output.value": "no_opinion"}),
        _span("4", None, "run_cmd", "TOOL", "ERROR", **{**tool, "approval.outcome": "denied",
                                                        "approval.source": "user"}),
        _span("5", "4", "hook before_tool: slow", "CHAIN", "ERROR", **{
            "hook.event": "before_tool", "hook.name": "slow", "hook.outcome": "timeout",
            "output.value": "did not finish within 1 s and was killed"}),
    ]
    blocked, block, logged, refused, slow = span_tree(spans)
    assert blocked.endswith("approval not_required · error refused · blocked by hook no-push"), blocked
    assert block.endswith('2 ms · block: "pushing is for humans here"'), block
    assert logged.endswith("2 ms · no opinion"), logged
    assert "blocked by hook" not in refused and "approval denied (user)" in refused, refused
    assert slow.endswith('timeout: "did not finish within 1 s and was killed"'), slow


def test_a_hook_that_hangs_is_killed_and_has_no_opinion(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    marker = tmp_path / "hung-hook-ran"
    hooks = Hooks.load(repo, write_hooks(f"""
[[hooks]]
event = "before_tool"
command = "touch {marker}; exec sleep 61.5"
timeout = 1
name = "slow"
"""))
    warnings: list[str] = []
    hooks.warn = warnings.append
    started = time.monotonic()
    verdict = hooks.before_tool("run_cmd", {"command": "ls"}, Decision("allow", "read-only", "reads"))
    assert time.monotonic() - started < 5
    assert verdict.blocked is None and verdict.approved is None
    assert [r.outcome for r in verdict.runs] == ["timeout"] and marker.exists()
    assert warnings and "did not finish within 1 s and was killed; taken as no opinion" in warnings[0]
    time.sleep(0.2)
    assert subprocess.run(["pgrep", "-u", str(os.geteuid()), "-xf", "sleep 61.5"], capture_output=True).returncode != 0, "it was killed"


def test_a_timed_out_hook_in_a_run_is_a_span_and_the_call_goes_on(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    write_hooks('[[hooks]]\nevent = "before_tool"\ncommand = "sleep 30"\ntimeout = 0.5\nname = "hang"\n')
    replay = write_replay(tmp_path / "r.json", [step("Look.", 'print(run_cmd(command="ls"))'),
                                                step("Done.", 'final_answer("ok")')])
    runs = tmp_path / "runs"
    done = run_cli("--model", f"replay:{replay}", "look", cwd=repo, env={"RUNS_DIR": str(runs)})
    assert done.returncode == 0, done.stderr
    assert "hook hang (before_tool) did not finish within 0.5 s" in done.stderr
    [run] = list(runs.iterdir())
    [hook] = [s for s in spans_of(run) if s["name"] == "hook before_tool: hang"]
    assert hook["attributes"]["hook.outcome"] == "timeout" and hook["status"] == "ERROR"
    [tool] = [s for s in spans_of(run) if s["attributes"].get("tool.name") == "run_cmd"]
    assert '"exit_code": 0' in tool["attributes"]["output.value"]


def test_a_hook_can_approve_an_ask_but_never_a_deny(tmp_path, tools_for):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    write_hooks('[[hooks]]\nevent = "before_tool"\n'
                'command = "echo \'{\\"decision\\": \\"approve\\", \\"reason\\": \\"CI box\\"}\'"\n')
    runtime, tools = tools_for(repo, approval="never")
    runtime.approver.mode_from_default = True  # no terminal; not an explicit --approval never
    result = tools["run_cmd"](command="touch made.txt")
    assert result["exit_code"] == 0 and (repo / "made.txt").exists()
    assert runtime.state.history[-1].outcome == "ok"
    denied = tools["run_cmd"](command="cat .env")
    assert "refused by the command policy" in denied["error"]
    explicit, tools2 = tools_for(repo, approval="never")
    assert "approval mode is 'never'" in tools2["run_cmd"](command="touch other.txt")["error"]


def test_hooks_json_block_and_errors(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    hooks = Hooks.load(repo, write_hooks("""
[[hooks]]
event = "before_tool"
command = "cat > /dev/null; exit 7"
name = "crash"

[[hooks]]
event = "before_tool"
command = "printf '{not json'"
name = "garbled"

[[hooks]]
event = "before_tool"
command = "echo '{\\"decision\\": \\"block\\", \\"reason\\": \\"not on Fridays\\"}'"
name = "friday"

[[hooks]]
event = "before_tool"
command = "echo never runs >&2; exit 2"
name = "after-the-block"
"""))
    warnings: list[str] = []
    hooks.warn = warnings.append
    verdict = hooks.before_tool("read_file", {"path": "a"}, Decision("allow", None, "reads"))
    assert [r.outcome for r in verdict.runs] == ["error", "error", "block"], "the first block ends the run"
    assert verdict.blocked.message == "not on Fridays" and verdict.blocked.hook.name == "friday"
    assert "exited with code 7" in warnings[0] and "starts like JSON" in warnings[1]


@pytest.mark.parametrize("text, message", [
    ('[[hooks]]\nevent = "before_everything"\ncommand = "x"\n',
     r':2, hooks\[0\]\.event: expected one of session_start, session_end, .*; found "before_everything"$'),
    ('[[hooks]]\nevent = "after_tool"\n', r':1, hooks\[0\]\.command: expected this key \(it is required\); found none$'),
    ('[[hooks]]\nevent = "after_tool"\ncommand = "x"\ntimeout = "10"\n', r':4, hooks\[0\]\.timeout: expected a number above 0 and at most 600; found "10"$'),
    ('[[hooks]]\nevent = "after_tool"\ncommand = "x"\ncolour = 1\n',
     r':4, hooks\[0\]\.colour: expected one of the keys event, command, tools, timeout, name; found unknown key "colour"$'),
    ('[[hook]]\nevent = "after_tool"\n', r':1, hook: expected one of the keys hooks; found unknown key "hook"$'),
])
def test_a_bad_hooks_file_stops_start_up_with_its_name(tmp_path, text, message):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    path = write_hooks(text)
    with pytest.raises(HookConfigError, match=message):
        Hooks.load(repo)
    done = run_cli("tool", "repo_info", cwd=repo)
    assert done.returncode == 1 and str(path) in done.stderr, done.stderr


def test_hooks_come_only_from_the_users_config(tmp_path):
    """A repository's hooks.toml, .agent-runtime/hooks.toml or a .env pointing XDG_CONFIG_HOME into
    it never runs anything."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    marker = tmp_path / "repo-hook-ran"
    planted = f'[[hooks]]\nevent = "before_tool"\ncommand = "touch {marker}"\n'
    plant_user_config(repo, "hooks.toml", planted)
    done = run_cli("tool", "repo_info", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


def test_before_approval_and_session_hooks(tmp_path, make_runtime):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    log = tmp_path / "events.jsonl"
    logger = script(tmp_path, "log.py", LOG)
    lines = "".join(f'[[hooks]]\nevent = "{e}"\ncommand = [{json.dumps(sys.executable)}, {json.dumps(logger)}, '
                    f'{json.dumps(str(log))}]\n\n' for e in ("before_approval", "session_start", "session_end"))
    write_hooks(lines)
    from agent_runtime.safety.approval import Approver

    runtime = make_runtime(repo)
    runtime.approver = approver = Approver("ask", interactive=True, prompt=lambda *a: ("n", None))
    approver.before_prompt = runtime.hooks.before_approval
    approver.review("run_cmd", Action("command", command="rm calc.py"), Decision("ask", "change-files", "rm"))
    runtime.hooks.session("session_end", runs=1)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["before_approval", "session_end"]
    assert events[0]["action"] == {"kind": "command", "command": "rm calc.py", "paths": []}
    assert events[0]["policy"]["rule"] == "change-files"


def test_a_hook_without_a_name_is_named_by_its_program(tmp_path):
    """The program's file name, as written: `~/bin/notify` is `notify` (not `notify'`, which quoting
    the argv for a shell gave), a shell line's first word likewise."""
    path = tmp_path / "hooks.toml"
    path.write_text('[[hooks]]\nevent = "after_tool"\ncommand = ["~/bin/notify", "--done"]\n\n'
                    '[[hooks]]\nevent = "after_tool"\ncommand = "  /usr/bin/logger -t agent"\n\n'
                    '[[hooks]]\nevent = "session_end"\ncommand = ["./it\'s here/run me"]\n')
    hooks = Hooks.load(tmp_path, path)
    assert [h.name for h in hooks.hooks] == ["notify", "logger", "run me"]
    assert hooks.hooks[0].argv[0] == os.path.expanduser("~/bin/notify")


def test_a_hook_gets_the_users_environment_not_the_agents_dotenv_switch(tmp_path):
    """The agent turns python-dotenv's load_dotenv off for its own imports (agent_runtime/__init__.py);
    a user's hook that loads its .env must still do so: it gets the switch as the user had it."""
    assert os.environ.get("PYTHON_DOTENV_DISABLED") == "1"  # the agent's own process, imported above
    out = tmp_path / "env.txt"
    path = tmp_path / "hooks.toml"
    code = f"import os; open({str(out)!r}, 'w').write(repr(os.environ.get('PYTHON_DOTENV_DISABLED')))"
    path.write_text(f'[[hooks]]\nevent = "session_start"\ncommand = [{json.dumps(sys.executable)}, "-c", '
                    f'{json.dumps(code)}]\n')
    Hooks.load(tmp_path, path).session("session_start")
    from agent_runtime import USER_DOTENV_SWITCH

    assert out.read_text() == repr(USER_DOTENV_SWITCH)
