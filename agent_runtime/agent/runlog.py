"""What one task leaves behind: its run record (telemetry/records.py), its events (`--json`), its
trace's root span and its figures. Opened before the task's loop runs, finished after it, whatever
happened in between."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator, Protocol

from agent_runtime.agent.events import PatchApplied, RunEnded, RunStarted, ToolCall, emit
from agent_runtime.agent.taskloop import TaskHost, TaskLoop, TaskResult
from agent_runtime.safety.approval import Approver


class RunHost(TaskHost, Protocol):
    """What a task's record needs from its session besides what the task does: the conversation it
    belongs to (read; a run begins through `begin_run`), the roles' models, the approver, the
    coder's calls, the model switches to report."""

    session_id: str
    approver: Approver
    redactor: Any
    roles: dict[str, Any]
    calls: Any  # agent/stats.py ModelCalls
    model_switches: list[dict[str, str]]
    switches_reported: int

    @property
    def fresh(self) -> bool: ...

    @property
    def conversation(self) -> str | None: ...

    @property
    def previous_run(self) -> str | None: ...

    @property
    def steps_saved(self) -> int | None: ...

    def begin_run(self, record: Any, meter: Any) -> None: ...

    def switches_recorded(self) -> None: ...


class RunLog:
    def __init__(self, session: RunHost, typed: str):
        """typed: the task as the user typed it (before attachments and notes joined it)."""
        from agent_runtime.agent.stats import StepMeter
        from agent_runtime.telemetry.records import RunRecord

        self.session = s = session
        self.typed = typed
        fresh = s.fresh or s.conversation is None
        self.record = record = RunRecord.start(
            s.settings.runs_path, typed, s.settings, s.repo, s.model_label, s.approver.mode, s.runtime.sandbox.kind,
            s.redactor, conversation={"session_id": s.session_id, "conversation": None if fresh else s.conversation,
                                      "previous_run": None if fresh else s.previous_run},
            models=roles_record(s))
        s.begin_run(record, StepMeter(s))  # the meter: per step and per task, time without approval prompts, context, cost
        if s.runtime.journal is not None:  # undo history and kept proposals say which run made them
            s.runtime.journal.context.update(run_id=record.id, conversation=s.conversation)
        self.started = time.monotonic()
        self.model_seconds = s.calls.seconds
        self.server_before = dict(s.calls.server)
        s.calls.step_announced = 0
        s.runtime.hooks.context["session_id"] = s.session_id  # (a resumed conversation brings its own)
        self.command_files: list[str] = []  # what commands changed (their checkpoints say)
        self.not_covered: list[str] = []  # what commands did that undo cannot put back (their checkpoints say)
        self.patch_files: dict[str, list[str]] = {}  # patch id -> its files, while it stays applied
        self.first_step = 0 if s.fresh else len(s.agent.memory.steps)  # a fresh run empties memory
        self.first_call = len(s.runtime.state.history)
        self.retries_before, self.switches_before = s.agent.format_retries, s.switches_reported

    def _tool_event(self, record: Any, decision: Any, approval: Any) -> None:
        if record.outcome == "ok" and record.facts.get("files_changed"):  # a command's changes (its checkpoint's)
            self.command_files += [str(p) for p in record.facts.get("changed") or ()]
        if record.outcome == "ok":
            self.not_covered += [str(p) for p in record.facts.get("not_covered") or () if str(p) not in self.not_covered]
        emit(self.session.display, ToolCall(
            step=self.session.calls.step_announced or None, tool=record.tool, arguments=record.arguments,
            outcome=record.outcome, decision=decision.decision if decision else "allow",
            rule=decision.rule if decision else None, approval=approval.outcome if approval else "not_required",
            approval_source=approval.source if approval else None, error=record.error_type,
            result=record.summary(), seconds=round(record.duration_ms / 1000, 3)))

    def _patch_event(self, patch: Any) -> None:
        stats = patch.stats()
        self.patch_files[patch.id] = [str(s["path"]) for s in stats]
        emit(self.session.display, PatchApplied(patch_id=patch.id, files=stats))

    def _undo_event(self, patch_id: str) -> None:
        self.patch_files.pop(patch_id, None)  # undone: its files are as they were (a fix that failed)

    @property
    def files_changed(self) -> list[str]:
        return sorted(set(self.command_files).union(*self.patch_files.values()))

    @contextmanager
    def around(self, task: str, loop: TaskLoop) -> Iterator[list[TaskResult]]:
        """Around the task's loop: listeners, the trace file, the run_started event and the root span;
        the caller puts the loop's result in the yielded list; finish() reports it."""
        s, record = self.session, self.record
        runtime = s.runtime
        runtime.call_listeners += [record.on_call, self._tool_event]
        runtime.patch_listeners.append(self._patch_event)
        runtime.undo_listeners.append(self._undo_event)
        s.tracing.start_run(record.dir / "trace.jsonl")
        out = [TaskResult("interrupted", error="interrupted")]
        try:
            emit(s.display, RunStarted(run_id=record.id, task=self.typed, model=s.model_label, repo=str(s.repo),
                                       approval=s.approver.mode, sandbox=runtime.sandbox.kind,
                                       max_steps=s.settings.agent_max_steps))
            # The trace's root: the task in, the final answer out, the outcome as its status.
            with s.tracing.telemetry.task_span(task, s.session_id, {
                    "run_id": record.id, "model": s.model_label, "approval": s.approver.mode,
                    "sandbox": runtime.sandbox.kind, "max_steps": s.settings.agent_max_steps}) as root:
                try:
                    yield out
                except Exception as exc:  # a fault of ours: the run record says error, not interrupted
                    out[0] = TaskResult("error", error=f"{type(exc).__name__}: {exc}")
                    raise
                result = out[0]
                result.refusals = sum(1 for c in runtime.state.history[self.first_call:] if c.outcome == "refused")
                root.finish(result.status, result.answer, result.error, result.steps, s.settings.agent_max_steps,
                            s.meter.review(runtime.state.history[self.first_call:], self.files_changed,
                                           result.exit_code))
                root.note("agent_runtime.time_to_first_request_s", loop.first_request_s)
        finally:
            runtime.call_listeners.remove(record.on_call)
            runtime.call_listeners.remove(self._tool_event)
            runtime.patch_listeners.remove(self._patch_event)
            runtime.undo_listeners.remove(self._undo_event)
            s.tracing.end_run()
            if s.steps_saved is not None:
                s.save_steps()  # the last step (a step-limit or interrupted one is not streamed)
            out[0] = self._finish(out[0], loop)

    def _finish(self, result: TaskResult, loop: TaskLoop) -> TaskResult:
        """The run record finished and the run_ended event, with the task's figures."""
        from agent_runtime.agent.context import is_parse_failure
        from agent_runtime.agent.stats import server_figures
        from agent_runtime.telemetry.records import load_spans

        s, record = self.session, self.record
        roots = [sp for sp in load_spans(record.dir) if sp["parent_id"] is None and sp.get("kind") == "AGENT"]
        trace_id = roots[-1]["trace_id"] if roots else None
        if getattr(s.display, "reader_closed", False):  # stopped by the reader, not a failure
            result = TaskResult("reader_closed", error="the reader closed the output", steps=result.steps)
        steps = s.agent.memory.steps[self.first_step:]
        calls = s.runtime.state.history[self.first_call:]
        usage = [st.token_usage for st in steps if getattr(st, "token_usage", None)]
        failed = [st.error for st in steps if getattr(st, "error", None) is not None]
        parse_errors = sum(1 for e in failed if is_parse_failure(e))  # no code block, or not Python
        code_errors = sum(1 for e in failed if type(e).__name__ == "AgentExecutionError" and not is_parse_failure(e))
        tokens_in, tokens_out = sum(u.input_tokens for u in usage), sum(u.output_tokens for u in usage)
        model_s = round(s.calls.seconds - self.model_seconds, 3)
        retries = s.agent.format_retries - self.retries_before
        record.finish(
            result.status, result.answer if result.status in ("answered", "step_limit", "repeated", "gave_up") else None,
            error=result.error, steps=result.steps, trace_id=trace_id,
            tokens={"input": tokens_in, "output": tokens_out}, model_s=model_s,
            tool_calls=len(calls), tool_errors=sum(1 for c in calls if c.outcome == "error"),
            refused=sum(1 for c in calls if c.outcome == "refused"),
            parse_errors=parse_errors, code_errors=code_errors, format_retries=retries,
            model_switches=s.model_switches[self.switches_before:],  # includes any made at start-up
            models=roles_record(s),  # after any fallback: the model that answered last
            coaching_rules=s.kind.coaching.names,
            time_to_first_request_s=loop.first_request_s,
            **({"plan": loop.plan.as_dict()} if loop.plan is not None else {}),
        )
        s.switches_recorded()
        emit(s.display, RunEnded(run_id=record.id, status=result.status, exit_code=result.exit_code,
                                 steps=result.steps, tokens_in=tokens_in, tokens_out=tokens_out, model_s=model_s,
                                 wall_s=round(time.monotonic() - self.started, 3), parse_errors=parse_errors,
                                 code_errors=code_errors, format_retries=retries,
                                 files_changed=self.files_changed, not_covered=self.not_covered, error=result.error,
                                 models=models_by_role(s), attempts=loop.attempts.made(result.status == "answered"),
                                 time_to_first_request_s=loop.first_request_s,
                                 **server_figures(s.calls.server, self.server_before), **s.meter.summary(calls)))
        s.display.run_saved(record.id, s.tracing.trace_url(trace_id))
        return result


def models_by_role(s: RunHost) -> dict[str, str | None]:
    """The model each role used (the run_ended event, the run record): the coder's as it answered
    (after any fallback), the judge's when one judges, the planner's as configured."""
    judge = getattr(s.approver, "judge", None)
    planner = s.roles.get("planner")
    return {"coder": s.model_label or None, "planner": planner.name if planner else None,
            "judge": judge.label if judge is not None else None}


def roles_record(s: RunHost) -> dict[str, Any]:
    """models in metadata.json: each role's model, its id, where the choice came from."""
    from agent_runtime.models.roles import ROLES

    out: dict[str, Any] = {}
    used = models_by_role(s)
    for role in ROLES:
        chosen = s.roles.get(role)
        out[role] = None if chosen is None and used[role] is None else {
            **(chosen.as_dict() if chosen is not None else {}), "answered": used[role]}
    return out
