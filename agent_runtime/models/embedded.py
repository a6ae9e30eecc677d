"""The embedded model: llama-cpp-python's OpenAI-compatible server on 127.0.0.1 and a free port,
on a verified GGUF (models/weights.py) or MODEL_GGUF, for the life of a session.

The server is ready when it has answered a one-token request (a build that crashes in
llama_decode, as ggml's AMX path does on some Xeons, fails here with the reason rather than on
the first task). It lives as long as the session, whichever thread starts it: it stops when
its stdin closes, which happens when this process ends however it ends (PR_SET_PDEATHSIG
would fire when the starting *thread* exits). Each instance writes its own log file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from agent_runtime.config import ConfigError, Settings, state_home
from agent_runtime.models import weights as catalog
from agent_runtime.models.errors import ModelError
from agent_runtime.procs import answers, describe_exit, free_port, log_tail, stop_group, wait_until

SERVER_START_TIMEOUT_S = 300


@dataclass(frozen=True)
class EmbeddedChoice:
    """What `embedded[:KEY]` or MODEL_GGUF resolves to."""

    label: str
    gguf: Path
    chat_format: str | None
    system_as_user: bool
    note: str | None = None  # said once at start-up (a fallback to a smaller model)


def resolve_embedded(settings: Settings, key: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> EmbeddedChoice:
    if settings.model_gguf:
        if not settings.model_gguf.is_file():
            raise ConfigError(f"MODEL_GGUF={settings.model_gguf} is not a file")
        return EmbeddedChoice(f"{settings.model_gguf.name} (embedded)", settings.model_gguf, None, False)
    weights, note = catalog.choose(key)
    return EmbeddedChoice(weights.label, catalog.locate(weights, progress), weights.chat_format,
                          weights.system_as_user, note)


def llama_missing() -> str:
    """Without llama-cpp-python (the plain install: `uv tool install .`, `pipx install .`) the embedded model
    cannot start: said in one line before anything runs, with both ways on (models/install.py's command)."""
    from agent_runtime.models.install import embedded_command

    return ("the embedded model needs llama-cpp-python, which this install (the plain one) leaves out: add it "
            f"and the model with `{embedded_command()}` (a C compiler and cmake build it), or pass --model with a "
            "model server (--model ollama_chat/qwen2.5-coder:7b, or --model openai/NAME with "
            "MODEL_API_BASE=http://HOST:PORT/v1)")


def embedded_installed() -> bool:
    """Is llama-cpp-python installed (the embedded route), without importing it."""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def require_llama_cpp() -> None:
    if not embedded_installed():
        raise ModelError(llama_missing())


def install_route() -> str:
    """Which install this is, for `agent-runtime doctor`."""
    from agent_runtime.models.install import embedded_command, kind

    if not embedded_installed():
        return (f"plain (no llama-cpp-python; a {kind()}): use --model with a model server or a hosted model; for "
                f"the embedded model: `{embedded_command()}`")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("llama-cpp-python")
    except PackageNotFoundError:
        found = "?"
    return (f"embedded (llama-cpp-python {found}; a {kind()}): the embedded model runs with no --model; --model "
            "works as well")


def cpu_features() -> str:
    """The llama.cpp build's CPU features line (AVX2, FMA, F16C, AMX...)."""
    try:
        import llama_cpp

        return llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    except Exception as exc:  # not installed, or a broken build: say so rather than fail  # noqa: BLE001
        return f"unavailable ({type(exc).__name__}: {exc})"


def crash_advice(returncode: int | None, log_path: Path) -> str:
    what = describe_exit(returncode)
    if returncode is not None and returncode < 0 and -returncode in (4, 7, 11):  # SIGILL, SIGBUS, SIGSEGV
        cause = ("usually a llama-cpp-python build with CPU instructions this machine handles badly (a "
                 "-march=native build uses ggml's AMX path, which crashes on some Xeons). Rebuild it portably: "
                 "make rebuild-llama")
    elif returncode == -9:
        cause = "the machine may have run out of memory: close other programs or use a smaller model (--model embedded:0.5b)"
    else:
        cause = "see the log"
    return f"the embedded model server crashed ({what}): {cause}. Log: {log_path} ({log_tail(log_path, 2)})"


class EmbeddedServer:
    """llama-cpp-python's server on 127.0.0.1, for the life of a session."""

    def __init__(self, gguf: Path, n_ctx: int, chat_format: str | None = None, prompt_lookup: bool = True,
                 seed: int | None = None):
        self.gguf = gguf
        self.n_ctx = n_ctx
        self.chat_format = chat_format
        self.prompt_lookup = prompt_lookup  # speculative decoding from prompt lookup (MODEL_PROMPT_LOOKUP)
        self.seed = seed  # every request sampled from this seed: one request, one reply (paired benchmarks)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.log_path = state_home() / "logs" / f"llama-server-{stamp}-{os.getpid()}-{self.port}.log"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        threads = str(os.cpu_count() or 2)  # the agent waits while the model runs: give it every core
        # llama_cpp.server with lazy grammar sampling and prompt lookup (see llama_server.py); logits
        # only where tokens are sampled (logits_all=false), which makes prompt processing ~2.5x faster.
        # -P: the current directory (the repository) is not on sys.path: its llama_cpp/ is not the library
        command = [sys.executable, "-P", "-m", "agent_runtime.models.llama_server", "--model", str(self.gguf),
                   "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--logits_all", "false",
                   "--n_threads", threads, "--n_threads_batch", threads,
                   "--prompt_lookup", "on" if self.prompt_lookup else "off"]
        if self.chat_format:
            command += ["--chat_format", self.chat_format]
        if self.seed is not None:
            command += ["--seed_each", str(self.seed)]
        with self.log_path.open("wb") as log:
            # stdin is a pipe that only we hold: when this process ends, the server sees EOF and exits.
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT_S, tick: Callable[[float], None] | None = None) -> None:
        assert self.proc is not None
        outcome = wait_until(lambda: answers(f"{self.api_base}/models"), self.proc, timeout, tick)
        if outcome is None:
            outcome = self._warm_up()
        if outcome == "exited":
            raise ModelError(crash_advice(self.proc.returncode, self.log_path))
        if outcome == "timeout":
            self.stop()
            raise ModelError(f"the embedded model server did not answer within {timeout:.0f}s; see {self.log_path}")

    def _warm_up(self) -> str | None:
        """One token through llama_decode: a build that cannot run fails now, with its reason."""
        body = json.dumps({"prompt": "def", "max_tokens": 1, "temperature": 0}).encode()
        request = urllib.request.Request(f"{self.api_base}/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=SERVER_START_TIMEOUT_S) as response:  # noqa: S310 (ours)
                response.read()
            return None
        except (urllib.error.URLError, OSError):
            assert self.proc is not None
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                return None  # it answered badly but lives: the first request will tell
            return "exited"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        stop_group(proc)
