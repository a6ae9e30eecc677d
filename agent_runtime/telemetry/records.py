"""Run records: one directory per task under RUNS_DIR, readable without Phoenix.

    metadata.json   task, model, settings (no secrets), git HEAD and dirty state, package
                    versions, start and end, outcome, token totals, counts
    trace.jsonl     every span (written by telemetry's run-file exporter)
    events.jsonl    one line per tool call and per approval decision
    steps.jsonl     the conversation as it happens: the task (with what the model was shown
                    with it), then each step's model output, code, observation, error and
                    tokens, written when the step ends: what `--continue` / `--resume` rebuild
                    from, and the step and token counts of a run that was killed
    final.md        the final answer
    .running        present while the run is going (holds the pid): a killed run keeps it

Run directories are private (0700, files 0600): they hold the task, tool inputs and outputs.
Writing never fails on what a model or a file contains (lone surrogates, NULs, bytes that are
not UTF-8): such characters are written as JSON escapes.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from agent_runtime.core import is_secret_name

if TYPE_CHECKING:
    from agent_runtime.config import Settings
    from agent_runtime.core import ApprovalResult, CallRecord, Decision

PACKAGES = ("agent-runtime", "smolagents", "litellm", "llama-cpp-python", "arize-phoenix", "opentelemetry-sdk",
            "openinference-instrumentation", "tree-sitter-bash")
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


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
        from agent_runtime.gitcmd import safe_git  # git with the repository's programs switched off

        handle = safe_git(repo)
        return {"head": handle.head(), "dirty": bool(handle.status_z().split(b"\0", 1)[-1].strip(b"\0"))}
    except Exception:  # noqa: BLE001 (not a repository, or an unreadable one: the record says so)
        return {"head": None, "dirty": None}


def _open_private(path: Path, mode: str) -> Any:
    """A file only the user can read, created so (not chmod-ed after being written)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return os.fdopen(fd, mode, encoding="utf-8", errors="backslashreplace")


def write_private(path: Path, text: str, append: bool = False) -> None:
    with _open_private(path, "a" if append else "w") as handle:
        handle.write(text)


def settings_for_record(settings: "Settings", redact: Callable[[str], str]) -> dict[str, Any]:
    values = {}
    for field in fields(settings):
        if is_secret_name(field.name):
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
              sandbox: str, redact: Callable[[str], str], conversation: dict[str, Any] | None = None,
              models: dict[str, Any] | None = None) -> "RunRecord":
        """conversation: session_id, conversation (its first run's id), previous_run (the run whose
        conversation this one continues, or None). models: each role's model (coder, planner, judge)."""
        Path(runs_dir).mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        directory = _new_run_dir(Path(runs_dir))
        run_id = directory.name
        os.chmod(directory, PRIVATE_DIR)  # whatever the umask
        record = cls(directory, redact)
        write_private(directory / ".running", str(os.getpid()))
        write_private(directory / "trace.jsonl", "", append=True)  # the span exporter appends to it
        record.metadata = {
            "run_id": run_id,
            "task": redact(task),
            "repo": str(repo),
            "model": model,
            **({"models": models} if models is not None else {}),
            "approval_mode": approval_mode,
            "sandbox": sandbox,
            "git": _git_state(repo),
            "settings": settings_for_record(settings, redact),
            "versions": _versions(),
            "started_at": _now(),
            "ended_at": None,
            "outcome": "running",
            **(conversation or {}),
        }
        if conversation is not None and not conversation.get("conversation"):
            record.metadata["conversation"] = run_id  # the first run of a conversation names it
        write_private(directory / "steps.jsonl", "", append=True)
        record._write_metadata()
        return record

    def _write_metadata(self) -> None:
        path = self.dir / "metadata.json"
        tmp = path.with_suffix(".tmp")
        write_private(tmp, json.dumps(self.redact_value(self.metadata), indent=2, default=str))
        os.replace(tmp, path)

    def redact_value(self, value: Any) -> Any:
        """Strings inside a structure redacted before it is serialized (so escaping cannot hide them)."""
        redact_value = getattr(self.redact, "value", None)
        return redact_value(value) if redact_value is not None else value

    def event(self, kind: str, **fields: Any) -> None:
        self._append("events.jsonl", kind, fields)

    def step(self, kind: str, **fields: Any) -> None:
        """A line of steps.jsonl ("task" or "step"), redacted like the rest, written at once."""
        self._append("steps.jsonl", kind, fields)

    def _append(self, name: str, kind: str, fields: dict[str, Any]) -> None:
        line = self.redact_value({"time": _now(), "type": kind, **fields})
        try:
            text = self.redact(json.dumps(line, default=str, ensure_ascii=False))
        except (TypeError, ValueError) as exc:  # a value JSON cannot hold: say so rather than lose the line
            text = json.dumps({"time": _now(), "type": kind, "unserializable": repr(exc)})
        write_private(self.dir / name, text + "\n", append=True)

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
            write_private(self.dir / "final.md", self.redact(str(answer)) + "\n")
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
        # Not finished (killed, or still going): the counts so far come from the steps written.
        steps = [s for s in load_steps(directory) if s.get("type") == "step"]
        metadata["steps"] = len(steps)
        metadata["tokens"] = {"input": sum(int(s.get("tokens_in") or 0) for s in steps),
                              "output": sum(int(s.get("tokens_out") or 0) for s in steps)}
    return metadata


