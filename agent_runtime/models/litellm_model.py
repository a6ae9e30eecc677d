"""Any LiteLLM model id, with what constrains its replies on local backends, and a check that a
local server answers before a session starts."""

from __future__ import annotations

import json
import os
import urllib.error
from typing import Any

from agent_runtime.config import Settings
from agent_runtime.models.constraints import context_window, is_local, is_ollama
from agent_runtime.models.errors import ModelError
from agent_runtime.procs import http_get

PER_REQUEST = ("temperature", "max_tokens")  # settings one request may change (a retry, a fix)


def make_litellm_model(model_id: str, settings: Settings, api_base: str | None = None, api_key: str | None = None,
                       system_as_user: bool = False):
    from smolagents import LiteLLMModel
    from smolagents.models import tool_role_conversions

    from agent_runtime.smol import request_settings

    class LocalAwareModel(LiteLLMModel):
        """LiteLLMModel that sends a llama.cpp grammar or an Ollama JSON schema when given one.
        With a grammar, the grammar ends the reply, so stop sequences are dropped (a reply that
        mentions one would be cut short). A request may bring its own grammar: `grammar_for(kind)`
        (agent/codeagent.py grammar_chooser) answers for this model's constraint kind."""

        grammar: str | None = None
        json_schema: dict | None = None

        def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
            chooser = kwargs.pop("grammar_for", None)
            kind = getattr(getattr(self, "constraint", None), "kind", "none")
            chosen = chooser(kind) if chooser is not None else None
            grammar = self.grammar if chosen is None else chosen  # "": this request has none
            if grammar:
                extra = dict(kwargs.pop("extra_body", None) or {})
                extra["grammar"] = grammar
                kwargs["extra_body"] = extra
                stop_sequences = None
            if response_format is not None and self.json_schema is not None:
                response_format = {"type": "json_schema",
                                   "json_schema": {"name": "reply", "schema": self.json_schema, "strict": True}}
            # smolagents lets the model's own settings override what a request asks for, so a retry
            # "sampled warmer" went out at the default temperature: this request's values win.
            asked = {k: kwargs.pop(k) for k in PER_REQUEST if kwargs.get(k) is not None}
            native: dict = {}
            if is_ollama(self.model_id):
                kwargs["logger_fn"] = lambda details: native.update(ollama_durations(details))
            with request_settings(self, asked):
                message = super().generate(messages, stop_sequences=stop_sequences, response_format=response_format,
                                           tools_to_call_from=tools_to_call_from, **kwargs)
            if native and message.raw is not None:
                # LiteLLM keeps Ollama's counts but drops its durations: kept here for model_timings().
                message.raw.ollama_timings = native
            return message

    kwargs: dict[str, Any] = {
        "temperature": settings.model_temperature,
        "max_tokens": settings.model_max_tokens,
        "timeout": settings.model_timeout,
        "num_retries": 0,
    }
    if is_ollama(model_id):
        kwargs["num_ctx"] = context_window(settings, model_id, api_base)  # Ollama's default (2048) drops the prompt's start
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


def ollama_durations(details: dict) -> dict:
    """Ollama's own counts and durations from the raw answer LiteLLM logs (its `logger_fn` hook
    is called with the call's details, the raw answer under `original_response` once it came)."""
    from agent_runtime.models.timings import OLLAMA_FIELDS

    raw = details.get("original_response") if isinstance(details, dict) else None
    if not isinstance(raw, str) or not raw.lstrip().startswith("{"):
        return {}
    try:
        answer = json.loads(raw)
    except ValueError:
        return {}
    return {k: answer[k] for k in OLLAMA_FIELDS if isinstance(answer, dict) and k in answer}


# --- reachability ---


def ollama_base(api_base: str | None) -> str:
    return (api_base or os.environ.get("OLLAMA_API_BASE") or "http://localhost:11434").rstrip("/")


def check_reachable(model_id: str, api_base: str | None, api_key: str | None = None) -> None:
    """Raise ModelError with one line (endpoint, what to start) when a local server does not answer."""
    if is_ollama(model_id):
        base = ollama_base(api_base)
        name = model_id.split("/", 1)[1]
        try:
            tags = json.loads(http_get(f"{base}/api/tags"))
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
            http_get(f"{api_base.rstrip('/')}/models", headers=headers)
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


def check_routable(model_id: str, api_base: str | None) -> None:
    """Raise ModelError with one line when LiteLLM cannot tell which provider serves `model_id`:
    asked before the run, so the run does not start only to fail in step 1 in LiteLLM's words.
    LiteLLM's own routing decides (the ids it routes change with its versions)."""
    import litellm

    litellm.suppress_debug_info = True  # its "Provider List" banner is printed otherwise
    try:
        litellm.get_llm_provider(model=model_id, api_base=api_base)
    except Exception:  # noqa: BLE001 - litellm raises its own BadRequestError (and others) for an unroutable id
        raise ModelError(
            f"no provider for the model id {model_id!r}: an id names its provider, like "
            "`ollama_chat/qwen2.5-coder:7b`, `openai/NAME` (a server at OPENAI_API_BASE or MODEL_API_BASE), "
            "`embedded:1.5b`, or is a profile of the models file; see `agent-runtime models`"
        ) from None


def check_credentials(model_id: str, api_base: str | None, api_key: str | None) -> None:
    """Raise ModelError with one line when a hosted model has neither a server address nor its key:
    said before the run, not by LiteLLM at its first request after the tests ran."""
    if api_base or api_key or is_local(model_id, api_base):
        return
    missing = missing_key(model_id)
    if missing:
        raise ModelError(f"{model_id} is a hosted provider's model and {missing} is not set: set it (or "
                         "MODEL_API_KEY), or, for a server of your own, MODEL_API_BASE=http://HOST:PORT/v1")


def missing_key(model_id: str) -> str | None:
    """For a hosted model: the provider key that is not set, if any (no request is made)."""
    import litellm

    # An empty variable (`OPENAI_API_KEY=` copied from .env.example) is no key at all.
    empty = {k: v for k, v in os.environ.items() if not v.strip()}
    for name in empty:
        del os.environ[name]
    try:
        found = litellm.validate_environment(model=model_id)
    except Exception:  # noqa: BLE001 (a provider LiteLLM cannot check: no answer, not an error)
        return None
    finally:
        os.environ.update(empty)
    missing = found.get("missing_keys") or []
    return ", ".join(missing) if missing else None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    return str(reason).replace("[Errno 111] ", "")


def quiet_libraries(suppress_warnings: bool, uses_litellm: bool) -> None:
    """The libraries' logging as a session wants it: errors only. LiteLLM is imported only when the
    model uses it (recorded replies need none: its import is most of a start-up, seconds)."""
    import logging
    import warnings

    if suppress_warnings:
        warnings.filterwarnings("ignore")
    for name in ("LiteLLM", "litellm", "httpx", "httpcore", "urllib3", "smolagents"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if not uses_litellm:
        return
    import litellm

    litellm.suppress_debug_info = True
    litellm.drop_params = True  # parameters a provider does not take are left out, not an error
