"""The one wrapper every tool call passes (docs/architecture.md, "The one path of a tool call").

    1 validate  2 policy  3 approve  4 execute  5 shape  6 record  7 span

Written once, here. Tools only implement step 4. The user's hooks (tools/hooks.py) run between
2 and 3 (before_tool: they may block the call or approve an `ask`) and after 6 (after_tool).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from agent_runtime.core import CallRecord, ToolError
from agent_runtime.tools.checks import bind, validate
from agent_runtime.tools.results import OutputLimits, ToolResult, shape

if TYPE_CHECKING:
    from agent_runtime.core import ApprovalResult, Decision
    from agent_runtime.tools.base import RuntimeTool
    from agent_runtime.tools.hooks import HookRun

log = logging.getLogger(__name__)
# Small facts of a result kept in the call history (what the next-step hints need).
RECORDED_FACTS = ("passed", "summary", "patch_id", "applied", "undone", "exit_code", "error", "recovery_suggestion",
                  "files_changed", "undo_id", "changed", "not_covered", "matches")


class Refused(ToolError):
    """The policy or the approval gate said no; the model is told why and what to do instead."""

    def __init__(self, error: str, suggestion: str):
        super().__init__(error, suggestion, kind="refused")


def _refusal(tool: "RuntimeTool", decision: "Decision", approval: "ApprovalResult | None") -> Refused:
    if decision.decision == "deny":
        rule = f" (rule {decision.rule})" if decision.rule else ""
        return Refused(
            f"{tool.name} was refused by the command policy{rule}: {decision.reason}",
            "Do not retry it. Reach the goal another way, or finish with final_answer and tell the user "
            "what to run themselves.",
        )
    assert approval is not None
    if approval.source == "user":
        said = f" They said: {approval.message}" if approval.message else ""
        return Refused(
            f"The user refused this {tool.name}.{said}",
            "Do not retry the same action. Follow what the user said, or choose another approach.",
        )
    why = "approval mode is 'never'" if approval.source == "config" else "no one is at a terminal to approve it"
    return Refused(
        f"{tool.name} needs approval and was refused because {why} ({decision.reason}).",
        "Choose an approach that does not need this action, or finish with final_answer and tell the user "
        "what to run or apply themselves.",
    )


def _blocked(tool: "RuntimeTool", run: "HookRun") -> Refused:
    return Refused(
        f"{tool.name} was blocked by the user's hook {run.hook.name}: {run.message}",
        "Do not retry it. Follow what the hook said, or choose another approach.",
    )


def invoke(tool: "RuntimeTool", args: tuple, kwargs: dict[str, Any]) -> ToolResult:
    runtime = tool.runtime
    started = time.perf_counter()
    bind_error: ToolError | None = None
    try:
        arguments: dict[str, Any] = bind(tool, args, kwargs)
    except ToolError as exc:
        arguments, bind_error = {**{str(i): a for i, a in enumerate(args)}, **kwargs}, exc
    decision: Decision | None = None
    approval: ApprovalResult | None = None
    error_type: str | None = None
    approval_wait_ms: float | None = None  # time at the approval prompt, part of the span's duration
    blocked_by: str | None = None  # the user's hook that blocked the call (the span says who refused)

    with runtime.telemetry.tool_span(tool, arguments) as span:
        try:
            if bind_error is not None:
                raise bind_error
            if runtime.state.is_repeat(tool.name, arguments):
                raise ToolError(
                    f"{tool.name} was called with the same arguments 3 times in a row; the result will not change",
                    "Try a different approach: another tool, other arguments, or final_answer with what you know.",
                    kind="loop_detected",
                )
            validated = validate(tool, arguments, runtime)  # 1 validate
            action = tool.action(**validated)  # always an Action (tools/base.py): no call goes unjudged
            decision = runtime.decide(action)  # 2 policy
            hooks = runtime.hooks.before_tool(tool.name, arguments, decision)  # the user's hooks: block / approve
            if hooks.blocked is not None and decision.decision != "deny":
                blocked_by = hooks.blocked.hook.name
                raise _blocked(tool, hooks.blocked)
            if decision.decision == "ask":
                approval = runtime.approver.review(tool.name, action, decision, hooks.approved)  # 3 approve
                approval_wait_ms = runtime.approver.last_wait_s() * 1000
                span.approval_wait(approval_wait_ms, approval)  # the person's time, a span of its own
            if decision.decision == "deny" or (approval is not None and not approval.approved):
                raise _refusal(tool, decision, approval)
            with runtime.activity(tool.name, validated):
                result = tool.run(**validated)  # 4 execute
        except ToolError as exc:
            result, error_type = exc.as_dict(), exc.kind
        except Exception as exc:  # a bug or an OS error: the model gets a message, the log the traceback
            log.debug("tool %s failed", tool.name, exc_info=True)
            result = {
                "error": f"{tool.name} failed unexpectedly: {type(exc).__name__}: {exc}",
                "recovery_suggestion": "Try different arguments or another tool.",
            }
            error_type = type(exc).__name__

        settings = runtime.settings
        limits = OutputLimits(settings.truncation_max_chars, settings.truncation_max_lines, settings.truncation_max_list_items)
        shaped, truncated = shape(result, limits, tool.keep_tail)  # 5 shape

        duration_ms = (time.perf_counter() - started) * 1000
        outcome = "ok" if error_type is None else ("refused" if error_type == "refused" else "error")
        facts = {k: result[k] if not isinstance(result[k], str) else result[k][:600]
                 for k in RECORDED_FACTS if isinstance(result.get(k), (bool, int, str))
                 or (isinstance(result.get(k), list) and all(isinstance(v, str) for v in result[k]))}
        refused_by = None if outcome != "refused" else "hook" if blocked_by else \
            approval.source if approval is not None and not approval.approved else "policy"
        record = CallRecord(tool.name, arguments, outcome, error_type, duration_ms, facts=facts, refused_by=refused_by)
        runtime.state.record(record)  # 6 record
        shaped.call = record
        runtime.observe(record, decision, approval)
        runtime.hooks.after_tool(record, shaped, decision, approval)

        span.finish(  # 7 span
            output=shaped,
            decision=decision,
            approval=approval,
            sandbox=result.get("sandbox"),
            truncated=truncated,
            error_type=error_type,
            approval_wait_ms=approval_wait_ms,
            blocked_by=blocked_by,
        )
    return shaped
