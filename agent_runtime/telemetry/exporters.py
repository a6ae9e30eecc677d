"""Tracing: the session's tracer provider, the smolagents instrumentor for AGENT / CHAIN / LLM
spans, and two exporters: OTLP to Phoenix and JSON lines into the run's directory, so a run's
trace exists when Phoenix is off or down.

Secrets never leave: every exported span passes the Redactor. Phoenix being down, slow or
restarted never breaks or slows a run: export happens in the background, failures are
dropped with one warning, and shutdown waits at most 2 s.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from agent_runtime.telemetry.redact import Redactor
from agent_runtime.telemetry.spans import TRACER_NAME, Telemetry, _json

if TYPE_CHECKING:
    from agent_runtime.config import Settings

log = logging.getLogger(__name__)
EXPORT_TIMEOUT_S = 2.0


# --- exporters ---


def _listening(url: str, timeout: float = 0.3) -> bool:
    """Does anything accept connections at url's host and port? (Quick: no request is made.)"""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), timeout):
            return True
    except OSError:
        return False


def _ours(span: Any) -> bool:
    scope = getattr(span, "instrumentation_scope", None)
    return scope is not None and scope.name == TRACER_NAME


def span_to_dict(span: Any) -> dict[str, Any]:
    context = span.get_span_context()
    return {
        "name": span.name,
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "kind": (span.attributes or {}).get("openinference.span.kind"),
        "start_time": span.start_time,
        "end_time": span.end_time,
        "status": span.status.status_code.name,
        "status_message": span.status.description,
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes or {})} for e in span.events],
    }


def _exporters():
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class RedactingExporter(SpanExporter):
        """Secrets out of every attribute, event and status before anything leaves the process."""

        def __init__(self, inner: SpanExporter, redact: Redactor):
            self.inner, self.redact = inner, redact

        def _clean(self, span: ReadableSpan) -> ReadableSpan:
            from opentelemetry.sdk.trace import Event
            from opentelemetry.trace import Status

            attributes = {k: self.redact.value(v) for k, v in (span.attributes or {}).items()}
            events = [Event(e.name, {k: self.redact.value(v) for k, v in (e.attributes or {}).items()}, e.timestamp)
                      for e in span.events]
            status = Status(span.status.status_code, self.redact(span.status.description)
                            if span.status.description else None)
            return ReadableSpan(name=span.name, context=span.context, parent=span.parent, resource=span.resource,
                                attributes=attributes, events=events, links=span.links, kind=span.kind, status=status,
                                start_time=span.start_time, end_time=span.end_time,
                                instrumentation_scope=span.instrumentation_scope)

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            # Our own TOOL spans were redacted when they were made; only the instrumentor's need it.
            return self.inner.export([s if _ours(s) else self._clean(s) for s in spans])

        def shutdown(self) -> None:
            self.inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return self.inner.force_flush(timeout_millis)

    class RunFileExporter(SpanExporter):
        """Spans as JSON lines into the current run's trace.jsonl (switched per run). Flushed per
        span, so a run killed mid-way keeps every span that had finished."""

        def __init__(self) -> None:
            self._handle: Any = None
            self._lock = threading.Lock()

        def open(self, path: Path | None) -> None:
            with self._lock:
                if self._handle is not None:
                    self._handle.close()
                self._handle = path.open("a", encoding="utf-8") if path is not None else None

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            with self._lock:
                if self._handle is not None:
                    self._handle.write("".join(_json(span_to_dict(span)) + "\n" for span in spans))
                    self._handle.flush()
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            self.open(None)

    class QuietExporter(SpanExporter):
        """Phoenix down or slow: drop the batch, warn once, never raise."""

        def __init__(self, inner: SpanExporter, endpoint: str):
            self.inner, self.endpoint, self.warned = inner, endpoint, False

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            try:
                result = self.inner.export(spans)
            except Exception:  # the exporter's own bug or a transport error: same treatment
                result = SpanExportResult.FAILURE
            if result is not SpanExportResult.SUCCESS and not self.warned:
                self.warned = True
                log.warning("Phoenix at %s is not accepting spans; they are dropped there and kept in the run's "
                            "trace.jsonl (start Phoenix with: agent-runtime phoenix)", self.endpoint)
            return result

        def shutdown(self) -> None:
            self.inner.shutdown()

    return RedactingExporter, RunFileExporter, QuietExporter


