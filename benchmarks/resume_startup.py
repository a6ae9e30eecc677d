"""`agent-runtime --continue "TASK"` on a 40-step run: time from the process's start to its first
step (the `step_started` event of `--json`), next to the same for a new conversation, and the
in-process cost of rebuilding the conversation. The replay model stands in for the model, so
model time is ~0. Target: under 2 s (plus model time) to the first step.

Python's bytecode cache is kept in a private directory (PYTHONPYCACHEPREFIX) and warmed first:
an installed package has its .pyc files; an environment with PYTHONDONTWRITEBYTECODE=1 compiles
LiteLLM's sources on every start (seconds), which says nothing about resuming.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit

BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "agent-runtime"
STEPS = 40
REPEAT = 5


def step(thought: str, code: str) -> str:
    return f"Thought: {thought}\n<code>\n{code}\n</code>"


def make_repo(base: Path) -> Path:
    repo = base / "repo"
    (repo / "src").mkdir(parents=True)
    for i in range(8):
        (repo / "src" / f"mod{i}.py").write_text("".join(f"def f{i}_{n}(x):\n    return x + {n}\n\n" for n in range(60)))
    (repo / "README.md").write_text("# bench\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    return repo


def long_run_replies() -> list[str]:
    replies = []
    for n in range(STEPS - 1):
        module = n % 8
        if n % 3 == 0:
            replies.append(step(f"Read part {n}.", f'print(read_file(path="src/mod{module}.py", start_line={n % 50 + 1}, '
                                                    f'end_line={n % 50 + 40}))'))
        elif n % 3 == 1:
            replies.append(step(f"Search {n}.", f'print(rg_search(pattern="def f{module}_{n}"))'))
        else:
            replies.append(step(f"List {n}.", f'print(list_files(pattern="src/*.py", max_results={n + 10}))'))
    replies.append(step("Report.", 'final_answer("surveyed the modules")'))
    return replies


def to_first_step(args: list[str], repo: Path, env: dict[str, str]) -> tuple[float, list[dict]]:
    started = time.perf_counter()
    proc = subprocess.Popen([str(BIN), *args], cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    first = None
    events = []
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] == "step_started" and first is None:
            first = time.perf_counter() - started
    proc.wait(timeout=120)
    if first is None or proc.returncode != 0:
        raise RuntimeError(f"no step started (exit {proc.returncode}): {events[-3:]}")
    return first, events


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-resume-"))
    repo = make_repo(base)
    runs = base / "runs"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # The user's own config (hooks, saved approvals, config.env) is left out: it says nothing about resuming.
    env.update({"RUNS_DIR": str(runs), "PYTHONPYCACHEPREFIX": str(base / "pycache"), "XDG_STATE_HOME": str(base / "state"),
                "XDG_CONFIG_HOME": str(base / "config")})
    long_replay = base / "long.json"
    long_replay.write_text(json.dumps(long_run_replies()))
    one = base / "one.json"
    one.write_text(json.dumps([step("Go on.", 'final_answer("done")')]))

    _, events = to_first_step(["--json", "--approval", "never", "--max-steps", str(STEPS + 5), "--model",
                               f"replay:{long_replay}", "survey every module"], repo, env)
    ended = events[-1]
    assert ended["type"] == "run_ended" and ended["steps"] == STEPS, ended
    long_run = runs / ended["run_id"]

    def continued() -> float:
        seconds, events = to_first_step(["--json", "--continue", "--model", f"replay:{one}", "and now?"], repo, env)
        assert events[0]["type"] == "resumed" and events[0]["steps"] == STEPS, events[0]
        shutil.rmtree(runs / events[1]["run_id"])  # the next --continue picks the 40-step run again
        return seconds

    def fresh() -> float:
        seconds, events = to_first_step(["--json", "--model", f"replay:{one}", "and now?"], repo, env)
        shutil.rmtree(runs / events[0]["run_id"])
        return seconds

    continued()  # warms the bytecode cache and the file system
    fresh()
    resumed_s = sorted(continued() for _ in range(REPEAT))
    fresh_s = sorted(fresh() for _ in range(REPEAT))

    from agent_runtime.agent.resume import load_conversation, memory_steps

    loads = []
    for _ in range(20):
        started = time.perf_counter()
        conversation = load_conversation(runs, long_run, repo.resolve())
        memory_steps(conversation.items)
        loads.append(time.perf_counter() - started)
    median = statistics.median(resumed_s)
    emit({
        "benchmark": "resume_startup",
        "steps_resumed": STEPS,
        "steps_jsonl_bytes": (long_run / "steps.jsonl").stat().st_size,
        "continue_to_first_step_median_s": round(median, 3),
        "continue_to_first_step_max_s": round(resumed_s[-1], 3),
        "new_conversation_to_first_step_median_s": round(statistics.median(fresh_s), 3),
        "resume_overhead_s": round(median - statistics.median(fresh_s), 3),
        "load_and_rebuild_ms": round(statistics.median(loads) * 1000, 2),
        "model": "replay (model time ~0)",
        "target_s": 2.0,
        "meets_target": median < 2.0,
    })
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
