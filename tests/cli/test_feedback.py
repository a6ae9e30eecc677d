"""Feedback while it works: a stats line after each step and a summary at the end (terminal and
--json), time at approval prompts left out, spinners with elapsed time, cost for hosted models;
and approval answers kept out of the REPL's history."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from conftest import BUGGY_PROJECT, VENV_BIN, flat, make_repo, run_cli, step, write_replay
from terminal import Terminal

FIX = [
    step("See the failure.", "print(run_tests())"),
    step("Fix.", 'p = propose_patch(path="calc.py", old="a - b", new="a + b")\nprint(apply_patch(patch_id=p["patch_id"]))'),
    step("Check.", 'print(run_tests(command="python -m pytest -q"))'),
    step("Done.", 'final_answer("fixed add")'),
]
# A task that asks for the change without a word of tests or failures: no test runs before the first
# request, so the CodeAgent takes it with the steps above. ("fix the test" is a fix task: the
# harness's repair loop takes it, agent/repair.py, tests/agent/test_repair.py.)
CHANGE = "Change add in calc.py so that it adds."


def test_step_lines_and_the_summary_in_the_terminal_output(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", FIX)
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", CHANGE, cwd=repo)
    assert done.returncode == 0, done.stderr
    err = flat(done.stderr)
    for n in range(1, 5):
        assert re.search(rf"step {n} · \d+\.\d s · 0 in / 0 out tokens · context [\d,]+ of 16,384 \(\d+%\)", err), err
    assert re.search(r"done: 4 steps · \d+\.\d s \(model \d+\.\d s; tests \d+\.\d s(; other tools \d+\.\d s)?\) · "
                     r"0 in / 0 out tokens · context [\d,]+ of 16,384 "
                     r"\(\d+%\) · files changed: calc.py · tests: passed", err), err
    assert done.stdout.strip() == "fixed add", "stdout stays the answer alone"


def test_a_patch_applied_after_the_last_test_run_makes_the_summary_say_tests_not_run(tmp_path):
    """The tests failed, then a fix was applied and nothing ran them: their result is stale."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", FIX[:2] + [step("Done.", 'final_answer("fixed add")')])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", CHANGE, cwd=repo)
    assert done.returncode == 0, done.stderr
    err = flat(done.stderr)
    assert re.search(r"done: 3 steps · .* · files changed: calc.py · tests: not run since the last change", err), err
    assert "tests: failing" not in err
    done = run_cli("--json", "--approval", "auto", "--model", f"replay:{replay}", "fix it again", cwd=repo)
    end = json.loads(done.stdout.splitlines()[-1])
    # The second run's tests pass (the fix is on disk), but its apply_patch fails: nothing changed since.
    assert end["type"] == "run_ended" and end["tests_passed"] is True and end["tests_stale"] is False, end


