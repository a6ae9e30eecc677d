"""benchmarks/core_shape.py reads a tree's source alone: the repair loop's concepts (its own
classes and the classes it names, type-checking imports included), its callables, the session's
size and function-level imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "core_shape.py"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def shape(root) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_concepts_are_the_loops_classes_and_the_classes_it_names(tmp_path):
    agent = tmp_path / "agent_runtime" / "agent"
    write(agent / "edits.py", "class EditRequest:\n    pass\n\ndef helper():\n    pass\n")
    write(tmp_path / "agent_runtime" / "core.py", "from agent_runtime.records import CallRecord\n")
    write(tmp_path / "agent_runtime" / "records.py", "class CallRecord:\n    pass\n")
    write(agent / "attempts.py", """\
        from typing import TYPE_CHECKING, Callable
        from agent_runtime.agent.edits import EditRequest, helper
        if TYPE_CHECKING:
            from smolagents.memory import ActionStep
            from agent_runtime.core import CallRecord

        class Loop:
            undo: Callable[[str], dict]
            count: int = 0
        """)
    write(agent / "session.py", "def run():\n    import json\n    from os import path\n")
    report = shape(tmp_path)
    loop = report["repair_loop"]
    assert loop["concept_names"] == ["Loop", "EditRequest (agent_runtime.agent.edits)", "CallRecord (agent_runtime.core)",
                                     "ActionStep (smolagents.memory)"]
    assert loop["concepts"] == 4 and loop["callables_taken"] == ["undo"] and loop["lines"] == 9
    assert report["fix_path"] == {"modules": ["attempts.py", "session.py", "edits.py"], "concepts": 4,
                                  "concept_names": ["ActionStep", "CallRecord", "EditRequest", "Loop"]}
    assert report["session"] == {"file": "agent_runtime/agent/session.py", "lines": 3, "function_level_imports": 2}
    assert report["agent_lines"]["modules"] == {"attempts.py": 9, "edits.py": 5, "session.py": 3}


def test_a_tree_without_a_repair_loop_is_a_clear_error(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "no agent_runtime/agent/repair.py or agent_runtime/agent/attempts.py under" \
        in done.stderr
    assert "Traceback" not in done.stderr
