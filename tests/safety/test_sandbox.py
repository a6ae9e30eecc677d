"""The OS sandbox, tested as an attacker would use it: the policy is not in front of these
commands, so every refusal here comes from bubblewrap or the limits."""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import git, make_repo

from agent_runtime.safety.sandbox import ENV_ALLOWED, Limits, Sandbox

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


def test_a_folder_shown_for_one_command_is_there_read_only_and_for_that_command_only(sandbox, tmp_path):
    """`show`: a folder of ours a command reads (a traced test run's pytest plugins), read-only, its secrets hidden."""
    ours = tmp_path / "plugins"
    ours.mkdir()
    (ours / "plugin.py").write_text("X = 1\n")
    (ours / ".env").write_text("TOKEN=secret\n")
    shown = sandbox.run(f"cat {ours}/plugin.py; cat {ours}/.env; touch {ours}/new", timeout=30, show=[ours])
    assert shown.stdout == "X = 1\n" and "secret" not in shown.stdout and not (ours / "new").exists()
    assert "Read-only file system" in shown.stderr or "Permission denied" in shown.stderr, shown.stderr
    unshown = sandbox.run(f"cat {ours}/plugin.py", timeout=30)
    assert unshown.exit_code != 0 and unshown.stdout == ""


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


def test_no_network_not_even_loopback(sandbox, loopback_listener):
    port, accepted = loopback_listener
    probe = f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"
    result = sandbox.run(probe, timeout=30)
    assert "connected" not in result.stdout and result.exit_code != 0
    time.sleep(0.2)
    assert accepted == []
    # A policy that allows the network lets the same command through: the test can tell.
    open_box = Sandbox(sandbox.root, hidden_globs=DENY_READ, allow_network=True)
    result = open_box.run(probe, timeout=30)
    assert "connected" in result.stdout


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


def test_the_environment_is_an_allow_list(sandbox, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-value-123")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_abc")
    monkeypatch.setenv("HARMLESS_SETTING", "not-passed")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:hunter4@db/x")  # a secret without a secret-looking name
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("CFLAGS", "-O2")
    monkeypatch.setenv("LC_AUTH_TOKEN", "tok-5")  # an allowed prefix, but a secret-looking name
    # /proc/1/environ: bwrap's own environment, seen from inside (it must be clean too)
    result = sandbox.run("printenv; echo ---; tr '\\0' '\\n' < /proc/1/environ", timeout=30)
    names = {line.split("=", 1)[0] for line in result.stdout.split("---")[0].splitlines() if "=" in line}
    assert names <= set(ENV_ALLOWED) | {"LC_ALL", "AGENT_RUNTIME_SANDBOX", "PWD", "TMPDIR", "PHOENIX_WORKING_DIR",
                                        "SHLVL", "_", "OLDPWD"}, names
    for value in ("sk-test-value-123", "ghp_abc", "not-passed", "hunter4", "tok-5"):
        assert value not in result.stdout
    assert {"LC_ALL", "CFLAGS", "PATH", "HOME", "AGENT_RUNTIME_SANDBOX"} <= names
    # The proxy is the way out: passed only when the policy gives commands the network.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert "proxy.internal" not in sandbox.run("printenv", timeout=30).stdout
    networked = Sandbox(sandbox.root, hidden_globs=DENY_READ, allow_network=True)
    assert "HTTPS_PROXY=http://proxy.internal:3128" in networked.run("printenv", timeout=30).stdout


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
    memory = box.run(f"{shlex.quote(sys.executable)} -c 'x = bytearray(2 << 30)'", timeout=60)
    assert memory.exit_code != 0 and "MemoryError" in memory.stderr
    started = time.monotonic()
    cpu = box.run("while true; do :; done", timeout=60)
    assert cpu.exit_code != 0 and not cpu.timed_out and time.monotonic() - started < 30


def test_sandboxed_commands_die_with_the_agent(workspace, tmp_path):
    # A sleep no other process runs (another checkout's suite, the other worker): pgrep finds this one only.
    sleep = f"sleep 120.{secrets.randbelow(10**6):06d}"
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from agent_runtime.safety.sandbox import Sandbox\n"
        "Sandbox(%r).run('echo $$ > %s; %s', timeout=300)\n"
    ) % (str(Path(__file__).parents[2]), str(workspace), "build/pid", sleep)
    parent = subprocess.Popen([sys.executable, "-c", script])
    pid_file = workspace / "build" / "pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid_file.exists()
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-u", str(os.geteuid()), "-f", sleep], capture_output=True).returncode == 0
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-u", str(os.geteuid()), "-f", sleep], capture_output=True).returncode == 0:
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


