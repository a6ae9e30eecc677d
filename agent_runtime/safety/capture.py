"""A sandboxed command's output: both pipes read until it ends (or its deadline), each capped
to its first and last OUTPUT_CAP_BYTES, and its process group stopped."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time

from agent_runtime.procs import stop_group

OUTPUT_CAP_BYTES = 256 * 1024  # kept from each end of stdout and stderr
PIPE_GRACE_S = 1.0  # after the command exits, how long its leftovers may keep writing


class Capped:
    """Keeps the first and last OUTPUT_CAP_BYTES of a stream."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = OUTPUT_CAP_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            excess = len(self.tail) - OUTPUT_CAP_BYTES
            if excess > 0:
                del self.tail[:excess]
                self.dropped += excess

    def text(self) -> str:
        middle = f"\n[... {self.dropped:,} bytes of output dropped ...]\n".encode() if self.dropped else b""
        return bytes(self.head + middle + self.tail).decode("utf-8", errors="replace")


def pump(proc: subprocess.Popen, out: Capped, err: Capped, deadline: float) -> bool:
    """Read both pipes until the process ends; False if the deadline passed first."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ, out)  # type: ignore[arg-type]
    selector.register(proc.stderr, selectors.EVENT_READ, err)  # type: ignore[arg-type]
    open_pipes = 2
    exited_at: float | None = None
    while open_pipes:
        now = time.monotonic()
        if now >= deadline:
            return False
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > PIPE_GRACE_S:
            break  # the command ended; something it left behind holds the pipes: it gets killed
        for key, _ in selector.select(timeout=min(deadline - now, 0.2)):
            data = os.read(key.fd, 65536)
            if data:
                key.data.add(data)
            else:
                selector.unregister(key.fileobj)
                open_pipes -= 1
    selector.close()
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def kill_group(proc: subprocess.Popen, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGKILL)) -> None:
    stop_group(proc, signals, wait_s=2)
