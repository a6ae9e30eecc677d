"""A configured MCP server that turns hostile: inside bubblewrap it cannot read the workspace's or the
directories' above `.env`, the user's agent-runtime configuration (where its own tokens are), write
outside the workspace or into its configuration, reach the network, or see the agent's secrets. Run
as root and as an unprivileged user (tests/safety/test_unprivileged.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import make_repo

SECRET = "mcp-sandbox-secret-4711"


@pytest.fixture
def hostile(tmp_path, mcp_tools, monkeypatch):
    (tmp_path / ".env").write_text(f"PARENT_TOKEN={SECRET}\n")  # a .env above the workspace
    repo = make_repo(tmp_path / "project", {"README.md": "hello\n", ".env": f"API_KEY={SECRET}\n"})
    monkeypatch.setenv("GITHUB_TOKEN", SECRET)  # the agent's own environment
    runtime, tools = mcp_tools(repo, allow=["*"], env={"SERVER_SETTING": "visible", "SERVER_API_TOKEN": SECRET + "-cfg"})
    return repo, runtime, tools


def behind_the_policy(runtime, tool: str, **arguments) -> str:
    """What the server answers when called directly, as if the policy had let the call through: the
    sandbox alone (the tool path judges these arguments first, tests/tools/test_mcp_attacks.py)."""
    result = runtime.mcp.servers["demo"].call(tool, arguments)
    return "\n".join(getattr(item, "text", "") for item in result.content)


def test_secrets_are_out_of_a_servers_reach(hostile):
    repo, runtime, tools = hostile
    read = tools["mcp__demo__read_path"]
    assert read(path="README.md")["content"] == "READ:hello\n"  # its working directory is the workspace
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "agent-runtime" / "mcp.toml"
    for path in (str(repo / ".env"), ".env", str(repo.parent / ".env"), str(config), "/root/.ssh/id_rsa"):
        got = read(path=path)  # refused (deny_read) or asked (outside the workspace: approved here, auto)
        assert SECRET not in str(got) and ("error" in got or got["content"].startswith("FAILED")), (path, got)
        behind = behind_the_policy(runtime, "read_path", path=path)
        assert SECRET not in behind and behind.startswith("FAILED"), (path, behind)
    environment = tools["mcp__demo__environment"]()["content"]
    assert "GITHUB_TOKEN" not in environment and "SERVER_SETTING=visible" in environment
    # What the user gave the server is its own; it is redacted from spans and records like other secrets.
    from agent_runtime.redact import Redactor

    assert SECRET + "-cfg" not in Redactor.for_session(repo)(environment)


def test_a_server_writes_only_in_the_workspace_and_not_its_configuration(hostile, tmp_path):
    repo, runtime, tools = hostile
    write = tools["mcp__demo__write_path"]
    assert write(path="notes.txt", text="ok")["content"] == "WROTE"
    for path in ("/etc/agent-runtime-mcp-test", ".git/hooks/pre-commit", ".git/config", str(Path.home() / "x"),
                 str(Path(os.environ["XDG_CONFIG_HOME"]) / "agent-runtime" / "mcp.toml")):
        got = write(path=path, text="pwned")  # .git/config is refused first (deny_read)
        assert "error" in got or got["content"].startswith("FAILED"), (path, got)
        assert behind_the_policy(runtime, "write_path", path=path, text="pwned").startswith("FAILED"), path
    write(path=str(tmp_path / "outside.txt"), text="pwned")  # the sandbox's /tmp is its own: lost with it
    assert not (tmp_path / "outside.txt").exists() and not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert "pwned" not in (repo / ".git" / "config").read_text()


def test_a_server_has_no_network_unless_the_user_grants_it(hostile, loopback_listener):
    repo, runtime, tools = hostile
    port, accepted = loopback_listener
    got = tools["mcp__demo__connect"](host="127.0.0.1", port=port)
    assert got["content"].startswith("FAILED"), got
    assert accepted == []


def test_git_configuration_a_server_creates_is_taken_out_after_its_call(hostile, caplog):
    """A server runs for the whole session: what it plants for the host's git (a `.git` file pointing
    at a config of its own) is taken out when its call returns, not only when it stops."""
    repo, runtime, tools = hostile
    (repo / "sub").mkdir()
    got = behind_the_policy(runtime, "write_path", path="sub/.git", text="gitdir: ../evil\n")
    assert got == "WROTE"
    assert not os.path.lexists(repo / "sub" / ".git"), "taken out before the host goes on"
    assert "created sub/.git" in caplog.text
    assert tools["mcp__demo__read_path"](path="README.md")["content"] == "READ:hello\n", "the server runs on"
