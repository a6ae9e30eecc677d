"""The model as the agent sees it: every reply checked before it costs a step.

A wrapper (composition, not a patched method) around the real model:
- a reply that does not parse gets one retry with a short reminder of the format (backends
  without a grammar);
- a reply whose code reads a name nothing set (small models run their thought on into the
  code block when a grammar ends the thought: `print(list_all)`, `F.uido`) gets one retry
  that names it and lists the variables there are (under a grammar that lets it read only those);
  so does one that sets a name to a number and reads an item of it (`E = -1`, then `E["patch_id"]`);
- a reply whose code repeats a step already taken in this task gets one retry with a nudge and
  a higher temperature. Small models copy their own last reply: the same context and a low
  temperature give the same answer again, step after step, until the step limit;
- `fix` makes one request in the edit form for agent/repair.py (free text under the edit grammar,
  room for the files): the harness, not this wrapper, applies and tests what it writes;
- a grammar is chosen per request (`grammar_for`, passed with the request): the backend's own for a
  normal step, the edit form's for a fix, a stricter one for a retry;
- the front end's hook runs around each call (a spinner, the model's time).
Only the reply that is kept goes into memory, so the prompt's prefix stays the same.

The retries are coaching rules (models/profiles.py), each on only where the model's profile turns it
on: `reply_repairs` (format, unbound reads, an unusable file), `repeat_retry`, `hints` (the suggested
next step), `temperature_bumps` (a retry sampled warmer). Where all are off the reply is kept as the
model wrote it: a parse error is the step's error, as smolagents reports it.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any, Callable, ContextManager

from smolagents.models import ChatMessage, MessageRole, Model, TokenUsage

from agent_runtime.agent.replycheck import normalized, reply_code, reply_problem, subscripted_numbers, unbound_reads
from agent_runtime.agent.shot import STOP
from agent_runtime.agent.tracing import REQUEST
from agent_runtime.models.profiles import FULL, Coaching

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
UNBOUND_NOTE = ("Your code reads {names}, which neither an earlier step nor this code sets, so it would fail. "
                "{have} Reply again with a Thought line and code that calls a tool or uses those.")
SCALAR_NOTE = ("Your code sets {names} to a number and then reads an item of it ({example}), so it would fail: "
               "a number has no items; a tool's result (a dict) has. {have} Reply again with a Thought line and "
               "code that calls a tool or uses those.")
RETRY_TEMPERATURE = 0.5


def _text(reply: ChatMessage) -> str:
    return reply.content if isinstance(reply.content, str) else ""


def _add_usage(first: TokenUsage | None, second: TokenUsage | None) -> TokenUsage | None:
    if first is None or second is None:
        return second or first
    return TokenUsage(first.input_tokens + second.input_tokens, first.output_tokens + second.output_tokens)


class GuardedModel(Model):
    """The agent's model: `inner` plus the checks above."""

    def __init__(self, inner: Any, reply_format: str, code_tags: tuple[str, str], check_format: bool,
                 around_call: Callable[[int], ContextManager[Any]] = lambda step: nullcontext(),
                 grammars: Callable[..., Any] = lambda tools, **options: None,
                 observe: Callable[[ChatMessage], None] = lambda reply: None, coaching: Coaching = FULL,
                 discarded: Callable[[str, float], None] = lambda why, seconds: None):
        super().__init__(model_id=getattr(inner, "model_id", None))
        self.inner = inner
        self.reply_format = reply_format
        self.code_tags = code_tags
        self.check_format = check_format
        self.around_call = around_call
        # grammars(tools, **options) -> grammar_for: the grammar a request is held to, per backend kind
        # (agent/codeagent.py); options: edit=headings (the edit form), readable=names (a retry).
        self.grammars = grammars
        self.observe = observe  # every reply the model gives, retries included (the session's figures)
        self.coaching = coaching  # which of the retries run (models/profiles.py)
        self.discarded = discarded  # (why, seconds): a reply not kept, asked again (the display says so)
        self.agent: Any = None  # the agent it answers (bind): its tools, variables and steps are what replies are checked against
        self._hint: str | None = None  # the step the task's hints suggest (agent/hints.py), told by next_step
        self.edits = 0  # fix requests answered in the edit form
        self.format_retries = 0  # replies asked again: no code, invalid Python or an unbound name
        self.repeat_retries = 0
        self.last_reply: str | None = None  # the reply kept, for the front end to show its thought
        self.last_call_s = 0.0  # how long the latest request took

    def bind(self, agent: Any) -> None:
        """The agent this model answers, once it is built."""
        self.agent = agent

    def next_step(self, hint: str | None = None) -> None:
        """What the task loop (agent/taskloop.py) says before a step: the step the task's hints suggest."""
        self._hint = hint

    def _variables(self) -> set[str] | None:
        """The interpreter's variables now; None (no agent bound): reads are not checked."""
        return None if self.agent is None else set(self.agent.python_executor.variable_names())

    def _earlier_codes(self) -> list[tuple[int, str]]:
        return self.agent.task_codes() if self.agent is not None else []

    def _warmer(self, kwargs: dict[str, Any], floor: bool = False) -> dict[str, Any]:
        """A retry's sampling: RETRY_TEMPERATURE where temperature_bumps is on (floor: at least that),
        else the request's own temperature."""
        if not self.coaching.on("temperature_bumps"):
            return kwargs
        wanted = max(RETRY_TEMPERATURE, kwargs.get("temperature") or 0) if floor else RETRY_TEMPERATURE
        return {**kwargs, "temperature": wanted}

    def _call(self, messages: list, options: dict | None = None, why: str = "step", step: int | None = None,
              **kwargs: Any) -> ChatMessage:
        """One request to the model; `why` it is made goes on its span (agent/tracing.py REQUEST);
        step: the step it is for (None: the agent's current one)."""
        chosen = self.grammars(list(self.agent.tools.values()) if self.agent is not None else [], **(options or {}))
        if chosen is not None:
            kwargs["grammar_for"] = chosen
        token = REQUEST.set(why)
        started = time.monotonic()
        try:
            with self.around_call(step or (self.agent.step_number if self.agent is not None else 1)):
                reply = self.inner.generate(messages, **kwargs)
        finally:
            REQUEST.reset(token)
            self.last_call_s = round(time.monotonic() - started, 3)
        self.observe(reply)
        return reply

    def _again(self, messages: list, reply: ChatMessage, note: str, options: dict | None = None,
               show_reply: bool = True, why: str = "retry", **kwargs: Any) -> ChatMessage:
        self.discarded(why, self.last_call_s)
        shown = [ChatMessage(role=MessageRole.ASSISTANT, content=[{"type": "text", "text": reply.content or ""}])]
        again = list(messages) + (shown if show_reply else []) + [
            ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": note}]),
        ]
        second = self._call(again, options, why, **kwargs)
        second.token_usage = _add_usage(reply.token_usage, second.token_usage)
        return second

    def fix(self, messages: list, request: Any, why: str, step: int, temperature: float | None = None) -> ChatMessage:
        """One fix request in the edit form (agent/repair.py): free text with files, not the {thought,
        code} object a JSON-schema backend would force, no stop strings of that form to cut it short,
        room for the files, the edit grammar where the backend takes one."""
        kwargs: dict[str, Any] = {"response_format": None, "stop_sequences": None}
        if request.max_tokens:
            kwargs["max_tokens"] = request.max_tokens
        if temperature is not None:
            kwargs["temperature"] = temperature
        options = {"edit": request.paths, "edit_blocks": request.max_blocks, "edit_explain": request.explain,
                   "edit_changes": {h: request.current(h) or "" for h in request.paths}
                   if request.form == "changes" else None}
        if request.form in ("shot", "named"):  # as one completion: no grammar, not even the model's own ("")
            options, kwargs["grammar_for"] = None, lambda kind: ""
        if request.form == "named":  # one block asked: the reply ends where it closes
            kwargs["stop_sequences"] = [STOP]
        reply = self._call(messages, options, why, step, **kwargs)
        if request.form == "named" and isinstance(reply.content, str) and reply.content.count("```") % 2:
            reply.content += STOP.rstrip()  # the fence the stop took: the exchange reads as the model wrote it
        self.edits += 1
        self.last_reply = reply.content if isinstance(reply.content, str) else None
        return reply

    def answer(self, messages: list, step: int) -> ChatMessage:
        """A question's answer in plain words, in one request (agent/answer.py): no tool format, no
        grammar, no stop of the code form."""
        reply = self._call(messages, None, "answer", step, response_format=None, stop_sequences=None,
                           grammar_for=lambda kind: "")
        self.last_reply = reply.content if isinstance(reply.content, str) else None
        return reply

    def _bad_reads(self, reply: ChatMessage) -> str | None:
        """Why the reply's code would fail at its first read, seen before it runs: a name nothing
        sets, or an item of a number. None: nothing seen (or reply_repairs is off)."""
        variables = self._variables()
        if variables is None or not self.coaching.on("reply_repairs"):
            return None
        try:
            code = reply_code(reply.content, self.reply_format, self.code_tags)
        except (ValueError, KeyError, TypeError):
            return None
        have = sorted(variables)
        listed = f"The variables there are: {', '.join(have[:20])}." if have else "There are no variables yet."
        unbound = unbound_reads(code, set(have) | set(self.agent.tools))
        if unbound:
            return UNBOUND_NOTE.format(names=", ".join(f"`{n}`" for n in unbound[:3]), have=listed)
        numbers = subscripted_numbers(code)
        if numbers:
            return SCALAR_NOTE.format(names=", ".join(f"`{n}`" for n in dict.fromkeys(n for n, _ in numbers[:3])),
                                      example=f"`{numbers[0][1]}`", have=listed)
        return None

    def _repeats(self, reply: ChatMessage) -> int | None:
        """The step whose code this reply repeats, if any (never where repeat_retry is off)."""
        if not self.coaching.on("repeat_retry"):
            return None
        try:
            code = normalized(reply_code(reply.content, self.reply_format, self.code_tags))
        except (ValueError, KeyError, TypeError):
            return None
        return next((step for step, earlier in reversed(self._earlier_codes()) if normalized(earlier) == code), None)

    def generate(self, messages: list, stop_sequences: list[str] | None = None, response_format: Any = None,
                 tools_to_call_from: Any = None, **kwargs: Any) -> ChatMessage:
        kwargs.update(stop_sequences=stop_sequences, response_format=response_format,
                      tools_to_call_from=tools_to_call_from)
        options: dict[str, Any] = {}
        reply = self._call(messages, options, "step", **kwargs)
        reply = checked = self._parses(messages, reply, options, kwargs)
        self.last_reply = reply.content if isinstance(reply.content, str) else None
        repeated = self._repeats(reply)
        if repeated is not None:
            self.repeat_retries += 1
            suggestion = self._hint if self.coaching.on("hints") else None
            nudge = REPEAT_NUDGE.format(step=repeated) + (f"\nSuggested next step: {suggestion}" if suggestion else "")
            reply = self._again(messages, reply, nudge, options, why=f"retry (repeat_retry): repeats step {repeated}",
                                **self._warmer(kwargs))
            if suggestion and self._repeats(reply) is not None:
                # Still the same: small models copy what they are shown, so show the step itself.
                reply = self._again(messages, reply, REPEAT_ONCE_MORE.format(step=repeated, suggestion=suggestion),
                                    options, why=f"retry (repeat_retry, hints): repeats step {repeated} again",
                                    **self._warmer(kwargs))
            self.last_reply = reply.content if isinstance(reply.content, str) else None
        # Last, so that it also covers a reply that a retry above gave.
        note = self._bad_reads(reply)
        if note:
            self.format_retries += 1
            have = sorted(self._variables() or ())
            # The same model would write the same name again: where a grammar is sent, the retry's
            # code can read only the variables there are (not those it sets itself).
            reply = self._again(messages, reply, note, {**options, "readable": set(have)},
                                why="retry (reply_repairs): reads a name nothing set", **self._warmer(kwargs))
            self.last_reply = reply.content if isinstance(reply.content, str) else None
        if reply is not checked:
            # A retry's reply is checked too: a grammar holds its form but not its length (a
            # string the model never closes runs to max_tokens and is cut off).
            reply = self._parses(messages, reply, options, self._warmer(kwargs))
            self.last_reply = reply.content if isinstance(reply.content, str) else None
        return reply

    def _parses(self, messages: list, reply: ChatMessage, options: dict, kwargs: dict[str, Any]) -> ChatMessage:
        """The reply, or (where replies are checked) one retry with a reminder of the format."""
        checked = self.check_format and self.coaching.on("reply_repairs")
        problem = reply_problem(reply.content, self.reply_format, self.code_tags) if checked else None
        if problem is None:
            return reply
        self.format_retries += 1
        note = FORMAT_REMINDERS[self.reply_format].format(problem=problem)
        text = _text(reply)
        # Cut off inside its code (a string never closed, a call nested on and on): shown that
        # reply, the 0.5B model wrote it again, so the retry is the request again with the reminder.
        cut_off = self.reply_format == "text" and self.code_tags[0] in text and self.code_tags[1] not in text
        if cut_off:
            note = note.replace("could not be used", "was cut off and could not be used")
        return self._again(messages, reply, note, options, show_reply=not cut_off,
                           why=f"retry (reply_repairs): {problem}", **kwargs)
