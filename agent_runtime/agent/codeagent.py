"""Builds the CodeAgent: the tools, the lean prompt, the executor settings."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator

from smolagents.memory import ActionStep, TaskStep
from smolagents.monitoring import LogLevel

from agent_runtime.agent.context import PromptMemory
from agent_runtime.agent.prompt import project_instructions, prompt_templates
from agent_runtime.agent.repeats import RepeatedSteps
from agent_runtime.agent.replies import GuardedModel
from agent_runtime.core import Action
from agent_runtime.models.grammar import (
    SEARCH_LINES,
    changes_grammar,
    edit_grammar,
    python_grammar,
    reply_schema,
    tool_call_grammar,
)
from agent_runtime.models.profiles import FULL, Coaching
from agent_runtime.models.tokens import estimate_counter
from agent_runtime.safety.executor import SandboxedPythonExecutor
from agent_runtime.smol import add_to_observations, agent_class, stop_after_step
from agent_runtime.tools import build_tools
from agent_runtime.tools.results import ToolResult
from agent_runtime.tools.skillset import catalogue

if TYPE_CHECKING:
    from agent_runtime.tools.runtime import Runtime

CODE_TAGS = ("<code>", "</code>")


class StepLimit:
    """A step callback that stops the run after `limit` steps without a final answer. smolagents
    would then ask the model for one more answer (a model call that small models spend badly);
    instead the session runs the agent with one step to spare and this interrupts it before that
    step begins (agent_runtime/smol.py steps_to_run, stop_after_step). The session reports the step limit."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, step: Any, agent: Any = None) -> None:
        if agent is not None and step.step_number >= self.limit and not step.is_final_answer:
            agent.step_limit_reached = True
            stop_after_step(agent)


class StepCalls:
    """The tool calls each CodeAgent step made, for the step callbacks below: those since the last
    step ended (or since `sync`: calls made outside a step, the runtime's own before a task or a fix
    task's attempts, belong to none)."""

    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        self.seen = 0

    def sync(self) -> None:
        self.seen = len(self.runtime.state.history)

    def new_calls(self) -> list[Any]:
        history = self.runtime.state.history
        if self.seen > len(history):  # the history was reset (a new conversation)
            self.seen = 0
        calls, self.seen = history[self.seen:], len(history)
        return calls


class UnprintedErrors(StepCalls):
    """A step callback: a tool call that failed inside code that did not print its result
    (`p = propose_patch(...)`) is added to the step's observation, so the model learns why the
    next call broke instead of guessing."""

    def __call__(self, step: Any, agent: Any = None) -> None:
        observed = step.observations or ""
        notes = []
        for call in self.new_calls():
            error = call.facts.get("error")
            if error and error not in observed:
                suggestion = call.facts.get("recovery_suggestion")
                notes.append(f"- {call.tool} failed: {error}" + (f" ({suggestion})" if suggestion else ""))
        if notes:
            add_to_observations(step, "Errors your code did not print:\n" + "\n".join(notes))


class FileChanges(StepCalls):
    """A step callback: the steps whose calls changed the workspace's files (a patch applied or
    undone, a command that wrote). Code run again after such a step is no repeat: the tests run
    after a patch run on other code than before it."""

    def __init__(self, runtime: "Runtime"):
        super().__init__(runtime)
        self.steps: set[int] = set()  # id() of the memory steps that changed files

    def __call__(self, step: Any, agent: Any = None) -> None:
        if any(c.changed_files() for c in self.new_calls()):
            self.steps.add(id(step))


STEP_LIMIT_MESSAGE = "Stopped: the step limit ({n}) was reached before a final answer."


