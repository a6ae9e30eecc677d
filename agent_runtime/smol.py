"""The one place that touches smolagents beyond its public API.

The agent is a smolagents CodeAgent and uses what smolagents documents freely: CodeAgent's
arguments, `step_callbacks`, `interrupt()`, `run(stream=True)`, `memory.steps`, `Model.generate`,
a Tool's class attributes. What smolagents does not promise -- a private method, a key of its
interpreter's state, the text it frames an observation with, the order its parts call each other
in -- is reached only through the functions here. Each docstring says what it relies on; each has
a contract test in tests/test_smol.py that fails when a smolagents version behaves otherwise
(hence `smolagents~=1.26.0`), and that test also fails on any private smolagents name used
anywhere else in the package.

Standard library only at import time: the model's code runs in a sandboxed child process
(safety/executor_child.py) that loads this file by path, where there is no agent_runtime package.
smolagents is imported inside the functions that need it.
"""

from __future__ import annotations

import importlib.util
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

# --- the interpreter (LocalPythonExecutor), in the sandboxed child and in the parent's executor ---

# smolagents' interpreter keeps what a step printed in its state under this key, and CodeAgent
# reads it from `python_executor.state` when the code fails (the logs before the error).
_PRINTED = "_print_outputs"


def import_interpreter() -> Any:
    """smolagents.local_python_executor without smolagents/__init__.py, which imports the whole agent
    stack (about 1 s per interpreter start). Relies on that module importing only smolagents modules
    that do not need the package's __init__; if that fails, the package is imported normally."""
    if "smolagents" not in sys.modules:
        spec = importlib.util.find_spec("smolagents")
        if spec is not None and spec.submodule_search_locations:
            sys.modules["smolagents"] = importlib.util.module_from_spec(spec)  # an empty package: its __init__ never runs
    try:
        from smolagents import local_python_executor
    except Exception:  # noqa: BLE001 (any failure: fall back to importing the package normally)
        for name in [n for n in sys.modules if n == "smolagents" or n.startswith("smolagents.")]:
            del sys.modules[name]
        from smolagents import local_python_executor
    return local_python_executor


def printed(state: dict) -> str:
    """What the interpreter's last step printed, from its state."""
    return str(state.get(_PRINTED, ""))


def set_printed(state: dict, text: str) -> None:
    """Make `text` what CodeAgent shows as a failed step's logs: on an exception from the executor it
    reads `python_executor.state["_print_outputs"]` into the step's observations."""
    state[_PRINTED] = text


def variable_names(state: dict) -> list[str]:
    """The names the model's code set, from the interpreter's state: smolagents keeps its own entries
    there under names that start with an underscore (`_print_outputs`, `_operations_count`,
    `__name__`)."""
    return [name for name in state if isinstance(name, str) and not name.startswith("_")]


def is_final_answer_tool(name: str, tool: Any) -> bool:
    """CodeAgent adds its own FinalAnswerTool as `final_answer` to the tools it sends the executor;
    the interpreter turns a call of the tool of that name into the step's final answer, so the
    sandboxed child keeps a local function of that name instead of calling back."""
    return name == "final_answer" and type(tool).__name__ == "FinalAnswerTool"


# --- the agent's steps ---


def wrap_step_stream(agent: Any, wrap: Callable[[Callable[[Any], Iterator[Any]], Any], Iterator[Any]]) -> None:
    """Run each of this agent's steps inside `wrap(step_stream, memory_step)`, which must iterate
    `step_stream(memory_step)` and yield what it yields.

    Private smolagents: `MultiStepAgent._run_stream` calls `self._step_stream(action_step)` once per
    action step and iterates it to the end within the step: the model call, the parsing and the
    code's execution all happen while it is advanced, and the ActionStep is the one that then goes
    into memory and to the step callbacks. No public hook marks a step's start: `step_callbacks` run
    once the step is over (in `_finalize_step`), and `run(stream=True)` yields nothing for a step
    before its model call has returned. Replaced on this instance only."""
    step_stream = agent._step_stream

    def wrapped(memory_step: Any) -> Iterator[Any]:
        return wrap(step_stream, memory_step)

    agent._step_stream = wrapped


def steps_to_run(limit: int) -> int:
    """The `max_steps` to give `run()` for a run stopped after `limit` steps by `stop_after_step`.
    Relies on `MultiStepAgent._run_stream` asking the model for a final answer of its own once
    `max_steps` steps have passed without one (`_handle_max_steps_reached`, one more model call that
    small models spend badly): with one step to spare, the step limit's callback interrupts the run
    before that happens."""
    return limit + 1


def stop_after_step(agent: Any) -> None:
    """From a step callback (or from another thread while a step runs): end the run before its next
    step begins. Relies on `interrupt()` setting the switch `_run_stream` checks at the start of each
    step, where it raises AgentError("Agent interrupted") out of `run()` -- no final-answer call."""
    agent.interrupt()


_agent_class: Any = None


