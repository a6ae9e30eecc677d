"""The agent's own spans, made from what smolagents knows: each step (CHAIN `step N`, input = the
model's thought and code, output = the observation) and each model call (LLM `llm: <model>`).
The task's root span is made by the session (telemetry's task_span).

Why not OpenInference's smolagents instrumentor: measured on real runs, beside these spans it
doubles the AGENT and each step; in their place it loses the replay model's LLM spans and the
LLM spans' llm.role, coaching rules and request (docs/architecture.md, "Spans: no instrumentor").
Everything here wraps one agent's or one model's instance; nothing is patched globally. The step
spans wrap smolagents' step method through agent_runtime/smol.py, the one place that reaches
past smolagents' public API (wrap_step_stream says why no public hook will do).
"""

from __future__ import annotations

import time
import uuid
from contextvars import ContextVar
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Iterator

from opentelemetry import trace

from agent_runtime.agent.blocks import thought_of
from agent_runtime.core import is_secret_name
from agent_runtime.models.registry import span_label
from agent_runtime.models.slots import queue_waits
from agent_runtime.smol import wrap_generate, wrap_step_stream

if TYPE_CHECKING:
    from agent_runtime.telemetry.spans import Telemetry


def new_session_id(kind: str = "task") -> str:
    """A Phoenix session id: `repl-20261123-113024-3f9a1c` (one per REPL) or `task-…` (one per single task)."""
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


# --- model calls ---