class CodingAgent(agent_class()):  # type: ignore[misc]
    """CodeAgent that sends its memory through PromptMemory (context budget, stable prefix) and
    stops at the step limit instead of asking the model for a last answer (see StepLimit)."""

    step_limit_reached = False
    prompt_memory: PromptMemory | None = None
    file_changes: FileChanges | None = None
    unprinted: UnprintedErrors | None = None
    repeats: RepeatedSteps | None = None
    repeat_calls: StepCalls | None = None

    def task_begins(self) -> None:
        """A task's steps begin: the calls made before them (the runtime's test run, an earlier fix
        task's attempts) belong to no step, and only its own steps can be repeated."""
        for callback in (self.file_changes, self.unprinted, self.repeat_calls):
            if callback is not None:
                callback.sync()
        if self.repeats is not None:
            self.repeats.begin()

    constrain_to: Callable[[list], None] = staticmethod(lambda tools: None)  # type: ignore[assignment]

    @contextmanager
    def only(self, offered: Callable[[Any], bool]) -> Iterator[None]:
        """For one task, only the tools `offered` takes, and final_answer: the prompt lists only them, the
        grammar writes calls to only them, and the interpreter's process is sent only them (by run()); a
        call to another is refused in this process (safety/executor.py serves only the tools it was sent).
        The next run() sends the tools it then has."""
        full = self.tools
        self.tools = {name: tool for name, tool in full.items() if name == "final_answer" or offered(tool)}
        self.constrain_to(list(self.tools.values()))
        try:
            yield
        finally:
            self.tools = full
            self.constrain_to(list(full.values()))

    @property
    def repeated(self) -> Any:
        """The step of the running task that repeated an earlier one (agent/repeats.py Repeat), if any."""
        return self.repeats.found if self.repeats is not None else None

    def __init__(self, *args: Any, skills_catalogue: str | None = None, **kwargs: Any):
        self.skills_catalogue = skills_catalogue  # before smolagents renders the system prompt
        super().__init__(*args, **kwargs)

    def initialize_system_prompt(self) -> str:
        # Appended, not rendered: a skill's description is someone's text, never a Jinja template.
        prompt = super().initialize_system_prompt()
        return f"{prompt}\n\n{self.skills_catalogue}" if self.skills_catalogue else prompt

    @property
    def format_retries(self) -> int:
        return self.model.format_retries if isinstance(self.model, GuardedModel) else 0

    @property
    def repeat_retries(self) -> int:
        return self.model.repeat_retries if isinstance(self.model, GuardedModel) else 0

    def task_codes(self) -> list[tuple[int, str]]:
        """(step number, code) of the steps of the current task since files last changed, for the
        repeat check."""
        codes: list[tuple[int, str]] = []
        changed = self.file_changes.steps if self.file_changes is not None else set()
        for step in self.memory.steps:
            if isinstance(step, TaskStep) or id(step) in changed:
                codes.clear()
            elif isinstance(step, ActionStep) and step.code_action:
                codes.append((step.step_number, step.code_action))
        return codes

    def messages_for_request(self) -> list | None:
        if self.prompt_memory is None:
            return None
        return self.prompt_memory.build(self.memory.system_prompt.system_prompt, self.memory.steps)



def constrain(model: Any, tools: list, max_tokens: int, limits: bool = True) -> None:
    """Give each LiteLLM model (a fallback chain has several) what its constraint needs. limits: the
    coaching rule grammar_limits (short thoughts, few statements)."""
    for inner in [m for _, m in getattr(model, "chain", [])] or [model]:
        kind = getattr(getattr(inner, "constraint", None), "kind", "none")
        if kind == "gbnf-tools":
            inner.grammar = tool_call_grammar(tools, max_tokens, limits)
        elif kind == "gbnf-python":
            inner.grammar = python_grammar(tools, max_tokens, limits=limits)
        elif kind in ("schema-tools", "schema"):
            inner.json_schema = reply_schema(tools if kind == "schema-tools" else None, limits)


