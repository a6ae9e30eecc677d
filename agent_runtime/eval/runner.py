"""Running a suite: each task in a fresh repository, the agent as a single task (`--approval
auto`, the policy and the sandbox as always, `--json` events read back), then its protected
files restored and its check run in a clean sandboxed process (an instance: its tests restored
and run, judge.py). N tasks at once share one
model server (the embedded one, started here, or the user's endpoint).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from agent_runtime.eval.instance import Instance
from agent_runtime.eval.judge import PrepareError, judge_instance, prepare_instance
from agent_runtime.eval.repo import check_env, make_repo, python_bin_dir, restore_protected, run_shell
from agent_runtime.eval.task import Task, answer_misses
from agent_runtime.procs import stop_group


@dataclass
class EvalOptions:
    model: str | None = None  # None: the embedded default
    max_steps: int | None = None
    timeout_s: float | None = None  # overrides every task's timeout_s
    workers: int = 1
    keep: bool = False  # keep each task's repository
    extra_env: dict[str, str] = field(default_factory=dict)
    planner: str | None = None  # the planner's model (PLANNER_MODEL for each agent; "none": no planner)
    skills: str = "off"  # a task repository's skills: "off" (untrusted, as for any user) or "trusted" for the run


SKILLS_CHOICES = ("off", "trusted")


def run_trust_file(repo: Path) -> Path:
    """Where `--skills trusted` keeps a task's trust: beside its repository (outside it, so the agent's
    commands and the check never see it), removed with it; never the user's trusted-skills.json."""
    from agent_runtime.tools.skillset import TRUST_FILE

    return repo.parent / "config" / TRUST_FILE


def trust_repository_skills(repo: Path) -> list[str]:
    """Trust the repository's skills as they are now, in the run's own trust file; their names."""
    from agent_runtime.tools.skillset import TrustStore, discover

    path = run_trust_file(repo)
    empty = path.parent / "no-user-skills"  # the repository's skills only: the user's are trusted anyway
    found = [s for s in discover(repo, user_dir=empty, trust_file=path).found if s.from_repository]
    store = TrustStore(path)
    for skill in found:
        store.trust(repo.resolve(), skill)
    return [skill.name for skill in found]


# An attempt puts the system under test to work on a prepared repository and returns facts.
Attempt = Callable[[Task, Path, EvalOptions, float], dict[str, Any]]


def _kill(proc: subprocess.Popen) -> None:
    """The agent and everything it started: Ctrl-C first (it records the run as interrupted)."""
    stop_group(proc, (signal.SIGINT, signal.SIGTERM, signal.SIGKILL), wait_s=5)


# The agents running now: Ctrl-C stops them too (each runs in its own session, out of the
# terminal's reach), instead of waiting for them to finish.
_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def stop_running() -> None:
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        _kill(proc)


TIME_MARGIN_S = 20


@dataclass
class Supervised:
    """How a supervised process ended."""

    exit_code: int | None
    timed_out: bool
    stderr_tail: str


