"""The `--json` events' JSON Schema: generated from their types (agent_runtime/agent/events.py),
shipped as docs/events.schema.json, printed by `agent-runtime --json-schema`; every line of real
runs (replayed models) valid against the shipped file, and the schema strict enough to catch a
field no type declares or a value of the wrong type."""

from __future__ import annotations

import json

from conftest import BUGGY_PROJECT, ROOT, make_repo, run_cli, step, write_replay
from events_check import SCHEMA, problems
from jsonschema import Draft202012Validator

from agent_runtime.agent.events import EVENTS, schema_text

SHIPPED = ROOT / "docs" / "events.schema.json"


def test_the_shipped_schema_is_the_one_the_types_give_and_the_command_prints(tmp_path):
    Draft202012Validator.check_schema(SCHEMA)
    assert SHIPPED.read_text() == schema_text(), \
        "docs/events.schema.json is stale: regenerate it with `agent-runtime --json-schema > docs/events.schema.json`"
    printed = run_cli("--json-schema", cwd=tmp_path)  # no repository needed
    assert printed.returncode == 0 and printed.stderr == "", printed.stderr
    assert json.loads(printed.stdout) == SCHEMA and printed.stdout == SHIPPED.read_text()
    assert {d["properties"]["type"]["const"] for d in SCHEMA["$defs"].values() if "type" in d["properties"]} \
        == set(EVENTS)
    helped = run_cli("--help", cwd=tmp_path).stdout
    assert "--json-schema" in helped and "print the JSON Schema" in helped


def test_the_schema_catches_an_undeclared_field_a_wrong_type_and_a_missing_field():
    line = {"type": "step_ended", "time": "2026-11-28T06:30:04.000+00:00", "step": 1, "observation": "",
            "error": None, "seconds": 0.5, "tokens_in": 10, "tokens_out": 2, "approval_s": 0.0,
            "context_tokens": None, "context_window": 16384, "cost_usd": None}
    assert problems(line) == []
    assert problems({**line, "extra": 1}) != [], "a field no type declares"
    for name, wrong in (("step", "1"), ("step", True), ("tokens_in", 1.5), ("error", 3), ("seconds", "0.5"),
                        ("observation", None), ("time", "yesterday")):
        assert problems({**line, name: wrong}) != [], (name, wrong)
    assert problems({k: v for k, v in line.items() if k != "cost_usd"}) != [], "a nullable field is still always there"
    assert problems({**line, "type": "step_done"}) == ["unknown event type 'step_done'"]
    assert problems({**line, "context_tokens": 3000, "cost_usd": 0.0004}) == [], "null or the type"


def run_events(*args: str, cwd, env=None, code: int = 0) -> list[dict]:
    done = run_cli("--json", *args, cwd=cwd, env=env)
    assert done.returncode == code, (args, done.returncode, done.stderr[-3000:])
    return [json.loads(line) for line in done.stdout.splitlines()]  # stdout is JSON lines alone


def test_every_event_of_real_runs_is_valid_against_the_shipped_schema(tmp_path):
    """Replayed runs that between them send every kind of event: an answer after a failed tool call, a
    refused command and a step that raised (outside git: a warning); the step limit; a fix task with a
    planner, whose harness runs the tests, applies, undoes and reapplies (harness_step, plan,
    patch_applied); a continued conversation (resumed); a run that cannot start (error)."""
    env = {"RUNS_DIR": str(tmp_path / "runs")}
    outside_git = tmp_path / "plain"
    outside_git.mkdir()
    (outside_git / "notes.txt").write_text("hello\n")
    answer = write_replay(tmp_path / "answer.json", [
        step("Read a file that is not there.", 'print(read_file(path="missing.txt"))'),
        step("Make a file.", 'print(run_cmd(command="touch made.txt"))'),
        step("Divide.", "print(1 / 0)"),
        step("Done.", 'final_answer("the folder holds notes.txt")'),
    ])
    # Not put as a question: a question's tools only read, and this run needs a command refused.
    runs = {"answer": run_events("--approval", "never", "--model", f"replay:{answer}", "say what is in this folder",
                                 cwd=outside_git, env=env, code=5)}
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    endless = write_replay(tmp_path / "endless.json", [step("Look.", "print(repo_info())")] * 2)
    runs["step_limit"] = run_events("--max-steps", "1", "--model", f"replay:{endless}", "look around", cwd=repo,
                                    env=env, code=3)
    fixed = "def add(a, b):\n    return a {} b\n\n\ndef mul(a, b):\n    return a * b\n"
    coder = write_replay(tmp_path / "coder.json", [f"add {what}.\n\n### calc.py\n```python\n{fixed.format(sign)}```\n"
                                                   for what, sign in (("must multiply", "*"), ("must add", "+"))])
    planner = write_replay(tmp_path / "planner.json", [json.dumps({"problem": "add subtracts",
                                                                    "targets": ["calc.py::add"]})])
    runs["fix"] = run_events("--approval", "auto", "--model", f"coder=replay:{coder},planner=replay:{planner}",
                             "test_calc.py fails: fix it", cwd=repo, env=env)
    again = write_replay(tmp_path / "again.json", [step("Answer.", 'final_answer("add adds now")')])
    runs["resumed"] = run_events("--continue", "--model", f"replay:{again}", "does add add?", cwd=repo, env=env)
    runs["not_started"] = run_events("--model", f"replay:{tmp_path / 'missing.json'}", "task", cwd=repo, env=env,
                                     code=1)
    for name, events in runs.items():
        for event in events:
            assert problems(event) == [], (name, event)
    kinds = {name: [e["type"] for e in events] for name, events in runs.items()}
    assert set().union(*kinds.values()) == set(EVENTS), set(EVENTS) - set().union(*kinds.values())
    calls = [e for e in runs["answer"] if e["type"] == "tool_call"]
    assert [(c["tool"], c["outcome"]) for c in calls] == [("read_file", "error"), ("run_cmd", "refused")], calls
    assert "warning" in kinds["answer"] and kinds["answer"][-1] == "run_ended"
    assert runs["answer"][-1]["refused"] == ["run_cmd: approval mode is 'never'"], runs["answer"][-1]
    assert runs["step_limit"][-2]["status"] == "step_limit" and kinds["step_limit"][-1] == "error"
    assert {"plan", "harness_step", "patch_applied"} <= set(kinds["fix"]) and kinds["fix"].count("patch_applied") == 2
    assert kinds["resumed"][0] == "resumed" and kinds["not_started"] == ["error", "run_ended"]
    assert runs["not_started"][-1]["run_id"] is None