def grammar_chooser(tools: list, max_tokens: int, edit: tuple[str, ...] | None = None,
                    readable: set[str] | None = None, edit_blocks: int | None = None,
                    edit_changes: dict[str, str] | None = None, limits: bool = True,
                    edit_explain: bool = True) -> Callable[[str], str | None] | None:
    """The grammar one request is held to, chosen per backend kind (a fallback chain mixes them):
    edit=headings, a fix in the edit form (models/grammar.edit_grammar); edit_changes=heading -> its
    code, the fix in the changes form (models/grammar.changes_grammar); readable=names, the Python
    grammar reading only those (a retry after a reply read a name nothing set). None: the model's
    own grammar, as set by constrain(). limits: the coaching rule grammar_limits (a SEARCH's length).
    edit_explain: a fix's reply starts with what is wrong (False: with the code)."""
    if not edit and readable is None:
        return None
    made: dict[str, str] = {}

    def grammar_for(kind: str) -> str | None:
        if edit and kind in ("gbnf-python", "gbnf-tools"):
            if edit_changes:
                made.setdefault("edit", changes_grammar(edit_changes, max_blocks=edit_blocks or 2,
                                                        search_lines=SEARCH_LINES if limits else None,
                                                        explanation_lines=4 if edit_explain else 0))
            made.setdefault("edit", edit_grammar(edit, max_blocks=edit_blocks, explanation_lines=8 if edit_explain else 0))
            return made["edit"]
        if kind == "gbnf-python" and not edit:
            made.setdefault("python", python_grammar(tools, max_tokens, readable=readable, limits=limits))
            return made["python"]
        return None

    return grammar_for


def build_agent(runtime: "Runtime", model: Any, max_steps: int, constraint: Any = None,
                prompt_memory: PromptMemory | None = None,
                around_call: Callable[[int], ContextManager[Any]] = lambda step: nullcontext(),
                observe: Callable[[Any], None] = lambda reply: None, coaching: Coaching = FULL,
                discarded: Callable[[str, float], None] = lambda why, seconds: None) -> CodingAgent:
    """coaching: the rules the model runs with (models/profiles.py); the default, every one."""
    reply_format = constraint.reply_format if constraint is not None else "text"
    limits = coaching.on("grammar_limits")
    # Without the grammar's limits a reply may run past max_tokens: it is checked like an unconstrained one.
    checked = constraint is None or not constraint.guaranteed or not limits
    guarded = GuardedModel(model, reply_format, CODE_TAGS, check_format=checked, around_call=around_call,
                           grammars=partial(grammar_chooser, max_tokens=runtime.settings.model_max_tokens,
                                            limits=limits),
                           observe=observe, coaching=coaching, discarded=discarded)
    changes, unprinted, repeat_calls = FileChanges(runtime), UnprintedErrors(runtime), StepCalls(runtime)
    repeats = RepeatedSteps(repeat_calls.new_calls, stop_after_step)
    agent = CodingAgent(
        tools=build_tools(runtime),
        model=guarded,
        step_callbacks=[unprinted, changes, repeats, StepLimit(max_steps)],
        code_block_tags=CODE_TAGS,
        prompt_templates=prompt_templates(reply_format),
        instructions=project_instructions(runtime.workspace.root, denied=lambda rel: runtime.decide(
            Action("read", paths=(rel,))).decision == "deny"),
        skills_catalogue=catalogue(runtime.skill_set().enabled, estimate_counter()),
        max_steps=max_steps,
        additional_authorized_imports=[],
        # No executor timeout: smolagents' timeout runs each step in a worker thread that it cannot
        # stop anyway, and it would cut off an approval prompt after 30 s. Tools carry their own
        # timeouts (run_cmd, run_tests); the interpreter caps operations and loop iterations;
        # Ctrl-C stops a step.
        executor_kwargs={"timeout_seconds": None},
        # The model's code runs in a sandboxed child process; its tool calls come back here as data.
        executor=SandboxedPythonExecutor([], use_bwrap=runtime.sandbox.kind == "bwrap", result_type=ToolResult,
                                         hide=(runtime.workspace.root,)),
        use_structured_outputs_internally=reply_format == "json",
        verbosity_level=LogLevel.OFF,
    )
    guarded.bind(agent)
    agent.prompt_memory, agent.file_changes, agent.unprinted = prompt_memory, changes, unprinted
    agent.repeats, agent.repeat_calls = repeats, repeat_calls
    agent.constrain_to = lambda tools: constrain(model, tools, runtime.settings.model_max_tokens, limits)
    agent.constrain_to(list(agent.tools.values()))
    return agent
