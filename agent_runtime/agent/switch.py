"""/model: the session's coder model swapped for another between tasks, the conversation kept.

The new model's kind is started and opened first; only when that worked does the session take it
(its settings, window, token counter and a new CodeAgent over the same memory), and the old agent
and kind are closed. If it cannot be opened the current one stays and the error is raised.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agent_runtime.models.litellm_model import quiet_libraries
from agent_runtime.models.roles import model_for_role


def switch_coder(session: Any, model_id: str | None) -> None:
    """model_id: an id, a name of the models file; None: the embedded one."""
    from agent_runtime.agent.tracing import trace_model
    from agent_runtime.smol import set_memory

    chosen = model_for_role(dataclasses.replace(session.base_settings, model_id=model_id or "embedded"), "coder")
    assert chosen is not None
    chosen = dataclasses.replace(chosen, source="/model")
    settings = chosen.apply(session.base_settings)
    kind = chosen.open_kind(session.base_settings)
    try:
        kind.start(session.display)
        quiet_libraries(session.settings.suppress_warnings, kind.uses_litellm)  # LiteLLM, if this kind is its first user
        opened = kind.open(session.display, session.on_model_switch)
    except BaseException:
        kind.close()
        raise
    old_agent, old_kind = session.agent, session.kind
    steps = list(old_agent.memory.steps)
    session.use_coder(chosen, settings, kind, opened)
    trace_model(session.model, session.tracing.telemetry, lambda: session.model_label, "coder",
                lambda: session.kind.coaching)
    session.rebuild_agent()
    set_memory(session.agent, steps)
    old_agent.cleanup()
    old_kind.close()
