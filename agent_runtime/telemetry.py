"""Step 7 of a tool call: one OpenInference TOOL span, as the child of the step that made it.

Span name = the tool's class name, as OpenInference names TOOL spans. Attributes beside
OpenInference's: policy.decision, policy.rule, approval.outcome, approval.source,
sandbox, output.truncated, error.type, plus duration and input/output sizes.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from opentelemetry import trace

if TYPE_CHECKING:
    from .approval import ApprovalResult
    from .policy import Decision

TRACER_NAME = "agent_runtime"


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


class ToolSpan:
    def __init__(self, span: trace.Span, redact: Callable[[str], str], started_ns: int):
        self.span = span
        self._redact = redact
        self._started_ns = started_ns

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
        }
        if decision and decision.rule:
            attributes["policy.rule"] = decision.rule
        if decision:
            attributes["policy.reason"] = self._redact(decision.reason)
        if approval:
            attributes["approval.source"] = approval.source
        if sandbox:
            attributes["sandbox"] = sandbox
        if error_type:
            attributes["error.type"] = error_type
            span.set_status(trace.Status(trace.StatusCode.ERROR, self._redact(str(output.get("error", ""))[:500])))
        else:
            span.set_status(trace.Status(trace.StatusCode.OK))
        span.set_attributes(attributes)


class Telemetry:
    """Makes TOOL spans. With no tracer provider configured the spans record nothing and cost ~nothing."""

    def __init__(self, tracer_provider: Any = None, redact: Callable[[str], str] = lambda s: s,
                 hide_content: bool = False):
        self.tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        self.redact = redact
        self.hide_content = hide_content

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
            yield ToolSpan(span, self.redact, 0)
