"""`python -m agent_runtime` (and `python -m agent_runtime.run`) run in the repository import none of it.

The attack: `python -m` puts the current directory first on sys.path, so a repository's `pydantic.py`,
`rich.py` or `yaml.py` was imported instead of the library, on the host, when the user started the
agent that way from the repository (docs/architecture.md lists both forms). The `agent-runtime`
script never had the directory on sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import make_repo, run_cli, step, write_replay

PLANTED = ("pydantic", "rich", "yaml", "smolagents", "litellm", "dotenv", "typing_extensions", "httpx", "tomllib")


@pytest.mark.parametrize("module", ["agent_runtime", "agent_runtime.run"])
def test_python_dash_m_in_the_repository_imports_nothing_of_it(tmp_path, module, isolated_state):
    markers = tmp_path / "markers"
    markers.mkdir()
    planted = {f"{name}.py": f"open({str(markers / name)!r}, 'w').close()\nraise ImportError('planted')\n"
               for name in PLANTED}
    repo = make_repo(tmp_path / "project", {"app.py": "x = 1\n", **planted})
    replay = write_replay(tmp_path / "replay.json", [step("list", "print(list_files())"),
                                                     step("done", "final_answer('ok')")])
    done = subprocess.run([sys.executable, "-m", module, "list the files", "--model", f"replay:{replay}",
                           "--approval", "never"], cwd=repo, capture_output=True, text=True, timeout=300)
    assert sorted(p.name for p in markers.iterdir()) == []
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_model_servers_module_run_in_the_repository_imports_nothing_of_it(tmp_path):
    """The embedded model's server is `python -m agent_runtime.models.llama_server`, started from the
    agent's current directory: the repository, with the default model. Its --help imports its modules."""
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = tmp_path / "project"
    repo.mkdir()
    for name in ("llama_cpp", "numpy", "pydantic", "uvicorn", "fastapi"):
        (repo / f"{name}.py").write_text(f"open({str(markers / name)!r}, 'w').close()\nraise ImportError('planted')\n")
    subprocess.run([sys.executable, "-m", "agent_runtime.models.llama_server", "--help"], cwd=repo,
                   capture_output=True, text=True, timeout=120)
    assert sorted(p.name for p in markers.iterdir()) == []


def test_every_python_the_host_starts_with_dash_m_leaves_out_the_current_directory(tmp_path, monkeypatch):
    """The embedded server, Phoenix (not our package: only -P keeps its imports its own), the eval's agent."""
    import agent_runtime.models.embedded as embedded
    import agent_runtime.telemetry.phoenix as phoenix

    started: list[list[str]] = []

    class Recorded:
        def __init__(self, argv, **_):
            started.append(list(argv))

    monkeypatch.setattr(embedded.subprocess, "Popen", Recorded)
    monkeypatch.setattr(phoenix, "port_in_use", lambda port: False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    embedded.EmbeddedServer(tmp_path / "m.gguf", 2048).start()
    phoenix.PhoenixServer(0, working_dir=tmp_path / "phoenix").start()
    assert len(started) == 2
    for argv in started:
        assert argv[0] == sys.executable and argv[1:3] == ["-P", "-m"], argv


PROGRAMS = ("bwrap", "rg", "git", "unshare", "prlimit", "rm", "python3")


def test_a_relative_path_entry_finds_none_of_the_repositorys_programs(tmp_path, isolated_state):
    """PATH with an empty entry (`PATH=:/usr/bin`, from `export PATH=$EXTRA:$PATH` with EXTRA unset) or `.`
    means the current directory, the repository: its `bwrap` ran on the host when the sandbox was probed."""
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = make_repo(tmp_path / "project", {"app.py": "x = 1\n"})
    for name in PROGRAMS:
        (repo / name).write_text(f"#!/bin/sh\ntouch {markers / name}\nexit 1\n")
        (repo / name).chmod(0o755)
    replay = write_replay(tmp_path / "replay.json", [step("list", "print(list_files())"),
                                                     step("search", "print(rg_search(pattern='x'))"),
                                                     step("done", "final_answer('ok')")])
    for path in (":" + os.environ["PATH"], ".:" + os.environ["PATH"]):
        done = run_cli("list the files", "--model", f"replay:{replay}", "--approval", "never", cwd=repo,
                       env={"PATH": path})
        assert sorted(p.name for p in markers.iterdir()) == [], done.stderr[-2000:]
        assert done.returncode == 0, done.stderr[-2000:]
