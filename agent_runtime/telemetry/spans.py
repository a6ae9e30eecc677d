"""The spans a run is made of, shaped so that Phoenix's UI (19.x) renders every one of them:

    AGENT  task: <the task>        input = the task, output = the final answer (text/plain)
      CHAIN  plan                  (a planner only) its request in, the plan out, plan.targets & co.
        LLM    llm: <planner>      llm.role planner
      CHAIN  step N                input = the model's thought and code, output = the observation
        LLM    llm: <model>        input/output messages, token counts, llm.role (coder, planner, judge),
                                   llm.queue_wait_s (a model the models file limits: the wait for a slot)
        TOOL   run_cmd: git push   input = the arguments (JSON), output = the result (JSON),
                                   policy and approval as attributes, a `metadata` card and an event

What Phoenix needs (found by clicking every span in a real browser, tests/telemetry/test_phoenix_ui.py):
- no `tool.parameters`: Phoenix parses it as JSON at ingestion and the UI's Tool card then renders
  an object as text, which crashes the whole Info tab (React error #31) until the page is reloaded;
- `input.value`/`output.value` always with their mime type; text where a person reads text;
- `metadata` as one JSON string: the Info tab shows it as a card, open by default.

Every span carries the context's `session.id` (openinference `using_session`), so the tasks of
one REPL share a Phoenix session. Without a tracer provider the spans record nothing and cost
~nothing. Secrets: the exporter redacts names, attributes, events and statuses of every span.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from opentelemetry import trace

from agent_runtime.core import ApprovalResult, Decision
from agent_runtime.telemetry import review as reviewing
from agent_runtime.telemetry import verdicts
from agent_runtime.telemetry.labels import NAME_MAX, one_line, tool_label  # noqa: F401 - also imported from here

TRACER_NAME = "agent_runtime"
JSON_MIME = "application/json"
TEXT_MIME = "text/plain"
HIDDEN = "(hidden: TRACE_HIDE_CONTENT=true)"
_APPROVER = {"user": "by the user", "config": "by the approval mode",
             "non_interactive": "(no one at a terminal to approve)", "remembered": "remembered from",
             "hook": "by", "judge": "by the judge"}


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def policy_summary(decision: "Decision | None", approval: "ApprovalResult | None") -> str | None:
    """One line a person reads: `policy: ask (rule git-rewrite) → approved by the user`."""
    if decision is None:
        return None
    rule = f" (rule {decision.rule})" if decision.rule else ""
    text = f"policy: {decision.decision}{rule}"
    if decision.decision == "deny":
        return f"{text} → refused: {decision.reason}"
    if approval is not None:
        text += f" → {approval.outcome} {_APPROVER.get(approval.source, 'by ' + approval.source)}"
        if approval.message and approval.source in ("remembered", "hook"):
            text += f" {approval.message}"  # where it was remembered, which hook
        elif approval.message and (approval.source == "judge" or not approval.approved):
            text += f": {approval.message}"
        if approval.judge == "human":
            text += f" (the judge sent it on: {approval.judge_reason})"
    elif decision.decision == "ask":
        text += " → not asked"
    return text


def context_attributes() -> dict[str, Any]:
    """session.id (and user.id, tags, ...) set with openinference's using_session() and friends."""
    from openinference.instrumentation import get_attributes_from_context

    return dict(get_attributes_from_context())


# --- TOOL (step 7 of the wrapper) ---


