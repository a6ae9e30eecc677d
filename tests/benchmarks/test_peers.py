"""Aider and mini-swe-agent as eval attempts (benchmarks/peers.py): the command lines and config
files given to them (the reply cap, the server's address, no files named, the auto-test
command), read back by the peers' own code where their virtualenvs exist; their output and
trajectories parsed from samples captured in real runs (tests/data/peers/); the timeout that
kills a peer's whole process group; and one real Aider run on the embedded 0.5B model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import peers  # noqa: E402

from agent_runtime.eval.runner import EvalOptions, run_suite, supervise  # noqa: E402
from agent_runtime.eval.suite import Task  # noqa: E402

DATA = ROOT / "tests" / "data" / "peers"
ENDPOINT = peers.Endpoint("openai/embedded", "http://127.0.0.1:43210/v1", "sk-local", 777, 16384)
TASK = Task(id="fix-add", prompt="tests/test_calc.py fails; fix calc.py",
            files={"calc.py": "def add(a, b):\n    return a - b\n",
                   "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"},
            check="python -m pytest -q -p no:cacheprovider tests/test_calc.py", timeout_s=120,
            protected=("tests/test_calc.py",))


def venv_python(peer: peers.Peer) -> Path:
    """The peer's interpreter, its virtualenv made first if missing (as the benchmark does: about
    20 s from the package index with a cold cache, a few seconds from uv's cache)."""
    return peers.ensure_venv(peer).parent / "python"


