"""Feedback while it works: what each step and each task took (time, tokens, context, money).

Time spent at approval prompts is the person's, not the agent's: it is left out of a step's
seconds and reported beside them (the model's time never includes it: prompts come between
model calls). Context is the size of the latest request against the model's window (agent/
context.py PromptMemory). Cost is for hosted models only, from LiteLLM's local cost map.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator


class StepMeter:
    """One task's figures, read from the session as the steps go by."""

    def __init__(self, session: Any):
        self.session = session
        self.started = time.monotonic()
        self._waited_at_start = self._waited_mark = self._waited()
        self.cost_usd: float | None = None

    def _waited(self) -> float:
        return float(getattr(self.session.approver, "waited_s", 0.0))

    def _context(self) -> tuple[int | None, int | None]:
        memory = self.session.prompt_memory
        if memory is None:
            return None, None
        used = memory.stats.last_request if memory.stats.requests else None
        return used, memory.window

    def step(self, step: Any) -> dict[str, Any]:
        """The fields of a step_ended event (agent/events.py StepEnded)."""
        waited = self._waited() - self._waited_mark
        self._waited_mark = self._waited()
        timing = getattr(step, "timing", None)
        seconds = None
        if timing is not None and timing.end_time:
            seconds = round(max(0.0, timing.duration - waited), 3)
        usage = getattr(step, "token_usage", None)
        tokens_in, tokens_out = (usage.input_tokens, usage.output_tokens) if usage else (0, 0)
        cost = None
        if tokens_in or tokens_out:
            kind = self.session.kind
            cost = kind.cost(self.session.model_label, tokens_in, tokens_out) if kind is not None else None
            if cost is not None:
                self.cost_usd = (self.cost_usd or 0.0) + cost
        context, window = self._context()
        error = getattr(step, "error", None)
        return {"step": step.step_number, "observation": step.observations or "",
                "error": str(error) if error else None, "seconds": seconds, "tokens_in": tokens_in,
                "tokens_out": tokens_out, "approval_s": round(waited, 3), "context_tokens": context,
                "context_window": window, "cost_usd": round(cost, 6) if cost is not None else None}

    def summary(self, calls: list[Any]) -> dict[str, Any]:
        """The extra fields of run_ended: where the time went (tools, tests, prompts), cost, context,
        the last test result, and whether a change came after it (then it says nothing of the files on disk)."""
        context, window = self._context()
        tests = [i for i, c in enumerate(calls) if c.tool == "run_tests" and isinstance(c.facts.get("passed"), bool)]
        waited = self._waited() - self._waited_at_start
        tool_s = sum(c.duration_ms for c in calls) / 1000  # a call's time includes its approval prompt
        from agent_runtime.agent.refusals import refusal_notes

        refused = refusal_notes(calls)
        return {"refusals": len(refused), "refused": refused,"approval_s": round(waited, 3), "tools_s": round(max(0.0, tool_s - waited), 3),
                "tests_s": round(sum(c.duration_ms for c in calls if c.tool == "run_tests") / 1000, 3),
                "cost_usd": round(self.cost_usd, 6) if self.cost_usd is not None else None,
                "context_tokens": context, "context_window": window,
                "tests_passed": calls[tests[-1]].facts["passed"] if tests else None,
                "tests_stale": bool(tests) and any(c.changed_files() for c in calls[tests[-1] + 1:])}

    def review(self, calls: list[Any], files_changed: list[str], exit_code: int) -> dict[str, Any]:
        """The task's root span figures a reviewer filters on in Phoenix (telemetry/review.py)."""
        from agent_runtime.telemetry.review import task_review

        return task_review(calls, files_changed, exit_code, self._waited() - self._waited_at_start)


class ModelCalls:
    """The coder's calls as a session counts them (agent/replies.py runs each in `around`, shows each
    reply to `observe`): the step_started event of the step a call begins, a spinner while it waits,
    the model's time, and what its server says of them (models/timings.py)."""

    def __init__(self, display: Any):
        self.display = display
        self.step_announced = 0  # the step whose step_started event was sent
        self.seconds = 0.0
        self.server = {"prompt_s": 0.0, "generation_s": 0.0, "prompt_tokens": 0, "prompt_evaluated": 0,
                       "calls": 0, "timed": 0}

    @contextmanager
    def around(self, step: int) -> Iterator[None]:
        if step != self.step_announced:
            self.step_announced = step
            from agent_runtime.agent.events import StepStarted, emit

            emit(self.display, StepStarted(step=step))
        started = time.monotonic()
        try:
            with self.display.waiting(f"Step {step}: the model is thinking…"):
                yield
        finally:
            self.seconds += time.monotonic() - started

    def observe(self, reply: Any) -> None:
        observe_reply(self.server, reply)

    def discarded(self, why: str, seconds: float) -> None:
        """A reply the model wrapper did not keep and asked again (a coaching rule's retry)."""
        from agent_runtime.agent.events import HarnessStep, emit

        emit(self.display, HarnessStep(what=f"a reply was discarded and asked again: {why}", seconds=seconds))


