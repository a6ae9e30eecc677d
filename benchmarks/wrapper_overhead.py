"""Overhead of the one wrapper per tool call: instrumented call vs the tool's bare function.

Target: under 1 ms per call. Tracing off here (see tracing_overhead.py for spans on vs off).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import emit, git_repo, median_us

from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver
from agent_runtime.tools import build_tools
from agent_runtime.tools.runtime import Runtime

CALLS = 3000


def main() -> None:
    repo = git_repo(Path(tempfile.mkdtemp(prefix="bench-wrapper-")))
    (repo / "module.py").write_text("".join(f"line_{i} = {i}\n" for i in range(200)))
    runtime = Runtime.create(load_settings({}), repo, Approver("never", interactive=False))
    tools = {t.name: t for t in build_tools(runtime)}
    read = tools["read_file"]
    path = repo / "module.py"
    import time

    wrapped, bare = [], []
    for i in range(CALLS):
        start_line = i % 100 + 1  # varied, so loop detection never refuses
        t0 = time.perf_counter()
        read(path="module.py", start_line=start_line, end_line=start_line + 5)
        t1 = time.perf_counter()
        read.run(path=path, start_line=start_line, end_line=start_line + 5)
        t2 = time.perf_counter()
        wrapped.append(t1 - t0)
        bare.append(t2 - t1)
        runtime.state.reset()  # identical calls in a row would trip loop detection
    overhead = [w - b for w, b in zip(wrapped, bare)]
    emit({
        "benchmark": "wrapper_overhead",
        "tool": "read_file (6 lines)",
        "calls": CALLS,
        "instrumented_median_us": median_us(wrapped),
        "bare_median_us": median_us(bare),
        "overhead_median_us": median_us(overhead),
        "target_us": 1000,
        "meets_target": median_us(overhead) < 1000,
    })


if __name__ == "__main__":
    main()
