"""What the model is sent each step: the agent's memory as messages, inside the context window,
with a prefix that stays the same from step to step.

Each step adds its reply and what came back; nothing earlier is rewritten, so the request at
step N+1 starts with exactly the bytes of the request at step N and llama.cpp's and Ollama's
KV caches reuse them. When the next request would not fit (window minus MODEL_MAX_TOKENS),
older observations are compacted, all of them in one block, to a short head and tail with a
note: the prefix then changes once, and stays stable again until the next block. The
instructions, the tasks and the latest steps are never compacted; if even they do not fit,
the run stops with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smolagents.memory import ActionStep, TaskStep
from smolagents.models import ChatMessage, MessageRole

from agent_runtime.models.tokens import TokenCounter
from agent_runtime.smol import is_parse_failure, split_observation

MESSAGE_OVERHEAD = 8  # tokens a chat template adds around each message (role markers, separators)
KEEP_RECENT = 3  # action steps kept verbatim; older ones are compacted when the window fills
LOW_WATER = 0.6  # a compaction frees room down to this share of the budget, so the next ones are steps away
HEAD_LINES, TAIL_LINES = 6, 3


class ContextOverflow(RuntimeError):
    """Even the instructions, the task and the latest step do not fit in the context window:
    the run stops (the session reports this message)."""


def compact(observation: str) -> str:
    lines = observation.splitlines()
    if len(lines) <= HEAD_LINES + TAIL_LINES + 1:
        return observation
    dropped = len(lines) - HEAD_LINES - TAIL_LINES
    note = (f"[... {dropped} of {len(lines)} lines of this observation were dropped to keep the conversation in "
            "the context window; call the tool again (e.g. read_file with a line range) to see them ...]")
    return "\n".join(lines[:HEAD_LINES] + [note] + lines[-TAIL_LINES:])


def observation_text(raw: str) -> str:
    """What the code printed, without smolagents' frame ("Execution logs:", and the value of the
    last expression when it is None, as after print()): small models copy that noise."""
    text, last = split_observation(raw)
    if last is not None:
        text = text.rstrip("\n") if last.strip() in ("None", "") else f"{text.rstrip()}\nValue of the last line: {last.strip()}"
    return text.strip() or "(nothing was printed: print() what you want to see)"


def shown_reply(step: Any) -> str:
    """A reply as the model sees it again. One whose code did not parse is shown without that code:
    small models copy what is in front of them, so a garbled block would come back step after step."""
    text = step.model_output.strip()
    if not is_parse_failure(step.error):
        return text
    thought = text.split("<code>", 1)[0].strip() or "Thought: (none)"
    return f"{thought}\n<code>\n# (this code could not be parsed; it is left out)\n</code>"


def _text(role: str, text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole(role), content=[{"type": "text", "text": text}])


@dataclass
class RequestStats:
    requests: int = 0
    compactions: int = 0
    largest_request: int = 0
    last_request: int = 0  # tokens of the latest request: the context used now (the step stats show it)
    compaction_steps: list[int] = field(default_factory=list)  # request numbers at which a block was compacted


class PromptMemory:
    """Older action steps pass through three levels as the window fills, each applied to all of
    them at once (a block): observations shortened to head and tail, then to a one-line note,
    then the steps left out and summed up in one line. Tasks are never left out."""

    def __init__(self, window: int, reserve: int, counter: TokenCounter, keep_recent: int = KEEP_RECENT):
        self.budget = window - reserve
        self.window = window
        self.count = counter
        self.keep_recent = keep_recent
        self.stats = RequestStats()
        self.reset()

    def reset(self) -> None:
        # Action steps with an index below each boundary are shortened / noted / left out.
        self.shortened_before = self.noted_before = self.omitted_before = 0
        self.task_context: dict[str, str] = {}  # task text -> what the session found about the repository

    def set_task_context(self, task: str, context: str) -> None:
        """Facts shown with a task (files, test command): fixed once per task, so the prefix stays stable."""
        self.task_context.setdefault(task, context)

    def _messages(self, system_prompt: str, steps: list[Any]) -> list[ChatMessage]:
        messages = [_text("system", system_prompt)]
        index = 0
        omitted: list[str] = []
        first_omitted = 0

        def flush_omitted() -> None:
            if omitted:
                tools = ", ".join(f"{name} x{omitted.count(name)}" for name in dict.fromkeys(omitted))
                messages.append(_text("user", f"[Steps {first_omitted + 1}-{first_omitted + len(omitted)} are left out "
                                              f"to fit the context window ({tools}); call tools again for anything "
                                              "you need from them.]"))
                omitted.clear()

        for step in steps:
            if isinstance(step, TaskStep):
                flush_omitted()
                context = self.task_context.get(step.task)
                messages.append(_text("user", f"New task:\n{step.task}" + (f"\n\n{context}" if context else "")))
                continue
            if not isinstance(step, ActionStep):
                continue
            level = (3 if index < self.omitted_before else 2 if index < self.noted_before
                     else 1 if index < self.shortened_before else 0)
            if level == 3:
                if not omitted:
                    first_omitted = index
                omitted.append(_called_tool(step))
                index += 1
                continue
            flush_omitted()
            index += 1
            if isinstance(step.model_output, str) and step.model_output.strip():
                messages.append(_text("assistant", shown_reply(step)))
            parts = []
            if step.observations:
                observation = observation_text(step.observations)
                if level == 2:
                    lines = observation.count("\n") + 1
                    observation = f"[{lines} lines left out to fit the context window; call the tool again to see them]"
                elif level == 1:
                    observation = compact(observation)
                parts.append("Observation:\n" + observation)
            if step.error is not None:
                error = str(step.error) if level < 2 else str(step.error).splitlines()[0][:200]
                parts.append(f"Error:\n{error}\nDo not repeat what failed; try another way.")
            if parts:
                messages.append(_text("user", "\n".join(parts)))
        flush_omitted()
        return messages

    def tokens(self, messages: list[ChatMessage]) -> int:
        return sum(self.count(m.content[0]["text"]) + MESSAGE_OVERHEAD for m in messages)

    def _escalate(self, boundary: int) -> bool:
        """Move the next level's boundary up to `boundary`; False when every level is there."""
        if self.shortened_before < boundary:
            self.shortened_before = boundary
        elif self.noted_before < self.shortened_before:
            self.noted_before = self.shortened_before
        elif self.omitted_before < self.noted_before:
            self.omitted_before = self.noted_before
        else:
            return False
        return True

    def size(self, system_prompt: str, steps: list[Any]) -> int:
        """The tokens the conversation takes now (what the next request starts with); changes nothing."""
        return self.tokens(self._messages(system_prompt, steps))

    def compact_now(self, system_prompt: str, steps: list[Any]) -> tuple[int, int]:
        """Compact the older steps (all but the latest KEEP_RECENT) one level further now, as a full
        window would (/compact): returns the conversation's tokens before and after. The prefix then
        changes once, like at any compaction."""
        actions = sum(1 for s in steps if isinstance(s, ActionStep))
        before = self.size(system_prompt, steps)
        if not self._escalate(max(0, actions - self.keep_recent)):
            return before, before
        self.stats.compactions += 1
        self.stats.compaction_steps.append(self.stats.requests)
        return before, self.size(system_prompt, steps)

    def build(self, system_prompt: str, steps: list[Any]) -> list[ChatMessage]:
        """The request for the next step; shortens older steps, in blocks, only when needed."""
        actions = sum(1 for s in steps if isinstance(s, ActionStep))
        messages = self._messages(system_prompt, steps)
        size = self.tokens(messages)
        keep = self.keep_recent
        moved = False
        target = self.budget if size <= self.budget else int(self.budget * LOW_WATER)
        while size > target:
            if self._escalate(max(0, actions - keep)):
                moved = True
                messages = self._messages(system_prompt, steps)
                size = self.tokens(messages)
            elif size <= self.budget:
                break  # it fits; the low-water mark was a wish, not a limit
            elif keep > 1:
                keep -= 1  # reach further, but the latest step always stays whole
            else:
                raise ContextOverflow(
                    f"the instructions, the task and the latest step need {size:,} tokens, more than the "
                    f"{self.budget:,} the model can read (MODEL_CONTEXT_WINDOW={self.window:,} minus "
                    f"MODEL_MAX_TOKENS): raise MODEL_CONTEXT_WINDOW, lower MODEL_MAX_TOKENS or TRUNCATION_MAX_CHARS, "
                    "or start over with a shorter task (/reset)")
        if moved:
            self.stats.compactions += 1
            self.stats.compaction_steps.append(self.stats.requests)
        self.stats.requests += 1
        self.stats.largest_request = max(self.stats.largest_request, size)
        self.stats.last_request = size
        return messages


def _called_tool(step: Any) -> str:
    """The tool an omitted step called, for the summary line."""
    import re

    code = step.code_action or ""
    match = re.search(r"\b([a-z_]+)\(", code.replace("print(", ""))
    return match.group(1) if match else "code"
