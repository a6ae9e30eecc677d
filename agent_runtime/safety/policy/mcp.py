"""Decisions for MCP tools (tools of MCP servers the user configured), by the tool's full name.

An MCP tool says nothing the policy could read (no command, no paths): all that can be judged is
which tool it is. So its decision comes from name globs (`mcp__<server>__<tool>`, fnmatch, case
sensitive), from the policy file's `[mcp]` table and from the user's server configuration; the
strictest matching decision wins and a tool nothing matches is asked. A `deny` is final: the
wrapper refuses it before approval, hooks or `--approval auto` are consulted, as for a denied
command. The user's saved approval of one tool (safety/userpolicy.py) lifts only an `ask`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from agent_runtime.core import Decision

DECISIONS = ("allow", "ask", "deny")
KEYS = ("default", "allow", "ask", "deny")  # the [mcp] table of policy.toml
PREFIX = "mcp__"
# A full name as the model calls it: a server name with '-' as '_' (no "__" in it, tools/mcpconfig.py),
# then the tool's name with what is not a letter or digit as '_' (tools/mcptool.py). No glob character.
TOOL_NAME = re.compile(r"^mcp__[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__[A-Za-z0-9_]{1,129}$")


def tool_name(server: str, tool: str) -> str:
    """The name the model and the policy know an MCP tool by."""
    return f"{PREFIX}{server}__{tool}"


def name_part(name: str) -> str:
    """A server's or a tool's name (or a glob of tool names) as it stands in the full names: '-' and '.'
    as '_', nothing else changed. The tools' names (tools/mcptool.py) and the user's allow / ask / deny
    globs (add_servers) are both made with this, so a glob written with a server's own names matches
    the name the model calls, whatever the name begins with (`9lives` stays `9lives`)."""
    return re.sub(r"[-.]", "_", name)


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
    default_written: bool = False  # the policy file's [mcp] table sets `default` (unset, it is no vote)
    # (glob, decision, where it was set)
    globs: list[tuple[str, str, str]] = field(default_factory=list)
    # Per-server defaults from the user's configuration: server name -> (decision, where).
    server_defaults: dict[str, tuple[str, str]] = field(default_factory=dict)
    # The servers configured now: the name in tool names ('-' as '_') -> the name in mcp.toml, exactly.
    # A saved approval names the latter, so `my-notes` saved is not `my_notes` configured later.
    servers: dict[str, str] = field(default_factory=dict)

    def add_servers(self, servers: Iterable[Any]) -> None:
        """The user's servers (tools/mcpconfig.py ServerConfig): their allow / ask / deny and default."""
        for server in servers:
            where = f"your MCP configuration, server {server.name}"
            key = name_part(server.name)
            for decision in DECISIONS:
                # Written with the server's own tool names; judged on the names the model calls, where '-' and
                # '.' are '_' (tools/mcptool.py): deny = ["delete-all"] must hold for mcp__x__delete_all.
                self.add(decision, [tool_name(key, name_part(p)) for p in getattr(server, decision)], where)
            if server.default is not None:
                self.server_defaults[key] = (server.default, where)
            self.servers[key] = server.name

    def add(self, decision: str, patterns: tuple[str, ...] | list[str], where: str) -> None:
        assert decision in DECISIONS
        self.globs += [(pattern, decision, where) for pattern in patterns]

    def decide(self, name: str, server: str | None = None) -> Decision:
        found = [(d, p, w) for p, d, w in self.globs if fnmatch.fnmatchcase(name, p)]
        if found:
            decision, pattern, where = max(found, key=lambda item: DECISIONS.index(item[0]))
            return Decision(decision, f"mcp:{pattern}", f"MCP tool {name} matches {pattern!r} ({where})")
        # The defaults that were written (the server's, the policy file's [mcp]) vote; the strictest wins.
        written = [(d, f"the default of server {server} ({w})") for d, w in
                   ([self.server_defaults[server]] if server is not None and server in self.server_defaults else [])]
        if self.default_written:
            written.append((self.default, "the default of the policy file's [mcp] table"))
        if written:
            decision, why = max(written, key=lambda item: DECISIONS.index(item[0]))
            return Decision(decision, "mcp-default", f"MCP tool {name}: {why}")
        return Decision("ask", "mcp-default", f"MCP tool {name}: a tool of an MCP server, ask unless configured otherwise")