def load_steps(directory: Path) -> list[dict[str, Any]]:
    """steps.jsonl: the run's task and steps, in order; a line cut short by a kill is skipped."""
    path = directory / "steps.jsonl"
    if not path.exists():
        return []
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            items.append(item)
    return items


def _new_run_dir(runs_dir: Path) -> Path:
    """A run's id is when it started, to the millisecond, and a random hex digit (two processes
    sharing RUNS_DIR): ids sort in the order runs started, which a REPL's runs of one second did not
    when the id ended in four random digits."""
    for _ in range(64):
        now = datetime.now()
        directory = runs_dir / f"{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}{secrets.token_hex(1)[0]}"
        try:
            directory.mkdir(mode=PRIVATE_DIR)
            return directory
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run id in {runs_dir}")


def run_order(directory: Path) -> tuple[str, int]:
    """Sort key, oldest first: the millisecond an id tells, then (one millisecond, two processes) the
    run whose record was written last; the id's random last digit never decides."""
    try:
        return directory.name[:19], (directory / "metadata.json").stat().st_mtime_ns
    except OSError:
        return directory.name[:19], 0


def list_runs(runs_dir: Path, limit: int = 20) -> list[dict[str, Any]]:
    if not Path(runs_dir).is_dir():
        return []
    directories = sorted((d for d in Path(runs_dir).iterdir() if (d / "metadata.json").is_file()),
                         key=run_order, reverse=True)
    runs = []
    for directory in directories[:limit]:
        try:
            runs.append(load_run(directory))
        except (OSError, ValueError) as exc:  # one damaged record must not hide the others
            runs.append({"run_id": directory.name, "outcome": "unreadable", "task": f"({type(exc).__name__}: {exc})"})
    return runs


def find_runs(runs_dir: Path, run_id: str) -> list[Path]:
    """The runs whose id is `run_id`, or else contains it (newest first)."""
    exact = Path(runs_dir) / run_id
    if "/" not in run_id and run_id not in ("", ".", "..") and (exact / "metadata.json").is_file():
        return [exact]
    if not Path(runs_dir).is_dir() or not run_id or any(c in run_id for c in "/*?[]"):
        return []
    return sorted((d for d in Path(runs_dir).iterdir() if run_id in d.name and (d / "metadata.json").is_file()),
                  key=run_order, reverse=True)


PEEKS = ("reader_closed",)  # runs whose reader went away (`--json ... | head -1`): never "the last run"


def latest_run(runs_dir: Path, repo: Path | None = None) -> Path | None:
    """The newest run (in `repo`, when given): run ids begin with their start time. A run stopped
    by its reader was a peek, not work to pick up: `last` and `--continue` pass over it."""
    if not Path(runs_dir).is_dir():
        return None

    for directory in sorted((d for d in Path(runs_dir).iterdir() if (d / "metadata.json").is_file()),
                            key=run_order, reverse=True):
        try:
            metadata = json.loads((directory / "metadata.json").read_text())
        except (OSError, ValueError):
            if repo is None:
                return directory
            continue
        if metadata.get("outcome") in PEEKS:
            continue
        if repo is None or metadata.get("repo") == str(repo):
            return directory
    return None


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


_SUBJECTS = ("command", "path", "patch_id", "pattern", "diff")
LABEL_MAX = 160  # characters of a command or pattern in a trace line


