"""Tasks as Ray tasks on a Ray cluster (`agent-runtime eval SUITE --ray ADDRESS`), for users who
outgrow one machine. Each Ray task does what a local worker does (fresh repository, the agent
as a subprocess, the check) and returns the same result; results are gathered as they finish.

Every node needs agent_runtime installed (the same version) and must reach the model: use an
endpoint all nodes can reach (`--model ollama_chat/...` with OLLAMA_API_BASE, or
`--model openai/...` with MODEL_API_BASE). The embedded server the runner starts listens on
127.0.0.1, so it serves a single-machine cluster only.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from agent_runtime.eval.runner import EvalOptions, Progress, agent_attempt, run_task
from agent_runtime.eval.task import Task


def _remote_task(task: Task, options: dict[str, Any]) -> dict[str, Any]:
    """Runs on a Ray worker: the task pickled (a Task or an Instance), plain data out."""
    with tempfile.TemporaryDirectory(prefix="agent-runtime-ray-") as tmp:
        result = run_task(task, agent_attempt, EvalOptions(**options), Path(tmp), "agent_runtime")
    import socket

    result["node"] = socket.gethostname()
    return result


def run_on_ray(tasks: list[Task], options: EvalOptions, out: Path, address: str, display: Any = None) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        from agent_runtime.models.errors import ModelError

        raise ModelError("--ray needs the ray package: pip install 'agent-runtime[ray]'") from None
    ray.init(address=None if address == "local" else address, ignore_reinit_error=True, logging_level="ERROR",
             log_to_driver=False, include_dashboard=False if address == "local" else None)
    remote = ray.remote(num_cpus=1, max_retries=0)(_remote_task)
    pending = {remote.remote(task, dataclasses.asdict(options)): task for task in tasks}
    progress = Progress(len(tasks))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as sink:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # the Ray task itself failed (worker died): unsolved, with why  # noqa: BLE001
                    result = {"id": task.id, "kind": task.kind, "system": "agent_runtime", "solved": False,
                              "status": "crashed", "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                progress.record(result, sink)
                if display is not None:
                    from rich.markup import escape  # a suite's task id: no markup, no escapes

                    from agent_runtime.core import visible

                    display.info(f"[{progress.done}/{progress.total}] {escape(visible(str(result['id'])))}: "
                                 f"{'solved' if result.get('solved') else 'not solved (' + str(result.get('status')) + ')'}"
                                 f" on {result.get('node', '?')} · solved so far {progress.solved}")
    order = {task.id: i for i, task in enumerate(tasks)}
    return sorted(progress.results, key=lambda r: order.get(r["id"], 0))
