"""Run directories: the order `runs`, `--continue` and `trace ID` see them in."""

import json
import os
from pathlib import Path

from agent_runtime.telemetry.records import find_runs, latest_run, list_runs, run_order


def _run(runs: Path, run_id: str, written_ns: int) -> Path:
    directory = runs / run_id
    directory.mkdir(parents=True)
    (directory / "metadata.json").write_text(json.dumps({"run_id": run_id, "task": run_id, "repo": "/r"}))
    os.utime(directory / "metadata.json", ns=(written_ns, written_ns))
    return directory


def test_runs_started_in_one_second_are_listed_newest_first(tmp_path):
    # Ids are the start millisecond plus a random hex digit: the digit must not decide the order.
    base = 1_800_000_000 * 10**9
    first = _run(tmp_path, "20261125-120000-004f", base)
    second = _run(tmp_path, "20261125-120000-0040", base + 10**8)  # the same millisecond, written later
    third = _run(tmp_path, "20261125-120000-0128", base + 2 * 10**8)
    older = _run(tmp_path, "20261125-115959-999f", base + 3 * 10**8)  # an earlier second comes after
    assert [r["run_id"] for r in list_runs(tmp_path)] == [third.name, second.name, first.name, older.name]
    assert latest_run(tmp_path) == third
    assert find_runs(tmp_path, "20261125-120000") == [third, second, first]


def test_run_ids_sort_in_the_order_the_runs_started(tmp_path):
    """A REPL's tasks can start within one second: a plain sort of the ids must still put them in order
    (the REPL roles test once read its second task's spans as the first's)."""
    from agent_runtime.config import load_settings
    from agent_runtime.telemetry.records import RunRecord

    settings = load_settings({})
    started = [RunRecord.start(tmp_path, f"task {n}", settings, tmp_path, "replay:x", "never", "none", str).dir
               for n in range(30)]
    assert sorted(started) == started == sorted(started, key=run_order)
    assert len({d.name for d in started}) == 30
    assert all(len(d.name) == 20 and d.name[16:19].isdigit() for d in started)
    assert [r["run_id"] for r in list_runs(tmp_path, limit=30)] == [d.name for d in reversed(started)]
