"""`agent-runtime tools` with the user's MCP servers: their tools listed beside the built-in ones (each
server started in the sandbox as a session starts it, then stopped), inputs from the JSON schema, the
policy's decision for each name and where it comes from; a server that cannot start or list is a
note, an invalid mcp.toml an error; without mcp.toml nothing changes and the SDK is not imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, make_repo, processes, run_cli
from mcp_helpers import DEMO, demo_server, write_mcp_config

HOSTILE = Path(__file__).resolve().parents[1] / "tools" / "mcp_servers" / "hostile.py"
BUILT_IN_KEYS = {"name", "description", "inputs", "approval"}


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_repo(tmp_path / "project", BUGGY_PROJECT)


def test_mcp_tools_are_listed_with_inputs_decisions_and_their_server(repo, tmp_path):
    policy = tmp_path / "policy.toml"
    from agent_runtime.safety.policy.engine import SHIPPED_POLICY

    policy.write_text(SHIPPED_POLICY.read_text() + '\n[mcp]\ndeny = ["mcp__*__environment"]\n')
    write_mcp_config({
        "demo": demo_server(allow=["add"], deny=["read_*"]),
        "broken": {"command": ["/nonexistent/server"], "startup_timeout": 30},
        "lister": {"command": [sys.executable, str(HOSTILE)], "startup_timeout": 300,
                   "env": {"HOSTILE_LIST": "fail"}},
    })
    done = run_cli("tools", "--json", cwd=repo, env={"POLICY_FILE": str(policy)})
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["read_file"].keys() == BUILT_IN_KEYS and rows["apply_patch"]["approval"] == "always"
    add, pick = rows["mcp__demo__add"], rows["mcp__demo__pick"]
    assert add["server"] == "demo" and add["description"] == "[MCP server demo] Add two whole numbers."
    assert add["inputs"]["a"] == {"type": "integer", "required": True, "description": "A"}
    assert pick["inputs"]["sizes"]["required"] is False and pick["inputs"]["color"]["type"] == "string"
    # the decision for each name, and where it was set: mcp.toml, the server's default, the policy file
    assert (add["approval"], add["approval_rule"]) == ("allow", "mcp:mcp__demo__add")
    assert "your MCP configuration, server demo" in add["approval_reason"]
    assert (pick["approval"], pick["approval_rule"], pick["approved_by"]) == ("ask", "mcp-default", None)
    assert rows["mcp__demo__read_path"]["approval"] == "deny"
    environment = rows["mcp__demo__environment"]
    assert environment["approval"] == "deny" and str(policy) in environment["approval_reason"]
    # the servers that cannot start, or start and cannot list, are one line each; the rest are listed
    notes = [line for line in done.stderr.splitlines() if line.startswith("agent-runtime: note: ")]
    assert any("MCP server broken did not start" in n for n in notes), done.stderr
    assert any("MCP server lister did not start" in n and "the tool list is broken" in n for n in notes), done.stderr
    assert not [n for n in rows if n.startswith(("mcp__broken__", "mcp__lister__"))]
    assert "Traceback" not in done.stderr
    assert processes(str(DEMO), repo) == [] and processes(str(HOSTILE), repo) == [], "every server is stopped"
    text = run_cli("tools", cwd=repo, env={"POLICY_FILE": str(policy)})
    assert text.returncode == 0, text.stderr
    assert "mcp__demo__pick(color: string, sizes?: any)\n    [MCP server demo] Echo a color" in text.stdout
    assert ("    approval: allow: MCP tool mcp__demo__add matches 'mcp__demo__add' (your MCP configuration, "
            "server demo)") in text.stdout
    assert "read_file(path: string, start_line?: integer, end_line?: integer)" in text.stdout


def test_the_servers_are_listed_from_inside_the_sandbox(repo):
    """Listing starts a server as a session does: a server that reads a secret at start finds it hidden."""
    (repo / ".env").write_text("API_KEY=listing-secret-4711\n")
    probe = repo / "probe_server.py"  # a server under /tmp outside the workspace is not visible in the sandbox
    probe.write_text(
        "import os\nfrom mcp.server.fastmcp import FastMCP\n"
        "server = FastMCP('probe')\n"
        "try:\n    SEEN = open('.env').read()\nexcept OSError as exc:\n    SEEN = 'HIDDEN ' + type(exc).__name__\n"
        "server.tool(name='seen', description='At start: ' + SEEN.strip())(lambda: SEEN)\n"
        "server.run()\n")
    write_mcp_config({"probe": {"command": [sys.executable, str(probe)], "startup_timeout": 300}})
    done = run_cli("tools", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    [seen] = [row for row in json.loads(done.stdout) if row["name"] == "mcp__probe__seen"]
    assert "listing-secret-4711" not in seen["description"] and "At start: HIDDEN" in seen["description"], seen


def test_an_invalid_mcp_toml_is_one_clear_error_as_for_a_session(repo, tmp_path):
    write_mcp_config({"demo": demo_server(tiemout=3)})
    done = run_cli("tools", cwd=repo)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("agent-runtime: error: ") and 'servers.demo.tiemout: expected one of the keys command, ' in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    replay = tmp_path / "r.json"
    replay.write_text(json.dumps(['Thought: done.\n<code>\nfinal_answer("hi")\n</code>']))
    session = run_cli("--model", f"replay:{replay}", "say hi", cwd=repo)
    assert session.returncode == 1 and 'servers.demo.tiemout: expected one of the keys command, ' in session.stderr
    # `agent-runtime tool` too: the same line, not an internal error
    tool = run_cli("tool", "read_file", '{"path": "calc.py"}', cwd=repo)
    assert tool.returncode == 1 and 'found unknown key "tiemout"' in tool.stderr and "internal error" not in tool.stderr


def test_without_mcp_toml_the_listing_is_unchanged_and_the_sdk_is_not_imported(repo):
    code = ("import sys; from agent_runtime.cli.main import main; code = main(['tools', '--json']); "
            "print('SDK' if 'mcp' in sys.modules else 'NO-SDK', code)")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=300,
                          env=os.environ)
    assert done.returncode == 0, done.stderr
    listing, _, last = done.stdout.rstrip("\n").rpartition("\n")
    assert last == "NO-SDK 0"
    rows = json.loads(listing)
    assert all(row.keys() == BUILT_IN_KEYS for row in rows) and len(rows) == 22
    assert done.stderr == ""
