"""The one door to the host for git: every git process the agent starts goes through here.

Why: a repository's configuration names programs that git runs on the host, as the user, during
plain reads. A partial clone missing one object makes `git rev-list` fetch it and run
core.sshCommand; `git status` runs core.fsmonitor; diffs run diff.external and textconv; a
filter runs on every file it touches; hooks, a pager, an editor, credential helpers, gpg run
when their moment comes. The repository may be hostile (an archive with its .git, or a `.git`
that code in the sandbox planted at any depth), and the policy runs git while still judging a
command, before anyone approved anything. So no git call of the agent's may run anything of
the repository's, and a test (tests/safety/test_git_door.py) fails on a git process started
anywhere but here (GitPython too: gitrepo.py runs its commands through SafeGit). Each call:

- runs in a clean environment: PATH (absolute entries only), HOME, LANG/LC_ALL=C and the GIT_*
  set here (GIT_CONFIG_NOSYSTEM, GIT_NO_LAZY_FETCH, GIT_TERMINAL_PROMPT=0, ...); nothing
  inherited (GIT_DIR, GIT_SSH_COMMAND, GIT_EXTERNAL_DIFF, GIT_CONFIG_PARAMETERS, SSH_ASKPASS);
- pins with `-c` (which beats every config file) what runs programs: no transport at all
  (GIT_ALLOW_PROTOCOL empty, which a repository's protocol.<name>.allow cannot lift, so no lazy fetch even where GIT_NO_LAZY_FETCH is unknown), hooks,
  fsmonitor, pager, editor, sshCommand, askPass, credential helpers (the list reset), gpg and
  ssh signing programs, diff.external, automatic gc;
- reads the repository's configuration first (`git config --list`, which runs nothing) and
  blanks every driver it names: filters, diff textconv and commands, merge drivers, trailer
  commands, archive compressors, credential helpers per URL, config-based hooks, aliases;
- passes --no-ext-diff --no-textconv to every command that prints diffs;
- refuses a repository whose configuration comes from a file outside it (include.path,
  includeIf, a symlinked config file): UnsafeRepository;
- pins the work tree to the directory that holds `.git` and stops discovery above it, and
  refuses a git directory through which git would read outside the work tree: a `.git` file or
  symlink, a commondir, alternates or any symlink in it leading to another repository or to the
  agent's own state (ForeignRepository; gitdir.py);
- runs git contained (gitbox.py: the work tree and the git directories its check found, read-only,
  nothing else of the host), so what slips past the checks reaches nothing; on the host with the
  checks alone where bubblewrap cannot run (containment); in its own session; git 2.31 or later.

What remains: the user's global settings are a copy of the keys git needs, their programs off like
the repository's. Pathspecs are literal. A missing object is an error, never a fetch. The eval's
fetch may use a transport (`protocols`) into a repository it just made: that call runs on the host.

Standard library only, a base module beside core and config: tools, telemetry (run records),
safety and eval all use it.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

import agent_runtime.gitbox as gitbox
from agent_runtime.core import within
from agent_runtime.gitdir import (
    Escape,
    common_dir,
    escape,
    gitfile_target,
    include_target,
    is_include,
    nested_escape,
    read_regular,
    worktree_escape,
)
from agent_runtime.procs import host_program, search_path

GIT_TIMEOUT_S = 60
# Pinned on every call. An empty credential.helper resets the list; an empty diff.external or
# gpg program fails closed (git reports it cannot run "") instead of running anything.
SAFE_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.editor=false",
    "sequence.editor=false",
    "core.askPass=",
    "credential.helper=",
    "core.sshCommand=false",
    "diff.external=",
    "gpg.program=",
    "gpg.openpgp.program=",
    "gpg.x509.program=",
    "gpg.ssh.program=",
    "gpg.ssh.defaultKeyCommand=",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "log.showSignature=false",
    "protocol.allow=never",
    "submodule.recurse=false",
    "diff.ignoreSubmodules=all",
    "status.submoduleSummary=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "help.autoCorrect=0",
    "core.quotePath=true",
    "safe.bareRepository=explicit",  # a bare repository shipped as plain files is never found by discovery
)
# Pins left to the user's own configuration when a transport is asked for (`protocols`).
_TRANSPORT_PINS = ("core.askPass=", "credential.helper=", "core.sshCommand=false")
# Options that keep diff-like commands from running configured programs; added by the door.
NO_PROGRAMS = ("--no-ext-diff", "--no-textconv")
_DIFFING = {"diff", "log", "show", "whatchanged", "format-patch", "diff-tree", "diff-index", "diff-files"}
# Configuration keys (lower-case, as `git config --list` prints them) that name a program, and
# what each is set to instead. Three-part keys match on their first and last part.
_PROGRAM_KEYS = {
    ("filter", "clean"): "", ("filter", "smudge"): "", ("filter", "process"): "", ("filter", "required"): "false",
    ("diff", "textconv"): "", ("diff", "command"): "", ("merge", "driver"): "",
    ("trailer", "command"): "", ("trailer", "cmd"): "", ("tar", "command"): "", ("credential", "helper"): "",
    ("hook", "command"): "", ("alias", None): "", ("pager", None): "false", ("remote", "uploadpack"): "",
    ("remote", "receivepack"): "", ("remote", "vcs"): "", ("difftool", "cmd"): "", ("mergetool", "cmd"): "",
    ("core", "alternaterefscommand"): "", ("browser", "cmd"): "", ("man", "cmd"): "",
}
# The environment a git call may be given besides the door's own (the eval's repositories).
CALLER_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_GLOBAL", "GIT_AUTHOR_NAME",
              "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
              "GIT_COMMITTER_DATE", "GIT_LITERAL_PATHSPECS", "HOME")
# Set on every call, whatever the caller gives.
_DOOR_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_NO_LAZY_FETCH": "1",  # a missing object is an error, not a fetch (git 2.39.4 and later)
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",  # reading never rewrites the index
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_PAGER": "cat",
    "GIT_PROTOCOL_FROM_USER": "0",
    # No transport at all (run_git's `protocols` names the allowed ones): unlike protocol.allow=never,
    # a repository's own protocol.<name>.allow=always cannot lift it, so a git too old for
    # GIT_NO_LAZY_FETCH still fetches nothing lazily.
    "GIT_ALLOW_PROTOCOL": "",
}
# With a transport asked for: what reaching a remote needs from the user's environment.
_TRANSPORT_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                  "SSH_AUTH_SOCK", "GIT_SSL_CAINFO", "SSL_CERT_FILE", "SSL_CERT_DIR")


class GitError(Exception):
    """git failed; the message is git's own (first lines of stderr)."""


