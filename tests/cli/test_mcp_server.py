"""`agent-runtime mcp` driven by the official SDK's client, as Claude Code or Codex would: the tools
listed, calls through the one path (policy, approval, sandbox, run records), stdout only protocol."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import ROOT, make_repo, step, write_replay


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
    replay = write_replay(tmp_path / "r.json", [step("Read it.", 'print(read_file(path="README.md"))'),
                                                step("Done.", 'final_answer("It says hello.")')])
    _, [(failed, result)] = call_server(repo, [("run_task", {"task": "What does README.md say?"})],
                                        env={"MODEL_ID": f"replay:{replay}"})
    assert not failed and result["status"] == "answered" and result["answer"] == "It says hello."
    assert result["run_id"]
