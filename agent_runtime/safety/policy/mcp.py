"""Decisions for MCP tools (tools of MCP servers the user configured), by the tool's full name.

An MCP tool says nothing the policy could read (no command, no paths): all that can be judged is
which tool it is. So its decision comes from name globs (`mcp__<server>__<tool>`, fnmatch, case
sensitive), from the policy file's `[mcp]` table and from the user's server configuration; the
strictest matching decision wins and a tool nothing matches is asked. A `deny` is final: the
wrapper refuses it before approval, hooks or `--approval auto` are consulted, as for a denied
command.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from agent_runtime.core import Decision

DECISIONS = ("allow", "ask", "deny")
KEYS = ("default", "allow", "ask", "deny")  # the [mcp] table of policy.toml
PREFIX = "mcp__"


def tool_name(server: str, tool: str) -> str:
    """The name the model and the policy know an MCP tool by."""
    return f"{PREFIX}{server}__{tool}"


def server_of(name: str) -> str | None:
    """The server of a full MCP tool name (server names hold no `__`)."""
    if not name.startswith(PREFIX):
        return None
    server, sep, _ = name[len(PREFIX):].partition("__")
    return server if sep else None


@dataclass
class McpRules:
    """Name globs -> decisions, from several sources (each named in the decision's reason)."""

    default: str = "ask"
    # (glob, decision, where it was set)
    globs: list[tuple[str, str, str]] = field(default_factory=list)
    # Per-server defaults from the user's configuration: server name -> (decision, where).
    server_defaults: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(self, decision: str, patterns: tuple[str, ...] | list[str], where: str) -> None:
        assert decision in DECISIONS
        self.globs += [(pattern, decision, where) for pattern in patterns]

    def decide(self, name: str, server: str | None = None) -> Decision:
        found = [(d, p, w) for p, d, w in self.globs if fnmatch.fnmatchcase(name, p)]
        if found:
            decision, pattern, where = max(found, key=lambda item: DECISIONS.index(item[0]))
            return Decision(decision, f"mcp:{pattern}", f"MCP tool {name} matches {pattern!r} ({where})")
        if server is not None and server in self.server_defaults:
            decision, where = self.server_defaults[server]
            return Decision(decision, "mcp-default", f"MCP tool {name}: the default of server {server} ({where})")
        return Decision(self.default, "mcp-default",
                        f"MCP tool {name}: a tool of an MCP server, {self.default} unless configured otherwise")
