"""Run records: one directory per task under RUNS_DIR, readable without Phoenix.

    metadata.json   task, model, settings (no secrets), git HEAD and dirty state, package
                    versions, start and end, outcome, token totals, counts
    trace.jsonl     every span (written by telemetry's run-file exporter)
    events.jsonl    one line per tool call and per approval decision
    final.md        the final answer
    .running        present while the run is going (holds the pid): a killed run keeps it
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from agent_runtime.config import Settings
    from agent_runtime.core import ApprovalResult, Decision
    from agent_runtime.tools.history import CallRecord

PACKAGES = ("agent-runtime", "smolagents", "litellm", "llama-cpp-python", "arize-phoenix", "opentelemetry-sdk",
            "openinference-instrumentation-smolagents", "tree-sitter-bash")
SECRET_SETTINGS = {"model_api_key"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _git_state(repo: Path) -> dict[str, Any]:
    try:
        import git

        handle = git.Repo(repo, search_parent_directories=True)
        head = handle.head.commit.hexsha if handle.head.is_valid() else None
        return {"head": head, "dirty": handle.is_dirty(untracked_files=True)}
    except Exception:  # not a repository, or an unreadable one: the record says so
        return {"head": None, "dirty": None}


def settings_for_record(settings: "Settings", redact: Callable[[str], str]) -> dict[str, Any]:
    values = {}
    for field in fields(settings):
        if field.name in SECRET_SETTINGS:
            continue
        value = getattr(settings, field.name)
        values[field.name] = redact(str(value)) if isinstance(value, (str, Path)) else value
    return values


class RunRecord:
    def __init__(self, directory: Path, redact: Callable[[str], str]):
        self.dir = directory
        self.redact = redact
        self.metadata: dict[str, Any] = {}

    @property
    def id(self) -> str:
        return self.dir.name

    @classmethod
    def start(cls, runs_dir: Path, task: str, settings: "Settings", repo: Path, model: str, approval_mode: str,
              sandbox: str, redact: Callable[[str], str]) -> "RunRecord":
        run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        directory = Path(runs_dir) / run_id
        directory.mkdir(parents=True, exist_ok=False)
        record = cls(directory, redact)
        (directory / ".running").write_text(str(os.getpid()))
        record.metadata = {
            "run_id": run_id,
            "task": redact(task),
            "repo": str(repo),
            "model": model,
            "approval_mode": approval_mode,
            "sandbox": sandbox,
            "git": _git_state(repo),
            "settings": settings_for_record(settings, redact),
            "versions": _versions(),
            "started_at": _now(),
            "ended_at": None,
            "outcome": "running",
        }
        record._write_metadata()
        return record

    def _write_metadata(self) -> None:
        path = self.dir / "metadata.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.metadata, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, path)

    def event(self, kind: str, **fields: Any) -> None:
        line = {"time": _now(), "type": kind, **fields}
        with (self.dir / "events.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(self.redact(json.dumps(line, default=str, ensure_ascii=False)) + "\n")

    def on_call(self, record: "CallRecord", decision: "Decision | None", approval: "ApprovalResult | None") -> None:
        """Listener for Runtime.call_listeners: one line per tool call, one per approval decision."""
        if approval is not None:
            self.event("approval", tool=record.tool, outcome=approval.outcome, source=approval.source,
                       rule=decision.rule if decision else None, message=approval.message)
        self.event("tool_call", tool=record.tool, arguments=record.arguments, outcome=record.outcome,
                   error_type=record.error_type, duration_ms=round(record.duration_ms, 2),
                   policy={"decision": decision.decision, "rule": decision.rule} if decision else None,
                   approval={"outcome": approval.outcome, "source": approval.source} if approval else None)

    def finish(self, outcome: str, answer: str | None, **facts: Any) -> None:
        if answer is not None:
            (self.dir / "final.md").write_text(self.redact(answer) + "\n", encoding="utf-8")
        self.metadata.update({"ended_at": _now(), "outcome": outcome, **facts})
        self._write_metadata()
        (self.dir / ".running").unlink(missing_ok=True)


# --- reading ---


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def load_run(directory: Path) -> dict[str, Any]:
    metadata = json.loads((directory / "metadata.json").read_text())
    marker = directory / ".running"
    if marker.exists():
        try:
            pid = int(marker.read_text().strip() or 0)
        except ValueError:
            pid = 0
        metadata["outcome"] = "running" if pid and _alive(pid) else "killed"
    return metadata


def list_runs(runs_dir: Path, limit: int = 20) -> list[dict[str, Any]]:
    if not Path(runs_dir).is_dir():
        return []
    directories = sorted((d for d in Path(runs_dir).iterdir() if (d / "metadata.json").is_file()), reverse=True)
    return [load_run(d) for d in directories[:limit]]


def find_run(runs_dir: Path, run_id: str) -> Path | None:
    exact = Path(runs_dir) / run_id
    if (exact / "metadata.json").is_file():
        return exact
    matches = [d for d in Path(runs_dir).glob(f"*{run_id}*") if (d / "metadata.json").is_file()]
    return matches[0] if len(matches) == 1 else None


def load_spans(directory: Path) -> list[dict[str, Any]]:
    path = directory / "trace.jsonl"
    if not path.exists():
        return []
    spans = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            spans.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill: the rest of the trace still reads
    return spans


def span_tree(spans: list[dict[str, Any]]) -> list[str]:
    """Indented lines: name, kind, duration; tool spans with their policy and approval outcome."""
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    ids = {s["span_id"] for s in spans}
    for span in spans:
        parent = span["parent_id"] if span["parent_id"] in ids else None
        by_parent.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s["start_time"] or 0):
            attrs = span["attributes"]
            millis = ((span["end_time"] or 0) - (span["start_time"] or 0)) / 1e6
            facts = [f"{millis:,.0f} ms"]
            if span.get("kind") == "LLM":
                prompt, completion = attrs.get("llm.token_count.prompt"), attrs.get("llm.token_count.completion")
                if prompt is not None:
                    facts.append(f"{prompt}→{completion} tokens")
            if span.get("kind") == "TOOL" and "policy.decision" in attrs:  # our tools, not smolagents' final_answer
                rule = f" ({attrs['policy.rule']})" if attrs.get("policy.rule") else ""
                facts.append(f"policy {attrs['policy.decision']}{rule}")
                source = f" ({attrs['approval.source']})" if attrs.get("approval.source") else ""
                facts.append(f"approval {attrs.get('approval.outcome')}{source}")
                if attrs.get("sandbox"):
                    facts.append(f"sandbox {attrs['sandbox']}")
                if attrs.get("error.type"):
                    facts.append(f"error {attrs['error.type']}")
            if span["status"] == "ERROR" and span.get("kind") != "TOOL":
                facts.append("ERROR")
            kind = f"[{span['kind']}] " if span.get("kind") else ""
            lines.append(f"{'  ' * depth}{kind}{span['name']}  ·  {' · '.join(facts)}")
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return lines