def tool_spinner(display: Any) -> Any:
    """The runtime's `activity`: a spinner naming the tool and its arguments while it runs."""

    def activity(name: str, arguments: dict[str, Any]) -> Any:
        shown = ", ".join(f"{k}={v!r}"[:60] for k, v in arguments.items() if v is not None)
        return display.waiting(f"Running {name}({shown})…")

    return activity


def observe_reply(figures: dict[str, float], reply: Any) -> None:
    """The server's own timings of a call (prompt processing vs generation), where it reports them."""
    from agent_runtime.models.timings import model_timings

    timings = model_timings(reply)
    figures["calls"] += 1
    if timings is None:
        return
    figures["timed"] += 1
    figures["prompt_s"] += (timings.prompt_ms or 0.0) / 1000
    figures["generation_s"] += (timings.generation_ms or 0.0) / 1000
    figures["prompt_tokens"] += timings.prompt_tokens or 0
    figures["prompt_evaluated"] += timings.prompt_evaluated or 0


def server_figures(figures: dict[str, float], before: dict[str, float]) -> dict[str, Any]:
    """A task's model time split as the server measured it (None when it did not report for every
    call): reading the prompt, writing the reply, and the prompt tokens it had to read against those
    it could reuse from its cache."""
    now = {k: figures[k] - before[k] for k in figures}
    if not now["calls"] or now["timed"] < now["calls"]:
        return {"prompt_s": None, "generation_s": None, "prompt_tokens": None, "prompt_evaluated": None}
    return {"prompt_s": round(now["prompt_s"], 3), "generation_s": round(now["generation_s"], 3),
            "prompt_tokens": int(now["prompt_tokens"]), "prompt_evaluated": int(now["prompt_evaluated"])}


def step_line(fields: dict[str, Any]) -> str:
    """`step 2 · 3.1 s (+4.0 s at the approval prompt) · 1,234 in / 56 out tokens · context 3,456 of 16,384 (21%) · $0.0004`"""
    parts = [f"step {fields['step']}"]
    if fields.get("seconds") is not None:
        waited = fields.get("approval_s") or 0
        parts.append(f"{fields['seconds']:.1f} s" + (f" (+{waited:.1f} s at the approval prompt)" if waited >= 0.05
                                                      else ""))
    parts.append(f"{fields.get('tokens_in', 0):,} in / {fields.get('tokens_out', 0):,} out tokens")
    parts += _context_and_cost(fields)
    return " · ".join(parts)


def summary_line(fields: dict[str, Any]) -> str:
    """The task's last line: outcome, steps, time, tokens, context, cost, files changed, last test result."""
    status = {"answered": "done", "step_limit": "stopped at the step limit", "interrupted": "interrupted",
              "repeated": "stopped: a step repeated",
              "gave_up": "stopped trying", "error": "failed",
              "reader_closed": "stopped by the reader"}.get(fields.get("status", ""), str(fields.get("status")))
    steps = fields.get("steps", 0)
    wall, waited, model = fields.get("wall_s", 0.0), fields.get("approval_s") or 0.0, fields.get("model_s", 0.0)
    split = [f"model {model:.1f} s"]
    if fields.get("prompt_s") is not None and fields.get("generation_s") is not None:
        split[0] += f": reading {fields['prompt_s']:.1f} s, writing {fields['generation_s']:.1f} s"
    tests, tools = fields.get("tests_s") or 0.0, fields.get("tools_s") or 0.0
    if tests >= 0.05:
        split.append(f"tests {tests:.1f} s")
    if tools - tests >= 0.05:
        split.append(f"other tools {tools - tests:.1f} s")
    if waited >= 0.05:
        split.append(f"{waited:.1f} s at approval prompts not counted")
    timing = f"{max(0.0, wall - waited):.1f} s ({'; '.join(split)})"
    parts = [f"{status}: {steps} step{'s' if steps != 1 else ''}", timing,
             f"{fields.get('tokens_in', 0):,} in / {fields.get('tokens_out', 0):,} out tokens"]
    parts += _context_and_cost(fields)
    files = fields.get("files_changed") or []
    if files:
        parts.append("files changed: " + ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5
                                                                 else ""))
    else:
        parts.append("no file changed")
    lost = fields.get("not_covered") or []
    if lost:
        parts.append("undo cannot put back: " + ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5
                                                                       else ""))
    if fields.get("tests_stale") and not files:
        parts.append("tests: last run on a change since undone")
    elif fields.get("tests_stale"):
        parts.append("tests: not run since the last change")
    elif fields.get("tests_passed") is not None:
        parts.append("tests: " + ("passed" if fields["tests_passed"] else "failing"))
    if fields.get("refused"):  # "done" must not read as "done as asked" when a step was refused
        from agent_runtime.agent.refusals import summary_part

        parts.append(summary_part(fields["refused"]))
    return " · ".join(parts)


def _context_and_cost(fields: dict[str, Any]) -> list[str]:
    parts = []
    used, window = fields.get("context_tokens"), fields.get("context_window")
    if used is not None and window:
        parts.append(f"context {used:,} of {window:,} ({used * 100 // window}%)")
    if fields.get("cost_usd") is not None:
        parts.append(f"${fields['cost_usd']:.4f}")
    return parts
