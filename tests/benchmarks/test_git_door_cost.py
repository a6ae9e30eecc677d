"""benchmarks/git_door_cost.py: one git call through the door, timed for this checkout and another one."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

from agent_runtime.gitcmd import containment


def test_it_prints_the_figures_of_both_checkouts(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "git_door_cost.py"), "--rounds", "3",
                           "--files", "20", "--before", str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    for side in ("after", "before"):
        assert figures[side]["call"] > 0 and figures[side]["open_and_call"] > 0
        assert figures[side]["contained"] is (containment().bwrap is not None)
