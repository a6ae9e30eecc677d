"""Aider and mini-swe-agent as eval-runner attempts: the same tasks, the same model server, the
same reply cap (max_tokens) as agent_runtime, each peer as it ships, from its own virtualenv.

    aider           `aider --message PROMPT --yes-always --auto-test --test-cmd CHECK`, no files
                    named (its repo map and the files the prompt mentions find them), its edit
                    format its own choice for the model, commits off (the diff stays in the tree).
    mini_swe_agent  `mini` with its text-based config (mini_textbased.yaml: one bash block a reply),
                    yolo and no exit confirmation, a step limit and the task's time.

Each runs from a virtualenv under ~/.cache/agent-runtime/peers/ (uv, Python 3.11, pinned by
benchmarks/peers/PACKAGE.lock), made on first use; neither is a dependency of agent_runtime.

Neither peer has a sandbox: the commands they run (aider: the task's check; mini: whatever the
model writes) run on this machine as this user, outside agent_runtime's sandbox, as they ship.
Their own settings files (~/.aider*, mini's global .env) are kept out: HOME is a scratch directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from agent_runtime.eval.repo import python_bin_dir
from agent_runtime.eval.runner import EvalOptions, supervise
from agent_runtime.eval.suite import Task

LOCKS = Path(__file__).resolve().parent / "peers"
PYTHON = "3.11"
READY = ".agent-runtime-ready"  # written last: a venv without it is half made and made again


class PeerError(RuntimeError):
    """A peer cannot be set up; the message says why and what to do."""


@dataclass(frozen=True)
class Peer:
    package: str
    version: str
    executable: str

    @property
    def lock(self) -> Path:
        return LOCKS / f"{self.package}.lock"


AIDER = Peer("aider-chat", "0.86.2", "aider")
MINI = Peer("mini-swe-agent", "2.4.6", "mini")


SYSTEMS = {"aider": AIDER, "mini_swe_agent": MINI}


def peers_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-runtime" / "peers"


def _uv() -> list[str]:
    """uv on PATH, or as a module of this Python or of python3 (where the Makefile installs it)."""
    found = shutil.which("uv")
    if found:
        return [found]
    for python in (sys.executable, shutil.which("python3")):
        if python and subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0:
            return [python, "-m", "uv"]
    raise PeerError("uv is needed to make the peers' virtualenvs: pip install uv")


def ensure_venv(peer: Peer, say: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> Path:
    """The peer's executable, its virtualenv made first if it is missing or its lock changed."""
    venv = peers_home() / f"{peer.package}-{peer.version}"
    executable = venv / "bin" / peer.executable
    stamp = hashlib.sha256(peer.lock.read_bytes() + b"\0with bytecode").hexdigest()  # how it was made, too
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # two benchmark runs starting at once make it once
        ready = venv / READY
        if ready.is_file() and ready.read_text().strip() == stamp and executable.is_file():
            return executable
        say(f"Making the {peer.package} {peer.version} virtualenv in {venv} (first use: 20 s to a minute)…")
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        for argv in (["venv", "-q", "--python", PYTHON, str(venv)],
                     # with bytecode: where PYTHONDONTWRITEBYTECODE is set, each run would compile LiteLLM anew
                     ["pip", "install", "-q", "--compile-bytecode", "--python", str(venv / "bin" / "python"),
                      "-r", str(peer.lock)]):
            done = subprocess.run([*_uv(), *argv], capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise PeerError(f"could not make the {peer.package} virtualenv (uv {argv[0]}: {detail})")
        if not executable.is_file():
            raise PeerError(f"{peer.package} installed no {peer.executable} in {venv}")
        ready.write_text(stamp + "\n")
        say(f"Made the {peer.package} virtualenv in {time.monotonic() - started:.0f} s")
    return executable


@dataclass(frozen=True)
class Endpoint:
    """The model every system talks to, and the cap on each reply."""

    model: str  # a LiteLLM id: openai/embedded for the embedded server
    api_base: str | None
    api_key: str | None
    max_tokens: int
    window: int | None = None  # the server's context window, when we know it (a local server)


def peer_env(scratch: Path, extra: dict[str, str]) -> dict[str, str]:
    """The peer's environment: `python` is the runner's (as for the check), its home a scratch
    directory, nothing of ours on its import path."""
    home = scratch / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PATH=f"{python_bin_dir(scratch.parent)}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
               HOME=str(home), PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONUNBUFFERED="1",
               LITELLM_LOCAL_MODEL_COST_MAP="True", **extra)  # LiteLLM fetches its price list at import otherwise
    return env


