"""MCP test helpers: a user's mcp.toml naming the test server (mcp_servers/demo.py, a real SDK server)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent / "tools" / "mcp_servers" / "demo.py"


def write_mcp_config(servers: dict[str, dict]) -> Path:
    """The user's own mcp.toml (XDG_CONFIG_HOME is a temporary directory in every test)."""
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "agent-runtime" / "mcp.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, body in servers.items():
        lines.append(f"[servers.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in body.items() if key != "env"]
        if "env" in body:
            lines.append("env = { " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in body["env"].items()) + " }")
    path.write_text("\n".join(lines) + "\n")
    return path


def demo_server(**extra) -> dict:
    return {"command": [sys.executable, str(DEMO)], "timeout": 60, "startup_timeout": 300, **extra}  # a loaded machine is slow


@pytest.fixture
def mcp_tools(tools_for):
    """(runtime, tools) with the demo server configured as `demo`; every runtime is closed after."""
    opened = []

    def factory(repo: Path, approval: str = "auto", **server):
        write_mcp_config({"demo": demo_server(**server)})
        runtime, tools = tools_for(repo, approval)
        opened.append(runtime)
        return runtime, tools

    yield factory
    for runtime in opened:
        runtime.close()
