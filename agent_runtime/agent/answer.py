"""A question about the code of a repository shown whole, answered as a person asking a chat gets
it: one request.

The task's first message already holds every file (and, for a question about a failure, the tests'
output): nothing is left to look up (agent/tasks.py about_code: the question names a file or a
definition shown, and nothing the files cannot answer: a commit, the working tree, what a run gives).
A question about the history or the working tree is answered the same way from what the git tools
said before the first request (agent/tasks.py git_questions). Asked through the CodeAgent, a small model runs the tests again
and again or reads what it was shown; asked for the answer in plain words, it answers. No code runs
and no tool is called: the answer can only come from what was shown.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry import trace

from agent_runtime.agent.edits import edit_messages

if TYPE_CHECKING:
    from agent_runtime.agent.frontend import Frontend

ASK = ("Answer the task above from what is shown above, in plain words: a few sentences, quoting the names and "
       "lines you rely on. Do not write code to run and do not change any file.")


EARLIER_TASKS = 3  # the conversation's last tasks and answers, for a question that follows them
EARLIER_CHARS = 600  # of each answer


def earlier(steps: list[Any]) -> str:
    """The conversation's last tasks and their answers, as a person would recall them: what the next
    question may point back to ("what did you change?"), without the steps' code and tool output."""
    from smolagents.memory import ActionStep, TaskStep

    pairs: list[list[str]] = []
    for step in steps:
        if isinstance(step, TaskStep):
            pairs.append([step.task.split("\n\n(Since the last task:", 1)[0].strip(), ""])
        elif isinstance(step, ActionStep) and step.is_final_answer and pairs:
            pairs[-1][1] = str(step.action_output or "").strip()
    lines = []
    for task, answer in pairs[-EARLIER_TASKS:]:
        cut = answer if len(answer) <= EARLIER_CHARS else answer[:EARLIER_CHARS].rstrip() + " ..."
        lines.append(f"- The task: {task}\n  Your answer: {cut or '(none: it stopped without one)'}")
    return "Earlier in this conversation:\n" + "\n".join(lines) + "\n\n" if lines else ""


def answer_shown(model: Any, first: list[Any], before: list[Any], display: "Frontend", telemetry: Any,
                 step_figures: Callable[[Any], dict[str, Any]]) -> Any:
    """One request (the project's instructions, the task's first message, the earlier tasks of the
    conversation in `before`, ASK) recorded as step 1: a memory step, a CHAIN span with the LLM span
    under it, a step on the terminal and in --json. Returns the step (its action_output is the
    answer); the model's errors are raised."""
    from smolagents.memory import ActionStep
    from smolagents.monitoring import Timing

    from agent_runtime.agent.events import StepEnded, emit

    step = ActionStep(step_number=1, timing=Timing(start_time=time.time()))
    span = telemetry.start_step(1)
    try:
        with trace.use_span(span.span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            messages = edit_messages(first, earlier(before) + ASK)
            reply = model.answer(messages, 1)
        text = reply.content if isinstance(reply.content, str) else "\n".join(
            str(part.get("text", "")) for part in reply.content or [] if isinstance(part, dict))
        step.model_input_messages, step.model_output_message = messages, reply
        step.model_output, step.token_usage = text, reply.token_usage
        step.action_output, step.is_final_answer = text.strip(), True
    finally:
        step.timing.end_time = time.time()
        span.end(step.model_output, None, None)
    display.step_done(step, True)  # its text is the final answer, shown next: not twice
    emit(display, StepEnded(**step_figures(step)))
    return step
