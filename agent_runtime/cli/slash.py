"""The REPL's /commands: one table, /help made from it, "did you mean" for a typo.

A command is a function of the REPL's context and its words, registered with @command. Those
that need the model and the agent call ctx.ready() first (the session opens in the background
while the person types).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rich.markup import escape

from agent_runtime.config import Settings
from agent_runtime.core import visible


@dataclass
class Command:
    name: str
    usage: str
    help: str
    run: Callable[["ReplContext", list[str]], None]
    aliases: tuple[str, ...] = ()


COMMANDS: dict[str, Command] = {}
ALIASES: dict[str, str] = {}


def command(name: str, usage: str, help: str, aliases: tuple[str, ...] = ()) -> Callable:
    def register(run: Callable[["ReplContext", list[str]], None]) -> Callable:
        COMMANDS[name] = Command(name, usage, help, run, aliases)
        for alias in aliases:
            ALIASES[alias] = name
        return run

    return register


@dataclass
class ReplContext:
    settings: Settings  # as the REPL started (the user's MODEL_ID and fallbacks)
    repo: Path
    session: Any
    display: Any
    opener: Any  # the thread opening the session; None when it is open already
    done: bool = False  # /exit
    shown_banner: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    model_option: str | None = None  # what --model said, if anything (/model names where a choice came from)

    def ready(self, banner: bool = True) -> bool:
        """Wait for the session to be open (a spinner meanwhile); False (and said) if it failed.
        banner=False: the caller shows the model, approval and sandbox itself (/status), so the
        session's banner line is not printed above the same facts."""
        opener = self.opener
        if opener is not None and opener.is_alive():
            with self.display.waiting("Getting the model ready…"):
                while opener.is_alive():
                    opener.join(0.2)
        if opener is not None and opener.error is not None:
            self.display.error(str(opener.error))
            return False
        if not self.shown_banner:
            self.shown_banner = True
            if banner:
                self.display.banner({"model": self.session.model_label, "approval": self.session.approver.mode,
                                     "sandbox": self.session.runtime.sandbox.kind})
        return True

    def say(self, text: str) -> None:
        console = getattr(self.display, "console", None)
        if console is not None:  # long lines (paths, ids) wrap at the terminal's edge, not mid-table
            console.print(escape(visible(text)), soft_wrap=True)
        else:
            self.display.info(escape(visible(text)))


def dispatch(ctx: ReplContext, line: str) -> None:
    words = line.split()
    name = words[0].lower()
    name = ALIASES.get(name, name)
    found = COMMANDS.get(name)
    if found is None:
        close = difflib.get_close_matches(name, [*COMMANDS, *ALIASES], n=1, cutoff=0.6)
        guess = f"; did you mean {ALIASES.get(close[0], close[0])}?" if close else ""
        ctx.display.warn(f"unknown command {words[0]}{guess} (/help lists them)")
        return
    found.run(ctx, words[1:])


def help_text() -> str:
    rows = [(f"{c.name} {c.usage}".strip(), c.help) for c in COMMANDS.values()]
    width = max(len(r[0]) for r in rows)
    lines = ["Type a task and press Enter; @path in a task attaches that file. The conversation continues "
             "across tasks until /reset."]
    lines += [f"  {escape(usage):<{width}}  {escape(text)}" for usage, text in rows]
    lines.append("Ctrl-C stops the running task and keeps the REPL; Ctrl-D leaves.")
    return "\n".join(lines)


# --- the commands ---


@command("/help", "", "this help")
def _help(ctx: ReplContext, args: list[str]) -> None:
    ctx.display.info(help_text())


@command("/exit", "", "leave (Ctrl-D works too)", aliases=("/quit",))
def _exit(ctx: ReplContext, args: list[str]) -> None:
    ctx.done = True


@command("/reset", "", "forget the conversation and the proposed patches")
def _reset(ctx: ReplContext, args: list[str]) -> None:
    ctx.session.reset()
    ctx.say("The conversation and proposed patches are forgotten.")


@command("/undo", "[ID|--list]", "undo the newest applied patch or command's changes still in effect (again: "
                                 "the one before); --list: the history")
