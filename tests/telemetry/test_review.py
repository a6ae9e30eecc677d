"""The review figures of a task's root span and the approval annotations, without a Phoenix
(tests/telemetry/test_phoenix_review.py checks them in a real one)."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import BUGGY_PROJECT, make_repo, step, write_replay
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.console import Console

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.core import ApprovalResult, CallRecord, Decision
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.records import load_spans
from agent_runtime.telemetry.review import approval_annotation, problems, task_review
from agent_runtime.telemetry.review import tests_state as state_of_tests
from agent_runtime.telemetry.spans import Telemetry


def call(tool: str, outcome: str = "ok", **facts) -> CallRecord:
    return CallRecord(tool, {}, outcome, facts=facts)


def test_the_last_test_result_counts_until_a_change_makes_it_stale():
    assert state_of_tests([]) == "unknown"
    assert state_of_tests([call("run_tests", passed=False)]) == "false"
    assert state_of_tests([call("run_tests", passed=False), call("run_tests", passed=True)]) == "true"
    # a patch applied after the tests: their result no longer says anything about the code
    assert state_of_tests([call("run_tests", passed=True), call("apply_patch", applied=True)]) == "unknown"
    assert state_of_tests([call("run_tests", passed=True), call("undo_patch")]) == "unknown"
    # a patch that failed changed nothing; a read changes nothing
    assert state_of_tests([call("run_tests", passed=False), call("apply_patch", "error"), call("read_file")]) == "false"
    assert state_of_tests([call("apply_patch", applied=True), call("run_tests", passed=True)]) == "true"
    # a command whose checkpoint found changes (`sed -i`, a formatter) is a change too; one that found none is not
    assert state_of_tests([call("run_tests", passed=False), call("run_cmd", files_changed=1)]) == "unknown"
    assert state_of_tests([call("run_tests", passed=False), call("run_cmd", exit_code=0)]) == "false"
    # a test run that changed files (a snapshot update) still says how the tests went
    assert state_of_tests([call("run_tests", passed=True, files_changed=2)]) == "true"


def test_figures_and_problems():
    calls = [call("propose_patch", "error"),
             CallRecord("run_cmd", {"command": "git push"}, "refused", facts={"error": "The user refused this run_cmd."}),
             CallRecord("run_cmd", {"command": "rm -rf .git"}, "refused",
                        facts={"error": "run_cmd was refused by the command policy (rule git-directory): .git"}),
             call("run_tests", passed=False)]
    review = task_review(calls, ["calc.py", "calc.py", "b.py"], 0, approval_wait_s=1.5)
    refused = ["refused by the user (run_cmd: git push)", "denied by rule git-directory (run_cmd: rm -rf .git)"]
    assert review == {"refusals": 2, "refused": refused, "failed_tool_calls": 1, "files_changed": 2,
                      "tests_passed": "false", "exit_code": 0, "approval_wait_ms": 1500.0}
    assert problems(review) == [f"2 refusals: {'; '.join(refused)}", "1 failed tool call", "tests failing"]
    assert problems(task_review(calls[1:2], [], 0)) == [refused[0]], "one refusal: who refused what, alone"
    assert problems(task_review([call("read_file")], [], 0)) == []


def test_a_change_no_test_has_seen_is_a_problem_a_change_tested_after_is_not():
    patched = call("apply_patch", applied=True)
    assert problems(task_review([patched], ["calc.py"], 0)) == ["tests not run after the last change"]
    assert problems(task_review([call("run_tests", passed=True), patched], ["calc.py"], 0)) == \
        ["tests not run after the last change"], "tests before the change say nothing of it"
    assert problems(task_review([patched, call("run_tests", passed=True)], ["calc.py"], 0)) == []
    assert problems(task_review([call("read_file")], [], 0)) == [], "no change, nothing to test"


ASK = Decision("ask", "git-push", "publishes commits")


@pytest.mark.parametrize("decision, approval, blocked_by, expected", [
    (ASK, ApprovalResult(False, "user", "not now"), None,
     ("HUMAN", "user refused", "refused by the user: not now", "refused by the user")),
    (ASK, ApprovalResult(True, "user"), None, ("HUMAN", "user approved", "approved by the user", "approved by the user")),
    (ASK, ApprovalResult(True, "remembered", "saved approvals"), None,
     ("HUMAN", "prior approval", "approved (remembered: saved approvals): saved approvals",
      "approved (remembered: saved approvals)")),
    (ASK, ApprovalResult(True, "judge", "a test run", judge="approve", judge_reason="a test run"), None,
     ("LLM", "judge approved", "approved by the judge: a test run", "approved by the judge")),
    (ASK, ApprovalResult(False, "config"), None,
     ("CODE", "auto-refused", "refused: approval mode 'never'", "refused: approval mode 'never'")),
    (ASK, ApprovalResult(False, "non_interactive"), None,
     ("CODE", "no one to ask", "refused: no one at a terminal to approve", "refused: no one at a terminal to approve")),
    (Decision("deny", "git-directory", "would destroy .git"), None, None,
     ("CODE", "policy denied", "denied by rule git-directory: would destroy .git", "denied by rule git-directory")),
    (Decision("allow", None, "reads"), None, "no-push",
     ("CODE", "hook blocked", "blocked by the hook no-push", "blocked by the hook no-push")),
])
def test_who_decided_is_one_annotation_whose_label_fits_phoenixs_chip(decision, approval, blocked_by, expected):
    """The span's attributes as ToolSpan.finish sets them, and the annotation made of them: its label
    says who (short enough for Phoenix's chip), its explanation what."""
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with Telemetry(provider).tool_span(SimpleNamespace(name="run_cmd", description="d"), {"command": "x"}) as span:
        span.finish({"error": "no"}, decision, approval, None, False, "refused", blocked_by=blocked_by)
    attrs = dict(spans.get_finished_spans()[0].attributes)
    assert attrs["approval.outcome"] == "denied" if approval is None or not approval.approved else "approved"
    found = approval_annotation("00f067aa0ba902b7", attrs)
    assert found is not None and found["span_id"] == "00f067aa0ba902b7" and found["name"] == "approval"
    result = found["result"]
    assert (found["annotator_kind"], result["label"], result["explanation"], attrs["approval.verdict"]) == expected
    assert "score" not in result, "a score makes Phoenix's chip show a mean (μ 0.00) instead of the label"
    assert len(result["label"]) <= 14 and found["metadata"]["tool"] == "run_cmd"
    assert json.loads(attrs["metadata"])["approval"]["verdict"] == expected[3]


def test_calls_without_a_question_have_no_annotation():
    asked = {"openinference.span.kind": "TOOL", "tool.name": "run_cmd", "policy.decision": "ask",
             "approval.label": "user approved", "approval.verdict": "approved by the user"}
    assert approval_annotation("1", {**asked, "policy.decision": "allow", "approval.label": None}) is None
    assert approval_annotation("1", {"openinference.span.kind": "TOOL"}) is None  # stopped before the policy
    assert approval_annotation("1", {**asked, "openinference.span.kind": "CHAIN"}) is None


def session_for(repo: Path, tmp_path: Path, replies: list[str], **env: str) -> Session:
    settings = load_settings({"RUNS_DIR": str(tmp_path / "runs"), **env,
                              "MODEL_ID": f"replay:{write_replay(tmp_path / 'replay.json', replies)}"})
    display = Display(console=Console(file=io.StringIO(), width=120), out=io.StringIO())
    return Session(settings, repo, Approver("never", interactive=False), display)


class _Phoenix(BaseHTTPRequestHandler):
    """Takes OTLP batches and annotations; `status` is what it answers to annotations."""

    received: list[tuple[str, bytes]] = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append((self.path, body))
        code = type(self).status if self.path.startswith("/v1/span_annotations") else 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_phoenix():
    _Phoenix.received, _Phoenix.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Phoenix)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("status", [200, 500])
