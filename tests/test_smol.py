"""agent_runtime/smol.py, the one adapter for what smolagents does not promise.

One contract test per touchpoint: each asserts the smolagents behaviour the adapter's function
relies on, so a smolagents upgrade that changes it fails a test named after it. The last test
fails on any private smolagents name used anywhere else in the package (file:line).
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from smolagents import CodeAgent, LiteLLMModel, MultiStepAgent, Tool
from smolagents.agents import FinalAnswerTool
from smolagents.local_python_executor import CodeOutput, InterpreterError, LocalPythonExecutor, PythonExecutor
from smolagents.memory import ActionStep, AgentMemory, TaskStep
from smolagents.models import ChatMessage, MessageRole, Model
from smolagents.monitoring import LogLevel
from smolagents.utils import AgentError

from agent_runtime import smol

PACKAGE = Path(__file__).resolve().parents[1] / "agent_runtime"
ADAPTER = PACKAGE / "smol.py"


class Scripted(Model):
    """A smolagents Model that answers with the given replies, in order (the last one repeated)."""

    def __init__(self, *replies: str):
        super().__init__(model_id="scripted")
        self.replies = list(replies)
        self.requests: list[list] = []

    def generate(self, messages: list, stop_sequences: Any = None, response_format: Any = None,
                 tools_to_call_from: Any = None, **kwargs: Any) -> ChatMessage:
        self.requests.append(list(messages))
        text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return ChatMessage(role=MessageRole.ASSISTANT, content=text)


def code(source: str) -> str:
    return f"Thought: go.\n<code>\n{source}\n</code>"


def agent_for(model: Model, cls: type = CodeAgent, **kwargs: Any) -> Any:
    kwargs.setdefault("max_steps", 3)
    return cls(tools=[], model=model, verbosity_level=LogLevel.OFF, code_block_tags=("<code>", "</code>"), **kwargs)


# --- the agent's steps ---


def test_wrap_step_stream_runs_each_step_inside_the_wrapper_and_the_step_goes_to_memory():
    agent = agent_for(Scripted(code("print('a')"), code("final_answer(2)")))
    seen: list[tuple[str, Any]] = []

    def wrap(step_stream, memory_step):
        seen.append(("start", memory_step))
        yield from step_stream(memory_step)
        seen.append(("end", memory_step))

    smol.wrap_step_stream(agent, wrap)
    assert agent.run("t") == 2
    assert [kind for kind, _ in seen] == ["start", "end", "start", "end"]
    actions = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
    assert [s for kind, s in seen if kind == "end"] == actions
    assert all(a is b for a, b in zip([s for kind, s in seen if kind == "end"], actions))


def test_wrap_generate_sees_every_model_call_of_the_agent():
    model = Scripted(code("print('a')"), code("final_answer(1)"))
    agent = agent_for(model)
    calls: list[int] = []

    def wrap(generate, *args, **kwargs):
        calls.append(1)
        return generate(*args, **kwargs)

    smol.wrap_generate(model, wrap)
    assert agent.run("t") == 1
    assert len(calls) == len(model.requests) == 2


def test_steps_to_run_and_stop_after_step_end_the_run_without_a_final_answer_call():
    # Without the interrupt, smolagents asks the model once more after max_steps.
    model = Scripted(code("print('a')"))
    agent_for(model, max_steps=1).run("t")
    assert len(model.requests) == 2
    # With one step to spare and the interrupt from a step callback: one model call, no more.
    model = Scripted(code("print('a')"))

    def limit(step, agent=None):
        if agent is not None and step.step_number >= 1:
            smol.stop_after_step(agent)

    agent = agent_for(model, max_steps=smol.steps_to_run(1), step_callbacks=[limit])
    with pytest.raises(AgentError, match="interrupted"):
        agent.run("t")
    assert len(model.requests) == 1


def test_agent_class_writes_the_requests_and_keeps_smolagents_summaries():
    model = Scripted(code("final_answer(1)"))
    mine = [ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": "mine"}])]

    class Mine(smol.agent_class()):
        def messages_for_request(self):
            return mine

    agent = agent_for(model, cls=Mine)
    assert issubclass(Mine, CodeAgent)
    assert agent.run("t") == 1
    assert model.requests == [mine]
    assert agent.write_memory_to_messages(summary_mode=True) != mine
    assert "summary_mode" in inspect.signature(MultiStepAgent.write_memory_to_messages).parameters


def test_add_to_observations_reaches_the_step_in_memory_and_the_next_request():
    model = Scripted(code("print('a')"), code("final_answer(1)"))

    def note(step, agent=None):
        if isinstance(step, ActionStep) and step.step_number == 1:
            smol.add_to_observations(step, "NOTE-XYZ")

    agent = agent_for(model, step_callbacks=[note])
    streamed = [e for e in agent.run("t", stream=True) if isinstance(e, ActionStep)]
    assert streamed[0] is agent.memory.steps[1]
    assert agent.memory.steps[1].observations.endswith("a\nNOTE-XYZ") or "NOTE-XYZ" in agent.memory.steps[1].observations
    assert "NOTE-XYZ" in str(model.requests[1])


def test_set_memory_is_continued_by_run_without_reset():
    first = agent_for(Scripted(code("print('REMEMBERED')"), code("final_answer(1)")))
    first.run("t")
    model = Scripted(code("final_answer(2)"))
    second = agent_for(model)
    smol.set_memory(second, list(first.memory.steps))
    assert isinstance(second.memory, AgentMemory)
    assert second.run("next", reset=False) == 2
    assert "REMEMBERED" in str(model.requests[0])
    assert isinstance(second.memory.steps[0], TaskStep)


def test_rebuild_error_makes_each_agent_error_quietly(capsys):
    from smolagents import utils

    classes = [c for c in vars(utils).values() if isinstance(c, type) and issubclass(c, AgentError)]
    assert len(classes) > 3
    for cls in classes:
        error = smol.rebuild_error(cls.__name__, "the message")
        assert type(error) is cls and str(error) == "the message" and error.message == "the message"
    assert type(smol.rebuild_error("NoSuchError", "m")) is AgentError
    out = capsys.readouterr()
    assert "the message" not in out.out + out.err


# --- the interpreter ---


def test_printed_is_where_codeagent_reads_a_failed_steps_logs():
    class Failing(LocalPythonExecutor):
        def __call__(self, code_action: str) -> CodeOutput:
            smol.set_printed(self.state, "PRINTED-BEFORE\n")
            raise InterpreterError("boom")

    agent = agent_for(Scripted(code("x = 1"), code("final_answer(1)")), executor=Failing([]))
    agent.run("t")
    step = agent.memory.steps[1]
    assert step.error is not None and "PRINTED-BEFORE" in step.observations
    # The interpreter itself keeps what a step printed there.
    executor = LocalPythonExecutor([])
    executor.send_tools({})
    executor("print('hello')")
    assert smol.printed(executor.state) == "hello\n"


def test_variable_names_are_the_interpreters_names_without_its_own():
    executor = LocalPythonExecutor([])
    executor.send_tools({})
    executor("x = 1\ny = 2\nprint(x)")
    assert set(smol.variable_names(executor.state)) == {"x", "y"}
    assert all(name.startswith("_") for name in executor.state if name not in ("x", "y"))


def test_is_final_answer_tool_names_codeagents_own_final_answer():
    agent = agent_for(Scripted(code("final_answer(1)")))
    assert smol.is_final_answer_tool("final_answer", agent.tools["final_answer"])
    assert isinstance(agent.tools["final_answer"], FinalAnswerTool)
    executor = LocalPythonExecutor([])
    executor.send_tools({"final_answer": lambda answer: answer})
    assert executor("final_answer(3)").is_final_answer


def test_split_observation_reads_codeagents_frame():
    agent = agent_for(Scripted(code("print('hi')\n5"), code("final_answer(1)")))
    agent.run("t")
    assert smol.split_observation(agent.memory.steps[1].observations) == ("hi\n", "5")


def test_is_parse_failure_knows_both_errors():
    agent = agent_for(Scripted("no code here", "Thought: x\n<code>\ndef (:\n</code>", code("final_answer(1)")))
    agent.run("t")
    errors = [s.error for s in agent.memory.steps if isinstance(s, ActionStep)][:2]
    assert type(errors[0]).__name__ == "AgentParsingError" and smol.is_parse_failure(errors[0])
    assert smol.is_parse_failure(errors[1]), str(errors[1])
    assert not smol.is_parse_failure(AgentError("other", agent.logger))


def test_import_interpreter_loads_the_interpreter_alone_by_path():
    probe = (f"import runpy, sys; smol = runpy.run_path({str(ADAPTER)!r}); lpe = smol['import_interpreter']();"
             "print(hasattr(lpe, 'LocalPythonExecutor'), 'smolagents.agents' in sys.modules)")
    out = subprocess.run([sys.executable, "-I", "-B", "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "False"], out.stderr


def test_the_adapter_imports_only_the_standard_library_at_import_time():
    tree = ast.parse(ADAPTER.read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {(n.module if isinstance(n, ast.ImportFrom) else n.names[0].name).split(".")[0] for n in top}
    assert names <= set(sys.stdlib_module_names) | {"__future__"}, names


def test_the_executor_owes_codeagent_what_pythonexecutor_declares():
    from agent_runtime.safety.executor import SandboxedPythonExecutor

    assert "__init__" not in PythonExecutor.__dict__  # skipping super().__init__() skips nothing
    assert PythonExecutor.__abstractmethods__ <= set(vars(SandboxedPythonExecutor))
    assert not SandboxedPythonExecutor.__abstractmethods__


# --- models ---


def test_request_settings_win_over_the_models_own():
    model = LiteLLMModel(model_id="openai/x", api_base="http://127.0.0.1:9", temperature=0.1)
    messages = [ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": "hi"}])]
    assert model._prepare_completion_kwargs(messages=messages, temperature=0.9)["temperature"] == 0.1
    with smol.request_settings(model, {"temperature": 0.9}):
        assert model._prepare_completion_kwargs(messages=messages, temperature=0.9)["temperature"] == 0.9
    assert model.kwargs["temperature"] == 0.1


# --- tools ---


def test_tool_class_calls_forward_directly_and_skips_the_signature_check():
    assert "sanitize_inputs_outputs" in inspect.signature(Tool.__call__).parameters

    class Generic(Tool):
        name, description, output_type = "generic", "d", "string"
        inputs = {"x": {"type": "string", "description": "x"}}

        def forward(self, *args, **kwargs):
            return "ok"

    with pytest.raises(Exception, match="'forward' method parameters"):
        Generic()  # Tool checks forward's parameters against `inputs` unless told not to

    class Direct(smol.tool_class()):
        name, description, output_type = "direct", "d", "string"
        inputs = {"x": {"type": "string", "description": "x"}}
        set_up = 0

        def setup(self):
            self.set_up += 1

        def forward(self, *args, **kwargs):
            return (args, kwargs)

    tool = Direct()
    assert tool({"x": "1"}) == (({"x": "1"},), {})  # no unpacking, no setup()
    assert tool.set_up == 0
    assert issubclass(Direct, Tool)


# --- no private smolagents name outside the adapter ---

SMOL_CLASSES = [CodeAgent, MultiStepAgent, Tool, PythonExecutor, LocalPythonExecutor, Model, LiteLLMModel, ChatMessage,
                ActionStep, TaskStep, AgentMemory, AgentError]
SYS_MODULES_WRITES = {"pop", "setdefault", "update", "clear", "__setitem__", "__delitem__", "popitem"}


def private_smolagents_names() -> set[str]:
    """Single-underscore names of the smolagents classes the package uses (methods, class and instance
    attributes), and the private keys smolagents' interpreter keeps in its state."""
    import smolagents.local_python_executor as lpe

    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    names: set[str] = set()
    for cls in SMOL_CLASSES:
        for klass in cls.__mro__:
            if not klass.__module__.startswith("smolagents"):
                continue
            names |= {n for n in vars(klass) if private(n)}
            for node in ast.walk(ast.parse(inspect.getsource(klass))):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                        and private(node.attr):
                    names.add(node.attr)
    for node in ast.walk(ast.parse(inspect.getsource(lpe))):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str) and private(node.slice.value):
            names.add(node.slice.value)
    return names


