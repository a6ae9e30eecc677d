"""The agent's ceiling on the real-repository suite when finding the fault is not the problem: each
task is run as `agent-runtime eval` runs it, with a planner whose one reply names the functions the
reference fix changes (the instance's `fixed_symbols`, through the replay model: `--planner
replay:FILE`). The coder then sees those functions first and every file stays writable, as with
any plan. What it does not fix here it would not fix with perfect localization either.

    python evals/real/build.py --out /tmp/real
    AGENT_RUNTIME_EMBEDDED_SERVER=http://127.0.0.1:8711/v1 \\
        python benchmarks/oracle_plan.py /tmp/real/instances.jsonl [--only ID ...] [--timeout 300] [--out FILE]

Each task is its own eval (the plan differs per task); the results go to one JSONL file, read by
`agent-runtime eval compare` and benchmarks/eval_table.py. Prints one JSON object: solved, the
median seconds per task, and per task its status and the plan's targets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, emit


def oracle_reply(raw: dict) -> str | None:
    """The planner's reply naming the reference fix's functions (at most three, as a plan may); None
    when the fix is in no function (module-level lines: `path::name#...`)."""
    targets = [s for s in raw.get("fixed_symbols") or [] if "#" not in s][:3]
    return json.dumps({"problem": "", "targets": targets}) if targets else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", type=Path, help="instances.jsonl of evals/real/build.py")
    parser.add_argument("--only", action="append", default=[], metavar="ID")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("oracle_plan.jsonl"))
    args = parser.parse_args()
    try:
        raws = [json.loads(line) for line in args.suite.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        sys.exit(f"oracle_plan: cannot read {args.suite}: {exc}")
    wanted = [r for r in raws if not args.only or r["instance_id"] in args.only]
    if args.only and len(wanted) != len(set(args.only)):
        sys.exit(f"oracle_plan: not in the suite: {sorted(set(args.only) - {r['instance_id'] for r in wanted})}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="oracle-plan-") as tmp:
        for raw in wanted:
            ident = raw["instance_id"]
            reply = oracle_reply(raw)
            if reply is None:
                rows.append({"id": ident, "status": "skipped", "why": "the fix is in no function"})
                continue
            plan = Path(tmp) / f"{ident}.json"
            plan.write_text(json.dumps([reply]), encoding="utf-8")
            one = Path(tmp) / f"{ident}.jsonl"
            subprocess.run([sys.executable, "-m", "agent_runtime", "eval", str(args.suite), "--only", ident,
                            "--planner", f"replay:{plan}", "--timeout", str(args.timeout), "--out", str(one)],
                           cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
            lines = one.read_text(encoding="utf-8").splitlines() if one.exists() else []
            if not lines:
                rows.append({"id": ident, "status": "no result"})
                continue
            result = json.loads(lines[-1])
            with args.out.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps(result, ensure_ascii=False) + "\n")
            rows.append({"id": ident, "status": result.get("status"), "solved": bool(result.get("solved")),
                         "wall_s": result.get("wall_s"), "attempts": result.get("attempts"),
                         "plan_used": result.get("plan_used"), "targets": json.loads(reply)["targets"]})
    ran = [r for r in rows if "solved" in r]
    emit({"suite": str(args.suite), "timeout_s": args.timeout, "results": str(args.out),
          "solved": sum(r["solved"] for r in ran), "ran": len(ran),
          "median_wall_s": round(statistics.median([r["wall_s"] for r in ran if r.get("wall_s")]), 1)
          if any(r.get("wall_s") for r in ran) else None,
          "tasks": rows})


if __name__ == "__main__":
    main()
