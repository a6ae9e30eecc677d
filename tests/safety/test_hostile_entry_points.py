"""Every way in, over the hostile repository (tests/hostile_repo.py, issue 30): every tool of the
runtime, `policy check`, `tool`, `agent-runtime mcp` and a replayed task. Nothing of the
repository's runs on the host (no marker file is written) and no planted secret appears in any
output, run file or span. Run as root and as an unprivileged user (tests/safety/test_unprivileged.py)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from conftest import ROOT, run_cli, step, write_replay

FIX = "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a + b\n+    return b + a\n"
GIT_COMMANDS = ["git log -p", "git -C vendor/lib log -p", "git -C vendor/out log -p", "git -C vendor/link log -p",
                "git status", "git diff", "git show HEAD~1", "git log -p --all", "git diff HEAD~2"]
TOOL_CALLS = [
    ("repo_info", {}), ("list_files", {}), ("rg_search", {"pattern": "sk-hostile"}),
    ("rg_search", {"pattern": "HOSTILEKEY", "path": "."}), ("read_file", {"path": "app.py"}),
    ("read_file", {"path": ".env"}), ("read_file", {"path": "id_rsa"}),
    ("read_file_snippet", {"path": "app.py", "pattern": "def"}), ("outline", {"path": "app.py"}),
    ("read_symbol", {"path": "app.py", "name": "add"}), ("find_symbol", {"name": "add"}),
    ("git_status", {}), ("git_diff", {}), ("git_diff", {"staged": True}), ("git_diff", {"path": "notes.txt"}),
    ("git_diff", {"path": "vendor/lib"}), ("git_log", {}), ("git_log", {"path": "deploy"}),
    ("git_log", {"path": "vendor/lib"}), ("propose_patch_unified", {"diff": FIX}),
    ("propose_patch", {"path": "app.py", "old": "a + b", "new": "a + b + 0"}),
    ("propose_file", {"path": "new.py", "content": "x = 1\n"}),
    ("replace_symbol", {"path": "app.py", "name": "add", "source": "def add(a, b):\n    return a + b\n"}),
    ("show_patch", {"patch_id": "p1"}), ("apply_patch", {"patch_id": "p1"}), ("undo_patch", {"patch_id": "p1"}),
    *[("run_cmd", {"command": command}) for command in GIT_COMMANDS],
    ("run_tests", {"command": "python -m pytest -q"}), ("remember", {"note": "the tests run with pytest"}),
    ("promote_tool", {"path": "app.py", "function": "add", "name": "add_numbers"}),
]


def assert_nothing_ran_or_leaked(hostile, texts: list[str]) -> None:
    assert hostile.markers_written() == [], "the repository's programs ran on the host"
    leaked = [(s, t[max(0, t.find(s) - 200):t.find(s) + 50]) for t in texts for s in hostile.leaked(t)]
    assert leaked == [], leaked


def run_files(state: Path) -> list[str]:
    """Every file the runs left: records, steps, spans."""
    runs = state / "agent-runtime"
    return [p.read_text(errors="replace") for p in runs.rglob("*") if p.is_file()] if runs.exists() else []


def test_every_tool_over_the_hostile_repository(hostile, tools_for, isolated_state):
    from agent_runtime.tools import tool_classes

    assert {name for name, _ in TOOL_CALLS} == {cls.name for cls in tool_classes()}, "a tool is not driven here"
    outputs = []
    for approval in ("never", "auto"):
        _, tools = tools_for(hostile.root, approval)
        for name, args in TOOL_CALLS:
            if approval == "auto" and name in ("run_cmd", "run_tests"):
                continue  # approved, they run in the sandbox: what it contains is tests/safety/test_containment.py
            outputs.append(f"{name} {args}: {json.dumps(tools[name](**args), default=str)}")
    assert_nothing_ran_or_leaked(hostile, outputs + run_files(isolated_state))
    joined = "\n".join(outputs)
    assert "could not be checked" in joined or "git-history" in joined  # `git log -p` was judged, and asked
    assert "notes, changed" in joined  # the git tools still work on the hostile repository


def test_the_cli_policy_check_and_tool_over_the_hostile_repository(hostile, isolated_state):
    outputs = []
    for command in GIT_COMMANDS[:4]:
        done = run_cli("--approval", "never", "policy", "check", command, cwd=hostile.root)
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 10, (command, done.stdout, done.stderr)  # asked: the history cannot be checked
    for name, args in [("git_status", {}), ("git_diff", {}), ("git_log", {}), ("repo_info", {}),
                       ("run_cmd", {"command": "git log -p"}), ("run_cmd", {"command": "git -C vendor/lib log -p"})]:
        done = run_cli("--approval", "never", "tool", name, json.dumps(args), cwd=hostile.root)
        outputs.append(done.stdout + done.stderr)
    assert_nothing_ran_or_leaked(hostile, outputs + run_files(isolated_state))


def call_server(repo: Path, calls: list[tuple[str, dict]]) -> list[str]:
    """`agent-runtime mcp` driven by the SDK's client (as tests/cli/test_mcp_server.py): each result's text."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def session():
        params = StdioServerParameters(command=sys.executable, args=["-m", "agent_runtime", "--repo", str(repo), "mcp"],
                                       env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                           filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))}, cwd=str(repo))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                return [(await client.call_tool(name, arguments)).content[0].text for name, arguments in calls]

    return asyncio.run(asyncio.wait_for(session(), 600))


def test_the_mcp_server_over_the_hostile_repository(hostile, isolated_state):
    calls = [("run_cmd", {"command": command}) for command in GIT_COMMANDS[:4]]
    calls += [("git_status", {}), ("git_diff", {}), ("repo_info", {})]
    outputs = call_server(hostile.root, calls)
    assert all("approval mode is 'never'" in text for text in outputs[:4]), outputs[:4]
    assert_nothing_ran_or_leaked(hostile, outputs + run_files(isolated_state))


def test_a_replayed_task_over_the_hostile_repository(hostile, tmp_path, isolated_state):
    code = "\n".join(f"print({call})" for call in (
        "repo_info()", "git_status()", "git_diff()", "git_log()",
        *[f"run_cmd(command={command!r})" for command in GIT_COMMANDS[:4]]))
    replay = write_replay(tmp_path / "replay.json", [step("Look at the repository.", code),
                                                     step("Done.", 'final_answer("looked")')])
    done = run_cli("--approval", "never", "--model", f"replay:{replay}", "look at the repository", cwd=hostile.root)
    assert done.returncode == 5, done.stdout + done.stderr  # answered, but the history reads were refused
    files = run_files(isolated_state)
    assert any("git_status" in text for text in files), "the run's steps were recorded"
    assert_nothing_ran_or_leaked(hostile, [done.stdout + done.stderr, *files])
