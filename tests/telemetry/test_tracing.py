"""Traces for real: a Phoenix started by the suite, spans read back over its REST API, run
records on disk, secrets kept out, and runs that finish when Phoenix is down or hanging."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import (
    BUGGY_PROJECT,
    ROOT,
    VENV_BIN,
    json_lines,
    make_repo,
    run_cli,
    step,
    write_replay,
)
from rich.console import Console

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.procs import free_port as _free_port
from agent_runtime.redact import REDACTED, Redactor
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.records import load_spans, span_tree

SECRET_ENV = "sk-live-env-secret-0123456789abcdef"
SECRET_DOTENV = "dotenv-token-value-98765"


def phoenix_spans(url: str, project: str, expect_at_least: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    spans: list[dict] = []
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/v1/projects/{project}/spans?limit=1000", timeout=5) as response:
                spans = json.loads(response.read())["data"]
        except OSError:
            spans = []
        if len(spans) >= expect_at_least:
            return spans
        time.sleep(0.5)
    return spans


def quiet() -> Display:
    return Display(console=Console(file=io.StringIO(), width=120), out=io.StringIO())


def session_for(repo: Path, tmp_path: Path, replies: list[str] | None, **env: str) -> Session:
    settings_env = {"RUNS_DIR": str(tmp_path / "runs"), **env}
    if replies is not None:
        settings_env["MODEL_ID"] = f"replay:{write_replay(tmp_path / 'replay.json', replies)}"
    return Session(load_settings(settings_env), repo, Approver("never", interactive=False), quiet())


TASK_REPLIES = [
    step("Look around.", 'print(list_files(pattern="*.py"))'),
    step("Read and search.", 'print(read_file(path="calc.py"))\nprint(rg_search(pattern="def add"))'),
    step("Echo a value.", f'print(run_cmd(command="echo {SECRET_ENV} {SECRET_DOTENV}"))'),
    step("Try to delete.", 'print(run_cmd(command="rm calc.py"))'),
    step("Done.", 'final_answer("calc.py adds wrongly")'),
]


def test_spans_in_phoenix_have_the_right_shape_and_no_secrets(phoenix, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_ENV)
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, ".env": f"MY_SERVICE_TOKEN={SECRET_DOTENV}\n"})
    monkeypatch.chdir(repo)
    project = "test-shape"
    session = session_for(repo, tmp_path, TASK_REPLIES, PHOENIX_ENABLED="true", PHOENIX_ENDPOINT=phoenix.url,
                          PHOENIX_PROJECT_NAME=project)
    with session:
        result = session.run(f"go through calc.py (my key is {SECRET_ENV})")
        record = session.last_run
    assert result.status == "answered"
    local = load_spans(record.dir)
    spans = phoenix_spans(phoenix.url, project, expect_at_least=len(local))
    assert len(spans) == len(local) >= 12
    by_id = {s["context"]["span_id"]: s for s in spans}
    agents = [s for s in spans if s["span_kind"] == "AGENT"]
    assert len(agents) == 1 and agents[0]["parent_id"] is None
    assert agents[0]["name"] == f"task: go through calc.py (my key is {REDACTED})"
    steps = [s for s in spans if s["span_kind"] == "CHAIN" and s["name"].startswith("step ")]
    assert len(steps) == 5 and all(by_id[s["parent_id"]] is agents[0] for s in steps)
    llms = [s for s in spans if s["span_kind"] == "LLM"]
    assert len(llms) == 5 and all(by_id[s["parent_id"]] in steps for s in llms), "one LLM span per model call"
    tools = [s for s in spans if s["span_kind"] == "TOOL"]
    assert [s["name"] for s in sorted(tools, key=lambda s: s["start_time"])] == [
        "list_files: *.py", "read_file: calc.py", "rg_search: def add",
        f"run_cmd: echo {REDACTED} {REDACTED}", "run_cmd: rm calc.py"]
    assert len(tools) == len(session.runtime.state.history), "one TOOL span per tool call"
    for span in tools:
        parent = by_id[span["parent_id"]]
        assert parent in steps, "every tool span is the child of the step that made it"
        attrs = span["attributes"]
        for key in ("tool.name", "input.value", "output.value", "policy.decision", "approval.outcome",
                    "output.truncated", "tool.duration_ms", "input.size", "output.size"):
            assert key in attrs, (span["name"], key)
    echo, refused = sorted((s for s in tools if s["name"].startswith("run_cmd: ")), key=lambda s: s["start_time"])
    assert echo["attributes"]["sandbox"] == "bwrap" and echo["attributes"]["policy.decision"] == "allow"
    assert refused["attributes"]["policy.decision"] == "ask" and refused["attributes"]["policy.rule"] == "change-files"
    assert refused["attributes"]["approval.outcome"] == "denied"
    assert refused["attributes"]["approval.source"] == "config"
    assert refused["attributes"]["error.type"] == "refused" and refused["status_code"] == "ERROR"
    everything = json.dumps(spans, ensure_ascii=False)
    assert SECRET_ENV not in everything and SECRET_DOTENV not in everything and REDACTED in everything
    # not even a piece: names are cut short after redaction, never before
    assert SECRET_ENV[:12] not in everything and SECRET_DOTENV[:12] not in everything
    for path in record.dir.iterdir():
        text = path.read_text(errors="replace")
        assert SECRET_ENV not in text and SECRET_DOTENV not in text, path.name


def test_run_record_files(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    with session_for(repo, tmp_path, TASK_REPLIES) as session:
        session.run("go through calc.py")
        record = session.last_run
    names = sorted(p.name for p in record.dir.iterdir())
    assert names == ["events.jsonl", "final.md", "metadata.json", "steps.jsonl", "trace.jsonl"]  # no .running left
    meta = json.loads((record.dir / "metadata.json").read_text())
    assert meta["outcome"] == "answered" and meta["task"] == "go through calc.py" and meta["steps"] == 5
    assert meta["git"]["head"] and meta["git"]["dirty"] is False
    assert meta["versions"]["smolagents"] and meta["settings"]["agent_max_steps"] == 25
    assert "model_api_key" not in meta["settings"] and meta["tool_calls"] == 5 and meta["refused"] == 1
    assert meta["started_at"] <= meta["ended_at"] and len(meta["trace_id"]) == 32
    events = [json.loads(line) for line in (record.dir / "events.jsonl").read_text().splitlines()]
    calls = [e for e in events if e["type"] == "tool_call"]
    approvals = [e for e in events if e["type"] == "approval"]
    assert [c["tool"] for c in calls] == ["list_files", "read_file", "rg_search", "run_cmd", "run_cmd"]
    assert approvals == [{**approvals[0], "tool": "run_cmd", "outcome": "denied", "source": "config",
                          "rule": "change-files"}]
    assert (record.dir / "final.md").read_text() == "calc.py adds wrongly\n"
    tree = "\n".join(span_tree(load_spans(record.dir)))
    assert re.search(r"\[AGENT\] task: go through calc.py .*\n  \[CHAIN\] step 1 .*\n    \[LLM\] llm: replay:replay.json .*\n"
                     r"    \[TOOL\] list_files \*\.py .* policy allow", tree), tree
    # No person refused it (--approval never): the rule's reason says why
    assert re.search(r'policy ask \(change-files\): "changes files directly[^"]*" · approval denied \(config\)', tree), tree


def test_runs_and_trace_commands(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", TASK_REPLIES)
    env = {"RUNS_DIR": str(tmp_path / "runs")}
    # 5: answered, but `rm calc.py` was refused (no terminal to approve it)
    assert run_cli("--model", f"replay:{replay}", "go through calc.py", cwd=repo, env=env).returncode == 5
    listing = run_cli("runs", cwd=repo, env=env)
    assert listing.returncode == 0 and "answered" in listing.stdout and "go through calc.py" in listing.stdout
    run_id = json_lines(run_cli("runs", "--json", cwd=repo, env=env).stdout)[0]["run_id"]
    shown = run_cli("trace", run_id[-4:], cwd=repo, env=env)
    assert shown.returncode == 0 and "[TOOL] run_cmd rm calc.py" in shown.stdout and "approval denied" in shown.stdout
    refused = next(line for line in shown.stdout.splitlines() if "run_cmd rm calc.py" in line)
    assert 'policy ask (change-files): "changes files directly (propose_patch' in refused, "no one said why: the rule's reason"
    assert "final answer: calc.py adds wrongly" in shown.stdout
    missing = run_cli("trace", "nope", cwd=repo, env=env)
    assert missing.returncode == 1 and "agent-runtime runs" in missing.stderr
    # a run killed mid-way keeps its marker and shows as killed
    (tmp_path / "runs" / run_id / ".running").write_text("999999")
    assert json_lines(run_cli("runs", "--json", cwd=repo, env=env).stdout)[0]["outcome"] == "killed"


def test_run_id_and_phoenix_url_are_printed(phoenix, tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [step("d", 'final_answer("ok")')])
    result = run_cli("--model", f"replay:{replay}", "say ok", cwd=repo,
                     env={"PHOENIX_ENABLED": "true", "PHOENIX_ENDPOINT": phoenix.url, "RUNS_DIR": str(tmp_path / "r"),
                          "PHOENIX_PROJECT_NAME": "url-test"})
    assert result.returncode == 0
    match = re.search(rf"trace in Phoenix: ({re.escape(phoenix.url)}/redirects/traces/([0-9a-f]{{32}}))", result.stderr)
    assert match, result.stderr
    run = json_lines(run_cli("runs", "--json", cwd=repo, env={"RUNS_DIR": str(tmp_path / "r")}).stdout)[0]
    assert match.group(2) == run["trace_id"]
    spans = phoenix_spans(phoenix.url, "url-test", expect_at_least=1)
    assert {s["context"]["trace_id"] for s in spans} == {run["trace_id"]}, "the URL names the trace Phoenix holds"
    with urllib.request.urlopen(match.group(1), timeout=10) as response:
        assert response.status == 200


@pytest.mark.model
def test_embedded_model_run_has_llm_spans_with_token_counts(phoenix, tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    project = "embedded-llm"
    session = session_for(repo, tmp_path, None, AGENT_MAX_STEPS="1", PHOENIX_ENABLED="true", MODEL_ID="embedded:0.5b",
                          PHOENIX_ENDPOINT=phoenix.url, PHOENIX_PROJECT_NAME=project)
    with session:
        session.run("Which files are here?")
    spans = phoenix_spans(phoenix.url, project, expect_at_least=3)
    llm = [s for s in spans if s["span_kind"] == "LLM"]
    assert llm, [s["name"] for s in spans]
    attrs = llm[0]["attributes"]
    assert attrs["llm.token_count.prompt"] > 100 and attrs["llm.token_count.completion"] > 0
    assert "Which files are here?" in json.dumps(attrs)  # message content is kept by default


@pytest.mark.slow
@pytest.mark.model
def test_hidden_content(tmp_path):
    """A real model (the 0.5B, the fastest), so the LLM spans carry real messages and counts."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    with session_for(repo, tmp_path, None, AGENT_MAX_STEPS="1", TRACE_HIDE_CONTENT="true",
                     MODEL_ID="embedded:0.5b") as session:
        session.run("A task whose words must not be traced")
        spans = load_spans(session.last_run.dir)
    llm = [s for s in spans if s.get("kind") == "LLM"]
    assert llm and llm[0]["attributes"]["llm.token_count.prompt"] > 100
    assert "must not be traced" not in json.dumps(llm)
    # nor the task's root (its name, input, output) or the steps (thought, code, observation)
    roots = [s for s in spans if s.get("kind") == "AGENT"]
    assert [s["name"] for s in roots] == ["task"]
    assert "must not be traced" not in json.dumps([s for s in spans if s.get("kind") != "TOOL"])
    assert not any("llm.input_messages.0.message.content" in s["attributes"] for s in llm)


