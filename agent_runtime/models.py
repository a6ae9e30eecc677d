"""Models: any LiteLLM id, the replay model, fallbacks between models, and what constrains a
model's replies on each backend.

Constraints (GRAMMAR): llama.cpp servers take a GBNF grammar (the tool-call grammar, or the
Python one); Ollama takes a JSON schema through LiteLLM's `format` ({thought, code}, the code
held to a regular expression of tool calls); hosted models take nothing, and a reply of theirs
that does not parse gets one retry with a reminder of the format.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .config import ConfigError, Settings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # nothing is fetched from the internet

DEFAULT_LOCAL_WINDOW = 16384


class ModelError(RuntimeError):
    """The model cannot be used; the message is one line saying what to do."""


# --- which backend, which constraint ---


def is_ollama(model_id: str) -> bool:
    return model_id.startswith(("ollama/", "ollama_chat/"))


def is_local(model_id: str | None, api_base: str | None) -> bool:
    return model_id is None or is_ollama(model_id) or bool(
        api_base and any(host in api_base for host in ("127.0.0.1", "localhost", "0.0.0.0", "[::1]")))


@dataclass(frozen=True)
class Constraint:
    """How replies are held to the format. kind: "gbnf-tools", "gbnf-python", "schema-tools",
    "schema", or "none". reply_format: "text" (Thought + <code>) or "json" ({thought, code})."""

    kind: str
    reply_format: str = "text"

    @property
    def guaranteed(self) -> bool:
        """A reply under this constraint always parses (no retry needed)."""
        return self.kind == "gbnf-tools"


def choose_constraint(setting: str, model_id: str | None, api_base: str | None, reply_format: str | None = None) -> Constraint:
    """GRAMMAR (auto/tools/python/off) for one model. model_id None = the embedded llama.cpp server."""
    embedded = model_id is None
    ollama = model_id is not None and is_ollama(model_id)
    llama_server = embedded or (model_id is not None and model_id.startswith("openai/") and api_base is not None)
    if reply_format is None:
        reply_format = "json" if ollama and setting != "off" else "text"
    if setting == "off":
        return Constraint("none", reply_format)
    if reply_format == "json":
        if ollama:
            return Constraint("schema-tools" if setting in ("auto", "tools") else "schema", "json")
        return Constraint("schema" if setting != "auto" or not is_local(model_id, api_base) else "none", "json")
    if embedded:
        return Constraint("gbnf-python" if setting == "python" else "gbnf-tools")
    if setting == "auto":
        return Constraint("none")  # an OpenAI-compatible server of unknown kind, or a hosted model
    if llama_server:
        return Constraint("gbnf-python" if setting == "python" else "gbnf-tools")
    raise ConfigError(f"GRAMMAR={setting} needs a llama.cpp server (MODEL_ID=openai/..., MODEL_API_BASE) or Ollama; "
                      f"{model_id} is neither: set GRAMMAR=auto or off")


def context_window(settings: Settings, model_id: str | None, api_base: str | None = None) -> int:
    """MODEL_CONTEXT_WINDOW when set; else 16384 for local models, the provider's window for hosted
    ones. api_base: the model's own address (MODEL_API_BASE belongs to MODEL_ID only)."""
    if settings.model_context_window:
        return settings.model_context_window
    if is_local(model_id, api_base):
        return DEFAULT_LOCAL_WINDOW
    try:
        import litellm

        return int(litellm.get_model_info(model_id).get("max_input_tokens") or DEFAULT_LOCAL_WINDOW)
    except Exception:  # unknown to LiteLLM's local cost map
        return DEFAULT_LOCAL_WINDOW


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
        """Returns the replies of a JSON file in order, one per call: model output without a model."""

        def __init__(self, replies: list[str], source: Path):
            super().__init__(model_id=f"replay:{source.name}")
            self.replies = replies
            self.source = source
            self.calls = 0
            self.requests: list[list] = []  # what it was sent, for tests and for debugging a replay

        def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
            if self.calls >= len(self.replies):
                raise ModelError(
                    f"the replay file {self.source} has {len(self.replies)} replies and the agent asked for "
                    f"reply {self.calls + 1}"
                )
            self.requests.append(list(messages))
            text = self.replies[self.calls]
            self.calls += 1
            for stop in stop_sequences or ():
                if stop in text:  # as a server would: stop before the stop sequence
                    text = text[: text.index(stop)]
            return ChatMessage(role=MessageRole.ASSISTANT, content=text, token_usage=TokenUsage(0, 0))

    return ReplayModel(load_replay(path), Path(path))


