"""function_retries (agent/pieces.py): in a repository shown whole, the fixes after the first are asked
for the functions they change, each written alone under `### path::name` and applied as a diff of its
file; the file whole is still a heading. Off, every fix is asked for whole files."""

from __future__ import annotations

import json

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli, write_replay

from agent_runtime.agent.edits import EDIT_ASK, EditRequest, EditTarget
from agent_runtime.agent.pieces import FUNCTIONS_ASK, by_function
from agent_runtime.telemetry.records import load_spans

CALC = BUGGY_PROJECT["calc.py"]
TASK = "Fix the failing test."
SHAPES = '''import os


class Box:
    def area(self):
        def inner():
            return 1
        return inner()

    @property
    def size(self):
        return 1

    @size.setter
    def size(self, value):
        pass


def helper():
    return os.sep
'''


def llm_spans(runs):
    run_dir = next(runs.iterdir())
    return [s["attributes"] for s in load_spans(run_dir) if s["attributes"].get("openinference.span.kind") == "LLM"]


def test_a_heading_for_each_function_and_method_then_each_file_whole():
    """Methods by their class, a nested function with the one that holds it, names two definitions share
    (a property and its setter) only in their file; a file that is not Python keeps its one heading."""
    request = EditRequest.of([EditTarget.file("shapes.py", SHAPES), EditTarget.file("notes.txt", "x\n")])
    asked = by_function(request)
    assert asked.paths == ("shapes.py::Box.area", "shapes.py::helper", "shapes.py", "notes.txt")
    assert asked.ask == FUNCTIONS_ASK and request.ask == EDIT_ASK and asked.form == "whole"
    assert asked.current("shapes.py::helper") == "def helper():\n    return os.sep"
    assert asked.current("shapes.py") == SHAPES
    pieces = EditRequest.of([EditTarget.of_symbol("shapes.py", "helper", "def helper():\n    return os.sep")])
    assert by_function(pieces) is pieces, "a request that already names pieces is left as it is"
    plain = EditRequest.of([EditTarget.file("notes.txt", "x\n")])
    assert by_function(plain) is plain, "no function: whole files, as before"


def test_a_file_written_whole_wins_over_its_functions_written_beside_it():
    asked = by_function(EditRequest.of([EditTarget.file("calc.py", CALC)]))
    whole = CALC.replace("a - b", "a + b")
    _, edits, _ = asked.read(f"Fix.\n\n### calc.py::add\n```python\ndef add(a, b):\n    return b\n```\n\n"
                             f"### calc.py\n```python\n{whole}```\n")
    assert [(e.heading, e.content) for e in edits] == [("calc.py", whole)]
    _, edits, unchanged = asked.read("Fix.\n\n### calc.py::mul\n```python\ndef mul(a, b):\n    return a * b\n```\n\n"
                                     "### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n")
    assert [e.heading for e in edits] == ["calc.py::add"] and unchanged == ["calc.py::mul"]


@pytest.mark.parametrize("rules", ["+function_retries", "+shot_first,+function_retries"])
def test_a_fix_after_a_failed_one_writes_one_function_and_the_rest_of_the_file_stays(tmp_path, rules):
    """The first fix fails (written whole) and is undone; the second request asks for functions, and its
    reply -- one function, indented as it likes -- changes that function alone, through one diff."""
    files = {**BUGGY_PROJECT, "calc.py": "# calculator\nimport math\n\n\n" + CALC + "\n\nPI = math.pi\n"}
    repo = make_repo(tmp_path / "p", files)
    first = files["calc.py"].replace("a - b", "a * b").replace("# calculator", "# calc")
    replies = [f"add is wrong.\n\n### calc.py\n```python\n{first}```\n",
               "add subtracts.\n\n### calc.py::add\n```python\n  def add(a, b):\n      return a + b\n```\n"]
    done = run_cli("--approval", "auto", "--model", f"replay:{write_replay(tmp_path / 'r.json', replies)}", "--json",
                   TASK, cwd=repo, timeout=600, env={"AGENT_COACHING": rules, "RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    assert (repo / "calc.py").read_text() == files["calc.py"].replace("a - b", "a + b"), "only add changed"
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert next(e["answer"] for e in events if e["type"] == "final_answer") == "The tests pass. add subtracts."
    asked = [a["llm.input_messages.0.message.content"] for a in llm_spans(tmp_path / "runs")]
    assert len(asked) == 2 and FUNCTIONS_ASK not in asked[0] and asked[1].endswith(FUNCTIONS_ASK)
    proposed = [e for e in events if e["type"] == "tool_call" and e.get("tool", "").startswith("propose")]
    assert [e["tool"] for e in proposed] == ["propose_file", "propose_patch_unified"], proposed


def test_the_same_change_written_as_a_function_after_its_file_failed_is_not_applied_again(tmp_path):
    """A change compares by what it does to the file: attempt 2 writing attempt 1's failed change as
    the function alone is a repeat, told so, and not tested again."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    wrong = "def add(a, b):\n    return a * b\n"
    replies = [f"add is wrong.\n\n### calc.py\n```python\n{CALC.replace('a - b', 'a * b')}```\n",
               f"add is wrong.\n\n### calc.py::add\n```python\n{wrong}```\n",
               "add adds.\n\n### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n"]
    done = run_cli("--approval", "auto", "--model", f"replay:{write_replay(tmp_path / 'r.json', replies)}", "--json",
                   TASK, cwd=repo, timeout=600,
                   env={"AGENT_COACHING": "+function_retries", "RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    tests = [e for e in events if e["type"] == "tool_call" and e.get("tool") == "run_tests"]
    assert len(tests) == 3, "the run before the first request, attempt 1's, attempt 3's: none for the repeat"
    assert "a + b" in (repo / "calc.py").read_text()