def in_venv(peer: peers.Peer, code: str, *args: str) -> dict:
    done = subprocess.run([str(venv_python(peer)), "-c", code, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "MSWEA_SILENT_STARTUP": "1",
                               "MSWEA_CONFIGURED": "true"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- Aider: its command line and files -----------------------------------------------------------

def aider_setup(tmp_path: Path, endpoint: peers.Endpoint = ENDPOINT, task: Task = TASK):
    scratch = tmp_path / "aider"
    scratch.mkdir()
    files = peers.aider_files(endpoint, scratch)
    return files, peers.aider_argv(Path("/venv/bin/aider"), endpoint, task, files, scratch)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_aider_is_capped_pointed_at_the_server_and_names_no_file(tmp_path):
    files, argv = aider_setup(tmp_path)
    settings = json.loads(Path(option(argv, "--model-settings-file")).read_text())
    # aider/extra_params adds to whatever aider picks for the model (its edit format stays its own)
    assert settings == [{"name": "aider/extra_params", "extra_params": {"max_tokens": 777}}]
    metadata = json.loads(Path(option(argv, "--model-metadata-file")).read_text())
    assert metadata["openai/embedded"]["max_input_tokens"] == 16384
    assert metadata["openai/embedded"]["max_output_tokens"] == 777
    assert option(argv, "--model") == "openai/embedded"
    assert option(argv, "--message") == TASK.prompt
    assert "--auto-test" in argv and option(argv, "--test-cmd") == TASK.check
    assert "--yes-always" in argv and "--no-auto-commits" in argv and "--no-analytics" in argv
    assert "--edit-format" not in argv and "--map-tokens" not in argv  # aider's own choices
    # no file named: no --file/--read, and no argument is a path of the task (its repo map finds them)
    assert "--file" not in argv and "--read" not in argv
    assert not set(argv) & set(TASK.files)
    env = peers.peer_env(tmp_path / "aider", {"OPENAI_API_BASE": ENDPOINT.api_base})
    assert env["OPENAI_API_BASE"] == "http://127.0.0.1:43210/v1"
    assert env["HOME"] == str(tmp_path / "aider" / "home") and "PYTHONPATH" not in env
    # `python` in its test command is the runner's Python (with pytest), as for the check
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "bin")
    python = tmp_path / "bin" / "python"
    ran = subprocess.run([str(python), "-c", "import sys; print(sys.executable)"], capture_output=True, text=True)
    assert ran.stdout.strip() == sys.executable, ran


def test_aider_for_another_provider_takes_the_address_in_its_settings(tmp_path):
    endpoint = peers.Endpoint("ollama_chat/qwen2.5-coder:7b", "http://127.0.0.1:11434", None, 512, 8192)
    files, argv = aider_setup(tmp_path, endpoint)
    settings = json.loads(files["settings"].read_text())
    assert settings[0]["extra_params"] == {"max_tokens": 512, "api_base": "http://127.0.0.1:11434"}
    (tmp_path / "hosted").mkdir()
    files, argv = aider_setup(tmp_path / "hosted", peers.Endpoint("anthropic/claude-x", None, None, 512))
    assert "--model-metadata-file" not in argv  # a hosted model: aider's own metadata, its own address
    assert json.loads(files["settings"].read_text())[0]["extra_params"] == {"max_tokens": 512}


def test_an_instance_gives_aider_its_test_command_not_its_description(tmp_path):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Instance(Task):  # the shape of a SWE-bench-style instance: `check` only describes the judged tests
        test_cmd: str = "python -m pytest -x"

    instance = Instance(id="i", prompt="p", files={}, check="python -m pytest <2 FAIL_TO_PASS tests>")
    files, argv = aider_setup(tmp_path, task=instance)
    assert option(argv, "--test-cmd") == "python -m pytest -x"


@pytest.mark.slow  # makes the virtualenv if missing; imports LiteLLM there
def test_aider_itself_accepts_the_command_line_and_reads_the_cap(tmp_path):
    """Every option exists in aider 0.86.2's parser; its Model takes max_tokens from our settings
    and the window from our metadata, and keeps its own edit format for the model."""
    files, argv = aider_setup(tmp_path)
    code = """
import json, sys
from aider.args import get_parser
from aider import models
args = get_parser([], None).parse_args(sys.argv[1:])
models.register_models([args.model_settings_file])
models.register_litellm_models([args.model_metadata_file])
model = models.Model(args.model)
print(json.dumps({"extra_params": model.extra_params, "edit_format": model.edit_format, "test_cmd": args.test_cmd,
                  "auto_test": args.auto_test, "files": args.files, "message": args.message, "yes": args.yes_always,
                  "window": model.info.get("max_input_tokens"), "auto_commits": args.auto_commits, "stream": args.stream}))
"""
    seen = in_venv(peers.AIDER, code, *argv[1:])
    assert seen["extra_params"] == {"max_tokens": 777}
    assert seen["edit_format"] == "whole"  # aider's choice for a model it does not know
    assert seen["test_cmd"] == TASK.check and seen["auto_test"] is True and seen["yes"] is True
    assert seen["files"] == [] and seen["message"] == TASK.prompt
    assert seen["window"] == 16384 and seen["auto_commits"] is False and seen["stream"] is False


# --- Aider: what it printed ----------------------------------------------------------------------

def test_aider_output_from_a_real_run_is_parsed():
    """aider 0.86.2 on basket-add-renamed with the embedded 0.5B model, stopped during its third
    model call: two replies (its analytics log has the server's counts), each a whole-file listing
    of the prompt's example path applied, each followed by the failing check fed back."""
    facts = peers.parse_aider((DATA / "aider-killed.analytics.jsonl").read_text(), (DATA / "aider-killed.out").read_text())
    assert facts["steps"] == 2
    assert facts["tokens_in"] == 1196 + 3158 and facts["tokens_out"] == 190 + 47
    assert facts["edit_format"] == "whole"
    assert facts["edits_applied"] == 2 and facts["files_edited"] == ["path/to/filename.js"]
    assert facts["failed_test_runs"] == 2 and facts["reflection_limit"] is False
    assert facts["exit_reason"] is None  # killed: no exit event
    # the log cut mid-line by a kill, and nothing at all
    log = (DATA / "aider-killed.analytics.jsonl").read_text()
    assert peers.parse_aider(log[:log.rindex('"total_cost"')], "")["steps"] == 1
    assert peers.parse_aider("", "")["steps"] == 0


def test_aider_status():
    done = {"exit_reason": "Completed --message", "reflection_limit": False}
    assert peers._aider_status(done, 0, False) == "answered"
    assert peers._aider_status({**done, "reflection_limit": True}, 0, False) == "reflection_limit"
    assert peers._aider_status(done, None, True) == "timeout"
    assert peers._aider_status({**done, "exit_reason": None}, 1, False) == "crashed"
    assert peers._aider_status({**done, "exit_reason": "Invalid lint command format"}, 0, False) == "stopped"


# --- mini-swe-agent ------------------------------------------------------------------------------

def test_mini_is_capped_pointed_at_the_server_yolo_and_limited(tmp_path):
    config = peers.mini_config(ENDPOINT, step_limit=9, timeout=120)
    assert config["model"]["model_kwargs"] == {"max_tokens": 777, "api_base": "http://127.0.0.1:43210/v1",
                                               "api_key": "sk-local"}
    assert config["model"]["cost_tracking"] == "ignore_errors"
    assert config["agent"] == {"step_limit": 9, "wall_time_limit_seconds": 120}
    venv = tmp_path / "venv"
    builtin = venv / "lib" / "python3.11" / "site-packages" / "minisweagent" / "config" / "mini_textbased.yaml"
    builtin.parent.mkdir(parents=True)
    builtin.write_text("agent: {}\n")
    argv = peers.mini_argv(venv / "bin" / "mini", ENDPOINT, TASK, tmp_path / "c.yaml", tmp_path / "t.json")
    assert option(argv, "--model-class") == "litellm_textbased"  # the bash-block format, no tool calls
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--config"] == [str(builtin), str(tmp_path / "c.yaml")]
    assert "--yolo" in argv and "--exit-immediately" in argv and option(argv, "--task") == TASK.prompt
    assert option(argv, "--output") == str(tmp_path / "t.json")


@pytest.mark.slow
def test_mini_itself_builds_the_agent_we_meant(tmp_path):
    """mini 2.4.6's own CLI config merging: the text-based model with our cap and address, an
    agent in yolo mode that does not ask before exiting, our step limit and time."""
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(peers.mini_config(ENDPOINT, step_limit=9, timeout=120)))
    argv = peers.mini_argv(venv_python(peers.MINI).parent / "mini", ENDPOINT, TASK, config, tmp_path / "t.json")
    code = """
import json, sys
import minisweagent.run.mini as mini
from minisweagent.agents.interactive import InteractiveAgent
seen = {}
def run(self, task):
    seen.update(task=task, agent=self.config.model_dump(mode="json"), model=self.model.config.model_dump(mode="json"),
                model_type=type(self.model).__name__, agent_type=type(self).__name__, cwd=self.env.config.cwd)
InteractiveAgent.run = run
try:
    mini.app(sys.argv[1:], standalone_mode=False)
finally:
    print(json.dumps(seen))
"""
    seen = in_venv(peers.MINI, code, *argv[1:])
    assert seen["model_type"] == "LitellmTextbasedModel" and seen["agent_type"] == "InteractiveAgent"
    assert seen["model"]["model_name"] == "openai/embedded"
    assert seen["model"]["model_kwargs"]["max_tokens"] == 777
    assert seen["model"]["model_kwargs"]["api_base"] == "http://127.0.0.1:43210/v1"
    assert seen["model"]["cost_tracking"] == "ignore_errors"
    assert seen["agent"]["mode"] == "yolo" and seen["agent"]["confirm_exit"] is False
    assert seen["agent"]["step_limit"] == 9 and seen["agent"]["wall_time_limit_seconds"] == 120
    assert seen["agent"]["output_path"] == str(tmp_path / "t.json")
    assert "mswea_bash_command" in seen["agent"]["system_template"]  # mini_textbased.yaml's prompt
    assert seen["task"] == TASK.prompt


