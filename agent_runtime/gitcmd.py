"""The agent's own git calls: one way to run git that a repository cannot turn into running a program.

A repository's `.git/config` (or an environment variable inherited from wherever the agent was
started) can make git run commands on the host: core.fsmonitor, hooks, a pager, external diff
drivers, textconv, clean/smudge filters, gpg for signatures. It can also move the working tree
(core.worktree) so that `git diff` shows files outside the workspace. Every git call of the
agent itself (tools, repo_info, run records) goes through `safe_git`, which:

- drops every inherited GIT_* variable (GIT_DIR, GIT_WORK_TREE, GIT_CONFIG_COUNT/KEY/VALUE,
  GIT_EXTERNAL_DIFF, GIT_EXEC_PATH, ...) and sets GIT_CONFIG_NOSYSTEM=1;
- pins the working tree to the directory that holds `.git` and stops discovery there;
- overrides the settings that run programs: `-c core.fsmonitor=false -c core.hooksPath=/dev/null
  -c core.pager=cat -c log.showSignature=false -c protocol.allow=never`, and blanks every filter
  driver the repository configures (clean, smudge, process);
- passes `--no-ext-diff --no-textconv` to diff and log, and ignores submodules (whose own
  configuration would apply in their directories).

What remains: the user's own global git configuration (~/.gitconfig) is honoured, as it is the
user's; filters configured there (git-lfs) still run. Pathspecs are literal.

Standard library only, a base module beside core and config: tools, telemetry (run records)
and safety may all use it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from agent_runtime.core import within

GIT_TIMEOUT_S = 60
SAFE_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.editor=false",
    "log.showSignature=false",
    "protocol.allow=never",
    "diff.ignoreSubmodules=all",
    "status.submoduleSummary=false",
    "core.quotePath=true",
)
# Options that keep diff-like commands from running configured programs.
NO_PROGRAMS = ("--no-ext-diff", "--no-textconv")
_FILTER_KEYS = ("clean", "smudge", "process")


class GitError(Exception):
    """git failed; the message is git's own (first lines of stderr)."""


class NotARepository(GitError):
    pass


class ForeignRepository(NotARepository):
    """The work tree's .git file points to someone else's repository (see foreign_git_dir)."""


def find_top(start: Path) -> Path | None:
    """The directory holding `.git` (a directory or a gitfile), walking up from `start`."""
    current = Path(start).resolve()
    for directory in (current, *current.parents):
        if (directory / ".git").exists():
            return directory
    return None


GITFILE_MAX_BYTES = 4096


def foreign_git_dir(top: Path) -> Path | None:
    """When `top/.git` is a file (`gitdir: PATH`) naming a git directory outside `top` that is not
    this work tree's, that directory; else None. Git follows such a file anywhere: an unpacked
    archive whose `.git` says `gitdir: ../private/.git` makes `git diff` print every file of that
    other repository as deleted lines, and `git log` its history. A linked worktree's git
    directory names this `.git` file in its `gitdir` file, an absorbed submodule's names this
    directory as core.worktree: those belong here."""
    dot_git = top / ".git"
    try:
        if dot_git.is_symlink() or not dot_git.is_file():
            return None
        with open(dot_git, "rb") as handle:
            text = handle.read(GITFILE_MAX_BYTES).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    target = Path(text[7:].strip())
    git_dir = Path(os.path.realpath(target if target.is_absolute() else top / target))
    root = Path(os.path.realpath(top))
    if within(git_dir, root):
        return None  # inside the workspace: nothing of anyone else's
    try:  # a linked worktree (git worktree add): its gitdir file names our .git file
        back = (git_dir / "gitdir").read_text(encoding="utf-8", errors="replace").strip()
        if Path(os.path.realpath(Path(back) if os.path.isabs(back) else git_dir / back)) == root / ".git":
            return None
    except OSError:
        pass
    try:  # a submodule's git directory (.git/modules/NAME): core.worktree names this directory
        proc = subprocess.run(["git", "config", "--file", str(git_dir / "config"), "--get", "core.worktree"],
                              capture_output=True, timeout=GIT_TIMEOUT_S, stdin=subprocess.DEVNULL,
                              env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")})
        worktree = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode == 0 and worktree and Path(os.path.realpath(
                Path(worktree) if os.path.isabs(worktree) else git_dir / worktree)) == root:
            return None
    except (OSError, subprocess.TimeoutExpired):
        pass
    return git_dir


def clean_environment(top: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.pop("PAGER", None)
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_WORK_TREE": str(top),
        "GIT_CEILING_DIRECTORIES": str(top.parent),
        "GIT_OPTIONAL_LOCKS": "0",  # reading never rewrites the index
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_LITERAL_PATHSPECS": "1",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "LC_ALL": "C",
    })
    return env


class SafeGit:
    """git for one repository, with the repository's programs switched off (see the module)."""

    def __init__(self, top: Path):
        self.top = top
        self.env = clean_environment(top)
        self._config: tuple[str, ...] | None = None

    def _base(self) -> list[str]:
        args = ["git"]
        for item in SAFE_CONFIG:
            args += ["-c", item]
        return args

    def _filter_overrides(self) -> tuple[str, ...]:
        """`-c filter.NAME.clean=` ... for every filter driver configured outside the user's own
        global file (the repository's config and what it includes)."""
        if self._config is None:
            proc = subprocess.run(self._base() + ["config", "--show-scope", "--null", "--name-only", "--get-regexp",
                                                  r"^filter\."],
                                  cwd=self.top, env=self.env, capture_output=True, timeout=GIT_TIMEOUT_S,
                                  stdin=subprocess.DEVNULL)
            names: set[str] = set()
            fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
            for scope, key in zip(fields[0::2], fields[1::2]):
                if scope == "global":
                    continue
                name = key.split(".", 1)[1].rpartition(".")[0] if key.count(".") >= 2 else ""
                if name:
                    names.add(name)
            overrides: list[str] = []
            for name in sorted(names):
                overrides += [f"filter.{name}.{k}=" for k in _FILTER_KEYS] + [f"filter.{name}.required=false"]
            self._config = tuple(overrides)
        return self._config

    def command(self, *args: str) -> list[str]:
        full = self._base()
        for item in self._filter_overrides():
            full += ["-c", item]
        return full + list(args)

    def run_bytes(self, *args: str, ok_codes: tuple[int, ...] = (0,), input: bytes | None = None) -> bytes:
        proc = subprocess.run(self.command(*args), cwd=self.top, env=self.env, capture_output=True,
                              timeout=GIT_TIMEOUT_S, input=input,
                              stdin=subprocess.DEVNULL if input is None else None)
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

    def status_z(self) -> bytes:
        return self.run_bytes("status", "--porcelain=v1", "-z", "--branch", "--untracked-files=all",
                              "--ignore-submodules=all")


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
        self._config = ()  # its configuration is ours: no filter driver to blank


def safe_git(root: Path) -> SafeGit:
    """git for the repository that holds `root`; NotARepository when there is none."""
    top = find_top(root)
    if top is None:
        raise NotARepository(f"{root} is not inside a git repository")
    foreign = foreign_git_dir(top)
    if foreign is not None:
        raise ForeignRepository(f"{top}/.git points to {foreign}, a repository outside the workspace that is not "
                             "this directory's (not its linked worktree or submodule), so git is not used here")
    return SafeGit(top)
