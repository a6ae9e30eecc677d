"""The session's model part: the coder model, what its id means, and its switches.

The session holds one Coder (agent/session.py) and reads it through properties; it changes only
through the methods here: chosen for the first task, opened, switched on a fallback, replaced by
/model (agent/switch.py).
"""

from __future__ import annotations

from typing import Any, Callable

from agent_runtime.agent.tasks import route_hint
from agent_runtime.config import Settings
from agent_runtime.models.roles import RoleModel, roles_for


class Coder:
    def __init__(self, base: Settings):
        self.base = base  # the settings as given
        self.settings = base  # as the coder's kind reads them (MODEL_ID & co.), once chosen
        self.roles: dict[str, RoleModel | None] = {}  # models/roles.py: the model of each role
        self.kind: Any = None  # models/registry.py: what the model id means
        self.opened: Any = None  # the model as opened: with its fallbacks and reply constraint
        self.label = ""  # the model answering now (a fallback's, after a switch)
        self.switches: list[dict[str, str]] = []
        self.reported = 0  # switches already written to a run record

    @property
    def model(self) -> Any:
        return self.opened.model if self.opened is not None else None

    @property
    def constraint(self) -> Any:
        return self.opened.constraint if self.opened is not None else None

    def choose(self, first_task: str | None) -> None:
        """The roles' models (the models file's routes may pick the coder by the first task's kind
        and size), the coder's settings and kind."""
        self.roles = roles_for(self.base, **route_hint(first_task))
        coder = self.roles["coder"]
        assert coder is not None  # the coder always has a model (the embedded one by default)
        self.settings = coder.apply(self.base)
        self.kind = coder.open_kind(self.base)

    def open(self, display: Any, on_switch: Callable[[str, str, str], None]) -> None:
        self.opened = self.kind.open(display, on_switch)
        self.label = self.opened.label
        self.switches += self.opened.switches

    def switched(self, before: str, after: str, reason: str) -> dict[str, str]:
        """A fallback took over: the switch, as run records and spans tell it."""
        self.label = after
        switch = {"from": before, "to": after, "reason": reason}
        self.switches.append(switch)
        return switch

    def use(self, chosen: RoleModel, settings: Settings, kind: Any, opened: Any) -> None:
        """Another coder model from the next task on (agent/switch.py opened it)."""
        self.settings, self.kind, self.opened = settings, kind, opened
        self.roles["coder"] = chosen
        self.label = opened.label
        self.switches += opened.switches

    def recorded(self) -> None:
        self.reported = len(self.switches)

    def close(self) -> None:
        if self.kind is not None:
            self.kind.close()
