"""The OS sandbox, tested as an attacker would use it: the policy is not in front of these
commands, so every refusal here comes from bubblewrap or the limits."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import make_repo

from agent_runtime.safety.sandbox import Limits, Sandbox

DENY_READ = (".env*", "**/.ssh/**", "*.pem", "*id_rsa*", "**/.aws/**", "**/.netrc")


@pytest.fixture
def workspace(tmp_path) -> Path:
    repo = make_repo(tmp_path / "ws", {"app.py": "x = 1\n"})
    (repo / ".env").write_text("TOKEN=hunter2\n")
    (repo / "deploy.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (repo / "build").mkdir()
    return repo


@pytest.fixture
def sandbox(workspace) -> Sandbox:
    box = Sandbox(workspace, hidden_globs=DENY_READ)
    assert box.kind == "bwrap", "bubblewrap must work on this machine (make installs it)"
    return box


def test_the_workspace_is_writable_and_outside_is_not(sandbox, workspace, tmp_path):
    outside = tmp_path / "outside.txt"
    result = sandbox.run(f"echo ok > build/out.txt && echo pwned > {outside}; echo x > /etc/agent-test", timeout=30)
    assert (workspace / "build" / "out.txt").read_text() == "ok\n"
    assert not outside.exists() and not Path("/etc/agent-test").exists()
    assert "Read-only file system" in result.stderr
    home_file = Path.home() / "agent-runtime-sandbox-test"
    sandbox.run(f"touch {home_file}", timeout=30)
    assert not home_file.exists()


def test_git_directory_is_read_only(sandbox, workspace):
    head = (workspace / ".git" / "HEAD").read_text()
    result = sandbox.run("echo 'ref: refs/heads/evil' > .git/HEAD; rm -rf .git/objects", timeout=30)
    assert result.exit_code != 0
    assert (workspace / ".git" / "HEAD").read_text() == head and (workspace / ".git" / "objects").exists()


def test_hidden_files_cannot_be_read(sandbox, workspace):
    result = sandbox.run("cat .env; cat deploy.pem; grep -r hunter2 . ; echo done", timeout=30)
    assert "hunter2" not in result.stdout + result.stderr
    assert "PRIVATE KEY" not in result.stdout
    assert "done" in result.stdout


def test_secrets_in_home_are_hidden(workspace, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("SSH PRIVATE KEY\n")
    (home / ".netrc").write_text("machine x password hunter3\n")
    monkeypatch.setenv("HOME", str(home))
    box = Sandbox(workspace, hidden_globs=DENY_READ)
    result = box.run(f"cat {home}/.ssh/id_rsa; ls {home}/.ssh; cat {home}/.netrc", timeout=30)
    assert "SSH PRIVATE KEY" not in result.stdout and "id_rsa" not in result.stdout
    assert "hunter3" not in result.stdout


def test_no_network_not_even_loopback(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    probe = f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"
    result = sandbox.run(probe, timeout=30)
    assert "connected" not in result.stdout and result.exit_code != 0
    time.sleep(0.2)
    assert accepted == []
    # A policy that allows the network lets the same command through: the test can tell.
    open_box = Sandbox(sandbox.root, hidden_globs=DENY_READ, allow_network=True)
    result = open_box.run(probe, timeout=30)
    assert "connected" in result.stdout
    server.close()


def test_tmp_is_private(sandbox):
    marker = f"/tmp/agent-runtime-private-{os.getpid()}"
    result = sandbox.run(f"echo secret > {marker} && cat {marker}", timeout=30)
    assert result.stdout == "secret\n" and not Path(marker).exists()


def test_tools_installed_under_tmp_stay_visible_and_read_only(sandbox, monkeypatch):
    """A checkout or venv in /tmp (CI does this) must not vanish behind the private /tmp."""
    import tempfile

    bin_dir = Path(tempfile.mkdtemp(prefix="agent-runtime-bin-", dir="/tmp"))
    other = bin_dir.parent / (bin_dir.name + "-not-on-path")
    other.mkdir()
    try:
        tool = bin_dir / "hello-from-tmp"
        tool.write_text("#!/bin/sh\necho hello\n")
        tool.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        result = sandbox.run(f"hello-from-tmp; touch {bin_dir}/new; ls {other}", timeout=30)
        assert result.stdout.startswith("hello\n")
        assert not (bin_dir / "new").exists(), "what is re-shown from /tmp is read-only"
        assert result.exit_code != 0, "the rest of /tmp stays private"
    finally:
        shutil.rmtree(bin_dir)
        other.rmdir()


def test_credentials_are_scrubbed_from_the_environment(sandbox, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-value-123")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_abc")
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    result = sandbox.run("env", timeout=30)
    assert "sk-test-value-123" not in result.stdout and "ghp_abc" not in result.stdout
    assert "HARMLESS_SETTING=visible" in result.stdout and "AGENT_RUNTIME_SANDBOX=bwrap" in result.stdout


def test_timeout_kills_the_whole_process_group(sandbox, workspace):
    started = time.monotonic()
    result = sandbox.run("(sleep 3; echo late > build/late.txt) & sleep 30", timeout=1.5)
    assert result.timed_out and time.monotonic() - started < 10
    time.sleep(4)
    assert not (workspace / "build" / "late.txt").exists(), "the background child died with the group"


def test_leftover_background_process_does_not_hold_the_call(sandbox):
    started = time.monotonic()
    result = sandbox.run("sleep 60 & echo started", timeout=60)
    assert result.stdout == "started\n" and time.monotonic() - started < 10


def test_output_is_capped(sandbox):
    result = sandbox.run("head -c 3000000 /dev/zero | tr '\\0' 'x'; echo END", timeout=60)
    assert result.output_dropped_bytes > 2_000_000
    assert "bytes of output dropped" in result.stdout and result.stdout.rstrip().endswith("END")


def test_limits_on_file_size_memory_and_cpu(workspace):
    box = Sandbox(workspace, limits=Limits(cpu_seconds=2, memory_bytes=512 << 20, file_bytes=1 << 20))
    big = box.run("head -c 5000000 /dev/zero > build/big.bin", timeout=30)
    assert big.exit_code != 0 and (workspace / "build" / "big.bin").stat().st_size <= 1 << 20
    memory = box.run(f"{sys.executable} -c 'x = bytearray(2 << 30)'", timeout=60)
    assert memory.exit_code != 0 and "MemoryError" in memory.stderr
    started = time.monotonic()
    cpu = box.run("while true; do :; done", timeout=60)
    assert cpu.exit_code != 0 and not cpu.timed_out and time.monotonic() - started < 30


def test_sandboxed_commands_die_with_the_agent(workspace, tmp_path):
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from agent_runtime.safety.sandbox import Sandbox\n"
        "Sandbox(%r).run('echo $$ > %s; sleep 120', timeout=300)\n"
    ) % (str(Path(__file__).parents[2]), str(workspace), "build/pid")
    parent = subprocess.Popen([sys.executable, "-c", script])
    pid_file = workspace / "build" / "pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid_file.exists()
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", "sleep 120"], capture_output=True).returncode == 0
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", "sleep 120"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the sandboxed command outlived the agent"
        time.sleep(0.2)


def test_without_bubblewrap_limits_still_apply_and_it_says_so(workspace, caplog):
    box = Sandbox(workspace, use_bwrap=False)
    with caplog.at_level(logging.WARNING):
        first = box.run("echo hi", timeout=10)
        second = box.run("sleep 30", timeout=1)
    assert first.sandbox == "none" and first.stdout == "hi\n"
    assert second.timed_out
    warnings = [r for r in caplog.records if "bubblewrap" in r.getMessage()]
    assert len(warnings) == 1, "warn once, not on every command"


def test_run_cmd_reports_the_sandbox(workspace, tools_for):
    _, tools = tools_for(workspace, use_bwrap=False)
    assert tools["run_cmd"](command="echo hi")["sandbox"] == "none"