def _short(text: str, limit: int = LABEL_MAX) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def call_label(tool: str, arguments: dict[str, Any]) -> str:
    """A tool call as a person reads it: `run_cmd git push --force`, `read_file calc.py:10-40`,
    `apply_patch p3`, `rg_search "def add" in src`, `propose_patch_unified calc.py, b.py`."""
    import re

    words = [tool]
    for key in _SUBJECTS:
        value = arguments.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        if key == "diff":
            targets = re.findall(r"^\+\+\+ (?:b/)?(\S+)", value, re.MULTILINE)
            words.append(_short(", ".join(dict.fromkeys(t for t in targets if t != "/dev/null")) or "(diff)"))
        elif key == "pattern":
            shown = _short(value)
            words.append(json.dumps(shown, ensure_ascii=False) if shown != value or " " in shown or not shown
                         else shown)  # quoted when a space (or a cut) would blur where it ends
            if isinstance(arguments.get("path"), str) and arguments["path"] not in ("", "."):
                words.append(f"in {_short(arguments['path'])}")
        elif key == "path":
            if isinstance(arguments.get("pattern"), str) and arguments["pattern"]:
                continue  # said with the pattern
            subject = _short(value)
            if isinstance(arguments.get("start_line"), int):
                end = arguments.get("end_line")
                subject += f":{arguments['start_line']}-" + (str(end) if isinstance(end, int) else "")
            words.append(subject)
        else:
            words.append(_short(value))
        if key in ("command", "patch_id", "diff"):
            break
    if len(words) == 1:  # no subject: the arguments that were given (git_log max_count=5)
        words += [f"{k}={_short(json.dumps(v, ensure_ascii=False), 40)}" for k, v in arguments.items()
                  if v is not None and not isinstance(v, (dict, list))][:4]
    return " ".join(words)


def _tool_line(span: dict[str, Any]) -> tuple[str, list[str]]:
    """A TOOL span's label (from its recorded arguments) and its facts: policy, approval with the
    user's message when they refused, sandbox, error."""
    attrs = span["attributes"]
    label = span["name"]
    try:
        arguments = json.loads(attrs.get("input.value") or "")
        if isinstance(arguments, dict):
            label = call_label(str(attrs.get("tool.name") or span["name"]), arguments)
    except ValueError:
        pass
    facts: list[str] = []
    if "policy.decision" not in attrs:  # smolagents' own final_answer, not one of ours
        return label, facts
    rule = f" ({attrs['policy.rule']})" if attrs.get("policy.rule") else ""
    policy = f"policy {attrs['policy.decision']}{rule}"
    refused = attrs["policy.decision"] == "deny" or attrs.get("approval.outcome") == "denied"
    if refused and attrs.get("approval.source") != "user" and attrs.get("policy.reason"):
        policy += f": {json.dumps(_short(str(attrs['policy.reason']), 200), ensure_ascii=False)}"  # no one said why
    facts.append(policy)
    source = f" ({attrs['approval.source']})" if attrs.get("approval.source") else ""
    approval = f"approval {attrs.get('approval.outcome')}{source}"
    try:
        summary = str(json.loads(attrs.get("metadata") or "{}").get("summary") or "")
    except (ValueError, AttributeError):
        summary = ""
    said = summary.partition("denied by the user: ")[2] if attrs.get("approval.source") == "user" else ""
    if said:
        approval += f": {json.dumps(_short(said), ensure_ascii=False)}"
    facts.append(approval)
    if attrs.get("sandbox"):
        facts.append(f"sandbox {attrs['sandbox']}")
    if attrs.get("error.type"):
        facts.append(f"error {attrs['error.type']}")
    return label, facts


def _hook_facts(attrs: dict[str, Any]) -> list[str]:
    """A hook span's outcome, with what the hook said: `block: "pushing is for humans here"`, so a
    call a hook blocked reads differently from one the user or the policy refused."""
    outcome = str(attrs["hook.outcome"])
    said = str(attrs.get("output.value") or "")
    said = "" if said == outcome else said
    shown = outcome.replace("_", " ")
    return [f"{shown}: {json.dumps(_short(said), ensure_ascii=False)}" if said else shown]


def _blocking_hook(children: list[dict[str, Any]]) -> str | None:
    """The name of the user's hook that blocked a tool call, from the call's child spans."""
    for child in children:
        attrs = child["attributes"]
        if attrs.get("hook.event") == "before_tool" and attrs.get("hook.outcome") == "block":
            return str(attrs.get("hook.name") or "?")
    return None


def span_tree(spans: list[dict[str, Any]]) -> list[str]:
    """Indented lines: name, kind, duration; tool calls with their key arguments, policy and
    approval outcome (and what the user said when they refused); a hook's outcome (and what it
    said when it blocked), with the blocked call marked `blocked by hook NAME`."""
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
            name = span["name"]
            if span.get("kind") == "LLM":
                prompt, completion = attrs.get("llm.token_count.prompt"), attrs.get("llm.token_count.completion")
                if prompt is not None:
                    facts.append(f"{prompt}→{completion} tokens")
            if span.get("kind") == "TOOL":
                name, more = _tool_line(span)
                facts += more
                hook = _blocking_hook(by_parent.get(span["span_id"], []))
                if hook is not None:
                    facts.append(f"blocked by hook {hook}")
            if "hook.outcome" in attrs:
                facts += _hook_facts(attrs)  # says error / timeout itself
            elif span["status"] == "ERROR" and span.get("kind") != "TOOL":
                facts.append("ERROR")
            kind = f"[{span['kind']}] " if span.get("kind") else ""
            lines.append(f"{'  ' * depth}{kind}{name}  ·  {' · '.join(facts)}")
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return lines
