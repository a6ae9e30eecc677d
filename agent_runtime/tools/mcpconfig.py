"""The MCP servers the user configured: `$XDG_CONFIG_HOME/agent-runtime/mcp.toml`.

Only the user's own configuration starts a program: never a repository file (a repository's
`.mcp.json`, `mcp.toml` or `.env` is not read; XDG_CONFIG_HOME is not a repository setting, and the
policy denies the agent writes to this directory). Standard library only.

    [servers.notes]
    command = ["python3", "/home/me/notes_server.py"]   # argv (a string is split like a shell)
    env = { NOTES_DIR = "/home/me/notes" }              # added to the sandbox's allow-listed environment
    network = false       # the server gets the network (default false)
    sandbox = true        # start it in bubblewrap (default true; false only if you accept it runs as you)
    timeout = 60          # seconds a call may take (default 60); then the server is stopped
    default = "ask"       # allow / ask / deny: its tools not named below (unset: policy.toml's [mcp] default, else ask)
    allow = ["search", "get_*"]   # tool names (globs) allowed without asking
    ask = []
    deny = ["delete_*"]           # never called, whatever the approval mode
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_runtime.config import ConfigError, mcp_config_path, read_user_file

SERVER_KEYS = ("command", "env", "network", "sandbox", "timeout", "startup_timeout", "default", "allow", "ask", "deny")
DECISIONS = ("allow", "ask", "deny")
# Part of the tool names mcp__<server>__<tool>: no "__", and a Python name once "-" is "_".
SERVER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*$")
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_STARTUP_S = 60.0
MAX_TIMEOUT_S = 3600.0


class McpConfigError(ConfigError):
    """mcp.toml is invalid; the message names the file, the server and the key."""


@dataclass(frozen=True)
class ServerConfig:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    network: bool = False
    sandbox: bool = True
    timeout: float = DEFAULT_TIMEOUT_S
    startup_timeout: float = DEFAULT_STARTUP_S
    default: str | None = None  # as written; none: the policy file's [mcp] default, else ask
    allow: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


def load_servers(path: Path | None = None) -> list[ServerConfig]:
    """The configured servers (none when the file does not exist); McpConfigError when it is invalid."""
    path = path or mcp_config_path()
    try:
        raw = tomllib.loads(read_user_file(path))  # a FIFO or a device is refused, not waited on
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise McpConfigError(f"{path}: cannot be read as TOML: {exc}") from None
    unknown = set(raw) - {"servers"}
    if unknown:
        raise McpConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} (known: servers)")
    servers = raw.get("servers", {})
    if not isinstance(servers, dict):
        raise McpConfigError(f"{path}: servers must be a table ([servers.NAME])")
    out = [_server(path, name, body) for name, body in servers.items()]
    # a-b and a_b would share the tool names mcp__a_b__*, and with them each other's allow, deny and default.
    seen: dict[str, str] = {}
    for server in out:
        other = seen.setdefault(server.name.replace("-", "_"), server.name)
        if other != server.name:
            raise McpConfigError(f"{path}: [servers.{server.name}] and [servers.{other}] would give their tools the "
                                 "same names (mcp__<server>__<tool>, '-' as '_'): rename one")
    return out


def _server(path: Path, name: str, body: Any) -> ServerConfig:
    where = f"{path}: [servers.{name}]"
    if not SERVER_NAME.match(name):
        raise McpConfigError(f"{where}: a server name starts with a letter and holds letters, digits and "
                             "single '-' or '_' (it becomes part of the tool names mcp__<server>__<tool>)")
    if not isinstance(body, dict):
        raise McpConfigError(f"{where}: must be a table")
    unknown = set(body) - set(SERVER_KEYS)
    if unknown:
        raise McpConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(SERVER_KEYS)})")
    command = body.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    if not isinstance(command, list) or not command or not all(isinstance(c, str) and c for c in command):
        raise McpConfigError(f"{where}: command must be a program and its arguments (a list of strings)")
    env = body.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise McpConfigError(f"{where}: env must be a table of strings")
    flags = {}
    for key, default in (("network", False), ("sandbox", True)):
        value = body.get(key, default)
        if not isinstance(value, bool):
            raise McpConfigError(f"{where}: {key} must be true or false")
        flags[key] = value
    times = {}
    for key, default in (("timeout", DEFAULT_TIMEOUT_S), ("startup_timeout", DEFAULT_STARTUP_S)):
        value = body.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_S:
            raise McpConfigError(f"{where}: {key} must be a number of seconds from 0 to {MAX_TIMEOUT_S:g}")
        times[key] = float(value)
    default = body.get("default")
    if default is not None and default not in DECISIONS:
        raise McpConfigError(f'{where}: default must be "allow", "ask" or "deny"')
    globs = {}
    for key in DECISIONS:
        value = body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise McpConfigError(f"{where}: {key} must be a list of tool names (globs)")
        globs[key] = tuple(value)
    return ServerConfig(name, tuple(command), dict(env), flags["network"], flags["sandbox"], times["timeout"],
                        times["startup_timeout"], default, globs["allow"], globs["ask"], globs["deny"])
