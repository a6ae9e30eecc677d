"""Fallbacks between models: a connection error, a timeout or a 5xx answer moves the run on.

smolagents is imported here at module level: only `LiteLLMKind.open` imports this module, when a
session opens its model, so commands that never open one (`policy check`) do not load it.
"""

from __future__ import annotations

from typing import Any, Callable

from smolagents.models import Model

from agent_runtime.models.errors import retryable


class FallbackModel(Model):
    """A model that moves to the next of `chain` (label, model) when one is unreachable."""

    def __init__(self, chain: list[tuple[str, Any]], on_switch: Callable[[str, str, str], None]) -> None:
        super().__init__(model_id=chain[0][0])
        self.chain = chain
        self.on_switch = on_switch
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
                self.on_switch(before, self.model_id, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def make_fallback_model(models: list[tuple[str, Any]], on_switch: Callable[[str, str, str], None]) -> FallbackModel:
    """A model that moves to the next of `models` (label, model) when one is unreachable."""
    return FallbackModel(models, on_switch)
