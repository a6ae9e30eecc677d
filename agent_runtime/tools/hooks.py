"""Hooks: the user's own programs, run at events of a session.

Configured only in the user's config, `$XDG_CONFIG_HOME/agent-runtime/hooks.toml` (never from a
repository: XDG_CONFIG_HOME is not a repository setting, and the policy denies the agent writes
there). Each hook gets its event as one JSON object on stdin and runs outside the sandbox, as
the user, in the workspace, with the user's environment plus AGENT_RUNTIME_EVENT.

    [[hooks]]
    event = "before_tool"              # session_start, session_end, before_tool, after_tool, before_approval
    command = "~/bin/no-push.sh"       # a shell command line, or an argv list: ["python3", "/x/log.py"]
    tools = ["run_cmd"]                # optional: only these tools (globs); default every tool
    timeout = 10                       # optional: seconds (default 10); then it is killed: no opinion
    name = "no-push"                   # optional: how spans and warnings name it

What a hook says (only before_tool hooks decide anything; the other events only inform):
    exit 0, no JSON on stdout            no opinion
    exit 0, {"decision": "approve"}      an `ask` call is approved without a prompt (source `hook`);
                                         a `deny` stays denied
    exit 0, {"decision": "block", "reason": "..."}  or  exit 2 (stderr = the reason)
                                         the call is refused; the model sees the reason
    any other exit, a crash, a timeout   no opinion, with a warning
The first hook that blocks wins (later ones do not run). Each run is a span (`hook <event>:
<name>`) with its outcome, exit code and duration.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import selectors
import shlex
import signal
import subprocess
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Literal

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, field_validator

import agent_runtime.schema as schema
from agent_runtime import USER_DOTENV_SWITCH
from agent_runtime.config import ConfigError, config_home
from agent_runtime.procs import stop_group

if TYPE_CHECKING:
    from agent_runtime.core import Action, ApprovalResult, CallRecord, Decision
    from agent_runtime.telemetry.spans import Telemetry

log = logging.getLogger(__name__)

HOOKS_NAME = "hooks.toml"
EVENTS = ("session_start", "session_end", "before_tool", "after_tool", "before_approval")
HOOK_KEYS = ("event", "command", "tools", "timeout", "name")
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 600.0
BLOCK_EXIT = 2
OUTPUT_CAP = 64 * 1024  # bytes kept of a hook's stdout and of its stderr
MESSAGE_CAP = 2000  # characters of a block reason given to the model


def hooks_path() -> Path:
    return config_home() / HOOKS_NAME


class HookConfigError(ConfigError):
    """hooks.toml is invalid; the message names the file, the line, the key, what was expected and found."""


@dataclass(frozen=True)
class Hook:
    name: str
    event: str
    argv: tuple[str, ...]
    tools: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT_S

    def wants(self, tool: str | None) -> bool:
        return tool is None or not self.tools or any(fnmatch.fnmatchcase(tool, t) for t in self.tools)


@dataclass
class HookRun:
    """One run of one hook."""

    hook: Hook
    outcome: str  # "no_opinion", "approve", "block", "error", "timeout"
    message: str = ""  # the block reason, or what went wrong
    exit_code: int | None = None
    duration_ms: float = 0.0


@dataclass
class ToolVerdict:
    """What the before_tool hooks said about one call."""

    blocked: HookRun | None = None
    approved: HookRun | None = None
    runs: list[HookRun] = field(default_factory=list)


def _command(value: Any) -> Any:
    if (isinstance(value, str) and value.strip()) or (
            isinstance(value, list) and value and all(isinstance(c, str) and c for c in value)):
        return value
    raise schema.Wrong("a shell command (a string) or an argv list of strings")


# One check for both shapes (a union would report each of its members' errors).
Command = Annotated[Any, BeforeValidator(_command), WithJsonSchema(
    {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]})]


class HookEntry(BaseModel):
    """One [[hooks]] entry of hooks.toml."""

    model_config = schema.STRICT
    event: Literal["session_start", "session_end", "before_tool", "after_tool", "before_approval"]
    command: Command
    tools: list[Annotated[str, Field(min_length=1)]] = []
    timeout: Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S)] = DEFAULT_TIMEOUT_S
    name: str | None = None  # default: the command's program

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise schema.Wrong("a non-empty name")
        return value


class HooksFile(BaseModel):
    """hooks.toml: the user's programs run at events of a session."""

    model_config = schema.STRICT
    hooks: list[HookEntry] = []


