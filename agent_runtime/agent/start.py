"""What a task starts with: the repository's overview, the tests the task names run first, the
code the failure goes through, and whether the first reply is the fix.

Small models spend their first steps (often all of them) finding out what a person would see at
a glance. So before the first model call: the files are listed (a small repository is shown
whole); for a task about a failure the tests it names run, through the one tool path; in a
repository too big to show whole, the failure's code is found by name (agent/focus.py) and
shown; and when the code and the failure are both in front of the model and the task asks for
a change, the first reply is asked for in the edit form (agent/attempts.py owns what follows).

Before the first request only the failing tests run, unless the model's coaching rules
(models/profiles.py) turn more on: `localization` (the traced spectrum run and the values run that
rank the code shown), `extra_test_runs` (the failing tests' files run without the failing tests, so a
fix is judged by what it breaks) and `planner` (the planner role's plan).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agent_runtime.agent.edits import EditRequest, EditTarget
from agent_runtime.agent.focus import focus_view
from agent_runtime.agent.overview import (
    FAILURE_FILES_CHARS,
    failure_files,
    named_heads,
    repository_overview,
    show_files,
    workspace_text,
)
from agent_runtime.agent.shot import shot_message
from agent_runtime.agent.tasks import (
    TEST_FILE,
    about_failure,
    asks_change,
    fix_targets,
    kept_by_task,
    repairable,
)
from agent_runtime.agent.testplan import (
    TestPlan,
    observer,
    plan_tests,
    ran_by_failing,
    run_once,
    spectrum_run,
    wider_from,
    without_failing,
)
from agent_runtime.code.index import RepoIndex
from agent_runtime.code.repomap import render_map
from agent_runtime.models.profiles import FULL, Coaching
from agent_runtime.tools.remember import NOTES_FILE

# A file this short is shown and written back whole; a longer one by its functions.
WHOLE_FILE_LINES = 150


@dataclass
class TaskStart:
    overview: str
    shown: list[str] = field(default_factory=list)  # files the first message showed (whole or in part)
    request: EditRequest | None = None  # the first reply is this fix
    tests: TestPlan = field(default_factory=TestPlan)
    plan: Any = None  # the planner's answer (agent/planner.py Plan), when a planner was asked


def prepare(task: str, repo: Path, listing: tuple[list[str], bool], run_tests: Any,
            readable: Callable[[str], bool], small_files: list[str], *, fresh: bool, attached: bool,
            max_tokens: int, window: int, cache_dir: Path | None = None,
            planner: Callable[[Any], Any] | None = None, coaching: Coaching = FULL, recap: str = "") -> TaskStart:
    """Everything the task's first message holds, and the fix request if the first reply is a fix.
    small_files: the files of a repository small enough to show whole (none otherwise).
    planner: a PlanRequest -> Plan (agent/planner.py), asked before a fix where the coaching rule
    `planner` is on; None: the coder alone. coaching: the model's rules (see the module's note).
    recap: the conversation's earlier tasks and answers (agent/answer.py earlier), which a fix asked
    as one completion is told before the task, since it does not see the conversation."""
    localize, extra_runs = coaching.on("localization"), coaching.on("extra_test_runs")
    files, more = listing
    start = TaskStart(repository_overview(repo, listing, readable), shown=list(small_files))
    if not files or run_tests is None or not about_failure(task):
        if not start.shown and not attached and not asks_change(task):
            heads, start.shown = named_heads(repo, files, task, readable)
            if heads:
                start.overview += "\n\nWhat the task names (no need to read this again):\n" + heads
        if not start.shown:
            start.overview += _code_map(repo, files, task, readable, cache_dir)
        return start
    plan = plan_tests(task, files, repo, small=bool(small_files))
    result, plan.first_run_s = run_once(run_tests, plan.first)
    start.tests = plan
    if result is None:
        return start
    how = f'run_tests(command="{plan.first}")' if plan.first else "run_tests()"
    start.overview += f"\n\nThe tests, run for you just now ({how}):\n{result}"
    if result.get("passed"):
        plan.wider = None
        return start
    targets: list[EditTarget] = []
    output = str(result.get("output", ""))
    shot: str | None = None  # the first fix as one completion asks it, in a repository shown whole
    planned: list[str] = []
    if planner is not None and coaching.on("planner") and fresh and asks_change(task):
        start.plan = _ask_planner(planner, repo, files, output, task, readable, cache_dir,
                                  fix_targets(start.shown, task) if start.shown else ())
        if start.plan.used:
            planned = start.plan.targets
            start.overview += start.plan.for_coder()
    if start.shown:
        editable = fix_targets(start.shown, task)
        # The planned files first, every file still writable: narrowed to the plan's files, the 1.5B
        # pair lost the three small tasks the coder solved alone (two fixes were in files it did not name).
        planned_files = {t.split("::", 1)[0] for t in planned}
        chosen = sorted(editable, key=lambda p: p not in planned_files)
        # Read again after the tests ran (they may have changed them), through the one reader.
        targets = _targets(repo, chosen, readable)
        # The first fix is asked as the strong one completion asks it (agent/shot.py): the code that
        # may change, the tests and the other files read-only, AGENTS.md not again (it leads every request).
        texts = {p: workspace_text(repo, p, readable) for p in start.shown if p not in (NOTES_FILE, "AGENTS.md")}
        code = {t.path: t.text for t in targets}
        context = {p: t for p, t in texts.items() if t is not None and p not in code and not p.rsplit("/", 1)[-1].startswith(".")}
        shot = shot_message(recap + task + (start.plan.for_coder() if planned else ""), code, context,
                            str(result.get("command") or plan.first), output)
    else:
        involved = failure_files(repo, files, output, task, readable)
        view = focus_view(repo, files, output, task, readable, cache_dir=cache_dir, plan=planned or None)
        code = sorted({t.path for t in view.targets}) if view is not None else [
            p for p in involved if not TEST_FILE.search(p)]
        whole = list(dict.fromkeys([p for p in involved if TEST_FILE.search(p)] + code))
        texts = {p: workspace_text(repo, p, readable) or "" for p in whole}
        if code and all(texts[p].count("\n") <= WHOLE_FILE_LINES for p in code) and \
                sum(len(t) for t in texts.values()) <= FAILURE_FILES_CHARS:
            # Short files: shown and written back whole (what small models do best).
            start.shown = whole
            start.overview += "\n\nThe files the failure involves (no need to read them again):\n" + show_files(repo, whole, readable)
            targets = _targets(repo, fix_targets(code, task), readable)
        elif view is not None:
            # The functions shown: ranked with what the failing tests run that the passing ones do not
            # (one traced run of their files, which also says what fails there already), then checked
            # against a traced run of the failing tests (agent/focus.py).
            spectrum = spectrum_run(run_tests, plan, task, files) if localize else None
            if spectrum is not None and plan.wider:
                plan.wider, plan.wider_checked = wider_from(spectrum, plan.wider, task, files), True
            elif spectrum is None and plan.wider and plan.spectrum_timed_out:
                plan.wider, plan.wider_checked = None, True  # too slow to run before the first request
            if localize:  # without it, the view as ranked by name (focus_view above)
                view = focus_view(repo, files, output, task, readable, cache_dir=cache_dir, plan=planned or None,
                                  observe=observer(run_tests, plan), ran=ran_by_failing(spectrum),
                                  suspects=[s["function"] for s in spectrum["suspects"]] if spectrum else None) or view
            start.shown = view.shown
            start.overview += "\n\n" + view.text
            targets = [t for t in view.targets if t.path in fix_targets(view.shown, task)]
    if not start.shown:
        start.overview += _code_map(repo, files, task, readable, cache_dir)
    if plan.wider and not plan.wider_checked:
        # Not run before the first request: the failing tests alone judge a fix.
        plan.wider = without_failing(plan.wider, run_tests, task, files) if extra_runs else None
    if plan.wider is None and plan.classes and extra_runs:
        # Their files too slow (or too broken) to judge each fix: their classes.
        plan.wider = without_failing(plan.classes, run_tests, task, files)
    if targets and repairable(task):  # a fix asked in a conversation too (the REPL's next task)
        whole = all(t.symbol is None and t.region is None for t in targets)
        # Room for the files whole, or (the changes form) for a few lines and what they become.
        room = min(max(max_tokens, sum(len(t.text) for t in targets) // 3 + 400), window // 3) if whole else max_tokens
        start.request = EditRequest.of(targets, max_tokens=room, test_timeout=plan.timeout,
                                       test_command=plan.first, wider_command=plan.wider, shot=shot,
                                       file_text=lambda rel: workspace_text(repo, rel, readable, errors="strict"))
    return start


def _ask_planner(planner: Callable[[Any], Any], repo: Path, files: list[str], output: str, task: str,
                 readable: Callable[[str], bool], cache_dir: Path | None, code_files: tuple[str, ...]) -> Any:
    """The planner's plan for this failure (agent/planner.py); its targets only in files the fix may
    change (not the tests, not a file the task says to keep)."""
    from agent_runtime.agent.planner import Plan, plan_request

    request = plan_request(repo, files, output, task, readable, code_files, cache_dir=cache_dir)
    if request is None:
        return Plan(note="the repository has no Python function for a plan to name")
    plan = planner(request)
    kept = [t for t in plan.targets if kept_by_task(t.split("::", 1)[0], task)]
    if kept:
        plan.targets = [t for t in plan.targets if t not in kept]
        plan.dropped += kept
        if not plan.targets and plan.note is None:
            plan.note = "the plan named only code the task says to keep"
    return plan


def _code_map(repo: Path, files: list[str], task: str, readable: Callable[[str], bool],
              cache_dir: Path | None) -> str:
    """The repository's code by name (code/repomap.py), for a repository not shown whole."""
    if not any(f.endswith(".py") for f in files):
        return ""
    index = RepoIndex(repo, files, cache_dir=cache_dir, readable=readable)
    text = render_map(index, task)
    index.save()
    return ("\n\nThe code by name, what the task mentions first (read one with read_symbol(path, name)):\n" + text
            if text else "")


def _targets(repo: Path, paths: list[str], readable: Callable[[str], bool]) -> list[EditTarget]:
    """The files a fix is asked for, whole, as they are now: one the tests replaced with a link out of
    the workspace (or to a file the policy hides), or with anything but a file, is left out."""
    texts = {p: workspace_text(repo, p, readable) for p in paths}
    return [EditTarget.file(p, text) for p, text in texts.items() if text is not None]
