"""A model call's own timings, as its server measured them: prompt tokens evaluated and reused
from the server's cache, prompt processing time, tokens generated, generation time, tokens
drafted and accepted by speculative decoding.

The one way to read them on the agent's side is `model_timings(chat_message)`, for the
smolagents ChatMessage a model returned. What a backend does not report is None: unknown,
never estimated. Sources:
- the embedded server and llama.cpp's llama-server: a top-level `timings` object in the answer
  (cache_n, prompt_n, prompt_ms, predicted_n, predicted_ms, draft_n, draft_n_accepted), which
  LiteLLM keeps as an attribute of its response (ChatMessage.raw);
- Ollama (`ollama_chat/...`): its native prompt_eval_count, prompt_eval_duration, eval_count and
  eval_duration (nanoseconds). LiteLLM drops them from its response, so the model reads them from
  the raw answer (litellm_model.py) and keeps them on ChatMessage.raw as `ollama_timings`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class ModelTimings:
    source: str  # "llama.cpp" or "ollama"
    prompt_tokens: int | None  # the prompt's length
    prompt_evaluated: int | None  # of which evaluated for this call
    prompt_cached: int | None  # of which reused from the server's (KV) cache
    prompt_ms: float | None
    generated_tokens: int | None
    generation_ms: float | None
    drafted: int | None = None  # speculative decoding: tokens proposed
    accepted: int | None = None  # of which the model emitted

    @property
    def prompt_per_second(self) -> float | None:
        return _rate(self.prompt_evaluated, self.prompt_ms)

    @property
    def generation_per_second(self) -> float | None:
        return _rate(self.generated_tokens, self.generation_ms)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "prompt_per_second": self.prompt_per_second,
                "generation_per_second": self.generation_per_second}

    def server_json(self) -> dict[str, Any]:
        """llama.cpp's server's `timings` object (the draft counts only when speculation was on)."""
        out: dict[str, Any] = {
            "cache_n": self.prompt_cached,
            "prompt_n": self.prompt_evaluated,
            "prompt_ms": self.prompt_ms,
            "prompt_per_token_ms": _per_token(self.prompt_ms, self.prompt_evaluated),
            "prompt_per_second": self.prompt_per_second,
            "predicted_n": self.generated_tokens,
            "predicted_ms": self.generation_ms,
            "predicted_per_token_ms": _per_token(self.generation_ms, self.generated_tokens),
            "predicted_per_second": self.generation_per_second,
        }
        if self.drafted is not None:
            out["draft_n"], out["draft_n_accepted"] = self.drafted, self.accepted
        return out

    def log_line(self) -> str:
        def rate(value: float | None) -> str:
            return "?" if value is None else f"{value:.1f}"

        line = (f"timings: prompt {self.prompt_tokens} tokens ({self.prompt_evaluated} evaluated, "
                f"{self.prompt_cached} cached) {self.prompt_ms or 0:.0f} ms ({rate(self.prompt_per_second)} t/s); "
                f"generated {self.generated_tokens} tokens {self.generation_ms or 0:.0f} ms "
                f"({rate(self.generation_per_second)} t/s)")
        if self.drafted is not None:
            line += f"; drafted {self.drafted}, accepted {self.accepted}"
        return line


def _rate(tokens: int | None, ms: float | None) -> float | None:
    return round(tokens * 1000.0 / ms, 2) if tokens and ms else None


def _per_token(ms: float | None, tokens: int | None) -> float | None:
    return round(ms / tokens, 3) if tokens and ms is not None else None


class RequestClock:
    """The embedded server's account of one generate() call (llama_server.py drives it)."""

    def __init__(self, prompt_tokens: int):
        self.prompt_tokens = prompt_tokens
        self.started = time.perf_counter()
        self.cached: int | None = None  # KV positions kept when the prompt's evaluation began
        self.prompt_evaluated = 0
        self.generating = False  # a token has been sampled: evaluations from now on are generation
        self.first_token: float | None = None
        self.generated = 0

    def evaluated(self, count: int, past: int) -> None:
        if not self.generating:
            if self.cached is None:
                self.cached = past
            self.prompt_evaluated += count

    def emitted(self, end_of_generation: bool) -> None:
        if not self.generating:
            self.generating, self.first_token = True, time.perf_counter()
        if not end_of_generation:  # (an end-of-generation token is not part of the reply)
            self.generated += 1

    def finish(self, drafted: int | None, accepted: int | None) -> ModelTimings:
        now = time.perf_counter()
        first = self.first_token or now
        return ModelTimings("llama.cpp", self.prompt_tokens, self.prompt_evaluated, self.cached or 0,
                            round((first - self.started) * 1000, 2), self.generated, round((now - first) * 1000, 2),
                            drafted, accepted)


# --- the agent's side ---


def from_llama_cpp(timings: Mapping[str, Any], prompt_tokens: int | None = None) -> ModelTimings:
    """llama.cpp's server's `timings` (ours, or llama-server's; cache_n is absent in older ones)."""
    evaluated, cached = _int(timings.get("prompt_n")), _int(timings.get("cache_n"))
    if prompt_tokens is None and evaluated is not None and cached is not None:
        prompt_tokens = evaluated + cached
    return ModelTimings("llama.cpp", prompt_tokens, evaluated, cached, _float(timings.get("prompt_ms")),
                        _int(timings.get("predicted_n")), _float(timings.get("predicted_ms")),
                        _int(timings.get("draft_n")), _int(timings.get("draft_n_accepted")))


def from_ollama(answer: Mapping[str, Any]) -> ModelTimings:
    """Ollama's native counts and durations (ns). It does not say how much of the prompt its cache
    held: prompt_cached is unknown, and prompt_eval_count is what it evaluated."""

    def ms(key: str) -> float | None:
        value = _float(answer.get(key))
        return None if value is None else value / 1e6

    return ModelTimings("ollama", None, _int(answer.get("prompt_eval_count")), None, ms("prompt_eval_duration"),
                        _int(answer.get("eval_count")), ms("eval_duration"))


OLLAMA_FIELDS = ("prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration")


def model_timings(message: Any) -> ModelTimings | None:
    """The server's timings of the call that produced this smolagents ChatMessage, or None when
    its backend reported none (a hosted provider, vLLM, a replayed reply)."""
    raw = getattr(message, "raw", None)
    if raw is None:
        return None
    timings = _field(raw, "timings")
    if isinstance(timings, Mapping):
        usage = _field(raw, "usage")
        return from_llama_cpp(timings, _int(_field(usage, "prompt_tokens")) if usage is not None else None)
    ollama = _field(raw, "ollama_timings")
    if isinstance(ollama, Mapping) and any(ollama.get(k) is not None for k in OLLAMA_FIELDS):
        return from_ollama(ollama)
    return None


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
