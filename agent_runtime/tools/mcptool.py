"""The tools of the user's MCP servers, as tools like the built-in ones.

Each server tool becomes a RuntimeTool named `mcp__<server>__<tool>` with its description and its
inputs from the tool's JSON input schema, so every call passes the one path (tools/wrapper.py):
  1 validate  the arguments against the schema: unknown keys and missing required ones refused by
              `bind`, each value checked against its property's schema (types, enums, ranges,
              nested objects) here, before the server hears of the call;
  2 policy    Action("mcp", name, arguments): judged by name (safety/policy/mcp.py), `ask` unless configured,
              then each string of the arguments as the file `cat` of it would read (deny_read: deny;
              an existing file outside the workspace: ask);
  3 approve   as any ask;  4 execute  the call, with the server's timeout (tools/mcpclient.py);
  5 shape     the result's text truncated as any tool's; an error result or a malformed one becomes
              {"error", "recovery_suggestion"}.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable

from agent_runtime.core import Action, ToolError
from agent_runtime.safety.policy.mcp import name_part, tool_name
from agent_runtime.tools.base import RuntimeTool

if TYPE_CHECKING:
    from mcp import types

    from agent_runtime.tools.mcpclient import McpServer
    from agent_runtime.tools.runtime import Runtime

JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object")
DESCRIPTION_MAX = 1000  # characters of a server's description of a tool or an input shown to the model
# A server's tool list is the server's to write, and what passes here reaches the model's prompt and
# the policy: names as the MCP spec has them (SEP-986: 1-128 of letters, digits, _ - .), so no look-alike,
# newline or 10,000-character name; and a bounded schema, so one tool cannot fill the prompt.
REMOTE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
MAX_INPUTS = 64
SCHEMA_MAX_CHARS = 64_000
MAX_TOOLS = 256  # per server
SERVER_PROMPT_MAX = 200_000  # characters of descriptions and inputs one server's tools bring to the prompt


class McpTool(RuntimeTool):
    """Base of the generated tools; `server` and `remote` are set on each generated class."""

    server: "McpServer"
    remote: str  # the tool's name on its server
    schema: dict[str, Any]
    approval = "policy"
    keep_tail = frozenset()

    def action(self, **args: Any) -> Action:
        given = {k: v for k, v in args.items() if v is not None}
        return Action("mcp", command=self.name, preview=given)

    def run(self, **args: Any) -> dict[str, Any]:
        # An input not given stays out: the server applies its own default.
        given = {k: v for k, v in args.items() if v is not None}
        return result_dict(self.server.call(self.remote, given), self.server.config.name, self.remote,
                           self.server.sandbox_kind)


def result_dict(result: "types.CallToolResult", server: str, tool: str, sandbox: str) -> dict[str, Any]:
    """A CallToolResult as a tool's dict: text joined (other content described, not inlined)."""
    from mcp import types

    if not isinstance(result, types.CallToolResult):
        raise ToolError(f"MCP server {server} answered {tool} with something that is not a tool result",
                        "Try another tool; tell the user the server misbehaves.", kind="mcp_error")
    parts: list[str] = []
    for item in result.content:
        if isinstance(item, types.TextContent):
            parts.append(item.text)
        elif isinstance(item, (types.ImageContent, types.AudioContent)):
            parts.append(f"[{item.type}: {item.mimeType}, {len(item.data) * 3 // 4:,} bytes not shown]")
        elif isinstance(item, types.EmbeddedResource):
            resource = item.resource
            text = getattr(resource, "text", None)
            parts.append(text if isinstance(text, str) else f"[resource {resource.uri}: binary, not shown]")
        elif isinstance(item, types.ResourceLink):
            parts.append(f"[resource link: {item.uri}]")
        else:
            parts.append(f"[{getattr(item, 'type', type(item).__name__)} content not shown]")
    text = "\n".join(parts)
    if result.isError:
        raise ToolError(f"{tool} (MCP server {server}) returned an error: {text.strip()[:2000] or '(no message)'}",
                        "Read the error; fix the arguments, or try another approach.", kind="mcp_tool_error")
    out: dict[str, Any] = {"content": text}
    if result.structuredContent is not None:
        out["structured"] = json.dumps(result.structuredContent, ensure_ascii=False, default=str)
    out["sandbox"] = sandbox
    return out


# --- the input schema as inputs (for the model and `bind`) and checks (step 1) ---


def _declared_type(spec: Any) -> str | list[str]:
    kind = spec.get("type") if isinstance(spec, dict) else None
    if isinstance(kind, str) and kind in JSON_TYPES:
        return kind
    if isinstance(kind, list):
        kinds = [k for k in kind if k in JSON_TYPES]
        if kinds and len(kinds) == len([k for k in kind if k != "null"]):
            return kinds if len(kinds) > 1 else kinds[0]
    return "any"  # anyOf, $ref, no type: the schema check below judges the value


