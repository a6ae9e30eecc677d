"""Tracing: the session's tracer provider and two exporters: OTLP to Phoenix (then the approval
annotations of what it took: telemetry/review.py) and JSON lines into the run's directory, so a
run's trace exists when Phoenix is off or down. The spans themselves
are made by telemetry.spans (TOOL, and the task's root) and agent.tracing (steps, model calls).

Secrets never leave: every exported span (its name, attributes, events and status) passes the
Redactor. Phoenix being down, slow, restarted or at a wrong address never breaks or slows a run:
export happens in the background, and a failure is reported once, with its cause and what to do
(the batch is dropped; the run's trace.jsonl keeps every span). Shutdown waits at most 2 s.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from agent_runtime.redact import Redactor
from agent_runtime.telemetry.review import approval_annotation
from agent_runtime.telemetry.spans import Telemetry, _json

if TYPE_CHECKING:
    from agent_runtime.config import Settings

log = logging.getLogger(__name__)
EXPORT_TIMEOUT_S = 2.0
FLUSH_WAIT_S = 1.0  # at the end of a task, for Phoenix to take its spans (or be found refusing them)
OTLP_PATH = "/v1/traces"
ANNOTATIONS_PATH = "/v1/span_annotations"
# Attributes Phoenix parses as JSON at ingestion whose parsed value its UI cannot render: an
# object in tool.parameters crashes the Info tab (React error #31).
UNRENDERABLE = ("tool.parameters",)
# Attributes a span may hold. OpenTelemetry's default is 128, but the smolagents instrumentation
# flattens every message sent to the model into llm.input_messages.N.message.{role,content}, so
# the LLM span of a long conversation (about 30 steps, or one picked up with --continue) would
# drop its oldest attributes (its kind, input.value, token counts) with a warning for each. The
# window bounds what is sent, so a high cap costs nothing in a short run. Values are not cut
# (the SDK's default length limit is none). OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT or
# OTEL_ATTRIBUTE_COUNT_LIMIT in the environment still wins.
MAX_SPAN_ATTRIBUTES = 100_000


def span_limits() -> Any:
    """The SpanLimits of the session's tracer provider (see MAX_SPAN_ATTRIBUTES)."""
    import os

    from opentelemetry.sdk.trace import SpanLimits

    if os.environ.get("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") or os.environ.get("OTEL_ATTRIBUTE_COUNT_LIMIT"):
        return SpanLimits()  # the person's own choice, read by the SDK
    return SpanLimits(max_span_attributes=MAX_SPAN_ATTRIBUTES)


def phoenix_base(endpoint: str) -> str:
    """Phoenix's base URL from PHOENIX_ENDPOINT, given as the base or as its OTLP `…/v1/traces`."""
    base = endpoint.strip().rstrip("/")
    return base[: -len(OTLP_PATH)].rstrip("/") if base.endswith(OTLP_PATH) else base


