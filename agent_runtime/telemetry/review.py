"""What a reviewer filters traces on in Phoenix: a task's figures on its root span, and the
approvals and refusals of its tool calls as Phoenix annotations.

Root span (AGENT `task: …`), set when the task ends (docs/traces.md lists the filters):

    agent_runtime.refusals          tool calls the policy, a hook or a person refused
    agent_runtime.failed_tool_calls tool calls that ended in an error (refusals not counted)
    agent_runtime.files_changed     files the task's applied patches changed
    agent_runtime.tests_passed      "true" / "false": the last test run, "unknown": none, or none
                                    since the last applied patch or undo (a result the change made stale)
    agent_runtime.exit_code         what `agent-runtime` exits with for this outcome
    agent_runtime.approval_wait_ms  time at approval prompts (a person's, not the agent's)
    agent_runtime.active_ms         the task's time without that wait

and the status ERROR, with what went wrong in a few words, when any of refusals, failed tool
calls, failing tests or a non-zero exit code: Phoenix's trace list then shows it red.

Annotations: each TOOL span where the policy asked or refused becomes one `approval` annotation
(label approved / refused, the person's message as its explanation; annotator HUMAN when a person
answered, LLM for the judge, CODE for the policy, a hook or the approval mode), sent to Phoenix's
REST API (`POST /v1/span_annotations`) after the span itself was exported.
"""

from __future__ import annotations

from typing import Any, Iterable

from agent_runtime.core import CallRecord

PREFIX = "agent_runtime."
ANNOTATION_NAME = "approval"


def tests_state(calls: Iterable[CallRecord]) -> str:
    """The last test result, unless a change came after it: "true", "false" or "unknown"."""
    state = "unknown"
    for call in calls:
        if call.tool == "run_tests" and isinstance(call.facts.get("passed"), bool):
            state = "true" if call.facts["passed"] else "false"
        elif call.changed_files():
            state = "unknown"
    return state


def task_review(calls: list[CallRecord], files_changed: Iterable[str], exit_code: int,
                approval_wait_s: float = 0.0) -> dict[str, Any]:
    """The root span's review attributes (without the `agent_runtime.` prefix)."""
    return {
        "refusals": sum(1 for c in calls if c.outcome == "refused"),
        "failed_tool_calls": sum(1 for c in calls if c.outcome == "error"),
        "files_changed": len(set(files_changed)),
        "tests_passed": tests_state(calls),
        "exit_code": int(exit_code),
        "approval_wait_ms": round(approval_wait_s * 1000, 3),
    }


def problems(review: dict[str, Any]) -> list[str]:
    """What went wrong among the figures, in a few words each: the root span's status description."""
    found = []
    for key, one, many in (("refusals", "refusal", "refusals"),
                           ("failed_tool_calls", "failed tool call", "failed tool calls")):
        count = review.get(key) or 0
        if count:
            found.append(f"{count} {one if count == 1 else many}")
    if review.get("tests_passed") == "false":
        found.append("tests failing")
    return found  # a non-zero exit code comes with an outcome other than answered, which says it already


def attributes(review: dict[str, Any], latency_ms: float) -> dict[str, Any]:
    """The review as span attributes, with the task's time without approval waits."""
    wait = float(review.get("approval_wait_ms") or 0.0)
    return {**{PREFIX + k: v for k, v in review.items()}, PREFIX + "active_ms": round(max(0.0, latency_ms - wait), 3)}


# --- annotations ---


def _annotator(source: str | None) -> str:
    if source in ("user", "remembered"):  # a person answered, now or earlier ("always")
        return "HUMAN"
    return "LLM" if source == "judge" else "CODE"


def approval_annotation(span_id: str, attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The `approval` annotation of a TOOL span's attributes, or None (the policy allowed the call
    without asking, or the call stopped before the policy)."""
    decision, outcome = attrs.get("policy.decision"), attrs.get("approval.outcome")
    if attrs.get("openinference.span.kind") != "TOOL" or decision not in ("ask", "deny"):
        return None
    source = attrs.get("approval.source")
    refused = decision == "deny" or outcome == "denied"
    if decision == "deny":
        source, explanation = "policy", attrs.get("policy.reason")
    else:
        explanation = attrs.get("approval.message") or attrs.get("approval.judge_reason")
    if not explanation:
        explanation = f"{'refused' if refused else 'approved'} ({source})"
    return {
        "span_id": span_id,
        "name": ANNOTATION_NAME,
        "annotator_kind": _annotator(source),
        "result": {"label": "refused" if refused else "approved", "score": 0.0 if refused else 1.0,
                   "explanation": str(explanation)[:2000]},
        "metadata": {"source": source, "policy_decision": decision, "policy_rule": attrs.get("policy.rule"),
                     "tool": attrs.get("tool.name")},
    }