class NotARepository(GitError):
    pass


class ForeignRepository(NotARepository):
    """git run in this work tree would read another repository's files (see git_dir_escape)."""


class UnsafeRepository(GitError):
    """The repository's configuration comes from a file outside it: git is not run there."""


def find_top(start: Path) -> Path | None:
    """The directory holding `.git` (a directory or a gitfile), walking up from `start`."""
    current = Path(start).resolve()
    for directory in (current, *current.parents):
        if (directory / ".git").exists():
            return directory
    return None


def git_dir_escape(top: Path, allowed: list[Path] | None = None) -> Escape | None:
    """The first path through which git run in the work tree `top` would read outside it: a `.git`
    file or symlink naming someone else's repository, a commondir, an alternates line, a symlink
    anywhere in the git directory (gitdir.py says why and how); None when git reads only `top`.
    Allowed: a linked worktree's git directory and main repository (each names the other), a
    submodule's git directory (its core.worktree names `top`)."""
    return escape(top, lambda git_dir: config_file_get(git_dir / "config", "core.worktree"), allowed=allowed)


def git_worktree_escape(top: Path) -> Escape | None:
    """A core.worktree of the repository naming a folder outside `top` (gitdir.worktree_escape): the door's
    calls pin GIT_WORK_TREE, but a git command the user's shell runs there reads that folder's files."""
    return worktree_escape(top, _worktrees)


