"""The replay model: the replies of a JSON file, in order, one per call (model output without a model).

smolagents is imported here at module level: only `ReplayKind.open` (and benchmarks) import this
module, when a session opens its model, so commands that never open one do not load it.
"""

from __future__ import annotations

import json
from pathlib import Path

from smolagents.models import ChatMessage, MessageRole, Model, TokenUsage

from agent_runtime.config import ConfigError
from agent_runtime.models.errors import ModelError


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


class ReplayModel(Model):
    """Returns the replies of a JSON file in order, one per call: model output without a model."""

    def __init__(self, replies: list[str], source: Path):
        super().__init__(model_id=f"replay:{source.name}")
        self.replies = replies
        self.source = source
        self.calls = 0
        self.requests: list[list] = []  # what it was sent, for tests and for debugging a replay
        self.temperatures: list[float | None] = []  # the temperature each request asked for

    def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
        if self.calls >= len(self.replies):
            raise ModelError(
                f"the replay file {self.source} has {len(self.replies)} replies and the agent asked for "
                f"reply {self.calls + 1}"
            )
        self.requests.append(list(messages))
        self.temperatures.append(kwargs.get("temperature"))
        text = self.replies[self.calls]
        self.calls += 1
        for stop in stop_sequences or ():
            if stop in text:  # as a server would: stop before the stop sequence
                text = text[: text.index(stop)]
        return ChatMessage(role=MessageRole.ASSISTANT, content=text, token_usage=TokenUsage(0, 0))


def make_replay_model(path: Path) -> ReplayModel:
    return ReplayModel(load_replay(path), Path(path))
