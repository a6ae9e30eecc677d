"""Step 6 of a tool call: the session's history of calls, and loop detection.

Small models repeat themselves. The third identical call in a row (same tool, same
arguments) is not run; the model is told so and asked to change approach.
"""

from __future__ import annotations

import json
from typing import Any

from agent_runtime.core import CallRecord

REPEAT_LIMIT = 3


def call_key(tool: str, arguments: dict[str, Any]) -> str:
    return tool + json.dumps(arguments, sort_keys=True, default=str)


class SessionState:
    def __init__(self) -> None:
        self.history: list[CallRecord] = []
        self._last_key: str | None = None
        self._repeats = 0

    def is_repeat(self, tool: str, arguments: dict[str, Any]) -> bool:
        """True when this call would be the REPEAT_LIMIT-th identical call in a row."""
        key = call_key(tool, arguments)
        return key == self._last_key and self._repeats + 1 >= REPEAT_LIMIT

    def record(self, record: CallRecord) -> None:
        key = call_key(record.tool, record.arguments)
        if key == self._last_key:
            self._repeats += 1
        else:
            self._last_key, self._repeats = key, 1
        self.history.append(record)

    def reset(self) -> None:
        self.history.clear()
        self._last_key, self._repeats = None, 0
