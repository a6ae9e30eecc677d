"""What one fix attempt's calls say: whether its fix failed, and what the model is told of it
(agent/attempts.py decides what to do with that)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_runtime.agent.blocks import thought_of, without_lead_in
from agent_runtime.code.frames import error_lines

if TYPE_CHECKING:
    from smolagents.memory import ActionStep

    from agent_runtime.core import CallRecord

ATTEMPT_AGAIN = "The code is as shown above again: those changes were undone. Write a different fix."
ATTEMPT_NEW = "The code is as shown above. Write a fix that changes it."  # no attempt changed anything
REFLECT_CHARS = 1500  # the most of a failed run's output reflected back (fresh_restart off)


def fix_failed(calls: list["CallRecord"]) -> bool:
    """Whether these calls (one attempt's) tried a fix that failed: a proposal refused and no later
    one for its file (the attempt did not go through whole, even if it applied another file), or a
    change applied and a test run after it that did not pass. A fix refused for one of its files
    failed as a whole: its other files applied alone are untested and would be written again."""
    refused = [i for i, c in enumerate(calls) if _proposes(c.tool) and c.outcome != "ok"]
    if refused:
        path = calls[refused[-1]].arguments.get("path")
        if not any(_proposes(c.tool) and c.outcome == "ok" and c.arguments.get("path") in (None, path)
                   for c in calls[refused[-1] + 1:]):
            return True
    return _tests_failed_after_apply(calls)


def _proposes(tool: str) -> bool:
    return tool.startswith("propose_") or tool == "replace_symbol"


def _refused(calls: list["CallRecord"]) -> list["CallRecord"]:
    """The calls that would have let the fix in and were refused: a proposal, or its apply."""
    return [c for c in calls if (_proposes(c.tool) or c.tool == "apply_patch") and c.outcome != "ok"]


def refusal(calls: list["CallRecord"]) -> str:
    """Why a fix did not go in, as its refused proposal or apply said ("" when nothing refused it)."""
    refused = _refused(calls)
    return f"{refused[-1].tool} refused it: {refused[-1].facts.get('error', 'refused')}" if refused else ""


def _tests_failed_after_apply(calls: list["CallRecord"]) -> bool:
    applied = [i for i, c in enumerate(calls) if c.tool == "apply_patch" and c.outcome == "ok"]
    runs = [c for c in calls[applied[-1] + 1:] if c.tool == "run_tests" and c.outcome == "ok"] if applied else []
    return bool(runs) and not runs[-1].facts.get("passed")


def failure_lines(tests: dict | None, limit: int = 8) -> list[str]:
    """The failures of the attempt's last test run (its run_tests result), as pytest printed them."""
    return error_lines(str(tests.get("output", "")), limit) if tests else []


def attempt_note(number: int, calls: list["CallRecord"], undone: list[str], tests: dict | None) -> str:
    """What a failed fix did, for the next attempt, which does not see it: why its proposal was
    refused (and what of it that went in is undone), or what it changed and the tests' failures
    (`tests`: the attempt's last run_tests result)."""
    refused = _refused(calls)
    if refused and not _tests_failed_after_apply(calls):
        why = refused[-1].facts.get("error", "it was refused")
        return (f"Attempt {number} did not work: {refused[-1].tool} refused it: {why}. "
                + (f"What it changed ({', '.join(undone)}) is undone." if undone else "Nothing was changed."))
    if undone:
        summary = str(tests.get("summary") or "").strip() if tests else ""
        failures = failure_lines(tests)
        return (f"Attempt {number} did not work: it changed {', '.join(undone)} and the tests still failed"
                + (f" ({summary})" if summary else "") + ":\n" + "\n".join(failures)
                + ("\n" if failures else "") + "That change is undone.")
    return f"Attempt {number} did not work: it changed no file."


def reflection(calls: list["CallRecord"], tests: dict | None, said: str = "") -> str:
    """A failed fix told in the same conversation (fresh_restart off): why its proposal was refused,
    or the failures of the tests run after it (`tests`: its last run_tests result; `said`: what the
    step's calls gave back, where no test ran), bounded; the change stays applied."""
    refused = _refused(calls)
    if refused and not _tests_failed_after_apply(calls):
        why = refused[-1].facts.get("error", "it was refused")
        return f"That fix did not go in: {refused[-1].tool} refused it: {why}. Write the fix again."
    summary = str(tests.get("summary") or "").strip() if tests else ""
    output = str(tests.get("output", "")) if tests else said
    shown = "\n".join(failure_lines(tests)) or output.strip()[-REFLECT_CHARS:]
    return ("The tests still fail with your change applied" + (f" ({summary})" if summary else "")
            + f":\n{shown[:REFLECT_CHARS]}\nThe change stays: fix the code as it is now.")


def thought(step: "ActionStep", asked: bool = True) -> str:
    """The reply's first line of explanation: none when it starts with the code (a heading, a fence);
    where none was asked for, without its lead-in to the code."""
    line = thought_of(step.model_output if isinstance(step.model_output, str) else "").split("\n", 1)[0].strip()
    return line if asked else without_lead_in(line)


def fix_key(change: str) -> str:
    """A change without trailing spaces and blank lines: a repeated fix compares equal. Indentation
    stays (`return 0` inside a loop and after it are different fixes)."""
    return "\n".join(line.rstrip() for line in change.splitlines() if line.strip())


def passing_answer(test_command: str | None, wider_command: str | None) -> str:
    """What the answer says passed: the project's tests, or the ones a fix was judged by (a user
    reading "The tests pass." would take it that the whole suite ran)."""
    def shown(command: str) -> str:  # one line in the answer, never a code tag of the reply it sits in
        line = " ".join(command.replace("<", "‹").replace(">", "›").split())
        return line if len(line) <= 200 else line[:200] + " ..."

    if not test_command:
        return "The tests pass. "
    if wider_command:
        return (f"The failing tests pass (`{shown(test_command)}`), and so does `{shown(wider_command)}`; "
                "the rest of the suite was not run. ")
    return f"The failing tests pass (`{shown(test_command)}`); no other tests were run. "
