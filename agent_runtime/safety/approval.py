"""Step 3 of a tool call: approval of `ask` actions (patches, risky commands).

Modes: ask (prompt a person on the terminal), auto (approve ask-level actions; deny-level
ones never reach here), never (refuse), judge (a small model answers what the sandbox would
contain, safety/judge.py, and sends the rest to the person). Without a terminal, ask cannot
prompt and refuses. Prompts come one at a time and wait as long as the person needs; Enter is
the default, no.

Approvals are remembered two ways, and one taken from memory says so (source `remembered`,
a line on the terminal): an "always" of this session, and the user's saved approvals (their
policy file, safety/userpolicy.py), offered for saving right after an "always" for a command
or an MCP tool.
Neither ever covers a write to the project's instructions (rule `instructions`): that is
asked every time. An explicit `--approval never` refuses even what is remembered.
Answers are read without entering the REPL's readline history: `y` is not a task.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from agent_runtime.core import ApprovalResult, visible, visible_exact
from agent_runtime.safety.judge import Judge, JudgeContext, JudgeVerdict
from agent_runtime.safety.policy import PINNED_FLOORS

if TYPE_CHECKING:
    from rich.console import Console

    from agent_runtime.core import Action, Decision
    from agent_runtime.safety.userpolicy import ApprovalStore, Proposal


# A prompt function shows the request and returns the user's key and optional message.
Prompt = Callable[[str, "Action", "Decision"], tuple[str, str | None]]
# Shows an entry about to be saved to the user's policy file; True saves it.
ConfirmSave = Callable[["Proposal"], bool]

CHOICES_COMMAND = {
    "y": "yes, run it once",
    "n": "no (Enter)",
    "a": "always: this exact command, for this session (then: save it for later sessions?)",
    "r": "always: every command of this rule, for this session (then: save it?)",
    "m": "no, and tell the model why",
}
CHOICES_PATCH = {
    "y": "yes, apply it",
    "n": "no (Enter)",
    "a": "always: every patch, for this session",
    "m": "no, and tell the model why",
}
CHOICES_NOTE = {  # `remember`: a note for the project's instructions, worded as such
    "y": "yes, save it",
    "n": "no (Enter)",
    "a": "always: every note and patch, for this session",
    "m": "no, and tell the model why",
}
CHOICES_PROMOTE = {  # promote_tool: code that later sessions call as a tool
    "y": "yes, promote it",
    "n": "no (Enter)",
    "m": "no, and tell the model why",
}
CHOICES_MCP = {
    "y": "yes, call it once",
    "n": "no (Enter)",
    "a": "always: this MCP tool, for this session (then: save it for later sessions?)",
    "m": "no, and tell the model why",
}
DEFAULT_KEY = "n"


class Approver:
    def __init__(self, mode: str, interactive: bool, prompt: Prompt | None = None, mode_from_default: bool = False,
                 confirm_save: ConfirmSave | None = None, notice: Callable[[str], None] | None = None):
        """mode_from_default: `never` was chosen because there is no terminal, not by the user."""
        self.mode = mode
        self.interactive = interactive
        self.mode_from_default = mode_from_default
        self._prompt = prompt or terminal_prompt
        self._confirm_save = confirm_save or terminal_confirm_save
        self.notice = notice or stderr_notice  # one line for the person: what was approved from memory
        self.store: ApprovalStore | None = None  # saves "always" to the user's policy file (Runtime.create)
        self.before_prompt: Callable[[str, "Action", "Decision"], None] | None = None  # hooks (tools/hooks.py)
        # --approval judge: the model (cli/judgemodel.py builds it), the task the session works on (the
        # session sets it when a task starts) and the recent steps (tools/runtime.py: the calls made).
        self.judge: Judge | None = None
        self.task: str | None = None
        self.steps: Callable[[], list[str]] | None = None
        self.sandboxed = False  # commands run in the sandbox (tools/runtime.py): without it the judge approves nothing
        self.waited_s = 0.0  # time spent at prompts, left out of step and model times
        self._lock = threading.Lock()  # one prompt at a time
        self._latest = threading.local()  # this thread's latest review: its time at the prompt
        self._always_commands: set[str] = set()
        self._always_rules: set[str] = set()
        self._always_patches = False

    def review(self, tool_name: str, action: "Action", decision: "Decision", hook: Any = None) -> ApprovalResult:
        """hook: a before_tool hook's run that approved the call (tools/hooks.py HookRun), if any."""
        self._latest.waited_s = 0.0
        if self.mode == "never" and not self.mode_from_default:
            return ApprovalResult(False, "config")  # the user said never: not even what is remembered
        if hook is not None:
            why = f": {hook.message}" if hook.message else ""
            self.notice(f"approved: by your hook {hook.hook.name}{why} — {tool_name}: {_subject(action)}")
            return ApprovalResult(True, "hook", f"hook {hook.hook.name}{why}")
        with self._lock:
            remembered = self._remembered(action, decision)
            if remembered is not None:
                self.notice(f"approved: remembered from {remembered} — {tool_name}: {_subject(action)}")
                return ApprovalResult(True, "remembered", remembered)
            # A new tool is code for every later session: the person decides, never the judge model, and
            # not `auto` either (it approves this session's changes, not what every later one runs).
            if self.mode == "auto" and action.kind != "promote":
                return ApprovalResult(True, "config")
            judged = self._judge(tool_name, action, decision) if self.mode == "judge" and action.kind != "promote" \
                else None
            said = {"judge": judged.word, "judge_reason": judged.reason} if judged is not None else {}
            if judged is not None and judged.approve:
                return ApprovalResult(True, "judge", judged.reason, **said)
            if self.mode == "never" or not self.interactive:
                return ApprovalResult(False, "non_interactive", **said)
            if self.before_prompt is not None:
                self.before_prompt(tool_name, action, decision)
            started = time.monotonic()
            try:
                key, message = self._prompt(tool_name, action, decision)
                if key in ("a", "r") and decision.rule not in PINNED_FLOORS:
                    self._remember(key, action, decision)
            finally:
                self._latest.waited_s = time.monotonic() - started
                self.waited_s += self._latest.waited_s
        approved = key in ("y", "a", "r")
        return ApprovalResult(approved, "user", None if approved else message, **said)

    def _judge(self, tool_name: str, action: "Action", decision: "Decision") -> JudgeVerdict:
        """The judge's verdict, shown as one line whatever it is (the person sees why they are asked)."""
        if self.judge is None:
            verdict = JudgeVerdict(False, "no judge model is set up", consulted=False)
        else:
            steps = tuple(self.steps()) if self.steps is not None else ()
            verdict = self.judge.review(action, decision, JudgeContext(self.task, steps), self.sandboxed)
        what = "approved by the judge" if verdict.approve else "judge: for you to decide"
        self.notice(f"{what}: {verdict.reason} — {tool_name}: {_subject(action)}")
        return verdict

    def last_wait_s(self) -> float:
        """Seconds the calling thread's latest `review` spent at the prompt (the answer, a message,
        "save it?"), 0 when none was shown: the TOOL span's `approval.wait_ms`."""
        return getattr(self._latest, "waited_s", 0.0)

    def _remembered(self, action: "Action", decision: "Decision") -> str | None:
        """Where an approval of this is remembered, or None."""
        if decision.rule in PINNED_FLOORS or action.kind == "promote":
            return None  # the project's instructions, a new tool: asked every time
        if action.kind == "write":
            return "this session ('always' for every patch)" if self._always_patches else None
        if action.kind == "mcp":  # an MCP tool: by its name, for this session or saved (policy/engine.py)
            if _key(action) in self._always_commands:
                return "this session ('always' for this MCP tool)"
            return decision.approved_by
        if (action.command or "") in self._always_commands:
            return "this session ('always' for this command)"
        if decision.rule in self._always_rules:
            return f"this session ('always' for rule {decision.rule})"
        return decision.approved_by  # the user's saved approvals (safety/userpolicy.py)

    def _remember(self, key: str, action: "Action", decision: "Decision") -> None:
        if action.kind == "write":
            self._always_patches = key == "a" or self._always_patches
            return
        if action.kind == "mcp":  # its "always" covers this tool by name, and can be saved as such
            self._always_commands.add(_key(action))
            if self.store is not None:
                self._offer(self.store.propose_tool(action.command or ""),
                            "a saved approval could not cover this MCP tool (its server is not in your mcp.toml "
                            "as configured now)")
            return
        command = action.command or ""
        if key == "a":
            self._always_commands.add(command)
        elif decision.rule:
            self._always_rules.add(decision.rule)
        if self.store is None:
            return
        self._offer(self.store.propose(command, decision.rule if key == "r" else None),
                    "a saved approval could not cover it (the policy asks for a reason that holds whatever is "
                    "saved, such as code it cannot judge or AGENTS.md)")

    def _offer(self, proposal: "Proposal | None", why_not: str) -> None:
        """Show an entry for the user's policy file; save it on their yes."""
        if proposal is None:
            self.notice(f"remembered for this session only: {why_not}")
            return
        if self._confirm_save(proposal):
            from agent_runtime.safety.userpolicy import SaveError, shown

            try:
                self.store.save(proposal)
            except SaveError as exc:
                self.notice(f"not saved: {exc}")
                return
            self.notice(f"saved to {shown(proposal.path)}; later sessions approve it without asking "
                        "(agent-runtime policy test checks it; delete the entry to undo)")


