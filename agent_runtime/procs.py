"""Child processes the project starts: a free port, waiting until ready, stopping the whole
process group (SIGTERM, then SIGKILL), and a signal described in words. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Callable, Sequence


def search_path() -> str:
    """PATH without relative entries: `.` or an empty entry (`PATH=:/usr/bin`, a common slip) would find
    the repository's own `git`, `bwrap` or `rg`, the agent's current directory being the repository."""
    entries = [p for p in os.environ.get("PATH", "").split(os.pathsep) if os.path.isabs(p)]
    return os.pathsep.join(entries) or "/usr/local/bin:/usr/bin:/bin"


def host_program(name: str) -> str | None:
    """The absolute path of a program the host runs (bwrap, rg, rm...), found on search_path() only."""
    return shutil.which(name, path=search_path())


def own_python() -> str:
    """This interpreter by a path without `.` or `..` parts (`../.venv/bin/python` started from a
    subfolder): inside the sandbox only the interpreter's folders are shown, so the folders such a path
    walks through are not there to walk. The venv's own name for it (not the file it links to) keeps
    its site-packages."""
    for candidate in (os.path.abspath(sys.executable), os.path.join(sys.prefix, "bin", os.path.basename(sys.executable))):
        try:
            if os.path.samefile(candidate, sys.executable):
                return candidate
        except OSError:
            continue
    return sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (a local or configured URL)
        return response.read()


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        http_get(url, timeout=timeout)
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop_group(proc: subprocess.Popen | None, signals: Sequence[int] = (signal.SIGTERM, signal.SIGKILL),
               wait_s: float = 5.0) -> None:
    """Stop a process started with start_new_session=True and everything it started."""
    if proc is None or proc.poll() is not None:
        return
    for sig in signals:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen, timeout: float,
               tick: Callable[[float], None] | None = None, interval: float = 0.25) -> str | None:
    """Poll `ready` until it is true. Returns None when ready, "exited" if the process ended
    first, "timeout" when the time ran out."""
    started = time.monotonic()
    while True:
        if proc.poll() is not None:
            return "exited"
        if ready():
            return None
        waited = time.monotonic() - started
        if waited > timeout:
            return "timeout"
        if tick:
            tick(waited)
        time.sleep(interval)


def describe_exit(returncode: int | None) -> str:
    """'killed by SIGSEGV (segmentation fault)' or 'exited with code 1'."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"killed by signal {-returncode}"
        words = {signal.SIGSEGV: "segmentation fault", signal.SIGILL: "illegal instruction", signal.SIGKILL:
                 "killed, often by the out-of-memory killer", signal.SIGABRT: "aborted", signal.SIGBUS: "bus error"}
        return f"killed by {sig.name}" + (f" ({words[sig]})" if sig in words else "")
    return f"exited with code {returncode}"


def log_tail(path: os.PathLike | str, lines: int = 3) -> str:
    try:
        text = open(path, encoding="utf-8", errors="replace").read().strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(line.strip() for line in text[-lines:]) or "no output"
