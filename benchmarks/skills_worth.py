"""What a repository's skill is worth: the skill suite (evals/skills/: tasks whose repository
ships a SKILL.md stating the procedure the task needs) run with one model in three arms: the
repository skills off (untrusted, as for any user who has not trusted them), trusted for the run
(`agent-runtime eval --skills trusted`, which leaves your trusted-skills.json alone), and trusted
with the coaching rule skill_preload on (AGENT_COACHING=+skill_preload: the matching skill is loaded
before the first request).

    python benchmarks/skills_worth.py [--model ID] [--budget S] [--arms off,trusted,preload] [--only ID ...]
                                      [--out-dir DIR] [--dry-run]

The default model is the embedded 1.5B (`embedded:1.5b`), --budget the seconds per task (300).
Prints one JSON object: per arm solved/total, the median seconds a task, how many tasks called
load_skill and how many got a skill from it; per task the arms side by side. The results files stay
in --out-dir (default: a new temporary folder) for `agent-runtime eval compare`; an arm left out of
--arms is reported from its file there, if an earlier run left one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, emit

SUITE = ROOT / "evals" / "skills"
ARMS = ("off", "trusted", "preload")
ARM_ENV = {"preload": {"AGENT_COACHING": "+skill_preload"}}  # the eval passes its environment to each agent


def eval_command(arm: str, args: argparse.Namespace, out: Path) -> list[str]:
    skills = "off" if arm == "off" else "trusted"
    argv = [sys.executable, "-m", "agent_runtime", "eval", str(args.suite), "--skills", skills, "--model", args.model,
            "--timeout", str(args.budget), "--out", str(out)]
    for ident in args.only:
        argv += ["--only", ident]
    if args.max_steps:
        argv += ["--max-steps", str(args.max_steps)]
    return argv


def read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def arm_figures(results: list[dict]) -> dict:
    walls = [r["wall_s"] for r in results if isinstance(r.get("wall_s"), (int, float))]
    return {
        "solved": sum(bool(r.get("solved")) for r in results),
        "total": len(results),
        "median_wall_s": round(statistics.median(walls), 1) if walls else None,
        "called_load_skill": sum(1 for r in results if r.get("load_skill_calls")),
        "loaded_a_skill": sum(1 for r in results if r.get("skills_loaded")),
    }


def task_rows(by_arm: dict[str, list[dict]]) -> list[dict]:
    ids: list[str] = []
    for results in by_arm.values():
        ids += [r["id"] for r in results if r["id"] not in ids]
    rows = []
    for ident in ids:
        row: dict = {"id": ident}
        for arm, results in by_arm.items():
            r = next((r for r in results if r["id"] == ident), None)
            row[arm] = None if r is None else {
                "solved": bool(r.get("solved")), "status": r.get("status"), "wall_s": r.get("wall_s"),
                "steps": r.get("steps"), "load_skill_calls": r.get("load_skill_calls"),
                "skills_loaded": r.get("skills_loaded")}
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded:1.5b", help="the model of every arm (default embedded:1.5b)")
    parser.add_argument("--arms", default=",".join(ARMS), help="the arms to run, comma-separated (default: all)")
    parser.add_argument("--budget", type=int, default=300, metavar="S", help="seconds per task (default 300)")
    parser.add_argument("--max-steps", type=int, metavar="N", help="step limit per task (default: the agent's)")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="run only these tasks (repeatable)")
    parser.add_argument("--suite", type=Path, default=SUITE, help="the suite (default evals/skills/)")
    parser.add_argument("--out-dir", type=Path, metavar="DIR", help="where the results files go "
                        "(default: a new temporary folder)")
    parser.add_argument("--dry-run", action="store_true", help="print the eval commands and stop")
    args = parser.parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not arms or any(a not in ARMS for a in arms):
        parser.error(f"--arms: choose among {', '.join(ARMS)}")
    if args.budget < 10:
        parser.error("--budget must be at least 10 seconds")
    if not args.suite.exists():
        parser.error(f"no suite at {args.suite}")
    if args.dry_run:
        out_dir = args.out_dir or Path("OUT-DIR")
        emit({"commands": {arm: eval_command(arm, args, out_dir / f"skills-{arm}.jsonl") for arm in arms},
              "environment": {arm: ARM_ENV[arm] for arm in arms if arm in ARM_ENV}})
        return 0
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="skills-worth-"))
    outs = {arm: out_dir / f"skills-{arm}.jsonl" for arm in ARMS}
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = {}
    for arm in arms:
        outs[arm].unlink(missing_ok=True)  # the runner appends: one arm's file holds one run
        done = subprocess.run(eval_command(arm, args, outs[arm]), cwd=ROOT, stdout=subprocess.DEVNULL, check=False,
                              env={**os.environ, **ARM_ENV.get(arm, {})})
        if done.returncode != 0:
            failed[arm] = done.returncode
    by_arm = {arm: results for arm, out in outs.items() if (results := read_results(out))}
    figures = {arm: arm_figures(results) for arm, results in by_arm.items()}
    emit({"suite": str(args.suite), "model": args.model, "budget_s": args.budget,
          "results": {arm: str(outs[arm]) for arm in by_arm},
          **({"eval_exit_codes": failed} if failed else {}),
          "arms": figures, **{f"solved_gain_{arm}": figures[arm]["solved"] - figures["off"]["solved"]
                              for arm in ("trusted", "preload") if arm in figures and "off" in figures},
          "tasks": task_rows(by_arm)})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
