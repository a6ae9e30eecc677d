"""benchmarks/oracle_plan.py: the planner's reply naming the reference fix's functions is a plan the
agent reads as such (agent/planner.read_plan), and a suite that cannot be read is a clear error."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from oracle_plan import oracle_reply  # noqa: E402

from agent_runtime.agent.planner import Candidate, PlanRequest, read_plan  # noqa: E402


def test_the_reply_names_the_fixed_functions_and_the_agent_reads_it_as_its_plan():
    raw = {"fixed_symbols": ["pkg/core.py::Parser.parse", "pkg/util.py::escape", "pkg/items.py::item#last",
                             "pkg/a.py::f", "pkg/b.py::g"]}
    reply = oracle_reply(raw)
    assert json.loads(reply) == {"problem": "", "targets": ["pkg/core.py::Parser.parse", "pkg/util.py::escape",
                                                            "pkg/a.py::f"]}
    request = PlanRequest("t", "out", [Candidate(k, f"def {k}()") for k in
                                       ("pkg/core.py::Parser.parse", "pkg/util.py::escape", "pkg/a.py::f")])
    plan = read_plan(reply, request)
    assert plan.targets == ["pkg/core.py::Parser.parse", "pkg/util.py::escape", "pkg/a.py::f"]
    assert plan.note is None
    assert oracle_reply({"fixed_symbols": ["pkg/items.py::item#last"]}) is None  # module lines: no function to name


def test_a_missing_suite_or_unknown_task_is_a_clear_error(tmp_path):
    script = [sys.executable, str(ROOT / "benchmarks" / "oracle_plan.py")]
    missing = subprocess.run([*script, str(tmp_path / "none.jsonl")], capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    suite = tmp_path / "s.jsonl"
    suite.write_text(json.dumps({"instance_id": "a", "fixed_symbols": ["x.py::f"]}) + "\n")
    unknown = subprocess.run([*script, str(suite), "--only", "b"], capture_output=True, text=True, timeout=120)
    assert unknown.returncode != 0 and "not in the suite: ['b']" in unknown.stderr
