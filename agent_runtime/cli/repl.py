"""The interactive REPL: tasks in a conversation that goes on until /reset.

The prompt appears at once; the model and the agent are made ready in a background thread
while the person types. Ctrl-C stops the running task, not the REPL; Ctrl-D or /exit ends it.
Line editing and history (kept across sessions) come from readline.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from agent_runtime.config import Settings, state_home

HELP = """\
Type a task and press Enter. The conversation continues across tasks until /reset.
  /help    this help
  /reset   forget the conversation and the proposed patches
  /undo    undo the last patch the agent applied
  /exit    leave (Ctrl-D works too)
Ctrl-C stops the running task and keeps the REPL."""


def _setup_history() -> None:
    try:
        import readline
    except ImportError:  # not on every platform; the REPL works without it
        return
    import atexit

    path = state_home() / "history"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        readline.read_history_file(path)
    except (FileNotFoundError, OSError):
        pass
    readline.set_history_length(2000)
    atexit.register(lambda: _save_history(readline, path))


def _save_history(readline: Any, path: Path) -> None:
    try:
        readline.write_history_file(path)
    except OSError:
        pass


class _Opener(threading.Thread):
    """Opens the session in the background; the first task waits for it."""

    def __init__(self, session: Any):
        super().__init__(daemon=True, name="session-opener")
        self.session = session
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.session.open()
        except BaseException as exc:  # reported to the person on the main thread
            self.error = exc


def run_repl(settings: Settings, repo: Path) -> int:
    from agent_runtime.agent.session import Session
    from agent_runtime.cli.display import Display
    from agent_runtime.cli.main import make_approver

    display = Display()
    _setup_history()
    session = Session(settings, repo, make_approver(settings), display)
    opener = _Opener(session)
    opener.start()
    display.info(f"[bold]agent-runtime[/] in {repo}  ·  /help for commands  ·  Ctrl-D to leave")
    ready = False
    try:
        while True:
            if opener.error is not None:
                display.error(str(opener.error))
                return 1
            try:
                line = input("› ").strip()
            except EOFError:
                display.info("")
                return 0
            except KeyboardInterrupt:
                display.info("")
                continue
            if not line:
                continue
            if line.startswith("/"):
                command = line.split()[0].lower()
                if command in ("/exit", "/quit"):
                    return 0
                if command == "/help":
                    display.info(HELP)
                elif command == "/reset":
                    session.reset()
                    display.info("The conversation and proposed patches are forgotten.")
                elif command == "/undo":
                    from agent_runtime.cli.commands import undo_last

                    undo_last(repo, display)
                else:
                    display.warn(f"unknown command {command}; /help lists them")
                continue
            if not ready:
                with display.waiting("Getting the model ready…"):
                    try:
                        while opener.is_alive():
                            opener.join(0.2)
                    except KeyboardInterrupt:
                        display.info("")
                        continue
                if opener.error is not None:
                    display.error(str(opener.error))
                    return 1
                ready = True
                display.banner({"model": session.model_label, "approval": session.approver.mode,
                                "sandbox": session.runtime.sandbox.kind})
            result = session.run(line)
            if result.status == "answered":
                display.final(result.answer)
            elif result.status == "interrupted":
                display.warn("Stopped. The conversation is kept; type the next task.")
            elif result.status == "step_limit":
                display.warn(f"The step limit ({settings.agent_max_steps}) was reached without a final answer.")
            else:
                display.error(result.error or "the task failed")
    finally:
        if opener.is_alive():
            opener.join(30)
        session.close()
