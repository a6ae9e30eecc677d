"""`agent-runtime mcp` driven by the official SDK's client, as Claude Code or Codex would: the tools
listed, calls through the one path (policy, approval, sandbox, run records), stdout only protocol."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import ROOT, make_repo, write_replay


def call_server(repo: Path, calls: list[tuple[str, dict]], *options: str, env: dict | None = None):
    """(tool names listed, [(is_error, parsed result)]) from one server session."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def session():
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "agent_runtime", "--repo", str(repo), *options, "mcp"],
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=str(repo))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                listed = [tool.name for tool in (await client.list_tools()).tools]
                results = []
                for name, arguments in calls:
                    got = await client.call_tool(name, arguments)
                    results.append((got.isError, json.loads(got.content[0].text)))
                return listed, results

    return asyncio.run(asyncio.wait_for(session(), 600))


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_repo(tmp_path / "project", {"README.md": "hello\n", ".env": "API_KEY=mcp-server-secret-4711\n"})


def test_the_tools_are_listed_and_called_through_the_one_path(repo, tmp_path):
    listed, results = call_server(repo, [("read_file", {"path": "README.md"}), ("run_cmd", {"command": "ls"}),
                                         ("read_file", {"path": "README.md", "colour": "red"}),
                                         ("git_status", {})])
    assert {"repo_info", "read_file", "rg_search", "git_diff", "propose_patch", "apply_patch", "run_cmd",
            "run_tests", "run_task"} <= set(listed)
    assert "undo_patch" not in listed and "remember" not in listed
    (ok, read), (ok2, ran), (bad, refused), (ok3, status) = results
    assert not ok and read["content"] == "hello\n"
    assert not ok2 and ran["stdout"] == "README.md\n" and ran["sandbox"] == "bwrap"
    assert bad and "has no argument 'colour'" in refused["error"]  # our validator, recorded as a run
    runs = sorted((Path(os.environ["XDG_STATE_HOME"]) / "agent-runtime" / "runs").iterdir())
    assert len(runs) == 4 and all((run / "trace.jsonl").exists() for run in runs)


def test_the_server_refuses_what_the_policy_refuses(repo, tmp_path):
    policy = tmp_path / "policy.toml"
    from agent_runtime.safety.policy.engine import SHIPPED_POLICY

    policy.write_text(SHIPPED_POLICY.read_text() + '\n[[rules]]\nid = "no-cowsay"\npattern = [["cowsay"]]\n'
                      'decision = "deny"\nreason = "no cows"\nmatch = ["cowsay hi"]\n')
    calls = [("run_cmd", {"command": "rm -rf /"}), ("run_cmd", {"command": "cowsay hi"}),
             ("read_file", {"path": ".env"}), ("run_cmd", {"command": "cat .env"}),
             ("run_cmd", {"command": "git push origin main"}), ("rg_search", {"pattern": "mcp-server-secret"})]
    _, results = call_server(repo, calls, env={"POLICY_FILE": str(policy)})
    rm, cow, env_file, cat_env, push, search = results
    assert rm[0] and "refused by the command policy" in rm[1]["error"]
    assert cow[0] and "no cows" in cow[1]["error"]
    assert env_file[0] and "deny_read" in env_file[1]["error"]
    assert cat_env[0] and "refused by the command policy" in cat_env[1]["error"]
    # ask-level: refused under the default approval (never), with the policy's reason
    assert push[0] and "approval mode is 'never'" in push[1]["error"]
    assert "mcp-server-secret-4711" not in json.dumps(results) and "no matches" in search[1].get("note", json.dumps(search))


def test_auto_approves_an_ask_but_never_a_deny(repo):
    calls = [("run_cmd", {"command": "touch made.txt"}), ("run_cmd", {"command": "rm -rf /"})]
    _, (made, rm) = call_server(repo, calls, "--approval", "auto")
    assert not made[0] and (repo / "made.txt").exists()
    assert rm[0] and "refused by the command policy" in rm[1]["error"]


