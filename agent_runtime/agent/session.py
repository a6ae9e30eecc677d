"""One agent session: model, runtime and agent, tasks run in it, everything stopped at the end.

Used by the single-task CLI and the REPL. The embedded server is started before the slow
imports (smolagents, LiteLLM: seconds on a small machine) so the two overlap.
"""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from agent_runtime.agent.frontend import Frontend
from agent_runtime.config import Settings
from agent_runtime.models.roles import ROLES, RoleModel, roles_for, task_size
from agent_runtime.safety.approval import Approver
from agent_runtime.smol import steps_to_run, stop_after_step

log = logging.getLogger(__name__)


@dataclass
class TaskResult:
    status: str  # "answered", "step_limit", "gave_up", "interrupted", "reader_closed", "error"
    answer: str | None = None
    error: str | None = None
    steps: int = 0

    @property
    def exit_code(self) -> int:
        return {"answered": 0, "step_limit": 3, "gave_up": 4, "interrupted": 130, "error": 1,
                "reader_closed": 0}[self.status]  # `--json ... | head`: the reader had what it wanted


def describe_model_error(exc: BaseException, model_id: str, api_base: str | None) -> str:
    """A model failure as one line: which endpoint, what to do (models/errors.py)."""
    from agent_runtime.models.errors import describe

    return describe(exc, model_id, api_base)


