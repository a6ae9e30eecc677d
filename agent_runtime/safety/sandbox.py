"""Commands run here: under bubblewrap when it works, with limits and a timeout always.

Inside bubblewrap: the root file system is read-only, the workspace writable but its
`.git` read-only, /tmp private (but tools installed under it stay visible, read-only),
deny_read files hidden (in the workspace and the usual
secret places in $HOME), no network unless the policy allows it, a new session and PID
namespace, and the sandbox dies with us. Without bubblewrap the limits, the timeout and
the scrubbed environment still apply, the result says sandbox="none", and we warn once.
"""

from __future__ import annotations

import logging
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

OUTPUT_CAP_BYTES = 256 * 1024  # kept from each end of stdout and stderr
PIPE_GRACE_S = 1.0  # after the command exits, how long its leftovers may keep writing
SECRET_NAME_PARTS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
# Secret places outside the workspace, relative to $HOME; hidden from sandboxed commands.
HOME_SECRETS = (".ssh", ".aws", ".netrc", ".gnupg", ".git-credentials", ".docker/config.json",
                ".config/gh", ".kube", ".pypirc", ".npmrc", ".azure", ".config/gcloud")


def _installed_under_tmp() -> list[Path]:
    """Our Python environment and $PATH entries that live under /tmp (a clone in /tmp, a CI
    checkout): the private /tmp would hide them, and commands that work outside would not inside."""
    tmp = Path("/tmp").resolve()
    candidates = [Path(sys.prefix), Path(sys.base_prefix)]
    candidates += [Path(part) for part in os.environ.get("PATH", "").split(os.pathsep) if os.path.isabs(part)]
    found: list[Path] = []
    for path in candidates:
        path = path.resolve()
        if path.is_relative_to(tmp) and path != tmp and path.is_dir() and path not in found:
            found.append(path)
    return found


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 600
    memory_bytes: int = 8 << 30
    file_bytes: int = 2 << 30
    processes: int = 4096  # per user, system-wide (a fork-bomb stop); root is exempt


@dataclass
class CommandResult:
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    sandbox: str
    output_dropped_bytes: int = 0


def scrubbed_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment minus anything that looks like a credential."""
    env = {k: v for k, v in os.environ.items() if not any(part in k.upper() for part in SECRET_NAME_PARTS)}
    env.update(extra or {})
    return env


def _set_limits(limits: Limits) -> None:
    # Runs in the child between fork and exec: no locks, no logging.
    for which, value in (
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NPROC, limits.processes),
    ):
        try:
            soft, hard = resource.getrlimit(which)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (cap, cap))
        except (ValueError, OSError):
            pass


class _Capped:
    """Keeps the first and last OUTPUT_CAP_BYTES of a stream."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = OUTPUT_CAP_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            excess = len(self.tail) - OUTPUT_CAP_BYTES
            if excess > 0:
                del self.tail[:excess]
                self.dropped += excess

    def text(self) -> str:
        middle = f"\n[... {self.dropped:,} bytes of output dropped ...]\n".encode() if self.dropped else b""
        return bytes(self.head + middle + self.tail).decode("utf-8", errors="replace")