def _undo(ctx: ReplContext, args: list[str]) -> None:
    from agent_runtime.cli.undocmd import undo_last, undo_list

    if args and args[0] in ("--list", "-l", "list"):
        undo_list(ctx.repo, ctx.display, journal=_journal(ctx))
    elif len(args) > 1 or (args and args[0].startswith("-")):
        ctx.display.warn("usage: /undo [PATCH_ID|--list]")
    else:
        undo_last(ctx.repo, ctx.display, args[0] if args else None, journal=_journal(ctx))
        _after_undo(ctx)


def _journal(ctx: ReplContext):
    """The session's undo journal: short ids (p1) are this session's there; None without a session."""
    runtime = getattr(ctx.session, "runtime", None)
    return getattr(runtime, "journal", None)


def _after_undo(ctx: ReplContext) -> None:
    """The session's patches no longer applied are marked so (apply_patch may apply them again), and
    the model hears of it with the next task: its memory still says they were applied."""
    runtime = getattr(ctx.session, "runtime", None)
    if runtime is None or runtime.journal is None:
        return
    history = runtime.journal.history()
    in_effect = {e.shown for e in history if e.undone is None}
    undone = [p.id for p in runtime.patches.all() if p.applied and p.id not in in_effect]
    for patch in runtime.patches.all():
        patch.applied = patch.applied and patch.id in in_effect
    if undone:
        ctx.session.chat.note(f"the user undid patch {', '.join(undone)}: its files are back as they were "
                                 "before it")
    live = {e.qualified for e in history if e.undone is None}
    gone = sorted(i for i in runtime.commands_changed if i not in live)
    runtime.commands_changed.difference_update(gone)
    shown = {e.qualified: e.shown for e in history}
    commands = [shown.get(i, i) for i in gone]
    if commands:
        ctx.session.chat.note(f"the user undid what command {', '.join(commands)} changed: those files are back "
                                 "as they were before it ran")


@command("/diff", "", "the changes the agent made in this session or the conversation it resumed (its applied "
                      "patches, combined)")
def _diff(ctx: ReplContext, args: list[str]) -> None:
    if not ctx.ready():
        return
    from rich.text import Text

    from agent_runtime.patches.apply import Patch
    from agent_runtime.patches.undo import combined_edits
    from agent_runtime.safety.approval import colored_diff, one_line

    session = ctx.session
    journal = session.runtime.journal
    ids = {p.id for p in session.applied}
    if journal is not None:
        entries = [e for e in journal.history() if e.shown in ids and e.undone is None]
        groups, shown_ids = [e.edits for e in entries], [e.shown for e in entries]
    else:
        groups, shown_ids = [p.edits for p in session.applied], [p.id for p in session.applied]
    edits = combined_edits(groups)
    if not edits:
        undone = " (the ones applied were undone)" if ids else ""
        ctx.say(f"No changes by the agent in this session{undone}.")
        return
    combined = Patch("session", edits)
    body = Text()
    stats = combined.stats()
    body.append(f"patches {', '.join(shown_ids)}: {len(stats)} file(s), +{sum(int(s['added']) for s in stats)} "
                f"-{sum(int(s['removed']) for s in stats)}\n", style="bold")
    for s in stats:
        body.append(f"{s['status']:>8}  {one_line(str(s['path']))}  +{s['added']} -{s['removed']}\n")
    body.append("\n")
    body.append_text(colored_diff(combined.diff()))  # control characters made visible there
    ctx.display.console.print(body, end="", soft_wrap=True)
    ctx.say("(as the patches left the files; `git diff` shows what is on disk now)")


def _model_choices(settings: Settings, model_option: str | None = None) -> list[tuple[str, str]]:
    from agent_runtime.models import weights
    from agent_runtime.models.roles import load_catalog, parse_model_option

    rows = [("embedded", f"the embedded model (default {weights.DEFAULT_KEY})")]
    for key, item in weights.CATALOG.items():
        installed = weights.part_files(item) is not None
        rows.append((f"embedded:{key}", f"{item.label}" + ("" if installed else f" — not installed: {item.install}")))
    try:
        catalog = load_catalog(settings)
    except Exception as exc:  # noqa: BLE001 - the file changed since start-up: say so, list the rest
        rows.append(("(models file)", str(exc)))
    else:
        for name, entry in catalog.models.items():
            rows.append((name, f"{entry.id} (models file)"))
        if settings.model_id:
            try:  # --model beats MODEL_ID: a coder it names came from the command line
                by_option = bool(model_option) and "coder" in parse_model_option(model_option or "", catalog)
            except ValueError:
                by_option = False
            rows.append((settings.model_id, "--model" if by_option else "MODEL_ID"))
    for index, model_id in enumerate(settings.model_fallback_ids, 1):
        rows.append((model_id, f"MODEL_FALLBACK_IDS #{index}"))
    rows.append(("replay:FILE", "recorded replies (tests and demos)"))
    rows.append(("PROVIDER/MODEL", "any LiteLLM id: ollama_chat/qwen2.5-coder:14b, openai/gpt-4o-mini, ..."))
    return rows


