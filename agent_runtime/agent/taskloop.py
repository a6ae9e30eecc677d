"""One task: what the model is shown first, then either a fix task's attempts, which the harness
runs itself (agent/repair.py), or the CodeAgent's steps as they stream; and how the task ended.

The session (agent/session.py) owns what lives across tasks: the model, the runtime, the agent,
the conversation on disk. It makes one TaskLoop per task and reports what `run` returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent_runtime.agent.frontend import Frontend
from agent_runtime.config import Settings
from agent_runtime.core import Action


class TaskHost(Protocol):
    """What a task needs from the session it runs in (agent/session.py is the one): read, and the
    steps written through its two methods."""

    repo: Path
    settings: Settings
    display: Frontend
    runtime: Any  # tools/runtime.py Runtime
    kind: Any  # models/registry.py: the coder's kind (its coaching rules)
    agent: Any  # agent/codeagent.py CodingAgent
    prompt_memory: Any  # agent/context.py PromptMemory
    planner: Any
    tracing: Any  # telemetry/exporters.py Tracing
    meter: Any  # agent/stats.py StepMeter of the running task
    model_label: str

    def steps_written(self, count: int) -> None: ...

    def save_steps(self) -> None: ...


@dataclass
class TaskResult:
    status: str  # "answered", "step_limit", "repeated", "gave_up", "interrupted", "reader_closed", "error"
    answer: str | None = None
    error: str | None = None
    steps: int = 0
    refusals: int = 0  # tool calls the policy, a hook or a person refused (agent/runlog.py counts them)

    @property
    def exit_code(self) -> int:
        if self.status == "answered" and self.refusals:
            return 5  # answered, but something it tried was refused: a script must not read it as done
        # "repeated": a step repeated an earlier one and the task stopped without a final answer, as at the step limit
        return {"answered": 0, "step_limit": 3, "repeated": 3, "gave_up": 4, "interrupted": 130, "error": 1,
                "reader_closed": 0}[self.status]  # `--json ... | head`: the reader had what it wanted


def describe_model_error(exc: BaseException, model_id: str, api_base: str | None) -> str:
    """A model failure as one line: which endpoint, what to do (models/errors.py)."""
    from agent_runtime.models.errors import describe

    return describe(exc, model_id, api_base)


class TaskLoop:
    def __init__(self, session: TaskHost, task: str, attached: bool, fresh: bool):
        from agent_runtime.agent.attempts import RULES, FixAttempts

        self.session = session
        self.task = task
        self.attached = attached  # the task came with @path attachments (then nothing else is shown)
        self.fresh = fresh  # a new conversation: smolagents empties its memory
        self.started = time.monotonic()  # (attempts.py measures the time to the first request)
        runtime, settings = session.runtime, session.settings
        self.files: list[str] = []  # the repository's files
        self.shown: list[str] = []  # files the task's first message showed (whole or their failing code)
        self.whole: str | None = None  # the repository's text, where the first message shows it whole
        self.git_shown = False  # the first message shows what git says of the state a question asks about
        self.first_call = self.step_first_call = len(runtime.state.history)  # this task's, this step's calls
        self.plan: Any = None  # the planner's plan (agent/planner.py Plan), if it was asked
        self._first_request_s: float | None = None  # a CodeAgent task's (a fix task's: attempts.py measures it)
        self.attempts = FixAttempts(self.undo_patch, budget_s=settings.agent_time_budget,
                                    max_attempts=settings.agent_max_attempts,
                                    **{rule: session.kind.coaching.on(rule) for rule in RULES},
                                    started=self.started)

    @property
    def first_request_s(self) -> float | None:
        """From the task's start to its first model request."""
        return self.attempts.first_request_s if self.attempts.active else self._first_request_s

    # --- what the model is told before each step (agent/replies.py GuardedModel.next_step) ---

    def _next_step(self) -> None:
        """Where the hints rule is on, the step they suggest should the model repeat one."""
        from smolagents.memory import ActionStep

        from agent_runtime.agent.hints import next_step

        if not self.session.kind.coaching.on("hints"):  # a coaching rule
            return
        calls = self.session.runtime.state.history[self.first_call:]
        recent = [s.observations or "" for s in self.session.agent.memory.steps[-3:] if isinstance(s, ActionStep)]
        self.session.agent.model.next_step(next_step(calls, self.files, "\n".join(recent), shown=self.shown, task=self.task))

    def undo_patch(self, patch_id: str) -> dict[str, Any]:
        """An automatic undo, through the one tool path (policy, span, record) like any call."""
        tool = self.session.agent.tools.get("undo_patch")
        if tool is None:
            return {"error": "the undo_patch tool is not available"}
        return dict(tool(patch_id=patch_id))

    # --- the task ---

    def _may_read(self, rel: str) -> bool:
        """What the task's overview may show: what the policy lets read_file read without asking."""
        return self.session.runtime.decide(Action("read", paths=(rel,))).decision == "allow"

    def _prepare(self) -> None:
        """The repository's listing and, for a fix task, its failure and code in the first message."""
        from agent_runtime.agent.answer import earlier
        from agent_runtime.agent.events import HarnessStep, Plan, emit
        from agent_runtime.agent.overview import repository_files, small_repository
        from agent_runtime.agent.start import prepare
        from agent_runtime.config import state_home

        session = self.session
        listing = repository_files(session.repo, hidden=session.runtime.workspace.hidden)
        self.files = listing[0]
        self.whole, small = small_repository(session.repo, listing[0], self._may_read) if not listing[1] else (None, [])
        self.shown = small
        memory = session.prompt_memory
        if memory is None:
            return
        start = prepare(self.task, session.repo, listing, session.agent.tools.get("run_tests"), self._may_read, small,
                        fresh=self.fresh, attached=self.attached, max_tokens=session.settings.model_max_tokens,
                        window=memory.window, cache_dir=state_home() / "code-index",
                        planner=session.planner, coaching=session.kind.coaching,
                        recap="" if self.fresh else earlier(session.agent.memory.steps))
        self.shown = start.shown
        if start.tests.first_run_s:
            what = "ran the tests the task names" if start.tests.first else "ran the tests"
            emit(session.display, HarnessStep(what=f"{what} before the first request",
                                              seconds=round(start.tests.first_run_s, 3)))
        if start.plan is not None:
            self.plan = start.plan
            emit(session.display, Plan(**start.plan.as_dict()))
        if start.request is not None:
            # The failure and the code are in front of the model: its first reply is the fix, and the
            # harness runs the attempts (agent/repair.py).
            self.attempts.begin(start.request, len(session.runtime.state.history))
        overview = start.overview + self._git_facts()
        load_skill = session.agent.tools.get("load_skill")
        if session.kind.coaching.on("skill_preload") and load_skill is not None:  # a coaching rule
            from agent_runtime.agent.preload import preloaded

            overview += preloaded(self.task, session.runtime.skill_set().enabled, load_skill)
        memory.set_task_context(self.task, overview)

    def _git_facts(self) -> str:
        """For a question about the repository's history or working tree: what the git tools say,
        called before the first request through the one tool path, as the tests are for a failure."""
        from agent_runtime.agent.tasks import git_questions

        shown = []
        for name, arguments in git_questions(self.task):
            tool = self.session.agent.tools.get(name)
            result = tool(**arguments) if tool is not None else None
            if not isinstance(result, dict) or "error" in result:
                return ""  # not all of it: the model asks the tools itself
            call = f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
            shown.append(f"{call}:\n{result}")
        self.git_shown = bool(shown)
        return "\n\nWhat git says, read for you just now:\n" + "\n\n".join(shown) if shown else ""

    def _answer_note(self, step: Any) -> None:
        """A question about named files, once this step has read them: the step's observation
        (what the next request shows the model, the display and steps.jsonl) says the answer is due."""
        from agent_runtime.agent.hints import answer_now
        from agent_runtime.smol import add_to_observations

        history = self.session.runtime.state.history
        task_calls = history[self.first_call:]
        step_calls = task_calls[self.step_first_call - self.first_call:]
        self.step_first_call = len(history)
        hints = self.session.kind.coaching.on("hints") and not step.is_final_answer  # a coaching rule
        if hints and (note := answer_now(self.task, task_calls, step_calls, self.files)):
            add_to_observations(step, note)

    def _task_in_memory(self) -> tuple[int, list[Any]]:
        """For a task the harness runs without a CodeAgent step: the task put in the agent's memory (and
        written), as agent.run() would; returns the steps kept before it and the task's first request."""
        from smolagents.memory import TaskStep

        agent = self.session.agent
        if self.fresh:
            agent.memory.reset()
        kept = len(agent.memory.steps)
        task_step = TaskStep(task=self.task)
        agent.memory.steps.append(task_step)
        self.session.steps_written(kept)
        return kept, self.session.prompt_memory.build(agent.system_prompt, [task_step])

    def _repair(self) -> TaskResult:
        """A fix task's attempts, run by the harness (agent/repair.py): no CodeAgent step."""
        from agent_runtime.agent.context import ContextOverflow
        from agent_runtime.agent.repair import ModelFailed, Parts, Repair

        session = self.session
        agent = session.agent
        kept, first = self._task_in_memory()
        parts = Parts(agent.model, agent.tools, session.display, session.tracing.telemetry,
                      session.runtime.state.history, agent.memory.steps, first, session.meter.step,
                      session.settings.agent_max_steps)
        try:
            outcome = Repair(parts, self.attempts).run()
        except KeyboardInterrupt:
            return TaskResult("interrupted", error="interrupted", steps=len(agent.memory.steps) - kept - 1)
        except ModelFailed as exc:
            return TaskResult("error", error=describe_model_error(exc.__cause__ or exc, session.model_label,
                                                                  session.settings.model_api_base),
                              steps=len(agent.memory.steps) - kept - 1)
        except ContextOverflow as exc:
            return TaskResult("error", error=str(exc), steps=len(agent.memory.steps) - kept - 1)
        finally:
            session.save_steps()
        if outcome.status == "step_limit":
            from agent_runtime.agent.codeagent import STEP_LIMIT_MESSAGE

            return TaskResult("step_limit", answer=STEP_LIMIT_MESSAGE.format(n=session.settings.agent_max_steps),
                              steps=outcome.steps)
        from agent_runtime.agent.events import FinalAnswer, emit

        emit(session.display, FinalAnswer(answer=outcome.answer))
        return TaskResult(outcome.status, answer=outcome.answer, steps=outcome.steps)

    def _answer(self) -> TaskResult:
        """A question about the code of a repository the first message shows whole (agent/answer.py):
        one request."""
        from agent_runtime.agent.answer import answer_shown
        from agent_runtime.agent.context import ContextOverflow
        from agent_runtime.agent.events import FinalAnswer, emit

        session = self.session
        agent = session.agent
        self._first_request_s = round(time.monotonic() - self.started, 3)
        try:
            kept, first = self._task_in_memory()
            step = answer_shown(agent.model, first, agent.memory.steps[:kept], session.display,
                                session.tracing.telemetry, session.meter.step)
            agent.memory.steps.append(step)
        except KeyboardInterrupt:
            return TaskResult("interrupted", error="interrupted")
        except ContextOverflow as exc:
            return TaskResult("error", error=str(exc))
        except Exception as exc:  # noqa: BLE001 (whatever the model's client raises: said in one line)
            return TaskResult("error", error=describe_model_error(exc, session.model_label,
                                                                  session.settings.model_api_base))
        finally:
            session.save_steps()
        emit(session.display, FinalAnswer(answer=step.action_output))
        return TaskResult("answered", answer=step.action_output, steps=1)

    def _repeated(self, repeat: Any, steps: int) -> TaskResult:
        """A step repeated an earlier one (agent/repeats.py): the task ends with what its calls found."""
        from smolagents.memory import ActionStep

        from agent_runtime.agent.events import FinalAnswer, emit
        from agent_runtime.agent.repeats import repeat_answer

        session = self.session
        last = next((s for s in reversed(session.agent.memory.steps) if isinstance(s, ActionStep)), None)
        result = "" if last is None else "\n".join(str(p) for p in (last.observations, last.error) if p)
        answer = repeat_answer(repeat, session.runtime.state.history[self.first_call:], result)
        emit(session.display, FinalAnswer(answer=answer))
        return TaskResult("repeated", answer=answer, steps=steps)

    def run(self) -> TaskResult:
        session = self.session
        agent = session.agent
        agent.step_limit_reached = False
        if self.fresh and session.prompt_memory is not None:
            session.prompt_memory.reset()  # smolagents empties its memory on a fresh run
        self._prepare()
        if self.attempts.active:
            return self._repair()
        from agent_runtime.agent.tasks import about_code, is_question

        if is_question(self.task):  # answered from what is read: no tool that writes is there to call
            if session.prompt_memory is not None and (self.git_shown or (
                    self.whole and about_code(self.task, self.shown, self.whole))):
                return self._answer()  # what it asks about is shown: answered in one request
            with agent.only(lambda tool: getattr(tool, "reads_only", False)):
                return self._steps()
        return self._steps()

    def _steps(self) -> TaskResult:
        """The CodeAgent's steps as they stream, and how they ended."""
        from smolagents.agents import FinalAnswerStep
        from smolagents.memory import ActionStep, ToolCall
        from smolagents.utils import AgentError, AgentGenerationError

        from agent_runtime.agent.codeagent import STEP_LIMIT_MESSAGE
        from agent_runtime.agent.context import ContextOverflow
        from agent_runtime.agent.events import FinalAnswer, StepEnded, emit
        from agent_runtime.smol import steps_to_run

        session = self.session
        agent, display, settings = session.agent, session.display, session.settings
        steps = 0
        answer: Any = None
        shown: set[int] = set()  # smolagents yields the last step twice when the step limit is hit
        code_shown = False
        try:
            kept = 0 if self.fresh else len(agent.memory.steps)
            agent.task_begins()
            # One step to spare: StepLimit (codeagent.py) interrupts the run before it begins.
            stream = agent.run(self.task, stream=True, reset=self.fresh, max_steps=steps_to_run(settings.agent_max_steps))
            session.steps_written(kept)  # agent.run() has put the task in memory: it is written at once
            self._first_request_s = round(time.monotonic() - self.started, 3)
            self._next_step()  # the stream runs nothing before it is read: this is before the first step
            for event in stream:
                if isinstance(event, ToolCall):  # parsed, about to run: show it now
                    display.step_code(agent.step_number, agent.model.last_reply, str(event.arguments))
                    code_shown = True
                elif isinstance(event, ActionStep) and id(event) not in shown:
                    shown.add(id(event))
                    steps += 1
                    self._answer_note(event)
                    session.save_steps()  # as it happens: a killed run keeps its steps
                    display.step_done(event, code_shown)
                    emit(display, StepEnded(**session.meter.step(event)))
                    code_shown = False
                    if not (event.is_final_answer or agent.step_limit_reached):
                        self._next_step()
                elif isinstance(event, FinalAnswerStep):
                    answer = event.output
                    if not agent.step_limit_reached:
                        emit(display, FinalAnswer(answer=str(answer)))
        except KeyboardInterrupt:
            return TaskResult("interrupted", error="interrupted", steps=steps)
        except AgentGenerationError as exc:
            return TaskResult("error", error=describe_model_error(exc, session.model_label, settings.model_api_base),
                              steps=steps)
        except ContextOverflow as exc:
            return TaskResult("error", error=str(exc), steps=steps)
        except AgentError:
            if not (agent.step_limit_reached or agent.repeated):
                raise
        if agent.repeated is not None:
            return self._repeated(agent.repeated, steps)
        if agent.step_limit_reached:
            return TaskResult("step_limit", answer=STEP_LIMIT_MESSAGE.format(n=settings.agent_max_steps), steps=steps)
        return TaskResult("answered", answer=str(answer) if answer is not None else "", steps=steps)