def test_a_mini_trajectory_from_a_real_run_is_parsed():
    """mini 2.4.6 on page-count-exact-multiple with the embedded 0.5B model, Ctrl-C during its
    second call: its first reply had four bash blocks (a format error, with the server's counts
    saved), and the interrupt ended in its prompt for input reading the closed stdin."""
    trajectory = json.loads((DATA / "mini-interrupted.trajectory.json").read_text())
    facts = peers.parse_mini(trajectory)
    assert facts["steps"] == 1 and facts["api_calls"] == 2  # the second call was cut short
    assert facts["parse_failures"] == 1 and facts["commands"] == 0
    assert facts["tokens_in"] == 730 and facts["tokens_out"] == 231
    assert facts["exit_status"] == "EOFError" and facts["status"] == "error: EOFError"
    trajectory["info"]["exit_status"] = "LimitsExceeded"
    assert peers.parse_mini(trajectory)["status"] == "step_limit"
    assert peers.parse_mini({})["status"] == "unknown" and peers.parse_mini({})["steps"] == 0


# --- the timeout -------------------------------------------------------------------------------

def test_a_peer_past_its_timeout_is_killed_with_everything_it_started(tmp_path):
    """supervise(), which runs both peers: stdin closed, the whole process group gone at the timeout."""
    script = tmp_path / "peer.sh"
    script.write_text("read -t 1 line && echo \"stdin had: $line\"\nsleep 300 &\necho $! > child.pid\n"
                      "echo started\ntrap '' INT TERM\nwait\n")
    lines: list[str] = []
    started = time.monotonic()
    done = supervise(["bash", str(script)], tmp_path, dict(os.environ), 3, lines.append)
    assert done.timed_out and time.monotonic() - started < 30
    assert lines == ["started\n"]  # stdin was closed: nothing to read
    assert gone(int((tmp_path / "child.pid").read_text()))



