"""benchmarks/eval_table.py: one JSON object and one table over results files of any systems."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def results(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def table(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "eval_table.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_solved_seconds_steps_tokens_and_diff_size_per_system(tmp_path):
    aider = results(tmp_path / "aider.jsonl", [
        {"id": "a", "solved": True, "status": "answered", "wall_s": 40.0, "steps": 2, "tokens_in": 3000, "tokens_out": 400},
        {"id": "b", "solved": False, "status": "timeout", "wall_s": 300.0, "steps": 4, "tokens_in": 9000, "tokens_out": 900},
        {"id": "c", "solved": False, "status": "reflection_limit", "wall_s": 100.0, "steps": 4,
         "tokens_in": 8000, "tokens_out": 700},
    ])
    mini = results(tmp_path / "mini.jsonl", [  # SWE-bench-shaped: the runner recorded each diff's size
        {"id": "x", "solved": True, "status": "answered", "wall_s": 80.0, "steps": 7, "tokens_in": 20000,
         "tokens_out": 1500, "parse_failures": 1, "diff_files": 1, "diff_added": 3, "diff_removed": 1},
        {"id": "y", "solved": False, "status": "step_limit", "wall_s": 120.0, "steps": 12, "tokens_in": 40000,
         "tokens_out": 3000, "parse_failures": 3, "diff_files": 2, "diff_added": 10, "diff_removed": 0},
    ])
    done = table(f"1.5b:aider={aider}", f"1.5b:mini_swe_agent={mini}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]["1.5b"]
    assert rows["aider"]["solved"] == 1 and rows["aider"]["total"] == 3
    assert rows["aider"]["median_wall_s"] == 100.0 and rows["aider"]["steps"] == 10 and rows["aider"]["median_steps"] == 4
    assert rows["aider"]["tokens_in"] == 20000 and rows["aider"]["tokens_out"] == 2000
    assert rows["aider"]["median_diff_lines"] is None  # the eval suite's tasks record no diff
    assert rows["aider"]["unsolved_by_status"] == {"timeout": 1, "reflection_limit": 1}
    assert rows["mini_swe_agent"]["median_diff_lines"] == 7.0  # (4 + 10) / 2
    assert rows["mini_swe_agent"]["parse_failures"] == 4 and rows["mini_swe_agent"]["solved_ids"] == ["x"]
    lines = done.stderr.splitlines()
    assert lines[0].startswith("| model | system | solved | median s / task | steps (median / task) | tokens in / out")
    assert "| 1.5b | aider | 1/3 | 100.0 | 10 (4) | 20,000 / 2,000 | 0.0 (0 in 10 steps) | — |" in lines
    assert "| 1.5b | mini_swe_agent | 1/2 | 100.0 | 19 (9.5) | 60,000 / 4,500 | 0.211 (4 in 19 steps) | 7.0 |" in lines


def test_a_missing_results_file_is_one_line(tmp_path):
    done = table(f"1.5b:aider={tmp_path / 'nope.jsonl'}", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"eval_table: no results file {tmp_path / 'nope.jsonl'}"
