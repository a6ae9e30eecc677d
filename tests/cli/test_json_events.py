"""`agent-runtime --json "TASK"`: one JSON object per line on stdout, every one valid against the
shipped schema (docs/events.schema.json, from agent_runtime/agent/events.py; the README's table
names the same fields), nothing else on stdout; and the command line's parsing of options around the task."""

from __future__ import annotations

import json

from conftest import BUGGY_PROJECT, make_repo, run_cli, step, write_replay
from events_check import problems as valid

from agent_runtime.agent.events import EVENTS


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]  # every line must be JSON


def test_every_event_of_a_run_is_valid_and_in_order(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [
        step("see", "print(run_tests())"),
        step("fix", 'p = propose_patch(path="calc.py", old="a - b", new="a + b")\nprint(apply_patch(patch_id=p["patch_id"]))'),
        step("push", 'print(run_cmd(command="git push"))'),
        step("oops", "print(1 / 0)"),
        step("done", 'final_answer("fixed add; \\ud83e lone surrogate")'),
    ])
    # A task about a test (the session runs the tests before step 1) that the CodeAgent takes: it asks
    # for a new test too, so it is no fix task for the harness's repair loop (agent/tasks.py repairable).
    task = "Fix add and write a test for it."
    done = run_cli("--json", "--approval", "auto", "--model", f"replay:{replay}", task, cwd=repo)
    assert done.returncode == 0, done.stderr
    events = events_of(done.stdout)
    for event in events:
        assert valid(event) == [], event
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_ended"
    assert kinds.count("step_started") == 5 and kinds.count("step_ended") == 5 and kinds.count("model_reply") == 5
    calls = [e for e in events if e["type"] == "tool_call"]
    # the first run_tests is the session's own, before step 1 (a small repository, a task about a test)
    assert [c["tool"] for c in calls] == ["run_tests", "run_tests", "propose_patch", "apply_patch", "run_cmd"]
    assert calls[0]["step"] is None and calls[1]["step"] == 1
    assert calls[0]["result"].startswith("tests failed: 1 failed, 1 passed")  # what came back, in a few words
    assert [c["result"] for c in calls[2:4]] == ["patch p1 proposed", "patch p1 applied"]
    push = calls[-1]
    assert push["decision"] in ("ask", "deny") and push["arguments"] == {"command": "git push", "timeout": None}
    patch = next(e for e in events if e["type"] == "patch_applied")
    assert patch["files"] == [{"path": "calc.py", "status": "modified", "added": 1, "removed": 1}]
    errors = [e for e in events if e["type"] == "step_ended" and e["error"]]
    assert len(errors) == 1 and "division by zero" in errors[0]["error"]
    end = events[-1]
    assert end["status"] == "answered" and end["exit_code"] == 0 and end["steps"] == 5
    assert end["files_changed"] == ["calc.py"] and end["code_errors"] == 1
    # after the session's own test run, before step 1's request: a time, and less than the run's
    assert 0 < end["time_to_first_request_s"] < end["wall_s"]
    answer = next(e for e in events if e["type"] == "final_answer")
    assert answer["answer"].startswith("fixed add")
    # "fix the test" is a fix task: the harness's repair loop (agent/repair.py) runs it, one reply per
    # attempt in the edit form; its events (a failed attempt undone, then a passing one) are valid too.
    fixed = "def add(a, b):\n    return a {} b\n\n\ndef mul(a, b):\n    return a * b\n"
    replay = write_replay(tmp_path / "fix.json", [f"add {what}.\n\n### calc.py\n```python\n{fixed.format(sign)}```\n"
                                                  for what, sign in (("must multiply", "*"), ("must add", "+"))])
    done = run_cli("--json", "--approval", "auto", "--model", f"replay:{replay}", "fix the test",
                   cwd=make_repo(tmp_path / "q", BUGGY_PROJECT))  # add still subtracts there
    assert done.returncode == 0, done.stderr
    events = events_of(done.stdout)
    for event in events:
        assert valid(event) == [], event
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_ended" and kinds.count("step_ended") == 2, kinds
    assert "harness_step" in kinds and [c["tool"] for c in events if c["type"] == "tool_call"] == [
        "run_tests", "propose_file", "apply_patch", "run_tests", "undo_patch", "propose_file", "apply_patch", "run_tests"]


