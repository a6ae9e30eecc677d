"""The interactive REPL: tasks in a conversation that goes on until /reset.

The prompt appears at once; the model and the agent are made ready in a background thread
while the person types. Ctrl-C stops the running task, not the REPL; Ctrl-D or /exit ends it.
Line editing and history (kept across sessions) come from readline.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from agent_runtime.cli.common import escape_markup, make_approver
from agent_runtime.config import Settings, state_home


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

    def __init__(self, session: Any, resume: Any = None):
        super().__init__(daemon=True, name="session-opener")
        self.session = session
        self.resume = resume  # a conversation to take up once open (--continue / --resume)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.session.open()
            if self.resume is not None:
                self.session.resume(self.resume)
        except BaseException as exc:  # noqa: BLE001 (reported to the person on the main thread)
            self.error = exc


def run_repl(settings: Settings, repo: Path, resume: Any = None, model_option: str | None = None) -> int:
    """resume: a Conversation (agent/resume.py) to continue (--continue / --resume); model_option: --model."""
    from agent_runtime.agent.attach import AttachmentError
    from agent_runtime.agent.session import Session
    from agent_runtime.cli.display import Display
    from agent_runtime.cli.slash import ReplContext, dispatch

    display = Display()
    from agent_runtime.models.embedded import embedded_installed, llama_missing

    if not embedded_installed():  # the plain install: say so before the prompt, not after the first task
        from agent_runtime.config import ConfigError
        from agent_runtime.models.registry import SHARED_SERVER_ENV
        from agent_runtime.models.roles import model_for_role

        try:
            coder = model_for_role(settings, "coder")
        except ConfigError:  # the session's opening says what is wrong with the models file
            coder = None
        if coder is not None and coder.entry.embedded and not os.environ.get(SHARED_SERVER_ENV):
            display.error(llama_missing())
            return 1
    _setup_history()
    # Started by a script's background job, a process inherits SIGINT ignored; the REPL is typed at,
    # and its Ctrl-C must stop the running task (run commands get the default again when they start).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    from agent_runtime.agent.tracing import new_session_id

    # One Phoenix session for the REPL: its tasks are the turns of one conversation there (a resumed
    # conversation keeps the session it had).
    session_id = (resume.session_id if resume is not None else None) or new_session_id("repl")
    session = Session(settings, repo, make_approver(settings), display, session_id=session_id)
    opener = _Opener(session, resume)
    opener.start()
    display.info(f"[bold]agent-runtime[/] in {escape_markup(str(repo))}  ·  /help for commands  ·  Ctrl-D to leave")
    from agent_runtime.cli.skillscmd import startup_notes

    for note in startup_notes(repo):  # a repository's skills stay off until trusted: say so once
        display.warn(note)
    from agent_runtime.cli.startnotes import not_git_note, repo_policy_note

    for note in (not_git_note(repo), repo_policy_note(repo, settings.policy_file)):
        if note:
            display.warn(note)
    if resume is not None:
        from agent_runtime.agent.resume import describe

        display.info(escape_markup(describe(resume)))
        for note in resume.notes:
            display.warn(note)
    ctx = ReplContext(settings, repo, session, display, opener, model_option=model_option)
    try:
        while not ctx.done:
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
            try:
                if line.startswith("/"):
                    dispatch(ctx, line)
                    continue
                if not ctx.ready():
                    return 1
            except KeyboardInterrupt:
                display.info("")
                continue
            try:
                session.approver.task = line  # what the judge (--approval judge) weighs a command against
                result = session.run(line)
            except AttachmentError as exc:
                display.error(str(exc))
                continue
            if result.status in ("answered", "gave_up", "repeated"):  # a give-up's answer is its attempts' report
                display.final(result.answer)
            elif result.status == "interrupted":
                display.warn("Stopped. The conversation is kept; type the next task.")
            elif result.status == "step_limit":
                display.warn(f"The step limit ({session.settings.agent_max_steps}) was reached without a final answer.")
            else:
                display.error(result.error or "the task failed")
        return 0
    finally:
        if opener.is_alive():
            opener.join(30)
        session.close()