class Tail:
    """The last lines of a process's output, all of it copied to a log file."""

    def __init__(self, log: Path, keep: int = 400):
        self.lines: deque[str] = deque(maxlen=keep)
        self.log = log.open("w", encoding="utf-8", buffering=1)  # line by line: readable while it runs

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.log.write(line)

    def text(self) -> str:
        self.log.close()
        return "".join(self.lines)


def task_test_command(task: Task) -> str:
    """The command that runs the task's tests: a SWE-bench-shaped instance's own test command (its
    `check` only describes the judged tests), else the task's check."""
    return getattr(task, "test_cmd", None) or task.check


# --- Aider -------------------------------------------------------------------------------------

def aider_files(endpoint: Endpoint, scratch: Path) -> dict[str, Path]:
    """Aider's model settings (its `aider/extra_params` entry adds to whatever settings aider picks
    for the model, so the edit format stays its own) and, for a local server, its metadata (the
    window; no price list fetched). JSON is YAML, so the settings file is written as JSON."""
    extra: dict[str, Any] = {"max_tokens": endpoint.max_tokens}
    if endpoint.api_base and not endpoint.model.startswith("openai/"):
        extra["api_base"] = endpoint.api_base  # openai/ models take OPENAI_API_BASE instead
    files = {"settings": scratch / "aider.model.settings.yml", "analytics": scratch / "aider.analytics.jsonl"}
    files["settings"].write_text(json.dumps([{"name": "aider/extra_params", "extra_params": extra}], indent=2) + "\n")
    if endpoint.api_base:
        files["metadata"] = scratch / "aider.model.metadata.json"
        provider = endpoint.model.split("/", 1)[0]
        files["metadata"].write_text(json.dumps({endpoint.model: {
            "max_input_tokens": endpoint.window or 16384, "max_output_tokens": endpoint.max_tokens,
            "max_tokens": endpoint.max_tokens, "input_cost_per_token": 0, "output_cost_per_token": 0,
            "litellm_provider": provider, "mode": "chat"}}, indent=2) + "\n")
    return files


def aider_argv(executable: Path, endpoint: Endpoint, task: Task, files: dict[str, Path], scratch: Path) -> list[str]:
    argv = [str(executable), "--model", endpoint.model, "--model-settings-file", str(files["settings"])]
    if "metadata" in files:
        argv += ["--model-metadata-file", str(files["metadata"])]
    return argv + [
        "--message", task.prompt,
        "--yes-always",  # add the files it asks for, fix failing tests; shell commands it suggests stay unrun
        "--auto-test", "--test-cmd", task_test_command(task),
        "--no-auto-commits", "--no-dirty-commits",  # the task's commit stays HEAD; the fix is the working tree
        "--no-gitignore",  # it would add .aider* to the task's .gitignore
        "--no-stream",  # the server's own token counts in each reply
        "--no-analytics", "--analytics-log", str(files["analytics"]),  # its events, to this file only
        "--no-check-update", "--no-show-release-notes", "--no-show-model-warnings", "--no-detect-urls",
        "--no-pretty", "--no-fancy-input", "--no-notifications",
        "--input-history-file", str(scratch / "aider.input.history"),
        "--chat-history-file", str(scratch / "aider.chat.history.md"),
    ]


