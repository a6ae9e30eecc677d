"""What bubblewrap can do on this machine (probed once per process), the namespaces and flags
the sandboxes use (sandbox.py for commands, executor.py for the model's code), and the limits
set on what they run, which hold whether or not bubblewrap works."""

from __future__ import annotations

import logging
import os
import platform
import resource
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from agent_runtime.procs import host_program, own_python

log = logging.getLogger(__name__)

# bwrap mounts a fresh /proc but only covers /proc/sys read-only if access(W_OK) succeeds, which
# it never does for that directory: without this, a sandboxed root can write host sysctls
# (kernel.core_pattern runs a program as host root).
PROC_SYS_RO = ("--ro-bind", "/proc/sys", "/proc/sys")
# Namespaces, spelled out: --unshare-all only *tries* the user namespace, and as root it is the
# user namespace that empties the capability bounding set. --disable-userns: no `unshare -U`
# inside to get capabilities back. --cap-drop ALL: as root bwrap keeps every capability otherwise.
ISOLATION = ("--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--disable-userns", "--cap-drop", "ALL", "--die-with-parent", "--new-session")
# Where user namespaces are refused (some containers): still no capabilities and a PID namespace.
ISOLATION_NO_USERNS = ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL",
                       "--die-with-parent", "--new-session")
# pid_max counts from 1, but once PIDs wrap the kernel hands out only PIDs >= 300.
PID_RESERVED = 300


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 600
    memory_bytes: int = 8 << 30
    file_bytes: int = 2 << 30
    # Processes in one sandbox, root included (up to 300 more before PIDs first wrap). Where the
    # kernel cannot cap a PID namespace, RLIMIT_NPROC = max(this, 4096) per user instead, root exempt.
    processes: int = 1024
    tmp_bytes: int = 1 << 30  # the private /tmp (and /var/tmp): an unsized tmpfs may take half the RAM


_PR_SET_PDEATHSIG = 1
# Keyrings are the kernel's, not files a mount hides: a child inherits its parent's session keyring (a
# login's Kerberos tickets, what `keyctl add ... @s` stored) and may read what it possesses, in any
# namespace. So what starts a sandbox first joins a new, empty session keyring (keyctl(2)'s number per arch).
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "arm64": 219, "riscv64": 219, "loongarch64": 219, "i686": 288,
               "i386": 288, "armv7l": 311, "ppc64le": 271, "s390x": 280}.get(platform.machine())
_KEYCTL_JOIN_SESSION_KEYRING = 1


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def leave_session_keyring(libc) -> None:
    """Join a new anonymous session keyring: the agent's own is out of reach. Between fork and exec too."""
    if _SYS_KEYCTL is not None:
        libc.syscall(_SYS_KEYCTL, _KEYCTL_JOIN_SESSION_KEYRING, None)


def _set_limits(limits: Limits, nproc: bool, libc=None) -> None:
    # Runs in the child between fork and exec: no locks, no logging.
    if libc is not None:  # SIGKILL when we die: covers the pid_max wrapper (bwrap covers itself)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        leave_session_keyring(libc)
    values = [(resource.RLIMIT_CPU, limits.cpu_seconds), (resource.RLIMIT_AS, limits.memory_bytes),
              (resource.RLIMIT_FSIZE, limits.file_bytes), (resource.RLIMIT_CORE, 0)]
    if nproc:
        values.append((resource.RLIMIT_NPROC, max(limits.processes, 4096)))
    cap_limits(values)


def cap_limits(values: list[tuple[int, int]]) -> None:
    """Lower each resource limit to the value (never above the hard limit there is). Between fork
    and exec too: no locks, no logging."""
    for which, value in values:
        try:
            soft, hard = resource.getrlimit(which)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (cap, cap))
        except (ValueError, OSError):
            pass


# Run before a program another library starts (no preexec_fn there), outside the sandbox: the kernel's
# SIGKILL when the process that started it dies, which exec keeps (prlimit, unshare and bwrap are not
# set-uid), then the program. If that process is already gone, nothing starts.
_DIE_WITH_PARENT = ("import ctypes, os, signal, sys\n"
                    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)\n"
                    "if os.getppid() != int(sys.argv[1]):\n    sys.exit(125)\n"
                    "os.execvp(sys.argv[2], sys.argv[2:])\n")


