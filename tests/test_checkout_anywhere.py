"""The suite passes wherever the project is cloned: a copy of this checkout under /tmp, in a folder
whose name has spaces and non-ASCII characters, runs the MCP tests (their servers are scripts of the
checkout, started in the sandbox, which hides /tmp) and the tests of what the sandbox shows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT

FROM_THE_COPY = [
    "tests/tools/test_mcp_client.py",
    "tests/cli/test_tools_mcp.py",
    "tests/tools/test_mcp_sandbox.py",
]


def _copy_checkout(target: Path) -> None:
    """The files git knows of here (tracked and untracked, not ignored): what a fresh clone holds, with
    the changes not yet committed."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.slow
def test_the_mcp_tests_pass_from_a_checkout_under_tmp_with_spaces_in_its_path(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="agent runtime ✓ é ", dir="/tmp"))
    try:
        _copy_checkout(base)
        env = {**os.environ, "PYTHONPATH": str(base)}
        env.pop("PYTEST_ADDOPTS", None)
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *FROM_THE_COPY],
                              cwd=base, env=env, capture_output=True, text=True, timeout=1500)
        tail = done.stdout[-3000:] + done.stderr[-2000:]
        assert done.returncode == 0, tail
        assert " passed" in done.stdout and " failed" not in done.stdout, tail
        # The copy's own code was under test, not this checkout's.
        probe = subprocess.run([sys.executable, "-c", "import agent_runtime; print(agent_runtime.__file__)"],
                               cwd=base, env=env, capture_output=True, text=True, check=True)
        assert probe.stdout.strip().startswith(str(base)), probe.stdout
    finally:
        shutil.rmtree(base, ignore_errors=True)