def agent_class() -> type:
    """The base of the project's agent: a CodeAgent whose requests are written by its
    `messages_for_request()` (None: smolagents' own). Relies on CodeAgent's step building each
    model request from `self.write_memory_to_messages()` (the last-answer call after `max_steps`
    too), and on the planning calls asking for `summary_mode=True` (those keep smolagents' own)."""
    global _agent_class
    if _agent_class is None:
        from smolagents import CodeAgent

        class RequestWritingAgent(CodeAgent):
            def messages_for_request(self) -> list | None:
                return None

            def write_memory_to_messages(self, summary_mode: bool = False) -> list:
                messages = None if summary_mode else self.messages_for_request()
                return messages if messages is not None else super().write_memory_to_messages(summary_mode)

        _agent_class = RequestWritingAgent
    return _agent_class


def wrap_generate(model: Any, wrap: Callable[..., Any]) -> None:
    """Replace this model instance's `generate` by `wrap(generate, *args, **kwargs)`. Relies on
    smolagents calling `self.model.generate(...)` through the instance (an instance attribute wins
    over the class's method), never `Model.generate(self.model, ...)` nor `__call__` alone."""
    generate = model.generate

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return wrap(generate, *args, **kwargs)

    model.generate = wrapped


def add_to_observations(step: Any, text: str) -> None:
    """Add a line to a finished step's observations, for the model's next request. Relies on the
    ActionStep that `run(stream=True)` yields and the step callbacks get being the very object kept
    in `agent.memory.steps`, which the next request is written from."""
    before = (step.observations or "").rstrip()
    step.observations = f"{before}\n{text}" if before else text


def set_memory(agent: Any, steps: list[Any]) -> None:
    """Make `steps` the agent's memory (a resumed conversation, or the one kept across a model switch):
    `run(..., reset=False)` then continues after them."""
    agent.memory.reset()
    agent.memory.steps.extend(steps)


def rebuild_error(type_name: str, message: str) -> Exception:
    """A recorded step error as the smolagents error class of that name (AgentError when there is none),
    for a resumed step. Every AgentError takes the message and a logger, and logs the message at
    ERROR level: given a logger switched off, rebuilding an old error prints nothing."""
    from smolagents import utils
    from smolagents.monitoring import AgentLogger, LogLevel

    cls = getattr(utils, type_name, None)
    if not (isinstance(cls, type) and issubclass(cls, utils.AgentError)):
        cls = utils.AgentError
    return cls(message, AgentLogger(level=LogLevel.OFF))


# --- what smolagents writes into an observation or an error ---

_LOGS_HEADING = "Execution logs:\n"  # CodeAgent: "Execution logs:\n" + logs + "Last output from code snippet:\n" + value
_LAST_OUTPUT = "Last output from code snippet:\n"
_SYNTAX_ERROR = "Code parsing failed"  # the interpreter's message for code that is not Python


def split_observation(observation: str) -> tuple[str, str | None]:
    """(what the code printed, the value of its last line or None) from a step's observation as
    CodeAgent frames it."""
    text = observation[len(_LOGS_HEADING):] if observation.startswith(_LOGS_HEADING) else observation
    head, found, last = text.rpartition(_LAST_OUTPUT)
    return (head, last) if found else (text, None)


def is_parse_failure(error: Any) -> bool:
    """A step error that means the reply had no code block (AgentParsingError), or code that is not
    Python (the interpreter raises it as an execution error whose message starts "Code parsing failed")."""
    return error is not None and (type(error).__name__ == "AgentParsingError" or str(error).startswith(_SYNTAX_ERROR))


# --- models ---


@contextmanager
def request_settings(model: Any, values: dict[str, Any]) -> Iterator[None]:
    """Send `values` (temperature, max_tokens) with the requests made inside, whatever the model's own
    settings say. smolagents' ApiModel (LiteLLMModel) lets the model's `kwargs` override what a call
    passes, so a call's own values are put in `model.kwargs` for its duration."""
    defaults = model.kwargs
    model.kwargs = {**defaults, **values}
    try:
        yield
    finally:
        model.kwargs = defaults


# --- tools ---

_tool_class: Any = None


def tool_class() -> type:
    """The base of the project's tools: a smolagents Tool whose call goes straight to `forward`.

    - `skip_forward_signature_validation`: Tool checks that `forward`'s parameters match `inputs`
      unless this is set; our `forward(*args, **kwargs)` is generic on purpose (the wrapper binds
      and checks arguments).
    - `__call__`: Tool's own runs `setup()`, unpacks a dict argument (the wrapper does that) and
      takes the keyword `sanitize_inputs_outputs`; a tool is called from the model's code, which must
      reach only `forward` and the wrapper, never an option of smolagents'."""
    global _tool_class
    if _tool_class is None:
        from smolagents import Tool

        class DirectTool(Tool):
            skip_forward_signature_validation = True

            def __call__(self, *args: Any, sanitize_inputs_outputs: bool = False, **kwargs: Any) -> Any:
                return self.forward(*args, **kwargs)

        _tool_class = DirectTool
    return _tool_class
