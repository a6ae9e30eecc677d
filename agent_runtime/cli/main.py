"""The command line: `agent-runtime` (REPL), `agent-runtime "TASK"`, and subcommands.

Exit codes of a single task: 0 final answer; 1 runtime error (model unreachable, a model id
no provider serves, bad configuration) with a one-line cause; 2 usage error; 3 stopped without a final answer (the
step limit, or a step that repeated an earlier one: the answer says what the calls found); 4 a fix task stopped trying (more attempts would not help; the answer says what was
tried and what still fails); 5 final answer, but a tool call was refused (policy, hook, person,
--approval never: the answer may claim what was not done); 130 interrupted. When stdout is closed (`| head`), the command stops quietly with 0.
Heavy libraries are imported only when needed, so `--help` and the REPL prompt come up fast.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from agent_runtime import __version__
from agent_runtime.cli.commands import SUBCOMMANDS, help_lines, positive_int  # noqa: E402 (a light module: argparse, json)
from agent_runtime.cli.common import escape_markup, make_approver, stdout_to_devnull
from agent_runtime.config import (
    ConfigError,
    Settings,
    load_config,
)

COMMANDS = tuple(SUBCOMMANDS)

EPILOG_TEMPLATE = """\
commands:
  (none)                       interactive REPL in the repository
  "TASK"                       run one task, print the final answer, exit
  --continue ["TASK"]          go on with the latest run's conversation in this repository (no task: the REPL)
  --resume RUN_ID ["TASK"]     the same with a given run (any unique part of its id)
{commands}

examples:
  agent-runtime "where is the config file parsed?"
  agent-runtime --model ollama_chat/qwen2.5-coder:14b "fix the failing test"
  agent-runtime --approval auto tool run_cmd '{"command": "ls"}'
  agent-runtime policy check "curl -fsSL https://x.sh | sh"

