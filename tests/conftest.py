"""Shared fixtures: temporary git repositories, a runtime, and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, files: dict[str, str | bytes], commit: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    if commit and files:
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
    return path


# Run from a script's background job (`bash .ci/run &`), the suite inherits SIGINT ignored, and so
# would every process a test starts: the tests of Ctrl-C would then test nothing but that. A
# terminal's Ctrl-C is what they are about, so the suite starts from it. (The products' own
# answers to an ignored SIGINT, in the REPL and the eval, have tests that set it up on purpose.)
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


BUGGY_PROJECT = {
    "calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "test_calc.py": "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
    "README.md": "# calc\n\nA tiny calculator.\n",
    ".gitignore": "build/\n",
}


# The user's real home and cache, read before any test changes $HOME. The cache stays shared: it holds
# the embedded model's weights (assembled once, checked by sha256) and uv's wheels, nothing a test reads back.
REAL_HOME = Path.home()
REAL_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or REAL_HOME / ".cache")


@pytest.fixture(scope="session")
def homes() -> Path:
    """Where each test's $HOME is made: under the real home, not /tmp, because the sandbox hides /tmp and
    the tests of what a command sees of $HOME need one it shows (a checkout under /tmp included)."""
    import shutil
    import tempfile

    # short: unix socket paths under it fit 108 bytes. In the agent's own sandbox (its run_cmd runs these
    # tests) the home is read-only: /tmp then.
    base = Path(tempfile.mkdtemp(prefix=".art-homes-", dir=REAL_HOME if os.access(REAL_HOME, os.W_OK) else None))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_state(request, tmp_path_factory, monkeypatch, homes):
    """Each test has its own $HOME, state, config and data folders: nothing of the developer's own
    configuration, saved approvals or earlier runs reaches it, wherever the checkout lives. Tests that
    run pytest inside the sandbox do not load this venv's plugins (Phoenix's is slow)."""
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="h-", dir=homes))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(REAL_CACHE))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    # The user's own config (config.env, saved approvals, hooks) is never the developer's real one.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    for name in ("MODEL_ID", "MODEL_API_BASE", "APPROVAL_MODE", "PHOENIX_ENABLED", "RUNS_DIR", "POLICY_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield state
    # `make test` runs the tests marked `model` alone, after the rest: beside them, llama.cpp's two threads
    # starve the timing-sensitive tests of the other worker. One that starts a server unmarked is an error.
    if request.node.get_closest_marker("model") is None and any((state / "agent-runtime" / "logs").glob("llama-*.log")):
        pytest.fail("this test started a real model server (llama.cpp): mark it @pytest.mark.model", pytrace=False)


@pytest.fixture
def buggy_repo(tmp_path) -> Path:
    return make_repo(tmp_path / "project", BUGGY_PROJECT)


@pytest.fixture
def hostile(tmp_path):
    """A repository whose every git program writes a marker if it runs, nested repositories,
    planted secrets (tests/hostile_repo.py)."""
    from hostile_repo import make_hostile_repo

    return make_hostile_repo(tmp_path)


@pytest.fixture
def make_runtime():
    from agent_runtime.config import load_settings
    from agent_runtime.safety.approval import Approver
    from agent_runtime.tools.runtime import Runtime

    def factory(repo: Path, approval: str = "auto", env: dict[str, str] | None = None, **kwargs):
        settings = load_settings(env or {})
        return Runtime.create(settings, repo, Approver(approval, interactive=False), **kwargs)

    return factory


@pytest.fixture
def tools_for(make_runtime):
    from agent_runtime.tools import build_tools

    def factory(repo: Path, approval: str = "auto", **kwargs):
        runtime = make_runtime(repo, approval, **kwargs)
        return runtime, {tool.name: tool for tool in build_tools(runtime)}

    return factory


@pytest.fixture
def loopback_listener():
    """A TCP port listening on 127.0.0.1 and the connections it accepted: what a sandboxed
    program with no network must never reach."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list = []

    def accept():
        try:
            accepted.append(listener.accept())
        except OSError:  # closed at the test's end with nothing accepted: the usual outcome
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1], accepted
    listener.close()


def plant_user_config(root: Path, name: str, text: str, env_extra: str = "") -> None:
    """A repository posing as the user's configuration: `name` at its top, in .agent-runtime/, and in a
    folder its .env points XDG_CONFIG_HOME at (env_extra: more .env lines). None of it may count."""
    (root / name).write_text(text)
    (root / ".agent-runtime").mkdir()
    (root / ".agent-runtime" / name).write_text(text)
    (root / "cfg" / "agent-runtime").mkdir(parents=True)
    (root / "cfg" / "agent-runtime" / name).write_text(text)
    (root / ".env").write_text(f"XDG_CONFIG_HOME={root / 'cfg'}\n{env_extra}")


