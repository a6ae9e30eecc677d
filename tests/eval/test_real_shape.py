"""A task in the shape of a real repository, end to end through `agent-runtime eval` with the
replay model: several files and a module of several hundred lines, the failing test named, its
cause one method deep. The first message shows the failing test and the code it runs by name
(not whole files); the reply writes only the lines it changes under the method's heading
(`### path::Class.method`, SEARCH/REPLACE), or, as a model without a grammar may, the whole
method; either is put in place with every other byte of the module kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git, make_repo, run_cli, write_replay

# A ledger library: 12 modules of filler, and `ledger/book.py` of several hundred lines whose
# `Book.balance` forgets the opening balance.
FILLER = "\n\n".join(f"def rule_{i}(entry):\n    \"\"\"Rule {i}.\"\"\"\n    return entry.amount * {i} > 0" for i in range(60))
BOOK = '''"""The book of accounts."""

from ledger.entry import Entry
from ledger.rules import rule_1


class Book:
    def __init__(self, opening=0):
        self.opening = opening
        self.entries = []

    def add(self, amount, memo=""):
        entry = Entry(amount, memo)
        if rule_1(entry) or amount < 0:
            self.entries.append(entry)
        return entry

    def balance(self):
        total = 0
        for entry in self.entries:
            total += entry.amount
        return total

''' + "\n\n".join(f"    def report_{i}(self):\n        return [e.memo for e in self.entries][:{i}]" for i in range(90)) + "\n"
FILES = {
    "ledger/__init__.py": "from ledger.book import Book\n",
    "ledger/entry.py": "class Entry:\n    def __init__(self, amount, memo):\n        self.amount = amount\n"
                       "        self.memo = memo\n",
    "ledger/rules.py": FILLER + "\n",
    "ledger/book.py": BOOK,
    **{f"ledger/extra_{i}.py": f"def helper_{i}():\n    return {i}\n" for i in range(12)},
    "tests/__init__.py": "",
    "tests/test_book.py": "from ledger import Book\n\n\ndef test_add():\n    book = Book()\n    book.add(5)\n"
                          "    assert len(book.entries) == 1\n",
}
TEST_PATCH = """\
diff --git a/tests/test_book.py b/tests/test_book.py
--- a/tests/test_book.py
+++ b/tests/test_book.py
@@ -5,3 +5,9 @@ def test_add():
     book = Book()
     book.add(5)
     assert len(book.entries) == 1
+
+
+def test_balance_starts_at_the_opening():
+    book = Book(opening=100)
+    book.add(5)
+    assert book.balance() == 105
"""
FIXED = "def balance(self):\n    total = self.opening\n    for entry in self.entries:\n        total += entry.amount\n    return total\n"
WHOLE = ("Book.balance starts from 0 instead of the opening balance.\n\n"
         f"### ledger/book.py::Book.balance\n```python\n{FIXED}```\n")
CHANGES = ("Book.balance starts from 0 instead of the opening balance.\n\n"
           "### ledger/book.py::Book.balance\n```python\n<<<<<<< SEARCH\n        total = 0\n=======\n"
           "        total = self.opening\n>>>>>>> REPLACE\n```\n")


@pytest.mark.parametrize("reply", [CHANGES, WHOLE], ids=["changes", "whole-method"])
def test_a_real_repository_shaped_task_is_solved_through_the_symbol_edit_form(tmp_path, isolated_state, reply):
    snapshot = make_repo(tmp_path / "snapshot", FILES)
    base = git(snapshot, "rev-parse", "HEAD").strip()
    instance = {"instance_id": "ledger-opening-balance", "repo": str(snapshot), "base_commit": base,
                "problem_statement": "tests/test_book.py::test_balance_starts_at_the_opening fails: a book opened "
                                     "with 100 has a balance of 5 after adding 5. Fix the library code; do not "
                                     "change the tests.",
                "test_patch": TEST_PATCH, "tests_visible": True,
                "FAIL_TO_PASS": ["tests/test_book.py::test_balance_starts_at_the_opening"],
                "PASS_TO_PASS": ["tests/test_book.py::test_add"]}
    suite = tmp_path / "instances.jsonl"
    suite.write_text(json.dumps(instance) + "\n")
    replay = write_replay(tmp_path / "replay.json", [reply])
    out = tmp_path / "results.jsonl"
    done = run_cli("eval", str(suite), "--model", f"replay:{replay}", "--out", str(out), "--keep",
                   cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    (result,) = map(json.loads, out.read_text().splitlines())
    assert result["solved"] is True and result["status"] == "answered" and result["steps"] == 1, result
    assert (result["diff_added"], result["diff_removed"]) == (1, 1), "one line of a 400-line module changed"
    repo = Path(result["repo"])
    book = (repo / "ledger/book.py").read_text()
    assert book == BOOK.replace("        total = 0\n", "        total = self.opening\n")

    # What the model was shown: the failing test and the code it runs, by name; not whole files.
    first = _first_request(isolated_state, result["run_id"])
    assert "### tests/test_book.py::test_balance_starts_at_the_opening" in first
    assert "### ledger/book.py::Book.balance\n```python\n    def balance(self):" in first
    assert "def report_40" not in first and "def rule_30" not in first, "not the whole module, nor the filler"
    assert "-m pytest -q --tb=short tests/test_book.py::test_balance_starts_at_the_opening" in first
    assert "write only the lines you change: the heading line exactly as shown above" in first


def _first_request(state: Path, run_id: str) -> str:
    """The text of the run's first model request, from its trace (the LLM span's input)."""
    from agent_runtime.telemetry.records import load_spans

    (run,) = state.rglob(run_id)
    llm = [s for s in load_spans(run) if s.get("kind") == "LLM"]
    assert llm, "the trace has the model call"
    text = "\n".join(str(v) for v in llm[0].get("attributes", {}).values())
    return text.replace("\\n", "\n")  # the input's messages are JSON in the span