def _role_lines(ctx: ReplContext) -> list[str]:
    """Each role's model: the coder as it answers now, the others as configured (models/roles.py)."""
    from agent_runtime.models.catalog import ROLES
    from agent_runtime.models.roles import roles_for

    session = ctx.session
    roles = dict(getattr(session, "roles", None) or {})
    if not roles:
        try:
            roles = roles_for(ctx.settings)
        except Exception as exc:  # noqa: BLE001 - a models file broken since start-up
            return [f"roles: {exc}"]
    judge = getattr(getattr(session, "approver", None), "judge", None)
    lines = ["roles:"]
    for role in ROLES:
        chosen = roles.get(role)
        if role == "coder" and session.model_label:
            shown = session.model_label + (f" [{chosen.name}: {chosen.source}]" if chosen else "")
        elif role == "judge" and judge is not None:
            shown = f"{judge.label} [answers approvals now]"
        elif chosen is not None:
            shown = f"{chosen.describe()} [{chosen.source}]"
        else:
            shown = "(none)" if role != "judge" else "(none: embedded:0.5b with /approval judge)"
        lines.append(f"  {role:<8} {shown}")
    return lines


@command("/model", "[ID|NAME]", "switch the coder's model for the next task (no argument: the roles and the choices)")
def _model(ctx: ReplContext, args: list[str]) -> None:
    session = ctx.session
    if not args:
        rows = _model_choices(ctx.settings, ctx.model_option)
        width = max(len(r[0]) for r in rows)
        current = session.model_label or ctx.settings.model_id or "embedded (starting)"
        ctx.say("\n".join([f"model: {current}"] + _role_lines(ctx) + ["choices for the coder (/model ID or NAME):"] +
                          [f"  {name:<{width}}  {what}" for name, what in rows]))
        return
    if len(args) != 1 or "=" in args[0]:
        ctx.display.warn("usage: /model ID  (one model id or name of the models file, e.g. /model embedded:0.5b; "
                         "it becomes the coder)")
        return
    if not ctx.ready():
        return
    wanted = None if args[0] == "embedded" else args[0]
    before = session.model_label
    try:
        with ctx.display.waiting(f"Opening {args[0]}…"):
            session.switch_model(wanted)
    except Exception as exc:  # noqa: BLE001 - any reason it cannot be opened: say it, keep the current one
        ctx.display.error(f"{exc} — still using {before}")
        return
    ctx.say(f"Model: {session.model_label} from the next task on (the conversation is kept).")


@command("/status", "", "model, context window used, approval mode, sandbox, run and session ids")
def _status(ctx: ReplContext, args: list[str]) -> None:
    if not ctx.ready(banner=False):
        return
    session = ctx.session
    used, window = session.context_used()
    share = f" ({100 * used / window:.0f}%)" if window else ""
    tasks = sum(1 for s in session.agent.memory.steps if type(s).__name__ == "TaskStep") if not session.fresh else 0
    steps = sum(1 for s in session.agent.memory.steps if type(s).__name__ == "ActionStep") if not session.fresh else 0
    patches = session.runtime.patches.all()
    rows = [
        ("model", session.model_label),
        ("context", f"{used:,} of {window:,} tokens{share}; compacted {session.prompt_memory.stats.compactions} "
                    "time(s)" if session.prompt_memory else "-"),
        ("conversation", f"{tasks} task(s), {steps} step(s)" + (f", since run {session.conversation}"
                                                                 if session.conversation and tasks else "")),
        ("patches", f"{len(patches)} proposed, {sum(1 for p in patches if p.applied)} applied"),
        ("approval", session.approver.mode),
        ("sandbox", session.runtime.sandbox.kind),
        ("run", session.last_run.id if session.last_run is not None else "none yet"),
        ("session", session.session_id),
        ("repo", str(ctx.repo)),
    ]
    ctx.say("\n".join(f"{k:<13}{v}" for k, v in rows))