def _key(action: "Action") -> str:
    """What an "always" of an MCP tool remembers: never equal to a shell command's text."""
    return f"{action.kind}:{action.command or ''}"


def _subject(action: "Action") -> str:
    if action.kind == "write":
        return ", ".join(exact_line(p) for p in action.paths)
    return exact_line(action.command or "")


def one_line(text: str) -> str:
    """A path or name on one line, control characters visible (a newline in a name cannot fake a row)."""
    return visible(text).replace("\n", "^J").replace("\t", "^I")


LONG_COMMAND_LINES = 20  # past this, the prompt's title says how many lines the command has
_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n){2,}")
_SPACE_RUN = re.compile(r"[ \t]{16,}")


def exact_block(text: str) -> str:
    """A command a person approves, as visible_exact shows it, with runs of blank lines and of spaces
    counted instead of drawn: 200 empty lines (or 5,000 spaces, wrapped) after `curl ... | sh` would push
    it off the screen, leaving only a harmless last line in sight."""
    shown = visible_exact(text)
    shown = _BLANK_RUN.sub(lambda m: f"\n<{m.group().count(chr(10)) - 1} blank lines>\n", shown)
    return _SPACE_RUN.sub(lambda m: f"<{len(m.group())} spaces and tabs>", shown)


def exact_line(text: str) -> str:
    """A command or path a person approves, on one line, every non-ASCII character by code point
    (a look-alike letter cannot pass for the ASCII one that the person reads)."""
    return visible_exact(text).replace("\n", "^J").replace("\t", "^I")


