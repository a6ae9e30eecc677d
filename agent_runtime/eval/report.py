"""Results: a summary of one results file, and two files side by side."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any


def load_results(path: Path) -> list[dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            if isinstance(entry, dict) and "id" in entry:
                results[entry["id"]] = entry  # a re-run of a task replaces its earlier result
    return list(results.values())


def _median(values: list[float]) -> float | None:
    values = [v for v in values if isinstance(v, (int, float))]
    return round(statistics.median(values), 1) if values else None


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    steps = sum(r.get("steps") or 0 for r in results)
    failures = Counter(r.get("status", "?") for r in results if not r.get("solved"))
    return {
        "solved": sum(1 for r in results if r.get("solved")),
        "total": len(results),
        "median_wall_s": _median([r.get("wall_s") for r in results]),
        "median_model_s": _median([r.get("model_s") for r in results]),
        "tokens_in": sum(r.get("tokens_in") or 0 for r in results),
        "tokens_out": sum(r.get("tokens_out") or 0 for r in results),
        "steps": steps,
        "parse_failures": sum(r.get("parse_failures") or 0 for r in results),
        "format_retries": sum(r.get("format_retries") or 0 for r in results),
        "parse_failures_per_step": round(sum(r.get("parse_failures") or 0 for r in results) / steps, 3) if steps else 0,
        "tool_errors": sum(r.get("tool_errors") or 0 for r in results),
        "refusals": sum(r.get("refusals") or 0 for r in results),
        "tampered": sum(1 for r in results if r.get("tampered")),
        # instances: lines the agent's change added + removed (a fix should change only what it must)
        "median_diff_lines": _median([r["diff_added"] + r["diff_removed"] for r in results if "diff_added" in r]),
        "unsolved_by_status": dict(failures),
        # the planner/coder mode (agent/planner.py): plans asked for, used, and what they cost
        "plans": sum(1 for r in results if r.get("plan_used") is not None),
        "plans_used": sum(1 for r in results if r.get("plan_used")),
        "solved_with_plan": sum(1 for r in results if r.get("plan_used") and r.get("solved")),
        "median_plan_s": _median([r.get("plan_s") for r in results]),
    }


def summary_lines(results: list[dict[str, Any]], title: str = "") -> list[str]:
    s = summary(results)
    lines = [title] if title else []
    lines.append(f"solved {s['solved']}/{s['total']}  ·  median {s['median_wall_s']} s per task "
                 f"(model {s['median_model_s']} s)  ·  tokens {s['tokens_in']:,} in / {s['tokens_out']:,} out")
    lines.append(f"steps {s['steps']}  ·  parse failures {s['parse_failures']} ({s['parse_failures_per_step']} per step)"
                 f"  ·  format retries {s['format_retries']}  ·  tool errors {s['tool_errors']}"
                 f"  ·  refusals {s['refusals']}  ·  check files edited {s['tampered']}")
    if s["median_diff_lines"] is not None:
        lines.append(f"median change {s['median_diff_lines']} lines (added + removed)")
    if s["plans"]:
        lines.append(f"planner {next((r.get('planner') for r in results if r.get('planner')), '?')}: "
                     f"{s['plans']} plans, {s['plans_used']} used ({s['solved_with_plan']} of those solved)"
                     f"  ·  median {s['median_plan_s']} s a plan")
    if s["unsolved_by_status"]:
        lines.append("unsolved: " + ", ".join(f"{k} {v}" for k, v in sorted(s["unsolved_by_status"].items())))
    return lines


def task_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        mark = "✓" if r.get("solved") else "✗"
        size = f"  +{r['diff_added']} -{r['diff_removed']} in {r['diff_files']} files" if "diff_added" in r else ""
        lines.append(f"{mark} {r['id']:<34.34} {r.get('status', '?'):<11} {r.get('steps') or 0:>3} steps "
                     f"{r.get('wall_s') or 0:>7.1f} s  {r.get('run_id') or ''}{size}")
    return lines


def compare_lines(a: list[dict[str, Any]], b: list[dict[str, Any]], name_a: str, name_b: str) -> list[str]:
    by_a, by_b = {r["id"]: r for r in a}, {r["id"]: r for r in b}
    ids = sorted(set(by_a) | set(by_b))
    width = max([len(i) for i in ids] + [4])
    lines = [f"{'task':<{width}}  {name_a[:20]:>20}  {name_b[:20]:>20}"]
    gained = lost = 0
    for task_id in ids:
        ra, rb = by_a.get(task_id), by_b.get(task_id)

        def cell(r: dict[str, Any] | None) -> str:
            if r is None:
                return "-"
            return f"{'solved' if r.get('solved') else r.get('status', 'unsolved')} {r.get('wall_s') or 0:.0f}s"

        sa, sb = bool(ra and ra.get("solved")), bool(rb and rb.get("solved"))
        mark = "  " if sa == sb else ("+ " if sb else "- ")
        gained += sb and not sa
        lost += sa and not sb
        lines.append(f"{task_id:<{width}}  {cell(ra):>20}  {cell(rb):>20} {mark}")
    sa_, sb_ = summary(a), summary(b)
    lines.append("")
    lines.append(f"{'solved':<{width}}  {str(sa_['solved']) + '/' + str(sa_['total']):>20}  "
                 f"{str(sb_['solved']) + '/' + str(sb_['total']):>20}")
    lines.append(f"{'median s/task':<{width}}  {sa_['median_wall_s']!s:>20}  {sb_['median_wall_s']!s:>20}")
    lines.append(f"{'parse failures':<{width}}  {sa_['parse_failures']!s:>20}  {sb_['parse_failures']!s:>20}")
    lines.append(f"B solves {gained} that A does not; A solves {lost} that B does not")
    return lines