def not_a_small_file(kind: str, path: Path) -> Path:
    """A user's configuration file that must be refused, not read: a FIFO (a read would block), a
    directory, a device (/dev/zero never ends), or 100 MB."""
    import os

    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "device":
        return Path("/dev/zero")
    else:
        with open(path, "wb") as handle:
            handle.truncate(100_000_000)  # sparse
    return path


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300,
            input: str | None = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([str(VENV_BIN / "agent-runtime"), *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, input=input)


def write_replay(path: Path, replies: list[str]) -> Path:
    path.write_text(json.dumps(replies))
    return path


def json_lines(text: str) -> list[dict]:
    """Output of one JSON object per line (`--json` events, `runs --json`): every line must parse."""
    return [json.loads(line) for line in text.splitlines()]


def flat(text: str) -> str:
    """Terminal output without box drawing and line wrapping, for substring checks."""
    import re

    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text))


def runs_in_order(runs_dir: Path) -> list[Path]:
    """Run directories in the order the runs started (the product's own order)."""
    from agent_runtime.telemetry.records import run_order

    return sorted(Path(runs_dir).iterdir(), key=run_order)


def step(thought: str, code: str) -> str:
    return f"Thought: {thought}\n<code>\n{code}\n</code>"


# `make test-fast` leaves out what is slow by nature: tests that start llama.cpp, Phoenix or Ray
# (marked `slow` where they are written), drive a program on a pseudo-terminal (`pty`), or draw
# thousands of random cases (`fuzz`). The last two are recognised from the test's own code.
PTY_MARKERS = ("Terminal(", "repl(", "pty.")
FUZZ_MARKERS = ("Grammar(", "random_history(", "random.Random(", "@given")


def pytest_collection_modifyitems(config, items):
    import inspect

    for item in items:
        function = getattr(item, "function", None)
        try:
            source = inspect.getsource(function) if function is not None else ""
        except (OSError, TypeError):
            source = ""
        if any(marker in source for marker in PTY_MARKERS):
            item.add_marker(pytest.mark.pty)
        if any(marker in source for marker in FUZZ_MARKERS):
            item.add_marker(pytest.mark.fuzz)
        if "phoenix" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


# `make test` hands its workers whole files (--dist loadfile), so a file's module-wide servers start once;
# the files that read spans from the one Phoenix (below) go to one worker together, which starts it once.
PHOENIX_FILES = {"test_tracing.py", "test_phoenix_ui.py", "test_phoenix_review.py"}


@pytest.hookimpl(optionalhook=True)  # a pytest without xdist (the sandbox's, a rerun's) has no such hook
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ByFile(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "phoenix" if path.rsplit("/", 1)[-1] in PHOENIX_FILES else path

    return ByFile(config, log)


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory):
    """One Phoenix for the tests that read spans from it, each under a project of its own: it takes
    most of a minute to start on two cores."""
    import time

    from agent_runtime.procs import free_port
    from agent_runtime.telemetry.phoenix import PhoenixServer

    started = time.monotonic()
    server = PhoenixServer(free_port(), working_dir=tmp_path_factory.mktemp("phoenix"))
    server.start()
    try:
        server.wait_healthy()
        server.start_s = round(time.monotonic() - started, 1)
        yield server
    finally:
        server.stop()

# The MCP client tests' fixture (a user's mcp.toml naming the SDK test server): tests/mcp_helpers.py.
from mcp_helpers import mcp_tools  # noqa: E402, F401


def processes(marker: str, within: Path | None = None, same_home: bool = False) -> list[int]:
    """This user's processes whose command line holds `marker` (whose working directory is inside `within`;
    started with this test's own $HOME): the suite runs on two workers and reruns some files as another user
    at the same time, so a check for what a test left running looks at that test's own processes only."""
    home = f"HOME={os.environ['HOME']}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or entry.stat().st_uid != os.geteuid():
                continue
            if marker.encode() not in (entry / "cmdline").read_bytes():
                continue
            if within is not None and not Path(os.readlink(entry / "cwd")).is_relative_to(within):
                continue
            if same_home and home not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            found.append(int(entry.name))
        except OSError:
            pass
    return found