def supervise(argv: list[str], cwd: Path, env: dict[str, str], timeout: float,
              on_line: Callable[[str], None]) -> Supervised:
    """Run a system under test to its end or its timeout: stdin closed, its own process group
    (killed whole at the timeout, and by Ctrl-C of the eval), each stdout line to `on_line`."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, text=True, encoding="utf-8",
                            errors="replace")
    stderr_tail: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_tail.append(line)
            del stderr_tail[:-40]

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    with _running_lock:
        _running.add(proc)
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        _kill(proc)

    timer = threading.Timer(timeout, stop)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            on_line(line)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            _kill(proc)
        with _running_lock:
            _running.discard(proc)
        reader.join(timeout=5)
    return Supervised(proc.returncode, expired.is_set(), "".join(stderr_tail))


def agent_attempt(task: Task, repo: Path, options: EvalOptions, timeout: float) -> dict[str, Any]:
    """agent_runtime itself, through its command line, as a user's script would call it."""
    # -q: stderr keeps only what goes wrong (its last line is a crash's cause), not the step lines
    argv = [sys.executable, "-P", "-m", "agent_runtime", "--repo", str(repo), "--approval", "auto", "--json", "-q"]
    if options.model:
        argv += ["--model", options.model]
    if options.max_steps:
        argv += ["--max-steps", str(options.max_steps)]
    argv += ["--", task.prompt]
    # The tests the agent runs see what the judge's do (check_env): `python` and `python3` are the
    # runner's, no plugins autoloaded. Without it the agent ran tests with whatever python3 the PATH
    # had (a pyenv shim that a project's .python-version breaks; or agent_runtime's own venv, whose
    # Phoenix pytest plugin took 10-30 s to import before every test run), and the peers did not.
    env = {**os.environ, **options.extra_env, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "PATH": f"{python_bin_dir(repo.parent)}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}
    if options.planner:
        env["PLANNER_MODEL"] = options.planner  # the agent's own roles: the models file, routes, this
    # The agent knows its time, so a fix task ends with what it tried rather than being killed
    # (a margin for its start-up and its last test run).
    env.setdefault("AGENT_TIME_BUDGET", str(max(10, int(timeout - TIME_MARGIN_S))))
    from agent_runtime.config import EXTRA_TRUST_ENV

    env.pop(EXTRA_TRUST_ENV, None)  # --skills off is off, whatever the eval's own environment says
    if options.skills == "trusted":
        env[EXTRA_TRUST_ENV] = str(run_trust_file(repo))
    events: list[dict[str, Any]] = []

    def on_line(line: str) -> None:
        try:
            events.append(json.loads(line))
        except ValueError:
            pass

    done = supervise(argv, repo, env, timeout, on_line)
    return _facts(events, done.exit_code, done.timed_out, done.stderr_tail)


def _facts(events: list[dict[str, Any]], exit_code: int | None, timed_out: bool, stderr: str) -> dict[str, Any]:
    started = next((e for e in events if e.get("type") == "run_started"), {})
    ended = next((e for e in events if e.get("type") == "run_ended"), {})
    calls = [e for e in events if e.get("type") == "tool_call"]
    plan = next((e for e in events if e.get("type") == "plan"), None)
    answer = next((e.get("answer") for e in reversed(events) if e.get("type") == "final_answer"), None)
    # Stopped at the task's timeout: the agent may still have ended the run cleanly ("interrupted").
    status = "timeout" if timed_out else ended.get("status") or ("crashed" if exit_code else "unknown")
    facts = {
        "status": status,
        "exit_code": exit_code,
        "run_id": started.get("run_id"),
        "model": started.get("model"),
        "steps": ended.get("steps", sum(1 for e in events if e.get("type") == "step_ended")),
        "model_s": ended.get("model_s"),
        "tokens_in": ended.get("tokens_in"),
        "tokens_out": ended.get("tokens_out"),
        "parse_failures": ended.get("parse_errors"),
        "format_retries": ended.get("format_retries"),
        "code_errors": ended.get("code_errors"),
        "tool_errors": sum(1 for e in calls if e.get("outcome") == "error"),
        "refusals": sum(1 for e in calls if e.get("outcome") == "refused"),
        "tool_calls": len(calls),
        "planner": (ended.get("models") or {}).get("planner"),
        "plan_used": plan.get("used") if plan else None,  # None: no plan was asked for
        "plan_targets": plan.get("targets") if plan else None,
        "plan_s": plan.get("seconds") if plan else None,
        "answer": answer[:4000] if isinstance(answer, str) else None,  # a question's is judged on it (run_task)
        # Skills: the calls of load_skill, and the skills it gave (refused and failed calls give none).
        "load_skill_calls": sum(1 for e in calls if e.get("tool") == "load_skill"),
        "skills_loaded": sorted({str((e.get("arguments") or {}).get("name")) for e in calls
                                 if e.get("tool") == "load_skill" and e.get("outcome") == "ok"
                                 and (e.get("arguments") or {}).get("name")}),
        # Where the time went (the server's own split of model time, where it reports one).
        **{key: ended.get(key) for key in ("prompt_s", "generation_s", "tools_s", "tests_s", "approval_s", "attempts",
                                           "prompt_tokens", "prompt_evaluated", "time_to_first_request_s")},
    }
    if status in ("crashed", "error", "timeout", "unknown"):
        facts["error"] = ended.get("error") or stderr.strip().splitlines()[-1:] or None
    return facts


@dataclass
class Progress:
    total: int
    done: int = 0
    solved: int = 0
    started: float = field(default_factory=time.monotonic)
    results: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, result: dict[str, Any], sink: Any) -> None:
        """A finished task: counted, and its line written at once (an interrupted eval keeps it)."""
        with self.lock:
            self.results.append(result)
            self.done += 1
            self.solved += bool(result.get("solved"))
            sink.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
            sink.flush()


