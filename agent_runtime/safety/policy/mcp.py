"""Decisions for MCP tools (tools of MCP servers the user configured): by the tool's full name, then
by what its arguments name.

An MCP tool says nothing the policy could read of what it does: what can be judged is which tool it
is, and the strings it is given. So its decision comes from name globs (`mcp__<server>__<tool>`,
fnmatch, case sensitive), from the policy file's `[mcp]` table and from the user's server
configuration; the strictest matching decision wins and a tool nothing matches is asked. A `deny`
is final: the wrapper refuses it before approval, hooks or `--approval auto` are consulted, as for a
denied command. The user's saved approval of one tool (safety/userpolicy.py) lifts only an `ask`.

Then every string of the arguments, at any depth, is judged as the file `cat` of it would read
(`argument_floor`): the server alone knows which of them are paths, and the sandbox hides only the
secrets it knows of (another project's `.env` is visible in it). A deny_read path is denied; an
existing file outside the workspace is asked, also for a tool allowed by name, and a saved approval of
the tool does not answer that ask. A string given as a command input (`command`, `cmd`, `script`, ...:
COMMAND_INPUTS) is also judged as `run_cmd` would judge it: what the policy denies there is denied here,
what it asks about is asked.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import unquote, urlsplit

from agent_runtime.core import Decision
from agent_runtime.safety.policy.paths import PathRules, Place

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


PATH_MAX = 4096  # characters: a longer string (or line) names no file
MAX_JUDGED = 10_000  # strings (and lines of strings) judged in one call's arguments; more are asked


# Inputs whose strings a server runs as shell commands, by name (any depth, any case; `-` as `_`).
COMMAND_INPUTS = frozenset({"command", "commands", "cmd", "cmdline", "command_line", "commandline", "shell",
                            "shell_command", "script", "bash", "sh"})


def _strings(value: Any, where: str) -> Iterator[tuple[str, str, str | None]]:
    """(where, text, the input it is given as) for every string in a call's arguments: values and keys, at
    any depth; the input is the nearest key above the string (a list's items are given as its key)."""
    stack: list[tuple[str, Any, str | None]] = [(where, value, None)]
    while stack:
        where, value, key = stack.pop()
        if isinstance(value, str):
            yield where, value, key
        elif isinstance(value, dict):
            for name, item in reversed(list(value.items())):
                if isinstance(name, str) and where:  # the top level's keys are the schema's input names
                    yield f"{where} (a key)", name, None
                stack.append((f"{where}.{name}" if where else str(name), item, str(name)))
        elif isinstance(value, (list, tuple)):
            stack += [(f"{where}[{index}]", item, key) for index, item in reversed(list(enumerate(value)))]


def is_command_input(name: str | None) -> bool:
    return name is not None and name.lower().replace("-", "_") in COMMAND_INPUTS


def _readings(text: str) -> list[str]:
    """The paths a server could make of one string: as given, stripped, each line of it, a file: URI's path."""
    out: list[str] = []
    lines = text.splitlines()
    for form in (text, text.strip(), *([line.strip() for line in lines] if len(lines) > 1 else [])):
        if form[:5].lower() == "file:":  # file:///x, file://host/x, file:/x
            form = unquote(urlsplit(form).path)
        if form and len(form) <= PATH_MAX and "\x00" not in form and form not in out:
            out.append(form)
    return out


def argument_floor(paths: PathRules, place: Place, arguments: Any,
                   judge_command: Callable[[str], Decision] | None = None) -> tuple[str, str, str] | None:
    """(decision, rule, reason) when an MCP call's arguments name what `cat` of them could not read
    freely: a deny_read file (deny), or an existing file outside the workspace (ask); or when a string given
    as a command input (COMMAND_INPUTS) is a command `run_cmd` would not run freely (`judge_command`: its
    decision, deny or ask, without the sandbox's relaxing, as the server's sandbox may be off). None otherwise."""
    asked: tuple[str, str, str] | None = None
    judged = 0
    for where, text, key in _strings(arguments, ""):
        if judge_command is not None and is_command_input(key) and text.strip():
            decision = judge_command(text)
            if decision.decision == "deny":
                return ("deny", decision.rule or "command", f"{where} = {text[:200]!r} is a command the policy "
                                                            f"denies: {decision.reason}")
            if decision.decision == "ask" and asked is None:
                asked = ("ask", decision.rule or "command", f"{where} = {text[:200]!r} is a command the policy "
                                                            f"asks about: {decision.reason}")
        for form in _readings(text):
            judged += 1
            if judged > MAX_JUDGED:
                return asked or ("ask", "mcp-arguments", f"its arguments hold over {MAX_JUDGED:,} strings, too many "
                                                         "to judge each as a file it could read")
            hit = paths.denied_at(place, form, paths.read_denied)
            if hit:
                shown = form if os.path.normpath(form) == hit[0] else f"{form} ({hit[0]})"
                return ("deny", "deny_read", f"{where} = {text[:200]!r} names {shown}, which may hold secrets "
                                             f"(deny_read {hit[1]!r})")
            if asked is None:
                path = place.resolve(form)
                if (path is not None and not place.inside(path) and not place.neutral(path)
                        and not place.neutral_text(form) and path.exists()):
                    asked = ("ask", "outside-workspace", f"{where} = {text[:200]!r} names {form}, outside the "
                                                         "workspace (the server could read it and answer with it)")
    return asked