@command("/approval", "MODE", "ask | auto | never | judge, for the rest of the session")
def _approval(ctx: ReplContext, args: list[str]) -> None:
    modes = ("ask", "auto", "never", "judge")
    if len(args) != 1 or args[0].lower() not in modes:
        ctx.display.warn(f"usage: /approval ask|auto|never|judge (now: {ctx.session.approver.mode})")
        return
    approver = ctx.session.approver
    approver.mode, approver.mode_from_default = args[0].lower(), False
    if approver.mode == "judge" and approver.judge is None:
        from agent_runtime.cli.judgemodel import make_judge

        approver.judge = make_judge(ctx.session.settings)
    meaning = {"ask": "you are asked before each patch and risky command",
               "auto": "patches and ask-level commands are approved (deny-level ones never run)",
               "never": "patches and ask-level commands are refused; the model is told why",
               "judge": "a small model approves changes the sandbox would contain and the task needs; you are "
                        "asked the rest"}[approver.mode]
    ctx.say(f"Approval mode: {approver.mode}: {meaning}.")


@command("/runs", "[N]", "the recent runs (agent-runtime runs)")
def _runs(ctx: ReplContext, args: list[str]) -> None:
    from agent_runtime.cli.commands import show_runs

    try:
        limit = int(args[0]) if args else 10
    except ValueError:
        limit = 0
    if limit < 1:
        ctx.display.warn("usage: /runs [N]  (N: how many, 1 or more)")
        return
    show_runs(ctx.settings, limit)


@command("/trace", "[RUN_ID|last]", "a run's steps and tool calls (default: this session's last run)")
def _trace(ctx: ReplContext, args: list[str]) -> None:
    from agent_runtime.cli.commands import show_trace

    last = ctx.session.last_run.id if getattr(ctx.session, "last_run", None) is not None else None
    wanted = args[0] if args else (last or "last")
    show_trace(ctx.settings, ctx.repo, last if wanted == "last" and last else wanted)


@command("/compact", "", "compact the older steps now (as a full context window would)")
def _compact(ctx: ReplContext, args: list[str]) -> None:
    if not ctx.ready():
        return
    before, after = ctx.session.compact()
    if before == after:
        ctx.say(f"Nothing more to compact: the conversation takes {before:,} tokens (the latest steps are kept "
                "whole, and earlier ones are as short as they get).")
    else:
        ctx.say(f"Compacted older steps: {before:,} → {after:,} tokens.")


@command("/resume", "[RUN_ID]", "continue a recorded run's conversation (default: the newest in this repository)")
def _resume(ctx: ReplContext, args: list[str]) -> None:
    from agent_runtime.agent.resume import ResumeError, describe, load_conversation, pick_run

    if len(args) > 1:
        ctx.display.warn("usage: /resume [RUN_ID]")
        return
    try:
        run = pick_run(ctx.settings.runs_path, ctx.repo, args[0] if args else None)
        conversation = load_conversation(ctx.settings.runs_path, run, ctx.repo)
    except ResumeError as exc:
        ctx.display.error(str(exc))
        return
    if not ctx.ready():
        return
    ctx.session.resume(conversation)
    ctx.say(describe(conversation) + "\nThe next task continues it.")
    for note in conversation.notes:
        ctx.display.warn(note)


@command("/memory", "", "the project notes saved with remember (AGENTS.md), then $EDITOR on them")
def _memory(ctx: ReplContext, args: list[str]) -> None:
    from agent_runtime.cli.memory import show_memory

    show_memory(ctx)


@command("/skills", "[show NAME]", "the Agent Skills: yours, and the repository's (trusted with agent-runtime skills trust)")
def _skills(ctx: ReplContext, args: list[str]) -> None:
    from agent_runtime.cli.skillscmd import list_lines, show_lines

    if args[:1] == ["show"] and len(args) == 2:
        lines = show_lines(ctx.repo, args[1])
        if lines is None:
            ctx.display.warn(f"no skill named {visible(args[1])!r} (/skills lists them)")
            return
    elif args:
        ctx.display.warn("usage: /skills, or /skills show NAME")
        return
    else:
        lines = list_lines(ctx.repo)
    for line in lines:
        ctx.say(line)
