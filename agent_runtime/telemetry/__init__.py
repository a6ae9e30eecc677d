"""Telemetry: TOOL spans, exporters (Phoenix over OTLP, the run's trace.jsonl), redaction,
run records, a local Phoenix."""
