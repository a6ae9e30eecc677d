"""What the coaching rules are worth to one model: the same tasks run in several arms, each a value
of AGENT_COACHING (models/profiles.py), alternating arm by arm within each task on one shared
embedded server, so that load and the server's state fall alike on every arm. Which arm goes first
turns from task to task: the first run of a task evaluates its first prompt uncached, about 20 s
more on this machine, which the arms after it are spared (docs/evaluation.md).

    python benchmarks/coaching_worth.py [--model embedded:1.5b] [--arms profile,plain,-fresh_restart]
                                        [--suite evals/tasks.jsonl] [--only ID ...] [--budget 300]
                                        [--seed 1] [--out-dir DIR] [--dry-run]

An arm is `single_shot` (the strong one completion of the same model: benchmarks/baselines.py, the
yardstick the agent must beat), `profile` (the model's built-in rules, AGENT_COACHING unset), `plain` (every rule off),
`-RULE` (the profile without one rule), changes joined (`+shot_first+function_retries`), any other
AGENT_COACHING value, or `@REV`: another build,
this repository's package at git revision REV (its profile), run from a copy of it -- old and new
builds alternating task by task (`--arms @b3b57f5^1,profile`: before and after a change). The default tasks are the
12 small tasks of docs/evaluation.md; with another --suite (`--suite evals/single`), every task of that suite.
Prints one JSON object: per arm solved/total, the median seconds a task and to the first model
request, steps, fix attempts and the coder's requests by reason (`requests`: a step, a fix, or
where a rule stepped in: a retry, a fresh start); per task
the arms side by side; `worth` is each arm's solved count against `profile`'s; `against_one_completion` each
arm's median time and first request's tokens written over single_shot's (over every task, and over the tasks
both solved at the first attempt). The results files stay in --out-dir
(one JSONL per arm, for `agent-runtime eval compare`).

The server samples every request from one seed (--seed), so that a request the arms send alike is
not sampled apart by chance. It is not made alike: prompts differ by the tests' durations, and the
cached part of a prompt was evaluated in other batches, which round differently (1 of 12 first
replies alike, docs/evaluation.md). To compare what two arms send, without sampling, play one run's
replies back to both: benchmarks/same_requests.py.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from _common import ROOT, coder_requests, emit, median, run_spans

SMALL_TASKS = ("cart-bulk-discount", "csv-export-quotes", "invoice-half-up-rounding", "serve-port-type-error",
               "events-json-datetime", "billing-month-end", "slugify-max-length", "convert-temperature",
               "page-count-exact-multiple", "split-bill-cents", "read-config-renamed", "basket-add-renamed")
SHARED_SERVER_ENV = "AGENT_RUNTIME_EMBEDDED_SERVER"


def default_tasks(suite: Path) -> list[str]:
    """The tasks run without --only: the 12 small tasks of the project's suite, or every task of another."""
    if suite.resolve() in (ROOT / "evals", ROOT / "evals" / "tasks.jsonl"):
        return list(SMALL_TASKS)
    from agent_runtime.eval.suite import load_suite

    return [task.id for task in load_suite(suite)]


def arm_env(arm: str) -> dict[str, str]:
    """The arm's AGENT_COACHING: several changes are written joined (`+shot_first+function_retries`),
    as commas part the arms."""
    if arm in ("profile", "single_shot") or arm.startswith("@"):
        return {}
    changes = re.findall(r"[+-][A-Za-z0-9_]+", arm)
    return {"AGENT_COACHING": ",".join(changes) if len(changes) > 1 and "".join(changes) == arm else arm}