def nested_git_escape(top: Path) -> Escape | str | None:
    """The first nested repository of the work tree `top` whose git directory leads outside it (a planted
    `sub/.git` naming another repository, whose files `git log -p --submodule=diff` prints); "many"
    when there are too many files to look; None when there is none (gitdir.nested_escape)."""
    return nested_escape(top, lambda git_dir: config_file_get(git_dir / "config", "core.worktree"), _worktrees)


def _worktrees(git_dir: Path) -> list[str]:
    """Every core.worktree the git directory's own configuration files set (git reads it from these two
    only, not through include.path: checked, it is not honoured there)."""
    found = (config_file_get(git_dir / name, "core.worktree") for name in ("config", "config.worktree")
             if "worktree" in config_text(git_dir / name).lower())  # git is asked only where it can be set
    return [value for value in found if value]


def config_text(path: Path) -> str:
    """A configuration file's text (its first MiB), "" when there is none: to see cheaply whether a key can
    be set there at all before asking git."""
    data = read_regular(path)  # a FIFO there would hold the agent for ever
    return data.decode("utf-8", "replace") if data is not None else ""


def check_git_dir(top: Path) -> list[Path]:
    """ForeignRepository, saying which file leads where, when git_dir_escape finds a way out; else the
    folders that look found git may read (the work tree, a linked worktree's git directories): all a
    contained git call is shown, so a `.git`, `commondir` or alternates flipped after the look leads nowhere."""
    allowed: list[Path] = []
    found = git_dir_escape(top, allowed)
    if found is not None:
        raise ForeignRepository(found.message())
    return allowed


def foreign_git_dir(top: Path) -> Path | None:
    """Where git run in `top` would read outside it (git_dir_escape); None when nowhere."""
    found = git_dir_escape(top)
    return None if found is None else found.target


def git_dirs(top: Path) -> list[Path]:
    """The git directory of the work tree `top` and its common directory (a linked worktree's
    main repository), resolved, without running git."""
    dot_git = top / ".git"
    git_dir = gitfile_target(dot_git) or Path(os.path.realpath(dot_git))
    common = common_dir(git_dir)
    return [git_dir] if common is None else [git_dir, common]


def git_environment(extra: Mapping[str, str] | None = None, transport: bool = False) -> dict[str, str]:
    """The whole environment of a git call: only what git needs, and the door's own GIT_*."""
    env = {"PATH": search_path(), "LANG": "C", "LC_ALL": "C"}
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    if transport:
        env.update({k: os.environ[k] for k in _TRANSPORT_ENV if k in os.environ})
    for key, value in (extra or {}).items():
        if key not in CALLER_ENV and key not in _DOOR_ENV:  # the door's own are set below, whatever given
            raise ValueError(f"{key} is not for a git call (gitcmd.CALLER_ENV)")
        env[key] = value
    env.update(_DOOR_ENV)
    env.setdefault("GIT_LITERAL_PATHSPECS", "1")
    return env


def _pins(protocols: Sequence[str], leave: Sequence[str] = ()) -> list[str]:
    pins = [item for item in SAFE_CONFIG if not (protocols and item in _TRANSPORT_PINS) and item not in leave]
    pins += [f"protocol.{name}.allow=always" for name in protocols]
    args = ["git", "--no-pager"]
    for item in pins:
        args += ["-c", item]
    return args


def _program_key(key: str) -> str | None:
    """The inert value for a configuration key that names a program; None for any other key."""
    section, _, rest = key.partition(".")
    last = rest.rpartition(".")[2]
    for wanted in ((section.lower(), last.lower()), (section.lower(), None)):
        if wanted in _PROGRAM_KEYS:
            return _PROGRAM_KEYS[wanted]
    return None


def _outside(origin: str, cwd: Path, roots: Sequence[Path]) -> bool:
    if not origin.startswith("file:"):
        return False  # the command line (the door's own pins), standard input
    path = Path(os.path.realpath(cwd / origin[5:]))
    return not any(within(path, root) for root in roots)


