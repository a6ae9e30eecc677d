"""benchmarks/walk.py: the modules, re-entries and calls of one fix task's walk through the code, from
`entry` to the first model request and through one failed attempt (issue 44)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import types

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import walk  # noqa: E402


def fake_module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(textwrap.dedent(source), module.__dict__)
    return module


def under_hook(walker: walk.Walk, function, *args) -> None:
    sys.setprofile(walker.hook)
    try:
        function(*args)
    finally:
        sys.setprofile(None)


def test_a_reentry_is_a_call_from_another_module_into_one_already_visited():
    lib = fake_module("walk_test_lib", "def through(fn):\n    return fn()\n")
    b = fake_module("agent_runtime.walk_test_b", """\
        def g():
            pass

        def call_back(fn):
            fn()

        def gen():
            yield 1
            yield 2
        """)
    a = fake_module("agent_runtime.walk_test_a", """\
        def f(b, lib):
            b.g()               # B first entered
            h()                 # within A: no re-entry
            lib.through(b.g)    # back into B from A, a library between: 1
            list(b.gen())       # 2 (one call, however often it resumes)
            b.call_back(back)   # 3 into B, and 4 into A while A.f is below: a callback

        def h():
            pass

        def back():
            pass
        """)
    walker = walk.Walk()
    under_hook(walker, a.f, b, lib)
    figures = walker.segments[0].figures()
    assert figures["order"] == ["agent_runtime.walk_test_a", "agent_runtime.walk_test_b"]
    assert figures["calls"] == 7, "f, g, h, g, gen, call_back, back"
    assert figures["reentries"] == 4 and figures["most_reentered"] == {"agent_runtime.walk_test_b": 3,
                                                                       "agent_runtime.walk_test_a": 1}
    assert figures["callbacks"] == 1 and figures["reentered_modules"] == 2
    assert walker.requests == 0 and walker.segments[1].calls == 0


def test_the_replay_models_requests_cut_the_segments():
    model = fake_module(walk.MODEL_MODULE, "def generate():\n    helper()\n\ndef helper():\n    pass\n")
    loop = fake_module("agent_runtime.walk_test_loop", """\
        def run(model):
            prepare()
            model.generate()
            prepare()
            model.generate()
            prepare()

        def prepare():
            pass
        """)
    walker = walk.Walk()
    under_hook(walker, loop.run, model)
    first, attempt = (s.figures() for s in walker.segments)
    assert walker.requests == 2
    assert first["order"] == ["agent_runtime.walk_test_loop"] and first["calls"] == 2, "run, prepare"
    assert attempt["order"] == [walk.MODEL_MODULE, "agent_runtime.walk_test_loop"]
    assert attempt["calls"] == 3, "generate, helper, prepare: the first request is the attempt's, the second ends it"


def test_threads_started_under_the_hook_are_walked_too():
    worker = fake_module("agent_runtime.walk_test_worker", "def work():\n    pass\n")
    walker = walk.Walk()

    def start():
        thread = threading.Thread(target=worker.work)
        thread.start()
        thread.join()

    threading.setprofile(walker.hook)
    try:
        under_hook(walker, start)
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    assert walker.segments[0].order == ["agent_runtime.walk_test_worker"]


def test_one_fix_task_on_the_replay_model_is_walked_from_entry(tmp_path):
    out = tmp_path / "walk.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "walk.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout)
    assert json.loads(out.read_text()) == figures
    assert figures["goal"] == {"modules": 20, "reentries": 5}
    first, attempt = figures["to_first_request"], figures["one_failed_attempt"]
    for segment in (first, attempt):
        assert segment["modules"] > 0 and segment["reentries"] > 0 and segment["calls"] > 0
        assert segment["modules"] == len(segment["order"]) == len(set(segment["order"]))
        assert all(m == "agent_runtime" or m.startswith("agent_runtime.") for m in segment["order"])
        harness = segment["harness"]
        assert harness["order"] == [m for m in segment["order"] if m.split(".")[1] in ("agent", "cli")]
        assert harness["modules"] == len(harness["order"]) and harness["reentries"] <= segment["reentries"]
        assert harness["reentered_modules"] <= min(harness["modules"], segment["reentered_modules"])
    assert "agent_runtime.agent.repair" in first["harness"]["order"]
    assert first["order"][0] == "agent_runtime.cli.main"
    assert walk.MODEL_MODULE in first["order"], "the model is opened before it is asked"
    assert attempt["order"][0] == walk.MODEL_MODULE, "the attempt starts at the first request"
