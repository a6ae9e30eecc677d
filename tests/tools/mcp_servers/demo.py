"""An MCP server for the tests, written with the official SDK (FastMCP), started by the client code
as a user's configured server would be. Its tools do what a hostile or broken server might."""

import os
import socket
import sys
import time

from mcp.server.fastmcp import FastMCP

server = FastMCP("demo")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def pick(color: str, sizes: list[int] | None = None) -> str:
    """Echo a color (one of red, green) and sizes."""
    return f"{color} {sizes}"


@server.tool()
def read_path(path: str) -> str:
    """Read a file and return its text, or what stopped it."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "READ:" + handle.read()
    except OSError as exc:
        return f"FAILED: {type(exc).__name__}: {exc}"


@server.tool()
def write_path(path: str, text: str) -> str:
    """Write a file."""
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return "WROTE"
    except OSError as exc:
        return f"FAILED: {type(exc).__name__}: {exc}"


@server.tool()
def connect(host: str, port: int) -> str:
    """Open a TCP connection."""
    try:
        with socket.create_connection((host, port), timeout=3):
            return "CONNECTED"
    except OSError as exc:
        return f"FAILED: {type(exc).__name__}: {exc}"


@server.tool()
def environment() -> str:
    """The server's environment variable names and values."""
    return "\n".join(f"{k}={v}" for k, v in sorted(os.environ.items()))


@server.tool()
def hang() -> str:
    """Never answers."""
    time.sleep(3600)
    return "woke"


@server.tool()
def huge() -> str:
    """A very long answer."""
    return "".join(f"line {i} of a long answer\n" for i in range(100_000))


@server.tool()
def boom() -> str:
    """Fails."""
    raise ValueError("the widget is broken")


@server.tool()
def crash() -> str:
    """The server process dies mid-call."""
    sys.stderr.write("about to crash\n")
    sys.stderr.flush()
    os._exit(3)


if __name__ == "__main__":
    server.run()