def build_copy(out_dir: Path, arm: str) -> Path:
    """The tree at the arm's revision (`@REV`: its package links to its policy.toml), extracted beside
    the results; its package runs with PYTHONPATH."""
    revision = arm[1:]
    target = out_dir / ("build-" + "".join(c if c.isalnum() else "_" for c in revision))
    if not (target / "agent_runtime").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision],
                                 capture_output=True, check=False)
        if archive.returncode != 0:
            raise SystemExit(f"{arm}: not a revision of this repository: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def trace_figures(runs_dir: Path, run_id: str | None) -> dict:
    """Read from the run's trace, the same for a build that does not record them: from the task's
    root span to its first LLM span (`first_request_trace_s`), and why each coder request was made
    (`requests`: the spans' agent_runtime.request -- a step, a fix, or a rule's retry or fresh start --
    counted; builds older than that attribute count under "unrecorded")."""
    spans = run_spans(runs_dir, run_id)
    roots = [s["start_time"] for s in spans if s.get("parent_id") is None]
    llm = coder_requests(spans)
    # (a fix held to one function names it: counted together, as "held to F")
    requests = Counter(re.sub(r"held to \S+ \(", "held to F (", str(s["attributes"].get("agent_runtime.request",
                                                                                          "unrecorded"))) for s in llm)
    first = round((min(s["start_time"] for s in llm) - min(roots)) / 1e9, 3) if roots and llm else None
    tokens = (llm[0]["attributes"].get("llm.token_count.prompt"), llm[0]["attributes"].get("llm.token_count.completion")) \
        if llm else (None, None)
    return {"first_request_trace_s": first, "requests": dict(sorted(requests.items())),
            "first_request_tokens": list(tokens), "identical_fixes_applied": identical_fixes_applied(spans)}


def identical_fixes_applied(spans: list[dict]) -> int:
    """Steps whose model reply is one an earlier step of the run already gave, and that applied a patch
    again: a retry that repeated a failed fix and tested it again."""
    by_parent: dict[str, list[dict]] = {}
    for span in spans:
        by_parent.setdefault(str(span.get("parent_id")), []).append(span)
    seen: set[str] = set()
    count = 0
    for step in sorted((s for s in spans if str(s.get("name", "")).startswith("step ")), key=lambda s: s["start_time"]):
        children = by_parent.get(str(step.get("span_id")), [])
        replies = [c["attributes"].get("output.value", "") for c in children
                   if c["attributes"].get("openinference.span.kind") == "LLM"]
        applied = any(c["attributes"].get("openinference.span.kind") == "TOOL" and "apply_patch" in c.get("name", "")
                      and c.get("status") != "ERROR" for c in children)
        reply = " ".join((replies[-1] if replies else "").split())
        if reply and applied and reply in seen:
            count += 1
        if reply:
            seen.add(reply)
    return count


def arm_file(out_dir: Path, arm: str) -> Path:
    name = arm.replace(",", "+").replace("-", "minus_").replace("+", "plus_")
    return out_dir / f"coaching-{name}.jsonl"


def eval_command(args: argparse.Namespace, task: str, out: Path, arm: str = "profile") -> list[str]:
    if arm == "single_shot":
        return [sys.executable, str(ROOT / "benchmarks" / "baselines.py"), "single_shot", "--model", args.model,
                "--suite", str(args.suite), "--only", task, "--timeout", str(args.budget), "--out", str(out)]
    argv = [sys.executable, "-m", "agent_runtime", "--model", args.model, "eval", str(args.suite), "--only", task,
            "--planner", "none", "--timeout", str(args.budget), "--out", str(out)]
    return argv + (["--max-steps", str(args.max_steps)] if args.max_steps else [])


def read_results(path: Path) -> list[dict]:
    from agent_runtime.eval.report import load_results

    return load_results(path) if path.exists() else []


def arm_figures(results: list[dict]) -> dict:
    return {"solved": sum(bool(r.get("solved")) for r in results), "total": len(results),
            "median_wall_s": median([r.get("wall_s") for r in results]),
            "median_first_request_s": median([r.get("time_to_first_request_s") for r in results]),
            # root span to first LLM span (every build's trace has both)
            "median_first_request_trace_s": median([r.get("first_request_trace_s") for r in results]),
            "steps": sum(r.get("steps") or 0 for r in results),
            # the first request's size beside one completion's (single_shot: its only request)
            "median_first_request_tokens_in": median([(r.get("first_request_tokens") or [None])[0] or
                                                      (r.get("tokens_in") if r.get("steps") == 1 else None)
                                                      for r in results]),
            # tokens written by the first request (single_shot: its only one): the time a 2-core CPU spends
            "median_first_request_tokens_out": median([first_tokens_out(r) for r in results]),
            "identical_fixes_applied": sum(r.get("identical_fixes_applied") or 0 for r in results),
            "fix_attempts": sum(r.get("attempts") or 0 for r in results),
            # where the arm's rules stepped in: its requests by reason, over every task
            "requests": dict(sorted(sum((Counter(r.get("requests") or {}) for r in results), Counter()).items()))}


def first_tokens_out(result: dict) -> int | None:
    tokens = (result.get("first_request_tokens") or [None, None])[1]
    return tokens if tokens is not None else result.get("tokens_out") if result.get("steps") == 1 else None


def one_attempt(result: dict) -> bool:
    """Solved by its first request (single_shot: always its only one)."""
    return bool(result.get("solved")) and (result.get("attempts") in (None, 1) or result.get("steps") == 1)


def paired(by_arm: dict[str, list[dict]], base: str = "single_shot") -> dict:
    """Each arm beside the strong one completion on the same tasks: medians of wall time over every task
    and over the tasks both solved at the first attempt, and their ratios."""
    if base not in by_arm:
        return {}
    ones = {r.get("id"): r for r in by_arm[base]}
    out = {}
    for arm, results in by_arm.items():
        if arm == base:
            continue
        both = [(r, ones[r.get("id")]) for r in results if r.get("id") in ones]
        firsts = [(a, b) for a, b in both if one_attempt(a) and one_attempt(b)]
        ratio = [a.get("wall_s") / b.get("wall_s") for a, b in both if a.get("wall_s") and b.get("wall_s")]
        out[arm] = {"tasks": len(both), "median_wall_s_ratio": _ratio(both), "median_per_task_ratio": median(ratio),
                    "both_first_attempt": len(firsts), "both_first_attempt_wall_s_ratio": _ratio(firsts),
                    "first_request_tokens_out_ratio": (lambda a, b: round(a / b, 2) if a and b else None)(
                        median([first_tokens_out(a) for a, _ in both]), median([first_tokens_out(b) for _, b in both]))}
    return out


def _ratio(pairs: list[tuple[dict, dict]]) -> float | None:
    a, b = median([x.get("wall_s") for x, _ in pairs]), median([y.get("wall_s") for _, y in pairs])
    return round(a / b, 2) if a and b else None


def start_server(model: str, seed: int | None):
    """One embedded server for every arm (stopped by the caller); with a seed, every request is
    sampled from it, so that two builds sending the same request get the same reply."""
    from agent_runtime.config import load_settings
    from agent_runtime.models.constraints import context_window
    from agent_runtime.models.embedded import EmbeddedServer, resolve_embedded

    settings = load_settings({})
    choice = resolve_embedded(settings, model.split(":", 1)[1] if ":" in model else None)
    server = EmbeddedServer(choice.gguf, context_window(settings, None), choice.chat_format, seed=seed)
    server.start()
    server.wait_ready()
    return server


def turn(arms: list[str], i: int) -> list[str]:
    """The arms in the order they run the i-th task: each goes first in turn."""
    return arms[i % len(arms):] + arms[:i % len(arms)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded:1.5b", help="the model of every arm (default embedded:1.5b)")
    parser.add_argument("--arms", default="profile,plain", help="comma-separated arms (default profile,plain)")
    parser.add_argument("--suite", type=Path, default=ROOT / "evals" / "tasks.jsonl", help="the suite")
    parser.add_argument("--only", action="append", default=[], metavar="ID",
                        help="these tasks (repeatable; default: the 12 small tasks)")
    parser.add_argument("--budget", type=int, default=300, metavar="S", help="seconds per task (default 300)")
    parser.add_argument("--max-steps", type=int, metavar="N", help="step limit per task (default: the agent's)")
    parser.add_argument("--out-dir", type=Path, metavar="DIR", help="where the results go (default: a new folder)")
    parser.add_argument("--seed", type=int, default=1, metavar="N",
                        help="sample every request from seed N, so that the same request gets the same reply in "
                             "every arm (default 1; -1: the server's own chain of seeds)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands and stop")
    args = parser.parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not arms or len(set(arms)) != len(arms):
        parser.error("--arms: one or more distinct arms, comma-separated")
    if args.budget < 10:
        parser.error("--budget must be at least 10 seconds")
    if not args.suite.exists():
        parser.error(f"no suite at {args.suite}")
    tasks = args.only or default_tasks(args.suite)
    out_dir = args.out_dir or (Path("OUT-DIR") if args.dry_run else Path(tempfile.mkdtemp(prefix="coaching-worth-")))
    outs = {arm: arm_file(out_dir, arm) for arm in arms}
    if args.dry_run:
        emit({"commands": [{"arm": arm, "environment": arm_env(arm), "argv": eval_command(args, task, outs[arm], arm)}
                           for i, task in enumerate(tasks) for arm in turn(arms, i)]})
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    for out in outs.values():
        out.unlink(missing_ok=True)  # the runner appends: one arm's file holds this run
    builds = {arm: build_copy(out_dir, arm) for arm in arms if arm.startswith("@")}
    runs_dirs = {arm: out_dir / f"runs-{outs[arm].stem}" for arm in arms}
    server = None if os.environ.get(SHARED_SERVER_ENV) or not args.model.startswith("embedded") \
        else start_server(args.model, None if args.seed < 0 else args.seed)
    shared = {SHARED_SERVER_ENV: server.api_base} if server is not None else {}
    failed: dict[str, int] = {}
    try:
        for i, task in enumerate(tasks):
            for arm in turn(arms, i):
                env = {**os.environ, **shared, **arm_env(arm), "RUNS_DIR": str(runs_dirs[arm])}
                if arm in ("profile", "single_shot") or arm in builds:
                    env.pop("AGENT_COACHING", None)
                if arm in builds:
                    env["PYTHONPATH"] = str(builds[arm])
                done = subprocess.run(eval_command(args, task, outs[arm], arm), cwd=builds.get(arm, ROOT),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if arm == "single_shot"
                                      else None, check=False, env=env)
                if done.returncode not in (0, 3):  # 3: some task unsolved (single_shot: 0 either way)
                    failed[f"{task} {arm}"] = done.returncode
    finally:
        if server is not None:
            server.stop()
    by_arm = {arm: read_results(out) for arm, out in outs.items()}
    for arm, results in by_arm.items():
        for result in results:
            result.update(trace_figures(runs_dirs[arm], result.get("run_id")))
    figures = {arm: arm_figures(results) for arm, results in by_arm.items()}
    rows = [{"id": task, **{arm: next(({"solved": bool(r.get("solved")), "status": r.get("status"),
                                       "wall_s": r.get("wall_s"), "first_request_s": r.get("time_to_first_request_s"),
                                       "first_request_trace_s": r.get("first_request_trace_s"),
                                       "attempts": r.get("attempts"), "requests": r.get("requests"),
                                       "first_request_tokens": r.get("first_request_tokens"),
                                       "identical_fixes_applied": r.get("identical_fixes_applied")}
                                      for r in by_arm[arm] if r.get("id") == task), None) for arm in arms}}
            for task in tasks]
    base = figures.get("profile")
    emit({"model": args.model, "suite": str(args.suite), "budget_s": args.budget,
          "seed": None if server is None or args.seed < 0 else args.seed, "arms": figures,
          **({"worth": {arm: base["solved"] - f["solved"] for arm, f in figures.items() if arm != "profile"}}
             if base else {}),
          "against_one_completion": paired(by_arm),
          "results": {arm: str(out) for arm, out in outs.items()}, **({"eval_exit_codes": failed} if failed else {}),
          "tasks": rows})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
