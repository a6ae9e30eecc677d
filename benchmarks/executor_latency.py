"""What the sandboxed interpreter process costs: added latency per tool call and per step.

Same run, same tools, same code: smolagents' LocalPythonExecutor in-process (before) vs
SandboxedPythonExecutor (the interpreter in a bubblewrap child; tool calls over a pipe).
Per tool call: a step that makes CALLS calls, divided by CALLS (a no-op tool, and read_file
through the one wrapper). Per step: a step of trivial code. Medians over REPEAT steps.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from _common import emit, git_repo

from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver
from agent_runtime.safety.executor import SandboxedPythonExecutor
from agent_runtime.tools import build_tools
from agent_runtime.tools.results import ToolResult
from agent_runtime.tools.runtime import Runtime

CALLS = 200
REPEAT = 25
STEPS = 300


class NoOp:
    description = "does nothing"

    def __call__(self, *args, **kwargs):
        return ToolResult({"ok": True})


def per_call_us(executor, code: str, before=lambda: None) -> float:
    samples = []
    for _ in range(REPEAT):
        before()
        started = time.perf_counter()
        executor(code)
        samples.append((time.perf_counter() - started) / CALLS)
    return statistics.median(samples) * 1e6


def per_step_us(executor) -> float:
    samples = []
    for _ in range(STEPS):
        started = time.perf_counter()
        executor("x = 1")
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def main() -> None:
    from smolagents.default_tools import FinalAnswerTool
    from smolagents.local_python_executor import LocalPythonExecutor

    repo = git_repo(Path(tempfile.mkdtemp(prefix="bench-executor-")))
    (repo / "module.py").write_text("".join(f"line_{i} = {i}\n" for i in range(200)))
    runtime = Runtime.create(load_settings({}), repo, Approver("never", interactive=False))
    tools = {t.name: t for t in build_tools(runtime)}
    given = {"noop": NoOp(), "read_file": tools["read_file"], "final_answer": FinalAnswerTool()}

    started = time.perf_counter()
    sandboxed = SandboxedPythonExecutor([], result_type=ToolResult)
    sandboxed.send_tools(given)
    sandboxed("1")
    start_up_ms = (time.perf_counter() - started) * 1e3
    local = LocalPythonExecutor([], timeout_seconds=None)
    local.send_tools(given)

    noop_code = f"for i in range({CALLS}):\n    noop()"
    read_code = (f"for i in range({CALLS}):\n"
                 "    read_file(path='module.py', start_line=i % 100 + 1, end_line=i % 100 + 6)")
    figures = {}
    for name, executor in (("in_process", local), ("sandboxed", sandboxed)):
        figures[name] = {
            "noop_call_us": round(per_call_us(executor, noop_code), 1),
            "read_file_call_us": round(per_call_us(executor, read_code, runtime.state.reset), 1),
            "trivial_step_us": round(per_step_us(executor), 1),
        }
    sandboxed.cleanup()
    added = {key: round(figures["sandboxed"][key] - figures["in_process"][key], 1) for key in figures["in_process"]}
    emit({
        "benchmark": "executor_latency",
        "sandbox": sandboxed.kind,
        "calls_per_step": CALLS,
        "repeats": {"call_steps": REPEAT, "trivial_steps": STEPS},
        "median_us": figures,
        "added_median_us": added,
        "child_start_up_ms": round(start_up_ms, 1),
    })


if __name__ == "__main__":
    main()
