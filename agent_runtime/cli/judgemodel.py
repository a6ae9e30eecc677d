"""The judge's model for `--approval judge` (safety/judge.py): the judge role's model (models/roles.py:
--model judge=..., JUDGE_MODEL, the models file's [roles] judge), else the embedded 0.5B model. It is opened on the judge's first question (a session that never
needs it starts none) and closed at exit; its answers are held to one line (a grammar on llama.cpp
servers, few tokens, no sampling warmth)."""

from __future__ import annotations

import atexit
import sys
import threading
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator

from agent_runtime.config import Settings
from agent_runtime.models.roles import RoleModel, model_for_role
from agent_runtime.safety.judge import Judge

DEFAULT_JUDGE_MODEL = "embedded:0.5b"
JUDGE_MAX_TOKENS = 60
JUDGE_WINDOW = 4096  # the prompt is a task, six steps and a command
# llama.cpp: the reply is one verdict line, whatever the model would rather say.
JUDGE_GRAMMAR = 'root ::= ("APPROVE" | "HUMAN") ": " [^\\n] [^\\n]*'


class _StderrUI:
    """What a model kind may show while it starts: one line on stderr."""

    def warn(self, message: str) -> None:
        print(f"judge: {message}", file=sys.stderr)

    @contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        print(f"judge: {message}", file=sys.stderr)
        yield None


class JudgeModel:
    """A completion function over a registry model, opened once, on first use."""

    def __init__(self, settings: Settings, chosen: RoleModel):
        # Its own small window and short answers; MODEL_GGUF belongs to the agent's model, not the judge's.
        self.settings = replace(chosen.apply(settings), model_gguf=None, model_max_tokens=JUDGE_MAX_TOKENS,
                                model_temperature=0.0, model_context_window=JUDGE_WINDOW)
        self.chosen = chosen
        self.endpoints = chosen.endpoints(settings)
        self.model_id = chosen.entry.id
        self.telemetry: Any = None  # the session's (agent/session.py): each call is an LLM span, llm.role judge
        self._model: Any = None
        self._lock = threading.Lock()

    def _open(self) -> Any:
        from agent_runtime.models.registry import kind_for

        kind = kind_for(self.settings, self.settings.model_id, endpoints=self.endpoints, limits=self.chosen.limits())
        ui = _StderrUI()
        kind.start(ui)
        atexit.register(kind.close)
        opened = kind.open(ui, lambda old, new, why: ui.warn(f"{old} is not available ({why}); using {new}"))
        if hasattr(opened.model, "grammar") and opened.constraint.kind.startswith("gbnf"):
            opened.model.grammar = JUDGE_GRAMMAR
        if self.telemetry is not None:
            from agent_runtime.agent.tracing import trace_model

            trace_model(opened.model, self.telemetry, lambda: opened.label, "judge")
        return opened.model

    def __call__(self, messages: list[dict[str, str]]) -> str:
        with self._lock:
            if self._model is None:
                self._model = self._open()
            parts = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in messages]
            reply = self._model.generate(parts, max_tokens=JUDGE_MAX_TOKENS, temperature=0.0)
        content = reply.content
        if isinstance(content, list):  # parts, as some backends return them
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content or ""


def judge_role(settings: Settings) -> RoleModel:
    """The judge's model: the judge role's, else embedded:0.5b."""
    chosen = model_for_role(settings, "judge")
    if chosen is None:
        default = model_for_role(replace(settings, judge_model=DEFAULT_JUDGE_MODEL), "judge")
        assert default is not None
        chosen = replace(default, source="default (--approval judge)")
    return chosen


def make_judge(settings: Settings) -> Judge:
    chosen = judge_role(settings)
    return Judge(JudgeModel(settings, chosen), label=chosen.describe())
