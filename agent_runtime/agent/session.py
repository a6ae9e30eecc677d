"""One agent session: model, runtime and agent, tasks run in it, everything stopped at the end.

Used by the single-task CLI and the REPL. The embedded server is started before the slow
imports (smolagents, LiteLLM: seconds on a small machine) so the two overlap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_runtime.agent.coder import Coder
from agent_runtime.agent.conversation import Conversation
from agent_runtime.agent.frontend import Frontend
from agent_runtime.agent.stats import ModelCalls, tool_spinner
from agent_runtime.agent.taskloop import TaskLoop, TaskResult
from agent_runtime.config import Settings
from agent_runtime.models.litellm_model import quiet_libraries
from agent_runtime.safety.approval import Approver


class Session:
    def __init__(self, settings: Settings, repo: Path, approver: Approver, display: Frontend,
                 use_bwrap: bool | None = None, session_id: str | None = None, first_task: str | None = None):
        """first_task: the task the session opens for (a single task), so that the models file's routes
        may pick the coder by its kind and size; None (the REPL): the roles as configured."""
        from agent_runtime.agent.tracing import new_session_id

        self.coder = Coder(settings)  # the model part (agent/coder.py), read through the properties below
        self.first_task = first_task
        self.session_id = session_id or new_session_id("task")  # Phoenix's session: the REPL passes one for all tasks
        self.repo = repo
        self.approver = approver
        self.display = display
        self.use_bwrap = use_bwrap
        self.runtime: Any = None
        self.agent: Any = None
        self.tracing: Any = None
        self.prompt_memory: Any = None
        self.redactor: Any = None
        self.calls = ModelCalls(display)  # the coder's calls: time, server figures, step events (agent/stats.py)
        self.task: TaskLoop | None = None  # the running (or last) task
        self.chat = Conversation()  # the conversation on disk (agent/conversation.py)
        self.applied: list[Any] = []  # patches applied in this session, in order (/diff)
        self._runs = 0  # tasks run in this session (session_end hooks get it)
        self.meter: Any = None  # the running task's figures (agent/stats.py)
        self.planner: Any = None  # the planner's model (agent/planner.py), when the planner role has one

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
        self.coder.choose(self.first_task)
        settings = self.settings
        self.kind.start(self.display)  # the embedded server loads while the slow imports below run
        quiet_libraries(settings.suppress_warnings, self.kind.uses_litellm)
        from agent_runtime.redact import Redactor
        from agent_runtime.telemetry.exporters import Tracing
        from agent_runtime.tools.runtime import Runtime

        self.redactor = Redactor.for_session(self.repo, settings)
        self.tracing = Tracing(settings, self.redactor)
        self.runtime = Runtime.create(settings, self.repo, self.approver, telemetry=self.tracing.telemetry,
                                      use_bwrap=self.use_bwrap)
        self.runtime.patch_listeners.append(lambda patch: self.applied.append(patch))
        self.coder.open(self.display, self.on_model_switch)  # the model, with its fallbacks
        planner = self.roles.get("planner")
        if planner is not None:
            from agent_runtime.agent.planner import Planner

            # Opened on its first plan; its calls are LLM spans with llm.role planner.
            self.planner = Planner(self.base_settings, planner, self.tracing.telemetry, self.display, self.kind)
        self.runtime.activity = tool_spinner(self.display)  # a spinner while a tool runs
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

    def on_model_switch(self, before: str, after: str, reason: str) -> None:
        from opentelemetry import trace

        switch = self.coder.switched(before, after, reason)
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
        self.coder.close()
        if self.runtime is not None:
            self.runtime.close()  # the MCP servers' processes
        if self.tracing is not None:
            self.tracing.shutdown()  # waits at most 2 s for Phoenix
            self.tracing = None

    # --- the model's part, read here; changed through self.coder's methods (agent/coder.py) ---

    settings = property(lambda self: self.coder.settings, doc="the settings as the coder's kind reads them")
    base_settings = property(lambda self: self.coder.base, doc="the settings as given")
    roles = property(lambda self: self.coder.roles)
    kind = property(lambda self: self.coder.kind)
    opened = property(lambda self: self.coder.opened)
    model = property(lambda self: self.coder.model)
    constraint = property(lambda self: self.coder.constraint)
    model_label = property(lambda self: self.coder.label)
    model_switches = property(lambda self: self.coder.switches)
    switches_reported = property(lambda self: self.coder.reported)

    # --- the conversation's part, read here; changed through self.chat's methods ---

    @property
    def fresh(self) -> bool:
        return self.chat.fresh

    @property
    def conversation(self) -> str | None:
        return self.chat.id

    @property
    def previous_run(self) -> str | None:
        return self.chat.previous_run

    @property
    def last_run(self) -> Any:
        return self.chat.last_run

    @property
    def steps_saved(self) -> int | None:
        return self.chat.steps_saved

    @property
    def notes(self) -> list[str]:
        return list(self.chat.notes)

    def begin_run(self, record: Any, meter: Any) -> None:
        """A task's run begins (agent/runlog.py): its record and the meter of its figures."""
        self.chat.begin(record)
        self.meter = meter

    def switches_recorded(self) -> None:
        self.coder.recorded()

    def continued(self, conversation: str | None, run_id: str | None, session_id: str | None, applied: list[Any],
                  note: str | None) -> None:
        """A recorded conversation taken up (agent/resume.py): its ids, the patches back in play."""
        self.chat.take_up(conversation, run_id, note)
        if session_id:
            self.session_id = session_id  # one Phoenix session for the whole conversation
        self.applied = applied

    def use_coder(self, chosen: Any, settings: Settings, kind: Any, opened: Any) -> None:
        """Another coder model from the next task on (agent/switch.py opened it)."""
        self.coder.use(chosen, settings, kind, opened)
        if self.planner is not None:
            self.planner.use_coder_kind(kind)  # a planner on the same embedded model uses this one's server
        contexts = dict(self.prompt_memory.task_context) if self.prompt_memory is not None else {}
        self.prompt_memory = self._prompt_memory()  # the new model's window and token counter
        self.prompt_memory.task_context.update(contexts)

    def reset(self) -> None:
        self.chat.reset()
        if self.runtime is not None:
            self.runtime.reset()
        if self.prompt_memory is not None:
            self.prompt_memory.reset()

    def run(self, task: str) -> TaskResult:
        """Run one task as one recorded run (run directory, trace, events)."""
        from agent_runtime.agent.attach import attach_files
        from agent_runtime.agent.runlog import RunLog

        typed, task = task, attach_files(task, self.runtime)  # @path: the file's content joins the task
        notes = self.chat.take_notes()
        if notes and not self.chat.fresh:  # the model's memory says otherwise: tell it
            task += f"\n\n(Since the last task: {'; '.join(notes)}.)"
        log = RunLog(self, typed)
        self._runs += 1
        self.task = TaskLoop(self, task, attached=task != typed, fresh=self.chat.fresh)
        self.chat.task_started()
        with log.around(task, self.task) as result:
            result[0] = self.task.run()
        return result[0]

    @property
    def attempts(self) -> Any:
        """The running (or last) task's attempts (agent/attempts.py), if a task has run."""
        return self.task.attempts if self.task is not None else None

    @property
    def plan(self) -> Any:
        """The running (or last) task's plan (agent/planner.py Plan), if the planner was asked."""
        return self.task.plan if self.task is not None else None

    # --- the conversation on disk: steps.jsonl, resume, model switch ---

    def steps_written(self, count: int) -> None:
        """The task's memory steps are on record from `count` on: written at once, then as they come."""
        self.chat.saved_up_to(count)
        self.save_steps()

    def save_steps(self) -> None:
        """Write the memory steps not written yet to the run's steps.jsonl."""
        from agent_runtime.agent.resume import write_steps

        chat = self.chat
        if chat.last_run is not None and chat.steps_saved is not None:
            contexts = self.prompt_memory.task_context if self.prompt_memory is not None else {}
            chat.saved_up_to(write_steps(chat.last_run, self.agent.memory.steps, chat.steps_saved, contexts))

    def resume(self, conversation: Any) -> None:
        """Take up a recorded conversation (agent/resume.py); the next task continues it."""
        from agent_runtime.agent.resume import take_up

        take_up(self, conversation)

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
                                 prompt_memory=self.prompt_memory, around_call=self.calls.around,
                                 observe=self.calls.observe, coaching=self.kind.coaching,
                                 discarded=self.calls.discarded)
        trace_agent(self.agent, self.tracing.telemetry)  # a CHAIN span per step

    def context_used(self) -> tuple[int, int]:
        """(tokens the conversation takes now, the model's window)."""
        memory = self.prompt_memory
        if memory is None or self.agent is None:
            return 0, 0
        steps = [] if self.chat.fresh else self.agent.memory.steps  # after /reset the next task starts afresh
        return memory.size(self.agent.system_prompt, steps), memory.window

    def compact(self) -> tuple[int, int]:
        """Compact older steps now (/compact): the conversation's tokens before and after."""
        steps = [] if self.chat.fresh else self.agent.memory.steps
        return self.prompt_memory.compact_now(self.agent.system_prompt, steps)