class Session:
    def __init__(self, settings: Settings, repo: Path, approver: Approver, display: Frontend,
                 use_bwrap: bool | None = None, session_id: str | None = None, first_task: str | None = None):
        """first_task: the task the session opens for (a single task), so that the models file's routes
        may pick the coder by its kind and size; None (the REPL): the roles as configured."""
        from agent_runtime.agent.tracing import new_session_id

        self.base_settings = settings  # as given; self.settings is the coder's view of them once open
        self.settings = settings
        self.first_task = first_task
        self.roles: dict[str, RoleModel | None] = {}  # models/roles.py: the model of each role
        self.session_id = session_id or new_session_id("task")  # Phoenix's session: the REPL passes one for all tasks
        self.repo = repo
        self.approver = approver
        self.display = display
        self.use_bwrap = use_bwrap
        self.kind: Any = None  # models/registry.py: what the model id means
        self.opened: Any = None
        self.runtime: Any = None
        self.agent: Any = None
        self.model: Any = None
        self.model_label = ""
        self.tracing: Any = None
        self.prompt_memory: Any = None
        self.redactor: Any = None
        self.last_run: Any = None
        self.constraint: Any = None
        self.model_switches: list[dict[str, str]] = []
        self._switches_reported = 0  # switches already written to a run record
        self._fresh = True
        self._step_announced = 0
        self.model_seconds = 0.0
        self.server_time = {"prompt_s": 0.0, "generation_s": 0.0, "prompt_tokens": 0, "prompt_evaluated": 0,
                            "calls": 0, "timed": 0}  # what the model's server says of its calls (models/timings.py)
        self._task_files: list[str] = []
        self._task_shown: list[str] = []  # files the task's first message showed (whole or their failing code)
        self._task_first_call = 0
        self._step_first_call = 0  # where the current step's tool calls begin (see _answer_note)
        self._attached = False  # the task came with @path attachments (then nothing else is shown)
        self.attempts: Any = None  # the running fix task's attempts (agent/attempts.py), if any
        self._task = ""  # the task being run
        # The conversation (agent/resume.py): its id (its first run's), the run before the next one,
        # memory steps already written to the run's steps.jsonl (None: the run has not begun).
        self.conversation: str | None = None
        self._previous_run: str | None = None
        self._saved: int | None = None
        self.applied: list[Any] = []  # patches applied in this session, in order (/diff)
        self._runs = 0  # tasks run in this session (session_end hooks get it)
        self._meter: Any = None  # the running task's figures (agent/stats.py)
        self.notes: list[str] = []  # what changed since the last task (an undo): said with the next one
        self.planner: Any = None  # the planner's model (agent/planner.py), when the planner role has one
        self.plan: Any = None  # the running task's plan (agent/planner.py Plan), if the planner was asked

    # --- lifecycle ---

    def __enter__(self) -> "Session":
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def open(self) -> None:
        self.roles = roles_for(self.base_settings, **self._route_hint())
        coder = self.roles["coder"]
        assert coder is not None  # the coder always has a model (the embedded one by default)
        self.settings = settings = coder.apply(self.base_settings)  # MODEL_ID & co. as the coder's kind reads them
        self.kind = coder.open_kind(self.base_settings)
        self.kind.start(self.display)  # the embedded server loads while the slow imports below run
        self._quiet_libraries()
        from agent_runtime.redact import Redactor
        from agent_runtime.telemetry.exporters import Tracing
        from agent_runtime.tools.runtime import Runtime

        self.redactor = Redactor.for_session(self.repo, settings)
        self.tracing = Tracing(settings, self.redactor)
        self.runtime = Runtime.create(settings, self.repo, self.approver, telemetry=self.tracing.telemetry,
                                      use_bwrap=self.use_bwrap)
        self.runtime.patch_listeners.append(lambda patch: self.applied.append(patch))
        self.model, self.constraint = self._make_model()
        planner = self.roles.get("planner")
        if planner is not None:
            from agent_runtime.agent.planner import Planner

            # Opened on its first plan; its calls are LLM spans with llm.role planner.
            self.planner = Planner(self.base_settings, planner, self.tracing.telemetry, self.display, self.kind)
        self._show_progress()
        from agent_runtime.agent.tracing import trace_model

        trace_model(self.model, self.tracing.telemetry, lambda: self.model_label, "coder", lambda: self.kind.coaching)
        judge = getattr(self.approver, "judge", None)
        if judge is not None and hasattr(judge.complete, "telemetry"):
            judge.complete.telemetry = self.tracing.telemetry  # its calls are LLM spans too (llm.role judge)
        self.prompt_memory = self._prompt_memory()
        self.rebuild_agent()
        self.runtime.undo_listeners.append(lambda patch_id: setattr(
            self, "applied", [p for p in self.applied if p.id != patch_id]))
        hooks = self.runtime.hooks  # the user's hooks.toml (tools/hooks.py)
        hooks.warn, hooks.context["session_id"] = self.display.warn, self.session_id
        hooks.session("session_start", model=self.model_label, approval=self.approver.mode,
                      sandbox=self.runtime.sandbox.kind)

    def _route_hint(self) -> dict[str, Any]:
        """The first task's kind (question, change, fix) and size, for the models file's routes."""
        if not self.first_task:
            return {}
        from agent_runtime.agent.tasks import about_failure, asks_change

        task = self.first_task
        kind = ("fix" if about_failure(task) else "change") if asks_change(task) else "question"
        return {"kind": kind, "tokens": task_size(task)}

    def models_by_role(self) -> dict[str, str | None]:
        """The model each role used (the run_ended event, the run record): the coder's as it answered
        (after any fallback), the judge's when one judges, the planner's as configured."""
        judge = getattr(self.approver, "judge", None)
        planner = self.roles.get("planner")
        return {"coder": self.model_label or None, "planner": planner.name if planner else None,
                "judge": judge.label if judge is not None else None}

    def _roles_record(self) -> dict[str, Any]:
        """models in metadata.json: each role's model, its id, where the choice came from."""
        out: dict[str, Any] = {}
        used = self.models_by_role()
        for role in ROLES:
            chosen = self.roles.get(role)
            out[role] = None if chosen is None and used[role] is None else {
                **(chosen.as_dict() if chosen is not None else {}), "answered": used[role]}
        return out

    def _make_model(self) -> tuple[Any, Any]:
        """The model (with its fallbacks) and the constraint its replies are held to."""
        opened = self.kind.open(self.display, self._on_model_switch)
        self.opened = opened
        self.model_label = opened.label
        self.model_switches += opened.switches
        return opened.model, opened.constraint

    def _on_model_switch(self, before: str, after: str, reason: str) -> None:
        from opentelemetry import trace

        self.model_label = after
        switch = {"from": before, "to": after, "reason": reason}
        self.model_switches.append(switch)
        trace.get_current_span().set_attribute("llm.model_fallback", f"{before} -> {after}: {reason}")
        if self.last_run is not None:
            self.last_run.event("model_fallback", **switch)
        self.display.warn(f"{before} failed ({reason}); continuing with {after}")

    def _prompt_memory(self):
        """The context budget, with the most exact token counter at hand."""
        from agent_runtime.agent.context import PromptMemory

        opened = self.opened
        return PromptMemory(opened.window, self.settings.model_max_tokens + opened.reserve_extra, self.kind.counter())

    def close(self) -> None:
        if self.runtime is not None and self.agent is not None:
            self.runtime.hooks.session("session_end", runs=self._runs)
        if self.agent is not None:
            self.agent.cleanup()  # stops the sandboxed interpreter process
        if self.planner is not None:
            self.planner.close()
        if self.kind is not None:
            self.kind.close()
        if self.runtime is not None:
            self.runtime.close()  # the MCP servers' processes
        if self.tracing is not None:
            self.tracing.shutdown()  # waits at most 2 s for Phoenix
            self.tracing = None

    def _quiet_libraries(self) -> None:
        if self.settings.suppress_warnings:
            warnings.filterwarnings("ignore")
        for name in ("LiteLLM", "litellm", "httpx", "httpcore", "urllib3", "smolagents"):
            logging.getLogger(name).setLevel(logging.ERROR)
        if not self.kind.uses_litellm:
            return  # recorded replies need no LiteLLM: its import is most of a start-up (seconds)
        import litellm

        litellm.suppress_debug_info = True
        litellm.drop_params = True  # parameters a provider does not take are left out, not an error

    @contextmanager
    def _model_call(self) -> Iterator[None]:
        """Around each call to the model: the step's start event, a spinner, the model's time."""
        step = self.agent.step_number if self.agent is not None else 1
        if step != self._step_announced:
            self._step_announced = step
            self.display.event("step_started", step=step)
        started = time.monotonic()
        try:
            with self.display.waiting(f"Step {step}: the model is thinking…"):
                yield
        finally:
            self.model_seconds += time.monotonic() - started

    def _show_progress(self) -> None:
        """Spinners while a tool runs."""

        def tool_activity(name: str, arguments: dict[str, Any]):
            shown = ", ".join(f"{k}={v!r}"[:60] for k, v in arguments.items() if v is not None)
            return self.display.waiting(f"Running {name}({shown})…")

        self.runtime.activity = tool_activity

    # --- tasks ---

    def reset(self) -> None:
        self._fresh = True
        self.conversation = self._previous_run = None
        self.notes.clear()
        if self.runtime is not None:
            self.runtime.reset()
        if self.prompt_memory is not None:
            self.prompt_memory.reset()

    def run(self, task: str) -> TaskResult:
        """Run one task as one recorded run (run directory, trace, events)."""
        from agent_runtime.agent.attach import attach_files
        from agent_runtime.telemetry.records import RunRecord, load_spans

        typed, task = task, attach_files(task, self.runtime)  # @path: the file's content joins the task
        self._attached = task != typed
        if self.notes and not self._fresh:  # the model's memory says otherwise: tell it
            task += f"\n\n(Since the last task: {'; '.join(self.notes)}.)"
        self.notes.clear()
        fresh = self._fresh or self.conversation is None
        record = RunRecord.start(self.settings.runs_path, typed, self.settings, self.repo, self.model_label,
                                 self.approver.mode, self.runtime.sandbox.kind, self.redactor, conversation={
                                     "session_id": self.session_id, "conversation": None if fresh else self.conversation,
                                     "previous_run": None if fresh else self._previous_run},
                                 models=self._roles_record())
        self.last_run = record
        self.conversation, self._previous_run, self._saved = record.metadata["conversation"], record.id, None
        if self.runtime.journal is not None:  # undo history and kept proposals say which run made them
            self.runtime.journal.context.update(run_id=record.id, conversation=self.conversation)
        started = self._run_started = time.monotonic()  # (attempts.py measures the time to the first request)
        model_seconds_before = self.model_seconds
        server_before = dict(self.server_time)
        self._step_announced, self.attempts = 0, None  # _run makes this task's attempts (none of the last's)
        self._runs += 1
        self.runtime.hooks.context["session_id"] = self.session_id  # (a resumed conversation brings its own)
        from agent_runtime.agent.stats import StepMeter, server_figures

        self._meter = StepMeter(self)  # per step and per task: time without approval prompts, context, cost
        self.runtime.call_listeners.append(record.on_call)
        self.runtime.call_listeners.append(self._tool_event)
        self.runtime.patch_listeners.append(self._patch_event)
        self._files_changed: list[str] = []
        self.tracing.start_run(record.dir / "trace.jsonl")
        first_step = 0 if self._fresh else len(self.agent.memory.steps)  # a fresh run empties memory
        first_call = len(self.runtime.state.history)
        retries_before, switches_before = self.agent.format_retries, self._switches_reported
        result = TaskResult("interrupted", error="interrupted")
        try:
            self.display.event("run_started", run_id=record.id, task=typed, model=self.model_label,
                               repo=str(self.repo), approval=self.approver.mode, sandbox=self.runtime.sandbox.kind,
                               max_steps=self.settings.agent_max_steps)
            # The trace's root: the task in, the final answer out, the outcome as its status.
            with self.tracing.telemetry.task_span(task, self.session_id, {
                    "run_id": record.id, "model": self.model_label, "approval": self.approver.mode,
                    "sandbox": self.runtime.sandbox.kind, "max_steps": self.settings.agent_max_steps}) as root:
                try:
                    result = self._run(task)
                except Exception as exc:  # a fault of ours: the run record says error, not interrupted
                    result = TaskResult("error", error=f"{type(exc).__name__}: {exc}")
                    raise
                root.finish(result.status, result.answer, result.error, result.steps, self.settings.agent_max_steps,
                            self._meter.review(self.runtime.state.history[first_call:], result.exit_code))
                root.note("agent_runtime.time_to_first_request_s", getattr(self.attempts, "first_request_s", None))
        finally:
            self.runtime.call_listeners.remove(record.on_call)
            self.runtime.call_listeners.remove(self._tool_event)
            self.runtime.patch_listeners.remove(self._patch_event)
            self.tracing.end_run()
            if self._saved is not None:
                self._save_steps()  # the last step (a step-limit or interrupted one is not streamed)
            roots = [s for s in load_spans(record.dir) if s["parent_id"] is None and s.get("kind") == "AGENT"]
            trace_id = roots[-1]["trace_id"] if roots else None
            if getattr(self.display, "reader_closed", False):  # stopped by the reader, not a failure
                result = TaskResult("reader_closed", error="the reader closed the output", steps=result.steps)
            steps = self.agent.memory.steps[first_step:]
            calls = self.runtime.state.history[first_call:]
            usage = [s.token_usage for s in steps if getattr(s, "token_usage", None)]
            from agent_runtime.agent.context import is_parse_failure

            failed = [s.error for s in steps if getattr(s, "error", None) is not None]
            parse_errors = sum(1 for e in failed if is_parse_failure(e))  # no code block, or not Python
            code_errors = sum(1 for e in failed if type(e).__name__ == "AgentExecutionError") - sum(
                1 for e in failed if type(e).__name__ == "AgentExecutionError" and is_parse_failure(e))
            tokens_in, tokens_out = sum(u.input_tokens for u in usage), sum(u.output_tokens for u in usage)
            model_s = round(self.model_seconds - model_seconds_before, 3)
            record.finish(
                result.status, result.answer if result.status in ("answered", "step_limit") else None,
                error=result.error, steps=result.steps, trace_id=trace_id,
                tokens={"input": tokens_in, "output": tokens_out}, model_s=model_s,
                tool_calls=len(calls), tool_errors=sum(1 for c in calls if c.outcome == "error"),
                refused=sum(1 for c in calls if c.outcome == "refused"),
                parse_errors=parse_errors, code_errors=code_errors,
                format_retries=self.agent.format_retries - retries_before,
                model_switches=self.model_switches[switches_before:],  # includes any made at start-up
                models=self._roles_record(),  # after any fallback: the model that answered last
                coaching_rules=self.kind.coaching.names,
                time_to_first_request_s=getattr(self.attempts, "first_request_s", None),
                **({"plan": self.plan.as_dict()} if self.plan is not None else {}),
            )
            self._switches_reported = len(self.model_switches)
            self.display.event("run_ended", run_id=record.id, status=result.status, exit_code=result.exit_code,
                               steps=result.steps, tokens_in=tokens_in, tokens_out=tokens_out, model_s=model_s,
                               wall_s=round(time.monotonic() - started, 3),
                               parse_errors=parse_errors, code_errors=code_errors,
                               format_retries=self.agent.format_retries - retries_before,
                               files_changed=sorted(set(self._files_changed)), error=result.error,
                               models=self.models_by_role(),
                               attempts=self.attempts.made(result.status == "answered") if self.attempts else 0,
                               **server_figures(self.server_time, server_before), **self._meter.summary(calls))
            self.display.run_saved(record.id, self.tracing.trace_url(trace_id))
        return result

    def _answer_note(self, step: Any) -> None:
        """A question about named files, once this step has read them: the step's observation
        (what the next request shows the model, the display and steps.jsonl) says the answer is due."""
        from agent_runtime.agent.hints import answer_now
        from agent_runtime.smol import add_to_observations

        task_calls = self.runtime.state.history[self._task_first_call:]
        step_calls = task_calls[self._step_first_call - self._task_first_call:]
        self._step_first_call = len(self.runtime.state.history)
        hints = self.kind.coaching.on("hints") and not step.is_final_answer  # a coaching rule (models/profiles.py)
        if hints and (note := answer_now(self._task, task_calls, step_calls, self._task_files)):
            add_to_observations(step, note)

    def _observe_reply(self, reply: Any) -> None:
        from agent_runtime.agent.stats import observe_reply

        observe_reply(self.server_time, reply)

    def _after_step(self, step: Any) -> None:
        """A fix task's decision after a step (agent/attempts.py); it may stop the task early."""
        if self.attempts is None:
            return
        self.attempts.after_step(step, self.runtime.state.history)
        if self.attempts.stopped is not None:
            stop_after_step(self.agent)  # ends the run before the next step; _run reports the answer

    def _undo_patch(self, patch_id: str) -> dict[str, Any]:
        """An automatic undo, through the one tool path (policy, span, record) like any call."""
        tool = self.agent.tools.get("undo_patch")
        if tool is None:
            return {"error": "the undo_patch tool is not available"}
        return dict(tool(patch_id=patch_id))

    def _may_read(self, rel: str) -> bool:
        """What the task's overview may show: what the policy lets read_file read without asking."""
        from agent_runtime.core import Action

        return self.runtime.decide(Action("read", paths=(rel,))).decision == "allow"

    def _next_step_hint(self) -> str | None:
        from smolagents.memory import ActionStep

        from agent_runtime.agent.hints import next_step

        calls = self.runtime.state.history[self._task_first_call:]
        recent = [s.observations or "" for s in self.agent.memory.steps[-3:] if isinstance(s, ActionStep)]
        return next_step(calls, self._task_files, "\n".join(recent), shown=self._task_shown, task=self._task)

    def _tool_event(self, record: Any, decision: Any, approval: Any) -> None:
        self.display.event("tool_call", step=self._step_announced or None, tool=record.tool, arguments=record.arguments,
                           outcome=record.outcome, decision=decision.decision if decision else "allow",
                           rule=decision.rule if decision else None,
                           approval=approval.outcome if approval else "not_required",
                           approval_source=approval.source if approval else None,
                           error=record.error_type, result=record.summary(), seconds=round(record.duration_ms / 1000, 3))

    def _patch_event(self, patch: Any) -> None:
        stats = patch.stats()
        self._files_changed += [str(s["path"]) for s in stats]
        self.display.event("patch_applied", patch_id=patch.id, files=stats)

    def _run(self, task: str) -> TaskResult:
        from smolagents.agents import FinalAnswerStep
        from smolagents.memory import ActionStep, ToolCall
        from smolagents.utils import AgentError, AgentGenerationError

        from agent_runtime.agent.codeagent import STEP_LIMIT_MESSAGE
        from agent_runtime.agent.context import ContextOverflow

        agent = self.agent
        agent.step_limit_reached = False
        steps = 0
        answer: Any = None
        reset, self._fresh = self._fresh, False
        if reset and self.prompt_memory is not None:
            self.prompt_memory.reset()  # smolagents empties its memory on a fresh run
        from agent_runtime.agent.attempts import FixAttempts
        from agent_runtime.agent.overview import repository_files, small_repository
        from agent_runtime.agent.start import prepare
        from agent_runtime.config import state_home

        listing = repository_files(self.repo, hidden=self.runtime.workspace.hidden)
        self._task_files, self._task_first_call = listing[0], len(self.runtime.state.history)
        self._step_first_call = self._task_first_call
        self._task = task
        self.plan = None
        # A new task: nothing planned for the last one's next request carries over.
        self.attempts = FixAttempts(self._undo_patch, say=self.display.warn, budget_s=self.settings.agent_time_budget,
                                    max_attempts=self.settings.agent_max_attempts, coaching=self.kind.coaching,
                                    started=self._run_started)
        small = small_repository(self.repo, listing[0], self._may_read)[1] if not listing[1] else []
        self._task_shown = small
        if self.prompt_memory is not None:
            start = prepare(task, self.repo, listing, self.agent.tools.get("run_tests"), self._may_read, small,
                            fresh=reset, attached=self._attached, max_tokens=self.settings.model_max_tokens,
                            window=self.prompt_memory.window, cache_dir=state_home() / "code-index",
                            planner=self.planner, coaching=self.kind.coaching)
            self._task_shown = start.shown
            if start.plan is not None:
                self.plan = start.plan
                self.display.event("plan", **start.plan.as_dict())
            if start.request is not None:
                # The failure and the code are in front of the model: its first reply is the fix (what
                # one completion gets, the agent gets; small models otherwise re-read what they were
                # just shown, or wander off), then one fresh attempt per step (agent/attempts.py).
                self.attempts.begin(start.request, len(self.runtime.state.history))
            self.prompt_memory.set_task_context(task, start.overview)
        shown: set[int] = set()  # smolagents yields the last step twice when the step limit is hit
        code_shown = False
        try:
            kept = 0 if reset else len(agent.memory.steps)
            # One step to spare: StepLimit (codeagent.py) interrupts the run before it begins.
            stream = agent.run(task, stream=True, reset=reset, max_steps=steps_to_run(self.settings.agent_max_steps))
            self._saved = kept  # agent.run() has put the task in memory: it is written at once
            self._save_steps()
            for event in stream:
                if isinstance(event, ToolCall):  # parsed, about to run: show it now
                    self.display.step_code(agent.step_number, agent.model.last_reply, str(event.arguments))
                    code_shown = True
                elif isinstance(event, ActionStep) and id(event) not in shown:
                    shown.add(id(event))
                    steps += 1
                    self._answer_note(event)
                    self._save_steps()  # as it happens: a killed run keeps its steps
                    self.display.step_done(event, code_shown)
                    self.display.event("step_ended", **self._meter.step(event))
                    code_shown = False
                    self._after_step(event)
                elif isinstance(event, FinalAnswerStep):
                    answer = event.output
                    if not agent.step_limit_reached:
                        self.display.event("final_answer", answer=str(answer))
        except KeyboardInterrupt:
            return TaskResult("interrupted", error="interrupted", steps=steps)
        except AgentGenerationError as exc:
            return TaskResult("error", error=describe_model_error(exc, self.model_label, self.settings.model_api_base),
                              steps=steps)
        except ContextOverflow as exc:
            return TaskResult("error", error=str(exc), steps=steps)
        except AgentError:
            if not agent.step_limit_reached and self.attempts.stopped is None:
                raise
        if self.attempts.stopped is not None:
            self.display.event("final_answer", answer=self.attempts.stopped)
            return TaskResult("gave_up", answer=self.attempts.stopped, steps=steps)
        if agent.step_limit_reached:
            return TaskResult("step_limit", answer=STEP_LIMIT_MESSAGE.format(n=self.settings.agent_max_steps),
                              steps=steps)
        return TaskResult("answered", answer=str(answer) if answer is not None else "", steps=steps)

    # --- the conversation on disk: steps.jsonl, resume, model switch ---

    def _save_steps(self) -> None:
        """Write the memory steps not written yet to the run's steps.jsonl."""
        from agent_runtime.agent.resume import write_steps

        if self.last_run is not None and self._saved is not None:
            contexts = self.prompt_memory.task_context if self.prompt_memory is not None else {}
            self._saved = write_steps(self.last_run, self.agent.memory.steps, self._saved, contexts)

    def resume(self, conversation: Any) -> None:
        """Take up a recorded conversation (agent/resume.py): the agent's memory, the tasks' context,
        the proposed patches; the next task continues it."""
        from agent_runtime.agent.resume import memory_steps, restore_patches
        from agent_runtime.smol import set_memory

        steps, contexts = memory_steps(conversation.items)
        self.runtime.reset()
        self.notes.clear()
        if self.prompt_memory is not None:
            self.prompt_memory.reset()
            self.prompt_memory.task_context.update(contexts)
        set_memory(self.agent, steps)
        self._fresh = False
        self.conversation, self._previous_run = conversation.conversation, conversation.run_id
        if conversation.session_id:
            self.session_id = conversation.session_id  # one Phoenix session for the whole conversation
        if self.runtime.journal is not None and conversation.conversation:
            self.applied, note = restore_patches(self.runtime, conversation.conversation)
            self.notes += [note] if note else []
        self.display.event("resumed", run_id=conversation.run_id, runs=conversation.runs, tasks=conversation.tasks,
                           steps=conversation.steps, patches=[p.id for p in self.runtime.patches.all()])

    def switch_model(self, model_id: str | None) -> None:
        """Use another coder model (an id, a name of the models file; None: the embedded one) from the
        next task on, keeping the conversation (agent/switch.py). If it cannot be opened the current
        one stays and the error is raised."""
        from agent_runtime.agent.switch import switch_coder

        switch_coder(self, model_id)

    def rebuild_agent(self) -> None:
        """A new CodeAgent on the session's model, runtime and prompt memory (traced as the first was)."""
        from agent_runtime.agent.codeagent import build_agent
        from agent_runtime.agent.tracing import trace_agent

        self.agent = build_agent(self.runtime, self.model, self.settings.agent_max_steps, self.constraint,
                                 prompt_memory=self.prompt_memory, around_call=self._model_call,
                                 hint=self._next_step_hint, plan=lambda: self.attempts and self.attempts.take(),
                                 observe=self._observe_reply, coaching=self.kind.coaching)
        trace_agent(self.agent, self.tracing.telemetry)  # a CHAIN span per step

    def context_used(self) -> tuple[int, int]:
        """(tokens the conversation takes now, the model's window)."""
        memory = self.prompt_memory
        if memory is None or self.agent is None:
            return 0, 0
        steps = [] if self._fresh else self.agent.memory.steps  # after /reset the next task starts afresh
        return memory.size(self.agent.system_prompt, steps), memory.window

    def compact(self) -> tuple[int, int]:
        """Compact older steps now (/compact): the conversation's tokens before and after."""
        steps = [] if self._fresh else self.agent.memory.steps
        return self.prompt_memory.compact_now(self.agent.system_prompt, steps)
