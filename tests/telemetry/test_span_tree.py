"""One span per thing that happened (issue 42): the spans are made by hand, OpenInference's smolagents
instrumentor is not a dependency (docs/architecture.md, "Spans: no instrumentor", says what it
would double or lose, measured in Phoenix).

The run file (trace.jsonl) is written by the same tracer provider that sends Phoenix its spans
(telemetry/exporters.py Tracing), so the tree read here is the tree Phoenix shows.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tomllib
from collections import Counter

from conftest import BUGGY_PROJECT, ROOT, make_repo, step, write_replay
from rich.console import Console

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.records import load_spans

CALC = BUGGY_PROJECT["calc.py"]
INSTRUMENTOR = "openinference-instrumentation-smolagents"
# The distribution each openinference package the runtime may import comes from: each must be pinned
# in pyproject.toml itself, not reached through arize-phoenix's dependencies.
DISTRIBUTIONS = {"openinference.instrumentation": "openinference-instrumentation",
                 "openinference.semconv": "openinference-semantic-conventions"}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=~!\[; ]", r, maxsplit=1)[0].strip().lower() for r in requirements}


def _openinference_imports() -> dict[str, set[str]]:
    """module path -> the openinference modules it imports (anywhere in the file)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "agent_runtime").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name.split(".")[0] == "openinference":
                    found.setdefault(str(path.relative_to(ROOT)), set()).add(name)
    return found


def test_the_smolagents_instrumentor_is_neither_imported_nor_pinned_and_what_is_imported_is_pinned():
    imports = _openinference_imports()
    used = {name for names in imports.values() for name in names}
    assert used, "telemetry/spans.py uses openinference's session helpers: the walk found no import"
    assert not [m for m in used if m.startswith("openinference.instrumentation.smolagents")], imports
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = _requirement_names(dependencies)
    assert INSTRUMENTOR not in pinned
    for module in used:
        distribution = next((d for prefix, d in DISTRIBUTIONS.items() if module.startswith(prefix)), None)
        assert distribution is not None, f"{module}: which distribution? (add it to DISTRIBUTIONS)"
        assert distribution in pinned, f"{module} is imported, {distribution} is not in pyproject.toml"
    for lock in ("requirements.lock", "requirements-dev.lock"):
        packages = {line.split("==")[0] for line in (ROOT / lock).read_text().splitlines() if "==" in line}
        assert INSTRUMENTOR not in packages, f"{lock} still pins {INSTRUMENTOR}: run `make lock`"
        assert all(d in packages for d in pinned & set(DISTRIBUTIONS.values())), lock


def _run(tmp_path, task: str, replies: list[str]):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", replies)
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs")})
    with Session(settings, repo, Approver("auto", interactive=False),
                 Display(console=Console(file=io.StringIO()), out=io.StringIO())) as session:
        result = session.run(task)
        calls = session.model.calls
        spans = load_spans(session.last_run.dir)
    return result, calls, spans


def _check_tree(spans: list[dict], steps: int, model_calls: int) -> dict[str, list[dict]]:
    """The invariants of every run's tree: one AGENT (the root), a CHAIN `step N` per step under it,
    one LLM span per model request and each TOOL span under a step or the root. Returns the spans
    by kind."""
    by_id = {s["span_id"]: s for s in spans}
    assert len(by_id) == len(spans)
    kinds: dict[str, list[dict]] = {}
    for span in spans:
        kinds.setdefault(span["attributes"].get("openinference.span.kind"), []).append(span)
    assert set(kinds) == {"AGENT", "CHAIN", "LLM", "TOOL"}, Counter(s["attributes"].get("openinference.span.kind")
                                                                    for s in spans)
    agents = kinds["AGENT"]
    assert len(agents) == 1, [s["name"] for s in agents]  # no second AGENT for smolagents' run
    root = agents[0]
    assert root["parent_id"] is None and root["name"].startswith("task: ")
    assert [s["span_id"] for s in spans if s["parent_id"] is None] == [root["span_id"]]
    chains = kinds["CHAIN"]
    assert sorted(s["name"] for s in chains) == sorted(f"step {n}" for n in range(1, steps + 1))
    assert all(s["parent_id"] == root["span_id"] and s["attributes"]["agent.step"] >= 1 for s in chains)
    step_ids = {s["span_id"] for s in chains}
    llm = kinds["LLM"]
    assert len(llm) == model_calls, "one LLM span per request the model answered, never two"
    for span in llm:
        attributes = span["attributes"]
        assert span["parent_id"] in step_ids, span["name"]
        assert attributes["llm.role"] == "coder" and "llm.input_messages.0.message.content" in attributes
        assert attributes["llm.output_messages.0.message.content"] and "llm.token_count.total" in attributes
    for span in kinds["TOOL"]:
        attributes = span["attributes"]
        assert span["parent_id"] in step_ids | {root["span_id"]}, span["name"]
        assert attributes["policy.decision"] and attributes["approval.outcome"], span["name"]
        assert "sandbox" in json.loads(attributes["metadata"]), span["name"]
    return kinds


def test_a_codeagent_run_has_one_span_per_step_request_and_tool_call(tmp_path):
    replies = [step("Look around.", 'print(list_files(pattern="*.py"))\nprint(read_file(path="calc.py"))'),
               step("Clean up.", 'print(run_cmd(command="rm -rf .git"))'),
               step("Fix it.", 'p = propose_patch(path="calc.py", old="return a - b", new="return a + b")\n'
                               'print(apply_patch(patch_id=p["patch_id"]))'),
               step("Check.", "print(run_tests())"),
               step("Done.", 'final_answer("add adds now")')]
    # Not put as a question (a question's tools only read): the run needs a command and a patch.
    result, calls, spans = _run(tmp_path, "look over calc.py, then say what it does", replies)
    assert result.steps == 5 and calls == 5, (result, calls)
    kinds = _check_tree(spans, steps=5, model_calls=5)
    tools = {s["name"]: s["attributes"] for s in kinds["TOOL"]}
    assert sorted(tools) == sorted(["list_files: *.py", "read_file: calc.py", "run_cmd: rm -rf .git",
                                    "propose_patch: calc.py", "apply_patch p1", "run_tests"])
    assert tools["run_cmd: rm -rf .git"]["policy.decision"] == "deny"
    assert tools["apply_patch p1"]["approval.outcome"] == "approved"
    assert tools["run_tests"]["sandbox"] == "bwrap"


def test_a_repair_run_has_one_span_per_attempt_request_and_tool_call(tmp_path):
    """The repair loop runs no CodeAgent: its attempts are the same `step N` spans, made by the same code."""
    edit = "{}\n\n### calc.py\n```python\n{}```\n".format
    replies = [edit("add must multiply.", CALC.replace("a - b", "a * b")),
               edit("add must add.", CALC.replace("a - b", "a + b"))]
    result, calls, spans = _run(tmp_path, "Fix the failing test.", replies)
    assert result.status == "answered" and result.steps == 2 and calls == 2, (result, calls)
    kinds = _check_tree(spans, steps=2, model_calls=2)
    under = Counter(s["parent_id"] for s in kinds["TOOL"])
    steps = {s["name"]: s["span_id"] for s in kinds["CHAIN"]}
    assert under[steps["step 1"]] == 4 and under[steps["step 2"]] == 3  # propose, apply, test (, undo)