assert typing.get_args(HookEntry.model_fields["event"].annotation) == EVENTS
assert tuple(HookEntry.model_fields) == HOOK_KEYS


def _parse(text: str, where: str) -> tuple[Hook, ...]:
    raw, lines = schema.read_toml(text, where, HookConfigError)
    hooks = []
    for item in schema.validate(HooksFile, raw, where, HookConfigError, lines).hooks:
        if isinstance(item.command, str):
            argv: tuple[str, ...] = ("/bin/sh", "-c", item.command)
            program = item.command.split()[0] if item.command.split() else ""
        else:
            argv = (os.path.expanduser(item.command[0]), *item.command[1:])
            program = item.command[0]  # as written: shlex.join would quote `~/bin/x` into a name `x'`
        name = item.name if item.name is not None else program.rstrip("/").rsplit("/", 1)[-1] or item.event
        hooks.append(Hook(name.strip(), item.event, argv, tuple(item.tools), float(item.timeout)))
    return tuple(hooks)


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _policy(decision: "Decision | None") -> dict[str, Any] | None:
    if decision is None:
        return None
    return {"decision": decision.decision, "rule": decision.rule, "reason": decision.reason,
            "approved_by": decision.approved_by}


class Hooks:
    """The user's hooks for one runtime: what the wrapper, the approver and the session call."""

    def __init__(self, hooks: tuple[Hook, ...] = (), root: Path | None = None, source: str | None = None):
        self.hooks = hooks
        self.root = root
        self.source = source
        self.telemetry: Telemetry | None = None
        self.warn: Callable[[str], None] = log.warning
        self.context: dict[str, Any] = {}  # added to every event (session_id)

    def __bool__(self) -> bool:
        return bool(self.hooks)

    @classmethod
    def load(cls, root: Path, path: Path | None = None) -> "Hooks":
        path = Path(path) if path else hooks_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls((), root)
        except (OSError, UnicodeDecodeError) as exc:
            raise HookConfigError(f"{path}: cannot be read: {exc}") from None
        return cls(_parse(text, str(path)), root, str(path))

    # --- the events ---

    def before_tool(self, tool: str, arguments: dict[str, Any], decision: "Decision") -> ToolVerdict:
        verdict = ToolVerdict()
        for run in self.run("before_tool", {"tool": tool, "arguments": arguments, "policy": _policy(decision)},
                            tool, stop_on_block=True):
            verdict.runs.append(run)
            if run.outcome == "block":
                verdict.blocked = run
            elif run.outcome == "approve" and verdict.approved is None:
                verdict.approved = run
        return verdict

    def after_tool(self, record: "CallRecord", result: dict[str, Any], decision: "Decision | None",
                   approval: "ApprovalResult | None") -> None:
        self.run("after_tool", {
            "tool": record.tool, "arguments": record.arguments, "outcome": record.outcome, "error": record.error_type,
            "duration_ms": round(record.duration_ms, 3), "policy": _policy(decision),
            "approval": {"outcome": approval.outcome, "source": approval.source} if approval else None,
            "result": result}, record.tool)

    def before_approval(self, tool: str, action: "Action", decision: "Decision") -> None:
        self.run("before_approval", {"tool": tool, "action": {"kind": action.kind, "command": action.command,
                                                               "paths": list(action.paths)},
                                     "policy": _policy(decision)}, tool)

    def session(self, event: str, **fields: Any) -> None:
        self.run(event, fields)

    # --- running them ---

    def run(self, event: str, fields: dict[str, Any], tool: str | None = None,
            stop_on_block: bool = False) -> list[HookRun]:
        runs: list[HookRun] = []
        for hook in self.hooks:
            if hook.event != event or not hook.wants(tool):
                continue
            payload = _json_safe({"event": event, **self.context, "repo": str(self.root) if self.root else None,
                                  **fields})
            try:
                run = self._traced(hook, payload)
            except Exception as exc:  # our side failed (a pipe, the span): the call goes on
                log.debug("hook %s failed", hook.name, exc_info=True)
                run = HookRun(hook, "error", f"could not be run: {type(exc).__name__}: {exc}")
            runs.append(run)
            if run.outcome in ("error", "timeout"):
                self.warn(f"hook {hook.name} ({event}) {run.message}; taken as no opinion")
            if stop_on_block and run.outcome == "block":
                break
        return runs

    def _traced(self, hook: Hook, payload: dict[str, Any]) -> HookRun:
        if self.telemetry is None:
            return self._execute(hook, payload)
        with self.telemetry.hook_span(hook.event, hook.name, shlex.join(hook.argv), hook.timeout, payload) as span:
            run = self._execute(hook, payload)
            span.finish(run.outcome, run.duration_ms, run.message, run.exit_code)
        return run

    def _execute(self, hook: Hook, payload: dict[str, Any]) -> HookRun:
        started = time.monotonic()

        def done(outcome: str, message: str = "", code: int | None = None) -> HookRun:
            return HookRun(hook, outcome, message, code, round((time.monotonic() - started) * 1000, 3))

        env = {**os.environ, "AGENT_RUNTIME_EVENT": hook.event, "AGENT_RUNTIME_HOOK": hook.name}
        if USER_DOTENV_SWITCH is None:  # set for the agent's own imports only (agent_runtime/__init__.py)
            env.pop("PYTHON_DOTENV_DISABLED", None)
        else:
            env["PYTHON_DOTENV_DISABLED"] = USER_DOTENV_SWITCH
        if self.root is not None:
            env["AGENT_RUNTIME_REPO"] = str(self.root)
        try:
            proc = subprocess.Popen(hook.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=self.root, env=env, start_new_session=True)
        except OSError as exc:
            return done("error", f"could not start: {exc.strerror or exc} ({hook.argv[0]})")
        try:
            out, err, finished = _communicate(proc, json.dumps(payload).encode(), started + hook.timeout)
        finally:
            if proc.poll() is None:  # timed out, or Ctrl-C: the hook and whatever it started go
                stop_group(proc, (signal.SIGKILL,), wait_s=2)
        stdout = out.decode("utf-8", "replace")
        stderr = err.decode("utf-8", "replace").strip()
        if not finished:
            return done("timeout", f"did not finish within {hook.timeout:g} s and was killed")
        code = proc.returncode
        if code == BLOCK_EXIT:
            return done("block", _reason(stderr) or f"blocked by the hook {hook.name}", code)
        if code != 0:
            tail = f": {_reason(stderr)[-300:]}" if stderr else ""
            return done("error", f"exited with code {code}{tail}", code)
        said = stdout.strip()
        if not said.startswith("{"):
            return done("no_opinion", "", code)
        try:
            answer = json.loads(said)
        except ValueError:
            return done("error", "printed something that starts like JSON but is not JSON", code)
        decision = answer.get("decision") if isinstance(answer, dict) else None
        reason = answer.get("reason") if isinstance(answer, dict) and isinstance(answer.get("reason"), str) else ""
        if decision == "block":
            return done("block", _reason(reason) or _reason(stderr) or f"blocked by the hook {hook.name}", code)
        if decision == "approve":
            return done("approve", _reason(reason), code)
        if decision in (None, "none", "no_opinion"):
            return done("no_opinion", "", code)
        return done("error", f"printed an unknown decision {decision!r} (approve, block or none)", code)