def _is_sys_modules(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "modules" and isinstance(node.value, ast.Name) \
        and node.value.id == "sys"


def touchpoints(tree: ast.AST, names: set[str], smol_classes: set[str]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names:
            found.append((node.lineno, f"attribute .{node.attr}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            found.append((node.lineno, f"string {node.value!r}"))
        elif isinstance(node, ast.Attribute) and node.attr == "__new__":
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            if owner in smol_classes or owner in ("cls", ""):
                found.append((node.lineno, f"{owner}.__new__"))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            if any(isinstance(t, ast.Subscript) and _is_sys_modules(t.value) for t in targets):
                found.append((node.lineno, "sys.modules write"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_sys_modules(node.func.value) \
                and node.func.attr in SYS_MODULES_WRITES:
            found.append((node.lineno, f"sys.modules.{node.func.attr}"))
    return found


def test_the_grep_finds_what_the_adapter_does():
    # The check is only worth something if it sees the adapter's own touchpoints.
    names = private_smolagents_names()
    assert {"_step_stream", "_run_stream", "_print_outputs", "_prepare_completion_kwargs"} <= names
    hits = {what for _, what in touchpoints(ast.parse(ADAPTER.read_text()), names, set())}
    assert {"attribute ._step_stream", "string '_print_outputs'", "sys.modules write"} <= hits


def test_no_private_smolagents_name_outside_the_adapter():
    names = private_smolagents_names()
    smol_classes = {c.__name__ for c in SMOL_CLASSES} | {"utils"}
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == ADAPTER:
            continue
        for line, what in touchpoints(ast.parse(path.read_text()), names, smol_classes):
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {what} (belongs in agent_runtime/smol.py)")
    assert not problems, "\n".join(problems)
