"""The git paths kept read-only in the command sandbox: every git directory, common directory and hooks
folder the user's own git would use, existing or not, so that no command leaves a hook, an fsmonitor or
an alias there for the next `git commit` (sandbox.py binds them).

What cannot be bound read-only is kept another way: a folder that does not exist yet stands as an empty
placeholder while the command runs (FolderPlaceholders); the folders above a kept one are bound onto
themselves, so none can be renamed aside (pin_args); a symlink on the way is put back afterwards
(relink_all).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from agent_runtime.core import within
from agent_runtime.safety import planted

# The folders FolderPlaceholders made that stand now: (path -> commands using them).
_folders: dict[Path, int] = {}
_lock = threading.Lock()


def kept(root: Path) -> tuple[list[Path], dict[str, str]]:
    """Every git directory, common directory, hooks folder (core.hooksPath from the whole configuration:
    local, global, includes) and linked worktree's `.git` the user's own git would use here, existing or
    not: git's own answer through the door (gitcmd.SafeGit.paths), with what the files say beside it
    (git_dirs and `<git dir>/hooks`) in case git cannot answer. Read-only in the sandbox: a command
    cannot leave a hook, an fsmonitor or an alias there for the user's next `git commit`. Beside them,
    the symlinks of the workspace on the way to one (`.githooks -> tools/hooks`): a link cannot be
    bound read-only, so one a command replaces is put back afterwards (relink_all)."""
    from agent_runtime.gitcmd import GitError, SafeGit, config_file_get, find_top, git_dirs  # through the door

    top = find_top(root)
    if top is None:
        return [], {}
    found = [*git_dirs(top)]
    found.append(found[-1] / "hooks")
    try:
        paths = SafeGit(top).paths()
        found += [paths.git_dir, paths.common_dir, paths.hooks, paths.hooks_named]
        found += [tree / ".git" for tree in paths.worktrees if tree != top]
    except GitError:  # not a repository git will use (ForeignRepository, UnsafeRepository): the files' word
        value = config_file_get(found[0] / "config", "core.hooksPath")
        if value:
            found.append(top / os.path.expanduser(value))
    out: list[Path] = []
    links: dict[str, str] = {}
    for path in found:
        real = Path(os.path.realpath(path))
        if real not in out:
            out.append(real)
        for step in [*reversed(Path(os.path.abspath(path)).parents), Path(os.path.abspath(path))]:
            if step != root and within(step, root) and step.is_symlink():
                links.setdefault(str(step.relative_to(root)), os.readlink(step))
    return out, links


def relink_all(root: Path, links: dict[str, str]) -> list[str]:
    """The links of kept() as they were: one a command replaced (by a folder of hooks) is taken out
    of the workspace (planted.Keep) and the link made again."""
    from agent_runtime.config import state_home

    keep, put_back = planted.Keep(str(state_home() / "removed")), []
    for rel, target in links.items():
        try:
            if os.readlink(root / rel) == target:
                continue
        except OSError:
            pass
        if os.path.lexists(root / rel) and not planted.remove(str(root), rel, keep):
            continue
        if relink(root, rel, target):
            put_back.append(rel)
    return put_back


def pin_args(root: Path, kept: list[Path]) -> list[str]:
    """Each folder between the workspace and a path kept read-only, bound onto itself (as writable as it
    was): a mount point cannot be renamed, so a command cannot move a kept folder's parent aside and make
    a fresh folder, hooks and all, where the kept one was."""
    folders = {a for p in kept for a in p.parents if a != root and within(a, root)}
    return [arg for a in sorted(folders, key=lambda p: len(p.parts)) for arg in ("--bind", str(a), str(a))]


class FolderPlaceholders:
    """Empty folders standing where git would look for hooks or a git directory that does not exist
    yet (a core.hooksPath of `.githooks`), while a command runs, so bwrap can bind them read-only: a
    command cannot create them for the user's own git to run. Made one level at a time through
    directory descriptors (never through a symlink), and removed afterwards, deepest first, when
    still empty; the folders above them that were made for them too."""

    def __init__(self, root: Path, paths: list[Path]):
        self.root = root
        self.wanted = [p for p in paths if p != root and p.is_relative_to(root)]
        self.made: list[Path] = []

    def __enter__(self) -> "FolderPlaceholders":
        with _lock:
            self._make()
        return self

    def _make(self) -> None:
        for path in self.wanted:
            parts = path.relative_to(self.root).parts
            try:
                fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                return
            try:
                for depth, name in enumerate(parts):
                    here = self.root.joinpath(*parts[:depth + 1])
                    if here in _folders and here not in self.made:  # another command's, standing: shared
                        _folders[here] += 1
                        self.made.append(here)
                    else:
                        try:
                            os.mkdir(name, 0o755, dir_fd=fd)
                            _folders[here] = 1
                            self.made.append(here)
                        except FileExistsError:
                            pass
                    child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                    os.close(fd)
                    fd = child
            except OSError:  # a file or a link on the way, a read-only workspace: nothing stands there
                pass
            finally:
                os.close(fd)

    def __exit__(self, *exc: object) -> None:
        with _lock:
            self._remove()

    def _remove(self) -> None:
        for path in sorted(self.made, key=lambda p: len(p.parts), reverse=True):
            _folders[path] -= 1
            if _folders[path]:
                continue  # another command still runs with it standing
            del _folders[path]
            parts = path.relative_to(self.root).parts
            try:
                fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                for name in parts[:-1]:
                    child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                    os.close(fd)
                    fd = child
                os.rmdir(parts[-1], dir_fd=fd)  # only when still empty (something inside: it stays)
            except OSError:
                pass
            finally:
                os.close(fd)


def relink(root: Path, rel: str, target: str) -> bool:
    """Make the symlink `rel` -> `target` in the workspace again, reaching its folder one level at a time
    through directory descriptors (never through a symlink a command left on the way)."""
    parts = Path(rel).parts
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        for name in parts[:-1]:
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = child
        os.symlink(target, parts[-1], dir_fd=fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