def test_a_command_that_changes_files_after_the_tests_makes_them_stale_too(tmp_path):
    """Not only a patch: an approved `sed -i` after the failing tests fixed the file on disk. The
    summary, run_ended and the root span's review say what changed and that no test ran since."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [
        step("Run the tests.", "print(run_tests())"),
        step("Fix it.", "print(run_cmd(command=\"sed -i 's/a - b/a + b/' calc.py\"))"),
        step("Done.", 'final_answer("fixed add")')])
    done = run_cli("--json", "--approval", "auto", "--model", f"replay:{replay}", CHANGE, cwd=repo,
                   env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    assert "return a + b" in (repo / "calc.py").read_text(), "the command ran"
    end = json.loads(done.stdout.splitlines()[-1])
    assert end["files_changed"] == ["calc.py"] and end["tests_passed"] is False and end["tests_stale"] is True, end
    assert re.search(r"files changed: calc.py · tests: not run since the last change", flat(done.stderr)), done.stderr
    (trace,) = (tmp_path / "runs").rglob("trace.jsonl")
    (root,) = [s for s in map(json.loads, trace.read_text().splitlines()) if s["parent_id"] is None]
    assert root["attributes"]["agent_runtime.tests_passed"] == "unknown"
    assert root["attributes"]["agent_runtime.files_changed"] == 1


def test_run_ended_in_json_has_the_summary_fields(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", FIX)
    done = run_cli("--json", "--approval", "auto", "--model", f"replay:{replay}", CHANGE, cwd=repo)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    end = events[-1]
    assert end["type"] == "run_ended" and end["tests_passed"] is True and end["cost_usd"] is None
    assert end["tests_stale"] is False, "the tests ran after the patch"
    assert end["context_window"] == 16384 and 0 < end["context_tokens"] < 16384
    assert end["approval_s"] == 0.0
    steps = [e for e in events if e["type"] == "step_ended"]
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    assert all(s["context_window"] == 16384 and s["approval_s"] == 0.0 for s in steps)
    assert steps[0]["context_tokens"] < steps[-1]["context_tokens"], "the context grows step by step"


def test_time_at_an_approval_prompt_is_left_out_of_the_step(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [step("Make it.", 'print(run_cmd(command="touch made.txt"))'),
                                                step("Done.", 'final_answer("made")')])
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200"}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}", "make"],
                    repo, env)
    term.read_until("[y/N/a/r/m]", timeout=120)
    time.sleep(8)  # the person thinks: longer than the step itself takes on a busy machine
    term.type("y\n")
    assert term.wait(120) == 0
    out = flat(term.output)
    found = re.search(r"step 1 · (\d+\.\d) s \(\+(\d+\.\d) s at the approval prompt\)", out)
    assert found, out
    assert float(found.group(1)) < 8 and float(found.group(2)) >= 7.9, "the 8 s at the prompt are not the step's"
    assert re.search(r"done: 2 steps · \d+\.\d s \(model \d+\.\d s(; other tools \d+\.\d s)?; "
                     r"\d+\.\d s at approval prompts not counted\)", out)


def test_approval_answers_never_enter_the_repl_history(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [
        step("Remove it.", 'print(run_cmd(command="rm calc.py"))'),
        step("Try another way.", 'print(run_cmd(command="rm test_calc.py"))'),
        step("Stop.", 'final_answer("left them")'),
    ])
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200"}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}"], repo, env)
    term.read_until("› ", timeout=30)
    term.type("clean up the calculator\n")
    term.read_until("[y/N/a/r/m]", timeout=120)
    term.type("m\n")
    term.read_until("Message to the model:", timeout=30)
    term.type("keep calc.py, it is used\n")
    term.read_until("rm test_calc.py", timeout=60)
    term.read_until_after("rm test_calc.py", "[y/N/a/r/m]", timeout=60)
    term.type("n\n")
    term.read_until_after("left them", "› ", timeout=60)
    term.type("/exit\n")
    assert term.wait() == 0
    history = (Path(os.environ["XDG_STATE_HOME"]) / "agent-runtime" / "history").read_text().splitlines()
    assert "clean up the calculator" in history
    for answer in ("m", "n", "keep calc.py, it is used"):
        assert answer not in history, history
    assert (repo / "calc.py").exists() and (repo / "test_calc.py").exists()


def test_a_spinner_shows_the_time_elapsed():
    from rich.console import Console

    from agent_runtime.cli.display import Elapsed

    text = Elapsed("Step 1: the model is thinking…")
    text.started -= 75
    console = Console(width=100, record=True, file=open(os.devnull, "w"))
    console.print(text)
    assert "Step 1: the model is thinking… 1m 15s" in console.export_text()
    text.update("Starting the embedded model… 12s")  # a caller that shows its own time keeps it
    console.print(text)
    assert console.export_text().rstrip().endswith("Starting the embedded model… 12s")


def test_cost_comes_from_the_local_cost_map_for_hosted_models_only():
    from agent_runtime.config import load_settings
    from agent_runtime.models.registry import kind_for

    hosted = kind_for(load_settings({"MODEL_ID": "openai/gpt-4o-mini"}))
    cost = hosted.cost("openai/gpt-4o-mini", 1_000_000, 1_000_000)
    assert cost is not None and 0.1 < cost < 10
    assert hosted.cost("openai/no-such-model-xyz", 1000, 10) is None, "unknown is not free"
    served = kind_for(load_settings({"MODEL_ID": "openai/x", "MODEL_API_BASE": "http://127.0.0.1:8080/v1"}))
    assert served.cost("openai/x", 1000, 10) is None
    assert kind_for(load_settings({"MODEL_ID": "ollama_chat/qwen2.5-coder:7b"})).cost(
        "ollama_chat/qwen2.5-coder:7b", 1000, 10) is None
    assert os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP") == "True", "nothing is fetched"


def test_no_wrapping_when_not_a_terminal_and_the_terminals_own_width_on_one(tmp_path):
    """A log (`2>file`, a pipe) keeps every line whole: headers, observations, the figures. On a
    terminal, lines are wrapped at its real width, between words, never inside one."""
    import fcntl
    import struct
    import termios

    from rich.cells import cell_len

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    long = "x" * 150
    replay = write_replay(tmp_path / "r.json", [step("Print a long line.", f'print("{long}")'),
                                                step("Done.", 'final_answer("done")')])
    task = "a task whose words run on well past the eighty columns that a log file was cut at before"
    done = run_cli("--approval", "never", "--model", f"replay:{replay}", task, cwd=repo)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert any(task in line for line in lines), "the task's header is whole"
    assert any(f'print("{long}")' in line for line in lines), "the step's code line is whole"
    assert any(line.startswith("│ " + long) for line in lines), "the observation's line is whole, in its box"
    assert any(line.startswith("step 1 · ") and "context" in line for line in lines), done.stderr
    assert any(line.startswith("done: 2 steps") and line.endswith("no file changed") for line in lines), done.stderr
    assert all(cell_len(line) < 260 for line in lines), "boxes and rules are as wide as they need, no wider"

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "never", "--model", f"replay:{replay}", task],
                    repo, {**env, "TERM": "xterm"})
    fcntl.ioctl(term.master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 70, 0, 0))
    assert term.wait(120) == 0, term.output
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "", term.output).replace("\r", "")
    assert all(cell_len(line) <= 70 for line in shown.splitlines()), shown
    assert "no file changed" in flat(shown) and "steps ·" in flat(shown), shown
