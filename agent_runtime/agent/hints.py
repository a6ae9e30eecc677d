"""The next step, suggested from where a task stands, for a model that is going round in circles,
and the note that a question about named files is due its answer.

The suggestion is used only when the model repeats a step it already took: small models then copy
their own last reply again and again. A concrete next call (read a file not read yet, change the
code, run the tests, finish) breaks the loop better than "do something else". Derived from the
task's tool calls so far and the repository's files; it knows nothing about any particular task.
"""

from __future__ import annotations

from typing import Any, Iterable

from agent_runtime.agent.tasks import SOURCE, TEST_FILE, about_failure, asks_change
from agent_runtime.agent.tasks import named as _named


def _read_paths(calls: Iterable[Any]) -> set[str]:
    """The files the calls showed lines of (a snippet that matched no line showed none)."""
    return {str(c.arguments.get("path")) for c in calls
            if c.tool in ("read_file", "read_file_snippet") and c.outcome == "ok" and c.arguments.get("path")
            and c.facts.get("matches") != 0}


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