class Sandbox:
    def __init__(self, workspace_root: Path, hidden_globs: tuple[str, ...] = (), allow_network: bool = False,
                 limits: Limits = Limits(), use_bwrap: bool | None = None):
        self.root = Path(workspace_root).resolve()
        self.hidden_globs = hidden_globs
        self.allow_network = allow_network
        self.limits = limits
        self._bwrap = self._probe_bwrap() if use_bwrap is None else (shutil.which("bwrap") if use_bwrap else None)
        self._warned = False

    @property
    def kind(self) -> str:
        return "bwrap" if self._bwrap else "none"

    @staticmethod
    def _probe_bwrap() -> str | None:
        found = shutil.which("bwrap")
        if not found:
            return None
        probe = subprocess.run([found, "--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--", "true"],
                               capture_output=True, timeout=20)
        if probe.returncode != 0:
            log.warning("bubblewrap is installed but cannot run here: %s", probe.stderr.decode(errors="replace").strip())
            return None
        return found

    def hidden_paths(self) -> list[Path]:
        """deny_read files in the workspace (gitignored ones too) and secret places in $HOME."""
        found: list[Path] = []
        rg = shutil.which("rg")
        if rg and self.hidden_globs:
            command = [rg, "--files", "--hidden", "--no-ignore", "--no-config", "--glob", "!.git"]
            for pattern in self.hidden_globs:
                command += ["--glob", pattern]
            listed = subprocess.run(command, cwd=self.root, capture_output=True, timeout=60)
            found += [self.root / line for line in listed.stdout.decode(errors="replace").splitlines() if line]
        home = Path.home()
        found += [home / name for name in HOME_SECRETS if (home / name).exists()]
        return found

    def _bwrap_argv(self, argv: list[str], cwd: Path) -> list[str]:
        out = [self._bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for path in _installed_under_tmp():
            out += ["--ro-bind", str(path), str(path)]
        out += ["--bind", str(self.root), str(self.root)]
        git_dir = self.root / ".git"
        if git_dir.exists():
            out += ["--ro-bind", str(git_dir), str(git_dir)]
        for path in self.hidden_paths():
            if path.is_dir() and not path.is_symlink():
                out += ["--tmpfs", str(path)]
            elif path.exists():
                out += ["--ro-bind", "/dev/null", str(path)]
        if not self.allow_network:
            out.append("--unshare-net")
        out += ["--unshare-pid", "--unshare-ipc", "--new-session", "--die-with-parent", "--chdir", str(cwd), "--"]
        return out + argv

    def _env(self) -> dict[str, str]:
        extra = {"AGENT_RUNTIME_SANDBOX": self.kind}
        if self._bwrap:
            # $HOME is read-only in the sandbox; our own Phoenix dependency ships a pytest plugin
            # that creates ~/.phoenix on import. The private /tmp takes it instead.
            extra.setdefault("PHOENIX_WORKING_DIR", "/tmp/.phoenix")
        return scrubbed_env(extra)

    def run(self, command: str, timeout: float, cwd: Path | None = None) -> CommandResult:
        """Run a shell command string; never raises for the command's own failures."""
        cwd = cwd or self.root
        argv = ["bash", "-c", command]
        if self._bwrap:
            argv = self._bwrap_argv(argv, cwd)
        elif not self._warned:
            self._warned = True
            log.warning("bubblewrap (bwrap) is not available: commands run without an OS sandbox "
                        "(limits and timeout still apply). Install it: apt-get install bubblewrap")
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=self._env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=lambda: _set_limits(self.limits),
        )
        out, err = _Capped(), _Capped()
        timed_out = False
        try:
            timed_out = not _pump(proc, out, err, deadline=started + timeout)
        finally:
            if proc.poll() is None:  # timed out, or we are being interrupted (Ctrl-C)
                _kill_group(proc)
        return CommandResult(proc.returncode, out.text(), err.text(), timed_out,
                             round(time.monotonic() - started, 3), self.kind, out.dropped + err.dropped)


def _pump(proc: subprocess.Popen, out: _Capped, err: _Capped, deadline: float) -> bool:
    """Read both pipes until the process ends; False if the deadline passed first."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ, out)  # type: ignore[arg-type]
    selector.register(proc.stderr, selectors.EVENT_READ, err)  # type: ignore[arg-type]
    open_pipes = 2
    exited_at: float | None = None
    while open_pipes:
        now = time.monotonic()
        if now >= deadline:
            return False
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > PIPE_GRACE_S:
            break  # the command ended; something it left behind holds the pipes: it gets killed
        for key, _ in selector.select(timeout=min(deadline - now, 0.2)):
            data = os.read(key.fd, 65536)
            if data:
                key.data.add(data)
            else:
                selector.unregister(key.fileobj)
                open_pipes -= 1
    selector.close()
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=2)
            return
        except subprocess.TimeoutExpired:
            continue