def _setup_failed(result: dict[str, Any], error: str, started: float) -> dict[str, Any]:
    result.update(solved=False, status="setup_failed", error=error, wall_s=round(time.monotonic() - started, 2))
    return result


def run_task(task: Task, attempt: Attempt, options: EvalOptions, work: Path, system: str) -> dict[str, Any]:
    started = time.monotonic()
    where = Path(tempfile.mkdtemp(prefix=f"{task.id[:40]}-", dir=work))
    result: dict[str, Any] = {"id": task.id, "kind": task.kind, "system": system,
                              "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    prepared = None  # an instance's repository and the judge's view of it
    try:
        if isinstance(task, Instance):
            prepared = prepare_instance(task, where)
            repo = prepared.repo
        else:
            repo = make_repo(task, where)
    except PrepareError as exc:  # a missing snapshot or commit: nothing for the agent to work on
        return _setup_failed(result, str(exc), started)
    env = check_env(python_bin_dir(where))
    timeout = options.timeout_s or task.timeout_s
    if task.setup:
        setup = run_shell(task.setup, repo, env, timeout=min(timeout, 300))
        if not setup.passed:
            return _setup_failed(result, setup.output[-500:], started)
    if prepared is not None:
        try:
            prepared.mark_start()
        except PrepareError as exc:
            return _setup_failed(result, str(exc), started)
    result["skills"] = options.skills
    if options.skills == "trusted":  # after setup: the skills as the agent finds them
        result["skills_trusted"] = trust_repository_skills(repo)
    try:
        facts = attempt(task, repo, options, timeout)
    except Exception as exc:  # the system under test broke: this task counts as unsolved  # noqa: BLE001
        facts = {"status": "crashed", "error": f"{type(exc).__name__}: {exc}"}
    result.update(facts)
    if prepared is not None:
        try:
            result.update(judge_instance(prepared, env))
        except (PrepareError, OSError) as exc:  # the agent left the work tree unusable (unreadable files)
            result.update(solved=False, tampered=[], judge_error=f"{type(exc).__name__}: {exc}")
    else:
        tampered = restore_protected(task, repo)
        result.update(solved=not tampered, tampered=tampered)
        if task.check is not None:
            check = run_shell(task.check, repo, env, timeout=300)
            result.update(solved=result["solved"] and check.passed, check_exit_code=check.exit_code,
                          check_output=check.output[-1500:] if not check.passed else "")
        if task.answer:  # a question: its final answer (of a run that ended answering) matches every regex
            missing = answer_misses(task.answer, facts.get("answer") if facts.get("status") == "answered" else None)
            result.update(solved=result["solved"] and not missing, answer_missing=missing)
    result["wall_s"] = round(time.monotonic() - started, 2)
    if options.keep:
        result["repo"] = str(repo)
    return result


def run_suite(tasks: list[Task], attempt: Attempt, options: EvalOptions, out: Path, system: str = "agent_runtime",
              on_result: Callable[[dict[str, Any], Progress], None] | None = None) -> list[dict[str, Any]]:
    """Run every task (options.workers at once); each result is appended to `out` as it comes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(tasks))
    # With --keep, the repositories stay next to the results; otherwise in a directory removed at the end.
    keep_dir = out.with_suffix(".repos") if options.keep else None
    if keep_dir is not None:
        keep_dir.mkdir(parents=True, exist_ok=True)
    with (nullcontext(str(keep_dir)) if keep_dir else tempfile.TemporaryDirectory(prefix="agent-runtime-eval-")) as tmp, \
            out.open("a", encoding="utf-8") as sink:
        work = Path(tmp)

        def one(task: Task) -> dict[str, Any]:
            return run_task(task, attempt, options, work, system)

        with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
            futures = [pool.submit(one, task) for task in tasks]
            try:
                for future in as_completed(futures):
                    result = future.result()
                    progress.record(result, sink)
                    if on_result:
                        on_result(result, progress)
            except KeyboardInterrupt:
                for future in futures:
                    future.cancel()
                stop_running()
                raise
    order = {task.id: i for i, task in enumerate(tasks)}
    return sorted(progress.results, key=lambda r: order.get(r["id"], 0))
