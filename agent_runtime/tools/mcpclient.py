"""Connections to the user's MCP servers (tools/mcpconfig.py), each a program in the sandbox.

The official SDK is asynchronous and the tool path is not: one thread runs an event loop for all
servers of a runtime, and a call waits on it for a bounded time. A server starts on first use
(listing its tools), inside bubblewrap (safety/sandbox.py `Sandbox.program`: the workspace
writable but its configuration, secrets hidden, no network unless configured, an allow-listed
environment plus the `env` the user gave it). A call that does not answer within the server's
timeout stops the server (its whole process group); a server that crashed or was stopped is
started again on the next call. Its stderr goes to a private file whose tail explains a failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from agent_runtime.core import ToolError, visible
from agent_runtime.safety.isolation import dies_with_us_prefix
from agent_runtime.safety.sandbox import Sandbox, allowed_env

if TYPE_CHECKING:
    from mcp import types

    from agent_runtime.tools.mcpconfig import ServerConfig

log = logging.getLogger(__name__)
STDERR_TAIL = 600  # characters of a server's stderr quoted in an error
GRACE_S = 5.0  # beyond the SDK's own timeout, before the waiting side gives up on the loop
STOP_WAIT_S = 30.0  # for a server to be stopped (see McpServer.stop)
REQUEST_TIMEOUT = 408  # the error code of the SDK's read timeout (HTTP's)


class EventLoop:
    """One asyncio loop on a daemon thread; coroutines are submitted and waited for with a bound."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mcp-client", daemon=True)
        self._thread.start()

    def run(self, coro: Any, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class McpServer:
    """One configured server: its process and session live in a task on the loop."""

    def __init__(self, config: "ServerConfig", root: Path, hidden_globs: tuple[str, ...], loop: EventLoop,
                 use_bwrap: bool | None = None):
        self.config = config
        self.root = root
        self._sandbox = Sandbox(root, hidden_globs=hidden_globs, allow_network=config.network, use_bwrap=use_bwrap)
        self._loop = loop
        self._session: Any = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._pid: int | None = None  # the server's process, ours (its sandbox and server are below it)
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace", prefix="agent-runtime-mcp-")
        self.tools: list["types.Tool"] = []

    @property
    def sandbox_kind(self) -> str:
        return "bwrap" if self.config.sandbox else "none"

    # --- on the caller's thread ---

    def start(self) -> list["types.Tool"]:
        """Start the server if it is not running; its tools. ToolError when it cannot start."""
        if self._session is not None:
            return self.tools
        # Imported here, not on the loop: an import there (seconds, cold) would block the loop's timers.
        import mcp.client.stdio  # noqa: F401
        import mcp.shared.exceptions  # noqa: F401

        try:
            return self._loop.run(self._start(), self.config.startup_timeout + GRACE_S)
        except ToolError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever stopped the start, the model gets one clear error
            said = self._said()
            self.stop()
            raise ToolError(f"MCP server {self.config.name} did not start: {_describe(exc)}{said}{self._hint(exc)}",
                            "Tell the user: their MCP server could not start (see its command in "
                            "~/.config/agent-runtime/mcp.toml). Continue without its tools.",
                            kind="mcp_unavailable") from None

    def call(self, tool: str, arguments: dict[str, Any]) -> "types.CallToolResult":
        try:
            return self._call_started(tool, arguments)
        finally:  # what it planted of git's configuration in the workspace goes before the host goes on
            if self.config.sandbox:
                for rel in self._sandbox.sweep():
                    log.warning("MCP server %s created %s in the workspace; taken out", self.config.name,
                                visible(rel.replace("\n", "^J")))

    def _call_started(self, tool: str, arguments: dict[str, Any]) -> "types.CallToolResult":
        self.start()
        timeout = self.config.timeout
        try:
            return self._loop.run(self._call(tool, arguments, timeout), timeout + GRACE_S)
        except ToolError:
            raise
        except Exception as exc:  # noqa: BLE001 - a timeout, a crash, a malformed answer: one clear error
            from mcp.shared.exceptions import McpError

            # The SDK reports its read timeout as an McpError with HTTP's 408 as the code.
            timed_out = isinstance(exc, TimeoutError) or (isinstance(exc, McpError) and exc.error.code == REQUEST_TIMEOUT)
            said = self._said()
            self.stop()  # a server that hung or broke is not trusted with the next call: it starts afresh
            if timed_out:
                raise ToolError(f"MCP server {self.config.name} did not answer {tool} within {timeout:g} s; the "
                                f"server was stopped (the next call starts it again){said}",
                                "Do not retry the same call; try smaller arguments, another tool, or tell the user.",
                                kind="timeout") from None
            raise ToolError(f"MCP server {self.config.name} failed on {tool}: {_describe(exc)}{said}",
                            "The server is started again on the next call; try other arguments or another tool.",
                            kind="mcp_error") from None

    def stop(self) -> None:
        """Stop the server and wait until its process is gone (the SDK closes stdin, then TERM, then KILL)."""
        task, stop = self._task, self._stop
        if task is None or stop is None or task.done():
            return
        # The SDK kills the server's process group, but the sandboxed server is in a session of its own and
        # dies with its sandbox a moment later: what to wait for is taken before anything is stopped.
        tree = _tree(self._pid) if self._pid else []
        self._loop.loop.call_soon_threadsafe(stop.set)
        if self._session is None:
            # Still starting (no answer to initialize or to the tool list): nothing waits on `stop` yet, so the
            # task is cancelled, and the SDK's clean-up stops the process as it would after `stop`.
            self._loop.loop.call_soon_threadsafe(task.cancel)
        try:
            # The SDK's own steps take about 4 s (stdin closed, 2 s, TERM to the group, 2 s, KILL); on a
            # loaded machine its loop turns slowly, and a server left behind is worse than a wait.
            self._loop.run(asyncio.wait_for(asyncio.shield(task), STOP_WAIT_S), STOP_WAIT_S + 2)
        except Exception:  # noqa: BLE001 - stopping is best effort; the loop thread dies with us anyway
            log.debug("MCP server %s did not stop cleanly", self.config.name, exc_info=True)
        deadline = time.monotonic() + GRACE_S
        while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.stop()
        self._stderr.close()

    def _hint(self, exc: BaseException) -> str:
        """What the user can change in mcp.toml when a start failed for a reason the sandbox gives it."""
        config = self.config
        if not config.sandbox:
            return ""
        timed_out = "did not answer in time" in _describe(exc)
        if timed_out and not config.network:
            return (f" (startup_timeout {config.startup_timeout:g} s; it has no network: a server that downloads "
                    "itself at start, as `npx -y` and `uvx` do, needs network = true, or install it first)")
        if timed_out:
            return f" (startup_timeout {config.startup_timeout:g} s)"
        return ""

    def _said(self) -> str:
        """The tail of what the server wrote on stderr, for an error message."""
        try:
            self._stderr.flush()
            self._stderr.seek(0, 2)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - STDERR_TAIL * 4))
            tail = self._stderr.read()[-STDERR_TAIL:].strip()
            self._stderr.seek(0, 2)
        except (OSError, ValueError):
            return ""
        return f" (its stderr ends: {tail})" if tail else ""

    # --- on the loop ---

    async def _start(self) -> list["types.Tool"]:
        ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._serve(ready, self._stop))
        return await asyncio.wait_for(ready, self.config.startup_timeout)

    async def _serve(self, ready: asyncio.Future, stop: asyncio.Event) -> None:
        from contextlib import nullcontext

        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        config = self.config
        try:
            if config.sandbox:
                program: Any = self._sandbox.program(list(config.argv), config.env)
            else:  # the user chose it: the allow-listed environment still applies
                program = nullcontext((list(config.argv), allowed_env(extra=config.env, network=config.network)))
            with program as (argv, env):
                # Started from this loop's thread, which lives until every server is stopped; killed with us if we
                # die outright (a server that ignores the end of its stdin would go on alone).
                server, argv = list(argv), dies_with_us_prefix() + list(argv)
                before = _children(server)
                params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=str(self.root))
                async with stdio_client(params, errlog=self._stderr) as (read, write):
                    self._pid = min(_children(server) - before, default=None)
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        self.tools = await _all_tools(session)
                        self._session = session
                        if not ready.done():
                            ready.set_result(self.tools)
                        await stop.wait()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            if not isinstance(exc, Exception):
                raise
        finally:
            self._session, self._pid = None, None
            if not ready.done():
                ready.set_exception(RuntimeError("the server closed its connection"))

    async def _call(self, tool: str, arguments: dict[str, Any], timeout: float) -> "types.CallToolResult":
        session = self._session
        if session is None:
            raise ToolError(f"MCP server {self.config.name} is not running", "Try the call again.",
                            kind="mcp_unavailable")
        return await session.call_tool(tool, arguments, read_timeout_seconds=timedelta(seconds=timeout))


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name ([0] the state, [1] the parent); [] when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and fields[0] not in ("Z", "X")


