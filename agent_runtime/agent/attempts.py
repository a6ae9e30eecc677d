"""A fix task's attempts, owned in one place: what the model is asked for next, the decision after
each step, the undo of a failed fix, and when more attempts will not help.

A fix task whose failure and code were put in front of the model starts with the fix: the first
reply is asked in the edit form (agent/edits.py). After a step, the calls of the current attempt
say how it went: the tests pass (the step's code has given the final answer), the fix is not
tested yet (the model goes on from where it is), or it failed (refused, or applied and the tests
still fail). A failed fix is undone -- through the tool path, `undo_patch`, so it is a span with a
policy decision like any change -- and the next request is a new attempt: the task's first message
and a note of what the failed attempts did, sampled warmer. (With a failed attempt in view, small
models wrote it again, step after step.)

The request plan for the next model call is handed to the model wrapper explicitly
(agent/replies.py asks `take()` once per step): nothing is left set on the model object. In a big
repository (the changes form), each function shown gets its turn: the next attempt is held to the
best-ranked one no attempt has written yet.

Stopping: attempts end early, with an honest answer, when they stop telling anything new -- the
same failure after several different fixes, fixes the model already tried (or that change
nothing), or no time left for another one -- and after AGENT_MAX_ATTEMPTS failed ones (3, as Aider's
3 reflections): later attempts rarely pass and make an unfixable task wait longer (the figures:
docs/evaluation.md, "Attempts and time").

Coaching rules (models/profiles.py) decide three of these: `fresh_restart` (the undo and the fresh
start; off, the failed fix stays applied and its failure is reflected back, bounded, in the same
conversation, whose next request is the agent's own), `temperature_bumps` (the warmer refix) and
`new_function_per_attempt` (the turn of each function shown).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from agent_runtime.agent.edits import EditRequest
from agent_runtime.agent.outcomes import (
    ATTEMPT_AGAIN,
    attempt_note,
    failure_lines,
    fix_failed,
    fix_of,
    reflection,
    thought,
)
from agent_runtime.smol import add_to_observations

if TYPE_CHECKING:
    from smolagents.memory import ActionStep

    from agent_runtime.core import CallRecord

# A fix sampled again after a failed one: warm enough that a small model does not write the
# same code again, cool enough to stay on the task.
REFIX_TEMPERATURE = 0.7
NOTES_KEPT = 3  # earlier attempts the next one is told about
# When to stop: this many tested fixes in a row that leave the same failure, this many fixes the
# model had already tried, this many replies that changed nothing. Generous, because a small model's
# passing fix often comes after copies and repeats (docs/evaluation.md, "Where the coaching's
# constants come from").
SAME_FAILURE_LIMIT = 6
REPEATED_FIX_LIMIT = 5
NO_CHANGE_LIMIT = 6
RULES = ("fresh_restart", "temperature_bumps", "new_function_per_attempt")  # the coaching rules it follows


@dataclass
class RequestPlan:
    """What one model request is: a fix in the edit form, at a temperature, from a fresh start."""

    edit: EditRequest | None = None
    temperature: float | None = None
    fresh: str | None = None  # the request is the task's first message and this note


@dataclass
class Attempt:
    number: int
    what: str  # the model's explanation (the step's thought)
    failure: str  # the failing lines after it ("" when refused or not tested)
    fix: str  # the change itself, normalized (an attempt that repeats an earlier one has the same)
    seconds: float
    wrote: tuple[str, ...] = ()  # the headings its reply wrote


@dataclass
class FixAttempts:
    """The attempts of one fix task. `undo` is the undo_patch tool (the one tool path: a span and a
    policy decision like any change); what the user should be told collects in `said`, for the task
    loop to show; `budget_s`: the task's time, if known."""

    undo: Callable[..., dict[str, Any]]
    budget_s: float | None = None
    max_attempts: int | None = None  # failed fixes after which the task stops (AGENT_MAX_ATTEMPTS)
    clock: Callable[[], float] = time.monotonic
    # The coaching rules this loop follows (models/profiles.py; RULES, from the model's profile):
    fresh_restart: bool = True
    temperature_bumps: bool = True
    new_function_per_attempt: bool = True
    started: float | None = None  # when the task began, on `clock` (None: now)
    first_request_s: float | None = None  # from the task's start to its first model request
    request: EditRequest | None = None
    attempts: list[Attempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)  # for the user, taken by the task loop after each step
    first_call: int = 0  # where the current attempt's calls begin in the session's history
    stopped: str | None = None  # the honest answer, once more attempts will not help
    _pending: RequestPlan | None = None
    _current: EditRequest | None = None  # the request of the attempt under way
    _turns: list[str] = field(default_factory=list)  # the headings attempts were held to, in order
    _task_started: float = 0.0
    _started: float = 0.0
    _attempt_started: float = 0.0

    def __post_init__(self) -> None:
        # Made when the task starts: what comes before the first attempt (the failing tests' run,
        # a planner's reply) is spent from the same budget.
        self._task_started = self.clock() if self.started is None else self.started

    @property
    def active(self) -> bool:
        return self.request is not None

    def made(self, answered: bool) -> int:
        """Fix attempts made in the task: the failed ones, and the one that passed."""
        return len(self.attempts) + (1 if self.active and answered else 0)

    def begin(self, request: EditRequest, first_call: int) -> None:
        """A fix task: the first reply is the fix."""
        self.request, self.first_call = request, first_call
        self._started = self._attempt_started = self.clock()
        self._current = request
        self._pending = RequestPlan(edit=request)

    def take(self) -> RequestPlan | None:
        """The plan of the request being made now (the model wrapper asks once per step; its
        retries keep it)."""
        if self.first_request_s is None:  # asked once per request: the first ask is the first request
            self.first_request_s = round(self.clock() - self._task_started, 3)
        plan, self._pending = self._pending, None
        return plan

    def after_step(self, step: "ActionStep", history: list["CallRecord"]) -> None:
        """Decide after a step: nothing to do, or undo a failed fix and plan a new attempt, or stop.
        history: the session's tool calls (this attempt's begin at first_call)."""
        if self.request is None or step.is_final_answer:
            return
        calls = history[self.first_call:]
        restart = self.fresh_restart
        if (calls or not restart) and not fix_failed(calls):
            return  # e.g. applied and not tested yet: the model goes on from where it is
        undone = self._undo(calls) if restart else None
        self.first_call = len(history)  # after the undo's own calls
        observations = step.observations or ""
        now = self.clock()
        wrote = tuple(self._current.written) if self._current is not None else ()
        self.attempts.append(Attempt(len(self.attempts) + 1, thought(step), "\n".join(failure_lines(observations)),
                                     fix_of(step), now - self._attempt_started, wrote))
        self._attempt_started = now
        fresh = None
        if undone is not None:  # the code is as the first message showed it: start from there
            self.notes.append(attempt_note(len(self.notes) + 1, calls, undone, observations))
            fresh = "\n\n".join(self.notes[-NOTES_KEPT:]) + "\n\n" + ATTEMPT_AGAIN
        self.stopped = self._stop_reason()
        warmer = REFIX_TEMPERATURE if self.temperature_bumps else None
        if not restart:
            # The same conversation goes on: the next request is the agent's own, after this note.
            self._current = None
            if not self.stopped:
                add_to_observations(step, reflection(calls, observations))
            self._pending = None if self.stopped or warmer is None else RequestPlan(temperature=warmer)
            return
        self._current = self._next_request()
        self._pending = None if self.stopped else RequestPlan(edit=self._current, temperature=warmer, fresh=fresh)

    def _next_request(self) -> EditRequest:
        """In a big repository, each function shown gets its turn, in the order of the ranking: the
        next attempt is held to the best-ranked one no attempt has written yet, so that a small model
        does not return to the same one or two functions. Once every one has had its turn, the model
        chooses again."""
        assert self.request is not None
        if not self.new_function_per_attempt:
            return self.request
        if self.request.form != "changes" or len(self.request.paths) < 2:
            return self.request
        visited = set(self._turns) | {h for a in self.attempts for h in a.wrote}
        left = [h for h in self.request.paths if h not in visited]
        if not left:
            return self.request
        self._turns.append(left[0])
        return self.request.narrowed(left[0])

    def _undo(self, calls: list["CallRecord"]) -> list[str] | None:
        """Undo the patches these calls applied (newest first): the files restored, or None if one
        could not be undone (then the attempt stays, and so does the history that shows it)."""
        ids = [c.facts.get("patch_id") for c in calls if c.tool == "apply_patch" and c.outcome == "ok"]
        if not ids:
            return []
        if None in ids:
            return None
        files: list[str] = []
        for patch_id in reversed(ids):
            result = dict(self.undo(patch_id=str(patch_id)))
            if "error" in result:
                self.said.append(f"Could not undo {patch_id}: {result['error']}")
                return None
            files += [str(f) for f in result.get("files", [])]
        self.said.append(f"The tests still fail: undid {', '.join(ids)} ({', '.join(sorted(set(files)))}) and trying a new fix.")
        return sorted(set(files))

    def _stop_reason(self) -> str | None:
        tested = [a for a in self.attempts if a.failure]
        same = tested[-SAME_FAILURE_LIMIT:]
        if self.max_attempts is not None and len(self.attempts) >= self.max_attempts:
            why = f"that is the limit (AGENT_MAX_ATTEMPTS={self.max_attempts}; --max-attempts N tries more)"
        elif len(same) == SAME_FAILURE_LIMIT and len({a.failure for a in same}) == 1 \
                and len({a.fix for a in same}) == SAME_FAILURE_LIMIT:
            why = f"{SAME_FAILURE_LIMIT} different fixes in a row left the same failure"
        elif sum(1 for i, a in enumerate(self.attempts)
                 if a.fix and a.fix in {b.fix for b in self.attempts[:i]}) >= REPEATED_FIX_LIMIT:
            why = "the model kept writing fixes it had already tried"
        elif sum(1 for a in self.attempts if not a.fix) >= NO_CHANGE_LIMIT:
            why = "the model kept writing the code back unchanged"
        elif self.budget_s is not None and self.attempts:
            spent = self.clock() - self._task_started
            why = "there is no time left for another attempt" if spent + self._next_attempt_s() > self.budget_s else None
        else:
            why = None
        return None if why is None else self.summary(why)

    def _next_attempt_s(self) -> float:
        """How long the next attempt will likely take: as the later ones did. The first pays for
        processing the whole first message, which the next ones find in the server's cache, so the
        first alone counts half."""
        later = [a.seconds for a in self.attempts[1:]]
        return sum(later) / len(later) if later else self.attempts[0].seconds / 2

    def summary(self, why: str) -> str:
        """The honest answer: could not fix it, what was tried, what still fails."""
        kept = "Each failed change was undone, so the code is as it was." if self.fresh_restart \
            else "The changes are still applied (undo_patch or /undo takes them back)."
        lines = [f"Could not fix it: stopped after {len(self.attempts)} attempts because {why}. {kept}"]
        for attempt in self.attempts[-5:]:
            failure = attempt.failure.splitlines()[0].removeprefix("E").strip() if attempt.failure else "not tested"
            lines.append(f"- attempt {attempt.number}: {attempt.what[:160] or '(no explanation)'} -> {failure[:160]}")
        last = next((a.failure for a in reversed(self.attempts) if a.failure), "")
        if last:
            lines.append("Still failing:\n" + last)
        return "\n".join(lines)

