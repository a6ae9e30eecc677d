"""Builds the CodeAgent: the tools, the lean prompt, the executor settings."""

from __future__ import annotations

import ast
import json
import time
from typing import TYPE_CHECKING, Any

from smolagents import CodeAgent
from smolagents.memory import ActionStep
from smolagents.monitoring import LogLevel, Timing
from smolagents.utils import AgentMaxStepsError

from agent_runtime.agent.context import PromptMemory
from agent_runtime.agent.prompt import project_instructions, prompt_templates
from agent_runtime.models.grammar import python_grammar, reply_schema, tool_call_grammar
from agent_runtime.tools import build_tools

if TYPE_CHECKING:
    from agent_runtime.tools.runtime import Runtime

STEP_LIMIT_MESSAGE = "Stopped: the step limit ({n}) was reached before a final answer."


class CodingAgent(CodeAgent):
    """CodeAgent that sends its memory through PromptMemory (context budget, stable prefix) and
    stops at the step limit instead of asking the model for a last answer."""

    step_limit_reached = False
    prompt_memory: PromptMemory | None = None
    format_retries = 0

    def write_memory_to_messages(self, summary_mode: bool = False) -> list:
        if self.prompt_memory is None or summary_mode:
            return super().write_memory_to_messages(summary_mode)
        return self.prompt_memory.build(self.memory.system_prompt.system_prompt, self.memory.steps)

    def _handle_max_steps_reached(self, task: str) -> Any:
        self.step_limit_reached = True
        now = time.time()
        step = ActionStep(
            step_number=self.step_number,
            error=AgentMaxStepsError("Reached the step limit.", self.logger),
            timing=Timing(start_time=now, end_time=now),
        )
        self.memory.steps.append(step)
        return STEP_LIMIT_MESSAGE.format(n=self.step_number - 1)


FORMAT_REMINDERS = {
    "text": "Your reply could not be used ({problem}). Reply again in exactly this form:\n"
            "Thought: one short sentence.\n<code>\nprint(repo_info())\n</code>",
    "json": 'Your reply could not be used ({problem}). Reply again with one JSON object: '
            '{{"thought": "one short sentence", "code": "print(repo_info())"}}',
}


def reply_problem(text: str | None, reply_format: str, code_tags: tuple[str, str]) -> str | None:
    """Why a reply cannot be run, or None: the same parsing smolagents does, plus Python's."""
    from smolagents.utils import extract_code_from_text, parse_code_blobs

    if not text or not text.strip():
        return "it was empty"
    try:
        if reply_format == "json":
            code = json.loads(text)["code"]
            code = extract_code_from_text(code, code_tags) or code
        else:
            closed = text if text.rstrip().endswith(code_tags[1]) else text + code_tags[1]
            code = parse_code_blobs(closed, code_tags)
        ast.parse(code)
    except (ValueError, KeyError, TypeError) as exc:
        return f"no code block: {str(exc).splitlines()[0][:120]}"
    except SyntaxError as exc:
        return f"the code is not valid Python: {exc.msg} on line {exc.lineno}"
    return None


def guard_format(agent: "CodingAgent", reply_format: str) -> None:
    """A reply that does not parse gets one retry, with a short reminder of the format, before
    it counts as a failed step. Only the second reply goes into memory (the prefix stays stable)."""
    from smolagents.models import ChatMessage, MessageRole

    generate = agent.model.generate

    def generate_once_more(messages: list, *args: Any, **kwargs: Any) -> Any:
        reply = generate(messages, *args, **kwargs)
        problem = reply_problem(reply.content, reply_format, agent.code_block_tags)
        if problem is None:
            return reply
        agent.format_retries += 1
        reminder = FORMAT_REMINDERS[reply_format].format(problem=problem)
        again = list(messages) + [
            ChatMessage(role=MessageRole.ASSISTANT, content=[{"type": "text", "text": reply.content or ""}]),
            ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": reminder}]),
        ]
        return generate(again, *args, **kwargs)

    agent.model.generate = generate_once_more


def constrain(model: Any, tools: list, max_tokens: int) -> None:
    """Give each LiteLLM model (a fallback chain has several) what its constraint needs."""
    for inner in [m for _, m in getattr(model, "chain", [])] or [model]:
        kind = getattr(getattr(inner, "constraint", None), "kind", "none")
        if kind == "gbnf-tools":
            inner.grammar = tool_call_grammar(tools, max_tokens)
        elif kind == "gbnf-python":
            inner.grammar = python_grammar(tools, max_tokens)
        elif kind in ("schema-tools", "schema"):
            inner.json_schema = reply_schema(tools if kind == "schema-tools" else None)


def build_agent(runtime: "Runtime", model: Any, max_steps: int, constraint: Any = None,
                prompt_memory: PromptMemory | None = None) -> CodingAgent:
    reply_format = constraint.reply_format if constraint is not None else "text"
    agent = CodingAgent(
        tools=build_tools(runtime),
        model=model,
        prompt_templates=prompt_templates(reply_format),
        instructions=project_instructions(runtime.workspace.root),
        max_steps=max_steps,
        additional_authorized_imports=[],
        # No executor timeout: smolagents' timeout runs each step in a worker thread that it cannot
        # stop anyway, and it would cut off an approval prompt after 30 s. Tools carry their own
        # timeouts (run_cmd, run_tests); the interpreter caps operations and loop iterations;
        # Ctrl-C stops a step.
        executor_kwargs={"timeout_seconds": None},
        use_structured_outputs_internally=reply_format == "json",
        verbosity_level=LogLevel.OFF,
    )
    agent.prompt_memory = prompt_memory
    constrain(model, list(agent.tools.values()), runtime.settings.model_max_tokens)
    if constraint is None or not constraint.guaranteed:
        guard_format(agent, reply_format)
    return agent