def parse_aider(analytics: str, output: str) -> dict[str, Any]:
    """Facts from aider's analytics log (one `message_send` event per model call, with the
    server's token counts) and its console output (edits applied, failing test runs fed back to
    the model, whether it hit its limit of 3 reflections)."""
    events = []
    for line in analytics.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by the kill
    sends = [e.get("properties", {}) for e in events if e.get("event") == "message_send"]
    ended = next((e["properties"].get("reason") for e in reversed(events) if e.get("event") == "exit"), None)
    edits = re.findall(r"^Applied edit to (.+)$", output, re.M)
    return {
        "steps": len(sends),
        "tokens_in": sum(int(s.get("prompt_tokens") or 0) for s in sends),
        "tokens_out": sum(int(s.get("completion_tokens") or 0) for s in sends),
        "edit_format": next((s.get("edit_format") for s in sends if s.get("edit_format")), None),
        "files_edited": sorted(set(edits)),
        "edits_applied": len(edits),
        "failed_test_runs": len(re.findall(r"^Added \d+ lines? of output to the chat\.$", output, re.M)),
        "reflection_limit": "reflections allowed, stopping" in output,
        "model_errors": len(re.findall(r"^litellm\.\w+Error", output, re.M)),
        "exit_reason": ended,
    }


def _aider_status(facts: dict[str, Any], exit_code: int | None, timed_out: bool) -> str:
    if timed_out:
        return "timeout"
    if exit_code != 0:
        return "crashed"
    if facts["exit_reason"] != "Completed --message":
        return "stopped"
    return "reflection_limit" if facts["reflection_limit"] else "answered"


def aider_attempt(endpoint: Endpoint):
    executable = ensure_venv(AIDER)

    def attempt(task: Task, repo: Path, options: EvalOptions, timeout: float) -> dict[str, Any]:
        scratch = repo.parent / "aider"
        scratch.mkdir(exist_ok=True)
        files = aider_files(endpoint, scratch)
        extra = {"OPENAI_API_KEY": endpoint.api_key or "sk-local"}
        if endpoint.api_base and endpoint.model.startswith("openai/"):
            extra["OPENAI_API_BASE"] = endpoint.api_base
        output = Tail(scratch / "aider.out")
        before = set(repo.glob(".aider*"))
        started = time.monotonic()
        done = supervise(aider_argv(executable, endpoint, task, files, scratch), repo, peer_env(scratch, extra),
                         timeout, output)
        text = output.text()
        for own in set(repo.glob(".aider*")) - before:  # its repo-map cache: not part of its answer (or diff)
            shutil.rmtree(own) if own.is_dir() and not own.is_symlink() else own.unlink()
        analytics = files["analytics"].read_text(encoding="utf-8", errors="replace") if files["analytics"].is_file() else ""
        facts = parse_aider(analytics, text)
        facts.update(status=_aider_status(facts, done.exit_code, done.timed_out), exit_code=done.exit_code,
                     agent_s=round(time.monotonic() - started, 2))
        if facts["status"] in ("crashed", "stopped", "timeout"):
            facts["error"] = (done.stderr_tail.strip() or text.strip()).splitlines()[-1:] or None
        return facts

    return attempt


# --- mini-swe-agent ----------------------------------------------------------------------------

def mini_config(endpoint: Endpoint, step_limit: int, timeout: float) -> dict[str, Any]:
    """Merged over mini_textbased.yaml: the model and its cap, no cost accounting (a local model
    has no price), the step limit and the task's time."""
    kwargs: dict[str, Any] = {"max_tokens": endpoint.max_tokens}
    if endpoint.api_base:
        kwargs.update(api_base=endpoint.api_base, api_key=endpoint.api_key or "sk-local")
    return {
        "agent": {"step_limit": step_limit, "wall_time_limit_seconds": int(timeout)},
        "model": {"model_kwargs": kwargs, "cost_tracking": "ignore_errors"},
    }


