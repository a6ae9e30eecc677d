"""`agent-runtime eval SUITE` and `agent-runtime eval compare A B`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_runtime.config import Settings, state_home

USAGE = """\
agent-runtime eval SUITE [--model ID] [--planner ID|none] [--workers N] [--max-steps N] [--timeout S] [--out FILE]
                   [--skills off|trusted] [--phoenix [--experiment NAME]]
agent-runtime eval compare A.jsonl B.jsonl"""

DESCRIPTION = """\
Run a task suite: each task in a fresh git repository, the agent as a single task
(--approval auto; the policy and the sandbox as always), then the task's check in a clean
sandboxed process. SUITE is a JSONL file (one task a line: id, prompt, files, setup, check,
timeout_s, protected; answer: regexes the final answer must match, for a question) or a
directory of them; the project's own suites are evals/ and evals/kinds/.

A line with instance_id is a SWE-bench-style instance: repo (a git repository or a plain
directory, relative to the file; a git URL; or owner/name for GitHub), base_commit,
problem_statement (the agent's task), test_patch (a unified diff), FAIL_TO_PASS and
PASS_TO_PASS (lists of test ids, or JSON strings of them), and optionally test_cmd (pytest or
a command passing its arguments to pytest; default "python -m pytest -q -p no:cacheprovider"),
setup, timeout_s, patch (the reference fix, never shown to the agent) and tests_visible (true:
the test patch is committed before the agent starts; default false, as in SWE-bench). The
judge puts the test files back as base_commit plus test_patch, then runs both lists in the
sandbox: solved when every one passes. Results also record the passes per list, the size of
the agent's change and the test files it edited. evals/real/build.py builds such a suite.

A task's repository may ship skills (.agent-runtime/skills/NAME/SKILL.md and the other skill
folders). As for any user, they are off until trusted (--skills off, the default); --skills trusted
trusts each task's repository skills for that run only, in a trust file beside the task's
repository, never in your trusted-skills.json. Run a suite both ways to measure what its skills are
worth (evals/skills/ is such a suite; benchmarks/skills_worth.py runs both arms).

Results go to a JSONL file (one line per task) and a summary is printed. N workers share one
model server. With ray installed and --ray ADDRESS (or RAY_ADDRESS), tasks run on a Ray cluster.

