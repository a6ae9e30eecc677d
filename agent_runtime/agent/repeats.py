"""A CodeAgent step that repeats one already taken ends the task, with an answer built from its records.

A small model that copies its own last step does so until the step limit (minutes per step on a
small machine), and the answer it then gives is no better. A step repeats an earlier one when no
file changed since (FileChanges in agent/codeagent.py), its result is that step's, and it wrote the
same code as that step (any step before it), or the same calls or the same reply as the step just
before it. It found nothing new, so the task stops there and says what its calls found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from agent_runtime.agent.replycheck import normalized
from agent_runtime.tools.history import call_key

SHOWN_RESULT = 1200  # characters of the last step's result the answer quotes
SHOWN_CALLS = 8
# Numbers in a result (a test run's "3 passed in 2.21s", a command's timing) differ from run to run.
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Repeat:
    """Step `step` repeated step `earlier`; `how`: "code", "calls" or "reply"."""

    step: int
    earlier: int
    how: str


@dataclass
class _Seen:
    number: int
    code: str | None
    calls: tuple[str, ...]
    result: str
    reply: str


def _code(step: Any) -> str | None:
    return normalized(step.code_action) if step.code_action else None


def _reply(step: Any) -> str:
    output = step.model_output
    return (output if isinstance(output, str) else str(output or "")).strip()


class RepeatedSteps:
    """A step callback (after FileChanges): the first step that repeats one before it since files
    last changed, kept in `found`; `stop(agent)` ends the run before its next step."""

    def __init__(self, new_calls: Callable[[], list[Any]], stop: Callable[[Any], None]):
        self.new_calls = new_calls  # the calls made since the last step ended (StepCalls.new_calls)
        self.stop = stop
        self.seen: list[_Seen] = []
        self.found: Repeat | None = None

    def begin(self) -> None:
        """A task begins: only its own steps count."""
        self.seen.clear()
        self.found = None

    def __call__(self, step: Any, agent: Any = None) -> None:
        calls = self.new_calls()
        if getattr(step, "is_final_answer", False) or self.found is not None:
            return
        if any(c.changed_files() for c in calls):
            self.seen.clear()  # what ran before the change would not give the same result now
            return
        now = _Seen(step.step_number, _code(step), tuple(call_key(c.tool, c.arguments) for c in calls),
                    NUMBER.sub("#", f"{step.observations or ''}\n{step.error or ''}"), _reply(step))
        repeat = self._repeats(now)
        self.seen.append(now)
        if repeat is not None:
            self.found = repeat
            if agent is not None:
                self.stop(agent)

    def _repeats(self, now: _Seen) -> Repeat | None:
        # A different result (but for its numbers: times) is something new.
        same = [s for s in self.seen if s.result == now.result]
        if now.code is not None:
            earlier = next((s for s in reversed(same) if s.code == now.code), None)
            if earlier is not None:
                return Repeat(now.number, earlier.number, "code")
        if not self.seen or self.seen[-1].result != now.result:
            return None
        last = self.seen[-1]
        if now.calls and now.calls == last.calls:
            return Repeat(now.number, last.number, "calls")
        if now.reply and now.reply == last.reply:
            return Repeat(now.number, last.number, "reply")
        return None


HOW = {"code": "the same code", "calls": "the same tool calls, with the same results", "reply": "the same reply"}


def _call_text(call: Any) -> str:
    args = ", ".join(f"{k}={_short(v)}" for k, v in call.arguments.items() if v is not None)
    return f"{call.tool}({args})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _printed(result: str) -> str:
    """A step's result without smolagents' frame: its "Execution logs:" heading, a last output of None."""
    text = result.strip().removeprefix("Execution logs:").strip()
    for tail in ("Last output from code snippet:\nNone", "Last output from code snippet:"):
        text = text.removesuffix(tail).strip()
    return text


def repeat_answer(repeat: Repeat, calls: list[Any], last_result: str) -> str:
    """What the task found and why it stopped, from its calls (tools/history.py records) and the last
    step's result; nothing in it assumes a state the records do not show."""
    lines = [f"Stopped without a final answer: step {repeat.step} repeated step {repeat.earlier} "
             f"({HOW[repeat.how]}), so doing it again would find nothing new."]
    distinct: dict[str, Any] = {}
    for call in calls:
        key = call_key(call.tool, call.arguments)
        if call.error_type != "loop_detected" or key not in distinct:  # "called 3 times in a row": no finding
            distinct[key] = call  # the latest result of each call
    if distinct:
        lines.append("What the calls found:")
        shown = list(distinct.values())[-SHOWN_CALLS:]
        if len(distinct) > len(shown):
            lines.append(f"- ({len(distinct) - len(shown)} earlier calls not listed)")
        lines += [f"- {_call_text(c)}: {c.summary()}" for c in shown]
    else:
        lines.append("No tool was called.")
    result = _printed(last_result)
    if result:
        cut = result if len(result) <= SHOWN_RESULT else result[:SHOWN_RESULT].rstrip() + " ..."
        lines += ["The last step's result:", cut]
    return "\n".join(lines)
