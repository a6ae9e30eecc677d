"""Where the agent's own git runs: a bubblewrap of its own that shows git the work tree and its git
directories and nothing else of the host (gitcmd, the door, starts every git process here).

Why: the door checks a repository's files, then runs git on them. A sandboxed process of the same
session (an MCP server, a background job) can change those files between the check and the use:
a filter, an fsmonitor or a commondir flipped in for a few milliseconds. Closing each such window
would be a list of cases; instead git itself runs where a program it starts reaches nothing:

- the file system an allow-list, read-only: the system's program folders (SYSTEM), a few files of
  /etc that name users and libraries (ETC_FILES, world-readable), the folder of the git program,
  and the paths the call names (the work tree, the git directories the door resolved); writable
  only what the call writes (the agent's checkpoint store for the calls that change it, the eval's
  own repositories); a private /tmp, a minimal /dev, a /proc of its own;
- no network, no IPC, no host name, PID namespace of its own (--unshare-all), no capabilities, no
  new user namespaces, its own session (no terminal), killed with the agent (--die-with-parent);
- the user's global git settings as a copy (GLOBAL_CONFIG) holding only the keys git needs to read
  a repository (gitcmd.global_settings): no credentials and no file of the home is there to print.

So a repository program that slips past the door's checks finds no host file to read or write, no
socket and no network, and anything it prints comes from what the workspace's own commands see.
Where bubblewrap cannot run (not installed, no user namespaces, a Mac), gitcmd.containment says why
and the door runs git on the host with its checks alone (docs/safety.md says what holds then).

Standard library only, with core (secret names) and procs (the PATH without relative entries).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from agent_runtime.core import is_secret_name
from agent_runtime.procs import host_program

# Shown read-only at their paths (a symlinked one, merged /usr, as the same symlink): programs and libraries.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/nix")
# What git and a shell need of /etc: user and group names, the loader's cache, the time zone. Only these:
# /etc holds files only root may read, and root stays the owner inside.
ETC_FILES = ("/etc/passwd", "/etc/group", "/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf")
# --unshare-user spelled out: --unshare-all only tries it, and as root it is the user namespace that
# empties the capability bounding set (and --disable-userns needs it).
FLAGS = ("--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--die-with-parent",
         "--new-session", "--hostname", "git")
# Where user namespaces are refused (some containers, as root): still no capabilities, nothing shared.
FLAGS_NO_USERNS = ("--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                   "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--hostname", "git")
GLOBAL_CONFIG = "/tmp/.agent-runtime-gitconfig"  # inside the box: the copy of the user's settings
TMP_BYTES = 64 << 20


@dataclass(frozen=True)
class View:
    """What one git call is shown of the host besides the system: `read` (folders or files) read-only,
    `write` (folders) writable, each at its own path, resolved by the caller."""

    read: tuple[Path, ...] = ()
    write: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()  # inside those, covered: what the policy hides from commands (.env, keys)


@dataclass(frozen=True)
class Probe:
    """Whether git runs contained here: bwrap's path and flags, or None with the reason."""

    bwrap: str | None
    flags: tuple[str, ...] = ()
    note: str = ""


def _system_args() -> list[str]:
    out: list[str] = []
    for name in SYSTEM:
        if os.path.islink(name):
            out += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            out += ["--ro-bind", name, name]
    for name in ETC_FILES:
        if os.path.exists(name):
            out += ["--ro-bind", name, name]
    git = host_program("git")
    if git is not None:  # a git installed outside the system folders: its folder and its programs (git-core)
        real = Path(os.path.realpath(git))
        if not any(Path(s) == p for s in SYSTEM for p in real.parents):
            out += ["--ro-bind", str(real.parent), str(real.parent)]
            core = real.parent.parent / "libexec" / "git-core"
            if core.is_dir():
                out += ["--ro-bind", str(core), str(core)]
    return out


def _base_args(flags: Sequence[str]) -> list[str]:
    return [*flags, "--dev", "/dev", "--proc", "/proc", "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
            "--dir", "/run", *_system_args()]


