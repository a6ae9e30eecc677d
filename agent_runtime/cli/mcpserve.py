"""`agent-runtime mcp`: the safe tools and a run-a-task tool served over MCP stdio.

Every call goes through `Runtime.invoke` (tools/wrapper.py), as `agent-runtime tool` does: the
arguments are validated by the tool's own checks (not the SDK's), the policy and approval
apply, commands run in the sandbox, and each call is a run with its trace (`agent-runtime runs`).

Stdout is the protocol: before anything else runs, file descriptor 1 is pointed at stderr and
the protocol gets a private copy of the real stdout, so neither a stray print nor a child process
can write into it. There is no terminal to ask at: an `ask` follows `--approval` (APPROVAL_MODE):
`never` (the default) refuses it with the policy's reason, `auto` approves it; a `deny` is refused
either way. `ask` and `judge` cannot prompt here and act as `never`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from agent_runtime.config import Settings
from agent_runtime.core import Action
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import int_check, text_check

# What a client may call: reading, searching, git, patches (apply under approval), commands and
# tests under the policy. Not undo_patch, remember, replace_symbol or propose_file: what a client
# needs is here, and the rest change the project's history or instructions.
SERVED = ("repo_info", "list_files", "rg_search", "read_file", "read_symbol", "git_status", "git_diff", "git_log",
          "propose_patch", "propose_patch_unified", "show_patch", "apply_patch", "run_cmd", "run_tests")
PROMPTLESS = ("auto", "never")


class RunTaskTool(RuntimeTool):
    """One agent task, as `agent-runtime "TASK"` runs it: its own session (model, runtime, run
    record), with this server's approval mode. The task's every tool call is judged on its own."""

    name = "run_task"
    description = ("Run one coding-agent task in the repository (the agent reads, edits under approval, runs "
                   "tests) and return its final answer.")
    inputs = {
        "task": {"type": "string", "description": "what the agent should do, in plain words"},
        "max_steps": {"type": "integer", "description": "at most this many steps (default AGENT_MAX_STEPS)",
                      "nullable": True},
    }
    checks = {"task": text_check("task", allow_empty=False), "max_steps": int_check("max_steps", high=1000)}

    def action(self, task: str, **_: Any) -> Action:
        # The task reads the workspace; what it runs or changes is judged call by call in its session.
        return self.reads()

    def run(self, task: str, max_steps: int | None = None) -> dict[str, Any]:
        from dataclasses import replace

        from agent_runtime.agent.session import Session

        settings = self.runtime.settings
        if max_steps:
            settings = replace(settings, agent_max_steps=max_steps)
        with Session(settings, self.workspace.root, self.runtime.approver, StderrDisplay()) as session:
            result = session.run(task)
            run_id = session.last_run.id if session.last_run is not None else None
        out: dict[str, Any] = {"status": result.status, "answer": result.answer, "steps": result.steps,
                               "run_id": run_id}
        if result.error:
            out.update(error=result.error, recovery_suggestion="See the run's trace: agent-runtime trace "
                                                                f"{run_id or 'last'}")
        return out


class StderrDisplay:
    """The session's front end here: a line on stderr for what a person should see, nothing on stdout."""

    def info(self, message: str) -> None:
        print(message, file=sys.stderr)

    warn = error = info

    def waiting(self, message: str) -> Any:
        from contextlib import nullcontext

        return nullcontext()

    def step_code(self, number: int, model_output: str | None, code: str) -> None:
        pass

    def step_done(self, step: Any, code_shown: bool) -> None:
        pass

    def run_saved(self, run_id: str, trace_url: str | None) -> None:
        print(f"run {run_id} · agent-runtime trace {run_id}", file=sys.stderr)

    def event(self, kind: str, **fields: Any) -> None:
        pass