def inputs_and_checks(schema: Any, tool: str) -> tuple[dict[str, dict[str, Any]], dict[str, Callable]]:
    """(smolagents inputs, per-input checks) from a tool's JSON input schema. A schema we cannot
    use (not an object schema, or itself invalid) raises ToolError: the tool is not offered."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise ToolError(f"{tool}: its input schema is not an object schema", "", kind="mcp_schema")
    if len(json.dumps(schema, default=str)) > SCHEMA_MAX_CHARS or len(schema.get("properties") or {}) > MAX_INPUTS:
        raise ToolError(f"{tool}: its input schema is too large (over {SCHEMA_MAX_CHARS:,} characters or "
                        f"{MAX_INPUTS} inputs)", "", kind="mcp_schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ToolError(f"{tool}: its input schema is invalid: {exc.message}", "", kind="mcp_schema") from None
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    definitions = {k: schema[k] for k in ("$defs", "definitions") if k in schema}
    inputs: dict[str, dict[str, Any]] = {}
    checks: dict[str, Callable] = {}
    for name, spec in properties.items():
        if not name.isidentifier():
            raise ToolError(f"{tool}: input {name!r} is not a name Python can pass", "", kind="mcp_schema")
        spec = spec if isinstance(spec, dict) else {}
        described = str(spec.get("description") or spec.get("title") or name)[:DESCRIPTION_MAX]
        inputs[name] = {"type": _declared_type(spec), "description": described}
        if name not in required:
            inputs[name]["nullable"] = True
        checks[name] = _schema_check(name, {**spec, **definitions}, Draft202012Validator)
    missing = required - set(properties)
    if missing:
        raise ToolError(f"{tool}: requires inputs its schema does not describe: {', '.join(sorted(missing))}", "",
                        kind="mcp_schema")
    return inputs, checks


def _schema_check(name: str, spec: dict[str, Any], validator_class: Any) -> Callable[[Any, "Runtime"], Any]:
    validator = validator_class(spec)

    def check(value: Any, runtime: "Runtime") -> Any:
        error = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.path))), None)
        if error is not None:
            where = "".join(f"[{p!r}]" for p in error.path)
            raise ToolError(f"{name}{where} does not fit the tool's schema: {error.message[:300]}",
                            f"Pass {name} as its description says: {spec.get('description', '')}"[:400])
        return value

    return check


def build_mcp_tools(runtime: "Runtime", servers: list["McpServer"], taken: set[str],
                    warn: Callable[[str], None]) -> list[RuntimeTool]:
    """One tool object per server tool (see mcp_tool_classes)."""
    return [cls(runtime) for cls in mcp_tool_classes(servers, taken, warn)]


def mcp_tool_classes(servers: list["McpServer"], taken: set[str], warn: Callable[[str], None]) -> list[type[McpTool]]:
    """One tool class per server tool, as `agent-runtime tools` lists them and a session builds them; a
    tool whose schema cannot be used, or whose name would collide with another, is left out with a warning."""
    tools: list[type[McpTool]] = []
    for server in servers:
        if len(server.tools) > MAX_TOOLS:
            warn(f"MCP server {server.config.name} lists {len(server.tools):,} tools; only its first {MAX_TOOLS} "
                 "are used")
        listed = server.tools[:MAX_TOOLS]
        # Two tools that become one name (a-b and a_b, or a tool listed twice) are both left out: which of
        # them the name calls, and which the user's allow or deny meant, would be a guess.
        count = Counter(name_part(r.name) for r in listed if isinstance(r.name, str))
        budget = SERVER_PROMPT_MAX
        for remote in listed:
            if not isinstance(remote.name, str) or not REMOTE_NAME.match(remote.name):
                warn(f"MCP tool {str(remote.name)[:80]!r} of server {server.config.name} is left out: a tool's name "
                     "is 1 to 128 letters, digits, '_', '-' or '.'")
                continue
            if count[name_part(remote.name)] > 1:
                warn(f"MCP tool {remote.name} of server {server.config.name} is left out: another of its tools has "
                     f"the same name once '-' and '.' are '_'")
                continue
            # A name REMOTE_NAME admits, '-' and '.' as '_': letters, digits and '_' behind "mcp__<server>__",
            # so a name the model's Python can call, and the very name the user's globs are matched against.
            name = tool_name(name_part(server.config.name), name_part(remote.name))
            if name in taken:
                warn(f"MCP tool {remote.name} of server {server.config.name} is left out: its name {name} is taken")
                continue
            try:
                inputs, checks = inputs_and_checks(remote.inputSchema, name)
            except ToolError as exc:
                warn(f"MCP tool {remote.name} of server {server.config.name} is left out: {exc.error}")
                continue
            description = " ".join((remote.description or remote.title or remote.name).split())[:DESCRIPTION_MAX]
            budget -= len(description) + len(json.dumps(inputs))
            if budget < 0:  # 256 tools of 64,000 characters each would still fill any prompt
                warn(f"MCP tool {remote.name} of server {server.config.name} is left out: the server's tools "
                     f"already describe {SERVER_PROMPT_MAX:,} characters")
                continue
            cls = type(f"Mcp_{name}", (McpTool,), {
                "name": name, "description": f"[MCP server {server.config.name}] {description}",
                "inputs": inputs, "checks": checks, "server": server, "remote": remote.name,
                "schema": remote.inputSchema,
            })
            taken.add(name)
            tools.append(cls)
    return tools
