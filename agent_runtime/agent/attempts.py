"""A fix task's attempts, decided in one place: what the next request is, whether a failed fix
is undone, and when more attempts will not help. agent/repair.py runs them.

A fix task starts with the fix: the failure and the code are in front of the model and the first
reply is the fixed code (agent/edits.py). After each attempt, its tool calls say how it went (its
proposal refused, or applied and the tests still fail). A failed fix is undone -- through the tool
path, `undo_patch`, so it is a span with a policy decision like any change -- and the next request
is a new attempt: the task's first message (the shot's, where there is one) and a note of what failed, sampled
warmer. (With a failed attempt in view, small models wrote it again, step after step.) A reply that
writes the change of an attempt that already failed is not applied again (`failed_with`).

Stopping: attempts end early, with an honest answer, when they stop telling anything new -- the
same failure after several different fixes, fixes the model already tried (or that change
nothing), or no time left for another one -- and after AGENT_MAX_ATTEMPTS failed ones (3, as Aider's 3
reflections): later attempts rarely pass and keep an unfixable task waiting (docs/evaluation.md).

The first fix, where the repository is shown whole, is asked as the strong one completion asks it
(agent/shot.py), for every model. Coaching rules (models/profiles.py) decide four things after it:
`fresh_restart` (the undo and the fresh start; off, the failed fix stays and its failure is reflected
back in the same conversation), `temperature_bumps` (the warmer refix), `new_function_per_attempt` (in
a big repository, the next attempt held to the best-ranked function shown that no attempt wrote) and
`function_retries` (the later ones asked for functions, agent/pieces.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from agent_runtime.agent.edits import EditRequest
from agent_runtime.agent.outcomes import (
    ATTEMPT_AGAIN,
    ATTEMPT_NEW,
    attempt_note,
    failure_lines,
    fix_key,
    reflection,
    refusal,
    thought,
)
from agent_runtime.agent.pieces import by_function

if TYPE_CHECKING:
    from smolagents.memory import ActionStep

    from agent_runtime.core import CallRecord

# A refix: warm enough that a small model does not write the same code again, cool enough to stay on task.
REFIX_TEMPERATURE = 0.7
NOTES_KEPT = 3  # earlier attempts the next one is told about
# When to stop: this many tested fixes in a row leaving the same failure, fixes already tried, replies
# changing nothing. Generous: a small model's passing fix often comes after copies and repeats
# (docs/evaluation.md, "Where the coaching's constants come from").
SAME_FAILURE_LIMIT = 6
REPEATED_FIX_LIMIT = 5
NO_CHANGE_LIMIT = 6
RULES = ("fresh_restart", "temperature_bumps", "new_function_per_attempt", "function_retries")  # the coaching rules it follows


@dataclass
class RequestPlan:
    """What one fix request is: the edit form's request, at a temperature, from a fresh start or
    in the same conversation."""

    edit: EditRequest | None = None
    temperature: float | None = None
    fresh: str | None = None  # the request is the task's first message and this note
    reflect: str | None = None  # the request follows the exchange so far with this note (fresh_restart off)


@dataclass
class Attempt:
    number: int
    what: str  # the model's explanation (the step's thought)
    failure: str  # the failing lines after it ("" when refused or not tested)
    fix: str  # the change itself, normalized (an attempt that repeats an earlier one has the same)
    seconds: float
    wrote: tuple[str, ...] = ()  # the headings its reply wrote
    changed: tuple[str, ...] = ()  # the files it changed on disk (undone since, under fresh_restart)
    repeated: int | None = None  # the earlier attempt whose change it wrote again (not applied)
    refused: str = ""  # why its change did not go in (a proposal or apply that was refused)
    applied: bool = False  # its change went in (and was tested)

    @property
    def tried(self) -> bool:
        """A fix that went in and failed its tests: what AGENT_MAX_ATTEMPTS counts (a reply that changed
        nothing, a repeat, a change someone refused are bounded by their own limits)."""
        return self.applied or bool(self.failure)


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
    function_retries: bool = False  # the later ones asked for functions, not files whole (agent/pieces.py)
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
        self._current = self._form(request, 1)
        self._pending = RequestPlan(edit=self._current)

    def take(self) -> RequestPlan | None:
        """The plan of the request being made now (the model wrapper asks once per step; its
        retries keep it)."""
        if self.first_request_s is None:  # asked once per request: the first ask is the first request
            self.first_request_s = round(self.clock() - self._task_started, 3)
        plan, self._pending = self._pending, None
        return plan

    def failed_with(self, change: str) -> int | None:
        """The earlier attempt that wrote this change and failed, if any: it is not applied again."""
        key = fix_key(change)
        return next((a.number for a in self.attempts if a.fix and a.fix == key and a.repeated is None), None)

    def after_step(self, step: "ActionStep", history: list["CallRecord"], repeated: int | None = None,
                   tests: dict | None = None) -> None:
        """Decide after a failed attempt: undo it and plan the next, or stop. history: the session's
        tool calls (this attempt's begin at first_call); repeated: the attempt whose change this one
        wrote again (so it was not applied); tests: the attempt's last run_tests result (None: none ran)."""
        if self.request is None or step.is_final_answer:
            return
        calls = history[self.first_call:]
        restart = self.fresh_restart
        undone = self._undo(calls) if restart else None
        self.first_call = len(history)  # after the undo's own calls
        observations = step.observations or ""
        now = self.clock()
        wrote = tuple(self._current.written) if self._current is not None else ()
        applied = any(c.tool == "apply_patch" and c.outcome == "ok" for c in calls)
        changed = tuple(undone) if undone else tuple(dict.fromkeys(h.split("::")[0].split(" lines ")[0]
                                                                    for h in wrote)) if applied else ()
        explained = self._current is None or self._current.explain  # else what it said less its lead-in to the code
        self.attempts.append(Attempt(len(self.attempts) + 1, thought(step, explained),
                                     "\n".join(failure_lines(tests)),
                                     fix_key(step.code_action or ""), now - self._attempt_started, wrote, changed, repeated,
                                     refusal(calls), applied))
        self._attempt_started = now
        number = len(self.attempts)
        if repeated is not None:
            note = (f"Attempt {number} wrote the change of attempt {repeated} again, which had failed: it was "
                    "not applied.")
        elif not calls and not self.attempts[-1].fix:  # the reply held no change: why, as its step said
            other = self.function_retries and self._current is not None and not self._current.by_function
            said = self._current.unreminded(observations) if other and self._current else observations  # next: functions
            note = f"Attempt {number} did not work: it changed no file. {said}".rstrip() if restart else observations
        elif undone is not None:
            note = attempt_note(number, calls, undone, tests)
        else:
            note = reflection(calls, tests, observations)
        self.stopped = self._stop_reason()
        if undone:
            files = ", ".join(undone)
            self.said.append(f"The tests still fail: undid the change to {files}"
                             + ("." if self.stopped else " and trying a new fix."))
        warmer = REFIX_TEMPERATURE if self.temperature_bumps else None
        if self.stopped:
            self._pending = None
            return
        if not restart:  # the same conversation goes on, with the failure reflected back, on the code as it is now
            self._current = self._form(self.request.refreshed(), number + 1)
            self._pending = RequestPlan(edit=self._current, temperature=warmer, reflect=note)
            return
        self.notes.append(note)
        changed_any = any(a.changed for a in self.attempts)
        fresh = "\n\n".join(self.notes[-NOTES_KEPT:]) + "\n\n" + (ATTEMPT_AGAIN if changed_any else ATTEMPT_NEW)
        self._current = self._form(self._next_request(), number + 1)
        self._pending = RequestPlan(edit=self._current, temperature=warmer, fresh=fresh)

    def _form(self, request: EditRequest, number: int) -> EditRequest:
        """Attempt `number`'s request: the first is the strong one completion's where there is a shot
        (agent/shot.py); under function_retries the later ones name functions (agent/pieces.py)."""
        if number == 1 and request.shot:
            return request.alone()
        if self.function_retries and number > 1:
            request = by_function(request)
        return request

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
        return sorted(set(files))

    def _stop_reason(self) -> str | None:
        tested = [a for a in self.attempts if a.failure]
        same = tested[-SAME_FAILURE_LIMIT:]
        if self.max_attempts is not None and sum(1 for a in self.attempts if a.tried) >= self.max_attempts:
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
        applied = [a for a in self.attempts if a.applied]
        kept = "No change was applied." if not applied else "Each failed change was undone, so the code is as it was." \
            if self.fresh_restart else "The changes are still applied (undo_patch or /undo takes them back)."
        count, tried = len(self.attempts), sum(1 for a in self.attempts if a.tried)
        # AGENT_MAX_ATTEMPTS counts the tried ones: the count says which those are when not all were.
        parts = [f"{tried} went in and failed its tests" if tried == 1 else f"{tried} went in and failed their tests"
                 if tried else "", f"{count - tried} changed nothing or were not applied" if count - tried > 1
                 else "1 changed nothing or was not applied" if count - tried == 1 else ""]
        which = f" ({'; '.join(p for p in parts if p)})" if tried < count else ""
        lines = [f"Could not fix it: stopped after {count} attempt{'' if count == 1 else 's'}{which} because {why}. {kept}"]
        for attempt in self.attempts[-5:]:
            failure = attempt.failure.splitlines()[0].removeprefix("E").strip() if attempt.failure \
                else f"not tested: {attempt.refused}" if attempt.refused else "not tested"
            if attempt.repeated is not None:
                did = f"wrote attempt {attempt.repeated}'s change again, not applied"
            elif attempt.changed:
                did = f"changed {', '.join(attempt.changed)}" + (", undone" if self.fresh_restart else "")
            else:
                did = "changed nothing"
            lines.append(f"- attempt {attempt.number} ({did}): {_clip(attempt.what) or '(no explanation)'} -> "
                         f"{_clip(failure)}")
        last = next((a.failure for a in reversed(self.attempts) if a.failure), "")
        if last:
            lines.append("Still failing:\n" + last)
        return "\n".join(lines)


def _clip(text: str, limit: int = 160) -> str:
    """At most `limit` characters, cut between words (a line of the give-up answer)."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
