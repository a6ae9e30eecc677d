"""Subcommands: tools, tool, policy, runs, trace, phoenix, models (and, from their own modules, undo, eval,
mcp, skills, doctor)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any, Callable

from agent_runtime.cli.common import make_approver
from agent_runtime.config import ConfigError, Settings


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"agent-runtime {prog}", description=description)


def cmd_tools(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("tools", "List the tools, their inputs and whether they need approval; with MCP servers in "
                              "your mcp.toml, their tools too (the servers are started in the sandbox, listed, "
                              "stopped) with the policy's decision for each.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    from agent_runtime.core import visible
    from agent_runtime.tools import tool_classes
    from agent_runtime.tools.mcpconfig import McpConfigError, load_servers

    try:
        servers = load_servers()  # standard library only: without servers, the SDK is never imported
    except McpConfigError as exc:  # as a session's start-up: one line naming the file, server and key
        print(f"agent-runtime: error: {visible(str(exc))}", file=sys.stderr)
        return 1
    from agent_runtime.tools.promoted import promoted_classes
    from agent_runtime.tools.skills import skill_tool_classes
    from agent_runtime.tools.skillset import discover

    # The skills' tools are offered only when a skill is enabled (tools/__init__.py build_tools).
    skills = discover(repo)
    classes = tool_classes() + (skill_tool_classes() if skills.enabled else ())
    classes += tuple(promoted_classes(skills, {cls.name for cls in classes},
                                      lambda message: print(f"agent-runtime: {visible(message)}", file=sys.stderr)))
    rows = []
    for cls in classes:
        rows.append({
            "name": cls.name,
            "description": cls.description,
            "inputs": _inputs(cls),
            "approval": {"never": "no", "always": "always", "policy": "by policy (ask rules)"}[cls.approval],
        })
    if servers:
        from agent_runtime.safety.policy import PolicyError

        try:
            rows += _mcp_rows(settings, repo, servers, {row["name"] for row in rows})
        except PolicyError as exc:  # the decisions cannot be told without the policy, as a session cannot start
            print(f"agent-runtime: error: {visible(str(exc))}", file=sys.stderr)
            return 1
    if args.json:
        print(visible(json.dumps(rows, indent=2)))  # a server's text: DEL and C1 controls are raw in JSON
        return 0
    for row in rows:
        inputs = ", ".join(f"{k}{'' if v['required'] else '?'}: {_type_text(v['type'])}"
                           for k, v in row["inputs"].items())
        print(visible(f"{row['name']}({inputs})"))
        print(visible(f"    {row['description']}"))
        print(visible(f"    approval: {_approval_text(row)}"))
    return 0


def _inputs(cls: Any) -> dict[str, dict[str, Any]]:
    return {k: {"type": v["type"], "required": not v.get("nullable", False), "description": v["description"]}
            for k, v in cls.inputs.items()}


def _type_text(kind: Any) -> str:
    return "|".join(kind) if isinstance(kind, list) else str(kind)  # an MCP input may take several types


def _approval_text(row: dict[str, Any]) -> str:
    if "server" not in row:  # a built-in tool: its approval is a property of the tool
        return row["approval"]
    said = f"{row['approval']}: {row['approval_reason']}"
    return f"{said}; approved without asking: saved in {row['approved_by']}" if row["approved_by"] else said


def _mcp_rows(settings: Settings, repo: Path, servers: list[Any], taken: set[str]) -> list[dict[str, Any]]:
    """The tools of the user's MCP servers, each with the policy's decision for its name. The servers
    start as a session starts them (in the sandbox, the policy's hidden files hidden), are listed and
    stopped; one that cannot start or list is a note on stderr and the others are listed."""
    from agent_runtime.core import Action, Workspace
    from agent_runtime.safety.approval import one_line
    from agent_runtime.safety.userpolicy import load_policy
    from agent_runtime.tools.mcptool import mcp_tool_classes
    from agent_runtime.tools.runtime import mcp_clients

    def note(message: str) -> None:
        print(f"agent-runtime: note: {' '.join(one_line(message).split())}", file=sys.stderr)

    policy = load_policy(settings.policy_file)  # with the user's saved approvals, as a session's
    workspace = Workspace(repo, hidden=policy.deny_read)
    clients = mcp_clients(policy, workspace, None, servers)  # also adds the servers' allow / ask / deny
    assert clients is not None
    clients.warn = note
    try:
        classes = mcp_tool_classes(clients.started(), set(taken), note)
    finally:
        clients.close()  # every server process stopped before anything is printed
    rows = []
    for cls in classes:
        decision = policy.decide(Action("mcp", command=cls.name), workspace.root)
        rows.append({"name": cls.name, "description": cls.description, "inputs": _inputs(cls),
                     "approval": decision.decision, "server": cls.server.config.name,
                     "approval_rule": decision.rule, "approval_reason": decision.reason,
                     "approved_by": decision.approved_by})
    return rows


def cmd_tool(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("tool", "Call one tool through the full checked path (validation, policy, approval, "
                             "sandbox) and print its JSON result. Exit code 1 when the result is an error.")
    parser.add_argument("name", help="tool name (see: agent-runtime tools)")
    parser.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments, e.g. '{\"path\": \"README.md\"}'")
    args = parser.parse_args(argv)
    try:
        arguments = json.loads(args.arguments)
    except ValueError as exc:
        parser.error(f"arguments are not valid JSON: {exc}")
    if not isinstance(arguments, dict):
        parser.error("arguments must be a JSON object")
    from agent_runtime.redact import Redactor
    from agent_runtime.safety.policy import PolicyError
    from agent_runtime.telemetry.exporters import Tracing
    from agent_runtime.telemetry.records import RunRecord
    from agent_runtime.tools import build_tools
    from agent_runtime.tools.runtime import Runtime

    redactor = Redactor.for_session(repo, settings)
    tracing = Tracing(settings, redactor)
    runtime = None
    try:
        try:
            runtime = Runtime.create(settings, repo, make_approver(settings), telemetry=tracing.telemetry)
        except (PolicyError, ConfigError) as exc:  # the policy file, or an invalid mcp.toml or hooks.toml
            from agent_runtime.core import visible

            print(f"agent-runtime: error: {visible(str(exc))}", file=sys.stderr)
            return 1
        tools = {tool.name: tool for tool in build_tools(runtime)}
        if args.name not in tools:
            parser.error(f"no tool {args.name!r}; the tools are: {', '.join(tools)}")
        result = _traced_call(tools[args.name], arguments, settings, repo, runtime, tracing, redactor, RunRecord)
    finally:
        if runtime is not None:
            runtime.close()  # MCP servers it started
        tracing.shutdown()
    from agent_runtime.core import visible

    # Redacted like a span; control characters visible (JSON leaves DEL and C1 controls raw).
    print(visible(redactor(json.dumps(dict(result), indent=2, ensure_ascii=False, default=str))))
    return 1 if "error" in result else 0


def _traced_call(tool: Any, arguments: dict[str, Any], settings: Settings, repo: Path, runtime: Any, tracing: Any,
                 redactor: Any, record_class: Any) -> Any:
    """One tool call as a run of its own: a run directory (agent-runtime runs/show) and a trace whose
    root holds the TOOL span, as a task's would."""
    label = f"tool {tool.name} {json.dumps(arguments, ensure_ascii=False)}"
    record = record_class.start(settings.runs_path, label, settings, repo, "(none: one tool call)",
                                runtime.approver.mode, runtime.sandbox.kind, redactor)
    runtime.call_listeners.append(record.on_call)
    tracing.start_run(record.dir / "trace.jsonl")
    outcome, answer = "error", None
    try:
        with tracing.telemetry.task_span(label, metadata={"run_id": record.id, "tool": tool.name}) as root:
            result = tool(**arguments)
            outcome = "error" if "error" in result else "answered"
            answer = json.dumps(dict(result), ensure_ascii=False, default=str)
            root.finish(outcome, answer, result.get("error") if outcome == "error" else None, steps=1)
    finally:
        tracing.end_run()
        record.finish(outcome, answer, steps=1)
    print(f"run {record.id} · agent-runtime trace {record.id}", file=sys.stderr)
    return result


def cmd_policy(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("policy", "Check commands against the command policy, or test the policy file.")
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser(
        "check", help="the decision for a shell command, as run_cmd would see it",
        description="The decision for a shell command, as run_cmd would see it in this repository.",
        epilog="exit status: 0 allow, 10 ask, 20 deny (1: the policy file is invalid, 2: usage error)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument("--sandbox", choices=("auto", "on", "off"), default="auto",
                       help="judge as when commands run in the bubblewrap sandbox (on), without it (off), or as "
                            "they would run here (auto: bwrap works and [sandbox] network is off)")
    check.add_argument("command", help="the shell command, quoted")
    sub.add_parser("test", help="run the policy file's own examples, and those of your saved approvals")
    args = parser.parse_args(argv)
    from agent_runtime.core import visible
    from agent_runtime.safety.policy import PolicyError
    from agent_runtime.safety.userpolicy import example_failures, load_policy

    try:
        policy = load_policy(settings.policy_file)  # with the user's saved approvals (userpolicy.py)
    except PolicyError as exc:  # may quote the file: its escapes shown, never run
        print(f"agent-runtime: error: {visible(str(exc))}", file=sys.stderr)
        return 1
    if args.action == "test":
        failures = policy.example_failures(repo)
        checked = sum(len(r.match) + len(r.not_match) for r in policy.rules) + len(policy.examples)
        for failure in failures:
            print(visible(f"FAIL {failure}"))
        print(f"{policy.source}: {checked - len(failures)} of {checked} examples pass ({len(policy.rules)} rules)")
        user = policy.user
        if user:
            if any(entry.tool for entry in user.entries):  # MCP tools are judged with mcp.toml's servers too
                from agent_runtime.tools.mcpconfig import McpConfigError, load_servers

                try:
                    policy.mcp.add_servers(load_servers())
                except McpConfigError as exc:
                    print(f"agent-runtime: error: {visible(str(exc))}", file=sys.stderr)
                    return 1
            saved = example_failures(policy, repo)
            total = sum(len(e.match) for e in user.entries)
            for failure in saved:
                print(visible(f"FAIL {failure}"))
            print(f"{user.shown}: {total - len(saved)} of {total} examples approved ({len(user.entries)} saved "
                  "approvals)")
            failures += saved
        return 1 if failures else 0
    state = sandbox_state(args.sandbox, policy.network)
    decision = policy.check_command(args.command, repo, state)
    from agent_runtime.cli.policyexplain import STATUS, effective, lines

    status = STATUS[effective(decision)]  # a saved approval runs it without asking: allow
    from agent_runtime.cli.startnotes import repo_policy_note

    ignored = repo_policy_note(repo, settings.policy_file)
    answered = str(decision.approved_by or policy.source)  # a saved approval answers from the user's file
    if args.json:
        print(json.dumps({**decision.as_dict(), "sandbox_available": state.contains,
                          "sandbox_note": state.note or None, "policy_file": answered,
                          "repository_policy": ignored}))
        return status
    print("\n".join([*lines(decision, state), f"policy file: {answered}"]))
    if ignored:
        print(visible(ignored), file=sys.stderr)
    return status


def sandbox_state(choice: str, network: bool):
    """Whether `policy check` judges as when commands run in the sandbox: as they would here (auto)."""
    from agent_runtime.safety.policy.containment import SandboxState

    if choice == "on":
        return SandboxState(True)
    if choice == "off":
        return SandboxState(False, "--sandbox off")
    from agent_runtime.safety.sandbox import isolation

    found = isolation()
    if found.bwrap is None:
        return SandboxState(False, found.note or "bubblewrap does not run here")
    if network:
        return SandboxState(False, "the policy gives sandboxed commands the network ([sandbox] network = true)")
    return SandboxState(True)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {value}")
    return value


def _local_time(iso: Any) -> str:
    """A record's UTC time as local time (as run ids are)."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(iso)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(iso or "")[:19]


def show_runs(settings: Settings, limit: int = 20, as_json: bool = False) -> int:
    from agent_runtime.core import visible
    from agent_runtime.telemetry.records import list_runs

    runs = list_runs(settings.runs_path, limit)
    if as_json:  # one object per line, like a task's --json events: `| head -1`, `| jq` read it as it comes
        for run in runs:
            print(json.dumps(run, default=str), flush=True)
        return 0
    if not runs:
        print(f"No runs yet in {settings.runs_path}.")
        return 0
    print(f"{'RUN':<20}  {'STARTED':<19}  {'OUTCOME':<13} {'STEPS':>5} {'TOKENS':>9}  {'REPO':<15}  TASK")
    for run in runs:
        tokens = run.get("tokens") or {}
        total = (tokens.get("input") or 0) + (tokens.get("output") or 0)
        task = " ".join(visible(str(run.get("task", ""))).split())
        task = task if len(task) <= 50 else task[:49] + "…"
        steps = run.get("steps")
        repo_name = visible(Path(str(run.get("repo") or "")).name)
        print(f"{run['run_id']:<20}  {_local_time(run.get('started_at')):<19}  "
              f"{str(run.get('outcome', '?')):<13} {'-' if steps is None else steps:>5} {total:>9,}  "
              f"{repo_name:15.15}  {task}")
    return 0


def cmd_runs(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("runs", f"List recent runs, newest first (from RUNS_DIR, now {settings.runs_path}).")
    parser.add_argument("-n", type=positive_int, default=20, metavar="N", help="how many (default 20)")
    parser.add_argument("--json", action="store_true", help="print each run's metadata as JSON, one run per line")
    args = parser.parse_args(argv)
    return show_runs(settings, args.n, args.json)


def show_trace(settings: Settings, repo: Path, run_id: str | None = None) -> int:
    """One run's span tree (run_id None or "last": the newest run in this repository)."""
    from agent_runtime.core import visible
    from agent_runtime.telemetry.records import (
        find_runs,
        latest_run,
        load_run,
        load_spans,
        span_tree,
    )

    if run_id in (None, "last"):
        directory = latest_run(settings.runs_path, repo)
        if directory is None:
            directory = latest_run(settings.runs_path)
            if directory is not None:
                print(f"(no run in {repo} yet; the newest run anywhere:)")
        if directory is None:
            print(f"agent-runtime: error: there are no runs in {settings.runs_path} yet", file=sys.stderr)
            return 1
    else:
        matches = find_runs(settings.runs_path, run_id)
        if len(matches) != 1:
            if matches:
                shown = ", ".join(m.name for m in matches[:5]) + (", …" if len(matches) > 5 else "")
                why = f"{run_id!r} matches {len(matches)} runs ({shown}): give more of the id"
            else:
                why = f"no run matches {run_id!r} in {settings.runs_path} (list them with: agent-runtime runs)"
            print(f"agent-runtime: error: {why}", file=sys.stderr)
            return 1
        directory = matches[0]
    run = load_run(directory)
    task = " ".join(str(run.get("task", "")).split())
    steps = run.get("steps")
    print(visible(f"run {run['run_id']}  ·  {run.get('outcome')}  ·  "
                  f"{'?' if steps is None else steps} step{'' if steps == 1 else 's'}  ·  "
                  f"{run.get('model')}  ·  {task[:80]}"))
    if run.get("previous_run"):
        print(visible(f"continues run {run['previous_run']} (same conversation)"))
    spans = load_spans(directory)
    if not spans:
        print("(no spans recorded)")
    for line in span_tree(spans):
        print(visible(line))
    if run.get("outcome") in ("killed", "running"):
        print(f"(the run {'was killed' if run['outcome'] == 'killed' else 'is still going'}: a step that had not "
              "ended has no span; steps.jsonl has every step that ended)")
    if run.get("error"):
        print(visible(f"error: {run['error']}"))
    answer = directory / "final.md"
    if answer.is_file():
        print(visible(f"final answer: {answer.read_text(encoding='utf-8', errors='replace').strip()}"))
    print(f"files: {directory}")
    return 0


def cmd_trace(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("trace", "Print one run's span tree: steps, model calls with token counts, each tool call "
                              "with its arguments, policy decision and approval (and the user's message when "
                              "they refused).")
    parser.add_argument("run_id", nargs="?", default="last",
                        help="a run id from `agent-runtime runs` (a unique part is enough), or `last` (the default): "
                             "the newest run in this repository")
    args = parser.parse_args(argv)
    return show_trace(settings, repo, args.run_id)


def cmd_phoenix(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("phoenix", "Start Phoenix (the trace UI) on 127.0.0.1 from the installed arize-phoenix, "
                                "wait until it is healthy, print its URL, and keep it running until Ctrl-C "
                                "(or SIGTERM, SIGHUP).")
    parser.add_argument("--port", type=int, default=settings.phoenix_port, help=f"port (default {settings.phoenix_port})")
    args = parser.parse_args(argv)
    from agent_runtime.cli.display import Display
    from agent_runtime.telemetry.phoenix import PhoenixError, PhoenixServer

    display = Display()
    server = PhoenixServer(args.port)

    def terminated(signum: int, frame: Any) -> None:
        # `kill`, a closed terminal: stop Phoenix as Ctrl-C does (its own session never gets the signal,
        # and an orphan would keep the port)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a second signal must not cut the stop short
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGHUP, terminated)
    try:
        server.start()
        with display.waiting("Starting Phoenix (the first start takes about 30 s)…") as status:
            server.wait_healthy(tick=lambda s: status and status.update(f"Starting Phoenix… {s:.0f}s"))
    except PhoenixError as exc:
        server.stop()
        display.error(str(exc))
        return 1
    except KeyboardInterrupt:
        server.stop()
        return 130
    print(f"Phoenix is running: {server.url}")
    print(f"To send traces there: PHOENIX_ENABLED=true PHOENIX_ENDPOINT={server.url}   (Ctrl-C stops Phoenix)")
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def cmd_models(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("models", "The model registry: the models file (MODELS_FILE, else "
                               "~/.config/agent-runtime/models.toml) or the settings' models, the model of each role "
                               "(coder, planner, judge) and where that choice came from, each model's window, "
                               "constraint, fallbacks and whether it answers now (an address: a GET of /models, 2 s; "
                               "hosted: whether its key variable is set, never the key), the routes and the profiles.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    from agent_runtime.core import visible
    from agent_runtime.models.reach import report, report_lines
    from agent_runtime.redact import Redactor

    found = report(settings)
    # An address with user:password@ (MODEL_API_BASE, a models file), a key in an error: not on the terminal.
    redact = Redactor.for_session(repo, settings)
    if args.json:
        print(redact(json.dumps(found, indent=2)))
        return 0
    for line in report_lines(found):
        print(visible(redact(line)))
    return 0


Handler = Callable[[list[str], Settings, Path], int]


def _later(module: str, name: str) -> Handler:
    return lambda argv, settings, repo: _lazy(module, name)(argv, settings, repo)


# The subcommands, once: what `main` dispatches on, what `--help` lists, what "did you mean" knows.
SUBCOMMANDS: dict[str, tuple[Handler, list[tuple[str, str]]]] = {
    "tools": (cmd_tools, [("tools [--json]", "list the tools, their inputs and whether they need approval")]),
    "tool": (cmd_tool, [("tool NAME 'JSON_ARGS'", "call one tool through the full checked path; print its JSON result")]),
    "policy": (cmd_policy, [('policy check [--json] "CMD"', "the policy decision for a shell command (exit 0/10/20)"),
                            ("policy test", "run the policy file's own examples")]),
    "phoenix": (cmd_phoenix, [("phoenix", "start a local Phoenix (traces UI) on 127.0.0.1")]),
    "runs": (cmd_runs, [("runs [--json]", "list recorded runs")]),
    "trace": (cmd_trace, [("trace [RUN_ID|last]", "print one run's steps and tool calls")]),
    "undo": (_later("undocmd", "cmd_undo"), [("undo [ID] [--list]", "undo the newest applied patch or command's changes (or one by id); "
                                               "--list: the history")]),
    "models": (cmd_models, [("models [--json]", "the model registry: roles, models, routes, profiles, reachability")]),
    "eval": (_later("evalcmd", "cmd_eval"), [("eval SUITE | eval compare A B",
                                              "run a task suite and score it | compare two results files")]),
    "mcp": (_later("mcpserve", "cmd_mcp"), [("mcp", "serve the tools and run_task over MCP stdio (policy, approval "
                                                    "and sandbox apply; an ask follows --approval)")]),
    "skills": (_later("skillscmd", "cmd_skills"), [("skills [list|show NAME|trust NAME|remove NAME]",
                                                     "Agent Skills (SKILL.md): yours (promoted tools too), and the "
                                                     "repository's once trusted")]),
    "doctor": (_later("doctor", "cmd_doctor"), [("doctor", "the llama.cpp build's CPU features, the embedded models, "
                                                           "whether the sandbox and search work")]),
}
HANDLERS: dict[str, Handler] = {name: handler for name, (handler, _) in SUBCOMMANDS.items()}


def help_lines() -> list[str]:
    return [f"  {usage:<29}{text}" if len(usage) < 29 else f"  {usage}  {text}"
            for _, lines in SUBCOMMANDS.values() for usage, text in lines]


def _lazy(module: str, name: str) -> Callable[[list[str], Settings, Path], int]:
    """A subcommand from its own module, imported only when it runs."""
    import importlib

    return getattr(importlib.import_module(f"agent_runtime.cli.{module}"), name)


def dispatch(name: str, argv: list[str], settings: Settings, repo: Path) -> int:
    handler = HANDLERS.get(name)
    if handler is None:
        print(f"agent-runtime: error: '{name}' is not available in this build", file=sys.stderr)
        return 2
    return handler(argv, settings, repo)