# --- no root powers: every reproduction from the "trust boundaries" issue, as root and as a user ---


def test_no_capabilities_and_no_new_user_namespaces(sandbox):
    result = sandbox.run("grep -E 'CapEff|CapBnd|CapPrm|NoNewPrivs' /proc/self/status; unshare -U true; echo rc=$?",
                         timeout=30)
    status = dict(line.split(":\t") for line in result.stdout.splitlines() if ":\t" in line)
    assert status["CapEff"] == status["CapBnd"] == status["CapPrm"] == "0000000000000000", result.stdout
    assert status["NoNewPrivs"] == "1"
    assert "rc=0" not in result.stdout, "a nested user namespace would give capabilities back"


def test_mount_attacks_fail(sandbox, workspace, tmp_path, monkeypatch):
    home = Path.home()
    bashrc = home / ".bashrc"
    before = bashrc.read_bytes() if bashrc.exists() else None
    host_marker = Path("/tmp") / f"agent-runtime-bind-{os.getpid()}"
    attack = (
        "mount -o remount,bind,rw .git && echo 'touch hooked' > .git/hooks/post-checkout; "
        "umount .env; cat .env; umount /proc; umount " + str(home / ".ssh") + "; "
        "mkdir -p build/root && mount --bind / build/root && "
        f"echo pwned > build/root{host_marker} ; echo pwned >> build/root{bashrc}; "
        "mount -t tmpfs none build; echo end"
    )
    result = sandbox.run(attack, timeout=30)
    assert "end" in result.stdout
    assert not (workspace / ".git" / "hooks" / "post-checkout").exists()
    assert "hunter2" not in result.stdout + result.stderr
    assert not host_marker.exists()
    assert (bashrc.read_bytes() if bashrc.exists() else None) == before
    assert result.stderr.count("permission denied") + result.stderr.count("must be superuser") >= 4, result.stderr


def test_host_sysctls_are_read_only(sandbox):
    result = sandbox.run("echo '|/tmp/x %p' > /proc/sys/kernel/core_pattern; echo rc=$?; "
                         "find /proc/sys -type f -writable 2>/dev/null | wc -l", timeout=60)
    assert "rc=1" in result.stdout and result.stdout.split()[-1] == "0"
    assert Path("/proc/sys/kernel/core_pattern").read_text().strip() != "|/tmp/x %p"


def test_root_only_files_stay_unreadable(sandbox):
    result = sandbox.run("cat /etc/shadow; echo rc=$?", timeout=30)
    assert "rc=0" not in result.stdout and "root:" not in result.stdout


def _unix_listener(path: Path) -> tuple[socket.socket, list]:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(4)
    server.settimeout(0.1)
    accepted: list = []

    def serve() -> None:
        while server.fileno() != -1:
            try:
                accepted.append(server.accept())
            except (TimeoutError, OSError):
                continue

    threading.Thread(target=serve, daemon=True).start()
    return server, accepted


def test_host_unix_sockets_are_unreachable(sandbox, workspace, tmp_path):
    """Sockets in the host /tmp, /run, $HOME and the workspace: the model must not talk to the
    docker daemon, an ssh agent or a database through them."""
    places = [tmp_path / "host.sock", Path.home() / f".ar-{os.getpid()}.sock", workspace / "build" / "dev.sock"]
    if os.access("/run", os.W_OK):
        places.append(Path("/run") / f"agent-runtime-test-{os.getpid()}.sock")
    # a longer path could not be bound nor connected to, and the probe below would prove nothing
    assert all(len(os.fsencode(p)) < 108 for p in places), places
    listeners = [_unix_listener(p) for p in places]
    try:
        # outside the sandbox, the same client connects: the test can tell
        client = socket.socket(socket.AF_UNIX)
        client.connect(str(places[1]))
        client.close()
        time.sleep(0.3)
        assert len(listeners[1][1]) == 1
        listeners[1][1].clear()
        probe = "; ".join(
            "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); "
            f"s.connect(\"{p}\"); print(\"connected {p}\")'"
            for p in places)
        result = sandbox.run(probe + "; ls -A /run; echo listed", timeout=60)
        assert "connected" not in result.stdout, result.stdout
        assert result.stdout.strip().endswith("listed") and result.stdout.strip() == "listed", "/run is empty inside"
        time.sleep(0.3)
        assert all(not accepted for _, accepted in listeners)
    finally:
        for (server, _), path in zip(listeners, places):
            server.close()
            path.unlink(missing_ok=True)


