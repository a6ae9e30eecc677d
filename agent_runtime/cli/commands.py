"""Subcommands: tools, tool, policy, undo, runs, trace, phoenix, models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from agent_runtime.config import Settings


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"agent-runtime {prog}", description=description)


def cmd_tools(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("tools", "List the tools, their inputs and whether they need approval.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    from agent_runtime.tools import tool_classes

    rows = []
    for cls in tool_classes():
        rows.append({
            "name": cls.name,
            "description": cls.description,
            "inputs": {k: {"type": v["type"], "required": not v.get("nullable", False), "description": v["description"]}
                       for k, v in cls.inputs.items()},
            "approval": {"never": "no", "always": "always", "policy": "by policy (ask rules)"}[cls.approval],
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        inputs = ", ".join(f"{k}{'' if v['required'] else '?'}: {v['type']}" for k, v in row["inputs"].items())
        print(f"{row['name']}({inputs})")
        print(f"    {row['description']}")
        print(f"    approval: {row['approval']}")
    return 0


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
    from agent_runtime.cli.main import make_approver
    from agent_runtime.safety.policy import PolicyError
    from agent_runtime.tools import build_tools
    from agent_runtime.tools.runtime import Runtime

    try:
        runtime = Runtime.create(settings, repo, make_approver(settings))
    except PolicyError as exc:
        print(f"agent-runtime: error: {exc}", file=sys.stderr)
        return 1
    tools = {tool.name: tool for tool in build_tools(runtime)}
    if args.name not in tools:
        parser.error(f"no tool {args.name!r}; the tools are: {', '.join(tools)}")
    result = tools[args.name](**arguments)
    print(json.dumps(dict(result), indent=2, ensure_ascii=False, default=str))
    return 1 if "error" in result else 0


def cmd_policy(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("policy", "Check commands against the command policy, or test the policy file.")
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="the decision for a shell command, as run_cmd would see it")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument("command", help="the shell command, quoted")
    sub.add_parser("test", help="run the policy file's own examples")
    args = parser.parse_args(argv)
    from agent_runtime.safety.policy import Policy, PolicyError

    try:
        policy = Policy.load(settings.policy_file)
    except PolicyError as exc:
        print(f"agent-runtime: error: {exc}", file=sys.stderr)
        return 1
    if args.action == "test":
        failures = policy.example_failures(repo)
        checked = sum(len(r.match) + len(r.not_match) for r in policy.rules) + len(policy.examples)
        for failure in failures:
            print(f"FAIL {failure}")
        print(f"{policy.source}: {checked - len(failures)} of {checked} examples pass ({len(policy.rules)} rules)")
        return 1 if failures else 0
    decision = policy.check_command(args.command, repo)
    if args.json:
        print(json.dumps(decision.as_dict()))
        return 0
    rule = f" (rule {decision.rule})" if decision.rule else ""
    print(f"{decision.decision}{rule}: {decision.reason}")
    for item in decision.commands:
        via = f"  [via {item['via']}]" if item["via"] else ""
        print(f"  {item['decision']:5}  {' '.join(item['argv'])}{via}")
    return 0


def undo_last(repo: Path, display: Any = None) -> int:
    from agent_runtime.core import Workspace
    from agent_runtime.patches.diffs import PatchError
    from agent_runtime.patches.undo import UndoJournal
    from agent_runtime.tools.runtime import undo_dir

    try:
        done = UndoJournal(undo_dir(), Workspace(repo)).undo_last()
    except PatchError as exc:
        message = f"{exc.error}. {exc.suggestion}"
        if display:
            display.error(message)
        else:
            print(f"agent-runtime: error: {message}", file=sys.stderr)
        return 1
    message = f"Undid patch {done['patch_id']}: restored {', '.join(done['files'])}"
    if display:
        display.info(message)
    else:
        print(message)
    return 0


def cmd_undo(argv: list[str], settings: Settings, repo: Path) -> int:
    _parser("undo", "Undo the last patch the agent applied in this repository (refused if its files "
                    "changed since).").parse_args(argv)
    return undo_last(repo)


def cmd_runs(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("runs", f"List recent runs (from RUNS_DIR, now {settings.runs_path}).")
    parser.add_argument("-n", type=int, default=20, help="how many (default 20)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    from agent_runtime.telemetry.records import list_runs

    runs = list_runs(settings.runs_path, args.n)
    if args.json:
        print(json.dumps(runs, indent=2, default=str))
        return 0
    if not runs:
        print(f"No runs yet in {settings.runs_path}.")
        return 0
    for run in runs:
        tokens = run.get("tokens") or {}
        total = (tokens.get("input") or 0) + (tokens.get("output") or 0)
        task = run.get("task", "").replace("\n", " ")
        task = task if len(task) <= 50 else task[:49] + "…"
        print(f"{run['run_id']}  {run.get('started_at', '')[:19].replace('T', ' ')}  {run.get('outcome', '?'):10} "
              f"{run.get('steps', '-')!s:>3} steps {total:>8,} tokens  {Path(run.get('repo', '')).name:15.15}  {task}")
    return 0


def cmd_trace(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("trace", "Print one run's span tree: durations, token counts, policy and approval of each tool call.")
    parser.add_argument("run_id", help="a run id from `agent-runtime runs` (a unique part of it is enough)")
    args = parser.parse_args(argv)
    from agent_runtime.telemetry.records import (
        find_run,
        load_run,
        load_spans,
        span_tree,
    )

    directory = find_run(settings.runs_path, args.run_id)
    if directory is None:
        print(f"agent-runtime: error: no single run matches {args.run_id!r} in {settings.runs_path} "
              "(list them with: agent-runtime runs)", file=sys.stderr)
        return 1
    run = load_run(directory)
    print(f"run {run['run_id']}  ·  {run.get('outcome')}  ·  {run.get('model')}  ·  {run.get('task', '')[:80]}")
    spans = load_spans(directory)
    if not spans:
        print("(no spans recorded)")
    for line in span_tree(spans):
        print(line)
    print(f"files: {directory}")
    return 0


def cmd_phoenix(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("phoenix", "Start Phoenix (the trace UI) on 127.0.0.1 from the installed arize-phoenix, "
                                "wait until it is healthy, print its URL, and keep it running until Ctrl-C.")
    parser.add_argument("--port", type=int, default=settings.phoenix_port, help=f"port (default {settings.phoenix_port})")
    args = parser.parse_args(argv)
    from agent_runtime.cli.display import Display
    from agent_runtime.telemetry.phoenix import PhoenixError, PhoenixServer

    display = Display()
    server = PhoenixServer(args.port)
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


def model_rows(settings: Settings) -> list[dict[str, Any]]:
    """Each configured model: its window, its constraint, whether it answers right now."""
    from agent_runtime.config import ConfigError
    from agent_runtime.models.constraints import (
        choose_constraint,
        context_window,
        is_local,
    )
    from agent_runtime.models.embedded import EMBEDDED_MODEL_NAME, embedded_gguf
    from agent_runtime.models.errors import ModelError
    from agent_runtime.models.litellm_model import check_reachable, missing_key

    rows = []
    if settings.model_id is None:
        try:
            status = f"starts with each session ({embedded_gguf(settings)})"
        except (ConfigError, ModelError) as exc:
            status = f"unavailable: {exc}"
        rows.append({"model": EMBEDDED_MODEL_NAME, "role": "primary", "window": context_window(settings, None),
                     "constraint": choose_constraint(settings.grammar, None, None).kind, "status": status})
        return rows
    if settings.model_id.startswith("replay:"):
        return [{"model": settings.model_id, "role": "primary", "window": context_window(settings, settings.model_id),
                 "constraint": "none", "status": "replays recorded replies"}]
    for index, model_id in enumerate([settings.model_id, *settings.model_fallback_ids]):
        api_base = settings.model_api_base if index == 0 else None
        try:
            constraint = choose_constraint(settings.grammar, model_id, api_base).kind
        except ConfigError as exc:
            constraint = f"invalid: {exc}"
        if is_local(model_id, api_base) or api_base:
            try:
                check_reachable(model_id, api_base, settings.model_api_key if index == 0 else None)
                status = "answers"
            except ModelError as exc:
                status = f"not answering: {exc}"
        else:
            missing = missing_key(model_id)
            status = f"missing {missing}" if missing else "key set (hosted: not contacted)"
        rows.append({"model": model_id, "role": "primary" if index == 0 else f"fallback {index}",
                     "window": context_window(settings, model_id, api_base), "constraint": constraint, "status": status})
    return rows


def cmd_models(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("models", "List the configured models (MODEL_ID, MODEL_FALLBACK_IDS) with their context "
                               "window, how their replies are constrained, and whether each answers right now.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    rows = model_rows(settings)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['role']:<11} {row['model']}")
        print(f"            window {row['window']:,} tokens · constraint {row['constraint']} · {row['status']}")
    return 0


HANDLERS: dict[str, Callable[[list[str], Settings, Path], int]] = {
    "tools": cmd_tools,
    "tool": cmd_tool,
    "policy": cmd_policy,
    "undo": cmd_undo,
    "runs": cmd_runs,
    "trace": cmd_trace,
    "phoenix": cmd_phoenix,
    "models": cmd_models,
}


def dispatch(name: str, argv: list[str], settings: Settings, repo: Path) -> int:
    handler = HANDLERS.get(name)
    if handler is None:
        print(f"agent-runtime: error: '{name}' is not available in this build", file=sys.stderr)
        return 2
    return handler(argv, settings, repo)
