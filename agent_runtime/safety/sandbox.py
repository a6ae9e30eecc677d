"""Commands run here: under bubblewrap when it works, with limits and a timeout always.

Inside bubblewrap a command has nothing of the host to gain, even when we run as root:
- no capabilities: a user namespace, `--cap-drop ALL`, no further user namespaces, /proc/sys
  read-only (bwrap's own cover of it is silently skipped), what not everyone may read of /etc
  hidden when root;
- the root an allow-list, read-only (view.py): bwrap's empty tmpfs with the system folders (/usr,
  /etc, /bin, /lib...), /dev, /proc, a private /tmp, the toolchains a command runs wherever they
  live (pyenv, nvm, rustup in a home, /opt/node, a virtualenv, ...), the workspace, the user's
  enabled skills and git's own settings; /srv, /opt, /var, /mnt, the homes and the projects
  beside the workspace are not there; the workspace writable except its configuration (`.git`,
  `.env*`, `.gitattributes`, `.gitmodules`, `policy.toml`, `.agent-runtime`, `AGENTS.md`, the skills'
  `.agents` and `.claude`, the
  commit-hook configurations the host runs at the next commit (pre-commit, husky, lefthook), a
  core.hooksPath inside the workspace, what a symlinked one of those points at, the agent's own
  virtualenv when it lives there; below the top level, a nested repository's .git and any
  .gitattributes or .gitmodules): those are read-only, a new top-level `.env` cannot be
  created (a read-only placeholder stands there while the command runs), and any other of
  those names a command creates is removed afterwards and the command's output says so;
- deny_read files hidden (in the workspace, what symlinks named like them point at, the usual
  secret places in $HOME, the .env files of the start directory and of every directory above
  the workspace), and the agent's own state wherever XDG_* and RUNS_DIR put it (the user's
  configuration, run records, server logs, the undo journal, REPL history, traces, caches);
- bwrap's options read from a file descriptor (`--args`): no process inside (its pid 1 is a
  fork of bwrap) can read the list of what is hidden from a command line;
- git's configuration a command creates at any depth removed afterwards (planted.py);
  .git/config is seen as a copy with only the keys commands need (gitconfig.py);
- no host sockets: /run, /var/run and $XDG_RUNTIME_DIR are empty, socket files under $HOME and
  the workspace are covered, /tmp is private (tools installed under it stay visible,
  read-only), and no network (not even abstract unix sockets) unless the policy allows it;
- a cap on processes that holds for root too (a PID namespace with its own pid_max, Linux
  >= 6.14); where that is not available, RLIMIT_NPROC (which root ignores);
- an environment built from an allow-list, not the host's;
- a new session and PID namespace, and a new, empty session keyring (the agent's holds a login's keys); the
  sandbox dies with us.
Without bubblewrap the limits, the timeout and the allow-listed environment still apply, the
result says sandbox="none", and we warn once.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from agent_runtime.core import is_secret_name, visible, within
from agent_runtime.procs import host_program
from agent_runtime.safety import gitkept, outside, planted, view
from agent_runtime.safety.capture import Capped, kill_group, pump
from agent_runtime.safety.gitconfig import git_config_copy, sanitized_git_config  # noqa: F401 (re-exported)
from agent_runtime.safety.isolation import (
    PID_RESERVED,
    PROC_SYS_RO,
    Limits,
    _ids,
    _libc,
    _set_limits,
    args_through_file,
    isolation,
    new_keyring_prefix,
    pid_limit_prefix,
    prlimit_prefix,
)
from agent_runtime.safety.outside import HOME_SECRETS, find_sockets
from agent_runtime.safety.placeholder import DotenvPlaceholder, Nothing, exclude_placeholder
from agent_runtime.safety.policy.paths import OBEYED_FILES

log = logging.getLogger(__name__)

# The workspace's configuration: read by git or by us on the next start, so never written by a
# command. `.env*` matches by prefix.
# AGENTS.md too: every later session reads it into the prompt (the policy asks for each write).
# And what the user's installed commit hooks run on the host at the next commit (a command the
# policy lets run because the sandbox contains it must not leave behind what runs outside it).
COMMIT_HOOK_CONFIGS = (".pre-commit-config.yaml", ".husky", "lefthook.yml", ".lefthook.yml", "lefthook-local.yml",
                       ".lefthook-local.yml")
# .agents and .claude: the repository's skills live there, and a command must not rewrite them. And what
# other programs run or obey when the folder is opened (policy/paths.py: an editor's tasks, .mcp.json).
CONFIG_NAMES = tuple(dict.fromkeys((".git", ".gitattributes", ".gitmodules", "policy.toml", ".agent-runtime",
                                    "AGENTS.md", ".agents", ".claude", *COMMIT_HOOK_CONFIGS, *OBEYED_FILES)))
# Configuration at any depth (the policy's deny_write has `**/.git/**`; .gitattributes and
# .gitmodules match at any depth): a nested repository's .git holds hooks and a config that run
# when the user works in it. Existing ones are read-only in the sandbox, new ones are removed
# afterwards (planted.py: planted.PLANTED_NAMES).
# The environment commands get: these names from the host (never one that looks like a secret),
# plus LC_*. Everything else is left out.
ENV_ALLOWED = frozenset({
    "PATH", "HOME", "LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME", "VIRTUAL_ENV",
    # harmless build and tool settings
    "CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS", "MAKEFLAGS", "PKG_CONFIG_PATH",
    "JAVA_HOME", "GOPATH", "GOROOT", "GOFLAGS", "CARGO_HOME", "RUSTUP_HOME", "NODE_PATH",
    "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUTF8", "PYTHONHASHSEED",
    "PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "NO_COLOR", "FORCE_COLOR", "CI", "SOURCE_DATE_EPOCH",
    # where the CA certificates are (a path)
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
})
ENV_ALLOWED_PREFIXES = ("LC_",)
# Only when the policy gives commands the network: the way out, as the host has it.
ENV_NETWORK = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
                         "http_proxy", "https_proxy", "no_proxy", "all_proxy"})
HOME_SCAN_TTL_S = 60.0
SHOWN_REMOVED = 20  # paths named in the note about removed configuration


@dataclass
class CommandResult:
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    sandbox: str
    output_dropped_bytes: int = 0


def _user_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def allowed_env(host: dict[str, str] | None = None, extra: dict[str, str] | None = None,
                network: bool = False) -> dict[str, str]:
    """The environment for a sandboxed command: allow-listed names only, never a secret-looking one."""
    host = dict(os.environ if host is None else host)
    allowed = ENV_ALLOWED | ENV_NETWORK if network else ENV_ALLOWED
    env = {k: v for k, v in host.items()
           if (k in allowed or k.startswith(ENV_ALLOWED_PREFIXES)) and not is_secret_name(k)}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("HOME", str(Path.home()))
    env.setdefault("USER", _user_name())
    env.setdefault("LOGNAME", env["USER"])
    env.update(extra or {})
    return env



# ------------------------------------------------------------------------------- the helpers

def hide_args(path: Path) -> list[str]:
    """Cover a path: an empty read-only tmpfs over a directory, /dev/null over anything else
    (file, socket). Reading a file covered with /dev/null fails: bwrap binds it nodev."""
    if path.is_dir() and not path.is_symlink():
        return ["--tmpfs", str(path), "--remount-ro", str(path)]
    if os.path.lexists(path):
        return ["--ro-bind", "/dev/null", str(path)]
    return []


def _under(path: Path, parent: Path) -> bool:
    try:
        return within(path.resolve(), parent.resolve())
    except OSError:
        return False


def _is_config_name(name: str) -> bool:
    return name in CONFIG_NAMES or name.startswith(".env")


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, ValueError, OSError):
        pass  # it ended (or was killed at its timeout) without reading it all: its output says why


class Sandbox:
    def __init__(self, workspace_root: Path, hidden_globs: tuple[str, ...] = (), allow_network: bool = False,
                 limits: Limits = Limits(), use_bwrap: bool | None = None, runs: Path | None = None):
        self.root = Path(workspace_root).resolve()
        self.runs = runs  # the runs directory when settings put it elsewhere (hidden with the agent's state)
        self.hidden_globs = hidden_globs
        self.allow_network = allow_network
        self.limits = limits
        self.isolation = isolation(use_bwrap)
        self._bwrap = self.isolation.bwrap
        self._warned = False
        self._home_sockets: tuple[float, list[Path]] = (0.0, [])
        # programs running (program()): what they started from, and the links on the way to kept git paths
        self._live: list[tuple[planted.Listing, dict[str, str], dict[str, str]]] = []
        # Folders shown read-only even where the agent's state is hidden: the user's enabled skills
        # (their scripts run through run_cmd), asked of the runtime's skill set when a command starts.
        self.shown: Callable[[], list[Path]] = list

    @property
    def kind(self) -> str:
        return "bwrap" if self._bwrap else "none"

    def hidden_paths(self, walked: list[tuple[str, str]] | None = None) -> list[Path]:
        """deny_read files in the workspace (gitignored ones too) and secret places in $HOME.
        `walked`: what _walk() found, when the caller has it already."""
        found: list[Path] = []
        rg = host_program("rg")
        if rg and self.hidden_globs:
            command = [rg, "--files", "--hidden", "--no-ignore", "--no-config", "--glob-case-insensitive",
                       "--glob", "!.git"]
            for pattern in self.hidden_globs:
                command += ["--glob", pattern]
            listed = subprocess.run(command, cwd=self.root, capture_output=True, timeout=60)
            found += [self.root / line for line in listed.stdout.decode(errors="replace").splitlines() if line]
            found += self._linked_secrets(self._walk() if walked is None else walked)
        home = Path.home()
        found += [home / name for name in HOME_SECRETS if os.path.lexists(home / name)]
        # The agent's own files, wherever XDG_* and RUNS_DIR put them: the user's configuration
        # (config.env holds provider API keys), every project's run records, the model server's
        # logs (whole prompts), the undo journal (files' contents), REPL history, traces.
        found += outside.agent_state(self.root, self.runs)
        # And those of the directories above the workspace (a monorepo's root .env, with --repo one of
        # its projects) and beside them (another project's): the policy denies reading them, but a
        # command the sandbox lets run, or one the user approves, would otherwise find them there.
        return found + outside.secret_files(self.root, Path.cwd(), outside.neighbours(self.root, Path.cwd()))

    def workspace_secrets(self) -> list[Path]:
        """The workspace's files the policy hides from commands (deny_read, and what links named like them
        point at inside it): the agent's own git is shown none of them either (gitcmd.SafeGit's `hidden`)."""
        return [p for p in self.hidden_paths() if _under(p, self.root)]

    def _walk(self) -> list[tuple[str, str]]:
        """(find's type letter, relative path) of every symlink of the workspace and of every
        configuration entry below the top level (a nested repository's .git is not entered)."""
        return planted.walk(str(self.root)).entries()

    def _nested_config(self, walked: list[tuple[str, str]]) -> list[Path]:
        """Configuration below the top level: a nested repository's .git (its hooks and config run
        when the user works in it; deny_write `**/.git/**`), .gitattributes and .gitmodules in
        subdirectories. A symlink stands for its target, as in _config_entries."""
        out: list[Path] = []
        for kind, rel in walked:
            if "/" not in rel or not planted.is_planted_name(rel.rpartition("/")[2]):
                continue
            targets = [self._config_target(self.root / rel)]
            if kind == "f":  # a `gitdir:` file: what it points at in the workspace holds the config
                gitdir = planted.gitdir_target(str(self.root), rel)
                targets.append(self.root / gitdir if gitdir and (self.root / gitdir).exists() else None)
            out += [path for path in targets if path is not None and path not in out]
        return out

    def _config_target(self, path: Path) -> Path | None:
        """A configuration entry, or the target of a symlink named like one when that is inside the
        workspace (and exists); None otherwise."""
        if path.is_symlink():
            path = Path(os.path.realpath(path))
            if path == self.root or not _under(path, self.root) or not path.exists():
                return None
        return path

    def _linked_secrets(self, walked: list[tuple[str, str]]) -> list[Path]:
        """What symlinks named like deny_read files point at (`.env -> conf/prod.vars`, `id_rsa ->
        keys/deploy`): rg does not list symlinks, and a command reading the link reads the target.
        The target is covered: a file anywhere; a directory inside the workspace or $HOME."""
        from agent_runtime.safety.policy import glob_match

        home = Path.home().resolve()
        # Only links whose path holds a literal piece of some glob can match it (pnpm's node_modules
        # has thousands of links); a glob without one sends every link to the check.
        pieces = [max(re.split(r"\[[^\]]*\]|[*?\[\]/{},]", g), key=len).lower() for g in self.hidden_globs]
        found: list[Path] = []
        for kind, rel in walked:
            if kind != "l" or not any(piece in rel.lower() for piece in pieces):
                continue
            if not any(glob_match(g, rel) or glob_match(g, rel + "/x") for g in self.hidden_globs):
                continue
            target = Path(os.path.realpath(self.root / rel))
            if target.is_dir():
                if target in (self.root, home) or not (_under(target, self.root) or _under(target, home)):
                    continue
            elif not target.is_file():
                continue
            found.append(target)
        return found

    def _sockets(self) -> list[Path]:
        """Socket files under $HOME (rescanned each minute) and the workspace (each command)."""
        scanned_at, home_sockets = self._home_sockets
        home = Path.home()
        if time.monotonic() - scanned_at > HOME_SCAN_TTL_S and not _under(home, self.root):
            home_sockets = find_sockets([home])
            self._home_sockets = (time.monotonic(), home_sockets)
        return home_sockets + find_sockets([self.root])

    def _bwrap_argv(self, argv: list[str], cwd: Path, env: dict[str, str], exclude: Path | None = None,
                    git_config: Path | None = None, scratch: Path | None = None,
                    listing: planted.Listing | None = None, bound: list[Path] | None = None,
                    kept: gitkept.Kept | None = None) -> list[str]:
        iso, limits = self.isolation, self.limits
        out = [self._bwrap]
        if iso.pid_limit:
            out = pid_limit_prefix(limits.processes + PID_RESERVED) + [self._bwrap, *_ids()]
        out += [*iso.flags, "--hostname", "sandbox"]
        if not self.allow_network:
            out.append("--unshare-net")  # only lo: no TCP/UDP out, no abstract unix sockets (netns-scoped)
        # The root an allow-list (view.py): bwrap's empty tmpfs, the system's folders read-only, ...
        out += [*view.system_args(),
                # a minimal /dev, read-only (device nodes still work); POSIX shm gets its own small tmpfs
                "--dev", "/dev", "--size", str(64 << 20), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
                "--proc", "/proc", *PROC_SYS_RO,
                "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
                "--size", str(limits.tmp_bytes), "--tmpfs", "/var/tmp",
                # no host sockets (dbus, docker, systemd, $XDG_RUNTIME_DIR under /run/user)
                "--size", str(16 << 20), "--tmpfs", "/run"]
        # ... and the toolchains that live elsewhere (in a home, under /opt, the agent's interpreter).
        homes = view.covers(Path.home())
        covered = view.covered_homes(homes)
        chains = view.toolchains(env, homes, [self.root / name / "bin" for name in (".venv", "venv")], self.root)
        out += view.cover_args(covered, 1 << 20)
        for source, dest in chains + [(path, path) for path in bound or ()]:
            out += ["--ro-bind", str(source), str(dest)]
        out += view.library_covers(chains)
        if os.geteuid() == 0:  # what not everyone may read of /etc (a sandboxed root passes the owner check)
            for path in view.root_only():
                out += hide_args(path)
        # The workspace, then what in it stays read-only or hidden (binds later in argv win).
        out += ["--bind", str(self.root), str(self.root)]
        held = gitkept.kept(self.root, listing) if kept is None else kept
        paths = [p for p in held.paths if p != self.root and _under(p, self.root) and p.exists()]
        out += gitkept.pin_args(self.root, paths, held.floors)
        walked = (listing or planted.walk(str(self.root))).entries()
        for entry in self._config_entries() + self._nested_config(walked) + paths:
            out += ["--ro-bind", str(entry), str(entry)]
        if exclude is not None:  # git inside does not list the .env placeholder as untracked
            out += ["--ro-bind", str(exclude), str(self.root / ".git" / "info" / "exclude")]
        if git_config is not None:  # .git/config with the allowed keys only (see sanitized_git_config)
            out += ["--ro-bind", str(git_config), str(self.root / ".git" / "config")]
        agent_env = Path(sys.prefix).resolve()
        if _under(agent_env, self.root) and agent_env != self.root:
            out += ["--ro-bind", str(agent_env), str(agent_env)]  # code we run outside on the next start
        shown = [Path(os.path.realpath(f)) for f in self.shown() if Path(f).is_dir()]
        there = [dest for _, dest in chains] + list(bound or ()) + [self.root] + shown

        def seen(path: Path) -> bool:  # what the sandbox does not show needs no cover (nor a mount point)
            return view.shown_under(Path(os.path.realpath(path.parent)) / path.name, covered, there)

        out += self._hide([p for p in self.hidden_paths(walked) if seen(p)], shown)
        for folder in (b for b in bound or () if b.is_dir()):  # a bound-back folder keeps its secrets hidden
            for entry in sorted(folder.iterdir()):
                if outside.is_secret_file(entry.name):
                    out += hide_args(entry)
        if scratch is not None:  # git's configuration outside the workspace, the allowed keys only (outside.py)
            out += outside.git_settings(self.root, scratch, seen)
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        for sock in self._sockets() + ([Path(xdg)] if xdg and os.path.isabs(xdg) else []):
            if seen(sock):
                out += hide_args(sock)
        out += view.seal_args(covered, Path.home(), there)
        out.append("--clearenv")  # bwrap's argv order: clear, then set
        for key, value in env.items():
            out += ["--setenv", key, value]
        out += ["--chdir", str(cwd), "--"]
        return out + argv

    def _hide(self, paths: list[Path], shown: list[Path]) -> list[str]:
        """Cover each path; a shown folder inside a covered one is bound into the cover before the cover
        turns read-only (a mount point cannot be made in a read-only tmpfs), its secrets still hidden."""
        out: list[str] = []

        def show(folders: list[Path]) -> list[str]:
            return [arg for folder in folders for arg in ["--ro-bind", str(folder), str(folder)] + [
                a for entry in sorted(folder.iterdir()) if outside.is_secret_file(entry.name) for a in hide_args(entry)]]

        for path in paths:
            inside = [f for f in shown if _under(f, path) and f != path] if path.is_dir() else []
            if not inside or path.is_symlink():
                out += hide_args(path)
                continue
            out += ["--tmpfs", str(path), *show(inside), "--remount-ro", str(path)]
            shown = [f for f in shown if f not in inside]
        return out + show(shown)  # the rest: under the sandbox's own /tmp, or not hidden at all

    def _config_entries(self) -> list[Path]:
        """Top-level configuration entries that exist. A symlink (`.git -> .gitreal`) stands for its
        target: that is what git reads and where a hook would be written. A target outside the
        workspace is read-only anyway; the workspace itself is never one."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        out: list[Path] = []
        for name in sorted(names):
            if not _is_config_name(name):
                continue
            path = self._config_target(self.root / name)
            if path is not None and path not in out:
                out.append(path)
        return out

    def _env(self, cwd: Path) -> dict[str, str]:
        extra = {"AGENT_RUNTIME_SANDBOX": self.kind, "PWD": str(cwd)}
        if self._bwrap:
            # $HOME is read-only in the sandbox; our own Phoenix dependency ships a pytest plugin
            # that creates ~/.phoenix on import. The private /tmp takes it instead.
            extra.update(TMPDIR="/tmp", PHOENIX_WORKING_DIR="/tmp/.phoenix")
        elif os.environ.get("TMPDIR"):
            extra["TMPDIR"] = os.environ["TMPDIR"]
        return allowed_env(extra=extra, network=self.allow_network)

    def run(self, command: str, timeout: float, cwd: Path | None = None, stdin: bytes | None = None,
            show: Sequence[Path] = ()) -> CommandResult:
        """Run a shell command string; never raises for the command's own failures. `stdin`: bytes given
        to it (written by a thread beside the output's reader, so neither side can block the other).
        `show`: folders of ours the command reads, shown read-only (the pytest plugins of a traced test run)."""
        cwd = cwd or self.root
        env = self._env(cwd)
        argv = ["bash", "-c", command]
        if not self._bwrap and not self._warned:
            self._warned = True
            log.warning("%s: commands run without an OS sandbox (limits, timeout and a clean environment "
                        "still apply). Install it: apt-get install bubblewrap", self.isolation.note)
        before, listing, dangling = self._before()
        kept = gitkept.kept(self.root, listing) if self._bwrap else gitkept.Kept()
        started = time.monotonic()
        out, err = Capped(), Capped()
        timed_out = False
        try:
            with DotenvPlaceholder(self.root) if self._bwrap else Nothing() as placeholder, \
                    gitkept.FolderPlaceholders(self.root, kept.paths), \
                    tempfile.TemporaryDirectory(prefix="agent-runtime-sandbox-") as scratch:
                if self._bwrap:
                    exclude = exclude_placeholder(self.root, Path(scratch)) if placeholder and placeholder.ours else None
                    wrapped = self._bwrap_argv(argv, cwd, env, exclude, git_config_copy(self.root, Path(scratch)),
                                               Path(scratch), listing, bound=list(show), kept=kept)
                    argv = args_through_file(self._bwrap, wrapped, argv, Path(scratch))
                nproc = not (self._bwrap and self.isolation.pid_limit)
                libc = _libc()
                proc = subprocess.Popen(
                    argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                    preexec_fn=lambda: _set_limits(self.limits, nproc, libc),
                )
                try:
                    if stdin is not None and proc.stdin is not None:
                        threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
                    timed_out = not pump(proc, out, err, deadline=started + timeout)
                finally:
                    if proc.poll() is None:  # timed out, or we are being interrupted (Ctrl-C)
                        # In bwrap the command is in its own session and dies with the PID namespace
                        # (SIGKILL) anyway; the pid_max wrapper blocks SIGTERM. Outside, TERM first.
                        kill_group(proc, (signal.SIGKILL,) if self._bwrap else (signal.SIGTERM, signal.SIGKILL))
                        if self._bwrap:  # the namespace dies just after: wait until its pipes close
                            pump(proc, out, err, deadline=time.monotonic() + 2)
        finally:  # also after Ctrl-C
            removed = self._remove_new_config(before | {".env"}, listing, dangling)  # .env: the placeholder's
            removed += gitkept.relink_all(self.root, kept.links)
        stderr = err.text()
        if removed:
            # one line whatever the names hold (a newline in a name must not start a line of its own)
            shown = ", ".join(visible(name.replace("\n", "^J").replace("\t", "^I")) for name in removed[:SHOWN_REMOVED])
            more = f" and {len(removed) - SHOWN_REMOVED} more" if len(removed) > SHOWN_REMOVED else ""
            stderr += (f"\n[sandbox] removed {shown}{more}: commands may not create the workspace's "
                       f"configuration files (.env*, {', '.join(CONFIG_NAMES)}; .git, .gitattributes and "
                       ".gitmodules at any depth, and what a .git there points at). "
                       "Create it with propose_patch (it asks for approval), or tell the user.\n")
        return CommandResult(proc.returncode, out.text(), stderr, timed_out,
                             round(time.monotonic() - started, 3), self.kind, out.dropped + err.dropped)

    @contextmanager
    def program(self, argv: list[str], extra_env: dict[str, str] | None = None,
                limits: Limits | None = None) -> Iterator[tuple[list[str], dict[str, str]]]:
        """The argv and environment that start a long-running program of the user's (an MCP server)
        in this sandbox, for the caller to start and own (its stdin and stdout are its protocol):
        the same bubblewrap as commands (workspace writable but its configuration, secrets hidden,
        no network unless this sandbox has it, no capabilities, its own PID namespace) and limits
        set with prlimit. `extra_env` is added to the allow-listed environment (the user's). Held
        while the program runs: the .env placeholder stands, and configuration it created at the
        top level goes afterwards. Without bubblewrap: ToolError, nothing starts."""
        from agent_runtime.core import ToolError

        if not self._bwrap:
            raise ToolError(f"bubblewrap does not run here ({self.isolation.note or 'not installed'}), and MCP "
                            "servers start only inside it", "Install bubblewrap (apt-get install bubblewrap), or "
                            "set sandbox = false for this server in your MCP configuration.", kind="unavailable")
        limits = limits or self.limits
        env = {**self._env(self.root), **(extra_env or {})}
        before, listing, dangling = self._before()
        kept = gitkept.kept(self.root, listing)
        live = (listing, dangling, kept.links)
        if listing is not None:
            self._live.append(live)
        try:
            with DotenvPlaceholder(self.root) as placeholder, gitkept.FolderPlaceholders(self.root, kept.paths), \
                    tempfile.TemporaryDirectory(prefix="agent-runtime-sandbox-") as scratch:
                exclude = exclude_placeholder(self.root, Path(scratch)) if placeholder.ours else None
                homes = view.covers(Path.home())
                named = outside.named_by_command(argv, self.root, lambda path: view.hidden(path, homes), homes)
                wrapped = self._bwrap_argv(argv, self.root, env, exclude, git_config_copy(self.root, Path(scratch)),
                                           Path(scratch), listing, named, kept=kept)
                wrapped = args_through_file(self._bwrap, wrapped, argv, Path(scratch))
                yield prlimit_prefix(limits) + new_keyring_prefix() + wrapped, env
        finally:
            if live in self._live:
                self._live.remove(live)
            self._remove_new_config(before | {".env"}, listing, dangling)
            gitkept.relink_all(self.root, kept.links)

    def _before(self) -> tuple[set[str], planted.Listing | None, dict[str, str]]:
        """What the workspace holds before a command: its top-level names, and with bubblewrap one
        walk of it (planted.py) and the .git pointers whose targets do not exist yet."""
        names = set(os.listdir(self.root)) if self.root.is_dir() else set()
        if not self._bwrap:
            return names, None, {}
        listing = planted.walk(str(self.root))
        return names, listing, planted.pointers(str(self.root), listing)

    def _remove_new_config(self, before: set[str], listing: planted.Listing | None = None,
                           dangling: dict[str, str] | None = None) -> list[str]:
        """Configuration the command created: names at the top level, then git's configuration at
        any depth (planted.py). Nothing of the sandbox runs any more (its PID namespace ended with
        the command), so this is not a race with it."""
        if not self._bwrap:
            return []
        try:
            created = sorted(n for n in os.listdir(self.root) if n not in before and _is_config_name(n))
        except OSError:
            created = []
        for name in created:
            path = self.root / name
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError as exc:
                log.warning("could not remove %s that a sandboxed command created: %s", path, exc)
        if listing is not None:
            created += self._take_out(listing, dangling or {})
        return created

    def _take_out(self, listing: planted.Listing, dangling: dict[str, str]) -> list[str]:
        """Git's configuration created at any depth since `listing` (planted.py), out of the workspace."""
        from agent_runtime.config import state_home

        keep = planted.Keep(str(state_home() / "removed"))
        taken = planted.planted(str(self.root), listing, dangling, keep)
        if keep.path is not None:
            log.warning("moved %d entr%s a sandboxed program created out of %s into %s", keep.count,
                        "y" if keep.count == 1 else "ies", self.root, keep.path)
        return taken

    def sweep(self) -> list[str]:
        """What the programs running in this sandbox now (MCP servers) created of git's configuration
        since they started, taken out: after each of their calls, when the host may use the workspace
        next. They run on, so this narrows the window, it does not close it (the host's git is hardened)."""
        taken: list[str] = []
        for listing, dangling, links in list(self._live):
            taken += self._take_out(listing, dangling) + gitkept.relink_all(self.root, links)
        return taken