def test_home_is_empty_and_read_only_and_run_is_empty(sandbox, tmp_path):
    """The homes are an allow-list (view.py): a plain dotfile of $HOME is not there at all, nor can
    one be made there; $HOME holds only an empty, private ~/.cache (what go and pip write), and what
    is written there never reaches the real home."""
    marker = Path.home() / f".agent-runtime-visible-{os.getpid()}"
    marker.write_text("plain setting\n")
    real_cache = Path.home() / ".cache"
    before = sorted(real_cache.iterdir()) if real_cache.is_dir() else None
    try:
        result = sandbox.run(f"cat {marker}; echo more >> {marker}; echo rc=$?; ls -A $HOME; "
                             "ls -A $HOME/.cache | wc -l; echo x > $HOME/.cache/made && echo cache-ok; "
                             "ls -A /run | wc -l", timeout=30)
        assert "plain setting" not in result.stdout and "rc=1" in result.stdout
        assert result.stdout.split()[-4:] == [".cache", "0", "cache-ok", "0"], result.stdout
        assert marker.read_text() == "plain setting\n"
        assert (sorted(real_cache.iterdir()) if real_cache.is_dir() else None) == before
    finally:
        marker.unlink()


FORKER = """
import os, time
n = 0
for _ in range(2000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(20)
        os._exit(0)
    n += 1
print("forked", n, flush=True)
"""


def test_a_fork_bomb_is_bounded_for_root_too(workspace):
    """RLIMIT_NPROC does not bind root; the PID namespace's own pid_max does. Bounded either way
    (2000 forks at most), and everything dies with the sandbox."""
    (workspace / "build" / "forker.py").write_text(FORKER)
    box = Sandbox(workspace, limits=Limits(processes=100))
    assert box.isolation.pid_limit, "this kernel (>= 6.14) caps a PID namespace: the limit must be on"
    result = box.run(f"{shlex.quote(sys.executable)} build/forker.py", timeout=120)
    forked = int(result.stdout.split()[-1])
    assert 50 <= forked <= 100 + 300, result.stdout + result.stderr
    time.sleep(0.5)
    leftover = subprocess.run(["pgrep", "-u", str(os.geteuid()), "-f", "build/forker.py"], capture_output=True,
                              text=True).stdout.split()
    assert leftover == [], "the forked processes died with the sandbox"


def test_configuration_files_cannot_be_written(sandbox, workspace):
    git(workspace, "rm", "-q", "--cached", "app.py")  # anything; keeps the index valid
    (workspace / ".gitattributes").write_text("*.py text\n")
    (workspace / ".gitmodules").write_text("")
    (workspace / "policy.toml").write_text('default = "ask"\n')
    (workspace / ".agent-runtime").mkdir()
    (workspace / ".agent-runtime" / "settings.toml").write_text("x = 1\n")
    (workspace / ".env.example").write_text("TOKEN=\n")
    originals = {p: p.read_bytes() for p in workspace.rglob("*") if p.is_file() and ".git/" not in str(p)}
    attack = ("echo 'TOKEN=evil' > .env; echo '*.py filter=evil' >> .gitattributes; "
              "echo '[submodule \"x\"]' >> .gitmodules; echo 'default = \"allow\"' > policy.toml; "
              "echo y > .agent-runtime/settings.toml; rm -f .agent-runtime/settings.toml policy.toml .env.example; "
              "mv .gitattributes moved; echo 'TOKEN=x' >> .env.example; echo hook > .git/hooks/pre-commit; "
              "echo ok > build/fine.txt; echo end")
    result = sandbox.run(attack, timeout=30)
    assert result.stdout == "end\n"
    assert result.stderr.count("Read-only file system") + result.stderr.count("Permission denied") >= 8, result.stderr
    for path, content in originals.items():
        assert path.read_bytes() == content, path
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists() and not (workspace / "moved").exists()
    assert (workspace / "build" / "fine.txt").read_text() == "ok\n", "the rest of the workspace stays writable"