def _reason(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_CAP else text[:MESSAGE_CAP] + "…"


def _communicate(proc: subprocess.Popen, data: bytes, deadline: float) -> tuple[bytes, bytes, bool]:
    """Write the event, read stdout and stderr (each capped) until the hook exits or the deadline
    passes; (stdout, stderr, finished)."""
    out, err = bytearray(), bytearray()
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as selector:
        os.set_blocking(proc.stdin.fileno(), False)
        selector.register(proc.stdin, selectors.EVENT_WRITE)
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        view = memoryview(data)
        exited_at: float | None = None
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(out), bytes(err), False
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
            elif exited_at is not None and time.monotonic() - exited_at > 0.5:
                break  # the hook is done; something it left behind still holds its output open
            for key, _ in selector.select(min(remaining, 0.5)):
                if key.fileobj is proc.stdin:
                    try:
                        view = view[os.write(proc.stdin.fileno(), view[:65536]):]
                    except (BrokenPipeError, BlockingIOError) as exc:
                        if isinstance(exc, BlockingIOError):
                            continue
                        view = view[len(view):]  # the hook does not read its input: fine
                    if not view:
                        selector.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer = key.data
                if len(buffer) < OUTPUT_CAP:
                    buffer += chunk[:OUTPUT_CAP - len(buffer)]
    while True:
        remaining = deadline - time.monotonic()
        try:
            proc.wait(timeout=max(remaining, 0.01))
            return bytes(out), bytes(err), True
        except subprocess.TimeoutExpired:
            if remaining <= 0:
                return bytes(out), bytes(err), False