def stderr_console(**options: Any) -> "Console":
    """The console every display on stderr prints through. Never emoji codes: rich would draw
    `cat :lock:` as `cat 🔒`, and markup escaping leaves them; nor highlighting (colour by guess)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False, **options)


def stderr_notice(message: str) -> None:
    from rich.markup import escape

    stderr_console().print(f"[dim green]{escape(visible(message))}[/]", soft_wrap=True)


def read_answer() -> str:
    """One line typed at a prompt, kept out of the REPL's readline history (it is not a task);
    raises EOFError when the input is closed."""
    readline: Any = sys.modules.get("readline")
    automatic = getattr(readline, "set_auto_history", None)
    if automatic is not None:
        automatic(False)
    try:
        return input()
    finally:
        if automatic is not None:
            automatic(True)


_AT_PROMPT = threading.Event()  # a prompt is waiting for a key (read_key, in the thread that asks)


def end_interrupted_prompt() -> None:
    """Ctrl-C reached the task while a prompt waited in another thread (the tool call's): the prompt's
    line is ended, so what is said next (the summary) starts on its own."""
    if _AT_PROMPT.is_set():
        _AT_PROMPT.clear()
        print("", file=sys.stderr, flush=True)


def read_key() -> str:
    """One answer at a prompt: on a terminal a single keypress, no Enter needed (Enter alone is "" and
    means the default); elsewhere a line. Raises EOFError when the input is closed (Ctrl-D)."""
    try:
        fd = sys.stdin.fileno()
        terminal = os.isatty(fd)
    except (AttributeError, ValueError, OSError):
        terminal = False
    if not terminal:
        answer = read_answer().strip().lower()[:1]
        _AT_PROMPT.clear()  # the line ended with the answer's Enter
        return answer
    import select
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)  # never a flush: keys typed once the question showed are the answer
        data = os.read(fd, 64)
        if data and data[:1] != b"\x04":  # a key, not the input ended under it (Ctrl-C elsewhere, Ctrl-D)
            _AT_PROMPT.clear()
        if len(data) == 1 and data not in (b"\r", b"\n") and select.select([fd], [], [], 0.05)[0]:
            data += os.read(fd, 64)  # `y` then Enter out of habit: the Enter must not answer the next prompt
    except KeyboardInterrupt:
        # Ctrl-C ends the prompt's line, so what is said next (the summary) starts on its own.
        _AT_PROMPT.clear()
        print("^C", file=sys.stderr, flush=True)
        raise
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    if not data or data[:1] == b"\x04":
        raise EOFError
    key = data[:1].decode("ascii", "replace").lower()
    key = "" if key in "\r\n" else key
    print(visible(key), file=sys.stderr, flush=True)  # the echo the terminal no longer gives, and the newline
    return key


def question(tool_name: str, action: "Action") -> str:
    """What the person is asked, worded for what is approved."""
    if action.kind == "write":
        return "Save this note?" if tool_name == "remember" else "Apply this patch?"
    if action.kind == "mcp":
        return "Call this MCP tool?"
    if action.kind == "promote":
        return "Promote this tool?"
    return "Run this command?"


def terminal_prompt(tool_name: str, action: "Action", decision: "Decision") -> tuple[str, str | None]:
    """Show what will happen and ask on the terminal (stderr for display, stdin for answers).

    Everything shown passes `visible`: an escape sequence in a command or a diff is shown as
    ^[[..., never sent to the terminal, so what a person approves is what runs."""
    from rich.markup import escape
    from rich.panel import Panel
    from rich.text import Text

    console = stderr_console()
    rule = f" (rule {decision.rule})" if decision.rule else ""
    pinned = decision.rule in PINNED_FLOORS
    if action.kind == "write":
        patch = action.preview
        stats = patch.stats()
        title = f"{tool_name} {patch.id}: {len(stats)} file(s), " \
                f"+{sum(int(s['added']) for s in stats)} -{sum(int(s['removed']) for s in stats)}"
        body = Text()
        for s in stats:
            body.append(f"{s['status']:>8}  {exact_line(str(s['path']))}  +{s['added']} -{s['removed']}\n", style="bold")
        body.append("\n")
        body.append_text(colored_diff(patch.diff()))
        if pinned:
            body.append(visible(f"\npolicy: {decision.decision}{rule}: {decision.reason}"), style="dim")
        console.print(Panel(body, title=one_line(title), border_style="yellow"))
        choices = CHOICES_NOTE if tool_name == "remember" else CHOICES_PATCH
        keys = ["y", "n", "m"] if pinned else ["y", "n", "a", "m"]
    elif action.kind == "promote":  # the new skill's files as a diff: the code that later sessions run
        body = colored_diff(str(action.preview))
        body.append(visible(f"\npolicy: {decision.decision}{rule}: {decision.reason}"), style="dim")
        console.print(Panel(body, title=exact_line(f"{tool_name}: {action.command or ''}"), border_style="yellow"))
        choices = CHOICES_PROMOTE
        keys = ["y", "n", "m"]
    elif action.kind == "mcp":  # the tool and its arguments, as they will be sent to the server
        import json

        body = Text(exact_block(action.command or ""), style="bold")
        body.append(visible("\n" + json.dumps(action.preview, indent=2, ensure_ascii=False, default=str)))
        body.append(visible(f"\n\npolicy: {decision.decision}{rule}: {decision.reason}"), style="dim")
        console.print(Panel(body, title="MCP tool call", border_style="yellow"))
        choices = CHOICES_MCP
        keys = ["y", "n", "a", "m"]
    else:
        body = Text(exact_block(action.command or ""), style="bold")
        body.append(visible(f"\n\npolicy: {decision.decision}{rule}: {decision.reason}"), style="dim")
        lines = exact_block(action.command or "").count("\n") + 1
        more = f" ({lines} lines: read them all, from the top)" if lines > LONG_COMMAND_LINES else ""
        console.print(Panel(body, title=one_line(f"{tool_name} wants to run{more}"), border_style="yellow"))
        choices = CHOICES_COMMAND
        keys = ["y", "n", "m"] if pinned else ["y", "n", "a", "r", "m"] if decision.rule else ["y", "n", "a", "m"]
    legend = "  ".join(f"[bold]{k}[/bold] {choices[k]}" for k in keys)
    console.print(legend)
    shown_keys = "/".join(k.upper() if k == DEFAULT_KEY else k for k in keys)
    while True:
        _AT_PROMPT.set()  # the line stays open until a key answers; if Ctrl-C ends the wait, the next line ends it
        console.print(f"[bold yellow]{question(tool_name, action)}[/] {escape(f'[{shown_keys}]')} ", end="")
        try:
            answer = read_key() or DEFAULT_KEY
        except EOFError:
            return "n", "the user closed the input without answering"
        if answer in keys:
            break
        console.print(f"Please answer one of: {', '.join(keys)} (Enter: {DEFAULT_KEY})")
    message = None
    if answer == "m":
        console.print("[bold]Message to the model:[/] ", end="")
        try:
            message = read_answer().strip() or None
        except EOFError:
            message = None
    return answer, message


def terminal_confirm_save(proposal: "Proposal") -> bool:
    """Show the entry that would go to the user's policy file; save only on an explicit yes."""
    from rich.markup import escape
    from rich.panel import Panel
    from rich.text import Text

    from agent_runtime.safety.userpolicy import shown

    console = stderr_console()
    console.print(Panel(Text(visible_exact(proposal.text.rstrip("\n"))), title=exact_line(f"for {shown(proposal.path)}"),
                        border_style="cyan"))
    console.print("Later sessions would approve it without asking; `agent-runtime policy test` checks it.")
    console.print(f"[bold cyan]Save it to {escape(exact_line(shown(proposal.path)))}?[/] {escape('[y/N]')} ", end="")
    try:
        return read_key() == "y"
    except EOFError:
        return False


def colored_diff(diff: str):
    from rich.text import Text

    text = Text()
    shown = visible(diff)
    for line in (shown[:-1] if shown.endswith("\n") else shown).split("\n"):
        style = None
        if line.startswith(("+++", "---", "diff --git")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        text.append(line + "\n", style=style)
    return text