class ToolSpan:
    def __init__(self, span: trace.Span, redact: Callable[[str], str], tracer: Any = None):
        self.span = span
        self._redact = redact
        self._tracer = tracer or trace.get_tracer(TRACER_NAME)
        self._started = time.perf_counter()

    def approval_wait(self, wait_ms: float, approval: "ApprovalResult") -> None:
        """A child span `approval.wait` for the time a person took at the prompt (just ended), so
        that a reader sees it apart from the call's own work; none when no prompt was shown."""
        if wait_ms <= 0 or not self.span.is_recording():
            return
        end = time.time_ns()
        said = f": {self._redact(approval.message)}" if approval.message and not approval.approved else ""
        attributes = {"openinference.span.kind": "CHAIN", "approval.wait_ms": round(wait_ms, 3),
                      "approval.outcome": approval.outcome, "approval.source": approval.source,
                      "input.value": f"asked: {getattr(self.span, 'name', 'the tool call')}",
                      "input.mime_type": TEXT_MIME,
                      "output.value": f"{approval.outcome} after {wait_ms / 1000:.1f} s{said}",
                      "output.mime_type": TEXT_MIME, **context_attributes()}
        child = self._tracer.start_span("approval.wait", context=trace.set_span_in_context(self.span),
                                        start_time=end - int(wait_ms * 1_000_000), attributes=attributes)
        child.set_status(trace.Status(trace.StatusCode.OK))
        child.end(end_time=end)

    def finish(self, output: dict[str, Any], decision: "Decision | None", approval: "ApprovalResult | None",
               sandbox: str | None, truncated: bool, error_type: str | None,
               approval_wait_ms: float | None = None, blocked_by: str | None = None) -> None:
        """approval_wait_ms: time at the approval prompt (when the gate was consulted), which the
        span's duration includes: `approval.wait_ms`, for a reader to subtract.
        blocked_by: the user's hook that blocked the call, if one did."""
        span = self.span
        if not span.is_recording():
            return
        text = self._redact(_json(output))
        attributes: dict[str, Any] = {
            "output.value": text,
            "output.mime_type": JSON_MIME,
            "output.size": len(text),
            "output.truncated": truncated,
            "policy.decision": decision.decision if decision else "allow",
            "tool.duration_ms": round((time.perf_counter() - self._started) * 1000, 3),
        }
        # Who decided, also when no one was asked: a denial is the policy's, a block a hook's.
        decided = verdicts.verdict(decision, approval, blocked_by)
        attributes["approval.outcome"] = decided[0] if decided else "not_required"
        if decided:
            attributes["approval.source"], attributes["approval.label"], attributes["approval.verdict"] = decided[1:]
        summary = policy_summary(decision, approval)
        if blocked_by is not None and summary:
            summary += f" → blocked by the hook {blocked_by}"
        metadata: dict[str, Any] = {
            "summary": summary or "policy: not consulted (the call stopped before it)",
            "policy": {"decision": decision.decision, "rule": decision.rule, "reason": self._redact(decision.reason)}
            if decision else {"decision": None, "rule": None, "reason": "not consulted: the call stopped before it"},
            "approval": {"outcome": attributes["approval.outcome"], "source": attributes.get("approval.source"),
                         **({"verdict": decided[3]} if decided else {}),
                         **({"from": approval.message} if approval and approval.source in ("remembered", "hook")
                            else {})},
            "sandbox": sandbox,  # null: nothing ran in a sandbox (a read, a refusal)
            "output_truncated": truncated,
        }
        if decision is not None:
            attributes["policy.reason"] = self._redact(decision.reason)
            if decision.rule:
                attributes["policy.rule"] = decision.rule
        if approval is not None:
            if approval.message:  # what the person told the model (or where an approval is remembered from)
                attributes["approval.message"] = self._redact(approval.message)
            if approval.judge is not None:  # --approval judge: its verdict, also when a person decided
                attributes["approval.judge"] = approval.judge
                attributes["approval.judge_reason"] = self._redact(approval.judge_reason or "")
                metadata["approval"]["judge"] = {"verdict": approval.judge, "reason": attributes["approval.judge_reason"]}
        if decision is not None and decision.sandbox:
            attributes["policy.sandbox"] = decision.sandbox  # contained / review / escapes / unavailable
        if approval_wait_ms is not None:
            attributes["approval.wait_ms"] = round(approval_wait_ms, 3)
        if sandbox:
            attributes["sandbox"] = sandbox
        if error_type:
            attributes["error.type"] = error_type
            metadata["error_type"] = error_type
        attributes["metadata"] = _json(metadata)  # the Info tab's "Metadata" card
        if summary:
            span.add_event(self._redact(summary), {"policy.decision": attributes["policy.decision"],
                                                   "approval.outcome": attributes["approval.outcome"]})
        if error_type:
            span.set_status(trace.Status(trace.StatusCode.ERROR, self._redact(str(output.get("error", "")))[:500]))
        else:
            span.set_status(trace.Status(trace.StatusCode.OK))
        span.set_attributes(attributes)