def _by_parent() -> dict[int, list[int]]:
    """Every process, under its parent's pid."""
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            found.setdefault(int(fields[1]), []).append(int(entry.name))
    return found


def _children(argv: list[str]) -> set[int]:
    """This process's child processes whose command line ends with `argv` (a prefix may not have run it yet)."""
    tail, found = [a.encode() for a in argv], set()
    for pid in _by_parent().get(os.getpid(), []):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1][-len(tail):] == tail:
                found.add(pid)
        except OSError:
            continue
    return found


def _tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    below, tree, i = _by_parent(), [pid], 0
    while i < len(tree):
        tree += below.get(tree[i], [])
        i += 1
    return tree


async def _all_tools(session: Any) -> list["types.Tool"]:
    from mcp import types

    tools: list[types.Tool] = []
    cursor = None
    for _ in range(100):  # a server that pages forever is not waited for forever
        listed = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        tools += listed.tools
        cursor = listed.nextCursor
        if not cursor:
            break
    return tools


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:  # anyio's task groups wrap errors
        exc = exc.exceptions[0]
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "it did not answer in time"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


class McpClients:
    """All the user's servers for one runtime; closed with it (every server process stopped)."""

    def __init__(self, configs: list["ServerConfig"], root: Path, hidden_globs: tuple[str, ...],
                 use_bwrap: bool | None = None, warn: Callable[[str], None] | None = None):
        self.configs = configs
        self._root, self._hidden, self._use_bwrap = root, hidden_globs, use_bwrap
        self._loop: EventLoop | None = None
        self.servers: dict[str, McpServer] = {}
        self.warn = warn or (lambda message: log.warning("%s", message))

    def started(self) -> list[McpServer]:
        """Every configured server, started; one that cannot start is left out with a warning."""
        if self._loop is None and self.configs:
            self._loop = EventLoop()
        out = []
        for config in self.configs:
            server = self.servers.get(config.name)
            if server is None:
                assert self._loop is not None
                server = self.servers[config.name] = McpServer(config, self._root, self._hidden, self._loop,
                                                               self._use_bwrap)
            try:
                server.start()
            except ToolError as exc:
                self.warn(f"{exc.error}; its tools are not available")
                continue
            out.append(server)
        return out

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
        self.servers.clear()
        if self._loop is not None:
            self._loop.close()
            self._loop = None
