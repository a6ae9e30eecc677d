"""The TOOL span of a tool call (step 7 of the wrapper). Without a tracer provider the spans
record nothing and cost ~nothing."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from opentelemetry import trace

from agent_runtime.core import ApprovalResult, Decision

TRACER_NAME = "agent_runtime"


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


# --- the TOOL span (step 7 of the wrapper) ---


class ToolSpan:
    def __init__(self, span: trace.Span, redact: Callable[[str], str]):
        self.span = span
        self._redact = redact
        self._started = time.perf_counter()

    def finish(self, output: dict[str, Any], decision: "Decision | None", approval: "ApprovalResult | None",
               sandbox: str | None, truncated: bool, error_type: str | None) -> None:
        span = self.span
        if not span.is_recording():
            return
        text = self._redact(_json(output))
        attributes: dict[str, Any] = {
            "output.value": text,
            "output.mime_type": "application/json",
            "output.size": len(text),
            "output.truncated": truncated,
            "policy.decision": decision.decision if decision else "allow",
            "approval.outcome": approval.outcome if approval else "not_required",
            "tool.duration_ms": round((time.perf_counter() - self._started) * 1000, 3),
        }
        if decision is not None:
            attributes["policy.reason"] = self._redact(decision.reason)
            if decision.rule:
                attributes["policy.rule"] = decision.rule
        if approval is not None:
            attributes["approval.source"] = approval.source
        if sandbox:
            attributes["sandbox"] = sandbox
        if error_type:
            attributes["error.type"] = error_type
            span.set_status(trace.Status(trace.StatusCode.ERROR, self._redact(str(output.get("error", "")))[:500]))
        else:
            span.set_status(trace.Status(trace.StatusCode.OK))
        span.set_attributes(attributes)


class Telemetry:
    """Makes TOOL spans. Without a tracer provider the spans record nothing and cost ~nothing."""

    def __init__(self, tracer_provider: Any = None, redact: Callable[[str], str] = lambda s: s):
        self.tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        self.redact = redact

    @contextmanager
    def tool_span(self, tool: Any, arguments: dict[str, Any]) -> Iterator[ToolSpan]:
        with self.tracer.start_as_current_span(type(tool).__name__, record_exception=False) as span:
            if span.is_recording():
                text = self.redact(_json(arguments))
                span.set_attributes({
                    "openinference.span.kind": "TOOL",
                    "tool.name": tool.name,
                    "tool.description": tool.description,
                    "tool.parameters": _json(tool.inputs),
                    "input.value": text,
                    "input.mime_type": "application/json",
                    "input.size": len(text),
                })
            yield ToolSpan(span, self.redact)


