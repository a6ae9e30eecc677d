"""The MCP client: a real SDK server (mcp_servers/demo.py) started by the client code, its tools through
the one tool path: schema validation, policy by name, approval, timeouts, shaping, records, spans."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from conftest import make_repo, processes
from mcp_helpers import DEMO, demo_server, write_mcp_config


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_repo(tmp_path / "project", {"README.md": "hello\n"})


def test_server_tools_are_listed_and_called_like_built_in_ones(repo, mcp_tools):
    runtime, tools = mcp_tools(repo, approval="never", allow=["add"])
    add = tools["mcp__demo__add"]
    assert add.inputs["a"]["type"] == "integer" and not add.inputs["a"].get("nullable")
    assert "Add two whole numbers" in add.description
    assert {"mcp__demo__read_path", "mcp__demo__hang", "read_file"} <= set(tools)
    result = add(a=2, b="3")  # coerced as any tool's integer input
    assert result["content"] == "5" and result["sandbox"] == "bwrap"
    record = runtime.state.history[-1]
    assert record.tool == "mcp__demo__add" and record.outcome == "ok"
    # Not allowed by name: asked, and with --approval never refused with the reason.
    refused = tools["mcp__demo__pick"](color="red")
    assert "needs approval" in refused["error"] and "mcp__demo__pick" in refused["error"]


def test_arguments_that_break_the_schema_are_refused_before_the_call(repo, mcp_tools):
    runtime, tools = mcp_tools(repo)
    add, pick = tools["mcp__demo__add"], tools["mcp__demo__pick"]
    assert "has no argument 'c'" in add(a=1, c=2)["error"]  # unknown key
    assert "needs the argument 'b'" in add(a=1)["error"]  # required
    assert "must be of type integer" in add(a=1, b="three")["error"]  # type
    assert "does not fit the tool's schema" in pick(color="red", sizes=[1, "x"])["error"]  # nested item type
    assert pick(color="red", sizes=[1, 2])["content"] == "red [1, 2]"
    refused = [r for r in runtime.state.history if r.outcome != "ok"]
    assert len(refused) == 4 and all(r.error_type == "invalid_input" for r in refused)


def test_a_denied_tool_is_refused_whatever_the_approval_mode_and_the_span_says_why(repo, tmp_path, make_runtime):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agent_runtime.redact import Redactor
    from agent_runtime.telemetry.spans import Telemetry
    from agent_runtime.tools import build_tools

    write_mcp_config({"demo": demo_server(deny=["read_*"], allow=["*"])})
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    runtime = make_runtime(repo, "auto", telemetry=Telemetry(provider, Redactor([])))
    try:
        tools = {t.name: t for t in build_tools(runtime)}
        calls = []
        runtime.call_listeners.append(lambda record, decision, approval: calls.append((record, decision)))
        result = tools["mcp__demo__read_path"](path="README.md")
        assert "refused by the command policy" in result["error"] and "read_*" in result["error"]
        assert tools["mcp__demo__add"](a=1, b=1)["content"] == "2"  # deny is stricter than allow = ["*"]
    finally:
        runtime.close()
    record, decision = calls[0]
    assert record.outcome == "refused" and decision.decision == "deny" and decision.rule == "mcp:mcp__demo__read_*"
    span = next(s for s in exporter.get_finished_spans() if "mcp__demo__read_path" in s.name)
    assert span.attributes["policy.decision"] == "deny"
    assert "read_*" in span.attributes["policy.reason"] and span.attributes["error.type"] == "refused"


def test_the_policy_files_mcp_table_decides_too(repo, tmp_path, make_runtime, monkeypatch):
    from agent_runtime.safety.policy.engine import SHIPPED_POLICY
    from agent_runtime.tools import build_tools

    policy = tmp_path / "policy.toml"
    policy.write_text(SHIPPED_POLICY.read_text() + '\n[mcp]\ndeny = ["mcp__*__add"]\n')
    write_mcp_config({"demo": demo_server(allow=["add"])})
    runtime = make_runtime(repo, "auto", env={"POLICY_FILE": str(policy)})
    try:
        tools = {t.name: t for t in build_tools(runtime)}
        assert "refused by the command policy" in tools["mcp__demo__add"](a=1, b=2)["error"]
    finally:
        runtime.close()


def test_huge_output_is_truncated_and_errors_and_crashes_are_clear_and_the_session_goes_on(repo, mcp_tools):
    runtime, tools = mcp_tools(repo)
    huge = tools["mcp__demo__huge"]()
    assert huge["truncated"] is True and len(huge["content"]) < 5000 and "truncated" in huge["content"]
    failed = tools["mcp__demo__boom"]()
    assert "returned an error" in failed["error"] and "the widget is broken" in failed["error"]
    assert failed["recovery_suggestion"]
    crashed = tools["mcp__demo__crash"]()
    assert "failed on crash" in crashed["error"] and "about to crash" in crashed["error"], crashed
    assert tools["mcp__demo__add"](a=20, b=22)["content"] == "42"  # started again


def test_a_hung_server_times_out_and_its_process_is_gone(repo, mcp_tools):
    runtime, tools = mcp_tools(repo, timeout=3)
    assert processes(str(DEMO), repo)
    started = time.monotonic()
    result = tools["mcp__demo__hang"]()
    assert time.monotonic() - started < 3 + 15
    assert "did not answer hang within 3 s" in result["error"] and "was stopped" in result["error"]
    assert runtime.state.history[-1].error_type == "timeout"
    assert processes(str(DEMO), repo) == []
    assert tools["mcp__demo__add"](a=1, b=2)["content"] == "3"  # the next call starts it again
    runtime.close()
    assert processes(str(DEMO), repo) == []  # closed with the runtime


def test_a_repository_cannot_add_a_server(tmp_path, tools_for, monkeypatch):
    """Only the user's own mcp.toml starts a program: a repository's files of every name tried are
    not read, and its .env cannot move the configuration directory."""
    marker = tmp_path / "started"
    evil = {"command": ["sh", "-c", f"touch {marker}"]}
    repo = make_repo(tmp_path / "project", {
        ".mcp.json": '{"mcpServers": {"evil": {"command": "sh", "args": ["-c", "touch %s"]}}}' % marker,
        "mcp.toml": f'[servers.evil]\ncommand = {evil["command"]!r}\n'.replace("'", '"'),
        ".agent-runtime/mcp.toml": f'[servers.evil]\ncommand = {evil["command"]!r}\n'.replace("'", '"'),
        ".env": f"XDG_CONFIG_HOME={tmp_path / 'project' / '.agent-runtime'}\nMCP_CONFIG=mcp.toml\n",
    })
    monkeypatch.chdir(repo)
    from agent_runtime.config import load_config

    load_config(repo)  # a repository's .env enters nothing
    assert os.environ["XDG_CONFIG_HOME"] != str(repo / ".agent-runtime")
    runtime, tools = tools_for(repo)
    try:
        assert runtime.mcp is None and not [n for n in tools if n.startswith("mcp__")]
    finally:
        runtime.close()
    assert not marker.exists()


def test_a_server_that_cannot_start_is_left_out_with_a_warning(repo, tools_for):
    write_mcp_config({"broken": {"command": ["/nonexistent/server"], "startup_timeout": 10}})
    runtime, tools = tools_for(repo)
    try:
        assert "read_file" in tools and not [n for n in tools if n.startswith("mcp__")]
    finally:
        runtime.close()


def test_an_invalid_configuration_stops_start_up_naming_the_key(repo, tools_for):
    from agent_runtime.config import ConfigError

    write_mcp_config({"demo": demo_server(tiemout=3)})
    with pytest.raises(ConfigError, match=r"servers.demo.*tiemout"):
        tools_for(repo)


def test_a_server_that_never_answers_its_start_is_left_out_in_its_startup_timeout_and_stopped(repo, tools_for):
    """A server that does not answer `initialize` (a hang; `npx -y` downloading without network): the
    session goes on without it after startup_timeout and a few seconds of stopping it, not a minute more,
    with a warning that says what to change, and its process is gone."""
    from agent_runtime.tools.mcpclient import McpClients

    hostile = Path(__file__).resolve().parent / "mcp_servers" / "hostile.py"
    write_mcp_config({"slow": {"command": [sys.executable, str(hostile)], "startup_timeout": 3,
                               "env": {"HOSTILE_START": "hang"}}})
    warned: list[str] = []
    started = time.monotonic()
    runtime, tools = tools_for(repo)
    try:
        runtime.mcp.warn = warned.append
        assert McpClients.started(runtime.mcp) == [] and not [n for n in tools if n.startswith("mcp__")]
        # two starts (the tools' and this one), each its 3 s and the stopping (about 4 s, more on a loaded
        # machine); a start that waited for a stop it never reached took 3 + 30 s
        assert time.monotonic() - started < 55, "two starts, each bounded"
        assert "did not answer in time (startup_timeout 3 s; it has no network" in warned[0], warned
        deadline = time.monotonic() + 10  # killed: gone within moments, even on a loaded machine
        while processes(str(hostile), repo) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes(str(hostile), repo) == []
    finally:
        closing = time.monotonic()
        runtime.close()
    assert time.monotonic() - closing < 10, "nothing left to wait for at close"


@pytest.mark.parametrize("folder", ["servers", "my servers ✓ é"])
def test_a_server_under_tmp_starts_from_where_its_command_is(repo, tmp_path, tools_for, folder):
    """The sandbox's /tmp is private, but a server the user configured under /tmp (outside the workspace) is bound
    back read-only: its folder, not the rest of /tmp, and not a secret file beside it."""
    import shutil

    home = tmp_path / folder
    home.mkdir()
    server = home / "server.py"
    shutil.copy(DEMO, server)
    (home / ".env").write_text("TOKEN=beside-the-server-4711\n")
    (home / "notes.txt").write_text("the server's own file\n")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not for the server\n")
    write_mcp_config({"tmp": {"command": [sys.executable, str(server)], "timeout": 60, "startup_timeout": 300}})
    warned: list[str] = []
    runtime, tools = tools_for(repo, "auto")
    try:
        runtime.mcp.warn = warned.append
        assert tools["mcp__tmp__add"](a=2, b=3)["content"] == "5", warned
        got = tools["mcp__tmp__read_path"](path=str(home / "notes.txt"))
        assert "the server's own file" in got.get("content", ""), got
        for hidden in (home / ".env", elsewhere):
            seen = str(tools["mcp__tmp__read_path"](path=str(hidden)))
            assert "4711" not in seen and "not for the server" not in seen, seen
        tools["mcp__tmp__write_path"](path=str(home / "created"), text="x")
        assert not (home / "created").exists(), "bound read-only"
    finally:
        runtime.close()
