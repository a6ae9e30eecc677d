"""The model as the agent sees it: every reply checked before it costs a step.

A wrapper (composition, not a patched method) around the real model:
- a reply that does not parse gets one retry with a short reminder of the format (backends
  without a grammar);
- a reply whose code repeats a step already taken in this task gets one retry with a nudge and
  a higher temperature. Small models copy their own last reply: the same context and a low
  temperature give the same answer again, step after step, until the step limit;
- the front end's hook runs around each call (a spinner, the model's time).
Only the reply that is kept goes into memory, so the prompt's prefix stays the same.
"""

from __future__ import annotations

import ast
import json
import re
from contextlib import nullcontext
from typing import Any, Callable, ContextManager

from smolagents.models import ChatMessage, MessageRole, Model, TokenUsage

FORMAT_REMINDERS = {
    "text": "Your reply could not be used ({problem}). Reply again in exactly this form:\n"
            "Thought: one short sentence.\n<code>\nprint(run_tests())\n</code>",
    "json": 'Your reply could not be used ({problem}). Reply again with one JSON object: '
            '{{"thought": "one short sentence", "code": "print(run_tests())"}}',
}
REPEAT_NUDGE = ("You already ran exactly this code in step {step}, and its result is above. Running it again "
                "gives the same result. Use that result and take the next step instead (read another file, "
                "change the code, run the tests, or final_answer).")
REPEAT_ONCE_MORE = ("That is step {step} again. Do not write that code. The next step is: {suggestion}\n"
                    "Reply with a Thought line and that code.")
RETRY_TEMPERATURE = 0.5


def reply_code(text: str | None, reply_format: str, code_tags: tuple[str, str]) -> str:
    """The code of a reply as smolagents will parse it; ValueError/KeyError/TypeError if none."""
    from smolagents.utils import extract_code_from_text, parse_code_blobs

    if not text or not text.strip():
        raise ValueError("it was empty")
    if reply_format == "json":
        code = json.loads(text)["code"]
        return extract_code_from_text(code, code_tags) or code
    closed = text if text.rstrip().endswith(code_tags[1]) else text + code_tags[1]
    return parse_code_blobs(closed, code_tags)


def reply_problem(text: str | None, reply_format: str, code_tags: tuple[str, str]) -> str | None:
    """Why a reply cannot be run, or None: the same parsing smolagents does, plus Python's."""
    try:
        ast.parse(reply_code(text, reply_format, code_tags))
    except (ValueError, KeyError, TypeError) as exc:
        return f"no code block: {str(exc).splitlines()[0][:120]}"
    except SyntaxError as exc:
        return f"the code is not valid Python: {exc.msg} on line {exc.lineno}"
    return None


def normalized(code: str) -> str:
    return re.sub(r"\s+", " ", code).strip()


def _add_usage(first: TokenUsage | None, second: TokenUsage | None) -> TokenUsage | None:
    if first is None or second is None:
        return second or first
    return TokenUsage(first.input_tokens + second.input_tokens, first.output_tokens + second.output_tokens)


class GuardedModel(Model):
    """The agent's model: `inner` plus the checks above."""

    def __init__(self, inner: Any, reply_format: str, code_tags: tuple[str, str], check_format: bool,
                 earlier_codes: Callable[[], list[tuple[int, str]]] = list,
                 around_call: Callable[[], ContextManager[Any]] = nullcontext,
                 hint: Callable[[], str | None] = lambda: None):
        super().__init__(model_id=getattr(inner, "model_id", None))
        self.inner = inner
        self.reply_format = reply_format
        self.code_tags = code_tags
        self.check_format = check_format
        self.earlier_codes = earlier_codes  # (step number, code) of this task's steps so far
        self.around_call = around_call
        self.hint = hint  # the next step, from where the task stands (agent/hints.py)
        self.format_retries = 0
        self.repeat_retries = 0
        self.last_reply: str | None = None  # the reply kept, for the front end to show its thought

    def _call(self, messages: list, **kwargs: Any) -> ChatMessage:
        with self.around_call():
            return self.inner.generate(messages, **kwargs)

    def _again(self, messages: list, reply: ChatMessage, note: str, **kwargs: Any) -> ChatMessage:
        again = list(messages) + [
            ChatMessage(role=MessageRole.ASSISTANT, content=[{"type": "text", "text": reply.content or ""}]),
            ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": note}]),
        ]
        second = self._call(again, **kwargs)
        second.token_usage = _add_usage(reply.token_usage, second.token_usage)
        return second

    def _repeats(self, reply: ChatMessage) -> int | None:
        """The step whose code this reply repeats, if any."""
        try:
            code = normalized(reply_code(reply.content, self.reply_format, self.code_tags))
        except (ValueError, KeyError, TypeError):
            return None
        return next((step for step, earlier in reversed(self.earlier_codes()) if normalized(earlier) == code), None)

    def generate(self, messages: list, stop_sequences: list[str] | None = None, response_format: Any = None,
                 tools_to_call_from: Any = None, **kwargs: Any) -> ChatMessage:
        kwargs.update(stop_sequences=stop_sequences, response_format=response_format,
                      tools_to_call_from=tools_to_call_from)
        reply = self._call(messages, **kwargs)
        if self.check_format:
            problem = reply_problem(reply.content, self.reply_format, self.code_tags)
            if problem is not None:
                self.format_retries += 1
                reply = self._again(messages, reply, FORMAT_REMINDERS[self.reply_format].format(problem=problem),
                                    **kwargs)
        self.last_reply = reply.content if isinstance(reply.content, str) else None
        repeated = self._repeats(reply)
        if repeated is not None:
            self.repeat_retries += 1
            suggestion = self.hint()
            nudge = REPEAT_NUDGE.format(step=repeated) + (f"\nSuggested next step: {suggestion}" if suggestion else "")
            reply = self._again(messages, reply, nudge, **{**kwargs, "temperature": RETRY_TEMPERATURE})
            if suggestion and self._repeats(reply) is not None:
                # Still the same: small models copy what they are shown, so show the step itself.
                reply = self._again(messages, reply, REPEAT_ONCE_MORE.format(step=repeated, suggestion=suggestion),
                                    **{**kwargs, "temperature": RETRY_TEMPERATURE})
            self.last_reply = reply.content if isinstance(reply.content, str) else None
        return reply
