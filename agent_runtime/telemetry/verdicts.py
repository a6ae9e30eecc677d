"""Who decided a tool call, and what, in the words Phoenix shows.

A TOOL span the policy denied, a hook blocked or someone was asked about gets `approval.verdict`,
who and what in full (`denied by rule git-directory`, `refused by the user`, `blocked by the hook
no-push`), and `approval.label`, who in at most 14 characters (`user refused`): the label of its
`approval` annotation. Phoenix shows that annotation as a chip, `approval  user refused`, but only
while it fits its row (about 220 px in a span's view on a 1700 px wide window); a longer label folds
into "+1". The root span's status names each refusal with what was refused (`refused by the user
(run_cmd: git push)`): the trace list's error column.

    label            verdict
    policy denied    denied by rule <rule> (or: denied by the policy)
    hook blocked     blocked by the hook <name>          hook approved   approved by the hook <name>
    user refused     refused by the user                 user approved   approved by the user
    auto-refused     refused: approval mode 'never'      auto-approved   approved: approval mode 'auto'
    no one to ask    refused: no one at a terminal to approve
    judge approved   approved by the judge               prior approval  approved (remembered: <where>)
"""

from __future__ import annotations

from typing import Iterable

from agent_runtime.core import ApprovalResult, CallRecord, Decision, why_refused
from agent_runtime.telemetry.labels import tool_label

SHOWN = 2  # refusals named in the root's status; the rest are counted

def verdict(decision: Decision | None, approval: ApprovalResult | None,
            blocked_by: str | None = None) -> tuple[str, str, str, str] | None:
    """(outcome, source, label, verdict) of a call the policy, a hook or a person decided; None
    when the call was allowed without a question (or stopped before the policy)."""
    if decision is not None and decision.decision == "deny":
        said = f"denied by rule {decision.rule}" if decision.rule else "denied by the policy"
        return "denied", "policy", "policy denied", said
    if blocked_by is not None:
        return "denied", "hook", "hook blocked", f"blocked by the hook {blocked_by}"
    if approval is None:
        return None
    done = "approved" if approval.approved else "refused"
    source, message = approval.source, approval.message or ""
    if source == "config":
        mode = "auto" if approval.approved else "never"
        label, said = f"auto-{done}", f"{done}: approval mode '{mode}'"
    elif source == "non_interactive":
        label, said = "no one to ask", f"{done}: no one at a terminal to approve"
    elif source == "hook":  # its message names the hook: "hook NAME: why"
        label, said = f"hook {done}", f"{done} by the {message.split(':', 1)[0] or 'hook'}"
    elif source == "remembered":
        label, said = "prior approval", f"{done} (remembered: {message})" if message else f"{done} (remembered)"
    else:  # user, judge
        label, said = f"{source} {done}", f"{done} by the {source}"
    return approval.outcome, source, label, said


def refusal(call: CallRecord) -> str:
    """`refused by the user (run_cmd: git push)`: who, then what, for the root's status."""
    why = why_refused(str(call.facts.get("error") or "refused"))
    if not why.startswith(("denied", "refused", "blocked")):  # "approval mode is 'never'"
        why = f"refused: {why}"
    return f"{why} ({tool_label(call.tool, call.arguments)})"


def refusals(calls: Iterable[CallRecord]) -> list[str]:
    return [refusal(c) for c in calls if c.outcome == "refused"]


def said(phrases: list[str]) -> str:
    """The root's words for its refusals: each named, up to SHOWN, then how many more."""
    named = "; ".join(phrases[:SHOWN]) + (f"; {len(phrases) - SHOWN} more" if len(phrases) > SHOWN else "")
    return named if len(phrases) == 1 else f"{len(phrases)} refusals: {named}"

