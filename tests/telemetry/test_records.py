"""Run directories: the order `runs`, `--continue` and `trace ID` see them in."""

import json
import os
from pathlib import Path

from agent_runtime.telemetry.records import find_runs, latest_run, list_runs


def _run(runs: Path, run_id: str, written_ns: int) -> Path:
    directory = runs / run_id
    directory.mkdir(parents=True)
    (directory / "metadata.json").write_text(json.dumps({"run_id": run_id, "task": run_id, "repo": "/r"}))
    os.utime(directory / "metadata.json", ns=(written_ns, written_ns))
    return directory


def test_runs_started_in_one_second_are_listed_newest_first(tmp_path):
    # Ids are the start second plus a random suffix: the suffix must not decide the order.
    base = 1_800_000_000 * 10**9
    first = _run(tmp_path, "20261125-120000-ffff", base)
    second = _run(tmp_path, "20261125-120000-0000", base + 10**8)
    third = _run(tmp_path, "20261125-120000-8888", base + 2 * 10**8)
    older = _run(tmp_path, "20261125-115959-ffff", base + 3 * 10**8)  # an earlier second comes after
    assert [r["run_id"] for r in list_runs(tmp_path)] == [third.name, second.name, first.name, older.name]
    assert latest_run(tmp_path) == third
    assert find_runs(tmp_path, "20261125-120000") == [third, second, first]