def test_a_run_that_cannot_start_still_ends_with_a_valid_event(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    done = run_cli("--json", "--model", f"replay:{tmp_path / 'missing.json'}", "task", cwd=repo)
    assert done.returncode == 1
    events = events_of(done.stdout)
    assert [e["type"] for e in events] == ["error", "run_ended"]
    assert all(valid(e) == [] for e in events)
    assert "does not exist" in events[0]["message"]


def test_options_after_the_task_are_options_not_task_words(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [step("hi", 'final_answer("hi")')])
    done = run_cli("--json", "say hi", "--max-steps", "2", "--model", f"replay:{replay}", cwd=repo)
    assert done.returncode == 0, done.stderr
    started = events_of(done.stdout)[0]
    assert started["task"] == "say hi" and started["max_steps"] == 2
    unknown = run_cli("say hi", "--max-stpes", "2", cwd=repo)
    assert unknown.returncode == 2 and "unknown option --max-stpes" in unknown.stderr
    dashed = run_cli("--json", "--model", f"replay:{replay}", "--", "-1 is not --max-steps", cwd=repo)
    assert dashed.returncode == 0 and events_of(dashed.stdout)[0]["task"] == "-1 is not --max-steps"


def test_a_mistyped_command_is_not_run_as_a_task(tmp_path):
    for argv, meant in ((["tols"], "tools"), (["polcy", "check", "ls"], "policy"), (["evals"], "eval")):
        done = run_cli(*argv, cwd=tmp_path)
        assert done.returncode == 2, argv
        assert f"'{argv[0]}' is not a command. Did you mean '{meant}'?" in done.stderr
        # Quotes never reach the program (`agent-runtime "tols"` is the same argv): only -- is advice that works.
        assert f"agent-runtime -- {argv[0]}" in done.stderr and "in quotes" not in done.stderr
    for argv in (["--aproval", "auto", "say hi"], ["say hi", "--aproval", "auto"], ["--aproval=auto", "tools"]):
        done = run_cli(*argv, cwd=tmp_path)
        assert done.returncode == 2 and "--aproval" in done.stderr, (argv, done.stderr)
        assert "did you mean --approval?" in done.stderr, (argv, done.stderr)


def test_the_original_module_entry_point_works(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "agent_runtime.run", "--help"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and "usage: agent-runtime" in done.stdout


def test_a_resumed_run_says_so_first_and_every_event_is_valid(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    first = write_replay(tmp_path / "1.json", [
        step("fix", 'p = propose_patch(path="calc.py", old="a - b", new="a + b")\nprint(p)'),
        step("done", 'final_answer("proposed p1")'),
    ])
    assert run_cli("--json", "--model", f"replay:{first}", "propose a fix", cwd=repo).returncode == 0
    second = write_replay(tmp_path / "2.json", [
        step("apply what I proposed", 'print(apply_patch(patch_id="p1"))'),
        step("done", 'final_answer("applied p1")'),
    ])
    done = run_cli("--json", "--approval", "auto", "--model", f"replay:{second}", "--continue", "apply it", cwd=repo)
    assert done.returncode == 0, done.stderr
    events = events_of(done.stdout)
    for event in events:
        assert valid(event) == [], event
    assert [e["type"] for e in events[:2]] == ["resumed", "run_started"]
    resumed = events[0]
    assert resumed["tasks"] == 1 and resumed["steps"] == 2 and resumed["patches"] == ["p1"]
    assert resumed["runs"] == [resumed["run_id"]]
    assert events[-1]["files_changed"] == ["calc.py"], "the patch proposed in the first process was applied"
    nothing = run_cli("--json", "--continue", "x", cwd=tmp_path)
    assert nothing.returncode == 1 and "no earlier run in" in nothing.stderr and nothing.stdout == ""
    both = run_cli("--continue", "--resume", "x", "task", cwd=repo)
    assert both.returncode == 2 and "not both" in both.stderr


def test_the_readme_documents_every_event_and_field():
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("**JSON events (`--json`).**"):]
    table = table[:table.index("```console")]
    rows = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            kinds, fields = line.split("|")[1:3]
            for kind in kinds.replace("`", "").split(","):
                rows[kind.strip()] = fields
    assert set(rows) == set(EVENTS), "the README's table lists exactly the event types"
    for kind, event in EVENTS.items():
        for name, field in event.model_fields.items():
            nullable = type(None) in getattr(field.annotation, "__args__", ())
            shown = f"`{name}?`" if nullable else f"`{name}`"
            assert shown in rows[kind], f"README: {kind} lacks {shown}"


def test_a_run_piped_to_head_is_stopped_by_its_reader_and_never_taken_for_the_last_run(tmp_path):
    """`agent-runtime --json ... | head -1`: a real pipe whose reader closes after the first line. The
    run stops (exit 0, no traceback), is recorded as stopped by the reader, not as an error, and
    `trace last` and `--continue` pass over the peek to the run before it."""
    import os
    import subprocess

    from conftest import VENV_BIN

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    env = {**os.environ, "RUNS_DIR": str(tmp_path / "runs")}
    first = write_replay(tmp_path / "first.json", [step("Answer.", 'final_answer("the real work")')])
    assert run_cli("--model", f"replay:{first}", "say hi", cwd=repo, env=env).returncode == 0
    real = next((tmp_path / "runs").iterdir()).name
    # The peek's first step takes seconds: its events come well after the reader has gone.
    peek = write_replay(tmp_path / "peek.json", [step("Wait.", 'print(run_cmd(command="sleep 3"))'),
                                                 step("Answer.", 'final_answer("never read")')])
    proc = subprocess.Popen([str(VENV_BIN / "agent-runtime"), "--json", "--approval", "auto", "--model",
                             f"replay:{peek}", "peek"], cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    head = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does once it has its line
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, stderr
    assert json.loads(head)["type"] == "run_started"
    assert "Traceback" not in stderr and "internal error" not in stderr and "Exception ignored" not in stderr, stderr
    peeked = json.loads(head)["run_id"]
    metadata = json.loads((tmp_path / "runs" / peeked / "metadata.json").read_text())
    assert metadata["outcome"] == "reader_closed" and not (tmp_path / "runs" / peeked / "final.md").exists()
    listed = run_cli("runs", cwd=repo, env=env).stdout
    assert any(peeked in line and "reader_closed" in line for line in listed.splitlines()), listed
    trace = run_cli("trace", "last", cwd=repo, env=env)
    assert trace.returncode == 0 and f"run {real}" in trace.stdout and peeked not in trace.stdout, trace.stdout
    again = write_replay(tmp_path / "again.json", [step("Answer.", 'final_answer("continued")')])
    done = run_cli("--json", "--continue", "--model", f"replay:{again}", "go on", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    resumed = events_of(done.stdout)[0]
    assert resumed["type"] == "resumed" and resumed["run_id"] == real, resumed


def test_json_keeps_the_step_lines_on_stderr_and_q_quiets_them(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [step("Look around first.", 'print(repo_info())'),
                                                step("Answer.", 'final_answer("hi")')])
    done = run_cli("--json", "--model", f"replay:{replay}", "say hi", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert all(valid(e) == [] for e in events_of(done.stdout)), "stdout stays JSON alone"
    for shown in ("Step 1", "Look around first.", "step 1 · ", "step 2 · ", "done: 2 steps"):
        assert shown in done.stderr, (shown, done.stderr)
    quiet = run_cli("--json", "-q", "--model", f"replay:{replay}", "say hi", cwd=repo)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert [e["type"] for e in events_of(quiet.stdout)] == [e["type"] for e in events_of(done.stdout)]
    alone = run_cli("-q", "--model", f"replay:{replay}", "say hi", cwd=repo)
    assert alone.returncode == 2 and "give it with --json" in alone.stderr


def test_an_approval_prompt_of_a_quiet_json_run_shows_the_step_it_asks_about(tmp_path):
    """On a terminal with stdout going to a file, `--json -q` shows nothing of its progress, but an
    approval box never comes out of nowhere: the step's thought and code are drawn above it."""
    import os

    from conftest import VENV_BIN
    from terminal import Terminal

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [step("Quietly look around.", 'print(repo_info())'),
                                                step("Make the file the user asked for.",
                                                     'print(run_cmd(command="touch made.txt"))'),
                                                step("Done.", 'final_answer("made")')])
    events = tmp_path / "events.jsonl"
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200"}
    term = Terminal(["/bin/sh", "-c", f'exec "$0" "$@" > {events}', str(VENV_BIN / "agent-runtime"), "--json", "-q",
                     "--approval", "ask", "--model", f"replay:{replay}", "make it"], repo, env)
    term.read_until("Run this command?", timeout=120)
    term.type("y\n")
    assert term.wait(120) == 0, term.output
    shown = term.output
    assert "Quietly look around." not in shown, "a step that asks nothing stays quiet"
    assert shown.index("Make the file the user asked for.") < shown.index("touch made.txt") \
        < shown.index("Run this command?"), shown
    assert (repo / "made.txt").exists()
    assert events_of(events.read_text())[-1]["type"] == "run_ended"
