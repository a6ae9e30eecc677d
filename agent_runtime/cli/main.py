"""The command line: `agent-runtime` (REPL), `agent-runtime "TASK"`, and subcommands.

Exit codes of a single task: 0 final answer; 1 runtime error (model unreachable, bad
configuration) with a one-line cause; 2 usage error; 3 step limit reached without a final
answer; 130 interrupted. Heavy libraries are imported only when needed, so `--help` and
the REPL prompt come up fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from agent_runtime import __version__
from agent_runtime.config import (
    ConfigError,
    Settings,
    default_approval_mode,
    load_dotenv_file,
    load_settings,
)

COMMANDS = ("tools", "tool", "policy", "phoenix", "runs", "trace", "undo", "models")

EPILOG = """\
commands:
  (none)                       interactive REPL in the repository
  "TASK"                       run one task, print the final answer, exit
  tools [--json]               list the tools, their inputs and whether they need approval
  tool NAME 'JSON_ARGS'        call one tool through the full checked path; print its JSON result
  policy check [--json] "CMD"  the policy decision for a shell command
  policy test                  run the policy file's own examples
  phoenix                      start a local Phoenix (traces UI) on 127.0.0.1
  runs | trace RUN_ID          list recorded runs | print one run's span tree
  undo                         undo the last patch the agent applied
  models                       the configured models, their context window, whether they answer

examples:
  agent-runtime "where is the config file parsed?"
  agent-runtime --model ollama_chat/qwen2.5-coder:14b "fix the failing test"
  agent-runtime --approval auto tool run_cmd '{"command": "ls"}'
  agent-runtime policy check "curl -fsSL https://x.sh | sh"

Settings come from the environment and ./.env (see .env.example). Exit codes: 0 answered,
1 runtime error, 2 usage error, 3 step limit reached, 130 interrupted.
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runtime",
        usage="agent-runtime [options] [\"TASK\" | COMMAND ...]",
        description="A local-first coding agent: checked tools, a command policy, an OS sandbox, traces.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repo", type=Path, metavar="PATH", help="the repository to work on (default: current directory)")
    parser.add_argument("--model", metavar="ID", help="LiteLLM model id (ollama_chat/qwen2.5-coder:14b, openai/MODEL, ...), "
                        "replay:FILE, or 'embedded' (default: MODEL_ID, else the embedded model)")
    parser.add_argument("--max-steps", type=_positive_int, metavar="N", help="step limit per task (default: AGENT_MAX_STEPS, 25)")
    parser.add_argument("--approval", choices=("ask", "auto", "never"),
                        help="ask: prompt on the terminal; auto: approve ask-level actions; never: refuse them "
                             "(default: APPROVAL_MODE, else ask on a terminal, never without one)")
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


def make_settings(args: argparse.Namespace) -> Settings:
    load_dotenv_file(Path.cwd())
    settings = load_settings(agent_max_steps=args.max_steps, approval_mode=args.approval)
    if args.model == "embedded":
        settings = dataclasses.replace(settings, model_id=None)
    elif args.model:
        settings = dataclasses.replace(settings, model_id=args.model)
    return settings


def make_approver(settings: Settings):
    from agent_runtime.safety.approval import Approver

    mode = default_approval_mode(settings)
    interactive = sys.stdin.isatty()
    return Approver(mode, interactive, mode_from_default=settings.approval_mode is None)


def configure_logging(settings: Settings, repo: Path) -> None:
    import logging
    import os

    from rich.console import Console
    from rich.logging import RichHandler

    from agent_runtime.telemetry.redact import Redactor, install_redaction

    logging.basicConfig(level=settings.log_level, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True, soft_wrap=True), show_time=False,
                                              show_path=False, markup=False)])  # no wrapping: one line stays one
    install_redaction(Redactor.from_environment(os.environ, [Path.cwd() / ".env", repo / ".env"]))


def run_task(task: str, settings: Settings, repo: Path) -> int:
    from agent_runtime.agent.session import Session
    from agent_runtime.cli.display import Display
    from agent_runtime.models.errors import ModelError
    from agent_runtime.safety.policy import PolicyError

    display = Display()
    try:
        with Session(settings, repo, make_approver(settings), display) as session:
            display.banner({"model": session.model_label, "repo": str(repo),
                            "approval": session.approver.mode, "sandbox": session.runtime.sandbox.kind})
            display.task(task)
            result = session.run(task)
    except (ConfigError, ModelError, PolicyError) as exc:
        display.error(str(exc))
        return 1
    except KeyboardInterrupt:
        display.error("interrupted")
        return 130
    if result.status == "answered":
        display.final(result.answer)
    elif result.status == "step_limit":
        display.error(f"the step limit ({settings.agent_max_steps}) was reached without a final answer; "
                      "raise it with --max-steps or make the task smaller")
    elif result.status == "interrupted":
        display.error("interrupted")
    else:
        display.error(result.error or "the task failed")
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    rest: list[str] = list(args.rest)
    try:
        repo = resolve_repo(args.repo)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"agent-runtime: error: {exc}", file=sys.stderr)
        return 2
    try:
        settings = make_settings(args)
    except ConfigError as exc:
        print(f"agent-runtime: error: {exc}", file=sys.stderr)
        return 1
    configure_logging(settings, repo)
    if rest and rest[0] in COMMANDS:
        from agent_runtime.cli.commands import dispatch

        return dispatch(rest[0], rest[1:], settings, repo)
    if rest and rest[0] == "--":
        rest = rest[1:]
    task = " ".join(rest).strip()
    if rest and not task:
        parser.print_usage(sys.stderr)
        print("agent-runtime: error: the task is empty", file=sys.stderr)
        return 2
    if task:
        return run_task(task, settings, repo)
    from agent_runtime.cli.repl import run_repl

    return run_repl(settings, repo)


def entry() -> None:
    try:
        code = main()
    except KeyboardInterrupt:
        print("agent-runtime: interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # a bug: one line for the person, the traceback for LOG_LEVEL=debug
        import logging

        logging.getLogger("agent_runtime").debug("unexpected error", exc_info=True)
        print(f"agent-runtime: internal error: {type(exc).__name__}: {exc} "
              "(run with LOG_LEVEL=debug for the traceback)", file=sys.stderr)
        code = 1
    sys.exit(code)
