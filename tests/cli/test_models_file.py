"""The models file from the command line: `agent-runtime models` with a server that answers (a real
http.server on 127.0.0.1) and one that does not, a bad file stopping start-up in one line, a bad
--model role list as a usage error, and a replay session whose LLM spans and run record name the role."""

from __future__ import annotations

import io
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli, step, write_replay

from agent_runtime.agent.session import Session
from agent_runtime.cli.jsonout import JsonDisplay
from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.records import load_spans

SECRET = "sk-test-do-not-show-7f3a"


@pytest.fixture
def server():
    """An OpenAI-compatible address that answers GET /v1/models (what `models` asks), and records it."""
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            body = json.dumps({"object": "list", "data": [{"id": "qwen", "object": "model"}]}).encode()
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.seen = seen
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_models_shows_roles_routes_profiles_and_who_answers(tmp_path, server):
    replay = write_replay(tmp_path / "replay.json", ["x"])
    models = tmp_path / "models.toml"
    models.write_text(f"""\
[models.up]
id = "openai/qwen"
api_base = "http://127.0.0.1:{server.server_port}/v1"
api_key_env = "UP_KEY"
fallbacks = ["down"]

[models.down]
id = "openai/other"
api_base = "http://127.0.0.1:{closed_port()}/v1"

[models.hosted]
id = "anthropic/claude-x"
api_key_env = "HOSTED_KEY"
context_window = 200000
cost = {{ input = 3, output = 15 }}

[models.recorded]
id = "replay:{replay}"

[models.gone]
id = "replay:{tmp_path / 'no-such.json'}"

[roles]
coder = "up"
planner = "hosted"

[profiles.offline]
coder = "recorded"

[[routes]]
role = "coder"
kind = ["question"]
max_tokens = 50
model = "recorded"
""")
    env = {"MODELS_FILE": str(models), "UP_KEY": SECRET, "HOSTED_KEY": SECRET}
    result = run_cli("--model", "judge=gone", "models", "--json", cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["file"] == {"path": str(models), "exists": True}
    assert found["roles"]["coder"] == {"model": "up", "id": "openai/qwen", "source": "models file [roles]",
                                       "fallbacks": ["down"]}
    assert found["roles"]["planner"]["model"] == "hosted" and found["roles"]["judge"]["source"] == "--model / JUDGE_MODEL"
    rows = {row["name"]: row for row in found["models"]}
    assert list(rows) == ["up", "down", "hosted", "recorded", "gone"]
    assert rows["up"]["reachable"] is True and rows["up"]["roles"] == ["coder"]
    assert rows["down"]["reachable"] is False and "not answering at http://127.0.0.1:" in rows["down"]["status"]
    assert rows["down"]["fallback_of"] == ["coder"]
    assert rows["hosted"]["reachable"] is None and rows["hosted"]["status"] == "key set (HOSTED_KEY); hosted: not contacted"
    assert rows["hosted"]["window"] == 200000 and rows["hosted"]["cost"] == {"input": 3.0, "output": 15.0}
    assert rows["recorded"]["reachable"] is True and rows["gone"]["reachable"] is False
    assert found["routes"] == [{"role": "coder", "kind": ["question"], "min_tokens": None, "max_tokens": 50,
                                "model": "recorded", "where": f"{models}:30"}]
    assert found["profiles"] == {"offline": {"coder": "recorded"}}
    # The reachable server was asked for its models, with its key; nothing printed the key.
    assert ("/v1/models", f"Bearer {SECRET}") in server.seen
    assert SECRET not in result.stdout + result.stderr

    text = run_cli("models", cwd=tmp_path, env={**env, "HOSTED_KEY": ""}, timeout=120)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert f"models file: {models}" in out and "coder    up (openai/qwen)  [models file [roles]; fallbacks: down]" in out
    assert "NOT REACHABLE: HOSTED_KEY is not set" in out and "NOT REACHABLE: not answering at" in out
    assert "1. coder: question, ~0-50 tokens -> recorded" in out and "offline: coder=recorded" in out
    assert "judge    embedded:0.5b  [default (used with --approval judge)]" in out
    assert SECRET not in out + text.stderr


def test_a_bad_models_file_stops_start_up_in_one_line(tmp_path):
    models = tmp_path / "models.toml"
    models.write_text('[models.small]\nid = "embedded"\n\n[roles]\ncoder = "smal"\n')
    result = run_cli("tools", cwd=tmp_path, env={"MODELS_FILE": str(models)}, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f'agent-runtime: error: {models}:5, roles.coder: expected a model of this file (models: small); found "smal"']
    missing = run_cli("tools", cwd=tmp_path, env={"MODELS_FILE": str(tmp_path / "nope.toml")}, timeout=120)
    assert missing.returncode == 1 and "nope.toml: file not found (MODELS_FILE)" in missing.stderr

    models.write_text('[models.small]\nid = "embedded"\n')
    usage = run_cli("--model", "coder=small,reviewer=small", "a task", cwd=tmp_path,
                    env={"MODELS_FILE": str(models)}, timeout=120)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    assert "'reviewer' is not a role (the roles: coder, planner, judge)" in usage.stderr


def test_a_session_names_each_roles_model_in_spans_record_and_events(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    asked = write_replay(tmp_path / "question.json", ["add subtracts"])  # answered in one request (agent/answer.py)
    unused = write_replay(tmp_path / "unused.json", [])
    models = tmp_path / "models.toml"
    models.write_text(f'[models.writer]\nid = "replay:{unused}"\n\n[models.reader]\nid = "replay:{asked}"\n\n'
                      '[roles]\ncoder = "writer"\nplanner = "reader"\n\n'
                      '[[routes]]\nrole = "coder"\nkind = "question"\nmodel = "reader"\n')
    settings = load_settings({"MODELS_FILE": str(models), "RUNS_DIR": str(tmp_path / "runs")})
    out = io.StringIO()
    task = "explain what calc.py is for"  # a question: the route picks `reader` as its coder
    with Session(settings, repo, Approver("never", interactive=False), JsonDisplay(out=out), first_task=task) as session:
        result = session.run(task)
        record = session.last_run
    assert result.status == "answered" and result.answer == "add subtracts", (result, out.getvalue()[-3000:])
    llm = [s for s in load_spans(record.dir) if s["attributes"].get("openinference.span.kind") == "LLM"]
    assert len(llm) == 1
    assert {s["attributes"]["llm.role"] for s in llm} == {"coder"}
    assert {s["attributes"]["llm.model_name"] for s in llm} == {"replay:question.json"}
    meta = json.loads((record.dir / "metadata.json").read_text())
    assert meta["models"]["coder"]["model"] == "reader" and meta["models"]["coder"]["source"].startswith("route at ")
    assert meta["models"]["coder"]["answered"] == f"replay:{asked}"
    assert meta["models"]["planner"]["model"] == "reader" and meta["models"]["judge"] is None
    ended = [json.loads(line) for line in out.getvalue().splitlines() if '"run_ended"' in line][-1]
    assert ended["models"] == {"coder": f"replay:{asked}", "planner": "reader", "judge": None}


def test_a_fallback_that_cannot_stand_in_is_one_clear_line_not_a_failed_first_request(tmp_path):
    """MODEL_FALLBACK_IDS (or a coder's fallbacks named by name) with the embedded model or recorded replies:
    the LiteLLM chain cannot call them. It said "using embedded:0.5b", then failed the first request with
    LiteLLM's "LLM Provider NOT provided"."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [step("Done.", 'final_answer("x")')])
    for fallback in ("embedded:0.5b", f"replay:{replay}"):
        result = run_cli("--approval", "never", "what is this?", cwd=repo, timeout=120,
                         env={"MODEL_ID": "openai/x", "MODEL_API_BASE": f"http://127.0.0.1:{closed_port()}/v1",
                              "MODEL_FALLBACK_IDS": fallback, "RUNS_DIR": str(tmp_path / "runs")})
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"{fallback} cannot be a fallback of openai/x" in result.stderr, result.stderr
        assert "LLM Provider NOT provided" not in result.stderr and "using " not in result.stderr


def test_a_role_list_on_the_command_line_plans_and_codes_one_task(tmp_path):
    """`--model coder=...,planner=...` for a single task with --json: the plan event, the fix, and the
    models each role used in the run's end, its metadata and its LLM spans."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    fix = ("add subtracts.\n\n### calc.py\n```python\ndef add(a, b):\n    return a + b\n\n\n"
           "def mul(a, b):\n    return a * b\n```\n")
    coder = write_replay(tmp_path / "coder.json", [fix])
    planner = write_replay(tmp_path / "planner.json", [json.dumps({"problem": "add subtracts",
                                                                    "targets": ["calc.py::add"]})])
    result = run_cli("--approval", "auto", "--json", "--model", f"coder=replay:{coder},planner=replay:{planner}",
                     "test_calc.py fails: fix it", cwd=repo, env={"RUNS_DIR": str(tmp_path / "runs")}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    [plan] = [e for e in events if e["type"] == "plan"]
    assert plan["targets"] == ["calc.py::add"] and plan["used"] is True, plan
    ended = [e for e in events if e["type"] == "run_ended"][-1]
    assert ended["models"] == {"coder": f"replay:{coder}", "planner": f"replay:{planner}", "judge": None}
    assert "return a + b" in (repo / "calc.py").read_text()
    [run] = list((tmp_path / "runs").iterdir())
    llm = [s for s in load_spans(run) if s["attributes"].get("openinference.span.kind") == "LLM"]
    assert [(s["attributes"]["llm.role"], s["attributes"]["llm.model_name"]) for s in llm] == \
        [("planner", "replay:planner.json"), ("coder", "replay:coder.json")]


def test_models_shows_the_coaching_rules_each_model_runs_with(tmp_path):
    """Built-in profiles for the small models the project knows, the plain core for any other, and the
    models file's `rules` (a list: exactly these; a table: switches on the built-in profile)."""
    replay = write_replay(tmp_path / "replay.json", ["x"])
    models = tmp_path / "models.toml"
    models.write_text(f"""\
[models.small]
id = "embedded:0.5b"
rules = {{ hints = false, planner = false }}

[models.big]
id = "anthropic/claude-x"
api_key_env = "HOSTED_KEY"

[models.helped]
id = "anthropic/claude-y"
api_key_env = "HOSTED_KEY"
rules = ["hints"]

[models.recorded]
id = "replay:{replay}"

[roles]
coder = "recorded"
""")
    env = {"MODELS_FILE": str(models), "HOSTED_KEY": "k"}
    result = run_cli("models", "--json", cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row["coaching"] for row in json.loads(result.stdout)["models"]}
    every = ["grammar_limits", "reply_repairs", "repeat_retry", "fresh_restart", "new_function_per_attempt",
             "temperature_bumps", "localization", "extra_test_runs", "planner", "hints"]
    assert rows["small"] == {"profile": "qwen2.5-coder-0.5b", "source": "models file", "rules": every[:-2]}
    assert rows["big"] == {"profile": "plain", "source": "built-in", "rules": []}
    assert rows["helped"] == {"profile": "plain", "source": "models file", "rules": ["hints"]}
    its = [r for r in every if r not in ("reply_repairs", "temperature_bumps")]  # the 1.5B's profile, and its own two
    its[4:4] = ["function_retries"]
    assert rows["recorded"] == {"profile": "qwen2.5-coder-1.5b", "source": "built-in", "rules": its}
    text = run_cli("models", cwd=tmp_path, env={**env, "AGENT_COACHING": "-hints"}, timeout=120)
    assert text.returncode == 0, text.stderr
    out = " ".join(text.stdout.split())
    assert "coaching plain (AGENT_COACHING): none (the plain core)" in out
    assert f"coaching qwen2.5-coder-1.5b (AGENT_COACHING): {', '.join(its[:-1])}" in out
    bad = run_cli("models", cwd=tmp_path, env={**env, "AGENT_COACHING": "hintz"}, timeout=120)
    assert bad.returncode == 0 and "unknown rule 'hintz'" in bad.stdout, "the report shows it, never a traceback"
    models.write_text('[models.small]\nid = "embedded"\nrules = ["hintz"]\n')
    broken = run_cli("tools", cwd=tmp_path, env=env, timeout=120)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert f'{models}:3, models.small.rules: expected rule names among grammar_limits, ' in broken.stderr
    assert broken.stderr.rstrip().endswith('; found unknown rule "hintz"')
