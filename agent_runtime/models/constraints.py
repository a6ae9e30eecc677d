"""Which backend a model id is, its context window, and how its replies are constrained.

Constraints (GRAMMAR): llama.cpp servers take a GBNF grammar (the tool-call grammar, or the
Python one); Ollama takes a JSON schema through LiteLLM's `format` ({thought, code}, the code
held to a regular expression of tool calls); hosted models take nothing, and a reply of theirs
that does not parse gets one retry with a reminder of the format.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_runtime.config import ConfigError, Settings

DEFAULT_LOCAL_WINDOW = 16384


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
        # An instruct model writes real code (patches of many lines, variables): the Python grammar
        # keeps every reply parseable without cutting its strings short.
        return Constraint("gbnf-tools" if setting == "tools" else "gbnf-python")
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
    except Exception:  # noqa: BLE001 (unknown to LiteLLM's local cost map, whatever it raises)
        return DEFAULT_LOCAL_WINDOW