# --- AGENT (the task), CHAIN (a step), LLM (a model call) ---


class TaskSpan:
    """The root of a task's trace."""

    def __init__(self, span: trace.Span, hide: bool, redact: Callable[[str], str] = lambda s: s):
        self.span, self._hide, self._redact = span, hide, redact
        self.finished = False
        self._started = time.perf_counter()

    @property
    def trace_id(self) -> str | None:
        context = self.span.get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else None

    def note(self, key: str, value: Any) -> None:
        """One more attribute of the task (None: none)."""
        if value is not None and self.span.is_recording():
            self.span.set_attribute(key, value)

    def finish(self, status: str, answer: str | None = None, error: str | None = None, steps: int | None = None,
               max_steps: int | None = None, review: dict[str, Any] | None = None) -> None:
        """status: answered, step_limit, repeated, gave_up, interrupted or error (agent.taskloop.TaskResult.status);
        a task that stopped with an answer (gave_up, repeated) has its answer's first line as its error.
        review: telemetry.review.task_review's figures, what a reviewer filters on; any problem
        among them (a refusal, a failed call, failing tests) marks the trace ERROR, answered or not."""
        self.finished = True
        span = self.span
        if not span.is_recording():
            return
        found = reviewing.problems(review) if review else []
        if review:
            span.set_attributes(reviewing.attributes(review, (time.perf_counter() - self._started) * 1000))
        if answer is not None:
            output = answer
        else:
            output = {"interrupted": "Interrupted (Ctrl-C) before a final answer."}.get(status, f"Error: {error}")
        span.set_attributes({"output.value": HIDDEN if self._hide else output, "output.mime_type": TEXT_MIME,
                             "agent.outcome": status, **({"agent.steps": steps} if steps is not None else {})})
        if status == "answered":
            if found:
                # What went wrong first: the trace list's error column is narrow.
                span.set_status(trace.Status(trace.StatusCode.ERROR, ", ".join(found)))
            else:
                span.set_status(trace.Status(trace.StatusCode.OK))
            return
        if status == "step_limit":
            limit = f" ({max_steps})" if max_steps else ""
            message = f"the step limit{limit} was reached without a final answer"
        elif status == "interrupted":
            message = "interrupted (Ctrl-C)"
        elif answer and not error:  # the give-up's report, not a word that says less
            message = answer.strip().splitlines()[0]
        else:
            message = error or "the task failed"
        if found:
            message = f"{message}; {', '.join(found)}"
        span.set_status(trace.Status(trace.StatusCode.ERROR, self._redact(message)[:500]))


class StepSpan:
    """One step of the agent: started and ended by agent.tracing around smolagents' step."""

    def __init__(self, span: trace.Span, hide: bool, redact: Callable[[str], str] = lambda s: s):
        self.span, self._hide, self._redact = span, hide, redact

    def end(self, action: str | None, observation: str | None, error: str | None = None) -> None:
        span = self.span
        if span.is_recording():
            attributes: dict[str, Any] = {}
            if action is not None:
                attributes.update({"input.value": HIDDEN if self._hide else action, "input.mime_type": TEXT_MIME})
            shown = "\n".join(p for p in (observation, f"Error: {error}" if error else None) if p)
            if shown:
                attributes.update({"output.value": HIDDEN if self._hide else shown, "output.mime_type": TEXT_MIME})
            span.set_attributes(attributes)
            if error:
                span.set_status(trace.Status(trace.StatusCode.ERROR, one_line(self._redact(error), 500)))
            else:
                span.set_status(trace.Status(trace.StatusCode.OK))
        span.end()


class HookSpan:
    """One run of a user's hook (tools/hooks.py): its outcome, time and message."""

    def __init__(self, span: trace.Span, redact: Callable[[str], str]):
        self.span = span
        self._redact = redact

    def finish(self, outcome: str, duration_ms: float, message: str, exit_code: int | None) -> None:
        span = self.span
        if not span.is_recording():
            return
        attributes: dict[str, Any] = {"hook.outcome": outcome, "hook.duration_ms": duration_ms,
                                      "output.value": self._redact(message or outcome), "output.mime_type": TEXT_MIME}
        if exit_code is not None:
            attributes["hook.exit_code"] = exit_code
        span.set_attributes(attributes)
        if outcome in ("error", "timeout"):
            span.set_status(trace.Status(trace.StatusCode.ERROR, self._redact(message)[:500]))
        else:
            span.set_status(trace.Status(trace.StatusCode.OK))


