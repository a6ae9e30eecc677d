"""benchmarks/attempt_budget.py: a recorded eval run cut after k steps is what a cap of k steps would
have done -- a task solved later counts as unsolved and its later steps' seconds are taken off."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def write_run(runs, run_id: str, ends: list[float]) -> None:
    run = runs / run_id
    run.mkdir(parents=True)
    steps = [{"type": "task", "task": "t"}]
    started = 1000.0
    for number, end in enumerate(ends, 1):
        steps.append({"type": "step", "step": number, "started": started, "ended": 1000.0 + end})
        started = 1000.0 + end
    (run / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))


def run_script(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "attempt_budget.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_a_cap_counts_later_solves_as_unsolved_and_takes_their_time_off(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "r1", [20.0])  # solved by its first step
    write_run(runs, "r2", [30.0, 50.0, 70.0])  # solved by its third
    write_run(runs, "r3", [25.0, 45.0, 65.0, 85.0])  # never solved
    results = [{"id": "a", "run_id": "r1", "solved": True, "wall_s": 25.0},
               {"id": "b", "run_id": "r2", "solved": True, "wall_s": 75.0},
               {"id": "c", "run_id": "r3", "solved": False, "wall_s": 90.0},
               {"id": "d", "run_id": "gone", "solved": True, "wall_s": 10.0}]
    (tmp_path / "agent.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    (tmp_path / "single.jsonl").write_text("".join(json.dumps({"id": i, "wall_s": s}) + "\n"
                                                   for i, s in (("a", 10.0), ("b", 20.0), ("c", 30.0), ("x", 99.0))))
    done = run_script(tmp_path / "agent.jsonl", "--runs", runs, "--single-shot", tmp_path / "single.jsonl")
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)
    assert table["tasks"] == 3 and table["runs_missing"] == ["d"]
    assert table["solved_at_step"] == {"a": 1, "b": 3}
    assert table["single_shot_median_s"] == 20.0  # the agent's tasks only
    by_cap = {row["max_steps"]: row for row in table["by_cap"]}
    assert sorted(by_cap) == [1, 2, 3, 4]
    # cap 1: a as run (25); b cut to 75 - (70 - 30) = 35; c cut to 90 - (85 - 25) = 30
    assert by_cap[1]["solved"] == 1 and by_cap[1]["median_s"] == 30.0 and by_cap[1]["x_single_shot"] == 1.5
    assert by_cap[3]["solved"] == 2 and by_cap[3]["median_s"] == 70.0  # 25, b as run (75), c cut to 70
    assert by_cap[4]["solved"] == 2 and by_cap[4]["median_s"] == 75.0


def test_an_unreadable_results_file_is_one_line_not_a_traceback(tmp_path):
    done = run_script(tmp_path / "none.jsonl")
    assert done.returncode != 0 and "cannot read" in done.stderr and "Traceback" not in done.stderr
