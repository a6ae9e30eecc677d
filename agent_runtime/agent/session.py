"""One agent session: model, runtime and agent, tasks run in it, everything stopped at the end.

Used by the single-task CLI and the REPL. The embedded server is started before the slow
imports (smolagents, LiteLLM: seconds on a small machine) so the two overlap.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_runtime.cli.display import Display
from agent_runtime.config import Settings
from agent_runtime.models.constraints import context_window
from agent_runtime.models.embedded import (
    EMBEDDED_MODEL_NAME,
    EmbeddedServer,
    embedded_gguf,
)
from agent_runtime.models.errors import ModelError
from agent_runtime.safety.approval import Approver

log = logging.getLogger(__name__)


@dataclass
class TaskResult:
    status: str  # "answered", "step_limit", "interrupted", "error"
    answer: str | None = None
    error: str | None = None
    steps: int = 0

    @property
    def exit_code(self) -> int:
        return {"answered": 0, "step_limit": 3, "interrupted": 130, "error": 1}[self.status]


def describe_model_error(exc: BaseException, model_id: str, api_base: str | None) -> str:
    """A model failure as one line: which endpoint, what to do."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for err in chain:
        if isinstance(err, ModelError):
            return str(err)
    name = " ".join(type(e).__name__ for e in chain)
    where = api_base or "the provider"
    if "AuthenticationError" in name:
        return f"{where} refused the credentials for {model_id}: set the provider's API key (e.g. OPENAI_API_KEY) or MODEL_API_KEY"
    if "APIConnectionError" in name or "ConnectionError" in name or "ConnectError" in name:
        return f"cannot reach the model {model_id} at {where}: is the server running?"
    if "Timeout" in name:
        return f"the model {model_id} at {where} did not answer in time (MODEL_TIMEOUT)"
    if "NotFoundError" in name:
        return f"{where} does not know the model {model_id}: check MODEL_ID"
    if "ContextWindowExceeded" in name:
        return "the conversation no longer fits the model's context window: start over (/reset) or raise MODEL_CONTEXT_WINDOW"
    root = chain[-1]
    first_line = (str(root).strip().splitlines() or [type(root).__name__])[0]
    return f"the model call failed: {first_line[:300]}"


