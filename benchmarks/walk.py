"""The walk through the code of one fix task (issue 44, "The walk measured"): every agent_runtime
function called from `agent_runtime.cli.main:entry` to the first model request, and through one failed
attempt, recorded with a profiler hook. Goal: at most 20 modules and 5 re-entries to the first request.

    python benchmarks/walk.py [--out FILE]

One task, in this process: a scratch git repository (a one-function bug, `add` subtracting, and its
failing pytest test) and `agent-runtime --approval auto --model replay:FILE "Fix the failing test."`,
run by calling `entry()` with that argv (exit caught). The replay file holds two replies written as the
1.5B's profile asks them (an explanation, then a heading and a ```python block): the first the whole
file (`### calc.py`), multiplying, so its test fails; the second the function alone (`### calc.py::add`,
function_retries), adding, so the task ends solved.

The hook (`sys.setprofile` and `threading.setprofile`, so threads the run starts are seen too) cuts
the run into two segments at the replay model's requests, found by where they land rather than by
who sends them: a call of a function named `generate` in `agent_runtime.models.replay` (the innermost
method of any request, whatever wrapper or loop sends it).

- `to_first_request`: from `entry` up to the first request (not included).
- `one_failed_attempt`: from the first request (included: it returns the failing fix) up to the
  second (not included): the reply applied, the tests run and failing, the change undone, the next
  request prepared.

What is counted in a segment, agent_runtime frames only (a module's `__name__` is `agent_runtime` or
starts with `agent_runtime.`; library frames are skipped but seen through):

- `calls`: calls of agent_runtime functions and methods, lambdas included (a generator or coroutine
  counts once, at its first run, not at each resumption; a comprehension or generator expression is
  part of the function it is written in, not a call, as Python 3.12 inlines most of them). Code run
  while an agent_runtime module is being imported (the module's body, its class bodies and
  decorators) is not a call of the walk; `imported` is how many agent_runtime modules were first
  imported during the segment. Calls vary by a few between runs (threads that poll); the modules,
  their order and the re-entries do not.
- `modules`: distinct agent_runtime modules with at least one call; `order` lists them in the order
  of their first call.
- `reentries`: calls into a module already visited in the segment that come from another module:
  the caller (the nearest agent_runtime frame below the call, whatever library frames sit between;
  none for a thread's first frame) is in a different module. A call within a module is never one, so
  A.f calling A.g is not; A calling B, back in A, then A calling B again is one (into B); A calling
  B calling back A.h is one (into A). That is: control left the module for another and came back.
- `reentered_modules`: how many distinct modules had at least one re-entry (the issue's "56 modules
  visited, 37 of them re-entered" counts these); `most_reentered`: the ten with the most re-entries.
- `callbacks`: the re-entries into a module that still has a frame lower on the same stack (A -> B
  -> A: a callback, the coupling a layered design does not have).
- `by_folder`: the visited modules counted by the package folder they are in.
- `harness`: modules, re-entries and re-entered modules of the harness's own folders (agent/, cli/)
  alone; a re-entry into one of them from any module counts. The goal is judged on the whole walk.

The run must go as scripted: if the replay model is asked fewer than twice, or the task does not end
solved with the second fix, the figures are not of this walk and the script fails (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import dis
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from _common import ROOT, emit

PACKAGE = "agent_runtime"
MODEL_MODULE = "agent_runtime.models.replay"
REQUEST = "generate"
GOAL = {"modules": 20, "reentries": 5}
HARNESS = ("agent", "cli")  # the folders of the harness itself, figured apart as `harness`

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TEST = "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
FIXED = CALC.replace("a - b", "a + b")
WRONG = CALC.replace("a - b", "a * b")


def fix_reply(explanation: str, content: str, heading: str = "calc.py") -> str:
    """A fix as a model writes one: what it changes, then the new text under its heading."""
    return f"{explanation}\n\n### {heading}\n```python\n{content}```\n"


# The first fix is asked for files whole, the second (the 1.5B's profile: function_retries) for functions.
REPLIES = [fix_reply("add() must multiply its arguments.", WRONG),
           fix_reply("add() must add, not subtract.", "def add(a, b):\n    return a + b\n", "calc.py::add")]

COMPREHENSIONS = {"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"}  # a function's own expression (3.12 inlines most)
GENERATOR_LIKE = 0x20 | 0x80 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ASYNC_GENERATOR


def in_package(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def folder(module: str) -> str:
    """`agent` for agent_runtime.agent.session, `safety.policy` for agent_runtime.safety.policy.rules,
    `.` for a module at the package's top (agent_runtime.core)."""
    parts = module.split(".")[1:-1]
    return ".".join(parts) or "."


