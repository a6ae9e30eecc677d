"""What checkpoints cost on a 10,000-file repository (issue 30: it must not double a quick command's time).

Prints: the first snapshot (every file hashed and written once), the median snapshot with nothing
changed and with 10 files changed, and the median time of `true` through run_cmd (the whole tool
path, bubblewrap when it runs here) with checkpoints on and off.

    python benchmarks/checkpoint_cost.py [--files 10000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import emit

from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver
from agent_runtime.tools import build_tools
from agent_runtime.tools.runtime import Runtime, checkpoint_store


def make_repo(root: Path, files: int) -> Path:
    for i in range(files):
        path = root / f"pkg{i % 100}" / f"sub{i % 7}" / f"m{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE = {i}\n" * 20)
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.com", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "files"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    return root


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    repo = make_repo(Path(tempfile.mkdtemp(prefix="bench-checkpoint-")), args.files)

    runtimes = {on: Runtime.create(load_settings({"CHECKPOINTS": str(on).lower()}), repo,
                                   Approver("auto", interactive=False)) for on in (True, False)}
    store = checkpoint_store(runtimes[True].workspace, runtimes[True].policy)
    started = time.perf_counter()
    store.snapshot()
    first = time.perf_counter() - started
    unchanged, changed = [], []
    for round_ in range(args.rounds):
        started = time.perf_counter()
        store.snapshot()
        unchanged.append(time.perf_counter() - started)
        for i in range(10):  # ten files of the repository, rewritten
            (repo / f"pkg{i}" / f"sub{i % 7}" / f"m{i}.py").write_text(f"VALUE = {i}\nROUND = {round_}\n")
        started = time.perf_counter()
        store.snapshot()
        changed.append(time.perf_counter() - started)

    tools = {on: {t.name: t for t in build_tools(runtime)} for on, runtime in runtimes.items()}
    quick: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for on in (True, False):
            runtimes[on].state.reset()  # the same call three times in a row would be refused as a loop
            started = time.perf_counter()
            result = tools[on]["run_cmd"](command="true")
            quick[on].append(time.perf_counter() - started)
            assert result.get("exit_code") == 0, result
    on_ms, off_ms = ms(quick[True]), ms(quick[False])
    emit({
        "benchmark": "checkpoint_cost",
        "files": args.files,
        "rounds": args.rounds,
        "sandbox": runtimes[True].sandbox.kind,
        "first_snapshot_ms": round(first * 1000, 1),
        "snapshot_unchanged_median_ms": ms(unchanged),
        "snapshot_10_changed_median_ms": ms(changed),
        "run_cmd_true_checkpoints_on_median_ms": on_ms,
        "run_cmd_true_checkpoints_off_median_ms": off_ms,
        "ratio": round(on_ms / off_ms, 2) if off_ms else None,
        "target": "ratio < 2 (a quick command's time not doubled)",
    })


if __name__ == "__main__":
    main()