MIN_GIT = (2, 31)  # GIT_CONFIG_COUNT/KEY/VALUE; an older git would ignore the blanking silently


@functools.lru_cache(maxsize=1)
def _version_problem() -> str | None:
    """Why this git cannot be used through the door (too old, missing); None when it can."""
    env = {**git_environment(), "GIT_DIR": os.devnull + "/none"}
    try:
        proc = _call(["git", "version"], Path("/"), env, None, GIT_TIMEOUT_S, gitbox.View())
    except GitError as exc:
        return str(exc)
    found = re.search(rb"(\d+)\.(\d+)", proc.stdout)
    if found is None or (int(found[1]), int(found[2])) < MIN_GIT:
        text = proc.stdout.decode("utf-8", "replace").strip() or "an unknown version"
        return f"{text} is too old: the agent needs git {MIN_GIT[0]}.{MIN_GIT[1]} or later to run it safely"
    return None


def read_overrides(cwd: Path, env: Mapping[str, str], roots: Sequence[Path], pins: Sequence[str],
                   view: gitbox.View | None = None) -> dict[str, str]:
    """GIT_CONFIG_COUNT/KEY/VALUE entries blanking every program the configuration seen from
    `cwd` names (see the module): like `-c`, but for any key, even a subsection holding `=`.
    UnsafeRepository when the repository's own configuration (local, worktree) comes from, or
    includes, a file outside `roots`; GitError when git cannot read it. `view`: what the reading
    git is shown (contained, see _call); by default `roots`."""
    problem = _version_problem()
    if problem is not None:
        raise GitError(problem)
    top = find_top(cwd)
    for root in [*roots, *(git_dirs(top) if top is not None else [])]:
        # a configuration file that is a symlink out: refused, whether or not git could see its target
        for name in ("config", "config.worktree"):
            path = Path(root) / name
            if path.is_symlink() and not any(within(Path(os.path.realpath(path)), r) for r in roots):
                raise UnsafeRepository(f"the repository's configuration {path} is a link to a file outside it, "
                                       "so git is not used there")
    proc = _call([*pins, "config", "--list", "--includes", "--show-scope", "--show-origin", "-z"], cwd, dict(env),
                 None, GIT_TIMEOUT_S, gitbox.View(read=tuple(roots)) if view is None else view)
    if proc.returncode != 0:
        text = proc.stderr.decode("utf-8", "replace")
        if "not a git repository" in text:
            return {}  # init, clone: no repository of anyone's yet
        raise GitError("git cannot read the repository's configuration: " + " ".join(text.split())[:300])
    fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    items: dict[str, str] = {}
    for scope, origin, entry in zip(fields[0::3], fields[1::3], fields[2::3]):
        key, _, named = entry.partition("\n")
        if scope in ("local", "worktree"):
            outside = origin if _outside(origin, cwd, roots) else None
            if outside is None and is_include(key) and origin.startswith("file:"):
                # contained, git skips a file it cannot see: the include itself says where it reads
                target = include_target(cwd / origin[5:], named, env.get("HOME", ""))
                outside = "file:" + str(target) if not any(within(target, r) for r in roots) else None
            if outside is not None:
                raise UnsafeRepository(f"the repository's configuration reads {outside[5:]}, a file outside it "
                                       "(include.path, includeIf or a symlink), so git is not used there")
        value = _program_key(key)
        if value is None:
            continue
        items[key] = value
        if key.lower().startswith("filter."):  # a blanked filter must not be required either
            items[f"{key.rpartition('.')[0]}.required"] = "false"
    out = {"GIT_CONFIG_COUNT": str(len(items))}
    for i, (key, value) in enumerate(items.items()):
        out[f"GIT_CONFIG_KEY_{i}"], out[f"GIT_CONFIG_VALUE_{i}"] = key, value
    return out


def with_no_programs(args: Sequence[str]) -> list[str]:
    """`args` with --no-ext-diff --no-textconv after a subcommand that prints diffs."""
    args = list(args)
    if args and args[0] in _DIFFING:
        return [args[0], *NO_PROGRAMS, *args[1:]]
    return args


