"""A fix task the harness owns: the model writes code; the harness applies, tests and reflects.

Read top to bottom, as mini-swe-agent's default.py:

    the first request: the task's first message (the task, the failing tests' output, the code)
        and the ask for the fixed code in plain text (agent/edits.py: files or functions whole
        under a heading, or SEARCH/REPLACE lines of a long function)
    each attempt:
        the model's reply -> the change it writes (nothing to echo, no tool calls to write)
        a change that equals a failed attempt's is not applied again: the model is told so
        else propose, apply_patch, run_tests: the one tool path (validators, policy, approval,
            sandbox, a span each, undo)
        the tests pass: the answer
        else agent/attempts.py decides: undo and start again from the first message (the shot's,
        where there is one) with a note of what failed (fresh_restart), or reflect it in the same conversation, or stop

No Python is generated from a reply and no CodeAgent runs: the CodeAgent is for exploring and
answering. Each attempt is a step: a CHAIN span (the LLM and TOOL spans under it), a memory step
(so the next task in the REPL reads the exchange like any step), a step on the terminal and in --json.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from opentelemetry import trace

from agent_runtime.agent.attempts import REFIX_TEMPERATURE
from agent_runtime.agent.blocks import Edit, without_lead_in
from agent_runtime.agent.edits import EditRequest, edit_messages, summary_line
from agent_runtime.agent.outcomes import passing_answer
from agent_runtime.agent.pieces import as_diff, new_texts
from agent_runtime.agent.shot import shot_context
from agent_runtime.tools.results import ToolResult

if TYPE_CHECKING:
    from agent_runtime.agent.attempts import FixAttempts, RequestPlan
    from agent_runtime.agent.frontend import Frontend

REPEATED = ("That is the same change as attempt {number}, which {what}\nIt was not applied again. The mistake is "
            "elsewhere, or that change is not the right one: write a different fix.")


class ModelFailed(Exception):
    """The model request of an attempt failed (the server, the network, the key): the task ends."""


@dataclass
class Parts:
    """What the loop works with, handed over by the task loop (agent/taskloop.py)."""

    model: Any  # the GuardedModel (agent/replies.py): `fix` makes one request in the edit form
    tools: dict[str, Any]  # the agent's tools: calling one goes through the one tool path
    display: "Frontend"
    telemetry: Any  # telemetry/spans.py Telemetry: a CHAIN span per attempt
    history: list[Any]  # the runtime's tool calls (read, never written)
    steps: list[Any]  # the agent's memory steps: each attempt is appended as a step
    first: list[Any]  # the messages of the task's first request (system prompt, the task's first message)
    step_figures: Callable[[Any], dict[str, Any]]  # a step_ended event's fields (agent/stats.py)
    max_steps: int  # attempts are steps: AGENT_MAX_STEPS bounds them too


@dataclass
class Outcome:
    status: str  # "answered", "gave_up" or "step_limit"
    answer: str
    steps: int


class Repair:
    def __init__(self, parts: Parts, attempts: "FixAttempts"):
        self.parts = parts
        self.attempts = attempts
        self.base: list[Any] = []  # the first request of the exchange under way
        self.conversation: list[Any] = []  # its replies and the failures reflected back (fresh_restart off)
        self._repeated: int | None = None
        self._refused: str | None = None  # why the attempt's change was not let in, with no word for the model
        self._tests: dict[str, Any] | None = None  # the attempt's last run_tests result

    def run(self) -> Outcome:
        number = 0
        while True:
            plan = self.attempts.take()
            if plan is None or plan.edit is None:
                break
            number += 1
            step, answer = self.attempt(number, plan)
            self.parts.steps.append(step)
            self.parts.display.step_done(step, True)
            from agent_runtime.agent.events import StepEnded, emit

            emit(self.parts.display, StepEnded(**self.parts.step_figures(step)))
            if answer is not None:
                return Outcome("answered", answer, number)
            if self._refused is not None:  # no one would let a change in: another attempt cannot help
                return Outcome("answered", self._refused, number)
            while self.attempts.said:
                self.parts.display.warn(self.attempts.said.pop(0))
            if self.attempts.stopped is not None:
                break
            if number >= self.parts.max_steps:
                return Outcome("step_limit", "", number)
        return Outcome("gave_up", self.attempts.stopped or "Could not fix it.", number)

    # --- one attempt ---

    def attempt(self, number: int, plan: "RequestPlan") -> tuple[Any, str | None]:
        from smolagents.memory import ActionStep
        from smolagents.monitoring import Timing

        step = ActionStep(step_number=number, timing=Timing(start_time=time.time()))
        span = self.parts.telemetry.start_step(number)
        answer: str | None = None
        self._repeated = self._refused = self._tests = None
        try:
            with trace.use_span(span.span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
                answer = self._attempt(step, plan)
                if answer is None and self._refused is None:  # the undo of a failed fix is part of its step
                    self.attempts.after_step(step, self.parts.history, repeated=self._repeated, tests=self._tests)
        finally:
            step.timing.end_time = time.time()
            action = f"{step.model_output or ''}\n\nChange:\n{step.code_action}" if step.code_action else step.model_output
            span.end(action, step.observations, None)
        step.is_final_answer = answer is not None
        step.action_output = answer
        return step, answer

    def _attempt(self, step: Any, plan: "RequestPlan") -> str | None:
        request = plan.edit
        assert request is not None
        messages = self._messages(plan)
        try:
            reply = self.parts.model.fix(messages, request, reason(plan), step.step_number, temperature=plan.temperature)
        except Exception as exc:  # noqa: BLE001 (whatever the model's client raises: the task says it in one line)
            raise ModelFailed(str(exc)) from exc
        text = _text(reply.content)
        if plan.reflect is None:
            self.base, self.conversation = messages, [_message("assistant", text)]
        else:
            self.conversation += [messages[-1], _message("assistant", text)]
        step.model_input_messages, step.model_output_message = messages, reply
        step.model_output, step.token_usage = text, reply.token_usage
        explanation, edits, unchanged = request.read(text)
        if not edits:  # asked again once, differently: a reply that changes nothing is no attempt yet
            again = [*messages, _message("assistant", text), _message("user", request.again(bool(unchanged)))]
            try:
                second = self.parts.model.fix(again, request, reason(plan) + ", asked again: the reply changed nothing",
                                              step.step_number, temperature=REFIX_TEMPERATURE)
            except Exception as exc:  # noqa: BLE001 (as the first request)
                raise ModelFailed(str(exc)) from exc
            text = _text(second.content)
            step.model_output, step.token_usage = text, _sum_usage(reply.token_usage, second.token_usage)
            if plan.reflect is not None:
                self.conversation += [again[-1], _message("assistant", text)]
            explanation, edits, unchanged = request.read(text)
        if not edits:
            step.observations = (f"The reply wrote {', '.join(unchanged)} exactly as it is now. " if unchanged
                                 else "") + request.again(bool(unchanged))
            self.parts.display.step_code(step.step_number, text, "(no change to apply)")
            return None
        change = _change(edits, request)
        if not request.explain:  # not asked for: what it said anyway, less the lead-in ("Here is the code:")
            explanation = without_lead_in(explanation)
        if not explanation:
            explanation = f"Changed {', '.join(dict.fromkeys(e.heading for e in edits))}."
        step.code_action = change
        self.parts.display.step_code(step.step_number, text, change)
        self._repeated = self.attempts.failed_with(change)
        if self._repeated is not None:
            failed = self.attempts.attempts[self._repeated - 1]
            what = f"was tested and failed:\n{failed.failure}" if failed.failure else \
                f"was not tested: {failed.refused}." if failed.refused else "was not tested."
            step.observations = REPEATED.format(number=self._repeated, what=what)
            return None
        return self._apply_and_test(step, explanation, edits, request)

    def _messages(self, plan: "RequestPlan") -> list[Any]:
        request = plan.edit
        assert request is not None
        if plan.reflect is not None:  # the same conversation: the first request, the exchange, the failure
            return self.base + self.conversation + [_message("user", f"{plan.reflect}\n\n{request.ask}")]
        if request.form in ("shot", "named") and request.shot:  # one completion's message (and AGENTS.md, the system's part)
            return edit_messages(self.parts.first[:1], request.shot)
        if plan.fresh is not None and request.shot:  # the later fixes after a shot: its words, then the notes and the ask
            return edit_messages(self.parts.first[:1], f"{shot_context(request.shot)}{plan.fresh}\n\n{request.ask}")
        return edit_messages(self.parts.first, request.ask if not plan.fresh else f"{plan.fresh}\n\n{request.ask}")

    def _apply_and_test(self, step: Any, explanation: str, edits: list[Edit], request: EditRequest) -> str | None:
        """Propose each piece, apply them, run the failing tests (then their neighbours): the step's
        observation says what each call gave back."""
        said: list[str] = []
        ids = []
        for tool, arguments in _proposals(edits, request):
            result = self._call(tool, **arguments)
            if "error" in result:
                step.observations = "\n".join(said + [str(result)])
                return None
            ids.append(str(result["patch_id"]))
            said.append(f"proposed {result['patch_id']}: {', '.join(map(str, result.get('files') or []))}")
        for done, patch_id in enumerate(ids):
            result = self._call("apply_patch", patch_id=patch_id)
            said.append(f"applied {patch_id}" if "error" not in result else str(result))
            if "error" in result:
                record = result.call if isinstance(result, ToolResult) else None
                if record is not None and record.outcome == "refused" and record.refused_by != "user":
                    # No one would let a change in (the policy, a hook, no terminal): another attempt cannot
                    # help. A person's no asks for another fix, their words (if any) told to the model.
                    self._refused = (f"The fix was not applied: {result['error']}\nIt was proposed as "
                                     f"{', '.join(ids)}: {summary_line(explanation)}")
                    # Half a fix is no fix: what went in goes out (otherwise the attempts' undo does it).
                    said += [str(self._call("undo_patch", patch_id=applied)) for applied in reversed(ids[:done])]
                step.observations = "\n".join(said)
                return None
        options = {"timeout": request.test_timeout} if request.test_timeout else {}
        tests = self._tests = self._call("run_tests", **({"command": request.test_command} if request.test_command else {}),
                                         **options)
        said.append(str(tests))
        if tests.get("passed") and request.wider_command:
            wider = {"timeout": 2 * request.test_timeout} if request.test_timeout else {}
            tests = self._tests = self._call("run_tests", command=request.wider_command, **wider)
            said.append(str(tests))
        step.observations = "\n".join(said)
        if tests.get("passed"):
            return passing_answer(request.test_command, request.wider_command) + summary_line(explanation)
        return None

    def _call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        found = self.parts.tools.get(tool)
        if found is None:
            return {"error": f"the {tool} tool is not available"}
        result = found(**arguments)  # a ToolResult: a dict that prints as the model reads results
        return result if isinstance(result, dict) else {"error": str(result)}


def reason(plan: "RequestPlan") -> str:
    """Why a fix request is made, as its LLM span says (`agent_runtime.request`): the coaching rule
    that shaped it, if any."""
    request = plan.edit
    assert request is not None
    return "fix" + (f" held to {request.held_to} (new_function_per_attempt)" if request.held_to else "") \
        + (" asked for functions (function_retries)" if request.by_function else "") \
        + (" asked as one completion" if request.form in ("shot", "named")
           else "") \
        + (" after a failed one, from one completion's words (fresh_restart)" if plan.fresh and request.shot
           else " after a failed one, from the first message (fresh_restart)" if plan.fresh
           else " after a failed one, in the same conversation" if plan.reflect else "")


def _proposals(edits: list[Edit], request: EditRequest) -> list[tuple[str, dict[str, Any]]]:
    """The proposal calls of a change: pieces of files (functions, lines) as one unified diff where
    their files can be read, a function on its own (replace_symbol) or lines (propose_patch)
    otherwise, a file whole (propose_file)."""
    targets = request.targets
    pieces = _pieces(edits, request)
    diff = as_diff(pieces, targets, request.file_text) if pieces and request.file_text is not None else None
    calls: list[tuple[str, dict[str, Any]]] = [("propose_patch_unified", {"diff": diff})] if diff else []
    for edit in edits:
        if diff and edit in pieces:
            continue
        target = targets.get(edit.heading)
        path = target.path if target else edit.path
        if target is not None and target.symbol:
            calls.append(("replace_symbol", {"path": path, "name": target.symbol, "source": edit.content}))
        elif target is not None and target.region:
            calls.append(("propose_patch", {"path": path, "old": target.text, "new": edit.content}))
        else:
            calls.append(("propose_file", {"path": path, "content": edit.content}))
    return calls


def _pieces(edits: list[Edit], request: EditRequest) -> list[Edit]:
    """The edits that write pieces of files (functions, lines), not files whole."""
    targets = request.targets
    return [e for e in edits if targets.get(e.heading) is not None
            and (targets[e.heading].symbol or targets[e.heading].region)]


def _change(edits: list[Edit], request: EditRequest) -> str:
    """The change as a person reads it and a repeat compares it: one diff a file, in path order, of
    what the files become (a function written alone and the same change in its file written whole
    read alike), trailing spaces left out; a piece that cannot be put in place diffs alone."""
    import difflib

    pieces = _pieces(edits, request)
    placed = new_texts(pieces, request.targets, request.file_text) if pieces and request.file_text else None
    after = dict(placed or {})
    before = {path: request.file_text(path) or "" for path in after} if request.file_text else {}
    for edit in edits:
        if placed is not None and edit in pieces:
            continue
        target = request.targets.get(edit.heading)
        name = target.path if target is not None and not (target.symbol or target.region) else edit.heading
        before[name] = target.text if target is not None else (request.current(edit.heading) or "")
        after[name] = edit.content
    parts = []
    for name in sorted(after):
        old, new = ([line.rstrip() + "\n" for line in text.rstrip().splitlines()] for text in (before[name], after[name]))
        parts += difflib.unified_diff(old, new, f"a/{name}", f"b/{name}")
    return "".join(parts) or "\n".join(e.content for e in edits)


def _sum_usage(first: Any, second: Any) -> Any:
    if first is None or second is None:
        return second or first
    from smolagents.monitoring import TokenUsage

    return TokenUsage(first.input_tokens + second.input_tokens, first.output_tokens + second.output_tokens)


def _message(role: str, text: str) -> Any:
    from smolagents.models import ChatMessage, MessageRole

    return ChatMessage(role=MessageRole(role), content=[{"type": "text", "text": text}])


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content or ""
