"""Builds the CodeAgent: the tools, the lean prompt, the executor settings."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from smolagents import CodeAgent
from smolagents.memory import ActionStep
from smolagents.monitoring import LogLevel, Timing
from smolagents.utils import AgentMaxStepsError

from .grammar import tool_call_grammar
from .memory import PromptMemory
from .prompt import project_instructions, prompt_templates
from .tools import build_tools

if TYPE_CHECKING:
    from .runtime import Runtime

STEP_LIMIT_MESSAGE = "Stopped: the step limit ({n}) was reached before a final answer."


class CodingAgent(CodeAgent):
    """CodeAgent that sends its memory through PromptMemory (context budget, stable prefix) and
    stops at the step limit instead of asking the model for a last answer."""

    step_limit_reached = False
    prompt_memory: PromptMemory | None = None

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


def build_agent(runtime: "Runtime", model: Any, max_steps: int, grammar: bool = False,
                prompt_memory: PromptMemory | None = None) -> CodingAgent:
    tools = build_tools(runtime)
    agent = CodingAgent(
        tools=tools,
        model=model,
        prompt_templates=prompt_templates(),
        instructions=project_instructions(runtime.workspace.root),
        max_steps=max_steps,
        additional_authorized_imports=[],
        # No executor timeout: smolagents' timeout runs each step in a worker thread that it cannot
        # stop anyway, and it would cut off an approval prompt after 30 s. Tools carry their own
        # timeouts (run_cmd, run_tests); the interpreter caps operations and loop iterations;
        # Ctrl-C stops a step.
        executor_kwargs={"timeout_seconds": None},
        verbosity_level=LogLevel.OFF,
    )
    agent.prompt_memory = prompt_memory
    if grammar:
        model.grammar = tool_call_grammar(agent.tools.values(), runtime.settings.model_max_tokens)
    return agent
