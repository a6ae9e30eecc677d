"""The agent's own state is hidden from sandboxed code: a repository's conftest.py (run by
run_tests without asking), a workspace script (run_cmd) and the model's code cannot list or read
the run records of every project, the model server's logs (whole prompts), the undo journal,
REPL history, the user's configuration, traces and caches, wherever XDG_* and RUNS_DIR put them.

The state lives outside /tmp here on purpose: the sandbox's /tmp is private, so state under it
(as the suite's own is) would be hidden whatever the sandbox did about it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import VENV_BIN, make_repo

from agent_runtime.safety.sandbox import Sandbox

SECRET = "agent-state-secret-7f3a"
CONTROL = "probe-control-5e1d"  # in a file the sandbox shows (the workspace's own)
PROBE = """
import json, os, sys
places = json.load(open("places.json"))
found = {}
for name, path in places.items():
    seen = []
    try:
        seen += os.listdir(path) if os.path.isdir(path) else []
    except OSError as exc:
        seen.append("listdir: " + exc.__class__.__name__)
    for top, _, files in os.walk(path):
        for f in files:
            try:
                seen.append(open(os.path.join(top, f), errors="replace").read())
            except OSError as exc:
                seen.append("read: " + exc.__class__.__name__)
    if os.path.isfile(path):
        try:
            seen.append(open(path).read())
        except OSError as exc:
            seen.append("read: " + exc.__class__.__name__)
    found[name] = seen
