"""The one wrapper: validation, policy, approval, shaping, history, loop detection, span."""

from __future__ import annotations

import json

import pytest
from conftest import make_repo
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_runtime.telemetry.spans import Telemetry
from agent_runtime.tools.results import OutputLimits, ToolResult, render, shape, truncate_text


def test_truncation_keeps_head_with_a_visible_marker():
    limits = OutputLimits(max_chars=200, max_lines=10, max_items=3)
    text = "".join(f"line {i}\n" for i in range(100))
    cut, truncated = truncate_text(text, limits)
    assert truncated and cut.startswith("line 0\n") and "line 9\n" in cut and "line 10\n" not in cut
    assert "[... truncated: 90 more lines" in cut


def test_truncation_of_command_output_keeps_the_tail():
    limits = OutputLimits(max_chars=200, max_lines=8, max_items=3)
    text = "".join(f"line {i}\n" for i in range(100)) + "FAILED test_x\n"
    cut, truncated = truncate_text(text, limits, keep_tail=True)
    assert truncated and cut.rstrip().endswith("FAILED test_x") and "cut from the middle" in cut


def test_shape_truncates_lists_and_marks_result():
    shaped, truncated = shape({"files": [f"f{i}" for i in range(10)], "n": 10}, OutputLimits(1000, 100, 3))
    assert truncated and shaped["truncated"] is True
    assert shaped["files"][:3] == ["f0", "f1", "f2"] and "7 more not shown" in shaped["files"][3]


def test_results_print_readably_but_index_like_dicts():
    result = ToolResult({"path": "a.py", "content": "x = 1\ny = 2\n", "files": ["a", "b"]})
    text = render(result)
    assert "content:\nx = 1\ny = 2\n(end of content)" in text and "files:\n  a\n  b" in text
    assert str(result) == text and result["path"] == "a.py"


def test_limits_come_from_settings(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "".join(f"{i}\n" for i in range(50))})
    runtime, tools = tools_for(repo, env={"TRUNCATION_MAX_LINES": "10"})
    result = tools["read_file"](path="a.txt", start_line=1, end_line=50)
    assert result["truncated"] is True and result["content"].count("\n") <= 12


def test_text_inputs_are_bounded(buggy_repo, make_runtime):
    from agent_runtime.tools import build_tools

    runtime = make_runtime(buggy_repo, env={"VALIDATION_MAX_CHARS": "100", "VALIDATION_MAX_LINES": "10",
                                            "PATCH_MAX_BYTES": "1000"})
    tools = {t.name: t for t in build_tools(runtime)}
    long = tools["run_cmd"](command="echo " + "x" * 495)
    assert "500 characters; the limit is 100" in long["error"] and "smaller" in long["recovery_suggestion"]
    tall = tools["rg_search"](pattern="a\n" * 20)
    assert "21 lines; the limit is 10" in tall["error"]
    # Patch text has its own limit (PATCH_MAX_BYTES), not the one for commands and patterns.
    fits = tools["propose_patch"](path="calc.py", old="return a - b", new="x" * 500 + "\n" * 20)
    assert "patch_id" in fits, fits
    big = tools["propose_patch"](path="calc.py", old="return a - b", new="é" * 600)
    assert "1,200 bytes; the limit for a patch is 1,000 (PATCH_MAX_BYTES)" in big["error"]
    assert "smaller patches" in big["recovery_suggestion"]


