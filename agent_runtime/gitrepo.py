"""GitPython through the door: the `Repo` the agent uses, every git command of it run by
gitcmd's SafeGit, so with the door's environment, its `-c` pins and its checks first.

Why a module of its own: GitPython does more than start git. It reads the git directory in Python
(HEAD, refs, packed-refs, the configuration with its includes, the index, `gitdir:` and `commondir`
files), and it finds that directory its own way: a `gitdir:` path is joined lexically (normpath), so
`gitdir: d/../../x` with `d` a symlink names one directory to git and the door (which resolve the
symlink) and another, outside the workspace, to GitPython. So the door's Repo is never made by
GitPython's discovery, and reads nothing in Python:

- DoorRepo takes the git directory and common directory as the door resolved and checked them
  (gitcmd.git_dirs, after SafeGit.ready: the gitdir check, the configuration read and checked);
- DoorGit.execute runs each command through SafeGit.call; what would let a command differ from the
  door's (global options before the subcommand such as `-c`, an environment, a shell, a live
  process to write to) is refused, and an `as_process` caller gets the finished process's output;
- what GitPython does in Python on the git directory (PYTHON_SIDE: references, configuration,
  index, submodules, rev_parse, hooks run by index.commit) raises NotThroughTheDoor, and so do its
  objects (odb, iter_commits, blame): parsed in Python from `cat-file`, they decode a commit with any
  codec its `encoding` header names (punycode: quadratic), assume SHA-1 and copy a commit four times,
  where git's own commands (`repo.git.log(...)`) read them in one process as git log does.

GitPython itself runs `git version` when it is imported (Git.refresh), from the current directory,
with the inherited environment and PATH (`.` there would start a repository's own `git`): it is
imported here with an executable that does not exist, so that first call starts nothing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from agent_runtime.gitcmd import GitError, SafeGit, git_dirs, safe_git

# GitPython's import-time refresh runs `git version` through Popen: given a program that does not exist
# (FileNotFoundError, so no program starts) and told to stay quiet, it starts nothing.
_IMPORT_ENV = {"GIT_PYTHON_GIT_EXECUTABLE": "/proc/self/no-git", "GIT_PYTHON_REFRESH": "quiet"}  # /proc: nobody can create it


def _import_gitpython() -> Any:
    saved = {name: os.environ.get(name) for name in _IMPORT_ENV}
    os.environ.update(_IMPORT_ENV)
    try:
        import git

        return git
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


git = _import_gitpython()
from git.exc import GitCommandError  # noqa: E402 (after the guarded import above)

# What GitPython does in Python on the git directory, or that runs programs itself: not through the door.
PYTHON_SIDE = frozenset({
    "head", "heads", "branches", "refs", "references", "tags", "tag", "remotes", "remote", "active_branch",
    "create_head", "delete_head", "create_tag", "delete_tag", "create_remote", "delete_remote",
    "index", "config_reader", "config_writer", "submodules", "submodule", "create_submodule",
    "iter_submodules", "submodule_update", "rev_parse", "commit", "tree", "is_dirty", "alternates",
    "description", "daemon_export", "currently_rebasing_on", "has_separate_working_tree", "clone",
    # GitPython's objects: parsed in Python from `cat-file` (a commit's encoding decoded by any codec it
    # names, quadratic for some; SHA-1 assumed), where git's own commands read them as git log does.
    "odb", "iter_commits", "iter_trees", "blame", "blame_incremental",
})


class NotThroughTheDoor(GitError):
    """A GitPython use that would not go through the door: refused, nothing read or run."""


class DoorCommandError(GitCommandError, GitError):
    """git failed through the door: GitPython's GitCommandError (what its own code catches) and the
    door's GitError (what the agent catches), with the door's one-line message."""

    def __init__(self, args: list[str], status: int, stderr: bytes, stdout: bytes):
        super().__init__(["git", *args], status, stderr, stdout)
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        self.message = f"git {args[0] if args else ''} failed: " + (" ".join(lines[:3])[:500] or f"exit code {status}")

    def __str__(self) -> str:
        return self.message


class _Finished:
    """A git process the door ran to its end, shaped as GitPython reads one (as_process=True): no live
    process is handed out, so nothing reaches git's standard input after the door's checks."""

    def __init__(self, args: list[str], returncode: int, stdout: bytes, stderr: bytes):
        self.args, self.returncode, self._stderr = args, returncode, stderr
        self.stdout, self.stderr, self.stdin = io.BytesIO(stdout), io.BytesIO(stderr), None

    def wait(self, stderr: bytes | str | None = b"") -> int:
        if self.returncode != 0:
            raise DoorCommandError(self.args, self.returncode, self._stderr, b"")
        return self.returncode


class DoorGit(git.cmd.Git):
    """git.cmd.Git whose every command runs through the door (SafeGit.call)."""

    def __init__(self, door: SafeGit):
        if not isinstance(door, SafeGit):  # Repo.init / clone_from make one from a directory: not the door's
            raise NotThroughTheDoor("GitPython's git runs only through the door (gitrepo.door_repo)")
        super().__init__(door.top)
        self._door = door

    def execute(self, command: Any, istream: Any = None, with_extended_output: bool = False,
                with_exceptions: bool = True, as_process: bool = False, output_stream: Any = None,
                stdout_as_string: bool = True, kill_after_timeout: float | None = None, with_stdout: bool = True,
                universal_newlines: bool = False, shell: bool | None = None, env: Any = None,
                max_chunk_size: int = 0, strip_newline_in_stdout: bool = True, **popen_options: Any) -> Any:
        args = self._door_args(command)
        given = {"an environment": env or self._environment, "a shell": shell, "text mode": universal_newlines,
                 "an output stream": output_stream, "Popen options": popen_options,
                 "a live standard input": istream is not None and not hasattr(istream, "read")}
        refused = [what for what, value in given.items() if value]
        if refused:
            raise NotThroughTheDoor(f"git {args[0]} with {', '.join(refused)}: the door runs git its own way")
        timeout = {"timeout": kill_after_timeout} if kill_after_timeout else {}
        done = self._door.call(*args, input=istream.read() if istream is not None else None, **timeout)
        out, err = (done.stdout if with_stdout else b""), done.stderr
        if as_process:
            return _Finished(args, done.returncode, out, err)
        out = out[:-1] if strip_newline_in_stdout and out.endswith(b"\n") else out
        err = err[:-1] if err.endswith(b"\n") else err
        if with_exceptions and done.returncode != 0:
            raise DoorCommandError(args, done.returncode, err, out)
        value = out.decode("utf-8", "replace") if stdout_as_string else out
        return (done.returncode, value, err.decode("utf-8", "replace")) if with_extended_output else value

    @staticmethod
    def _door_args(command: Any) -> list[str]:
        """The subcommand and its arguments; anything before the subcommand (GitPython's `git(c=...)`,
        persistent options: a later `-c` beats the door's pins) is refused."""
        if isinstance(command, (str, bytes)) or len(command) < 2:
            raise NotThroughTheDoor("a git command for the door is a list: program, subcommand, arguments")
        args = [os.fspath(arg) for arg in command[1:]]
        if args[0].startswith("-"):
            raise NotThroughTheDoor(f"git options before the subcommand ({args[0]}) would override the door's")
        return args


class DoorRepo(git.Repo):
    """git.Repo for the work tree of `door`, made from the door's own reading of its git directory
    (GitPython's discovery never runs), all its git commands through the door, PYTHON_SIDE refused."""

    GitCommandWrapperType = DoorGit

    def __init__(self, door: SafeGit):
        door.ready()  # the door's checks before anything: ForeignRepository, UnsafeRepository
        dirs = git_dirs(door.top)
        self.git_dir = os.fspath(dirs[0])
        self._common_dir = os.fspath(dirs[-1]) if len(dirs) > 1 else ""
        self._working_tree_dir = self.working_dir = os.fspath(door.top)
        self._bare = False
        self.door = door
        self.git = DoorGit(door)

    @classmethod
    def init(cls, *args: Any, **kwargs: Any) -> Any:
        raise NotThroughTheDoor("Repo.init makes a repository with GitPython's own git: not through the door")

    @classmethod
    def clone_from(cls, *args: Any, **kwargs: Any) -> Any:
        raise NotThroughTheDoor("Repo.clone_from runs GitPython's own git: not through the door")

    def __getattribute__(self, name: str) -> Any:
        if name in PYTHON_SIDE:
            raise NotThroughTheDoor(f"Repo.{name} reads or writes the git directory in Python (or runs a program "
                                    "itself), not through the door: ask git through repo.git")
        return super().__getattribute__(name)


def door_repo(root: Path) -> DoorRepo:
    """The Repo of the repository holding `root`, through the door: NotARepository, ForeignRepository and
    UnsafeRepository as gitcmd.safe_git and SafeGit.ready raise them."""
    return DoorRepo(safe_git(root))