class Tracing:
    """The session's tracer provider, its exporters and the smolagents instrumentation."""

    def __init__(self, settings: "Settings", redact: Redactor, phoenix_endpoint: str | None = None):
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SimpleSpanProcessor,
        )

        RedactingExporter, RunFileExporter, QuietExporter = _exporters()
        self.settings = settings
        self.redact = redact
        self.provider = TracerProvider(resource=Resource.create({
            "service.name": "agent-runtime",
            "openinference.project.name": settings.phoenix_project_name,
        }))
        self.run_file = RunFileExporter()
        # Written as each span ends: a run killed mid-way keeps every span that finished.
        self.provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(self.run_file, redact)))
        self.phoenix_endpoint = phoenix_endpoint or (settings.phoenix_endpoint if settings.phoenix_enabled else None)
        self.phoenix_exporter: Any = None
        if self.phoenix_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )

            for name in ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.exporter.otlp",
                         "opentelemetry.sdk.trace.export", "opentelemetry.exporter.otlp.common.http"):
                logging.getLogger(name).setLevel(logging.CRITICAL)  # QuietExporter says it once
            otlp = OTLPSpanExporter(endpoint=f"{self.phoenix_endpoint}/v1/traces", timeout=EXPORT_TIMEOUT_S)
            self.phoenix_exporter = QuietExporter(otlp, self.phoenix_endpoint)
            self.provider.add_span_processor(BatchSpanProcessor(
                RedactingExporter(self.phoenix_exporter, redact),
                schedule_delay_millis=500, export_timeout_millis=int(EXPORT_TIMEOUT_S * 1000)))
        self._instrument()
        self.telemetry = Telemetry(self.provider, redact)

    def _instrument(self) -> None:
        from openinference.instrumentation import TraceConfig
        from openinference.instrumentation.smolagents import SmolagentsInstrumentor

        hide = self.settings.trace_hide_content
        # Hiding content hides every copy of it: messages, and the inputs/outputs that repeat them.
        config = TraceConfig(hide_input_messages=hide, hide_output_messages=hide, hide_input_text=hide,
                             hide_output_text=hide, hide_inputs=hide, hide_outputs=hide)
        instrumentor = SmolagentsInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()  # bound to an earlier session's provider
        instrumentor.instrument(tracer_provider=self.provider, config=config, skip_dep_check=True)

    def start_run(self, trace_file: Path) -> None:
        self.run_file.open(trace_file)

    def end_run(self) -> None:
        # The run file is complete (spans are written as they end). Phoenix's batch is left to the
        # background exporter: a slow or dead Phoenix must not delay the end of a task.
        self.run_file.open(None)

    def trace_url(self, trace_id: str | None) -> str | None:
        """The run's trace in the Phoenix UI (a route that finds the project by itself), unless
        Phoenix is off or refused the spans."""
        if not (self.phoenix_endpoint and trace_id) or (self.phoenix_exporter and self.phoenix_exporter.warned):
            return None
        if not _listening(self.phoenix_endpoint):
            return None
        return f"{self.phoenix_endpoint}/redirects/traces/{trace_id}"

    def shutdown(self) -> None:
        """Flush and stop, waiting at most EXPORT_TIMEOUT_S for the exporters."""
        from openinference.instrumentation.smolagents import SmolagentsInstrumentor

        SmolagentsInstrumentor().uninstrument()
        stopper = threading.Thread(target=self.provider.shutdown, daemon=True, name="trace-shutdown")
        stopper.start()
        stopper.join(EXPORT_TIMEOUT_S - 0.1)  # what is not sent by then is dropped (trace.jsonl has it)
