"""What a reviewer filters traces on in Phoenix: a task's figures on its root span, and the
approvals and refusals of its tool calls as Phoenix annotations.

Root span (AGENT `task: …`), set when the task ends (docs/traces.md lists the filters):

    agent_runtime.refusals          tool calls the policy, a hook or a person refused
    agent_runtime.refused           each as who refused what: `refused by the user (run_cmd: git push)`
    agent_runtime.failed_tool_calls tool calls that ended in an error (refusals not counted)
    agent_runtime.files_changed     files the task's applied patches changed
    agent_runtime.tests_passed      "true" / "false": the last test run, "unknown": none, or none
                                    since the last applied patch or undo (a result the change made stale)
    agent_runtime.exit_code         what `agent-runtime` exits with for this outcome
    agent_runtime.approval_wait_ms  time at approval prompts (a person's, not the agent's)
    agent_runtime.active_ms         the task's time without that wait

and the status ERROR, with what went wrong in a few words (who refused what, failed calls, failing
tests, files changed with no test run since), or a non-zero exit code: Phoenix's trace list then
shows it red, never green.

Annotations: each TOOL span the policy denied, a hook blocked or someone was asked about becomes one
`approval` annotation (label: who decided, `user refused`, `policy denied`: telemetry/verdicts.py;
explanation: what, `denied by rule git-push: publishes commits…`, `refused by the user: <their
message>`; annotator HUMAN when a person answered, LLM for the judge, CODE for the policy, a hook or
the approval mode), sent to Phoenix's REST API (`POST /v1/span_annotations`) after the span itself
was exported.
"""

from __future__ import annotations

from typing import Any, Iterable

from agent_runtime.core import CallRecord
from agent_runtime.telemetry.verdicts import refusals, said

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
    refused = refusals(calls)
    return {
        "refusals": len(refused),
        "refused": refused,
        "failed_tool_calls": sum(1 for c in calls if c.outcome == "error"),
        "files_changed": len(set(files_changed)),
        "tests_passed": tests_state(calls),
        "exit_code": int(exit_code),
        "approval_wait_ms": round(approval_wait_s * 1000, 3),
    }


def problems(review: dict[str, Any]) -> list[str]:
    """What went wrong among the figures, in a few words each: the root span's status description."""
    found = []
    if review.get("refused"):  # who refused what: a person's refusal is not the policy's
        found.append(said(list(review["refused"])))
    elif review.get("refusals"):
        found.append(f"{review['refusals']} refusal{'s' if review['refusals'] != 1 else ''}")
    count = review.get("failed_tool_calls") or 0
    if count:
        found.append(f"{count} failed tool call{'s' if count != 1 else ''}")
    if review.get("tests_passed") == "false":
        found.append("tests failing")
    elif review.get("tests_passed") == "unknown" and review.get("files_changed"):
        found.append("tests not run after the last change")  # a change no test has seen is not a success
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
    without asking, or the call stopped before the policy). Its label says who decided
    (`refused by user`, `denied by policy`: telemetry/verdicts.py) and has no score, so Phoenix's
    chip shows those words rather than a mean score; its explanation says what (the rule, the hook,
    the person's message)."""
    label, verdict = attrs.get("approval.label"), attrs.get("approval.verdict")
    if attrs.get("openinference.span.kind") != "TOOL" or not label:
        return None
    source = attrs.get("approval.source")
    why = attrs.get("policy.reason") if source == "policy" else \
        attrs.get("approval.message") or attrs.get("approval.judge_reason")
    return {
        "span_id": span_id,
        "name": ANNOTATION_NAME,
        "annotator_kind": _annotator(source),
        "result": {"label": str(label), "explanation": f"{verdict}: {why}"[:2000] if why else str(verdict)},
        "metadata": {"refused": attrs.get("approval.outcome") == "denied", "source": source,
                     "verdict": verdict, "policy_decision": attrs.get("policy.decision"),
                     "policy_rule": attrs.get("policy.rule"), "tool": attrs.get("tool.name")},
    }