def input_schema(tool: RuntimeTool) -> dict[str, Any]:
    """A tool's inputs as a JSON schema: the declared types, required unless nullable, nothing else."""
    properties = {}
    for name, spec in tool.inputs.items():
        kind = spec["type"]
        prop: dict[str, Any] = {"description": spec["description"]}
        if kind != "any":
            prop["type"] = kind
        properties[name] = prop
    required = [name for name, spec in tool.inputs.items() if not spec.get("nullable")]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def protect_stdout() -> io.TextIOWrapper:
    """The protocol's stream: a copy of the real stdout; fd 1 (and sys.stdout) become stderr."""
    protocol = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return io.TextIOWrapper(os.fdopen(protocol, "wb"), encoding="utf-8", newline="\n", write_through=True)


def cmd_mcp(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = argparse.ArgumentParser(
        prog="agent-runtime mcp",
        description="Serve the safe tools and run_task over MCP stdio (for Claude Code, Codex, ...). Every call "
                    "passes validation, the policy, approval and the sandbox, and is recorded as a run. Without a "
                    "terminal an ask follows --approval: never (default) refuses it, auto approves it; a deny is "
                    "always refused.")
    parser.parse_args(argv)
    protocol_out = protect_stdout()
    mode = settings.approval_mode or "never"
    if mode not in PROMPTLESS:
        print(f"agent-runtime mcp: approval mode {mode!r} needs a person at a terminal; acting as 'never'",
              file=sys.stderr)
        mode = "never"
    import logging

    import anyio

    logging.getLogger("mcp").setLevel(logging.WARNING)  # not a line per request on stderr
    return anyio.run(_serve, settings, repo, mode, protocol_out)


async def _serve(settings: Settings, repo: Path, mode: str, protocol_out: io.TextIOWrapper) -> int:
    import anyio
    from mcp import types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    from agent_runtime.cli.commands import _traced_call
    from agent_runtime.redact import Redactor
    from agent_runtime.safety.approval import Approver
    from agent_runtime.telemetry.exporters import Tracing
    from agent_runtime.telemetry.records import RunRecord
    from agent_runtime.tools import build_tools
    from agent_runtime.tools.runtime import Runtime

    redactor = Redactor.for_session(repo, settings)
    tracing = Tracing(settings, redactor)
    approver = Approver(mode, interactive=False)  # an explicit mode: never refuses even what is remembered
    runtime = Runtime.create(settings, repo, approver, telemetry=tracing.telemetry)
    built = {tool.name: tool for tool in build_tools(runtime)}
    tools: dict[str, RuntimeTool] = {name: built[name] for name in SERVED if name in built}
    tools["run_task"] = RunTaskTool(runtime)
    from agent_runtime.tools.promoted import PromotedTool

    tools.update({name: tool for name, tool in built.items() if isinstance(tool, PromotedTool)})  # the user's own
    lock = anyio.Lock()  # one call at a time: the runtime's history, patches and approvals are one session's
    server: Server = Server("agent-runtime")

    @server.list_tools()
    async def list_tools() -> list[types.Tool]:
        return [types.Tool(name=tool.name, description=tool.description, inputSchema=input_schema(tool))
                for tool in tools.values()]

    def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        tool = tools[name]
        if isinstance(tool, RunTaskTool):  # its session keeps its own run record and trace
            return dict(tool(**arguments))
        return dict(_traced_call(tool, arguments, settings, repo, runtime, tracing, redactor, RunRecord))

    # The SDK's own input validation is off: the tool's checks validate, inside the one path, so a
    # refused call is a span and a run like any other.
    @server.call_tool(validate_input=False)
    async def call_tool(name: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
        if name not in tools:
            text = json.dumps({"error": f"no tool {name!r}", "recovery_suggestion": f"Use one of: {', '.join(tools)}"})
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)], isError=True)
        async with lock:
            result = await anyio.to_thread.run_sync(call, name, dict(arguments or {}))
        text = redactor(json.dumps(result, indent=2, ensure_ascii=False, default=str))
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], isError="error" in result)

    stdin = anyio.wrap_file(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8"))
    try:
        async with stdio_server(stdin=stdin, stdout=anyio.wrap_file(protocol_out)) as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        runtime.close()
        tracing.shutdown()
    return 0
