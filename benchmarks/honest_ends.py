"""Questions and follow-ups on a real model: does every run end on its own, soon, with a true answer?

    python benchmarks/honest_ends.py [--model embedded:1.5b] [--only NAME] [--out FILE]

A scratch copy of examples/first-task (a tiny shop whose discount is computed wrongly) for each case,
one session per case, as the REPL holds one (approval `auto`: what asks is approved, as a person at the
prompt saying yes; what the policy denies stays denied). Five questions, each a first task; five
follow-ups, each a second task after a first one in the same session (the first is run, not measured).

Per case: the status and exit code the single-task route would give, the steps and seconds of the
measured task, whether a change was proposed (a patch or file-writing tool called), whether the
workspace changed, and the answer's first 300 characters. Goal (per case): at most 5 steps and 180 s.
Whether an answer is true is for the reader of the JSON (the cases say what a true one holds: `expect`),
checked here by a regex where one says it (`expect_re`), never used to pass or fail the run.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit, median

EXAMPLE = ROOT / "examples" / "first-task"
CHANGING_TOOLS = {"propose_patch_unified", "propose_patch", "propose_file", "replace_symbol", "apply_patch", "run_cmd",
                  "promote_tool"}

# name, first task (None: the question is the first), measured task, what a true answer holds
QUESTIONS = [
    ("what-does-cart-do", None, "What does shop/cart.py do?", r"total|discount|cart"),
    ("which-tests", None, "Which tests are in this repository?", r"test_line_total.*test_no_discount|test_ten_percent_off"),
    ("where-defined", None, "Where is cart_total defined?", r"shop/cart\.py"),
    ("why-fails", None, "Why does test_ten_percent_off fail?", r"discount"),
    ("explain-line-total", None, "Explain what line_total returns.", r"price.*quantity|quantity.*price|product|multipl"),
]
FOLLOW_UPS = [
    ("docstring-after-question", "What does line_total do?",
     'Add a docstring to line_total: "The price of one line: price times quantity."', r"docstring|line_total"),
    ("test-after-fix", "Fix the failing test.",
     "Now add a test in tests/test_cart.py that a 100% discount makes the total 0.", r"test|100"),
    ("named-change-after-question", "Why does test_ten_percent_off fail?",
     "Change cart_total to return round(subtotal * (100 - discount_percent) / 100, 2).", r"cart_total|discount"),
    ("question-after-question", "Read shop/cart.py.",
     "What would cart_total([(3.0, 3)], 50) return with this code?", r"4\.5"),
    ("rename-after-fix", "Fix the failing test.",
     "Rename the parameter quantity of line_total to count.", r"count"),
]


def scratch_repo() -> Path:
    path = Path(tempfile.mkdtemp(prefix="honest-ends-")) / "shop"
    shutil.copytree(EXAMPLE, path)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@localhost",
                                                  "commit", "-qm", "first-task"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    return path


def worktree_changed(repo: Path) -> bool:
    out = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    return bool(out.stdout.strip())


def run_case(settings_env: dict, name: str, first: str | None, task: str, expect: str) -> dict:
    from rich.console import Console

    from agent_runtime.agent.session import Session
    from agent_runtime.cli.display import Display
    from agent_runtime.config import load_settings
    from agent_runtime.safety.approval import Approver

    repo = scratch_repo()
    settings = load_settings({**settings_env, "RUNS_DIR": str(repo.parent / "runs")})
    session = Session(settings, repo, Approver("auto", interactive=False),
                      Display(console=Console(file=io.StringIO()), out=io.StringIO()))
    row: dict = {"name": name, "first": first, "task": task}
    with session:
        if first is not None:
            started = time.monotonic()
            before = session.run(first)
            row["first_status"], row["first_s"] = before.status, round(time.monotonic() - started, 1)
        calls_before = len(session.runtime.state.history)
        changed_before = worktree_changed(repo)
        started = time.monotonic()
        result = session.run(task)
        seconds = round(time.monotonic() - started, 1)
        calls = session.runtime.state.history[calls_before:]
    answer = result.answer or result.error or ""
    row.update(status=result.status, exit_code=result.exit_code, steps=result.steps, seconds=seconds,
               tools=[c.tool for c in calls],
               proposed_change=any(c.tool in CHANGING_TOOLS for c in calls),
               workspace_changed=worktree_changed(repo) and not changed_before or None,
               answer=answer[:300], expect=expect,
               expect_found=bool(re.search(expect, answer, re.I | re.S)),
               within_goal=result.steps <= 5 and seconds <= 180, runs=str(repo.parent / "runs"))
    return row  # the scratch folder stays: its runs/ hold each task's steps and trace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded:1.5b")
    parser.add_argument("--only", action="append", help="run this case (repeatable)")
    parser.add_argument("--out", type=Path, help="also append each row to this JSONL file")
    args = parser.parse_args()
    env = {"MODEL_ID": args.model}
    cases = [("question", *q) for q in QUESTIONS] + [("follow-up", *f) for f in FOLLOW_UPS]
    rows = []
    for kind, name, first, task, expect in cases:
        if args.only and name not in args.only:
            continue
        row = {"kind": kind, **run_case(env, name, first, task, expect)}
        rows.append(row)
        print(f"{name}: {row['status']} in {row['steps']} steps, {row['seconds']} s", file=sys.stderr, flush=True)
        if args.out:
            with args.out.open("a", encoding="utf-8") as out:
                out.write(json.dumps(row) + "\n")
    emit({"model": args.model, "cases": rows,
          "within_goal": sum(r["within_goal"] for r in rows), "of": len(rows),
          "max_steps": max((r["steps"] for r in rows), default=None),
          "max_seconds": max((r["seconds"] for r in rows), default=None),
          "median_seconds": median([r["seconds"] for r in rows]),
          "questions_with_a_change": sum(r["proposed_change"] for r in rows if r["kind"] == "question")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