def test_run_task_runs_one_agent_task(repo, tmp_path):
    # A question about a file shown whole: answered in one request, in plain words (agent/answer.py).
    replay = write_replay(tmp_path / "r.json", ["It says hello."])
    _, [(failed, result)] = call_server(repo, [("run_task", {"task": "What does README.md say?"})],
                                        env={"MODEL_ID": f"replay:{replay}"})
    assert not failed and result["status"] == "answered" and result["answer"] == "It says hello."
    assert result["run_id"]


def test_a_client_cannot_write_configuration_or_read_outside_even_with_auto(repo, tmp_path):
    """Attacks a client may send: a patch to .git/hooks or .env, reads by ../, an absolute path or a
    symlink in the repository pointing out. Refused by the policy, so --approval auto does not help."""
    (tmp_path / "outside.txt").write_text("outside-secret-4711\n")
    (repo / "link.txt").symlink_to(tmp_path / "outside.txt")
    hook = ("--- /dev/null\n+++ b/.git/hooks/pre-commit\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+touch /tmp/pwned\n")
    env_patch = ("--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-API_KEY=mcp-server-secret-4711\n+API_KEY=stolen\n")
    calls = [("propose_patch_unified", {"diff": hook}), ("apply_patch", {"patch_id": "p1"}),
             ("propose_patch_unified", {"diff": env_patch}), ("apply_patch", {"patch_id": "p2"}),
             ("propose_patch", {"path": ".git/config", "old": "[core]", "new": "[core]\n\thooksPath = /tmp"}),
             ("read_file", {"path": "../outside.txt"}), ("read_file", {"path": str(tmp_path / "outside.txt")}),
             ("read_file", {"path": "link.txt"})]
    _, results = call_server(repo, calls, "--approval", "auto")
    assert all(failed for failed, _ in results), results
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert "stolen" not in (repo / ".env").read_text() and "hooksPath" not in (repo / ".git" / "config").read_text()
    assert "outside-secret-4711" not in json.dumps(results)


def test_stdout_carries_only_the_protocol_whatever_a_client_sends(repo):
    """Malformed JSON-RPC, a 5 MB request, a command that prints: every line on stdout is a JSON-RPC
    message, and the server still answers."""
    import subprocess

    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "attack", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]
    lines = [json.dumps(r) for r in requests]
    lines += ["this is not json", '{"jsonrpc": "2.0", "id": 2, "method": 7}', "\x00\xff{{{", "[]",
              json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                          "params": {"name": "read_file", "arguments": {"path": "x" * 5_000_000}}}),
              json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                          "params": {"name": "run_cmd", "arguments": {"command": "echo printed-by-a-command"}}}),
              json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                          "params": {"name": "no_such_tool", "arguments": {}}}),
              json.dumps({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                          "params": {"name": "read_file", "arguments": {"path": "README.md"}}})]
    server = subprocess.Popen([sys.executable, "-m", "agent_runtime", "--repo", str(repo), "--approval", "auto", "mcp"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=str(repo), env={**os.environ, "PYTHONPATH": str(ROOT)})
    messages = []
    try:
        server.stdin.write("\n".join(lines) + "\n")
        server.stdin.flush()
        while not any(m.get("id") == 6 for m in messages):  # stdin stays open until the last answer
            line = server.stdout.readline()
            assert line, f"the server stopped; it said {messages}"
            messages.append(json.loads(line))  # every line parses
    finally:
        server.stdin.close()
        server.wait(60)
    assert all(m.get("jsonrpc") == "2.0" for m in messages)
    answers = {m["id"]: m for m in messages if "id" in m}
    assert answers[3]["result"]["isError"]  # the huge path refused by the tool's checks
    ran = json.loads(answers[4]["result"]["content"][0]["text"])
    assert ran["stdout"] == "printed-by-a-command\n"  # inside the result, not loose on stdout
    assert answers[5]["result"]["isError"]
    assert json.loads(answers[6]["result"]["content"][0]["text"])["content"] == "hello\n"  # it still answers
