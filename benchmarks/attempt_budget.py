"""What a cap on fix attempts would cost and save, read from a recorded eval run (no model calls).

A fix task's attempts are made one after another and none depends on a later one, so the run
cut after its k-th step is what a cap of k steps would have done: solved if the step that passed
came by then, and its seconds cut by the time the later steps took. For each k this prints
solved tasks and the median seconds a task, and, given single shot's results on the same
tasks, that median as a multiple of single shot's -- the trade-off behind issue 22's goal
(median <= 2x single shot, solved count kept).

    python benchmarks/attempt_budget.py AGENT.jsonl [--single-shot SINGLE.jsonl] [--runs DIR]

AGENT.jsonl is `agent-runtime eval --out`'s file; the runs it names are read from DIR
(default: the agent's runs directory, `$XDG_STATE_HOME/agent-runtime/runs`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_runtime.config import state_home  # noqa: E402  (not _common: it points XDG_STATE_HOME elsewhere)


def read_jsonl(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise SystemExit(f"attempt_budget: cannot read {path}: {exc}") from None


def step_ends(run: Path) -> list[float]:
    """Seconds from the first step's start to each step's end (steps.jsonl of one run)."""
    steps = [s for s in read_jsonl(run / "steps.jsonl") if s.get("type") == "step" and s.get("ended")]
    if not steps:
        return []
    start = min(s["started"] for s in steps)
    return [s["ended"] - start for s in steps]


def capped(result: dict, ends: list[float], cap: int) -> tuple[bool, float]:
    """(solved, seconds) of one task had it been stopped after `cap` steps."""
    wall = float(result.get("wall_s") or 0.0)
    if len(ends) <= cap:
        return bool(result.get("solved")), wall
    return False, wall - (ends[-1] - ends[cap - 1])


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def budget_table(results: list[dict], runs: Path, single_median: float | None) -> dict:
    ends: dict[str, list[float]] = {}
    missing = []
    for result in results:
        run = runs / str(result.get("run_id"))
        if not (run / "steps.jsonl").is_file():
            missing.append(result["id"])
            continue
        ends[result["id"]] = step_ends(run)
    known = [r for r in results if r["id"] in ends]
    solved_at = {r["id"]: len(ends[r["id"]]) for r in known if r.get("solved")}
    most = max((len(e) for e in ends.values()), default=0)
    rows = []
    for cap in range(1, most + 1):
        outcomes = [capped(r, ends[r["id"]], cap) for r in known]
        seconds = median([s for _, s in outcomes])
        rows.append({"max_steps": cap, "solved": sum(ok for ok, _ in outcomes), "median_s": seconds,
                     "x_single_shot": round(seconds / single_median, 2) if seconds and single_median else None})
    return {"tasks": len(known), "runs_missing": missing, "solved_at_step": solved_at,
            "single_shot_median_s": single_median, "by_cap": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="an agent eval's results (agent-runtime eval --out)")
    parser.add_argument("--single-shot", type=Path, help="single shot's results on the same tasks (baselines.py)")
    parser.add_argument("--runs", type=Path, default=state_home() / "runs", help="the runs directory the eval wrote")
    args = parser.parse_args(argv)
    results = [r for r in read_jsonl(args.results) if "id" in r]
    single = None
    if args.single_shot:
        ids = {r["id"] for r in results}
        times = [float(r["wall_s"]) for r in read_jsonl(args.single_shot) if r.get("id") in ids and r.get("wall_s")]
        single = median(times)
    if not results:
        raise SystemExit(f"attempt_budget: no task results in {args.results}")
    print(json.dumps(budget_table(results, args.runs, single), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