def run_git(args: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None, input: bytes | None = None,
            timeout: float = GIT_TIMEOUT_S, protocols: Sequence[str] = (),
            roots: Sequence[Path] | None = None) -> subprocess.CompletedProcess:
    """One git call through the door (see the module): the repository's programs switched off,
    its configuration checked first. `env`: more of the environment, only CALLER_ENV names.
    `protocols`: transports allowed (the eval fetching into a repository it just made).
    `roots`: where the repository's configuration files may be (default: `cwd`, the work tree
    holding it and its git directories, GIT_DIR).
    Raises GitError (UnsafeRepository) when git cannot be run safely; a git failure is the
    returned process's exit code."""
    cwd = Path(cwd)
    full_env = git_environment(env, transport=bool(protocols))
    pins = _pins(protocols)
    if roots is None:
        roots = [Path(os.path.realpath(cwd))]
        top = find_top(cwd)
        if top is not None:
            roots.append(Path(os.path.realpath(top)))
        if top is not None and not full_env.get("GIT_DIR"):
            roots += check_git_dir(top)
        if full_env.get("GIT_DIR"):
            roots.append(Path(os.path.realpath(cwd / full_env["GIT_DIR"])))
    # The eval's own repositories, which it writes: shown writable, and nothing else of the host.
    named = [full_env[k] for k in ("GIT_WORK_TREE", "GIT_DIR") if full_env.get(k)]
    if full_env.get("GIT_INDEX_FILE"):
        named.append(os.path.dirname(cwd / full_env["GIT_INDEX_FILE"]))
    view = gitbox.View(write=(*roots, *(Path(os.path.realpath(cwd / p)) for p in named)))
    full_env.update(read_overrides(cwd, full_env, roots, pins, view))
    full_env["GIT_ALLOW_PROTOCOL"] = ":".join(protocols)
    # A transport needs the network and what reaches a remote: on the host (the eval fetching a snapshot).
    return _call([*pins, *with_no_programs(args)], cwd, full_env, input, timeout, None if protocols else view)


def _call(command: list[str], cwd: Path, env: dict[str, str], input: bytes | None,
          timeout: float, view: gitbox.View | None = None, persons: bool = False) -> subprocess.CompletedProcess:
    """Run one git command: contained (gitbox) and shown only `view` when given and bubblewrap runs here.
    `persons`: git reads the person's own global files the view shows, not the copy of their settings."""
    way = containment() if view is not None else None
    settings = None
    if way is not None and way.bwrap is not None:
        env = dict(env)
        if "GIT_CONFIG_GLOBAL" not in env and not persons:
            settings = _settings_fd()
            env["GIT_CONFIG_GLOBAL"] = gitbox.GLOBAL_CONFIG
        program = host_program("git")  # the git the host would run (and the version check saw), shown inside
        command = gitbox.wrap(way, [program or command[0], *command[1:]], cwd, view, settings)
    try:
        # A session of its own: no terminal, so `include.path = /dev/tty` or a prompt reads nothing the user types.
        return subprocess.run(command, cwd=cwd, env=env, input=input, capture_output=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL, start_new_session=True,
                              pass_fds=() if settings is None else (settings,))
    except subprocess.TimeoutExpired:
        raise GitError(f"git {_subcommand(command)} took over {timeout:.0f} s") from None
    except OSError as exc:
        raise GitError(f"git could not start: {exc}") from None
    finally:
        if settings is not None:
            os.close(settings)


@functools.lru_cache(maxsize=2)
def _containment(euid: int) -> gitbox.Probe:
    git = host_program("git") or "git"
    why = gitbox.NOT_INSTALLED
    for way in gitbox.candidates():
        try:
            done = subprocess.run(gitbox.probe_argv(way, git), capture_output=True, timeout=20,
                                  stdin=subprocess.DEVNULL, env=git_environment(), start_new_session=True)
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = str(exc)
            continue
        if done.returncode == 0:
            return way
        why = " ".join(done.stderr.decode("utf-8", "replace").split())[:200] or f"exit code {done.returncode}"
    return gitbox.Probe(None, note=f"{why}: the agent's git runs on the host, with the door's checks only")