def _text(content: Any) -> str:
    """A message's content as text: smolagents gives a string or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, dict):
                parts.append(f"[{part.get('type', 'part')}]")
            else:
                parts.append(str(part))
        return "\n".join(parts)
    return str(content)


def _messages(messages: Any) -> list[tuple[str, str]]:
    pairs = []
    for message in messages or ():
        if isinstance(message, dict):
            role, content = message.get("role"), message.get("content")
        else:
            role, content = getattr(message, "role", None), getattr(message, "content", None)
        role = role.value if isinstance(role, Enum) else role
        pairs.append((str(role or "user"), _text(content)))
    return pairs


# Why a model request is made, set by the model wrapper (agent/replies.py) around each call: "step"
# (the agent's own), "fix", or a retry and the coaching rule that asked for it. On the LLM span as
# `agent_runtime.request`, so a trace shows where coaching stepped in.
REQUEST: ContextVar[str | None] = ContextVar("agent_runtime_request", default=None)
SAMPLING = ("temperature", "top_p", "top_k", "max_tokens", "seed")  # a call's own, over the model's


def _parameters(model: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """What the call was made with: stop sequences, the reply format's name, the model's
    scalar settings (temperature, max_tokens, ...) as this call set them (a retry or a refix is
    sampled warmer); never grammars, schemas or keys."""
    found: dict[str, Any] = {}
    settings = getattr(model, "kwargs", None)
    for key, value in (settings if isinstance(settings, dict) else {}).items():
        plain = isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= 200)
        if plain and not is_secret_name(key):
            found[key] = value
    for key in SAMPLING:
        if isinstance(kwargs.get(key), (int, float)) and not isinstance(kwargs.get(key), bool):
            found[key] = kwargs[key]
    if kwargs.get("stop_sequences"):
        found["stop_sequences"] = list(kwargs["stop_sequences"])
    response_format = kwargs.get("response_format")
    if isinstance(response_format, dict):
        schema = response_format.get("json_schema")
        found["response_format"] = (schema.get("name") if isinstance(schema, dict) else None) or \
            response_format.get("type", "custom")
    return found


def _wrap_generate(model: Any, telemetry: "Telemetry", label: Callable[[], str], role: str | None,
                   coaching: Callable[[], Any]) -> None:
    # The instance's public `generate` is wrapped, not a smolagents internal. A wrapping Model
    # (composition, as agent/replies.py's GuardedModel) would have to be what the session hands to
    # build_agent, while the session keeps the bare model: agent/codeagent.py sets each model's
    # grammar, schema and one-off grammar on the model objects (each of a fallback chain's too),
    # and the session and its tests read the replay model's requests from it. Until those pass a
    # traced model separately, the span is made here, on the instance, before anything wraps it.
    def traced_generate(generate: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        messages = args[0] if args else kwargs.get("messages")
        with telemetry.llm_span(span_label(label()), _messages(messages), _parameters(model, kwargs), role) as span:
            rules = coaching()  # the coaching rules the run holds this model to (models/profiles.py)
            if span.span.is_recording():
                span.span.set_attribute("llm.coaching_rules", rules.names if rules is not None else [])
                if REQUEST.get() is not None:
                    span.span.set_attribute("agent_runtime.request", str(REQUEST.get()))
            with queue_waits() as waits:  # a model the models file limits waits for a slot inside (models/slots.py)
                try:
                    message = generate(*args, **kwargs)
                finally:
                    if waits:
                        span.queue_wait(sum(waits))
            usage = getattr(message, "token_usage", None)
            span.finish(_text(getattr(message, "content", None)), getattr(usage, "input_tokens", None),
                        getattr(usage, "output_tokens", None))
        return message

    wrap_generate(model, traced_generate)


def trace_model(model: Any, telemetry: "Telemetry", label: Callable[[], str], role: str | None = "coder",
                coaching: Callable[[], Any] = lambda: None) -> None:
    """One LLM span per call to the model. Called before anything else wraps `generate` (the
    progress display, the format retry) so that each request to a model is one span; a
    fallback chain gets a span per model tried, named after that model. role: the part the model
    plays (`llm.role`: coder, planner, judge). coaching: the run's Coaching (its rules are the span's
    `llm.coaching_rules`; None, as for the judge: no rule, an empty list)."""
    chain = getattr(model, "chain", None)
    if chain:
        for model_id, inner in chain:
            _wrap_generate(inner, telemetry, lambda model_id=model_id: model_id, role, coaching)
    else:
        _wrap_generate(model, telemetry, label, role, coaching)


# --- steps and the final answer ---


def step_action(memory_step: Any, code_tags: tuple[str, str] = ("<code>", "</code>")) -> str | None:
    """What the model did in a step, as a person reads it: the thought, then the code."""
    output = getattr(memory_step, "model_output", None)
    code = getattr(memory_step, "code_action", None)
    if not isinstance(output, str) and not code:
        return None
    parts = []
    thought = thought_of(output, code_tags[0]) if isinstance(output, str) else ""
    if thought:
        parts.append(f"Thought: {thought}")
    if code:
        parts.append(f"Code:\n{code}")
    else:
        parts.append(f"The model's reply (no code could be read from it):\n{output}")
    return "\n\n".join(parts)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _wrap_steps(agent: Any, telemetry: "Telemetry") -> None:
    # Around smolagents' private step method (agent_runtime/smol.py wrap_step_stream says why no
    # public hook will do). The step's span must be current while the step runs (the parent of its
    # LLM and TOOL spans, and there for a step stopped in its model call) and never across a yield
    # to the session's loop.
    code_tags = tuple(getattr(agent, "code_block_tags", None) or ("<code>", "</code>"))

    def traced_step_stream(step_stream: Callable[[Any], Iterator[Any]], memory_step: Any) -> Iterator[Any]:
        step = telemetry.start_step(getattr(memory_step, "step_number", None) or agent.step_number)
        inner = step_stream(memory_step)
        error: str | None = None
        try:
            while True:
                # Current only while the step runs: never left attached across a yield.
                with trace.use_span(step.span, end_on_exit=False, record_exception=False,
                                    set_status_on_exception=False):
                    try:
                        item = next(inner)
                    except StopIteration:
                        return
                yield item
        except GeneratorExit:
            with trace.use_span(step.span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
                inner.close()
            error = "stopped before the step finished"
            raise
        except BaseException as exc:
            error = _error_text(exc)
            raise
        finally:
            observation = getattr(memory_step, "observations", None)
            step.end(step_action(memory_step, code_tags), observation if isinstance(observation, str) else None,
                     error)

    wrap_step_stream(agent, traced_step_stream)


def trace_agent(agent: Any, telemetry: "Telemetry") -> None:
    """A CHAIN span per step. (The runtime's tools make their own TOOL spans; final_answer runs
    inside the sandboxed interpreter: the step's output and the task's root show the answer.)"""
    _wrap_steps(agent, telemetry)