class Session:
    def __init__(self, settings: Settings, repo: Path, approver: Approver, display: Display,
                 use_bwrap: bool | None = None):
        self.settings = settings
        self.repo = repo
        self.approver = approver
        self.display = display
        self.use_bwrap = use_bwrap
        self.server: EmbeddedServer | None = None
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
        self._last_reply: str | None = None

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
        settings = self.settings
        if settings.model_id is None:
            self.server = EmbeddedServer(embedded_gguf(settings), context_window(settings, None),
                                         chat_format="gemma" if settings.model_gguf is None else None)
            self.server.start()  # loads while the slow imports below run
        self._quiet_libraries()
        from agent_runtime.telemetry.exporters import Tracing
        from agent_runtime.telemetry.redact import Redactor
        from agent_runtime.tools.runtime import Runtime

        self.redactor = Redactor.from_environment(os.environ, [Path.cwd() / ".env", self.repo / ".env"])
        self.tracing = Tracing(settings, self.redactor)
        self.runtime = Runtime.create(settings, self.repo, self.approver, telemetry=self.tracing.telemetry,
                                      use_bwrap=self.use_bwrap)
        self.model, self.constraint = self._make_model()
        self._show_progress()
        from agent_runtime.agent.codeagent import build_agent

        self.prompt_memory = self._prompt_memory()
        self.agent = build_agent(self.runtime, self.model, settings.agent_max_steps, self.constraint,
                                 prompt_memory=self.prompt_memory)

    def _make_model(self) -> tuple[Any, Any]:
        """The model (with its fallbacks) and the constraint its replies are held to."""
        from agent_runtime.models.constraints import Constraint, choose_constraint
        from agent_runtime.models.fallback import make_fallback_model
        from agent_runtime.models.litellm_model import (
            check_reachable,
            make_litellm_model,
        )
        from agent_runtime.models.replay import make_replay_model

        settings = self.settings
        if self.server is not None:
            with self.display.waiting("Starting the embedded model (llama.cpp)…") as status:
                self.server.wait_ready(tick=lambda s: status and status.update(
                    f"Starting the embedded model (llama.cpp)… {s:.0f}s"))
            self.model_label = EMBEDDED_MODEL_NAME if settings.model_gguf is None else f"{settings.model_gguf.name} (embedded)"
            model = make_litellm_model("openai/gemma-3-270m", settings, api_base=self.server.api_base,
                                       system_as_user=settings.model_gguf is None)
            constraint = choose_constraint(settings.grammar, None, None)
            model.constraint = constraint
            return model, constraint
        if settings.model_id.startswith("replay:"):
            self.model_label = settings.model_id
            return make_replay_model(Path(settings.model_id.split(":", 1)[1])), Constraint("none")
        # The first configured model that answers is used; the others wait as fallbacks.
        ids = [settings.model_id, *settings.model_fallback_ids]
        reachable: list[str] = []
        problems: dict[str, str] = {}
        for model_id in ids:
            try:
                check_reachable(model_id, self._api_base(model_id), settings.model_api_key)
                reachable.append(model_id)
            except ModelError as exc:
                problems[model_id] = str(exc)
        if not reachable:
            first = problems[ids[0]]
            raise ModelError(first + (f" (and the {len(ids) - 1} fallback(s) as well)" if len(ids) > 1 else ""))
        for skipped, problem in problems.items():
            if ids.index(skipped) < ids.index(reachable[0]):
                self.model_switches.append({"from": skipped, "to": reachable[0], "reason": problem})
                self.display.warn(f"{skipped} is not available ({problem}); using {reachable[0]}")
        constraint = choose_constraint(settings.grammar, reachable[0], self._api_base(reachable[0]))
        chain = []
        for model_id in reachable:
            api_base = self._api_base(model_id)
            model = make_litellm_model(model_id, settings, api_base=api_base,
                                       api_key=settings.model_api_key if model_id == settings.model_id else None)
            model.constraint = choose_constraint(settings.grammar, model_id, api_base, reply_format=constraint.reply_format)
            chain.append((model_id, model))
        self.model_label = reachable[0]
        if len(chain) == 1:
            return chain[0][1], constraint
        return make_fallback_model(chain, self._on_model_switch), constraint

    def _api_base(self, model_id: str) -> str | None:
        """MODEL_API_BASE belongs to MODEL_ID; fallbacks use their provider's default address."""
        return self.settings.model_api_base if model_id == self.settings.model_id else None

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
        from agent_runtime.agent.context import (
            PromptMemory,
            estimate_counter,
            litellm_counter,
            llama_server_counter,
        )

        settings = self.settings
        window = context_window(settings, settings.model_id, settings.model_api_base)
        reserve = settings.model_max_tokens
        if self.server is not None:
            counter = llama_server_counter(self.server.api_base)
        elif settings.model_id.startswith("replay:"):
            counter = estimate_counter()
        else:
            counter = litellm_counter(settings.model_id)
            if not settings.model_id.startswith(("openai/", "gpt-")) or settings.model_api_base:
                reserve += window // 20  # another model's tokenizer: keep 5% spare
        return PromptMemory(window, reserve, counter)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.tracing is not None:
            self.tracing.shutdown()  # waits at most 2 s for Phoenix
            self.tracing = None

    def _quiet_libraries(self) -> None:
        if self.settings.suppress_warnings:
            warnings.filterwarnings("ignore")
        for name in ("LiteLLM", "litellm", "httpx", "httpcore", "urllib3", "smolagents"):
            logging.getLogger(name).setLevel(logging.ERROR)
        import litellm

        litellm.suppress_debug_info = True
        litellm.drop_params = True  # parameters a provider does not take are left out, not an error

    def _show_progress(self) -> None:
        """Spinners while the model thinks and while a tool runs; the reply is kept for display."""
        generate = self.model.generate

        def generate_with_spinner(*args: Any, **kwargs: Any) -> Any:
            step = self.agent.step_number if self.agent is not None else 1
            with self.display.waiting(f"Step {step}: the model is thinking…"):
                message = generate(*args, **kwargs)
            self._last_reply = message.content if isinstance(message.content, str) else None
            return message

        self.model.generate = generate_with_spinner

        def tool_activity(name: str, arguments: dict[str, Any]):
            shown = ", ".join(f"{k}={v!r}"[:60] for k, v in arguments.items() if v is not None)
            return self.display.waiting(f"Running {name}({shown})…")

        self.runtime.activity = tool_activity

    # --- tasks ---

    def reset(self) -> None:
        self._fresh = True
        if self.runtime is not None:
            self.runtime.reset()
        if self.prompt_memory is not None:
            self.prompt_memory.reset()

    def run(self, task: str) -> TaskResult:
        """Run one task as one recorded run (run directory, trace, events)."""
        from agent_runtime.telemetry.records import RunRecord, load_spans

        record = RunRecord.start(self.settings.runs_path, task, self.settings, self.repo, self.model_label,
                                 self.approver.mode, self.runtime.sandbox.kind, self.redactor)
        self.last_run = record
        self.runtime.call_listeners.append(record.on_call)
        self.tracing.start_run(record.dir / "trace.jsonl")
        first_step = 0 if self._fresh else len(self.agent.memory.steps)  # a fresh run empties memory
        first_call = len(self.runtime.state.history)
        retries_before, switches_before = self.agent.format_retries, self._switches_reported
        result = TaskResult("interrupted", error="interrupted")
        try:
            result = self._run(task)
        finally:
            self.runtime.call_listeners.remove(record.on_call)
            self.tracing.end_run()
            roots = [s for s in load_spans(record.dir) if s["parent_id"] is None and s.get("kind") == "AGENT"]
            trace_id = roots[-1]["trace_id"] if roots else None
            steps = self.agent.memory.steps[first_step:]
            calls = self.runtime.state.history[first_call:]
            usage = [s.token_usage for s in steps if getattr(s, "token_usage", None)]
            errors = [type(getattr(s, "error", None)).__name__ for s in steps]
            record.finish(
                result.status, result.answer if result.status in ("answered", "step_limit") else None,
                error=result.error, steps=result.steps, trace_id=trace_id,
                tokens={"input": sum(u.input_tokens for u in usage), "output": sum(u.output_tokens for u in usage)},
                tool_calls=len(calls), tool_errors=sum(1 for c in calls if c.outcome == "error"),
                refused=sum(1 for c in calls if c.outcome == "refused"),
                parse_errors=errors.count("AgentParsingError"), code_errors=errors.count("AgentExecutionError"),
                format_retries=self.agent.format_retries - retries_before,
                model_switches=self.model_switches[switches_before:],  # includes any made at start-up
            )
            self._switches_reported = len(self.model_switches)
            self.display.run_saved(record.id, self.tracing.trace_url(trace_id))
        return result

    def _run(self, task: str) -> TaskResult:
        from smolagents.agents import FinalAnswerStep
        from smolagents.memory import ActionStep, ToolCall
        from smolagents.utils import AgentGenerationError

        from agent_runtime.agent.context import ContextOverflow

        agent = self.agent
        agent.step_limit_reached = False
        steps = 0
        answer: Any = None
        reset, self._fresh = self._fresh, False
        if reset and self.prompt_memory is not None:
            self.prompt_memory.reset()  # smolagents empties its memory on a fresh run
        shown: set[int] = set()  # smolagents yields the last step twice when the step limit is hit
        code_shown = False
        try:
            for event in agent.run(task, stream=True, reset=reset, max_steps=self.settings.agent_max_steps):
                if isinstance(event, ToolCall):  # parsed, about to run: show it now
                    self.display.step_code(agent.step_number, self._last_reply, str(event.arguments))
                    code_shown = True
                elif isinstance(event, ActionStep) and id(event) not in shown:
                    shown.add(id(event))
                    steps += 1
                    self.display.step_done(event, code_shown)
                    code_shown = False
                elif isinstance(event, FinalAnswerStep):
                    answer = event.output
        except KeyboardInterrupt:
            return TaskResult("interrupted", error="interrupted", steps=steps)
        except AgentGenerationError as exc:
            return TaskResult("error", error=describe_model_error(exc, self.model_label, self.settings.model_api_base),
                              steps=steps)
        except ContextOverflow as exc:
            return TaskResult("error", error=str(exc), steps=steps)
        if agent.step_limit_reached:
            return TaskResult("step_limit", answer=str(answer), steps=steps)
        return TaskResult("answered", answer=str(answer) if answer is not None else "", steps=steps)
