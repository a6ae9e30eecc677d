"""The repository map: files and their definitions with signatures, what the task mentions first,
within a budget, tests last."""

from __future__ import annotations

from agent_runtime.code.index import RepoIndex
from agent_runtime.code.repomap import rank_files, render_map

FILES = {
    "pkg/__init__.py": "from pkg.core import Engine\n",
    "pkg/core.py": "from pkg.util import clamp\n\n\nclass Engine:\n    def start(self, speed=1):\n        return clamp(speed)\n\n"
                   "    def _warm(self):\n        pass\n\n    def stop(self):\n        return 0\n\n\ndef _private():\n    pass\n",
    "pkg/util.py": "def clamp(value, low=0, high=10):\n    return max(low, min(high, value))\n",
    "pkg/report.py": "from pkg.util import clamp\n\n\ndef render(rows):\n    return [clamp(r) for r in rows]\n",
    "tests/test_core.py": "from pkg import Engine\n\n\ndef test_start():\n    assert Engine().start() == 1\n",
}


def make(tmp_path):
    for rel, text in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return RepoIndex(tmp_path, list(FILES))


def test_files_the_task_mentions_by_name_come_first_and_tests_last(tmp_path):
    ranked = [path for path, _, _ in rank_files(make(tmp_path), "Make Engine.stop wait for the engine to cool down")]
    assert ranked[0] == "pkg/core.py", "it defines Engine, which the task names"
    assert ranked.index("pkg/util.py") < ranked.index("pkg/report.py"), "imported by more files"
    assert ranked[-1] == "tests/test_core.py"


def test_the_map_shows_signatures_and_opens_the_classes_the_task_names(tmp_path):
    text = render_map(make(tmp_path), "Engine.stop should return the last speed")
    assert text.startswith("pkg/core.py:\n  class Engine\n      def start(self, speed=1)\n      def stop(self)\n")
    assert "_warm" not in text and "_private" not in text, "private helpers only when named"
    assert "pkg/util.py:\n  def clamp(value, low=0, high=10)" in text


def test_the_map_keeps_to_its_budget_whole_files_at_a_time(tmp_path):
    text = render_map(make(tmp_path), "clamp", budget=60)
    assert text.startswith("pkg/util.py:") and "pkg/core.py" not in text
    assert len(text) <= 60
