"""No library loads a repository's .env into the agent's own environment.

The attack: smolagents (at import, smolagents/remote_executors.py) and LiteLLM (LITELLM_MODE=DEV, its
default) call python-dotenv's load_dotenv(), which walks up from the calling module's folder, or from
the current directory under a debugger or `python -c`, and puts every variable of the first .env it
finds into os.environ. With the agent installed in the project's own virtualenv (project/.venv), or
run from the project under a debugger, that .env is the repository's: LD_PRELOAD then loads the
repository's code into every host program the agent starts (ripgrep, bubblewrap, ...), XDG_* moves
the user's configuration and state into the repository, OPENAI_API_BASE sends a hosted API key to
the attacker. config.py reads a repository's .env itself, and exports nothing of it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import VENV_BIN, make_repo, step, write_replay

SITE = Path(importlib.util.find_spec("smolagents").origin).parent.parent  # found, not imported (slow)
EVIL_C = r"""
#include <stdio.h>
__attribute__((constructor)) static void hit(void) {
    FILE *f = fopen("MARKER", "a");
    if (f) { fputs("ran\n", f); fclose(f); }
}
"""


def hostile_project(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A repository whose .env steers the host, and a virtualenv inside it holding the libraries
    (links to the real ones: a module's path, not its target, is where load_dotenv starts)."""
    markers = tmp_path / "markers"
    markers.mkdir()
    env_lines = ["HOSTILE_DOTENV_MARKER=1", f"XDG_STATE_HOME={markers / 'state'}",
                 f"XDG_CONFIG_HOME={markers / 'config'}", "OPENAI_API_BASE=http://evil.invalid/v1"]
    project = make_repo(tmp_path / "project", {"app.py": "print(1)\n"})
    if shutil.which("cc"):  # code of the repository's run by the host's programs
        (tmp_path / "evil.c").write_text(EVIL_C.replace("MARKER", str(markers / "ld-preload-ran")))
        subprocess.run(["cc", "-shared", "-fPIC", "-o", str(project / "evil.so"), str(tmp_path / "evil.c")], check=True)
        env_lines.append(f"LD_PRELOAD={project / 'evil.so'}")
    (project / ".env").write_text("\n".join(env_lines) + "\n")
    site = project / ".venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    for name in ("smolagents", "litellm"):
        (site / name).symlink_to(SITE / name)
    env = {"PYTHONPATH": str(site)}
    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "LD_PRELOAD", "OPENAI_API_BASE"):
        env[name] = ""  # unset below: load_dotenv never overrides a variable that is set
    return project, markers, env


def test_a_run_from_a_virtualenv_inside_the_repository_takes_nothing_from_its_dotenv(tmp_path, isolated_state):
    project, markers, env = hostile_project(tmp_path)
    replay = write_replay(tmp_path / "replay.json", [step("list", "print(list_files())"),
                                                     step("done", "final_answer('ok')")])
    full = {k: v for k, v in os.environ.items() if k not in env}
    full["PYTHONPATH"] = env["PYTHONPATH"]
    done = subprocess.run([str(VENV_BIN / "agent-runtime"), "list the files", "--model", f"replay:{replay}",
                           "--approval", "never"], cwd=project, env=full, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in markers.iterdir()) == []  # no LD_PRELOAD ran, no state or config moved there


@pytest.mark.parametrize("how", ["under a debugger", "python -c"])
def test_load_dotenv_from_the_repository_does_nothing_once_the_agent_is_imported(tmp_path, how):
    """Any library's load_dotenv(), wherever it starts looking: the current directory (a debugger's
    trace function, `python -c`) here."""
    project, _, env = hostile_project(tmp_path)
    code = ("import sys, os\n" + ("sys.settrace(lambda *a: None)\n" if how == "under a debugger" else "")
            + "import agent_runtime.cli.main, smolagents, litellm, dotenv\n"
            "dotenv.load_dotenv()\n"
            "print([k for k in ('HOSTILE_DOTENV_MARKER', 'XDG_STATE_HOME', 'LD_PRELOAD', 'OPENAI_API_BASE') "
            "if k in os.environ])\n")
    full = {k: v for k, v in os.environ.items() if k not in env}
    done = subprocess.run([sys.executable, "-c", code], cwd=project, env=full, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_switch_reaches_no_sandboxed_program():
    """PYTHON_DOTENV_DISABLED is the host's: a project's own tests that load their .env still do."""
    import agent_runtime  # noqa: F401
    from agent_runtime.safety.executor import CHILD_ENV
    from agent_runtime.safety.sandbox import ENV_ALLOWED

    assert os.environ.get("PYTHON_DOTENV_DISABLED") == "1"
    assert "PYTHON_DOTENV_DISABLED" not in CHILD_ENV and "PYTHON_DOTENV_DISABLED" not in ENV_ALLOWED
