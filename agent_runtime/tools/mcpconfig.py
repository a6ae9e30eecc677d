"""The MCP servers the user configured: `$XDG_CONFIG_HOME/agent-runtime/mcp.toml`.

Only the user's own configuration starts a program: never a repository file (a repository's
`.mcp.json`, `mcp.toml` or `.env` is not read; XDG_CONFIG_HOME is not a repository setting, and the
policy denies the agent writes to this directory). Its schema: McpFile (docs/configuration.md).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema, field_validator

import agent_runtime.schema as schema
from agent_runtime.config import ConfigError, mcp_config_path, read_user_file

SERVER_KEYS = ("command", "env", "network", "sandbox", "timeout", "startup_timeout", "default", "allow", "ask", "deny")
DECISIONS = ("allow", "ask", "deny")
# Part of the tool names mcp__<server>__<tool>: no "__", and a Python name once "-" is "_".
SERVER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*$")
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_STARTUP_S = 60.0
MAX_TIMEOUT_S = 3600.0


class McpConfigError(ConfigError):
    """mcp.toml is invalid; the message names the file, the line, the key, what was expected and found."""


Seconds = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S)]
Glob = Annotated[str, Field(min_length=1)]


class McpServer(BaseModel):
    """One [servers.NAME] table of mcp.toml."""

    model_config = schema.STRICT
    command: Annotated[list[Glob], Field(min_length=1), WithJsonSchema(
        {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]})]
    env: dict[str, str] = {}
    network: bool = False
    sandbox: bool = True
    timeout: Seconds = DEFAULT_TIMEOUT_S
    startup_timeout: Seconds = DEFAULT_STARTUP_S
    default: Literal["allow", "ask", "deny"] | None = None
    allow: list[Glob] = []
    ask: list[Glob] = []
    deny: list[Glob] = []

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):  # a string is split like a shell
            try:
                return shlex.split(value)
            except ValueError as exc:
                raise schema.Wrong("a command line a shell can split", f"{schema.shown(value)} ({exc})") from None
        if not isinstance(value, list):
            raise schema.Wrong("a program and its arguments (a list of strings, or a command line)")
        return value


class McpFile(BaseModel):
    """mcp.toml: the MCP servers the user configured."""

    model_config = schema.STRICT
    servers: dict[str, McpServer] = {}


assert tuple(McpServer.model_fields) == SERVER_KEYS


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
        text = read_user_file(path)  # a FIFO or a device is refused, not waited on
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise McpConfigError(f"{path}: cannot be read as TOML: {exc}") from None
    raw, lines = schema.read_toml(text, str(path), McpConfigError)
    for name in raw.get("servers", {}) if isinstance(raw.get("servers"), dict) else ():
        if not SERVER_NAME.match(name):  # before the tables: a name is what the user sees first
            raise schema.fail(McpConfigError, str(path), ("servers", name),
                              "a server name: a letter, then letters, digits and single '-' or '_' (it becomes "
                              "part of the tool names mcp__<server>__<tool>)", schema.shown(name), lines)
    config = schema.validate(McpFile, raw, str(path), McpConfigError, lines)
    out = [ServerConfig(name, tuple(s.command), dict(s.env), s.network, s.sandbox, s.timeout, s.startup_timeout,
                        s.default, tuple(s.allow), tuple(s.ask), tuple(s.deny)) for name, s in config.servers.items()]
    # a-b and a_b would share the tool names mcp__a_b__*, and with them each other's allow, deny and default.
    seen: dict[str, str] = {}
    for server in out:
        other = seen.setdefault(server.name.replace("-", "_"), server.name)
        if other != server.name:
            raise schema.fail(McpConfigError, str(path), ("servers", server.name),
                              "a name of its own in the tool names mcp__<server>__<tool> ('-' read as '_')",
                              f"the same names as [servers.{other}]'s tools: rename one", lines)
    return out