class PlanSpan:
    """The planner's stage (agent/planner.py): its request in, the plan out, the targets as attributes."""

    def __init__(self, span: trace.Span, hide: bool, redact: Callable[[str], str] = lambda s: s):
        self.span, self._hide, self._redact = span, hide, redact

    def finish(self, plan: dict[str, Any]) -> None:
        span = self.span
        if not span.is_recording():
            return
        attributes: dict[str, Any] = {
            "plan.targets": [str(t) for t in plan.get("targets") or []],
            "plan.used": bool(plan.get("used")),
            "plan.model": str(plan.get("model") or ""),
            "output.value": HIDDEN if self._hide else _json(plan), "output.mime_type": JSON_MIME,
        }
        if plan.get("dropped"):
            attributes["plan.dropped"] = [str(t) for t in plan["dropped"]]
        if plan.get("problem") and not self._hide:
            attributes["plan.problem"] = str(plan["problem"])
        if plan.get("note"):
            attributes["plan.note"] = str(plan["note"])
        span.set_attributes(attributes)
        span.set_status(trace.Status(trace.StatusCode.OK))  # no plan is an outcome, not a failure of the run


class LlmSpan:
    def __init__(self, span: trace.Span, hide: bool):
        self.span, self._hide = span, hide

    def queue_wait(self, seconds: float) -> None:
        """How long the request waited for one of its model's slots before it was sent (the span's
        time includes it)."""
        if self.span.is_recording():
            self.span.set_attribute("llm.queue_wait_s", round(seconds, 3))

    def finish(self, reply: str | None, tokens_in: int | None, tokens_out: int | None) -> None:
        span = self.span
        if not span.is_recording():
            return
        attributes: dict[str, Any] = {}
        if tokens_in is not None and tokens_out is not None:
            attributes.update({"llm.token_count.prompt": tokens_in, "llm.token_count.completion": tokens_out,
                               "llm.token_count.total": tokens_in + tokens_out})
        if not self._hide:
            attributes.update({
                "output.value": reply or "", "output.mime_type": TEXT_MIME,
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": reply or "",
            })
        span.set_attributes(attributes)
        span.set_status(trace.Status(trace.StatusCode.OK))