With --phoenix, each agent's trace goes to Phoenix (PHOENIX_ENDPOINT), the suite is uploaded as a
Phoenix dataset (named after the suite) and this eval is recorded as one of its experiments: per
task solved, seconds, steps and tokens, and the task's trace; Phoenix's experiment view compares
two evals (two models, two builds) side by side."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-runtime eval", usage=USAGE, description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", help="a JSONL file or a directory of them (or: compare A B)")
    parser.add_argument("more", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--model", metavar="ID", help="model for every task (default: the session's; embedded:0.5b, "
                        "ollama_chat/..., openai/... with MODEL_API_BASE)")
    parser.add_argument("--planner", metavar="ID", help="the planner's model for every task (a model id or a name "
                        "of the models file; 'none': the coder alone, whatever the models file says; default: "
                        "the session's, e.g. --model coder=X,planner=Y before `eval`)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="tasks at once (default 1)")
    parser.add_argument("--max-steps", type=int, metavar="N", help="step limit per task (default: AGENT_MAX_STEPS)")
    parser.add_argument("--timeout", type=float, metavar="S", help="seconds per task (default: each task's timeout_s)")
    parser.add_argument("--out", type=Path, metavar="FILE", help="results file (default: under the state directory)")
    parser.add_argument("--only", action="append", metavar="ID", help="run only these task ids (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep each task's repository next to the results")
    parser.add_argument("--skills", choices=("off", "trusted"), default="off",
                        help="a task repository's skills: off (default: not trusted, so listed but not enabled, as "
                        "for any user) or trusted for this run only (your trusted-skills.json is not touched); "
                        "the two measure what a skill is worth")
    parser.add_argument("--phoenix", action="store_true", help="traces to Phoenix, the suite as a Phoenix dataset "
                        "and this eval as an experiment on it (PHOENIX_ENDPOINT)")
    parser.add_argument("--experiment", metavar="NAME", help="the experiment's name (default: the model, the build "
                        "and the time)")
    parser.add_argument("--ray", metavar="ADDRESS", default=os.environ.get("RAY_ADDRESS"),
                        help="run tasks on a Ray cluster (needs: pip install 'agent-runtime[ray]')")
    return parser


def cmd_eval(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.suite == "compare":
        return _compare(parser, args.more)
    if args.more:
        parser.error(f"unexpected arguments: {' '.join(args.more)}")
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    from agent_runtime.eval.suite import SuiteError, load_suite

    try:
        tasks = load_suite(Path(args.suite))
    except SuiteError as exc:
        print(f"agent-runtime: error: {exc}", file=sys.stderr)
        return 2
    if args.only:
        unknown = set(args.only) - {t.id for t in tasks}
        if unknown:
            parser.error(f"no task with id {', '.join(sorted(unknown))}")
        tasks = [t for t in tasks if t.id in set(args.only)]
    if args.experiment and not args.phoenix:
        parser.error("--experiment goes with --phoenix")
    out = args.out or state_home() / "evals" / f"{time.strftime('%Y%m%d-%H%M%S')}-{Path(args.suite).stem}.jsonl"
    code = run_eval(tasks, settings, args, out)
    if args.phoenix and code == 0:
        return _to_phoenix(tasks, settings, args, out)
    return code


def _build() -> str:
    """This agent_runtime's version and, from a git checkout, its commit (+ when changed)."""
    from importlib.metadata import PackageNotFoundError, version

    from agent_runtime.telemetry.records import _git_state

    try:
        label = version("agent-runtime")
    except PackageNotFoundError:
        label = "dev"
    state = _git_state(Path(__file__).resolve().parents[2])
    if state.get("head"):
        label += f"+{state['head'][:10]}" + (".dirty" if state.get("dirty") else "")
    return label


def _to_phoenix(tasks: list[Any], settings: Settings, args: argparse.Namespace, out: Path) -> int:
    """The results file's tasks as an experiment on the suite's dataset (eval/phoenix.py)."""
    from agent_runtime.eval.phoenix import PhoenixUploadError, record_experiment
    from agent_runtime.eval.report import load_results
    from agent_runtime.telemetry.exporters import phoenix_base

    model, build = args.model or settings.model_id or "embedded (default)", _build()
    name = args.experiment or f"{model} · {build} · {time.strftime('%Y-%m-%d %H:%M')}"
    metadata = {"model": model, "planner": getattr(args, "planner", None) or settings.planner_model, "build": build,
                "skills": getattr(args, "skills", None) or "off",
                "max_steps": args.max_steps, "workers": args.workers, "results": str(out)}
    base = phoenix_base(settings.phoenix_endpoint)
    try:
        done = record_experiment(base, Path(args.suite).stem, tasks, load_results(out), settings.runs_path, name,
                                 metadata)
    except PhoenixUploadError as exc:
        print(f"agent-runtime: error: the experiment was not recorded in Phoenix: {exc} (results: {out})",
              file=sys.stderr)
        return 1
    print(f"Phoenix experiment \"{name}\": {done['runs']} runs on dataset {Path(args.suite).stem}: {done['url']}")
    return 0


def run_eval(tasks: list[Any], settings: Settings, args: argparse.Namespace, out: Path) -> int:
    from agent_runtime.cli.display import Display
    from agent_runtime.eval.report import summary_lines, task_lines
    from agent_runtime.eval.runner import EvalOptions, agent_attempt, run_suite
    from agent_runtime.models.errors import ModelError
    from agent_runtime.models.registry import SHARED_SERVER_ENV, EmbeddedKind
    from agent_runtime.models.roles import model_for_role

    display = Display()
    model = args.model or settings.model_id  # as given: each worker reads a name of the models file itself
    planner = getattr(args, "planner", None) or settings.planner_model
    options = EvalOptions(model=model, max_steps=args.max_steps, timeout_s=args.timeout, workers=args.workers,
                          keep=args.keep, planner=planner, skills=getattr(args, "skills", None) or "off")
    if getattr(args, "phoenix", False):  # each agent's trace, linked from its experiment run
        options.extra_env["PHOENIX_ENABLED"] = "true"
    server = None

    def terminated(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # `kill`, a CI job's timeout: stop the running agents as Ctrl-C does

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, terminated) if main else None
    # Started in the background by a script, the eval inherits SIGINT ignored, and so would every agent
    # it starts: the Ctrl-C that ends an agent at its task's timeout did nothing, the agent was killed
    # and its run's figures (parse failures, tokens) were lost. A handler here is reset to the default
    # in each agent when it starts.
    ignored = main and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # The coder as the workers will choose it (a name of the models file is the file's model, not an id).
        view = replace(settings, model_id=model, planner_model=planner)
        coder = model_for_role(view, "coder")
        chosen_planner = model_for_role(view, "planner")
        assert coder is not None
        kind = coder.open_kind(view)  # the registry says what the id means
        if isinstance(kind, EmbeddedKind) and not os.environ.get(SHARED_SERVER_ENV):
            server = _start_shared_server(settings, kind.key, display)
            options.extra_env[SHARED_SERVER_ENV] = server.api_base
        roles = f"model {coder.describe() if model else 'embedded (default)'}"
        roles += f" · planner {chosen_planner.describe()}" if chosen_planner is not None else " · no planner"
        roles += " · repository skills trusted for the run" if options.skills == "trusted" else ""
        display.info(f"{len(tasks)} tasks · {args.workers} worker(s) · {roles} · results: {out}")
        if args.ray:
            from agent_runtime.eval.ray_backend import run_on_ray

            results = run_on_ray(tasks, options, out, args.ray, display)
        else:
            with display.progress(len(tasks)) as advance:
                results = run_suite(tasks, agent_attempt, options, out,
                                    on_result=lambda result, progress: advance(result, progress))
    except ModelError as exc:
        display.error(str(exc))
        return 1
    except KeyboardInterrupt:
        display.error(f"interrupted; the results so far are in {out}")
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if server is not None:
            server.stop()
    for line in task_lines(results) + [""] + summary_lines(results):
        print(line)
    print(f"results: {out}")
    return 0


def _start_shared_server(settings: Settings, key: str | None, display: Any) -> Any:
    """The embedded server `key` names (None: the default), for all the eval's workers."""
    from agent_runtime.models.constraints import context_window
    from agent_runtime.models.embedded import EmbeddedServer, require_llama_cpp, resolve_embedded

    require_llama_cpp()
    choice = resolve_embedded(settings, key)
    if choice.note:
        display.warn(choice.note)
    server = EmbeddedServer(choice.gguf, context_window(settings, None), choice.chat_format)
    server.start()
    with display.waiting(f"Starting the embedded model for the eval ({choice.label})…") as status:
        server.wait_ready(tick=lambda s: status and status.update(f"Starting the embedded model… {s:.0f}s"))
    return server


def _compare(parser: argparse.ArgumentParser, files: list[str]) -> int:
    if len(files) != 2:
        parser.error("compare takes two results files: agent-runtime eval compare A.jsonl B.jsonl")
    from agent_runtime.eval.report import compare_lines, load_results

    loaded = []
    for name in files:
        path = Path(name)
        if not path.is_file():
            print(f"agent-runtime: error: {path} does not exist", file=sys.stderr)
            return 2
        loaded.append(load_results(path))
    for line in compare_lines(loaded[0], loaded[1], Path(files[0]).stem, Path(files[1]).stem):
        print(line)
    return 0