def diagnose_endpoint(base: str, timeout: float = 1.0) -> str:
    """Why Phoenix at `base` did not take a batch, and what to do, in one sentence."""
    import http.client
    import urllib.error
    import urllib.request

    url = base + OTLP_PATH
    if not _listening(base, timeout):
        return (f"nothing accepts connections at {base} (is Phoenix running? start one with: agent-runtime phoenix, "
                "or set PHOENIX_ENDPOINT to where it runs)")
    # An empty export request: an OTLP endpoint accepts it and stores nothing.
    request = urllib.request.Request(url, data=b"", method="POST", headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # the configured Phoenix
            status, reason = response.status, response.reason
    except urllib.error.HTTPError as exc:
        status, reason = exc.code, exc.reason
    except (OSError, http.client.HTTPException) as exc:
        return f"{url} did not answer in time or broke off ({type(exc).__name__}); is Phoenix overloaded?"
    if 200 <= status < 300:
        return f"{url} accepts requests but did not take a batch in time (slow or restarting?)"
    hint = ("that address is not Phoenix's OTLP endpoint: set PHOENIX_ENDPOINT to Phoenix's base URL "
            "(e.g. http://127.0.0.1:6006) or to its …/v1/traces URL")
    if status in (401, 403):
        hint = "Phoenix wants authentication, which agent-runtime does not send: run a local Phoenix without auth"
    elif status >= 500:
        hint = "Phoenix failed on its side: see its log"
    return f"{url} answered {status} {reason}: {hint}"


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
        """Secrets out of every name, attribute, event and status before anything leaves the process,
        and nothing that Phoenix's UI cannot render."""

        def __init__(self, inner: SpanExporter, redact: Redactor):
            self.inner, self.redact = inner, redact

        def _clean(self, span: ReadableSpan) -> ReadableSpan:
            from opentelemetry.sdk.trace import Event
            from opentelemetry.trace import Status

            attributes = {k: self.redact.value(v) for k, v in (span.attributes or {}).items() if k not in UNRENDERABLE}
            events = [Event(self.redact(e.name), {k: self.redact.value(v) for k, v in (e.attributes or {}).items()},
                            e.timestamp) for e in span.events]
            status = Status(span.status.status_code, self.redact(span.status.description)
                            if span.status.description else None)
            return ReadableSpan(name=self.redact(span.name), context=span.context, parent=span.parent,
                                resource=span.resource,
                                attributes=attributes, events=events, links=span.links, kind=span.kind, status=status,
                                start_time=span.start_time, end_time=span.end_time,
                                instrumentation_scope=span.instrumentation_scope)

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return self.inner.export([self._clean(s) for s in spans])

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
                self._handle = path.open("a", encoding="utf-8", errors="backslashreplace") if path is not None else None

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            with self._lock:
                if self._handle is not None:
                    self._handle.write("".join(_json(span_to_dict(span)) + "\n" for span in spans))
                    self._handle.flush()
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            self.open(None)

    class QuietExporter(SpanExporter):
        """Phoenix down, slow or at a wrong address: drop the batch, say once why, never raise."""

        def __init__(self, inner: SpanExporter, endpoint: str):
            self.inner, self.endpoint, self.warned = inner, endpoint, False
            self.problem: str | None = None

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            try:
                result = self.inner.export(spans)
            except Exception:  # noqa: BLE001 - the exporter's own bug or a transport error: same treatment
                result = SpanExportResult.FAILURE
            if result is not SpanExportResult.SUCCESS and not self.warned:
                self.warned = True
                try:
                    self.problem = diagnose_endpoint(self.endpoint)
                except Exception as exc:  # noqa: BLE001 - never let the diagnosis break the export thread
                    self.problem = f"{type(exc).__name__}: {exc}"
                log.warning("Phoenix at %s is not accepting spans: %s. Spans it does not take are dropped there "
                            "(said once); each run's trace is kept in its trace.jsonl: agent-runtime trace RUN_ID",
                            self.endpoint, self.problem)
            return result

        def shutdown(self) -> None:
            self.inner.shutdown()

    class AnnotatingExporter(SpanExporter):
        """After Phoenix took a batch, the approvals and refusals among its TOOL spans as `approval`
        annotations (telemetry/review.py), on the export thread: never in a run's way, and a
        failure is dropped (said once, at debug level: the spans went; the trace shows the same)."""

        def __init__(self, inner: SpanExporter, endpoint: str):
            self.inner, self.endpoint, self.failed = inner, endpoint, False

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            result = self.inner.export(spans)
            if result is SpanExportResult.SUCCESS:
                found = [a for a in (approval_annotation(format(s.get_span_context().span_id, "016x"),
                                                         dict(s.attributes or {})) for s in spans) if a]
                if found:
                    try:
                        send_annotations(self.endpoint, found)
                    except Exception as exc:  # noqa: BLE001 - Phoenix's trouble never reaches the run
                        if not self.failed:
                            self.failed = True
                            log.debug("approval annotations not sent to %s: %s", self.endpoint, exc)
            return result

        def shutdown(self) -> None:
            self.inner.shutdown()

    return RedactingExporter, RunFileExporter, QuietExporter, AnnotatingExporter


def send_annotations(base: str, annotations: list[dict[str, Any]], timeout: float = EXPORT_TIMEOUT_S) -> None:
    """POST span annotations to Phoenix's REST API (queued there until their spans are stored)."""
    import urllib.request

    request = urllib.request.Request(base + ANNOTATIONS_PATH, data=_json({"data": annotations}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # the configured Phoenix
        response.read()


class Tracing:
    """The session's tracer provider and its exporters."""

    def __init__(self, settings: "Settings", redact: Redactor, phoenix_endpoint: str | None = None):
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SimpleSpanProcessor,
        )

        RedactingExporter, RunFileExporter, QuietExporter, AnnotatingExporter = _exporters()
        self.settings = settings
        self.redact = redact
        self.provider = TracerProvider(resource=Resource.create({
            "service.name": "agent-runtime",
            "openinference.project.name": settings.phoenix_project_name,
        }), span_limits=span_limits())
        self.run_file = RunFileExporter()
        # Written as each span ends: a run killed mid-way keeps every span that finished.
        self.provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(self.run_file, redact)))
        endpoint = phoenix_endpoint or (settings.phoenix_endpoint if settings.phoenix_enabled else None)
        self.phoenix_endpoint = phoenix_base(endpoint) if endpoint else None
        self.phoenix_exporter: Any = None
        self._phoenix_processor: Any = None
        if self.phoenix_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )

            for name in ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.exporter.otlp",
                         "opentelemetry.sdk.trace.export", "opentelemetry.exporter.otlp.common.http"):
                logging.getLogger(name).setLevel(logging.CRITICAL)  # QuietExporter says it once
            otlp = OTLPSpanExporter(endpoint=self.phoenix_endpoint + OTLP_PATH, timeout=EXPORT_TIMEOUT_S)
            self.phoenix_exporter = QuietExporter(otlp, self.phoenix_endpoint)
            self._phoenix_processor = BatchSpanProcessor(
                RedactingExporter(AnnotatingExporter(self.phoenix_exporter, self.phoenix_endpoint), redact),
                schedule_delay_millis=500, export_timeout_millis=int(EXPORT_TIMEOUT_S * 1000))
            self.provider.add_span_processor(self._phoenix_processor)
        # TRACE_HIDE_CONTENT hides every copy of the words: messages, the task, thoughts, code, answers.
        self.telemetry = Telemetry(self.provider, redact, hide_content=settings.trace_hide_content)

    def start_run(self, trace_file: Path) -> None:
        self.run_file.open(trace_file)

    def end_run(self) -> None:
        # The run file is complete (spans are written as they end). Phoenix's batch is left to the
        # background exporter: a slow or dead Phoenix must not delay the end of a task.
        self.run_file.open(None)

    def flush_phoenix(self, timeout: float = FLUSH_WAIT_S) -> None:
        """Send what is queued for Phoenix now, waiting at most `timeout`: a refusal is then
        reported before the run's last line, and a URL to a trace Phoenix lacks is not printed."""
        if self._phoenix_processor is None:
            return
        flusher = threading.Thread(target=self._phoenix_processor.force_flush, daemon=True, name="trace-flush")
        flusher.start()
        flusher.join(timeout)  # the SDK's force_flush ignores its own timeout

    def trace_url(self, trace_id: str | None) -> str | None:
        """The run's trace in the Phoenix UI (a route that finds the project by itself), unless
        Phoenix is off or refused the spans."""
        if not (self.phoenix_endpoint and trace_id):
            return None
        self.flush_phoenix()
        if self.phoenix_exporter and self.phoenix_exporter.warned:
            return None
        if not _listening(self.phoenix_endpoint):
            return None
        return f"{self.phoenix_endpoint}/redirects/traces/{trace_id}"

    def shutdown(self) -> None:
        """Flush and stop, waiting at most EXPORT_TIMEOUT_S for the exporters."""
        stopper = threading.Thread(target=self.provider.shutdown, daemon=True, name="trace-shutdown")
        stopper.start()
        stopper.join(EXPORT_TIMEOUT_S - 0.1)  # what is not sent by then is dropped (trace.jsonl has it)
