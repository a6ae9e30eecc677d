"""The side-by-side table of the eval issue: agent_runtime, stock smolagents, single shot, Aider
and mini-swe-agent on the same tasks and model, from their results files (`agent-runtime eval
--out`, `baselines.py --out`).

    python benchmarks/eval_table.py 1.5b:agent_runtime=A.jsonl 1.5b:smolagents=B.jsonl 1.5b:aider=C.jsonl ...

Prints one JSON object (per model and system: solved, median seconds, steps, tokens in and out,
parse failures, and for SWE-bench-shaped tasks the median diff size the runner recorded; and
the goals checked: more solved than single shot, at least 1.5x smolagents, median time within 2x
single shot, no parse failure that cost a step) and, on stderr, the table as Markdown for the README.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import emit, median

from agent_runtime.eval.report import load_results, summary


def diff_lines(result: dict) -> int | None:
    """Lines added and removed by the attempt, when the runner judged a SWE-bench-shaped task."""
    if result.get("diff_added") is None and result.get("diff_removed") is None:
        return None
    return (result.get("diff_added") or 0) + (result.get("diff_removed") or 0)


def row(results: list[dict]) -> dict:
    s = summary(results)
    return {
        "solved": s["solved"], "total": s["total"], "median_wall_s": s["median_wall_s"],
        "steps": s["steps"], "median_steps": median([r.get("steps") for r in results]),
        "tokens_in": s["tokens_in"], "tokens_out": s["tokens_out"],
        "parse_failures": s["parse_failures"], "parse_failures_per_step": s["parse_failures_per_step"],
        "median_diff_lines": median([diff_lines(r) for r in results]),
        "unsolved_by_status": s["unsolved_by_status"],
        "solved_ids": sorted(r["id"] for r in results if r.get("solved")),
    }


def cell(value) -> str:
    return "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def main(argv: list[str]) -> None:
    if not argv or any(a.startswith("-") or "=" not in a for a in argv):
        sys.exit(__doc__.strip())
    missing = [a.partition("=")[2] for a in argv if not Path(a.partition("=")[2]).is_file()]
    if missing:
        sys.exit(f"eval_table: no results file {', '.join(missing)}")
    rows: dict[str, dict[str, dict]] = {}
    for arg in argv:
        label, _, path = arg.partition("=")
        model, _, system = label.partition(":")
        rows.setdefault(model, {})[system] = row(load_results(Path(path)))
    goals = {}
    for model, systems in rows.items():
        ours, shot, smol = (systems.get(k) for k in ("agent_runtime", "single_shot", "smolagents"))
        if not ours:
            continue
        goals[model] = {
            "more_than_single_shot": shot is not None and ours["solved"] > shot["solved"],
            "at_least_1.5x_smolagents": smol is not None and ours["solved"] >= 1.5 * smol["solved"] and ours["solved"] > 0,
            "median_within_2x_single_shot": bool(shot and ours["median_wall_s"] and shot["median_wall_s"]
                                                 and ours["median_wall_s"] <= 2 * shot["median_wall_s"]),
            "zero_parse_failures": ours["parse_failures"] == 0,
        }
    lines = ["| model | system | solved | median s / task | steps (median / task) | tokens in / out "
             "| parse failures / step | diff lines (median) |", "|---|---|---|---|---|---|---|---|"]
    for model, systems in rows.items():
        for system, r in systems.items():
            lines.append(f"| {model} | {system} | {r['solved']}/{r['total']} | {cell(r['median_wall_s'])} | "
                         f"{r['steps']} ({cell(r['median_steps'])}) | {cell(r['tokens_in'])} / {cell(r['tokens_out'])} | "
                         f"{r['parse_failures_per_step']} ({r['parse_failures']} in {r['steps']} steps) | "
                         f"{cell(r['median_diff_lines'])} |")
    print("\n".join(lines), file=sys.stderr)
    emit({"benchmark": "eval_table", "rows": rows, "goals": goals})


if __name__ == "__main__":
    main(sys.argv[1:])
