"""The REPL in a real pseudo-terminal: prompt, commands, Ctrl-C, history across sessions."""

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

from conftest import BUGGY_PROJECT, VENV_BIN, make_repo, step, write_replay


class Terminal:
    """A program on a pseudo-terminal, read and typed into like a person would."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]):
        self.master, slave = pty.openpty()

        def controlling_terminal() -> None:
            # A new session whose controlling terminal is the pty: Ctrl-C typed there becomes SIGINT.
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

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


def repl(repo: Path, replay: Path, *extra: str) -> Terminal:
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200"}
    return Terminal([str(VENV_BIN / "agent-runtime"), "--model", f"replay:{replay}", *extra], repo, env)


def test_prompt_help_and_exit(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    term = repl(repo, write_replay(tmp_path / "r.json", []))
    term.read_until("› ", timeout=20)
    term.type("/help\n")
    term.read_until("/reset")
    term.type("/nonsense\n")
    term.read_until("unknown command /nonsense")
    term.type("/exit\n")
    assert term.wait() == 0


def test_ctrl_c_stops_the_task_not_the_repl_and_history_is_kept(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [
        step("Wait a long time.", 'print(run_cmd(command="sleep 60"))'),
        step("Answer.", 'final_answer("second task answered")'),
    ])
    term = repl(repo, replay, "--approval", "auto")
    term.read_until("› ", timeout=20)
    term.type("first task: wait\n")
    term.read_until("print(run_cmd(command=\"sleep 60\"))", timeout=120)  # shown before it runs
    time.sleep(1.5)
    started = time.monotonic()
    term.interrupt()
    term.read_until("Stopped. The conversation is kept", timeout=30)
    assert time.monotonic() - started < 20, "Ctrl-C must stop the running command at once"
    assert subprocess.run(["pgrep", "-f", "sleep 60"], capture_output=True).returncode != 0, "the command was killed"
    term.type("second task\n")
    term.read_until_after("second task answered", "› ", timeout=60)
    term.type("\x04")  # Ctrl-D at the prompt leaves
    assert term.wait() == 0
    history = Path(os.environ["XDG_STATE_HOME"]) / "agent-runtime" / "history"
    assert "first task: wait" in history.read_text() and "second task" in history.read_text()
    # A new session starts with that history: arrow-up brings back the last line.
    term = repl(repo, write_replay(tmp_path / "r2.json", []))
    term.read_until("› ", timeout=20)
    term.type("\x1b[A")
    term.read_until("second task", timeout=10)
    term.type("\x15/exit\n")  # Ctrl-U clears the recalled line
    assert term.wait() == 0