# The same for a program another library starts (an MCP server in the sandbox): a new session keyring, then it.
_NEW_KEYRING = ("import ctypes, os, sys\n"
                "ctypes.CDLL(None, use_errno=True).syscall(int(sys.argv[1]), 1, None)\n"
                "os.execvp(sys.argv[2], sys.argv[2:])\n")


def new_keyring_prefix() -> list[str]:
    """A prefix that runs the rest in a new, empty session keyring (leave_session_keyring)."""
    if _SYS_KEYCTL is None:
        return []
    return [own_python(), "-I", "-S", "-c", _NEW_KEYRING, str(_SYS_KEYCTL)]


def dies_with_us_prefix() -> list[str]:
    """A prefix that makes a program die with this process however it ends (SIGKILL, a crash, the OOM
    killer): `unshare` ignores SIGTERM and outlives its parent, and a program that does not stop when its
    stdin ends would go on alone. The signal comes when the thread that started it ends: start it from
    one that lives as long as the program should (an MCP client's event loop thread)."""
    return [own_python(), "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid())]


def prlimit_prefix(limits: Limits) -> list[str]:
    """The limits of `_set_limits` as a prlimit(1) prefix, for a program another library starts
    (no preexec_fn there), each capped at the hard limit there is (as `cap_limits` does); nothing
    where prlimit is missing (bubblewrap's walls still hold)."""
    found = host_program("prlimit")
    if not found:
        return []
    out = [found]
    for flag, which, value in (("--cpu", resource.RLIMIT_CPU, limits.cpu_seconds),
                               ("--as", resource.RLIMIT_AS, limits.memory_bytes),
                               ("--fsize", resource.RLIMIT_FSIZE, limits.file_bytes),
                               ("--core", resource.RLIMIT_CORE, 0),
                               ("--nproc", resource.RLIMIT_NPROC, max(limits.processes, 4096))):
        hard = resource.getrlimit(which)[1]
        cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
        out.append(f"{flag}={cap}:{cap}")
    return out + ["--"]


@dataclass(frozen=True)
class Isolation:
    """What bubblewrap can do here, found once per process."""

    bwrap: str | None
    flags: tuple[str, ...] = ()
    pid_limit: bool = False  # the pid_max wrapper works (the process cap holds for root)
    note: str = ""


_isolation: dict[tuple[str | None, int, bool], Isolation] = {}
_isolation_lock = threading.Lock()
CLEAN_PROBE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def pid_limit_prefix(pid_max: int) -> list[str]:
    """Run the rest of the argv as the child of a fresh user + PID namespace whose pid_max is
    `pid_max` (per PID namespace since Linux 6.14, checked at every level): no process in the
    sandbox's nested namespaces can take a PID beyond it, root included. The sandbox cannot raise
    it: no capabilities in this namespace, /proc/sys read-only. bwrap then runs as root of this
    user namespace, so the caller passes --uid/--gid to keep the real ids inside."""
    script = 'echo "$0" > /proc/sys/kernel/pid_max || exit 125; exec "$@"'
    return [host_program("unshare") or "/usr/bin/unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child", "--",
            "/bin/sh", "-c", script, str(max(pid_max, PID_RESERVED + 1))]


def _ids() -> list[str]:
    return ["--uid", str(os.getuid()), "--gid", str(os.getgid())]


def _probe_argv(bwrap: str, flags: tuple[str, ...]) -> list[str]:
    return [bwrap, *flags, "--unshare-net", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            *PROC_SYS_RO, "--tmpfs", "/tmp", "--", "true"]


def _works(argv: list[str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, env=CLEAN_PROBE_ENV, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, done.stderr.decode(errors="replace").strip()


def isolation(use_bwrap: bool | None = None) -> Isolation:
    """Probe bubblewrap once: full isolation, then without user namespaces, then none."""
    found = host_program("bwrap") if use_bwrap is not False else None
    key = (found, os.geteuid(), use_bwrap is False)
    with _isolation_lock:
        if key in _isolation:
            return _isolation[key]
        result = Isolation(None, note="bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        if use_bwrap is False:
            result = Isolation(None, note="bubblewrap turned off")
        elif found:
            ok, why = _works(_probe_argv(found, ISOLATION))
            if ok:
                wrapped = pid_limit_prefix(PID_RESERVED + 100) + [found, *_ids()] + _probe_argv(found, ISOLATION)[1:]
                limited, _ = _works(wrapped)
                result = Isolation(found, ISOLATION, pid_limit=limited,
                                   note="" if limited else "no per-sandbox process cap here (needs Linux >= 6.14 and "
                                                           "user namespaces); RLIMIT_NPROC applies, root is exempt")
            else:
                ok2, why2 = _works(_probe_argv(found, ISOLATION_NO_USERNS))
                if ok2:
                    result = Isolation(found, ISOLATION_NO_USERNS,
                                       note=f"bubblewrap runs without a user namespace here ({why})")
                else:
                    result = Isolation(None, note=f"bubblewrap is installed but cannot run here: {why2 or why}")
        _isolation[key] = result
        if result.note and result.bwrap:
            log.info("sandbox: %s", result.note)
        return result


def args_through_file(bwrap: str, wrapped: list[str], argv: list[str], scratch: Path) -> list[str]:
    """bwrap's options read from a file (`--args 3`), not given on its command line: the sandbox's
    pid 1 is a fork of bwrap, and its /proc/1/cmdline would list every hidden path to the command.
    `wrapped` is [prefix..., bwrap, options..., "--", *argv]; a shell opens the file as fd 3 and
    becomes bwrap, which reads and closes it before anything runs. A file of `scratch` bound in (a
    copy of git's settings) goes in as data on a descriptor of its own (`--ro-bind-data`): bwrap
    copies it into its own tmpfs, so /proc/self/mountinfo inside names no folder of the host's."""
    at = wrapped.index(bwrap)
    options, data = _scratch_as_data(wrapped[at + 1:len(wrapped) - len(argv) - 1], scratch)
    listed = scratch / "bwrap-args"
    listed.write_bytes(b"".join(os.fsencode(word) + b"\0" for word in options))
    if not data:
        return [*wrapped[:at], "/bin/sh", "-c", 'exec "$@" 3< "$0"', str(listed), wrapped[at], "--args", "3", "--", *argv]
    opened = " ".join(f'{FIRST_DATA_FD + n}< "${{{n + 1}}}"' for n in range(len(data)))
    script = f'exec {opened}; shift {len(data)}; exec "$@" 3< "$0"'
    # POSIX sh opens descriptors up to 9 only; bash, slower to start, for more
    shell = "/bin/sh" if FIRST_DATA_FD + len(data) - 1 <= 9 else host_program("bash") or "/bin/bash"
    return [*wrapped[:at], shell, "-c", script, str(listed), *data, wrapped[at], "--args", "3", "--", *argv]


FIRST_DATA_FD = 4


def _scratch_as_data(options: list[str], scratch: Path) -> tuple[list[str], list[str]]:
    """`options` with each `--ro-bind FILE DEST` whose FILE lies in `scratch` read from a descriptor
    instead, and those files in the order of their descriptors (from FIRST_DATA_FD)."""
    out: list[str] = []
    data: list[str] = []
    folder = os.path.realpath(scratch) + os.sep
    i = 0
    while i < len(options):
        word = options[i]
        if word == "--setenv":  # free text follows: a value is never read as an option
            out += options[i:i + 3]
            i += 3
            continue
        source = options[i + 1] if word == "--ro-bind" and i + 2 < len(options) else ""
        if source and os.path.realpath(source).startswith(folder) and os.path.isfile(source):
            out += ["--ro-bind-data", str(FIRST_DATA_FD + len(data)), options[i + 2]]
            data.append(source)
            i += 3
            continue
        out.append(word)
        i += 1
    return out, data