def candidates() -> list[Probe]:
    """The ways to contain git here, best first, for the door to try once (gitcmd.containment)."""
    bwrap = host_program("bwrap")
    return [] if bwrap is None else [Probe(bwrap, FLAGS), Probe(bwrap, FLAGS_NO_USERNS)]


NOT_INSTALLED = "bubblewrap (bwrap) is not installed"


def probe_argv(way: Probe, git: str) -> list[str]:
    """What the door runs to see that `way` works: `git version`, contained."""
    return [str(way.bwrap), *_base_args(way.flags), "--", git, "version"]


# Sections of the user's global settings the agent's git is given (a copy): who commits, how git
# reads and shows a repository. Not remotes, URLs, http, credentials, sendemail, imap.
GLOBAL_SECTIONS = frozenset({"user", "core", "safe", "init", "diff", "status", "log", "color", "i18n", "grep",
                             "pretty", "advice", "index", "feature", "submodule", "blame", "column", "merge",
                             "fetch", "extensions", "gc", "pack", "format", "branch", "tag"})
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^\s/@\"]*@")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def global_settings(entries: Sequence[str]) -> str:
    """A configuration file holding the allowed keys of `entries` (`git config --list -z` items), in
    order: GLOBAL_SECTIONS only, never a key named like a secret, URLs without user:password@."""
    lines: list[str] = []
    for entry in entries:
        key, has_value, value = entry.partition("\n")
        section, _, rest = key.partition(".")
        sub, _, name = rest.rpartition(".")
        if (section.lower() not in GLOBAL_SECTIONS or not name or is_secret_name(name) or is_secret_name(sub)
                or "\n" in sub or "\0" in value):
            continue
        header = f"[{section} {_quote(sub)}]" if sub else f"[{section}]"
        clean = _USERINFO.sub(r"\1", value)
        lines += [header, f"\t{name} = {_quote(clean)}" if has_value else f"\t{name}"]
    return "".join(line + "\n" for line in lines)


def settings_key() -> tuple:
    """What says the user's global settings changed: HOME, XDG_CONFIG_HOME and their two files' stat."""
    home = os.environ.get("HOME", "")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    key: list = [home, xdg]
    for path in (os.path.join(home, ".gitconfig"), os.path.join(xdg, "git", "config")):
        try:
            info = os.stat(path)
            key.append((info.st_ino, info.st_size, info.st_mtime_ns))
        except OSError:
            key.append(None)
    return tuple(key)


def memory_file(data: bytes) -> int:
    """A file descriptor (memfd) holding `data`, read from its start: for bwrap's --ro-bind-data."""
    fd = os.memfd_create("agent-runtime-gitconfig", 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _dedupe(paths: Sequence[Path]) -> list[Path]:
    """Each path once, outer ones first (a later bind covers an earlier one's inside)."""
    out: list[Path] = []
    for path in sorted({Path(p) for p in paths}, key=lambda p: len(p.parts)):
        if path not in out:
            out.append(path)
    return out


def wrap(way: Probe, command: Sequence[str], cwd: Path, view: View, config_fd: int | None) -> list[str]:
    """The argv that runs `command` contained `way`, in `cwd` (which the view must show). `config_fd`:
    a file descriptor holding the user's settings, shown at GLOBAL_CONFIG (the caller points
    GIT_CONFIG_GLOBAL there)."""
    out = [str(way.bwrap), *_base_args(way.flags)]
    writable = _dedupe([p for p in view.write if os.path.isdir(p)])
    shown = [(p, "--ro-bind") for p in _dedupe(view.read) if os.path.exists(p)]
    shown += [(p, "--bind") for p in writable]
    # a writable folder inside a read-only one must come after it; a read-only one inside a writable one too
    for path, how in sorted(shown, key=lambda item: len(item[0].parts)):
        out += [how, str(path), str(path)]
    for path in view.hidden:  # a program that slips through must not print what commands cannot read
        if os.path.isdir(path) and not os.path.islink(path):
            out += ["--tmpfs", str(path), "--remount-ro", str(path)]
        elif os.path.lexists(path):
            out += ["--ro-bind", "/dev/null", str(path)]
    if config_fd is not None:
        out += ["--ro-bind-data", str(config_fd), GLOBAL_CONFIG]
    return [*out, "--chdir", str(cwd), "--", *command]