class Telemetry:
    """Makes the spans. Without a tracer provider they record nothing and cost ~nothing."""

    def __init__(self, tracer_provider: Any = None, redact: Callable[[str], str] = lambda s: s,
                 hide_content: bool = False):
        self.tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        self.redact = redact
        self.hide_content = hide_content  # TRACE_HIDE_CONTENT: no task, messages, thoughts or code

    @contextmanager
    def tool_span(self, tool: Any, arguments: dict[str, Any]) -> Iterator[ToolSpan]:
        # Redacted before it is cut short: half a secret no longer matches the redactor.
        name = tool_label(tool.name, {k: self.redact(v) if isinstance(v, str) else v for k, v in arguments.items()})
        with self.tracer.start_as_current_span(name, record_exception=False) as span:
            if span.is_recording():
                text = self.redact(_json(arguments))
                # No tool.parameters: see the module's docstring.
                span.set_attributes({
                    "openinference.span.kind": "TOOL",
                    "tool.name": tool.name,
                    "tool.description": tool.description,
                    "input.value": text,
                    "input.mime_type": JSON_MIME,
                    "input.size": len(text),
                    **context_attributes(),
                })
            yield ToolSpan(span, self.redact, self.tracer)

    @contextmanager
    def hook_span(self, event: str, name: str, command: str, timeout: float,
                  payload: dict[str, Any]) -> Iterator[HookSpan]:
        """A hook's run: what it was given (the payload, redacted or hidden) and the command."""
        with self.tracer.start_as_current_span(f"hook {event}: {name}", record_exception=False) as span:
            if span.is_recording():
                text = HIDDEN if self.hide_content else self.redact(_json(payload))
                span.set_attributes({"openinference.span.kind": "CHAIN", "hook.event": event, "hook.name": name,
                                     "hook.command": self.redact(command), "hook.timeout_s": timeout,
                                     "input.value": text, "input.mime_type": JSON_MIME, **context_attributes()})
            yield HookSpan(span, self.redact)

    @contextmanager
    def task_span(self, task: str, session_id: str | None = None,
                  metadata: dict[str, Any] | None = None) -> Iterator[TaskSpan]:
        """The task's root span, with every span under it in the Phoenix session `session_id`.
        An exception that escapes marks it as failed; otherwise call finish()."""
        from openinference.instrumentation import using_session

        hide = self.hide_content
        with using_session(session_id) if session_id else _nothing():
            name = "task" if hide else f"task: {one_line(self.redact(task))}"  # redacted before it is cut
            with self.tracer.start_as_current_span(name, record_exception=False,
                                                   set_status_on_exception=False) as span:
                handle = TaskSpan(span, hide, self.redact)
                if span.is_recording():
                    span.set_attributes({
                        "openinference.span.kind": "AGENT",
                        "input.value": HIDDEN if hide else task, "input.mime_type": TEXT_MIME,
                        **({"metadata": _json(metadata)} if metadata else {}),
                        **context_attributes(),
                    })
                try:
                    yield handle
                except BaseException as exc:
                    if not handle.finished:
                        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
                        handle.finish(status, error=f"{type(exc).__name__}: {exc}")
                    raise

    def start_step(self, number: int) -> StepSpan:
        """A step span, not made current: the caller makes it current while the step runs
        (trace.use_span), so that a step that is a generator never leaves it attached."""
        span = self.tracer.start_span(f"step {number}", attributes={
            "openinference.span.kind": "CHAIN", "agent.step": number, **context_attributes()})
        return StepSpan(span, self.hide_content, self.redact)

    @contextmanager
    def plan_span(self, request: str, model: str) -> Iterator[PlanSpan]:
        """The planner's stage: a CHAIN span `plan`, the parent of the planner's LLM span."""
        with self.tracer.start_as_current_span("plan", record_exception=False,
                                               set_status_on_exception=False) as span:
            if span.is_recording():
                span.set_attributes({"openinference.span.kind": "CHAIN", "plan.model": model,
                                     "input.value": HIDDEN if self.hide_content else request,
                                     "input.mime_type": TEXT_MIME, **context_attributes()})
            yield PlanSpan(span, self.hide_content, self.redact)

    @contextmanager
    def llm_span(self, model: str, messages: Iterable[tuple[str, str]],
                 parameters: dict[str, Any] | None = None, role: str | None = None) -> Iterator[LlmSpan]:
        """One model call. messages: (role, text) pairs; role: the part the model plays (coder,
        planner, judge: `llm.role`). An exception marks it as failed."""
        hide = self.hide_content
        with self.tracer.start_as_current_span(f"llm: {one_line(self.redact(model))}", record_exception=False,
                                               set_status_on_exception=False) as span:
            if span.is_recording():
                attributes: dict[str, Any] = {"openinference.span.kind": "LLM", "llm.model_name": model,
                                              **context_attributes()}
                if role:
                    attributes["llm.role"] = role
                if parameters:
                    attributes["llm.invocation_parameters"] = _json(parameters)
                if not hide:
                    pairs = list(messages)
                    attributes["input.value"] = _json({"messages": [{"role": r, "content": c} for r, c in pairs]})
                    attributes["input.mime_type"] = JSON_MIME
                    for i, (role, content) in enumerate(pairs):
                        attributes[f"llm.input_messages.{i}.message.role"] = role
                        attributes[f"llm.input_messages.{i}.message.content"] = content
                span.set_attributes(attributes)
            try:
                yield LlmSpan(span, hide)
            except BaseException as exc:
                said = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
                span.set_status(trace.Status(trace.StatusCode.ERROR, one_line(self.redact(said), 500)))
                raise


@contextmanager
def _nothing() -> Iterator[None]:
    yield
