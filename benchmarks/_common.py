"""Helpers shared by the benchmark scripts (each prints one JSON object)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("XDG_STATE_HOME", tempfile.mkdtemp(prefix="bench-state-"))


def median(values: list) -> float | None:
    """The median of the numbers among `values` (None and missing figures left out), to 0.1."""
    numbers = [v for v in values if isinstance(v, (int, float))]
    return round(statistics.median(numbers), 1) if numbers else None


def median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 1)


def run_spans(runs_dir: Path, run_id: str | None) -> list[dict]:
    """The spans of a run's trace.jsonl (RUNS_DIR/RUN_ID), in the order written; none if it has none."""
    trace = runs_dir / str(run_id) / "trace.jsonl"
    if not run_id or not trace.is_file():
        return []
    return [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines() if line.strip()]


def coder_requests(spans: list[dict]) -> list[dict]:
    """The coder's LLM spans (not the planner's or the judge's), oldest first."""
    return sorted((s for s in spans if (s.get("attributes") or {}).get("openinference.span.kind") == "LLM"
                   and s["attributes"].get("llm.role", "coder") == "coder"), key=lambda s: s["start_time"])


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def quiet_session(settings, repo: Path):
    """A Session that approves nothing and prints nowhere (for scripted replay runs)."""
    import io

    from rich.console import Console

    from agent_runtime.agent.session import Session
    from agent_runtime.cli.display import Display
    from agent_runtime.safety.approval import Approver

    return Session(settings, repo, Approver("never", interactive=False),
                   Display(console=Console(file=io.StringIO()), out=io.StringIO()))


def emit(figures: dict) -> None:
    print(json.dumps(figures, indent=2))