@pytest.fixture
def hung_server():
    """A model server that takes the request and never answers (an abandoned generation elsewhere)."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    listener.close()


@pytest.mark.slow
@pytest.mark.parametrize("system", ["aider", "mini_swe_agent"])
def test_a_peer_waiting_on_the_model_at_its_timeout_is_stopped_and_counted(tmp_path, hung_server, system):
    endpoint = peers.Endpoint("openai/embedded", hung_server, None, 64, 4096)
    attempt = peers.aider_attempt(endpoint) if system == "aider" else peers.mini_attempt(endpoint, step_limit=3)
    out = tmp_path / "results.jsonl"
    started = time.monotonic()
    (result,) = run_suite([TASK], attempt, EvalOptions(timeout_s=45, keep=True), out, system=system)
    assert result["status"] == "timeout" and result["solved"] is False
    assert time.monotonic() - started < 45 + 60  # the kill (Ctrl-C, then SIGTERM, then SIGKILL) and the check
    scratch = str(Path(result["repo"]).parent)
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and scratch in command_line(int(pid))]
    assert left == [] or all(gone(int(pid)) for pid in left)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""

def gone(pid: int, wait_s: float = 10) -> bool:
    """Ended (a zombie waiting for its new parent counts as ended)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


# --- for real: Aider and mini on the embedded 0.5B model ---------------------------------------

@pytest.fixture(scope="module")
def small_server():
    from agent_runtime.config import load_settings
    from agent_runtime.models.embedded import EmbeddedServer, resolve_embedded

    choice = resolve_embedded(load_settings({}), "0.5b")
    server = EmbeddedServer(choice.gguf, 4096, choice.chat_format)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


REAL_TIMEOUT_S = 420  # a minute or two on a quiet machine; a reply can take minutes on a busy one


