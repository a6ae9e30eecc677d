"""`make run`'s task: examples/first-task is a real bug (its tests fail), the fix a reader would
write makes them pass, and `make run` works on a scratch copy, never on the example itself."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "first-task"


def pytest_in(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:phoenix"],
                          cwd=repo, capture_output=True, text=True, timeout=120)


def test_the_first_task_fails_and_its_fix_passes(tmp_path):
    repo = shutil.copytree(EXAMPLE, tmp_path / "first-task")
    failing = pytest_in(repo)
    assert failing.returncode == 1 and "2 failed, 1 passed" in failing.stdout, failing.stdout
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text().replace("subtotal * discount_percent / 100", "subtotal * (1 - discount_percent / 100)"))
    fixed = pytest_in(repo)
    assert fixed.returncode == 0 and "3 passed" in fixed.stdout, fixed.stdout


def test_make_run_works_on_a_scratch_copy():
    recipe = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert re.search(r'mktemp -d .*cp -R examples/first-task/\. "\$repo"', recipe)
    assert '--repo "$repo" --approval auto' in recipe
    task = re.search(r'--max-steps 6 "([^"]+)"', recipe).group(1)
    assert task == "The tests fail. Fix the bug in the code, not the tests."