def test_outcomes_set_the_span_status(tmp_path, monkeypatch):
    """Step limit, errors, a failed step and Ctrl-C: the root's status says so, with a message."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)

    def run(name: str, replies: list[str], **env: str) -> tuple[object, list[dict]]:
        (tmp_path / name).mkdir()
        with session_for(repo, tmp_path / name, replies, **env) as session:
            result = session.run(f"task {name}")
            return result, load_spans(session.last_run.dir)

    def root(spans: list[dict]) -> dict:
        (found,) = [s for s in spans if s.get("kind") == "AGENT"]
        return found

    looping = [step(f"Look {i}.", f'print(list_files(pattern="*.py", max_results={i}))') for i in range(1, 4)]
    result, spans = run("limit", looping, AGENT_MAX_STEPS="2")
    assert result.status == "step_limit"
    assert root(spans)["status"] == "ERROR"
    assert root(spans)["status_message"] == "the step limit (2) was reached without a final answer"
    assert root(spans)["attributes"]["output.value"].startswith("Stopped: the step limit (2)")

    result, spans = run("error", looping[:1])  # the replay runs out: the model call fails
    assert result.status == "error"
    assert root(spans)["status"] == "ERROR" and "has 1 replies" in root(spans)["status_message"]
    failed_llm = [s for s in spans if s.get("kind") == "LLM" and s["status"] == "ERROR"]
    assert len(failed_llm) == 1 and "has 1 replies" in failed_llm[0]["status_message"]

    result, spans = run("code", [step("Divide.", "print(1 / 0)"), step("Done.", 'final_answer("done")')])
    assert result.status == "answered" and root(spans)["status"] == "OK"
    first = next(s for s in spans if s["name"] == "step 1")
    assert first["status"] == "ERROR" and "division by zero" in first["status_message"]
    assert first["attributes"]["input.value"] == "Thought: Divide.\n\nCode:\nprint(1 / 0)"
    assert "division by zero" in first["attributes"]["output.value"]

    # a reply without code, and the format retry's as well: the step fails; each request is an LLM span
    result, spans = run("noparse", ["I will not write code.", "Still no code.", step("Done.", 'final_answer("done")')],
                       AGENT_COACHING="+reply_repairs")
    assert result.status == "answered"
    first = next(s for s in spans if s["name"] == "step 1")
    assert first["status"] == "ERROR" and "Still no code." in first["attributes"]["input.value"]
    assert len([s for s in spans if s.get("kind") == "LLM" and s["parent_id"] == first["span_id"]]) == 2

    (tmp_path / "ctrl-c").mkdir()
    with session_for(repo, tmp_path / "ctrl-c", looping) as session:
        generate = session.model.generate
        calls = []

        def interrupted(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return generate(*args, **kwargs)

        session.model.generate = interrupted
        result = session.run("task ctrl-c")
        spans = load_spans(session.last_run.dir)
    assert result.status == "interrupted"
    assert root(spans)["status"] == "ERROR" and root(spans)["status_message"] == "interrupted (Ctrl-C)"
    assert [s["status_message"] for s in spans if s["name"] == "step 2"] == ["interrupted (Ctrl-C)"]
    assert all(s["end_time"] for s in spans), "every span ended"


def test_names_are_cut_short_after_redaction():
    """A secret where a span name is cut must not leave its first half in the name."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agent_runtime.telemetry.spans import Telemetry

    secret = "zq8-unusual-secret-value-4711"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(provider, Redactor([secret]))

    class Tool:
        name, description = "run_cmd", "runs"

    for cut in range(40, 62):
        with telemetry.task_span("x" * cut + secret) as root:
            with telemetry.tool_span(Tool(), {"command": "y" * (cut - 9) + secret}) as span:
                span.finish({"ok": True}, None, None, None, False, None)
            root.finish("answered", "done")
    names = [s.name for s in exporter.get_finished_spans()]
    assert len(names) == 44 and all(len(n) <= 70 for n in names)
    assert not [n for n in names if secret[:6] in n], names