def test_a_nested_repositorys_git_and_nested_git_files_are_read_only(sandbox, workspace):
    """deny_write `**/.git/**` holds at any depth: a vendored repository's hooks run when the user
    commits there. Its work tree stays writable, git still reads it, and a symlink to it is no way in."""
    nested = make_repo(workspace / "vendor" / "lib", {"lib.py": "y = 1\n"})
    (workspace / "vendor" / "lib" / ".gitattributes").write_text("*.py text\n")
    (workspace / "pkg").mkdir()
    (workspace / "pkg" / ".gitmodules").write_text("")
    (workspace / "link").symlink_to(nested / ".git")
    config = (nested / ".git" / "config").read_bytes()
    attack = ("echo hook > vendor/lib/.git/hooks/post-commit; chmod +x vendor/lib/.git/hooks/pre-commit.sample; "
              "echo '[core]' >> vendor/lib/.git/config; echo x > link/hooks/pre-push; rm -rf vendor/lib/.git/refs; "
              "echo '*.py filter=evil' >> vendor/lib/.gitattributes; echo '[submodule]' > pkg/.gitmodules; "
              "echo ok > vendor/lib/fine.py; git -C vendor/lib log --oneline | wc -l; echo end")
    result = sandbox.run(attack, timeout=30)
    assert result.stdout == "1\nend\n", result.stdout + result.stderr
    assert result.stderr.count("Read-only file system") >= 6, result.stderr
    hooks = os.listdir(nested / ".git" / "hooks")
    assert "post-commit" not in hooks and "pre-push" not in hooks
    assert (nested / ".git" / "config").read_bytes() == config and (nested / ".git" / "refs").is_dir()
    assert (nested / ".gitattributes").read_text() == "*.py text\n"
    assert (workspace / "pkg" / ".gitmodules").read_text() == ""
    assert (nested / "fine.py").read_text() == "ok\n", "the nested work tree stays writable"


def test_a_new_dotenv_cannot_be_created_and_no_placeholder_is_left(workspace):
    (workspace / ".env").unlink()
    box = Sandbox(workspace, hidden_globs=DENY_READ)
    result = box.run("echo 'APPROVAL_MODE=auto' > .env; echo rc=$?; cat .env; ln -s /tmp/x .env; rm .env; "
                     "echo 'X=1' > .env.local; echo done", timeout=30)
    assert "rc=0" not in result.stdout and result.stdout.rstrip().endswith("done")
    assert not (workspace / ".env").exists(), "the placeholder is gone after the command"
    assert not (workspace / ".env.local").exists() and "removed .env.local" in result.stderr
    assert "propose_patch" in result.stderr, "the model is told what to do instead"
    status = box.run("git status --porcelain; echo ---; ls -a", timeout=30)
    git_part, ls_part = status.stdout.split("---\n")
    assert ".env" not in git_part and ".env\n" in ls_part, "git inside does not list the placeholder"
    assert (workspace / ".git" / "info" / "exclude").read_text().count("/.env") == 0
    # Everyday commands at the top level are not affected.
    everyday = box.run("touch new.py && mkdir -p pkg && sed -i 's/1/2/' app.py && mv new.py new2.py && "
                       "cat app.py && ls", timeout=30)
    assert everyday.exit_code == 0, everyday.stderr
    assert (workspace / "new2.py").exists() and (workspace / "app.py").read_text() == "x = 2\n"


def test_new_git_or_policy_files_are_removed(workspace):
    plain = workspace / "notarepo"
    plain.mkdir()
    box = Sandbox(plain)
    result = box.run("git init -q . && git config core.fsmonitor 'touch /tmp/owned'; mkdir .agent-runtime; "
                     "echo 'default = \"allow\"' > policy.toml; echo 'a' > .gitmodules; echo kept > kept.txt",
                     timeout=30)
    assert sorted(os.listdir(plain)) == ["kept.txt"], result.stderr
    assert "removed .agent-runtime, .git, .gitmodules, policy.toml" in result.stderr


def test_config_files_are_removed_after_a_timeout_too(workspace):
    box = Sandbox(workspace)
    result = box.run("(sleep 0.5; echo 'default = \"allow\"' > policy.toml) & sleep 30", timeout=2)
    assert result.timed_out and not (workspace / "policy.toml").exists()
    assert "removed policy.toml" in result.stderr


def test_a_large_stdin_the_command_never_reads_does_not_hang_the_run(sandbox):
    """Given more than a pipe holds to a command that reads none of it, the run still ends at its timeout."""
    started = time.monotonic()
    result = sandbox.run("sleep 30", timeout=3, stdin=b"x" * (1 << 20))
    assert result.timed_out and time.monotonic() - started < 20
    echoed = sandbox.run("wc -c", timeout=30, stdin=b"y" * (1 << 20))
    assert echoed.exit_code == 0 and echoed.stdout.strip() == str(1 << 20)