def containment() -> gitbox.Probe:
    """How the agent's git is contained here (bwrap and its flags), or why it is not (probed once)."""
    return _containment(os.geteuid())


def _settings_fd() -> int:
    """A file descriptor holding the copy of the user's global settings (gitbox.global_settings), read
    again when ~/.gitconfig or git's XDG file changes."""
    key = gitbox.settings_key()
    if key not in _SETTINGS:
        env = git_environment()
        env["GIT_DIR"] = os.devnull + "/none"  # the user's own files only: no repository is read
        try:
            done = subprocess.run([*_pins(()), "config", "--global", "--list", "--includes", "-z"], cwd="/", env=env,
                                  capture_output=True, timeout=10, stdin=subprocess.DEVNULL, start_new_session=True)
            listed = done.stdout.decode("utf-8", "surrogateescape").split("\0") if done.returncode == 0 else []
        except (OSError, subprocess.TimeoutExpired):
            listed = []
        _SETTINGS.clear()
        _SETTINGS[key] = gitbox.global_settings([e for e in listed if e]).encode("utf-8", "surrogateescape")
    return gitbox.memory_file(_SETTINGS[key])


_SETTINGS: dict[tuple, bytes] = {}


def _subcommand(command: Sequence[str]) -> str:
    rest = list(command[1:])
    while rest and rest[0].startswith("-"):
        rest = rest[2:] if rest[0] == "-c" else rest[1:]
    return rest[0] if rest else ""


def config_file_get(path: Path, key: str) -> str | None:
    """One value of one configuration file (`git config --file PATH --get KEY`), read with no
    repository around (GIT_DIR names none) and no includes; None when unset or unreadable."""
    env = git_environment()
    env["GIT_DIR"] = os.devnull + "/none"  # no repository: nothing discovered from the current directory
    try:
        proc = _call([*_pins(()), "config", "--file", str(path), "--get", key], Path("/"), env, None, 10,
                     gitbox.View(read=(Path(path),)))
    except GitError:
        return None
    value = proc.stdout.decode("utf-8", "replace").strip()
    return value if proc.returncode == 0 and value else None


