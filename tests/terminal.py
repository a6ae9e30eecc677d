"""A program on a pseudo-terminal, read and typed into like a person would (REPL and approval tests)."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import select
import signal
import subprocess
import termios
import time
from pathlib import Path


class Terminal:
    """A program on a pseudo-terminal, read and typed into like a person would."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], sigint_ignored: bool = False):
        self.master, slave = pty.openpty()

        def controlling_terminal() -> None:
            # A new session whose controlling terminal is the pty: Ctrl-C typed there becomes SIGINT.
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            if sigint_ignored:  # as a script's background job starts it
                signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                                     preexec_fn=controlling_terminal, close_fds=True)
        os.close(slave)
        self.output = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # characters split across reads

    def read_until(self, text: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"did not see {text!r} in:\n{self.output[-3000:]}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    self.output += self._decoder.decode(os.read(self.master, 65536))
                except OSError:
                    break
        return self.output

    def read_count(self, text: str, count: int, timeout: float = 120) -> None:
        """Wait until `text` has appeared `count` times (a prompt shown again after each task)."""
        deadline = time.monotonic() + timeout
        while self.output.count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"saw {text!r} {self.output.count(text)} times, not {count}, in:\n{self.output[-3000:]}")
            try:
                self.read_until(text * (count + 1), timeout=0.5)  # reads what came, up to half a second
            except AssertionError:
                pass

    def read_until_after(self, marker: str, text: str, timeout: float = 60) -> None:
        """Wait for `text` to appear after `marker` (e.g. the next prompt after an answer)."""
        deadline = time.monotonic() + timeout
        while text not in self.output[self.output.find(marker) + len(marker):] or marker not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"did not see {text!r} after {marker!r} in:\n{self.output[-3000:]}")
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                self.output += self._decoder.decode(os.read(self.master, 65536))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def interrupt(self) -> None:
        self.type("\x03")  # Ctrl-C through the terminal, as a person would press it


    def stop_task_when_shown(self, shown: str, timeout: float = 120) -> float:
        """Once `shown` (the running step's code) is on screen, Ctrl-C; the seconds until the REPL
        says the task stopped."""
        self.read_until(shown, timeout=timeout)
        time.sleep(1.5)  # the step is running, not starting
        started = time.monotonic()
        self.interrupt()
        self.read_until("Stopped. The conversation is kept", timeout=30)
        return time.monotonic() - started
    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.output += self._decoder.decode(os.read(self.master, 65536))
                except OSError:
                    pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise AssertionError("the REPL did not exit")
        return self.proc.returncode
