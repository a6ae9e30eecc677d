"""Step 3 of a tool call: approval of `ask` actions (patches, risky commands).

Modes: ask (prompt a person on the terminal), auto (approve ask-level actions; deny-level
ones never reach here), never (refuse). Without a terminal, ask cannot prompt and refuses.
Prompts come one at a time and wait as long as the person needs.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Callable

from agent_runtime.core import ApprovalResult

if TYPE_CHECKING:
    from agent_runtime.core import Action, Decision


# A prompt function shows the request and returns the user's key and optional message.
Prompt = Callable[[str, "Action", "Decision"], tuple[str, str | None]]

CHOICES = {
    "y": "yes, once",
    "n": "no",
    "a": "always: this exact command (for a patch: every patch) for the rest of the session",
    "r": "always: every command of this rule for the rest of the session",
    "m": "no, and tell the model why",
}


class Approver:
    def __init__(self, mode: str, interactive: bool, prompt: Prompt | None = None, mode_from_default: bool = False):
        """mode_from_default: `never` was chosen because there is no terminal, not by the user."""
        self.mode = mode
        self.interactive = interactive
        self.mode_from_default = mode_from_default
        self._prompt = prompt or terminal_prompt
        self._lock = threading.Lock()  # one prompt at a time
        self._always_commands: set[str] = set()
        self._always_rules: set[str] = set()
        self._always_patches = False

    def review(self, tool_name: str, action: "Action", decision: "Decision") -> ApprovalResult:
        if self.mode == "auto":
            return ApprovalResult(True, "config")
        if self.mode == "never":
            return ApprovalResult(False, "non_interactive" if self.mode_from_default else "config")
        if not self.interactive:
            return ApprovalResult(False, "non_interactive")
        with self._lock:
            if self._remembered(action, decision):
                return ApprovalResult(True, "user", "approved earlier for this session")
            key, message = self._prompt(tool_name, action, decision)
        if key == "a":
            if action.kind == "write":
                self._always_patches = True
            else:
                self._always_commands.add(action.command or "")
        elif key == "r" and decision.rule:
            self._always_rules.add(decision.rule)
        approved = key in ("y", "a", "r")
        return ApprovalResult(approved, "user", None if approved else message)

    def _remembered(self, action: "Action", decision: "Decision") -> bool:
        if action.kind == "write":
            return self._always_patches
        return (action.command or "") in self._always_commands or (decision.rule in self._always_rules)


def terminal_prompt(tool_name: str, action: "Action", decision: "Decision") -> tuple[str, str | None]:
    """Show what will happen and ask on the terminal (stderr for display, stdin for answers)."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.text import Text

    console = Console(stderr=True)
    if action.kind == "write":
        patch = action.preview
        stats = patch.stats()
        title = f"apply_patch {patch.id}: {len(stats)} file(s), " \
                f"+{sum(int(s['added']) for s in stats)} -{sum(int(s['removed']) for s in stats)}"
        body = Text()
        for s in stats:
            body.append(f"{s['status']:>8}  {s['path']}  +{s['added']} -{s['removed']}\n", style="bold")
        body.append("\n")
        body.append_text(colored_diff(patch.diff()))
        console.print(Panel(body, title=title, border_style="yellow"))
        keys = ["y", "n", "a", "m"]
    else:
        body = Text(action.command or "", style="bold")
        rule = f" (rule {decision.rule})" if decision.rule else ""
        body.append(f"\n\npolicy: {decision.decision}{rule}: {decision.reason}", style="dim")
        console.print(Panel(body, title=f"{tool_name} wants to run", border_style="yellow"))
        keys = ["y", "n", "a", "r", "m"] if decision.rule else ["y", "n", "a", "m"]
    legend = "  ".join(f"[bold]{k}[/bold] {CHOICES[k]}" for k in keys)
    console.print(legend)
    while True:
        console.print("[bold yellow]Approve?[/] ", end="")
        try:
            answer = input().strip().lower()[:1]
        except EOFError:
            return "n", "the user closed the input without answering"
        if answer in keys:
            break
        console.print(f"Please answer one of: {', '.join(keys)}")
    message = None
    if answer == "m":
        console.print("[bold]Message to the model:[/] ", end="")
        try:
            message = input().strip() or None
        except EOFError:
            message = None
    return answer, message


def colored_diff(diff: str):
    from rich.text import Text

    text = Text()
    for line in diff.splitlines():
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


def stdin_is_interactive() -> bool:
    return sys.stdin.isatty()