def test_argument_binding_errors_are_explained(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    assert "has no argument 'file'" in tools["read_file"](file="calc.py")["error"]
    assert "needs the argument 'path'" in tools["read_file"]()["error"]
    assert "read_file(path=..., start_line=None, end_line=None)" in tools["read_file"]()["recovery_suggestion"]
    assert tools["read_file"]("calc.py", 1, 2)["content"].startswith("def add")  # positional, in order
    assert tools["read_file"]({"path": "calc.py"})["content"].startswith("def add")  # smolagents dict style
    assert tools["read_file"](path="calc.py", start_line="2")["content"].startswith("    return")  # "2" -> 2


def test_loop_detection_refuses_the_third_identical_call(buggy_repo, tools_for):
    runtime, tools = tools_for(buggy_repo)
    first = tools["read_file"](path="calc.py")
    second = tools["read_file"](path="calc.py")
    third = tools["read_file"](path="calc.py")
    assert "error" not in first and "error" not in second
    assert "3 times in a row" in third["error"] and "different approach" in third["recovery_suggestion"]
    assert runtime.state.history[-1].error_type == "loop_detected"
    assert "error" not in tools["read_file"](path="README.md")  # a different call is fine
    assert "error" not in tools["read_file"](path="calc.py")  # and the count starts again


def test_history_records_every_call(buggy_repo, tools_for):
    runtime, tools = tools_for(buggy_repo)
    tools["list_files"]()
    tools["read_file"](path="nope.py")
    kinds = [(r.tool, r.outcome) for r in runtime.state.history]
    assert kinds == [("list_files", "ok"), ("read_file", "error")]
    assert all(r.duration_ms >= 0 for r in runtime.state.history)


def test_unexpected_exceptions_become_messages(buggy_repo, tools_for, monkeypatch):
    runtime, tools = tools_for(buggy_repo)
    tool = tools["list_files"]
    monkeypatch.setattr(type(tool), "run", lambda self, **kw: 1 / 0)
    result = tool()
    assert "failed unexpectedly: ZeroDivisionError" in result["error"]
    assert runtime.state.history[-1].error_type == "ZeroDivisionError"


def test_keyboard_interrupt_is_not_swallowed(buggy_repo, tools_for, monkeypatch):
    _, tools = tools_for(buggy_repo)
    tool = tools["list_files"]

    def interrupt(self, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(tool), "run", interrupt)
    with pytest.raises(KeyboardInterrupt):
        tool()


def test_every_call_emits_one_tool_span_with_its_attributes(buggy_repo, tools_for):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    runtime, tools = tools_for(buggy_repo, approval="never", telemetry=Telemetry(provider))
    tools["read_file"](path="calc.py")
    tools["run_cmd"](command="sudo ls")
    tools["run_cmd"](command="rm calc.py")
    tools["run_cmd"](command="ls")
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["read_file: calc.py", "run_cmd: sudo ls", "run_cmd: rm calc.py", "run_cmd: ls"]
    read, denied, refused, ran = (dict(s.attributes) for s in spans)
    assert read["openinference.span.kind"] == "TOOL" and read["tool.name"] == "read_file"
    assert json.loads(read["input.value"]) == {"path": "calc.py", "start_line": None, "end_line": None}
    assert "def add" in read["output.value"] and read["approval.outcome"] == "not_required"
    assert denied["policy.decision"] == "deny" and denied["policy.rule"] == "privilege"
    assert denied["error.type"] == "refused"
    assert refused["policy.decision"] == "ask" and refused["approval.outcome"] == "denied"
    assert refused["approval.source"] == "config"
    assert ran["policy.decision"] == "allow" and ran["sandbox"] == "bwrap" and ran["output.truncated"] is False


def test_a_tool_span_says_how_long_it_waited_at_the_approval_prompt(buggy_repo):
    import time

    from agent_runtime.config import load_settings
    from agent_runtime.safety.approval import Approver
    from agent_runtime.tools import build_tools
    from agent_runtime.tools.runtime import Runtime

    def slow_person(tool, action, decision):
        time.sleep(0.3)  # reading the command, then answering
        return ("y" if "touch" in (action.command or "") else "n"), None

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    approver = Approver("ask", interactive=True, prompt=slow_person)
    runtime = Runtime.create(load_settings({}), buggy_repo, approver, telemetry=Telemetry(provider))
    tools = {t.name: t for t in build_tools(runtime)}
    tools["run_cmd"](command="touch made.txt")
    tools["run_cmd"](command="rm calc.py")
    tools["read_file"](path="calc.py")
    approver.mode = "auto"
    tools["run_cmd"](command="touch other.txt")
    spans = exporter.get_finished_spans()
    calls = [s for s in spans if s.attributes.get("openinference.span.kind") == "TOOL"]
    approved, refused, read, auto = (dict(s.attributes) for s in calls)
    # Each prompt shown is a span of its own under its call, as long as the wait (telemetry/spans.py).
    waits = [s for s in spans if s.name == "approval.wait"]
    assert [w.parent.span_id for w in waits] == [c.context.span_id for c in calls[:2]]
    for wait, call in zip(waits, (approved, refused)):
        assert wait.attributes["approval.wait_ms"] == call["approval.wait_ms"]
        assert abs((wait.end_time - wait.start_time) / 1e6 - wait.attributes["approval.wait_ms"]) < 1
    for span in (approved, refused):
        assert 300 <= span["approval.wait_ms"] <= span["tool.duration_ms"], span
    assert approved["approval.outcome"] == "approved" and refused["approval.outcome"] == "denied"
    assert "approval.wait_ms" not in read, "no approval gate, no wait"
    assert auto["approval.source"] == "config" and auto["approval.wait_ms"] == 0
    assert approver.waited_s * 1000 == pytest.approx(approved["approval.wait_ms"] + refused["approval.wait_ms"],
                                                     abs=1), "the same figure the terminal leaves out"


def test_a_tool_call_goes_through_its_runtime(buggy_repo, tools_for, monkeypatch):
    """The runtime owns the path: `forward` hands the call to `Runtime.invoke` (the one wrapper)."""
    from agent_runtime.tools.runtime import Runtime

    runtime, tools = tools_for(buggy_repo)
    seen = []
    real = Runtime.invoke

    def invoke(self, tool, args, kwargs):
        seen.append((self, tool.name, args, kwargs))
        return real(self, tool, args, kwargs)

    monkeypatch.setattr(Runtime, "invoke", invoke)
    result = tools["read_file"](path="calc.py")
    assert seen == [(runtime, "read_file", (), {"path": "calc.py"})]
    assert "def add" in result["content"] and runtime.state.history[-1].tool == "read_file"
