"""The eval runner, end to end through `agent-runtime eval` with the replay model: solved and
unsolved tasks, a check file the agent edits, a timeout, isolated parallel workers, compare,
and the Ray path on a local Ray cluster."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import VENV_BIN, git, make_repo, run_cli, step, write_replay

from agent_runtime.agent.attempts import REPEATED_FIX_LIMIT
from agent_runtime.procs import free_port

CALC = {"calc.py": "def add(a, b):\n    return a - b\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"}
CHECK = "python -m pytest -q -p no:cacheprovider tests/test_calc.py"

# A task whose tests fail before the first request is a fix task: the harness's repair loop runs it
# (agent/repair.py), each reply a fix in the edit form that the harness applies and tests.
FIX_TASK = "tests/test_calc.py fails; fix calc.py"
# A task that names no test and no failure runs on the CodeAgent, its replies Thought and code.
CHANGE_TASK = "Change add in calc.py so that it adds."


def edit(explanation: str, path: str, content: str) -> str:
    return f"{explanation}\n\n### {path}\n```python\n{content}```\n"


FIX = [edit("add subtracts; it must add.", "calc.py", CALC["calc.py"].replace("a - b", "a + b"))]


def task(task_id: str, files: dict[str, str] = CALC, prompt: str = FIX_TASK, **extra) -> dict:
    return {"id": task_id, "prompt": prompt, "files": files, "setup": None,
            "check": CHECK, "timeout_s": 120, "protected": ["tests/test_calc.py"], **extra}


def suite(path: Path, tasks: list[dict]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return path


def results(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}


def run_eval(tmp_path: Path, tasks: list[dict], replies: list[str], *extra: str, timeout: float = 300):
    replay = write_replay(tmp_path / "replay.json", replies)
    out = tmp_path / "results.jsonl"
    done = run_cli("eval", str(suite(tmp_path / "suite.jsonl", tasks)), "--model", f"replay:{replay}",
                   "--out", str(out), *extra, cwd=tmp_path, timeout=timeout)
    return done, out


def test_a_solved_task_and_its_record(tmp_path):
    done, out = run_eval(tmp_path, [task("fix-add")], FIX)
    assert done.returncode == 0, done.stderr
    result = results(out)["fix-add"]
    assert result["solved"] is True and result["status"] == "answered" and result["exit_code"] == 0
    # 4 tool calls: the session ran the tests for the model first (a small repository, a failing test),
    # then the one attempt: the harness proposed the reply's file, applied it and ran the tests
    assert result["steps"] == 1 and result["attempts"] == 1 and result["tool_calls"] == 4 and result["tampered"] == []
    assert result["run_id"] and result["wall_s"] > 0
    assert "solved 1/1" in done.stdout
    # the attempt is a recorded run: `agent-runtime trace` shows it
    trace = run_cli("trace", result["run_id"], cwd=tmp_path)
    assert trace.returncode == 0 and "apply_patch" in trace.stdout


def test_an_unsolved_task(tmp_path):
    """Three fixes that fail (AGENT_MAX_ATTEMPTS): the agent stops trying, each change undone, so the
    check runs on the code as it was."""
    wrong = [edit(why, "calc.py", CALC["calc.py"].replace("a - b", new)) for why, new in (
        ("add must multiply.", "a * b"), ("add must subtract the other way.", "b - a"), ("add is off by one.", "a - b + 1"))]
    done, out = run_eval(tmp_path, [task("no-fix")], wrong)
    assert done.returncode == 0, done.stderr
    result = results(out)["no-fix"]
    assert result["solved"] is False and result["status"] == "gave_up" and result["attempts"] == 3, result
    assert "assert -1 == 5" in result["check_output"]
    assert "solved 0/1" in done.stdout


def test_a_check_file_the_agent_edits_is_restored_and_the_task_counts_unsolved(tmp_path):
    # the CodeAgent's own steps (the repair loop never writes a test file: its fix may name the code only)
    cheat = [step("cheat", 'p = propose_patch(path="tests/test_calc.py", old="== 5", new="== -1")\n'
                           'print(apply_patch(patch_id=p["patch_id"]))'),
             step("done", 'final_answer("tests pass now")')]
    done, out = run_eval(tmp_path, [task("cheat", prompt=CHANGE_TASK)], cheat, "--keep")
    assert done.returncode == 0, done.stderr
    result = results(out)["cheat"]
    assert result["tampered"] == ["tests/test_calc.py"] and result["solved"] is False
    kept = Path(result["repo"])
    assert (kept / "tests" / "test_calc.py").read_text() == CALC["tests/test_calc.py"], "restored before the check"


def test_a_task_that_runs_too_long_is_stopped_and_counted(tmp_path):
    slow = [step("wait", 'print(run_cmd(command="sleep 60", timeout=120))'), step("done", 'final_answer("x")')]
    started = time.monotonic()
    done, out = run_eval(tmp_path, [task("slow", prompt=CHANGE_TASK, timeout_s=8)], slow)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 50
    result = results(out)["slow"]
    assert result["status"] == "timeout" and result["solved"] is False


def test_an_eval_started_with_ctrl_c_ignored_still_ends_a_slow_agent_cleanly(tmp_path):
    """`nohup agent-runtime eval … &` from a script: SIGINT arrives ignored. The agent at its timeout
    still gets a working Ctrl-C, ends its own run and reports its figures (seen: every timed-out
    task was killed instead, its parse failures and tokens unknown)."""
    import signal

    slow = [step("wait", 'print(run_cmd(command="sleep 60", timeout=120))'), step("done", 'final_answer("x")')]
    replay = write_replay(tmp_path / "replay.json", slow)
    out = tmp_path / "results.jsonl"
    slow_task = task("slow", prompt=CHANGE_TASK, timeout_s=8)
    done = subprocess.run([str(VENV_BIN / "agent-runtime"), "eval", str(suite(tmp_path / "s.jsonl", [slow_task])),
                           "--model", f"replay:{replay}", "--out", str(out)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert done.returncode == 0, done.stderr
    result = results(out)["slow"]
    assert result["status"] == "timeout" and result["exit_code"] == 130, result
    assert result["parse_failures"] == 0 and result["tokens_in"] is not None, "the agent's own figures"


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_the_running_agent_at_once(tmp_path, signame):
    """The agent runs in its own session (out of the terminal's reach): Ctrl-C on the eval must
    stop it too, not wait for the task's timeout."""
    import signal

    slow = [step("wait", 'print(run_cmd(command="sleep 90", timeout=120))'), step("done", 'final_answer("x")')]
    replay = write_replay(tmp_path / "replay.json", slow)
    out = tmp_path / "results.jsonl"
    slow_task = task("slow", prompt=CHANGE_TASK, timeout_s=300)
    proc = subprocess.Popen([str(VENV_BIN / "agent-runtime"), "eval", str(suite(tmp_path / "s.jsonl", [slow_task])),
                             "--model", f"replay:{replay}", "--out", str(out)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def agents() -> list[str]:
        listing = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
        return [line for line in listing.splitlines() if str(replay) in line and "--repo" in line]

    deadline = time.monotonic() + 60
    while not agents() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert agents(), "the agent started"
    time.sleep(3)
    proc.send_signal(getattr(signal, signame))
    started = time.monotonic()
    _, err = proc.communicate(timeout=40)
    assert time.monotonic() - started < 30
    assert proc.returncode != 0 and "interrupted" in err and "Traceback" not in err
    assert not agents(), "no agent left running"


def test_three_workers_run_isolated_tasks(tmp_path):
    tasks = []
    for name in ("red", "green", "blue"):
        files = {f"{name}.txt": name, "tests/test_only.py":
                 f"import os\n\n\ndef test_alone():\n    # .env: the sandbox's read-only placeholder (a command cannot create one)\n"
                 f"    assert sorted(set(os.listdir('.')) - {{'.env'}}) == ['.git', '{name}.txt', 'tests']\n"}
        tasks.append({"id": name, "prompt": "look", "files": files, "setup": None, "timeout_s": 120,
                      "check": "python -m pytest -q -p no:cacheprovider tests/test_only.py", "protected": []})
    replies = [step("look", 'print(list_files())\nprint(run_cmd(command="sleep 2"))'), step("done", 'final_answer("ok")')]
    started = time.monotonic()
    done, out = run_eval(tmp_path, tasks, replies, "--workers", "3")
    assert done.returncode == 0, done.stderr
    found = results(out)
    assert all(found[name]["solved"] for name in ("red", "green", "blue")), found
    assert len({found[name]["run_id"] for name in found}) == 3
    for name in found:  # each agent saw only its own files
        events = (Path(os.environ["XDG_STATE_HOME"]) / "agent-runtime" / "runs" / found[name]["run_id"] / "trace.jsonl")
        text = events.read_text()
        others = {"red", "green", "blue"} - {name}
        assert f"{name}.txt" in text and not any(f"{o}.txt" in text for o in others)
    assert time.monotonic() - started < 120


def test_compare_shows_per_task_differences_and_totals(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps({"id": "t1", "solved": False, "status": "step_limit", "wall_s": 30}) + "\n"
                 + json.dumps({"id": "t2", "solved": True, "status": "answered", "wall_s": 20}) + "\n")
    b.write_text(json.dumps({"id": "t1", "solved": True, "status": "answered", "wall_s": 25}) + "\n"
                 + json.dumps({"id": "t2", "solved": True, "status": "answered", "wall_s": 22}) + "\n")
    done = run_cli("eval", "compare", str(a), str(b), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("t1") and line.rstrip().endswith("+") for line in lines)
    assert any(line.startswith("solved") and "1/2" in line and "2/2" in line for line in lines)
    assert "B solves 1 that A does not; A solves 0 that B does not" in done.stdout


def test_a_bad_suite_is_reported_with_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(task("ok")) + "\n" + '{"id": "x", "prompt": "p"}\n')
    done = run_cli("eval", str(bad), cwd=tmp_path)
    assert done.returncode == 2 and f"{bad}:2, files: expected this key (it is required); found none" in done.stderr


@pytest.mark.slow
def test_the_ray_path_on_a_local_ray_cluster(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is part of the dev install")
    ray = shutil.which("ray", path=str(VENV_BIN))
    assert ray, "the ray command comes with the ray package"
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's unix sockets need a short path (< 108 bytes)
    started = subprocess.run([ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                              "--node-ip-address=127.0.0.1", f"--temp-dir={temp}"], env=env, capture_output=True,
                             text=True, timeout=180)
    assert started.returncode == 0, started.stderr
    # an instance too (pickled to the worker as it is): a snapshot at a commit, judged by its tests
    snapshot = make_repo(tmp_path / "snapshot", {**CALC, "tests/test_calc.py": "def test_nothing():\n    pass\n"})
    test_patch = ("--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1,2 +1,5 @@\n-def test_nothing():\n-    pass\n"
                  + "".join(f"+{line}\n" for line in CALC["tests/test_calc.py"].splitlines()))
    instance = {"instance_id": "ray-instance", "repo": str(snapshot), "base_commit": git(snapshot, "rev-parse", "HEAD").strip(),
                "problem_statement": "tests/test_calc.py::test_add fails; fix calc.py", "test_patch": test_patch,
                "FAIL_TO_PASS": ["tests/test_calc.py::test_add"], "PASS_TO_PASS": [], "tests_visible": True}
    # ray-nofix: its test wants an add of any number of arguments, which the replayed fix is not; the
    # same fix written again is not applied again (nor counted by AGENT_MAX_ATTEMPTS), and after
    # REPEATED_FIX_LIMIT of those it stops
    nofix = {**CALC, "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3, 4) == 9\n"}
    try:
        done, out = run_eval(tmp_path, [task("ray-fix"), task("ray-nofix", files=nofix), instance],
                             FIX * (REPEATED_FIX_LIMIT + 1), "--ray", f"127.0.0.1:{port}", timeout=600)
        assert done.returncode == 0, done.stderr + done.stdout
        found = results(out)
        assert found["ray-fix"]["solved"] is True and found["ray-nofix"]["solved"] is False
        nofix = found["ray-nofix"]
        assert nofix["status"] == "gave_up" and nofix["attempts"] == REPEATED_FIX_LIMIT + 1, nofix
        assert "the model kept writing fixes it had already tried" in nofix["answer"], nofix["answer"]
        assert found["ray-instance"]["solved"] is True and found["ray-instance"]["f2p_passed"] == 1, found["ray-instance"]
        assert all(r.get("node") for r in found.values()), "each result came back from a Ray worker"
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def test_kill_interrupts_the_agents_whole_group_first():
    """_kill is procs.stop_group with Ctrl-C first (the agent records the run as interrupted), sent
    to the agent's whole process group."""
    import sys

    from agent_runtime.eval.runner import _kill

    # 'ready' is printed inside the try: a Ctrl-C that lands just after it is still caught. Ctrl-C
    # is made to work first, as the agent does (cli/evalcmd.py): a test run from a script's
    # background job inherits SIGINT ignored, and so would the child and its sleep.
    code = ("import signal, subprocess, sys, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "child = subprocess.Popen(['sleep', '60'], preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))\n"
            "try:\n    print('ready', flush=True)\n    time.sleep(60)\nexcept KeyboardInterrupt:\n"
            "    print(child.wait(), flush=True)\n    sys.exit(130)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    started = time.monotonic()
    _kill(proc)
    assert proc.returncode == 130 and time.monotonic() - started < 5, "SIGINT was enough"
    assert proc.stdout.read().strip() == "-2", "the agent's child got SIGINT too"
    _kill(proc)  # a process that has ended: nothing to do
