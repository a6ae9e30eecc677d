"""Fallbacks between models: a connection error, a timeout or a 5xx answer moves the run on."""

from __future__ import annotations

from typing import Any, Callable

from agent_runtime.models.errors import retryable


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