json.dump(found, open("found.json", "w"))
"""


@pytest.fixture
def agent_state(monkeypatch) -> dict[str, Path]:
    """State, config, data and cache homes and a RUNS_DIR of their own, under $HOME (not /tmp),
    each holding a secret where the agent keeps that kind of file. The probe's control (a file the
    sandbox shows, so a test that reads nothing at all cannot pass) is in the workspace: the rest
    of $HOME is not there either (view.py)."""
    base = Path.home() / f".agent-runtime-state-test-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    files = {
        "runs": "state/agent-runtime/runs/20261126-abc/trace.jsonl",
        "server log": "state/agent-runtime/logs/llama-server-1.log",
        "undo journal": "state/agent-runtime/undo/journal.jsonl",
        "REPL history": "state/agent-runtime/history",
        "user config": "config/agent-runtime/config.env",
        "phoenix traces": "data/agent-runtime/phoenix/phoenix.db",
        "cache": "cache/agent-runtime/models/weights.marker",
        "RUNS_DIR": "elsewhere/runs/20261126-def/messages.jsonl",
    }
    for rel in files.values():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(f"{SECRET} {rel}\n")
    for name, sub in (("XDG_STATE_HOME", "state"), ("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                      ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(name, str(base / sub))
    monkeypatch.setenv("RUNS_DIR", str(base / "elsewhere" / "runs"))
    places = {name: base / rel.split("/agent-runtime/")[0] / "agent-runtime" if "/agent-runtime/" in rel
              else base / "elsewhere" / "runs" for name, rel in files.items()}
    places |= {f"{name} (file)": base / rel for name, rel in files.items()}
    yield places
    shutil.rmtree(base, ignore_errors=True)


def workspace_with_probe(root: Path, places: dict[str, Path]) -> Path:
    repo = make_repo(root, {"conftest.py": PROBE, "probe.py": PROBE, "test_ok.py": "def test_ok():\n    pass\n",
                            "visible.txt": f"{CONTROL}\n"})
    places = {**places, "control": repo / "visible.txt"}
    (repo / "places.json").write_text(json.dumps({k: str(v) for k, v in places.items()}))
    return repo


def assert_nothing_seen(found: dict[str, list[str]]) -> None:
    assert any(CONTROL in text for text in found.pop("control")), "the probe reads what the sandbox shows"
    leaked = {name: seen for name, seen in found.items() if any(SECRET in s or s.endswith((".log", ".jsonl", ".env"))
                                                               for s in seen)}
    assert leaked == {}, leaked
    listed = {name: seen for name, seen in found.items() if any(not s.startswith(("listdir:", "read:")) for s in seen)}
    assert listed == {}, listed


def test_a_conftest_run_by_run_tests_sees_none_of_the_agents_state(tmp_path, agent_state, tools_for):
    repo = workspace_with_probe(tmp_path / "project", agent_state)
    _, tools = tools_for(repo, "never", env={"RUNS_DIR": str(agent_state["RUNS_DIR"])})
    result = tools["run_tests"](command=f"{shlex.quote(str(VENV_BIN / 'python'))} -m pytest -q -p no:cacheprovider")
    assert result.get("passed") is True, result
    assert_nothing_seen(json.loads((repo / "found.json").read_text()))


def test_a_workspace_script_run_by_run_cmd_sees_none_of_it(tmp_path, agent_state, tools_for):
    repo = workspace_with_probe(tmp_path / "project", agent_state)
    _, tools = tools_for(repo, "never", env={"RUNS_DIR": str(agent_state["RUNS_DIR"])})
    result = tools["run_cmd"](command="python3 probe.py")
    assert result["exit_code"] == 0, result
    assert_nothing_seen(json.loads((repo / "found.json").read_text()))


def test_a_workspace_inside_the_state_directory_stays_usable_and_the_rest_hidden(tmp_path, agent_state):
    """A repository kept under ~/.local/state (an evaluation's clone, a user's odd layout): covering
    the state directory whole would hide the workspace; its other entries are covered instead."""
    state = agent_state["runs"]
    repo = workspace_with_probe(state / "clones" / "project", agent_state)
    result = Sandbox(repo).run("python3 probe.py && echo ok > written.txt && cat written.txt", timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
    found = json.loads((repo / "found.json").read_text())
    assert any(CONTROL in text for text in found.pop("control")), "the probe reads what the sandbox shows"
    assert not any(SECRET in text for seen in found.values() for text in seen), found
    assert not (repo / ".." / ".." / "runs" / "written.txt").exists()


def test_the_models_code_sees_none_of_it(agent_state):
    from agent_runtime.safety.executor import CHILD_ENV, sandbox_argv

    code = ("import json, os\nout = []\nfor p in json.loads(os.environ['PLACES']):\n"
            "    try:\n        out.append(open(p).read() if os.path.isfile(p) else str(os.listdir(p)))\n"
            "    except OSError as exc:\n        out.append(type(exc).__name__)\nprint(json.dumps(out))\n")
    places = [str(p) for name, p in agent_state.items() if name != "control"]
    argv = sandbox_argv(["-c", code])
    at = argv.index("--chdir")
    argv = argv[:at] + ["--setenv", "PLACES", json.dumps(places)] + argv[at:]
    done = subprocess.run(argv, capture_output=True, text=True, env=dict(CHILD_ENV), timeout=60)
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout and all(s in ("FileNotFoundError", "PermissionError", "[]")
                                             for s in json.loads(done.stdout)), done.stdout


def test_a_runs_dir_set_only_in_the_users_config_file_is_hidden_too(tmp_path, agent_state, monkeypatch):
    """A sandbox made without the settings (an MCP server's) still knows the runs directory."""
    monkeypatch.delenv("RUNS_DIR")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "agent-runtime" / "config.env"
    config.write_text(f"RUNS_DIR={agent_state['RUNS_DIR']}\n")
    repo = workspace_with_probe(tmp_path / "project", agent_state)
    result = Sandbox(repo).run("python3 probe.py", timeout=60)
    assert result.exit_code == 0, result.stderr
    found = json.loads((repo / "found.json").read_text())
    assert all(SECRET not in text for text in found["RUNS_DIR"] + found["RUNS_DIR (file)"]), found["RUNS_DIR"]
    assert any(CONTROL in text for text in found["control"])



def test_the_default_layout_runs_inside_the_state_folder_still_lets_commands_run(tmp_path, agent_state, tools_for,
                                                                                  monkeypatch):
    """RUNS_DIR unset: the run records live in the state folder (~/.local/state/agent-runtime/runs), a folder
    inside one already hidden. Covering both made bwrap fail on every command (`make run` found it)."""
    monkeypatch.delenv("RUNS_DIR")
    places = {k: v for k, v in agent_state.items() if not k.startswith("RUNS_DIR")}
    repo = workspace_with_probe(tmp_path / "project", places)
    _, tools = tools_for(repo, "never")
    result = tools["run_cmd"](command="python3 probe.py")
    assert result["exit_code"] == 0 and "bwrap" not in result["stderr"], result
    assert_nothing_seen(json.loads((repo / "found.json").read_text()))
