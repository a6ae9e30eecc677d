"""`agent-runtime --json "TASK"`: one JSON object per line on stdout, every one valid against the
documented schema (agent_runtime/cli/jsonout.py EVENT_FIELDS, the README's table), nothing else
on stdout; and the command line's parsing of options around the task."""

from __future__ import annotations

import json

from conftest import BUGGY_PROJECT, make_repo, run_cli, step, write_replay

from agent_runtime.cli.jsonout import EVENT_FIELDS

JSON_TYPES = {"string": str, "integer": int, "number": (int, float), "object": dict, "array": list, "boolean": bool}


def valid(event: dict) -> list[str]:
    problems = []
    kind = event.get("type")
    if kind not in EVENT_FIELDS:
        return [f"unknown event type {kind!r}"]
    fields = EVENT_FIELDS[kind]
    for name, spec in fields.items():
        optional = spec.endswith("?")
        expected = JSON_TYPES[spec.rstrip("?")]
        if name not in event:
            problems.append(f"{kind}: no {name}")
        elif event[name] is None:
            if not optional:
                problems.append(f"{kind}.{name} is null")
        elif not isinstance(event[name], expected) or (expected is int and isinstance(event[name], bool)):
            problems.append(f"{kind}.{name} is {type(event[name]).__name__}, not {spec}")
    extra = set(event) - set(fields) - {"type", "time"}
    if extra:
        problems.append(f"{kind}: undocumented fields {sorted(extra)}")
    if not isinstance(event.get("time"), str):
        problems.append(f"{kind}: no time")
    return problems


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
    done = run_cli("--json", "--approval", "auto", "--model", f"replay:{replay}", "fix the test", cwd=repo)
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
    answer = next(e for e in events if e["type"] == "final_answer")
    assert answer["answer"].startswith("fixed add")


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
        assert f"agent-runtime -- {argv[0]}" in done.stderr and "in quotes" in done.stderr


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
    assert set(rows) == set(EVENT_FIELDS), "the README's table lists exactly the event types"
    for kind, fields in EVENT_FIELDS.items():
        for name, spec in fields.items():
            shown = f"`{name}?`" if spec.endswith("?") else f"`{name}`"
            assert shown in rows[kind], f"README: {kind} lacks {shown}"
