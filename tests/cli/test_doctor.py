"""`agent-runtime doctor` says whether the sandbox and search work, by trying each once the way the
tools do (cli/probes.py), and what to do when one does not."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_cli

from agent_runtime.cli import probes
from agent_runtime.safety.sandbox import CommandResult, Sandbox, isolation


def path_without(tmp_path: Path, *names: str, extra: dict[str, str] | None = None) -> str:
    """A PATH with every program of this one but `names`, and `extra` scripts of our own first."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = folder / entry.name
            if entry.name not in names and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.path)
    for name, text in (extra or {}).items():
        script = folder / name
        if script.is_symlink():
            script.unlink()
        script.write_text(text)
        script.chmod(0o755)
    return str(folder)


def lines_of(done) -> dict[str, str]:
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return {k: v.strip() for k, _, v in (line.partition(":") for line in done.stdout.splitlines())}


@pytest.mark.skipif(isolation().bwrap is None, reason="bubblewrap does not run here")
def test_doctor_says_the_sandbox_and_search_work(tmp_path):
    found = lines_of(run_cli("doctor", cwd=tmp_path))
    assert found["sandbox"].startswith("works (bwrap ") and "`echo` ran in it" in found["sandbox"]
    assert found["search"].startswith("works (ripgrep ")
    assert found["git door"].startswith("contained (the agent's git runs in bubblewrap")
    facts = json.loads(run_cli("doctor", "--json", cwd=tmp_path).stdout)
    assert facts["sandbox"]["works"] is True and facts["search"]["works"] is True
    assert facts["git_door"]["contained"] is True


def test_without_bwrap_or_rg_on_path_doctor_says_what_to_install(tmp_path):
    done = run_cli("doctor", cwd=tmp_path, env={"PATH": path_without(tmp_path, "bwrap", "rg")})
    found = lines_of(done)
    assert found["sandbox"].startswith("not available (") and "apt-get install bubblewrap" in found["sandbox"]
    assert "commands run without an OS sandbox" in found["sandbox"]
    assert found["search"].startswith("not available: ripgrep (rg) is not installed")
    assert "apt-get install ripgrep" in found["search"]
    assert found["git door"].startswith("on the host: bubblewrap (bwrap) is not installed")


def test_a_bwrap_that_cannot_run_is_not_called_working(tmp_path):
    broken = "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    found = lines_of(run_cli("doctor", cwd=tmp_path, env={"PATH": path_without(tmp_path, extra={"bwrap": broken})}))
    assert found["sandbox"].startswith("not available (bubblewrap is installed but cannot run here")
    assert "user namespaces" in found["sandbox"] and found["search"].startswith("works")
    assert found["git door"].startswith("on the host: ") and "No permissions" in found["git door"]


def test_a_sandbox_run_that_fails_says_failed_and_why(monkeypatch):
    if isolation().bwrap is None:
        pytest.skip("bubblewrap does not run here")

    def failing(self, command, timeout, cwd=None, stdin=None):
        return CommandResult(1, "", "bwrap: Can't mount proc on /newroot/proc\n", False, 0.1, "bwrap")

    monkeypatch.setattr(Sandbox, "run", failing)
    found = probes.sandbox_probe()
    assert found["works"] is False and found["detail"].startswith("FAILED: `echo` through bwrap")
    assert "Can't mount proc" in found["detail"] and "user namespaces" in found["detail"]