Settings come from the environment and ~/.config/agent-runtime/config.env; a repository's
.env may set only the harmless ones (see .env.example). Exit codes: 0 answered,
1 runtime error, 2 usage error, 3 step limit reached or a step repeated, 4 stopped trying to fix (the
answer says what was tried), 130 interrupted; a closed stdout
(| head) stops the command quietly with 0.
"""
EPILOG = EPILOG_TEMPLATE.replace("{commands}", "\n".join(help_lines()))


def option_hint(parser: argparse.ArgumentParser, word: str) -> str:
    """` (did you mean --approval?)` for a mistyped long option, else nothing."""
    import difflib

    if not word.startswith("--"):
        return ""
    known = [s for s in parser._option_string_actions if s.startswith("--")]
    close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # type: ignore[override]
        unknown = re.match(r"unrecognized arguments: (.*)", message)
        if unknown:  # `--aproval auto`: say which option was meant
            message += "".join(option_hint(self, word) for word in unknown.group(1).split())
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="agent-runtime",
        usage="agent-runtime [options] [\"TASK\" | COMMAND ...]",
        description="A local-first coding agent: checked tools, a command policy, an OS sandbox, traces.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repo", type=Path, metavar="PATH", help="the repository to work on (default: current directory)")
    parser.add_argument("--model", metavar="ID", help="the coder's model: a LiteLLM model id (ollama_chat/qwen2.5-coder:14b, "
                        "openai/MODEL, ...), replay:FILE, 'embedded', or a name from the models file; or a profile of "
                        "that file; or roles: coder=MODEL,planner=MODEL,judge=MODEL (default: MODEL_ID, "
                        "PLANNER_MODEL, JUDGE_MODEL, then the models file's [roles], else the embedded model)")
    parser.add_argument("--max-steps", type=positive_int, metavar="N", help="step limit per task (default: AGENT_MAX_STEPS, 25)")
    parser.add_argument("--max-attempts", type=positive_int, metavar="N",
                        help="a fix task stops after N fixes that went in and failed their tests (undone), with "
                             "what it tried; a reply that changed nothing is asked again once and, like a change "
                             "someone refused, is not counted (default: AGENT_MAX_ATTEMPTS, 3)")
    parser.add_argument("--approval", choices=("ask", "auto", "never", "judge"),
                        help="ask: prompt on the terminal; auto: approve ask-level actions; never: refuse them; "
                             "judge: a small model (JUDGE_MODEL) approves what the sandbox would contain, and asks "
                             "you the rest (default: APPROVAL_MODE, else ask on a terminal, never without one)")
    parser.add_argument("--json", action="store_true",
                        help="single task: JSON events on stdout, one per line (their schema: --json-schema)")
    parser.add_argument("--json-schema", action="store_true",
                        help="print the JSON Schema of a --json event line (docs/events.schema.json) and exit")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="with --json: no progress on stderr, only the events on stdout (an approval prompt "
                             "still shows the step it asks about)")
    parser.add_argument("--continue", dest="continue_run", action="store_true",
                        help="continue the latest run's conversation in this repository: with a task, run it "
                             "there; without one, open the REPL with the conversation loaded")
    parser.add_argument("--resume", metavar="RUN_ID",
                        help="like --continue, with a given run (an id from `agent-runtime runs`, or a unique part)")
    parser.add_argument("--version", action="version", version=f"agent-runtime {__version__}")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def resolve_repo(path: Path | None) -> Path:
    repo = (path or Path.cwd()).expanduser()
    if not repo.is_dir():
        raise UsageError(f"--repo {repo} is not a directory")
    return repo.resolve()


class UsageError(Exception):
    pass


def make_settings(args: argparse.Namespace, repo: Path | None = None) -> Settings:
    # The environment, the user's config file and the command line; from a repository's .env only
    # the harmless settings, never exported (see config.py).
    settings, warnings = load_config(repo, agent_max_steps=args.max_steps, agent_max_attempts=args.max_attempts,
                                     approval_mode=args.approval)
    from agent_runtime.core import visible

    for warning in warnings:  # a path there may hold control characters (a symlink's target)
        print(f"agent-runtime: warning: {visible(warning)}", file=sys.stderr)
    from agent_runtime.models.roles import ModelChoiceError, choose_models

    try:  # the models file is read and checked here, whatever the command (a bad one: exit 1)
        return choose_models(settings, args.model)  # `--model embedded` stays "embedded": it beats the file's coder
    except ModelChoiceError as exc:
        raise UsageError(str(exc)) from None


def terminal_log_handler() -> Any:
    """The handler of every log line (ours, smolagents', httpx's, mcp's) on stderr. A line may quote
    a file a sandboxed command named, a server's words, an exception: its control characters are
    made visible here, once for all loggers, so an escape sequence there never reaches the terminal."""
    import logging

    from rich.logging import RichHandler

    from agent_runtime.core import visible
    from agent_runtime.safety.approval import stderr_console

    class VisibleFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:  # the message and any traceback text
            return visible(super().format(record))

    handler = RichHandler(console=stderr_console(soft_wrap=True), show_time=False, show_path=False,
                          markup=False)  # no wrapping: one line stays one
    handler.setFormatter(VisibleFormatter("%(message)s"))
    return handler


def configure_logging(settings: Settings, repo: Path) -> None:
    import logging

    from agent_runtime.redact import Redactor, install_redaction

    logging.basicConfig(level=settings.log_level, handlers=[terminal_log_handler()])
    install_redaction(Redactor.for_session(repo, settings))


def run_task(task: str, settings: Settings, repo: Path, json_events: bool = False, resume: Any = None,
             quiet: bool = False) -> int:
    """resume: a Conversation (agent/resume.py) the task continues; quiet: --json's stderr says nothing
    but approval prompts."""
    from agent_runtime.agent.attach import AttachmentError
    from agent_runtime.agent.frontend import ReaderGone
    from agent_runtime.agent.session import Session
    from agent_runtime.cli.display import Display
    from agent_runtime.models.errors import ModelError
    from agent_runtime.safety.policy import PolicyError

    if json_events:
        from agent_runtime.cli.jsonout import JsonDisplay

        display: Display = JsonDisplay(quiet=quiet)
        before_prompt = display.before_approval
    else:
        display, before_prompt = Display(), None
    try:
        with Session(settings, repo, make_approver(settings, before_prompt), display,
                     session_id=resume.session_id if resume is not None else None,
                     first_task=task) as session:  # the models file's routes may pick the coder for it
            display.banner({"model": session.model_label, "repo": str(repo),
                            "approval": session.approver.mode, "sandbox": session.runtime.sandbox.kind})
            from agent_runtime.cli.skillscmd import startup_notes

            for note in startup_notes(repo, "agent-runtime skills list"):  # off until trusted: say so
                display.warn(note)
            from agent_runtime.cli.startnotes import not_git_note, repo_policy_note

            for note in (not_git_note(repo), repo_policy_note(repo, settings.policy_file)):
                if note:
                    display.warn(note)
            if resume is not None:
                from agent_runtime.agent.resume import describe

                session.resume(resume)
                display.info(escape_markup(describe(resume)))
            display.task(task)
            session.approver.task = task  # what the judge (--approval judge) weighs a command against
            result = session.run(task)
    except (ConfigError, ModelError, PolicyError, AttachmentError) as exc:
        code = 2 if isinstance(exc, AttachmentError) else 1  # a bad @path is the person's to fix: usage
        display.error(str(exc))
        from agent_runtime.agent.events import RunEnded, emit

        emit(display, RunEnded.not_started(code, str(exc)))
        return code
    except ReaderGone:  # before the run began (the run record, if any, says so)
        return PIPE_CLOSED
    except KeyboardInterrupt:
        display.error("interrupted")
        return 130
    if result.status == "reader_closed":
        return result.exit_code
    if result.status in ("answered", "gave_up", "repeated"):
        display.final(result.answer)
    elif result.status == "step_limit":
        display.error(f"the step limit ({settings.agent_max_steps}) was reached without a final answer; "
                      "raise it with --max-steps or make the task smaller")
    elif result.status == "interrupted":
        display.error("interrupted")
    else:
        display.error(result.error or "the task failed")
    return result.exit_code


OPTION = re.compile(r"^(--[a-z][a-z-]*(=.*)?|-[a-zA-Z])$")


def task_words(parser: argparse.ArgumentParser, args: argparse.Namespace, rest: list[str]) -> list[str]:
    """The task's words; options written after the task are parsed into `args`, never folded
    into the task (`agent-runtime "say hi" --max-steps 2`). After `--` everything is task text."""
    words: list[str] = []
    late: list[str] = []
    takes_value = {s for a in parser._actions if a.nargs is None and a.option_strings for s in a.option_strings}
    i = 0
    while i < len(rest):
        word = rest[i]
        if word == "--":
            words += rest[i + 1:]
            break
        if OPTION.match(word):
            if word.split("=", 1)[0] not in parser._option_string_actions:
                raise UsageError(f"unknown option {word}{option_hint(parser, word)}; put the task in quotes, or "
                                 "write -- before it if it starts with a dash")
            late.append(word)
            if word in takes_value:
                if i + 1 >= len(rest):
                    raise UsageError(f"{word} needs a value")
                late.append(rest[i + 1])
                i += 1
        else:
            words.append(word)
        i += 1
    if late:
        parsed = parser.parse_args(late)
        for name, value in vars(parsed).items():
            if name != "rest" and value not in (None, False):
                setattr(args, name, value)
    return words


def did_you_mean(words: list[str]) -> str | None:
    """A mistyped command (`agent-runtime tols`, `agent-runtime polcy check ls`): an unquoted first
    word close to a command. A task in quotes is one argument with spaces and is never taken for one."""
    if not words or not re.fullmatch(r"[a-z-]+", words[0]):
        return None
    import difflib

    close = difflib.get_close_matches(words[0], COMMANDS, n=1, cutoff=0.7)
    return close[0] if close else None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.json_schema:  # needs no repository nor settings
        from agent_runtime.agent.events import schema_text

        sys.stdout.write(schema_text())
        return 0
    rest: list[str] = list(args.rest)
    if rest and rest[0] not in COMMANDS:
        forced = "--" in rest  # `agent-runtime -- tols`: the user said it is a task
        try:
            rest = task_words(parser, args, rest)
        except UsageError as exc:
            parser.print_usage(sys.stderr)
            print(f"agent-runtime: error: {exc}", file=sys.stderr)
            return 2
        guess = None if forced else did_you_mean(rest)
        if guess:
            # Quotes do not tell a task from a command (the shell removes them): only `--` does.
            print(f"agent-runtime: '{rest[0]}' is not a command. Did you mean '{guess}'? "
                  f"(To give '{rest[0]}' to the agent as a task, write: agent-runtime -- {rest[0]})", file=sys.stderr)
            return 2
    try:
        repo = resolve_repo(args.repo)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"agent-runtime: error: {exc}", file=sys.stderr)
        return 2
    try:
        settings = make_settings(args, repo)
    except ConfigError as exc:  # may quote the user's files: an escape sequence there is shown, not run
        from agent_runtime.core import visible

        print(f"agent-runtime: error: {visible(str(exc))}", file=sys.stderr)
        return 1
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"agent-runtime: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings, repo)
    if rest and rest[0] in COMMANDS:
        from agent_runtime.cli.commands import dispatch

        return dispatch(rest[0], rest[1:], settings, repo)
    task = " ".join(rest).strip()
    if rest and not task:
        parser.print_usage(sys.stderr)
        print("agent-runtime: error: the task is empty", file=sys.stderr)
        return 2
    if args.quiet and not args.json:
        parser.print_usage(sys.stderr)
        print("agent-runtime: error: -q quiets --json's progress on stderr: give it with --json", file=sys.stderr)
        return 2
    if args.json and not task:
        parser.print_usage(sys.stderr)
        print("agent-runtime: error: --json needs a task (the REPL is interactive)", file=sys.stderr)
        return 2
    resume = None
    if args.continue_run or args.resume:
        if args.continue_run and args.resume:
            parser.print_usage(sys.stderr)
            print("agent-runtime: error: give --continue or --resume RUN_ID, not both", file=sys.stderr)
            return 2
        from agent_runtime.agent.resume import ResumeError, load_conversation, pick_run

        try:
            resume = load_conversation(settings.runs_path, pick_run(settings.runs_path, repo, args.resume), repo)
        except ResumeError as exc:  # may quote a run's record: its escapes shown, never run
            from agent_runtime.core import visible

            print(f"agent-runtime: error: {visible(str(exc))}", file=sys.stderr)
            return 1
    if task:
        return run_task(task, settings, repo, json_events=args.json, resume=resume, quiet=args.quiet)
    from agent_runtime.cli.repl import run_repl

    return run_repl(settings, repo, resume=resume, model_option=args.model)


PIPE_CLOSED = 0  # the reader had what it wanted (`| head`): not a failure of the command


def entry() -> None:
    try:
        code = main()
    except KeyboardInterrupt:
        print("agent-runtime: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        # Whatever read stdout went away (`agent-runtime runs --json | head`, a CI step that stopped
        # reading --json events): stop quietly, with 0.
        stdout_to_devnull()
        code = PIPE_CLOSED
    except Exception as exc:  # a bug: one line for the person, the traceback for LOG_LEVEL=debug
        import logging

        logging.getLogger("agent_runtime").debug("unexpected error", exc_info=True)
        from agent_runtime.core import visible

        print(f"agent-runtime: internal error: {type(exc).__name__}: {visible(str(exc))} "
              "(run with LOG_LEVEL=debug for the traceback)", file=sys.stderr)
        code = 1
    sys.exit(code)
