"""Tracing cost and Phoenix failure cost.

- Per tool call: spans on (TOOL span, redaction, trace.jsonl written as each span ends,
  batched OTLP export to a Phoenix that refuses) vs spans off. Target: under 0.5 ms.
- Exit: how long a session takes to close when Phoenix is unreachable (connection refused)
  or hanging (accepts, never answers). Target: at most 2 s.
"""

from __future__ import annotations

import io
import json
import socket
import tempfile
import threading
import time
from pathlib import Path

from _common import emit, git_repo
from rich.console import Console

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.redact import Redactor
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.exporters import Tracing
from agent_runtime.telemetry.spans import Telemetry
from agent_runtime.tools import build_tools
from agent_runtime.tools.runtime import Runtime

CALLS = 3000


def per_call(runtime: Runtime) -> list[float]:
    read = {t.name: t for t in build_tools(runtime)}["read_file"]
    times = []
    for i in range(CALLS):
        start = i % 100 + 1
        t0 = time.perf_counter()
        read(path="module.py", start_line=start, end_line=start + 5)
        times.append(time.perf_counter() - t0)
    return times


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def close_time(repo: Path, endpoint: str, work: Path) -> float:
    work.mkdir(parents=True, exist_ok=True)
    replay = work / "replay.json"
    replay.write_text(json.dumps(["Thought: x\n<code>\nprint(list_files())\n</code>",
                                  "Thought: d\n<code>\nfinal_answer(\"ok\")\n</code>"]))
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "PHOENIX_ENABLED": "true", "PHOENIX_ENDPOINT": endpoint,
                              "RUNS_DIR": str(work / "runs")})
    session = Session(settings, repo, Approver("never", interactive=False),
                      Display(console=Console(file=io.StringIO()), out=io.StringIO()))
    session.open()
    session.run("list")
    start = time.perf_counter()
    session.close()
    return time.perf_counter() - start


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-tracing-"))
    repo = git_repo(work / "repo")
    (repo / "module.py").write_text("".join(f"line_{i} = {i}\n" for i in range(200)))

    off = Runtime.create(load_settings({}), repo, Approver("never", interactive=False), telemetry=Telemetry())
    off_times = per_call(off)

    settings = load_settings({"PHOENIX_ENABLED": "true", "PHOENIX_ENDPOINT": f"http://127.0.0.1:{closed_port()}"})
    tracing = Tracing(settings, Redactor.from_environment({"API_TOKEN": "secret-value-123"}))
    tracing.start_run(work / "trace.jsonl")
    on = Runtime.create(settings, repo, Approver("never", interactive=False), telemetry=tracing.telemetry)
    with tracing.telemetry.tracer.start_as_current_span("Step 1"):
        on_times = per_call(on)
    tracing.end_run()
    tracing.shutdown()
    spans = sum(1 for _ in (work / "trace.jsonl").open())

    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(64)
    held: list = []
    threading.Thread(target=lambda: [held.append(sink.accept()) for _ in range(64)], daemon=True).start()
    refused_close = close_time(repo, f"http://127.0.0.1:{closed_port()}", work / "refused")
    hanging_close = close_time(repo, f"http://127.0.0.1:{sink.getsockname()[1]}", work / "hanging")

    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    overhead_us = round((median(on_times) - median(off_times)) * 1e6, 1)
    emit({
        "benchmark": "tracing_overhead",
        "calls": CALLS,
        "spans_written": spans,
        "spans_off_median_us": round(median(off_times) * 1e6, 1),
        "spans_on_median_us": round(median(on_times) * 1e6, 1),
        "overhead_per_call_us": overhead_us,
        "target_us": 500,
        "close_with_phoenix_refusing_s": round(refused_close, 2),
        "close_with_phoenix_hanging_s": round(hanging_close, 2),
        "target_close_s": 2.0,
        "meets_target": overhead_us < 500 and refused_close <= 2.0 and hanging_close <= 2.05,
    })


if __name__ == "__main__":
    main()
