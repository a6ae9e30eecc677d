"""`agent-runtime eval … --phoenix`: the suite as a Phoenix dataset and the eval run as one of
its experiments, so that two models or two builds compare side by side in Phoenix's experiment
view.

The tasks have already run (each agent's trace went to Phoenix as usual), so the experiment is
recorded through Phoenix's REST API, not with the client's `run_experiment` (which calls the task
itself): the dataset is uploaded (`POST /v1/datasets/upload`, action update: one dataset per suite
name, a new version only when its tasks change), an experiment made on it, one run per task
(output: what the task did; its trace: the agent's) and, per run, evaluations Phoenix averages
per experiment: `solved` (1/0), `seconds`, `steps` and `tokens` (their score is the figure).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from agent_runtime.eval.task import Task

TIMEOUT_S = 30.0
# Per task: the evaluation's name, and how its score is read from a result (None: not recorded).
FIGURES = {
    "solved": lambda r: 1.0 if r.get("solved") else 0.0,
    "seconds": lambda r: r.get("wall_s"),
    "steps": lambda r: r.get("steps"),
    "tokens": lambda r: (r.get("tokens_in") or 0) + (r.get("tokens_out") or 0)
    if r.get("tokens_in") is not None or r.get("tokens_out") is not None else None,
}


class PhoenixUploadError(RuntimeError):
    """Phoenix did not take the dataset or the experiment; the message says what and where."""


def _call(base: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body, default=str).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # the configured Phoenix
            text = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise PhoenixUploadError(f"{method} {base}{path} answered {exc.code}: {detail}") from None
    except OSError as exc:
        raise PhoenixUploadError(f"Phoenix at {base} did not answer ({exc}); is it running? "
                                 "(agent-runtime phoenix, or PHOENIX_ENDPOINT)") from None
    return json.loads(text) if text else None


def dataset_rows(tasks: list[Task]) -> dict[str, Any]:
    """The suite as the upload's columns: the task in, the check as the expected output."""
    return {
        "inputs": [{"prompt": t.prompt, "files": sorted(t.files)} for t in tasks],
        "outputs": [{"check": t.check, **({"answer": list(t.answer)} if t.answer else {})} for t in tasks],
        "metadata": [{"task_id": t.id, "kind": t.kind, "timeout_s": t.timeout_s} for t in tasks],
        "example_ids": [t.id for t in tasks],
    }


def upload_dataset(base: str, name: str, tasks: list[Task], description: str = "") -> tuple[str, dict[str, str]]:
    """The dataset's id and, per task id, its example's id (the experiment runs point at it)."""
    body = {"action": "update", "name": name, "description": description, **dataset_rows(tasks)}
    data = _call(base, "POST", "/v1/datasets/upload?sync=true", body)["data"]
    dataset_id, version_id = data["dataset_id"], data["version_id"]
    examples = _call(base, "GET", f"/v1/datasets/{dataset_id}/examples?version_id={version_id}")["data"]["examples"]
    return dataset_id, {e["id"]: e["node_id"] for e in examples}


def _times(result: dict[str, Any]) -> tuple[str, str]:
    start = result.get("started_at")
    try:
        begun = datetime.fromisoformat(start) if start else None
    except ValueError:
        begun = None
    seconds = float(result.get("wall_s") or 0.0)
    end = begun + timedelta(seconds=seconds) if begun else datetime.now(timezone.utc)
    return (begun or end - timedelta(seconds=seconds)).isoformat(), end.isoformat()


def run_output(result: dict[str, Any]) -> dict[str, Any]:
    """What a run shows in the experiment view: the outcome and the figures, the run's id."""
    keys = ("solved", "status", "wall_s", "steps", "tokens_in", "tokens_out", "model_s", "tool_calls", "tool_errors",
            "refusals", "run_id", "error", "check_exit_code")
    return {k: result.get(k) for k in keys if result.get(k) is not None}


def trace_of(runs_dir: Path, run_id: str | None) -> str | None:
    """The trace id the agent's run recorded (its metadata.json), or None."""
    if not run_id or "/" in run_id:
        return None
    try:
        return json.loads((Path(runs_dir) / run_id / "metadata.json").read_text()).get("trace_id")
    except (OSError, ValueError):
        return None


def record_experiment(base: str, suite_name: str, tasks: list[Task], results: list[dict[str, Any]],
                      runs_dir: Path, name: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """Upload the suite, make the experiment, record each result. Returns the dataset and
    experiment ids and the experiment's URL in the Phoenix UI."""
    dataset_id, examples = upload_dataset(base, suite_name, tasks, f"agent-runtime eval suite {suite_name}")
    experiment = _call(base, "POST", f"/v1/datasets/{dataset_id}/experiments",
                       {"name": name, "description": f"agent-runtime eval of {suite_name}", "metadata": metadata,
                        "repetitions": 1})["data"]
    recorded = 0
    for result in results:
        example = examples.get(result.get("id"))
        if example is None:
            continue
        start, end = _times(result)
        error = None if result.get("solved") or not result.get("error") else str(result["error"])[:1000]
        run = _call(base, "POST", f"/v1/experiments/{experiment['id']}/runs", {
            "dataset_example_id": example, "output": run_output(result), "repetition_number": 1,
            "start_time": start, "end_time": end, "trace_id": trace_of(runs_dir, result.get("run_id")),
            "error": error})["data"]
        for figure, read in FIGURES.items():
            score = read(result)
            if score is None:
                continue
            label = ("solved" if score else "unsolved") if figure == "solved" else None
            _call(base, "POST", "/v1/experiment_evaluations", {
                "experiment_run_id": run["id"], "name": figure, "annotator_kind": "CODE",
                "start_time": end, "end_time": end, "result": {"score": float(score), "label": label}})
        recorded += 1
    return {"dataset_id": dataset_id, "experiment_id": experiment["id"], "runs": recorded,
            "url": f"{base}/datasets/{dataset_id}/compare?experimentId={experiment['id']}"}
