"""The next step, suggested from where a task stands, for a model that is going round in circles.

Used only when the model repeats a step it already took: small models then copy their own last
reply again and again. A concrete next call (read a file not read yet, change the code, run the
tests, finish) breaks the loop better than "do something else". Derived from the task's tool
calls so far and the repository's files; it knows nothing about any particular task.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

TEST_FILE = re.compile(r"(^|/)(tests?/|test_[^/]*$|[^/]*_test\.py$|conftest\.py$)")
SOURCE = re.compile(r"\.(py|js|ts|go|rs|rb|java|c|h|cpp|sh)$")
# A task about a failure: the tests are worth running before the model's first step.
FAILURE = re.compile(r"\btests?\b|\bfail|\berror|traceback|exception|\bcrash|\bbug\b|assert", re.I)
# A question ("why do the tests fail?") or "run the tests" asks for no change, unless it also asks for a fix.
NOT_A_CHANGE = re.compile(r"^\s*(why|what|how|explain|which|where|who|when|is|are|does|do|can|could|tell|show|"
                          r"describe|list|run)\b", re.I)
ASKS_CHANGE = re.compile(r"\b(fix|repair|make\b.{0,40}\bpass|resolve|correct|change|update|add|implement|support|"
                         r"handle|rename)", re.I)


def about_failure(task: str) -> bool:
    return bool(FAILURE.search(task))


def asks_change(task: str) -> bool:
    """Whether a task asks for a change to the code (a fix, a feature), not only for an answer."""
    return bool(ASKS_CHANGE.search(task)) or (about_failure(task) and not NOT_A_CHANGE.search(task))


def _read_paths(calls: Iterable[Any]) -> set[str]:
    return {str(c.arguments.get("path")) for c in calls
            if c.tool in ("read_file", "read_file_snippet") and c.outcome == "ok" and c.arguments.get("path")}


def _named(task: str, files: list[str]) -> list[str]:
    """The repository files the task names, as written (`README.md`, not `docs/README.md`)."""
    return [f for f in files if re.search(rf"(?<![\w/.-]){re.escape(f)}(?![\w-])", task)]


def next_step(calls: list[Any], files: list[str], failing_output: str = "", shown: Iterable[str] = (),
              task: str | None = None) -> str | None:
    """A suggested next call, as one sentence with the code to write; None if nothing fits. A task
    that asks for an answer, not a change, is answered once something was read (a small model,
    told to run the tests, went on to "fix" a project it had only been asked to describe)."""
    ran_tests = [c for c in calls if c.tool == "run_tests" and c.outcome == "ok"]
    applied = [i for i, c in enumerate(calls) if c.tool == "apply_patch" and c.outcome == "ok"]
    proposed = [c for c in calls if c.tool.startswith("propose_") and c.outcome == "ok"]
    if applied:
        tested_after = any(c.tool == "run_tests" for c in calls[applied[-1] + 1:])
        if not tested_after:
            return "Your change is applied: run the tests now: print(run_tests())"
        if ran_tests and ran_tests[-1].facts.get("passed"):
            return 'The tests pass: finish with final_answer("what you changed and why").'
    if proposed and not applied:
        patch_id = proposed[-1].facts.get("patch_id")
        if patch_id:
            return f'Apply the patch you proposed: print(apply_patch(patch_id="{patch_id}"))'
    if task is not None and not asks_change(task):
        return _answer_step(task, calls, files, ran_tests, shown)
    if not ran_tests and any(TEST_FILE.search(f) for f in files):
        return "See what fails first: print(run_tests())"
    read = _read_paths(calls) | set(shown)
    mentioned = [f for f in files if f in failing_output]
    candidates = [f for f in mentioned + files if SOURCE.search(f) and not TEST_FILE.search(f) and f not in read]
    if candidates:
        return f'Read the code next: print(read_file(path="{candidates[0]}"))'
    sources = [c.arguments.get("path") for c in calls if c.tool == "read_file" and c.outcome == "ok"
               and not TEST_FILE.search(str(c.arguments.get("path")))]
    sources = sources or [f for f in shown if SOURCE.search(f) and not TEST_FILE.search(f)
                          and (not failing_output or f in failing_output)][-1:]
    if sources:
        return (f"You have read the code: fix it now. In one step, write the corrected {sources[-1]} whole with "
                f'propose_file(path="{sources[-1]}", content=r\'\'\'...\'\'\'), apply it with apply_patch and run run_tests().')
    if read:
        return ("You have read the code: fix it now. In one step, write the corrected file whole with "
                "propose_file(path=\"...\", content=r\'\'\'...\'\'\'), apply it with apply_patch and run run_tests().")
    return None


def _answer_step(task: str, calls: list[Any], files: list[str], ran_tests: list[Any], shown: Iterable[str]) -> str | None:
    if about_failure(task) and not ran_tests and any(TEST_FILE.search(f) for f in files):
        return "See what fails first: print(run_tests())"
    read = _read_paths(calls) | set(shown)
    unread = [f for f in _named(task, files) if f not in read]
    if unread:
        return f'Read it next: print(read_file(path="{unread[0]}"))'
    if read or ran_tests or calls:
        # "What it says", not "what it is": small models otherwise answer "the README gives an overview".
        return ('You have what the task asks about: answer it now with final_answer("..."), saying what '
                'the text you read says, as the task asks.')
    return None


def answer_now(task: str, calls: list[Any], step_calls: list[Any], files: list[str]) -> str | None:
    """For a question about files the task names (`Read README.md, then say ...`), once this step
    has read the last of them: a note that the answer is due. Said once, after that read. (A 1.5B
    model read the first page of a 687-line README, then paged through the rest and answered
    from its last page about something else.)"""
    if asks_change(task) or about_failure(task):
        return None
    named = _named(task, files)
    just_read = _read_paths(step_calls)
    if not named or not just_read & set(named) or not set(named) <= _read_paths(calls):
        return None
    if _read_paths(calls[:len(calls) - len(step_calls)]) & set(named) == set(named):
        return None  # read before this step: the note was given then
    return (f"(You have read {', '.join(named)}. If that answers the task, answer it in your next step with "
            'final_answer("..."), saying what the text says, as the task asks.)')


def fix_failed(calls: list[Any]) -> bool:
    """Whether these calls (one attempt's) tried a fix that failed: a proposal refused and no later
    one for its file (the attempt did not go through whole, even if it applied another file), or a
    change applied and a test run after it that did not pass. (Seen: a two-file fix whose second
    file was refused kept its first file applied, untested, and the model wrote the same step for
    the rest of its time, each refused as "the same as now".)"""
    refused = [i for i, c in enumerate(calls) if c.tool.startswith("propose_") and c.outcome != "ok"]
    if refused:
        path = calls[refused[-1]].arguments.get("path")
        if not any(c.tool.startswith("propose_") and c.outcome == "ok" and c.arguments.get("path") in (None, path)
                   for c in calls[refused[-1] + 1:]):
            return True
    return _tests_failed_after_apply(calls)


# A sentence of the task that tells the agent to leave something as it is.
KEEP = re.compile(r"\b(must|should|do|does|can|may)\s*(not|n't)\s+(be\s+)?(chang|edit|touch|modif|alter)|"
                  r"\bnever\s+(chang|edit|touch|modif)|\bwithout\s+(chang|edit|touch|modif)|\bleave\b.{0,60}\balone\b|"
                  r"\b(unchanged|as it is|read-only)\b", re.IGNORECASE)


def _kept_by_task(path: str, task: str) -> bool:
    """Whether the task names this file in a sentence that says not to change it."""
    name = re.escape(path.rsplit("/", 1)[-1])
    for sentence in re.split(r"(?<=[.;!?])\s+|;|\n", task):
        if KEEP.search(sentence) and re.search(rf"(?<![\w.-]){name}(?![\w-])", sentence):
            return True
    return False


def fix_targets(shown: Iterable[str], task: str = "") -> tuple[str, ...]:
    """The files a fix may name when the grammar holds it to the files shown: the code, not its
    tests (a small model "fixed" failing tests by editing them), nor the README, nor a file the
    task says must not change (it rewrote the "new API" the task said to keep)."""
    shown = tuple(shown)
    code = tuple(f for f in shown if SOURCE.search(f) and not TEST_FILE.search(f)) or shown
    return tuple(f for f in code if not _kept_by_task(f, task)) or code


def attempt_note(number: int, calls: list[Any], undone: list[str], observations: str) -> str:
    """What a failed fix did, for the next attempt, which does not see it: why its proposal was
    refused (and what of it that went in is undone), or the files it changed and the tests' failures."""
    refused = [c for c in calls if c.tool.startswith("propose_") and c.outcome != "ok"]
    if refused and fix_failed(calls) and not _tests_failed_after_apply(calls):
        why = refused[-1].facts.get("error", "it was refused")
        return (f"Attempt {number} did not work: {refused[-1].tool} refused it: {why}. "
                + (f"What it changed ({', '.join(undone)}) is undone." if undone else "Nothing was changed."))
    if undone:
        summary = re.search(r"^summary: (.*)$", observations, re.MULTILINE)
        failures = [line.rstrip() for line in observations.splitlines() if re.match(r"E\s", line)][:8]
        return (f"Attempt {number} did not work: it changed {', '.join(undone)} and the tests still failed"
                + (f" ({summary.group(1).strip()})" if summary else "") + ":\n" + "\n".join(failures)
                + ("\n" if failures else "") + "That change is undone.")
    return f"Attempt {number} did not work: it changed no file."


def _tests_failed_after_apply(calls: list[Any]) -> bool:
    applied = [i for i, c in enumerate(calls) if c.tool == "apply_patch" and c.outcome == "ok"]
    runs = [c for c in calls[applied[-1] + 1:] if c.tool == "run_tests" and c.outcome == "ok"] if applied else []
    return bool(runs) and not runs[-1].facts.get("passed")
