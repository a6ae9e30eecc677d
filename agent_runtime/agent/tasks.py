"""What a task asks for, read from its text: a change or only an answer, about a failure or not,
the files and tests it names, the files it says to leave alone."""

from __future__ import annotations

import re
from typing import Iterable

from agent_runtime.code.focus import TEST_PATH

TEST_FILE = TEST_PATH
SOURCE = re.compile(r"\.(py|js|ts|go|rs|rb|java|c|h|cpp|sh)$")
# A task about a failure: the tests are worth running before the model's first step.
FAILURE = re.compile(r"\btests?\b|\bfail|\berror|traceback|exception|\bcrash|\bbug\b|assert", re.I)
# A question ("why do the tests fail?") or "run the tests" asks for no change, unless it also asks for a fix.
NOT_A_CHANGE = re.compile(r"^\s*(why|what|how|explain|which|where|who|when|is|are|does|do|can|could|tell|show|"
                          r"describe|list|run)\b", re.I)
# A task put as a question ("what does add do?", "explain ..."): answered, whatever words it has ("add").
QUESTION = re.compile(r"^\s*(why|what|how|explain|which|where|who|when|is|are|does|do|did|tell|show|describe|list|"
                      r"summari[sz]e)\b", re.I)
# ...unless a later sentence or clause asks for something done ("why does it fail? fix it", "explain it, then
# push it"): then the task keeps every tool, as any task did before questions were told apart.
THEN_CHANGE = re.compile(r"(?:[.?!;:,]\s*|\b(?:then|and|so)\s+)(please\s+)?(fix|repair|make|resolve|correct|change|"
                         r"update|add|implement|rename|remove|delete|write|apply|replace|use|push|commit|run|install|"
                         r"create|build|format|merge|revert|undo|save|remember|move|copy|generate|refactor|clean|"
                         r"promote|edit|set)\b", re.I)
ASKS_CHANGE = re.compile(r"\b(fix|repair|make\b.{0,40}\bpass|resolve|correct|change|update|add|implement|support|"
                         r"handle|rename)", re.I)
# A task that asks for a test to be written: the fix form writes the files shown, not new ones.
WRITES_TEST = re.compile(r"\b(with|write|writes|add|adds|new)\b(\s+\w+){0,3}\s+tests?\b", re.I)
# A pytest id as people paste it: tests/test_x.py::TestY::test_z[param]
TEST_ID = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.py)::([\w.]+(?:::[\w.]+)*(?:\[[^\]\s]*\])?)")


def about_failure(task: str) -> bool:
    return bool(FAILURE.search(task))


def asks_change(task: str) -> bool:
    """Whether a task asks for a change to the code (a fix, a feature), not only for an answer."""
    if is_question(task):
        return False
    return bool(ASKS_CHANGE.search(task)) or (about_failure(task) and not NOT_A_CHANGE.search(task))


def is_question(task: str) -> bool:
    """Whether a task asks only for an answer: put as a question, no sentence after it asking for a change.
    It is answered from what is read (agent/taskloop.py offers it the tools that only read)."""
    return bool(QUESTION.search(task)) and not THEN_CHANGE.search(task)


# What the files alone cannot answer: the repository's state and history, what running something gives.
STATE = re.compile(r"\b(commit|branch|diff|stag|status|log|history|histories|chang|undo|patch|run|pass|install|"
                   r"version|tag|merge|remote|working tree|clean|dirty|you|your)", re.I)
DEFINED = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.M)


# A question about the repository's history: what git's log says answers it. (One about the working
# tree or what the agent did is the CodeAgent's, which reads git_status and git_diff itself.)
HISTORY = re.compile(r"\b(commits?|history|git log|recent|authors?)\b", re.I)
WORKING_TREE = re.compile(r"\b(status|working tree|clean|dirty|staged|uncommitted|modified|chang\w*|diff|branch|"
                          r"you|your)\b", re.I)


def git_questions(task: str) -> list[tuple[str, dict]]:
    """The git tool calls (name, arguments) whose results answer a question about the repository's
    history, to run before its first request (none: not such a question)."""
    if not is_question(task) or not HISTORY.search(task) or WORKING_TREE.search(task):
        return []
    return [("git_log", {"max_count": 10})]


def about_code(task: str, paths: list[str], text: str) -> bool:
    """Whether a question is about the code the first message shows (its `paths`, their `text`): it names one
    of those files or a function or class defined in them, and nothing the files cannot answer (a commit,
    the working tree, what a run gives, what the agent did). The tests a question about a failure names
    ran before the first request, so their output is shown too."""
    if not is_question(task) or STATE.search(task):
        return False
    if named(task, paths) or any(re.search(rf"(?<![\w/.-]){re.escape(p.rsplit('/', 1)[-1])}(?![\w-])", task)
                                 for p in paths):
        return True
    names = {n for n in DEFINED.findall(text) if len(n) > 2}
    return any(re.search(rf"\b{re.escape(n)}\b", task) for n in names)


# A task about a change already proposed ("apply your fix", "undo p2"): the CodeAgent's, which has the
# patches and the conversation; the repair loop would write a new fix instead.
NAMES_PROPOSAL = re.compile(r"\b(apply|undo|revert)\b|\b(your|that|this|the same) (fix|patch|change)\b|\bp\d+\b", re.I)


def repairable(task: str) -> bool:
    """Whether the harness's repair loop (agent/repair.py) takes the task once tests fail: it asks for
    a change, not for a new test (the CodeAgent writes new files), and not about a change already
    proposed."""
    return asks_change(task) and not WRITES_TEST.search(task) and not NAMES_PROPOSAL.search(task)


def named(task: str, files: list[str]) -> list[str]:
    """The repository files the task names, as written (`README.md`, not `docs/README.md`)."""
    return [f for f in files if re.search(rf"(?<![\w/.-]){re.escape(f)}(?![\w-])", task)]


def named_tests(task: str, files: Iterable[str]) -> list[str]:
    """The test ids the task names (`tests/test_x.py::test_y`) whose file is in the repository."""
    known = set(files)
    found: list[str] = []
    for match in TEST_ID.finditer(task):
        test = f"{match.group(1)}::{match.group(2)}".rstrip(".,;:")
        if match.group(1) in known and test not in found:
            found.append(test)
    return found


# A sentence of the task that tells the agent to leave something as it is.
KEEP = re.compile(r"\b(must|should|do|does|can|may)\s*(not|n't)\s+(be\s+)?(chang|edit|touch|modif|alter)|"
                  r"\bnever\s+(chang|edit|touch|modif)|\bwithout\s+(chang|edit|touch|modif)|\bleave\b.{0,60}\balone\b|"
                  r"\b(unchanged|as it is|read-only)\b", re.IGNORECASE)


def kept_by_task(path: str, task: str) -> bool:
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
    return tuple(f for f in code if not kept_by_task(f, task)) or code


def route_hint(task: str | None) -> dict[str, object]:
    """A first task's kind (question, change, fix) and size, for the models file's routes."""
    from agent_runtime.models.roles import task_size

    if not task:
        return {}
    kind = ("fix" if about_failure(task) else "change") if asks_change(task) else "question"
    return {"kind": kind, "tokens": task_size(task)}
