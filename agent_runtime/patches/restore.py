"""A path's change between two checkpoints (Change), and writing one side of it back into the
workspace (checkpoint.Store.restore): files with their permission bits, symlinks as symlinks,
directories with their modes, never through a symlink.

A path is written only where its directory is the workspace's own (realpath), a directory is made
where nothing is or refused where a file or symlink is, and a symlink put where a file or directory
was is replaced, never followed. A file is written to a temporary file made 0600 (mkstemp) and given
its mode before the rename; a directory is made 0700 and given its mode once its files are in.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent_runtime.core import within
from agent_runtime.patches.modes import DIRECTORY, SYMLINK, implied

# A path's entry: (git mode, blob id, permission bits), a directory's (DIRECTORY, "", its mode). The
# permission bits are None for a snapshot without a manifest: then they are not compared.
Entry = tuple[str, str, "int | None"]


@dataclass
class Change:
    """One path's entry before and after a command; None: nothing there."""

    path: str
    before: Entry | None
    after: Entry | None

    @property
    def status(self) -> str:
        return "added" if self.before is None else "deleted" if self.after is None else "modified"

    @property
    def directory(self) -> bool:
        return any(e and e[0] == DIRECTORY for e in (self.before, self.after))

    @property
    def name(self) -> str:
        """The path as shown: a directory's with a slash."""
        return self.path + "/" if self.directory else self.path

    @property
    def exact(self) -> bool:
        """From snapshots with manifests: directories are changes of their own (none are pruned)."""
        return any(e and e[2] is not None for e in (self.before, self.after))


def same(now: Entry | None | bool, entry: Entry | None) -> bool:
    """Is what is there now this entry? Permission bits only where the entry has them."""
    if now is None or now is False or entry is None:
        return now is entry
    return now[:2] == entry[:2] and (entry[2] is None or now[2] == entry[2])


def write(root: Path, changes: list[Change], side: str, blobs: dict[str, bytes], done: list[Change]) -> None:
    """Every change's `side` entry ("before" or "after") written; `done` lists the changes written so far."""
    # Removals first, deepest first (a file where a directory was, a directory the command made),
    # then the directories of `side`, shallowest first, then its files, then the directories'
    # modes, deepest first (a read-only directory gets its files before its mode).
    def depth(change: Change) -> int:
        return change.path.count("/")

    for change in sorted(changes, key=depth, reverse=True):
        if getattr(change, side) is None:
            _remove(root, change)
            done.append(change)
    kept = [c for c in changes if getattr(c, side) is not None]
    directories = sorted((c for c in kept if c.directory), key=depth)
    for change in directories:
        _parents(root, change.path)
        _make_dir(target(root, change.path))
        done.append(change)
    for change in kept:
        if not change.directory:
            entry = getattr(change, side)
            _put(root, change.path, entry, blobs[entry[1]])
            done.append(change)
    for change in reversed(directories):
        _set_dir_mode(target(root, change.path), getattr(change, side)[2])


def target(root: Path, rel: str) -> Path:
    """A path to write: its directory must be the workspace's own, not reached through a symlink."""
    path = root / rel
    parent = Path(os.path.realpath(path.parent))
    if parent != root / os.path.dirname(rel) or not within(parent, root) or rel.split("/")[0] == ".git":
        raise OSError(0, "a directory of it is now a symlink or outside the workspace", rel)
    return path


def _remove(root: Path, change: Change) -> None:
    path = target(root, change.path)
    if change.directory:
        _remove_dir(path)
        return
    if os.path.lexists(path):
        path.unlink()
    if change.exact:
        return  # the directories the command made are changes of their own
    parent = path.parent
    while parent != root:  # the directories the command made, now empty
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def _parents(root: Path, rel: str) -> None:
    """The directories of a path to write, made as needed (with a manifest, those the command
    removed are changes of their own, made already), never where a symlink is."""
    path = root / rel
    for directory in reversed([path.parent, *path.parent.parents]):
        if within(directory, root) and directory != root:
            if os.path.islink(directory) or (directory.exists() and not directory.is_dir()):
                raise OSError(0, "a file or symlink the snapshots do not hold is where a directory was",
                              os.path.relpath(directory, root))
            if not directory.exists():
                directory.mkdir()


def _put(root: Path, rel: str, entry: Entry, data: bytes) -> None:
    _parents(root, rel)
    path = target(root, rel)
    if path.is_dir() and not path.is_symlink():
        raise OSError(0, "a directory is there now", rel)
    mode, _, perm = entry
    if mode == SYMLINK:
        tmp = path.parent / f".{path.name}.agent-tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.fsdecode(data), tmp)
        os.replace(tmp, path)  # replaces what is there, never follows it
        return
    # mkstemp makes the file 0600: a private file is never readable by others on the way.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".agent-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), implied(mode) if perm is None else perm)
        os.replace(name, path)
    except BaseException:
        if os.path.exists(name):
            os.unlink(name)
        raise


def _dir_mode(path: Path) -> int | None:
    """A real directory's mode (not a symlink to one); None when something else is there."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISDIR(info.st_mode) else None


def _make_dir(path: Path) -> None:
    """A directory to restore, private (0700) until its files are in: _set_dir_mode gives its mode.
    One that is there is opened to its owner meanwhile (a `chmod 500` to undo after a file removed)."""
    if os.path.lexists(path):
        mode = _dir_mode(path)
        if mode is None:
            raise OSError(0, "a file or symlink the snapshots do not hold is where a directory was", str(path))
        if mode & 0o700 != 0o700:
            _set_dir_mode(path, mode | 0o700)  # the owner's bits only: nobody else gets anything
        return
    os.mkdir(path, 0o700)


def _set_dir_mode(path: Path, mode: int) -> None:
    """chmod, never following a symlink put where the directory was; a setgid or sticky bit the
    directory has is kept (the manifest holds none: it is neither set nor taken away)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchmod(fd, (stat.S_IMODE(os.fstat(fd).st_mode) & 0o7000) | mode)
    finally:
        os.close(fd)


def _remove_dir(path: Path) -> None:
    """A directory the command made, removed when empty; one that holds what the snapshots do not
    (a __pycache__, a later command's files) is left."""
    if _dir_mode(path) is None:
        return
    try:
        os.rmdir(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