def mini_textbased(executable: Path) -> Path:
    """mini's own text-based config, by its full path: a bare name is looked up in the task's
    repository first."""
    found = sorted(executable.parent.parent.glob("lib/python3*/site-packages/minisweagent/config/mini_textbased.yaml"))
    if not found:
        raise PeerError(f"no mini_textbased.yaml in {executable.parent.parent}")
    return found[0]


def mini_argv(executable: Path, endpoint: Endpoint, task: Task, config: Path, trajectory: Path) -> list[str]:
    return [str(executable), "--model", endpoint.model, "--model-class", "litellm_textbased",
            "--config", str(mini_textbased(executable)), "--config", str(config),
            "--yolo", "--exit-immediately", "--cost-limit", "0",
            "--output", str(trajectory), "--task", task.prompt]


MINI_STATUS = {"Submitted": "answered", "LimitsExceeded": "step_limit", "TimeExceeded": "timeout",
               "RepeatedFormatError": "format_errors"}


def parse_mini(trajectory: dict[str, Any]) -> dict[str, Any]:
    """Facts from mini's trajectory file (saved after every step): its model calls, the server's
    token counts in each saved response, replies without exactly one bash block, why it ended."""
    info = trajectory.get("info", {})
    messages = trajectory.get("messages", [])
    # One saved response per reply the model gave (a reply without exactly one bash block too);
    # api_calls also counts a call the timeout cut short.
    usage = [m.get("extra", {}).get("response", {}).get("usage") or {} for m in messages
             if isinstance(m.get("extra", {}).get("response"), dict)]
    exit_status = info.get("exit_status") or ""
    return {
        "steps": len(usage),
        "api_calls": info.get("model_stats", {}).get("api_calls", 0),
        "tokens_in": sum(u.get("prompt_tokens") or 0 for u in usage),
        "tokens_out": sum(u.get("completion_tokens") or 0 for u in usage),
        "parse_failures": sum(1 for m in messages if m.get("extra", {}).get("interrupt_type") == "FormatError"),
        "commands": sum(1 for m in messages if m.get("role") == "assistant" and m.get("extra", {}).get("actions")),
        "exit_status": exit_status,
        "status": MINI_STATUS.get(exit_status, f"error: {exit_status}" if exit_status else "unknown"),
    }


def mini_attempt(endpoint: Endpoint, step_limit: int):
    executable = ensure_venv(MINI)

    def attempt(task: Task, repo: Path, options: EvalOptions, timeout: float) -> dict[str, Any]:
        scratch = repo.parent / "mini"
        scratch.mkdir(exist_ok=True)
        config = scratch / "mini.agent-runtime.yaml"  # mini finds config files by their .yaml suffix
        config.write_text(json.dumps(mini_config(endpoint, step_limit, timeout), indent=2) + "\n")
        trajectory = scratch / "trajectory.json"
        extra = {"MSWEA_CONFIGURED": "true",  # no first-run set-up questions
                 "MSWEA_GLOBAL_CONFIG_DIR": str(scratch / "config"), "MSWEA_COST_TRACKING": "ignore_errors"}
        output = Tail(scratch / "mini.out")
        started = time.monotonic()
        done = supervise(mini_argv(executable, endpoint, task, config, trajectory), repo, peer_env(scratch, extra),
                         timeout, output)
        text = output.text()
        try:
            facts = parse_mini(json.loads(trajectory.read_text(encoding="utf-8")))
        except (OSError, ValueError):  # killed before its first step was saved, or while saving
            facts = {"steps": 0, "status": "unknown"}
        if done.timed_out:
            facts["status"] = "timeout"
        elif done.exit_code != 0 and facts["status"] in ("unknown", "answered"):
            facts["status"] = "crashed"
        facts.update(exit_code=done.exit_code, agent_s=round(time.monotonic() - started, 2))
        if facts["status"] not in ("answered", "step_limit"):
            facts["error"] = (done.stderr_tail.strip() or text.strip()).splitlines()[-1:] or None
        return facts

    return attempt