def test_a_run_sends_its_refusals_as_annotations_and_never_minds_a_failure(fake_phoenix, tmp_path, status):
    """--approval never: the push is refused by the approval mode; the annotation goes out after the
    spans, and Phoenix answering 500 to it changes nothing for the run."""
    _Phoenix.status = status
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replies = [step("Push.", 'print(run_cmd(command="git push --force"))'), step("Done.", 'final_answer("no")')]
    with session_for(repo, tmp_path, replies, PHOENIX_ENABLED="true", PHOENIX_ENDPOINT=fake_phoenix) as session:
        result = session.run("push it")
        session.tracing.flush_phoenix(5)
        spans = load_spans(session.last_run.dir)
    assert result.status == "answered"
    root = next(s for s in spans if s["parent_id"] is None)
    assert root["status"] == "ERROR" and \
        root["status_message"] == "refused: approval mode is 'never' (run_cmd: git push --force)"
    assert root["attributes"]["agent_runtime.refusals"] == 1 and root["attributes"]["agent_runtime.exit_code"] == 5  # answered, but refused
    paths = [path for path, _ in _Phoenix.received]
    assert "/v1/traces" in paths and "/v1/span_annotations" in paths
    assert paths.index("/v1/traces") < paths.index("/v1/span_annotations"), "the span first, then its annotation"
    (body,) = [json.loads(b) for p, b in _Phoenix.received if p == "/v1/span_annotations"]
    push = next(s for s in spans if s["name"] == "run_cmd: git push --force")
    assert [(a["span_id"], a["annotator_kind"], a["result"]["label"]) for a in body["data"]] == [
        (push["span_id"], "CODE", "auto-refused")]