class Segment:
    def __init__(self) -> None:
        self.order: list[str] = []
        self.calls = 0
        self.reentries: Counter[str] = Counter()
        self.callbacks = 0
        self.imported: set[str] = set()

    def figures(self) -> dict:
        return {
            "modules": len(self.order),
            "reentries": sum(self.reentries.values()),
            "calls": self.calls,
            "reentered_modules": len(self.reentries),
            "callbacks": self.callbacks,
            "imported": len(self.imported),
            "most_reentered": dict(self.reentries.most_common(10)),
            "by_folder": dict(Counter(folder(m) for m in self.order).most_common()),
            "harness": self.harness(),
            "order": self.order,
        }


    def harness(self) -> dict:
        """The same figures for the harness's own modules (agent/ and cli/) alone: the issue's "path
        through agent/", without the runtime it calls (safety, tools, models, patches, telemetry)."""
        own = [m for m in self.order if folder(m).split(".")[0] in HARNESS]
        into = {m: n for m, n in self.reentries.items() if m in own}
        return {"modules": len(own), "reentries": sum(into.values()), "reentered_modules": len(into), "order": own}


class Walk:
    """The profiler hook: segment 0 until the first request, 1 until the second, then done."""

    def __init__(self) -> None:
        self.segments = [Segment(), Segment()]
        self.current = 0
        self.requests = 0
        self.lock = threading.Lock()
        self._first_resume: dict = {}  # a generator's code -> the offset its first run starts at

    def first_run(self, frame) -> bool:
        code = frame.f_code
        if not code.co_flags & GENERATOR_LIKE:
            return True
        start = self._first_resume.get(code)
        if start is None:
            start = next((i.offset for i in dis.get_instructions(code) if i.opname == "RESUME"), 0)
            self._first_resume[code] = start
        return frame.f_lasti <= start

    def hook(self, frame, event, arg):
        if event != "call" or self.current > 1:
            return
        module = frame.f_globals.get("__name__") or ""
        if not in_package(module):
            return
        with self.lock:
            self.record(frame, module)

    def record(self, frame, module: str) -> None:
        code = frame.f_code
        if code.co_name == "<module>":
            self.segments[self.current].imported.add(module)
            return
        if code.co_name in COMPREHENSIONS:
            return
        if module == MODEL_MODULE and code.co_name == REQUEST and self.first_run(frame):
            self.requests += 1
            self.current = self.requests  # the first request opens segment 1; the second ends the walk
            if self.current > 1:
                return
        caller = None
        below: set[str] = set()
        back = frame.f_back
        while back is not None:
            name = back.f_globals.get("__name__") or ""
            if in_package(name):
                if back.f_code.co_name == "<module>":
                    return  # import time: a module's body, its classes and decorators
                if caller is None:
                    caller = name
                below.add(name)
            back = back.f_back
        if not self.first_run(frame):
            return
        segment = self.segments[self.current]
        segment.calls += 1
        if module not in segment.order:
            segment.order.append(module)
        elif caller != module:
            segment.reentries[module] += 1
            if module in below:
                segment.callbacks += 1


def make_task(base: Path) -> tuple[Path, Path]:
    repo = base / "calc"
    repo.mkdir(parents=True)
    (repo / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TEST)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "a bug"]):
        subprocess.run(["git", *command], cwd=repo, env=env, check=True)
    replay = base / "replies.json"
    replay.write_text(json.dumps(REPLIES))
    return repo, replay


def run_walk(repo: Path, replay: Path) -> tuple[Walk, int, str]:
    """`entry()` as `agent-runtime` would run it in REPO, under the hook: the walk, the exit code, output."""
    from agent_runtime.cli.main import entry

    walk = Walk()
    argv = ["agent-runtime", "--approval", "auto", "--model", f"replay:{replay}", "Fix the failing test."]
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    output = io.StringIO()
    code: object = None
    sys.argv = argv
    os.chdir(repo)
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            threading.setprofile(walk.hook)
            sys.setprofile(walk.hook)
            try:
                entry()
            except SystemExit as exc:
                code = exc.code
            finally:
                sys.setprofile(None)
                threading.setprofile(None)  # type: ignore[arg-type]
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    return walk, code if isinstance(code, int) else (0 if code is None else 1), output.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, metavar="FILE", help="also write the JSON to FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-walk-") as base:
        repo, replay = make_task(Path(base))
        walk, code, output = run_walk(repo, replay)
        fixed = (repo / "calc.py").read_text() == FIXED
    if walk.requests != 2 or code != 0 or not fixed:
        sys.exit(f"walk: the task did not go as scripted (model asked {walk.requests} times, exit code {code}, "
                 f"{'fixed' if fixed else 'calc.py not fixed'}); its output:\n{output[-3000:]}")
    figures = {
        "benchmark": "walk",
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip() or None,
        "to_first_request": walk.segments[0].figures(),
        "one_failed_attempt": walk.segments[1].figures(),
        "goal": GOAL,
    }
    figures["meets_goal"] = (figures["to_first_request"]["modules"] <= GOAL["modules"]
                             and figures["to_first_request"]["reentries"] <= GOAL["reentries"])
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    emit(figures)


if __name__ == "__main__":
    main()
