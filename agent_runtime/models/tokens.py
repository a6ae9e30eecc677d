"""Counting a model's tokens, as exactly as the backend allows (for the context budget)."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from typing import Callable, Protocol


class TokenCounter(Protocol):
    def __call__(self, text: str) -> int: ...


class CachedCounter:
    """Counts each distinct text once: the messages of earlier steps are counted again every step."""

    def __init__(self, count: Callable[[str], int]):
        self._count = count
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        key = hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
        if key not in self._cache:
            self._cache[key] = self._count(text)
        return self._cache[key]


def llama_server_counter(api_base: str, timeout: float = 10) -> CachedCounter:
    """Exact counts from the llama.cpp server's own tokenizer (/extras/tokenize/count). The server
    answers one request at a time: while it still generates for a reply nobody waits for any more
    (a step stopped by Ctrl-C or a timeout), a count would wait too. Then the high estimate is
    used for that text instead of failing the step."""
    root = api_base.rstrip("/").removesuffix("/v1")
    estimate = estimate_counter()

    def count(text: str) -> int:
        request = urllib.request.Request(f"{root}/extras/tokenize/count", data=json.dumps({"input": text}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (our own server)
                return int(json.loads(response.read())["count"])
        except (OSError, ValueError, KeyError):  # busy, gone, or an answer we cannot read
            return estimate(text)

    return CachedCounter(count)


def litellm_counter(model_id: str) -> CachedCounter:
    """LiteLLM's offline tokenizers: exact for OpenAI models, an approximation for others."""
    import litellm

    return CachedCounter(lambda text: litellm.token_counter(model=model_id, text=text))


def estimate_counter() -> CachedCounter:
    """A deliberately high estimate (3 bytes per token) when no tokenizer is at hand."""
    return CachedCounter(lambda text: len(text.encode("utf-8", "surrogateescape")) // 3 + 1)