def test_phoenix_endpoint_takes_the_base_url_or_the_otlp_url():
    for given in ("http://127.0.0.1:6006", "http://127.0.0.1:6006/", "http://127.0.0.1:6006/v1/traces",
                  "http://127.0.0.1:6006/v1/traces/"):
        assert load_settings({"PHOENIX_ENDPOINT": given}).phoenix_endpoint == "http://127.0.0.1:6006", given
    assert load_settings({"PHOENIX_ENDPOINT": "https://h/phoenix/v1/traces"}).phoenix_endpoint == "https://h/phoenix"


class NotFoundServer:
    """An HTTP server that answers 404 to everything (Phoenix's address with a wrong path or
    port that another program uses). Counts the requests it got."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        counter = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                counter.append(self.path)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_endpoint_that_answers_404_is_reported_once(caplog):
    from agent_runtime.telemetry.exporters import Tracing

    server = NotFoundServer()
    try:
        tracing = Tracing(load_settings({"PHOENIX_ENABLED": "true", "PHOENIX_ENDPOINT": server.url}), Redactor())
        caplog.set_level("WARNING", logger="agent_runtime.telemetry.exporters")
        for task in ("one", "two", "three"):  # three exports, three 404s
            with tracing.telemetry.task_span(task) as root:
                root.finish("answered", "ok")
            assert tracing.trace_url(root.trace_id) is None, "no link to a trace Phoenix does not have"
        tracing.shutdown()
    finally:
        server.close()
    exports = [p for p in server.requests if p == "/v1/traces"]
    assert len(exports) >= 3, server.requests
    warnings = [r.getMessage() for r in caplog.records if "not accepting spans" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert f"{server.url}/v1/traces answered 404 Not Found" in warnings[0]
    assert "set PHOENIX_ENDPOINT to Phoenix's base URL" in warnings[0]


def test_the_cli_says_once_why_phoenix_does_not_take_spans(tmp_path):
    server = NotFoundServer()
    try:
        repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
        replay = write_replay(tmp_path / "r.json", TASK_REPLIES)
        result = run_cli("--model", f"replay:{replay}", "go through it", cwd=repo,
                         env={"PHOENIX_ENABLED": "true", "PHOENIX_ENDPOINT": server.url,
                              "RUNS_DIR": str(tmp_path / "runs")})
    finally:
        server.close()
    assert result.returncode == 5  # answered, but `rm calc.py` was refused
    assert result.stderr.count("is not accepting spans") == 1, result.stderr
    said = " ".join(result.stderr.split())
    assert "answered 404 Not Found" in said and "PHOENIX_ENDPOINT" in said
    assert "trace in Phoenix" not in result.stderr and "agent-runtime trace" in result.stderr
    # reported before the run's last line (not after it, from the exporter's thread at exit)
    assert said.index("not accepting spans") < said.index("· see it with: agent-runtime trace")


def test_phoenix_down_never_breaks_a_run(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", TASK_REPLIES)
    port = _free_port()
    started = time.monotonic()
    result = run_cli("--model", f"replay:{replay}", "go through it", cwd=repo,
                     env={"PHOENIX_ENABLED": "true", "PHOENIX_ENDPOINT": f"http://127.0.0.1:{port}",
                          "RUNS_DIR": str(tmp_path / "runs")})
    assert result.returncode == 5 and time.monotonic() - started < 120  # answered, but `rm calc.py` was refused
    assert result.stderr.count("is not accepting spans") == 1
    assert "trace in Phoenix" not in result.stderr and "agent-runtime trace" in result.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    spans = load_spans(run_dir)
    kinds = [s.get("kind") for s in spans]
    # final_answer runs inside the sandboxed interpreter: 5 tool calls, 5 model calls
    assert kinds.count("AGENT") == 1 and kinds.count("CHAIN") == 5 and kinds.count("TOOL") == 5
    assert kinds.count("LLM") == 5
    assert all(line.strip() for line in (run_dir / "trace.jsonl").read_text().splitlines())


def test_a_hanging_phoenix_delays_exit_by_at_most_two_seconds(tmp_path):
    """A server that accepts connections and never answers: the worst case for an exporter."""
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(50)
    held = []

    def hold() -> None:
        try:
            for _ in range(50):
                held.append(sink.accept())
        except OSError:  # the sink was closed at the end of the test
            pass

    threading.Thread(target=hold, daemon=True).start()
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = session_for(repo, tmp_path, TASK_REPLIES, PHOENIX_ENABLED="true",
                          PHOENIX_ENDPOINT=f"http://127.0.0.1:{sink.getsockname()[1]}")
    session.open()
    started = time.monotonic()
    result = session.run("go through it")
    run_time = time.monotonic() - started
    closing = time.monotonic()
    session.close()
    assert result.status == "answered"
    assert time.monotonic() - closing < 2.5, "exit waits at most 2 s for the exporter"
    assert run_time < 60
    sink.close()


def test_redactor():
    redact = Redactor.from_environment({"GITHUB_TOKEN": "ghp_shortish_value", "HOME": "/root", "API_KEY": "abc"})
    assert redact("token ghp_shortish_value here") == f"token {REDACTED} here"
    assert redact("home /root") == "home /root" and redact("abc") == "abc"  # too short to be a secret
    for shaped in ("sk-proj-abcdefghijklmnopqrstuv", "ghp_" + "a" * 36, "AKIAABCDEFGHIJKLMNOP", "Bearer abcdefghijklmnopqrstuvwxyz"):
        assert REDACTED in redact(f"x {shaped} y"), shaped


def test_docker_compose_agrees_with_env_example():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if re.match(r"^[A-Z_]+=", line):
            key, _, value = line.partition("=")
            env[key] = value
    service = compose["services"]["phoenix"]
    assert service["image"] == "arizephoenix/phoenix:version-19.17.0"
    from importlib.metadata import version

    assert service["image"].endswith(version("arize-phoenix")), "the image matches the installed Phoenix"
    endpoint_port = int(env["PHOENIX_ENDPOINT"].rsplit(":", 1)[1])
    published = service["ports"][0]
    host, host_port, container_port = re.match(r"^(127\.0\.0\.1):\$\{PHOENIX_PORT:-(\d+)\}:(\d+)$", published).groups()
    assert int(host_port) == int(env["PHOENIX_PORT"]) == endpoint_port
    container_env = dict(item.split("=", 1) for item in service["environment"])
    assert int(container_env["PHOENIX_PORT"]) == int(container_port)
    assert container_env["PHOENIX_PROJECT_NAME"] == "${PHOENIX_PROJECT_NAME:-%s}" % env["PHOENIX_PROJECT_NAME"]
    assert any(v.endswith(":" + container_env["PHOENIX_WORKING_DIR"]) for v in service["volumes"])


@pytest.mark.slow
def test_phoenix_command_starts_a_healthy_local_phoenix(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([str(VENV_BIN / "agent-runtime"), "phoenix", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}, start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"Phoenix is running: http://127.0.0.1:{port}", line + proc.stderr.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
        assert (tmp_path / "data" / "agent-runtime" / "phoenix").is_dir()
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        local_addresses = [line.split()[3] for line in listening.splitlines()]
        assert local_addresses == [f"127.0.0.1:{port}"], "Phoenix listens on loopback only"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)


@pytest.mark.slow
def test_sigterm_or_sighup_stops_the_phoenix_child_as_ctrl_c_does(tmp_path):
    """`kill PID` of a background `agent-runtime phoenix`, or its terminal closed (SIGHUP), stops the
    Phoenix server it started (its own session: the signal never reaches it): no orphan keeps the port."""

    def start(port: int) -> subprocess.Popen:
        return subprocess.Popen([str(VENV_BIN / "agent-runtime"), "phoenix", "--port", str(port)], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")})

    def child_of(proc: subprocess.Popen) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            if found:
                return int(found[0])
            time.sleep(0.1)
        raise AssertionError("agent-runtime phoenix started no child")

    def gone(pid: int) -> bool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.2)
        return False

    # SIGHUP while Phoenix is still starting: the terminal was closed.
    proc = start(_free_port())
    child = child_of(proc)
    try:
        proc.send_signal(signal.SIGHUP)
        proc.wait(timeout=60)
        assert gone(child), "the Phoenix child outlived a SIGHUP"
        # SIGTERM once it is up: `kill` of a background job.
        port = _free_port()
        proc = start(port)
        line = proc.stdout.readline()
        assert line.strip() == f"Phoenix is running: http://127.0.0.1:{port}", line + proc.stderr.read()
        child = child_of(proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert gone(child), "the Phoenix child outlived a SIGTERM"
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
        assert "Traceback" not in proc.stderr.read()
    finally:
        for pid in (proc.pid, child):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