# --- LiteLLM ---


def make_litellm_model(model_id: str, settings: Settings, api_base: str | None = None, api_key: str | None = None,
                       system_as_user: bool = False, window: int | None = None):
    from smolagents import LiteLLMModel
    from smolagents.models import tool_role_conversions

    class LocalAwareModel(LiteLLMModel):
        """LiteLLMModel that sends a llama.cpp grammar or an Ollama JSON schema when given one.
        With a grammar, the grammar ends the reply, so stop sequences are dropped (a reply that
        mentions one would be cut short)."""

        grammar: str | None = None
        json_schema: dict | None = None

        def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
            if self.grammar:
                extra = dict(kwargs.pop("extra_body", None) or {})
                extra["grammar"] = self.grammar
                kwargs["extra_body"] = extra
                stop_sequences = None
            if response_format is not None and self.json_schema is not None:
                response_format = {"type": "json_schema",
                                   "json_schema": {"name": "reply", "schema": self.json_schema, "strict": True}}
            return super().generate(messages, stop_sequences=stop_sequences, response_format=response_format,
                                    tools_to_call_from=tools_to_call_from, **kwargs)

    kwargs: dict[str, Any] = {
        "temperature": settings.model_temperature,
        "max_tokens": settings.model_max_tokens,
        "timeout": settings.model_timeout,
        "num_retries": 0,
    }
    if is_ollama(model_id):
        kwargs["num_ctx"] = window or context_window(settings, model_id, api_base)  # Ollama's default (2048) drops the prompt's start
    return LocalAwareModel(
        model_id=model_id,
        api_base=api_base,
        api_key=api_key or ("sk-local" if api_base and is_local(model_id, api_base) else None),
        flatten_messages_as_text=True,  # llama.cpp's server rejects content given as a list of parts
        # Replaces smolagents' default role mapping, so that one is kept and extended: Gemma's
        # chat format silently drops system messages, so the instructions go in as user text.
        custom_role_conversions={**tool_role_conversions, "system": "user"} if system_as_user else None,
        **kwargs,
    )


# --- fallbacks ---

RETRYABLE = ("APIConnectionError", "Timeout", "ServiceUnavailableError", "InternalServerError", "BadGatewayError",
             "ConnectionError", "ConnectError", "ReadTimeout")


def retryable(exc: BaseException) -> bool:
    """Connection errors, timeouts and 5xx answers move a run to the next model; others do not."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for err in chain:
        if type(err).__name__ in RETRYABLE:
            return True
        status = getattr(err, "status_code", None)
        if isinstance(status, int) and status >= 500:
            return True
    return False


def make_fallback_model(models: list[tuple[str, Any]], on_switch: Callable[[str, str, str], None]):
    """A model that moves to the next of `models` (label, model) when one is unreachable."""
    from smolagents.models import Model

    class FallbackModel(Model):
        def __init__(self) -> None:
            super().__init__(model_id=models[0][0])
            self.chain = models
            self.index = 0

        @property
        def current(self) -> Any:
            return self.chain[self.index][1]

        def generate(self, messages, **kwargs):
            while True:
                try:
                    return self.current.generate(messages, **kwargs)
                except Exception as exc:
                    if not retryable(exc) or self.index + 1 >= len(self.chain):
                        raise
                    before = self.chain[self.index][0]
                    self.index += 1
                    self.model_id = self.chain[self.index][0]
                    on_switch(before, self.model_id, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")

    return FallbackModel()


# --- reachability ---


def _get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (a URL the user configured)
        return response.read()


def ollama_base(api_base: str | None) -> str:
    return (api_base or os.environ.get("OLLAMA_API_BASE") or "http://localhost:11434").rstrip("/")


def check_reachable(model_id: str, api_base: str | None, api_key: str | None = None) -> None:
    """Raise ModelError with one line (endpoint, what to start) when a local server does not answer."""
    if is_ollama(model_id):
        base = ollama_base(api_base)
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


def missing_key(model_id: str) -> str | None:
    """For a hosted model: the provider key that is not set, if any (no request is made)."""
    import litellm

    # An empty variable (`OPENAI_API_KEY=` copied from .env.example) is no key at all.
    empty = {k: v for k, v in os.environ.items() if not v.strip()}
    for name in empty:
        del os.environ[name]
    try:
        found = litellm.validate_environment(model=model_id)
    except Exception:
        return None
    finally:
        os.environ.update(empty)
    missing = found.get("missing_keys") or []
    return ", ".join(missing) if missing else None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    return str(reason).replace("[Errno 111] ", "")