def run_peer(tmp_path: Path, attempt) -> dict:
    out = tmp_path / "results.jsonl"
    (result,) = run_suite([TASK], attempt, EvalOptions(timeout_s=REAL_TIMEOUT_S, keep=True), out, system="peer")
    assert json.loads(out.read_text())["id"] == "fix-add"  # recorded as the runner records every system
    return result


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.timeout(REAL_TIMEOUT_S + 480)  # and the model server's start, the peer's own start, the check
def test_aider_for_real_on_the_embedded_model(tmp_path, small_server):
    """One tiny task: aider starts, asks the model (every reply within the cap), applies what it
    wrote, runs the task's check itself (--auto-test), and the runner judges the tree it left."""
    endpoint = peers.Endpoint("openai/embedded", small_server.api_base, None, 256, 4096)
    result = run_peer(tmp_path, peers.aider_attempt(endpoint))
    # On a machine busy with other models a reply can take minutes: the timeout may end it, but
    # only after it has had replies (4 at most: its first, then 3 reflections).
    assert result["status"] in ("answered", "reflection_limit", "timeout"), result
    assert 1 <= result["steps"] <= 4, result
    if result["status"] != "timeout":
        assert result["exit_code"] == 0 and result["exit_reason"] == "Completed --message"
    assert result["tokens_in"] > 200 and 0 < result["tokens_out"] <= 256 * result["steps"]
    assert result["edit_format"] == "whole"
    scratch = Path(result["repo"]).parent / "aider"
    output = (scratch / "aider.out").read_text()
    assert "Repo-map: using" in output  # its repo map, no files named
    if result["edits_applied"]:  # aider ran the task's check after its edit (--auto-test): pytest's summary
        assert result["files_edited"] and re.search(r"^\d+ (passed|failed)", output, re.M)
    assert result["solved"] == (result["check_exit_code"] == 0)
    assert not list(Path(result["repo"]).glob(".aider*"))  # its repo-map cache is not part of its answer


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.timeout(REAL_TIMEOUT_S + 480)
def test_mini_for_real_on_the_embedded_model(tmp_path, small_server):
    endpoint = peers.Endpoint("openai/embedded", small_server.api_base, None, 256, 4096)
    result = run_peer(tmp_path, peers.mini_attempt(endpoint, step_limit=3))
    assert result["status"] in ("answered", "step_limit", "format_errors", "timeout"), result  # see above
    assert 1 <= result["steps"] <= 3, result
    if result["status"] != "timeout":
        assert result["exit_code"] == 0
    assert result["tokens_in"] > 200 and 0 < result["tokens_out"] <= 256 * result["steps"]
    trajectory = json.loads((Path(result["repo"]).parent / "mini" / "trajectory.json").read_text())
    assert trajectory["info"]["config"]["model"]["model_kwargs"]["max_tokens"] == 256


# --- the virtualenvs -----------------------------------------------------------------------------

@pytest.mark.slow  # three virtualenvs made (seconds each from uv's cache)
def test_a_peer_venv_is_made_once_and_remade_when_half_made_or_its_lock_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(peers, "LOCKS", tmp_path / "locks")
    (tmp_path / "locks").mkdir()
    lock = tmp_path / "locks" / "wheel.lock"
    lock.write_text("wheel==0.45.1\n")
    peer = peers.Peer("wheel", "0.45.1", "wheel")
    said: list[str] = []
    executable = peers.ensure_venv(peer, said.append)
    assert executable == tmp_path / "cache" / "agent-runtime" / "peers" / "wheel-0.45.1" / "bin" / "wheel"
    assert executable.is_file() and said[0].startswith("Making the wheel 0.45.1 virtualenv in ")
    python = executable.parent / "python"
    version = subprocess.run([str(python), "-c", "import sys, wheel; print(sys.version_info[:2], wheel.__version__)"],
                             capture_output=True, text=True).stdout
    assert version.strip() == "(3, 11) 0.45.1"  # Python 3.11, the pinned version
    said.clear()
    assert peers.ensure_venv(peer, said.append) == executable and said == []  # made: used as it is
    (executable.parent.parent / peers.READY).unlink()  # a creation that was killed half-way
    peers.ensure_venv(peer, said.append)
    assert len(said) == 2 and said[1].startswith("Made the wheel virtualenv in ")
    said.clear()
    lock.write_text("wheel==0.45.1\n# a new pin\n")
    peers.ensure_venv(peer, said.append)
    assert said and said[0].startswith("Making")


def test_a_lock_that_cannot_install_is_one_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(peers, "LOCKS", tmp_path)
    (tmp_path / "broken.lock").write_text("broken=====1\n")
    with pytest.raises(peers.PeerError, match=r"^could not make the broken virtualenv \(uv pip: .+\)$"):
        peers.ensure_venv(peers.Peer("broken", "1", "broken"), lambda message: None)
    assert not (tmp_path / "cache" / "agent-runtime" / "peers" / "broken-1").exists()