class SafeGit:
    """git for one repository (its work tree `top`), through the door (see the module)."""

    def __init__(self, top: Path, hidden: Sequence[Path] = ()):
        dirs = git_dirs(top) if hidden else []  # git reads its own directory: never covered
        self.top, self.hidden = top, tuple(p for p in hidden if not any(within(p, d) for d in dirs))
        self.env = git_environment({"GIT_WORK_TREE": str(top)})
        self.env["GIT_CEILING_DIRECTORIES"] = str(top.parent)
        self.roots = [Path(os.path.realpath(top))]  # and what check() finds git may read besides
        self._pins = _pins(())
        self._read = False
        self._checked = False

    def view(self, args: Sequence[str]) -> gitbox.View:
        """What a call with `args` is shown (contained, see gitbox): the work tree and the git directories the
        check found, read-only."""
        return gitbox.View(read=tuple(self.roots), hidden=self.hidden)

    def check(self) -> None:
        """ForeignRepository when git here would read outside the work tree (git_dir_escape); once."""
        if not self._checked:
            self.roots += [p for p in check_git_dir(self.top) if p not in self.roots]
            self._checked = True

    def ready(self) -> None:
        """The door's checks, once: the git directory (check) and the repository's configuration
        (read, refused when it comes from outside, its programs blanked in self.env)."""
        if not self._read:
            self.check()
            self.env.update(read_overrides(self.top, self.env, self.roots, self._pins))
            self._read = True

    def command(self, *args: str) -> list[str]:
        """The argv of a call, the door's checks run first (ready)."""
        self.ready()
        return [*self._pins, *with_no_programs(args)]

    def call(self, *args: str, timeout: float = GIT_TIMEOUT_S, input: bytes | None = None) -> subprocess.CompletedProcess:
        """The finished process, whatever its exit code; GitError when git could not be run safely."""
        command = self.command(*args)
        return _call(command, self.top, self.env, input, timeout, self.view(args))

    def run_bytes(self, *args: str, ok_codes: tuple[int, ...] = (0,), input: bytes | None = None) -> bytes:
        proc = self.call(*args, input=input)
        if proc.returncode not in ok_codes:
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            text = " ".join(message[:3])[:500] or f"exit code {proc.returncode}"
            if "not a git repository" in text:
                raise NotARepository(text)
            raise GitError(f"git {args[0] if args else ''} failed: {text}")
        return proc.stdout

    def run(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        return self.run_bytes(*args, ok_codes=ok_codes).decode("utf-8", "replace")

    # --- what several callers ask ---

    def head(self) -> str | None:
        out = self.run("rev-parse", "--verify", "-q", "HEAD^{commit}", ok_codes=(0, 1)).strip()
        return out or None

    def branch(self) -> str | None:
        """The current branch; None on a detached HEAD."""
        out = self.run("symbolic-ref", "--short", "-q", "HEAD", ok_codes=(0, 1)).strip()
        return out or None

    def ask(self, args: Sequence[str], env: Mapping[str, str], view: gitbox.View,
            hooks: bool = False) -> subprocess.CompletedProcess:
        """A call that runs no repository program whatever the configuration says (`config --list`, `rev-parse`,
        `worktree list`), so none is read first: with `env` and `view` of the caller's (the person's own system
        and global files shown, read instead of the copy of their settings). `hooks`: core.hooksPath left to
        the configuration, for asking where it points."""
        pins = _pins((), leave=("core.hooksPath=/dev/null",)) if hooks else self._pins
        return _call([*pins, *args], self.top, dict(env), None, GIT_TIMEOUT_S, view, persons=True)

    def status_z(self) -> bytes:
        return self.run_bytes("status", "--porcelain=v1", "-z", "--branch", "--untracked-files=all",
                              "--ignore-submodules=all")


# What PrivateGit runs that changes nothing in its store (the rest, `status` too, may write it).
STORE_READS = frozenset({"cat-file", "diff-tree", "ls-tree", "ls-files", "rev-parse", "log", "show", "config",
                         "version", "for-each-ref"})


class PrivateGit(SafeGit):
    """git on a store of the agent's own (patches/checkpoint.py): its git directory and index outside
    the work tree, so the repository's .git (config, hooks, index, refs) is never read or written;
    and only the store's own configuration (no system or global file: no user filter runs either)."""

    def __init__(self, git_dir: Path, work_tree: Path, index_file: Path):
        super().__init__(work_tree)
        self.env.update(GIT_DIR=str(git_dir), GIT_INDEX_FILE=str(index_file), GIT_CONFIG_GLOBAL=os.devnull,
                        GIT_NO_LAZY_FETCH="1")
        self.env.pop("GIT_CEILING_DIRECTORIES", None)
        self.env.pop("GIT_OPTIONAL_LOCKS", None)  # its index is ours: status may refresh it (the stat cache)
        self.roots.append(Path(os.path.realpath(git_dir)))
        self.store = (Path(os.path.realpath(git_dir)), Path(os.path.realpath(index_file.parent)))
        self._read = True  # its configuration is ours: no program to blank

    def view(self, args: Sequence[str]) -> gitbox.View:
        """The work tree read-only; the store writable only for a command that writes it."""
        if args and args[0] in STORE_READS:
            return gitbox.View(read=(*self.roots, *self.store))
        return gitbox.View(read=tuple(self.roots), write=self.store)


def safe_git(root: Path, hidden: Sequence[Path] = ()) -> SafeGit:
    """git for the repository that holds `root`; NotARepository when there is none, ForeignRepository
    (with the one-line reason) when git there would read outside it (git_dir_escape)."""
    top = find_top(root)
    if top is None:
        raise NotARepository(f"{root} is not inside a git repository")
    repo = SafeGit(top, hidden)
    repo.check()
    return repo
