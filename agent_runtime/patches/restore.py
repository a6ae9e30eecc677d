"""A path's change between two checkpoints (Change), and writing one side of it back into the
workspace (checkpoint.Store.restore): files with their permission bits, symlinks as symlinks,
directories with their modes, never through a symlink.

Every write is made relative to a descriptor of the path's folder, walked from the workspace's own
descriptor one component at a time (core.folder_of): a folder on the way that is a symlink (a
sandboxed process can swap one in at any moment) is an error, never followed. A directory is made
where nothing is or refused where a file or symlink is, and a symlink put where a file or directory
was is replaced, never followed. A file is written to a temporary file made 0600 and given its mode
before the rename; a directory is made 0700 and given its mode once its files are in.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from agent_runtime.core import entry_at, folder_of, replace_file
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
        with _folder(root, change.path, make=True) as (fd, name):
            _make_dir(fd, name, change.path)
        done.append(change)
    for change in kept:
        if not change.directory:
            entry = getattr(change, side)
            _put(root, change.path, entry, blobs[entry[1]])
            done.append(change)
    for change in reversed(directories):
        with _folder(root, change.path) as (fd, name):
            _set_dir_mode(fd, name, getattr(change, side)[2])


@contextmanager
def _folder(root: Path, rel: str, make: bool = False) -> Iterator[tuple[int, str]]:
    """The folder a path is written in, walked from the workspace's descriptor (core.folder_of): never
    through a symlink, never in .git; with `make`, its missing folders made (with a manifest, those the
    command removed are changes of their own, made already)."""
    if rel.split("/")[0] == ".git":
        raise OSError(errno.EPERM, "the workspace's .git is not restored", rel)
    with folder_of(root, rel, [] if make else None) as found:
        yield found


def _remove(root: Path, change: Change) -> None:
    with _folder(root, change.path) as (fd, name):
        if change.directory:
            _remove_dir(fd, name)
            return
        if entry_at(fd, name) is not None:
            os.unlink(name, dir_fd=fd)
    if change.exact:
        return  # the directories the command made are changes of their own
    parent = os.path.dirname(change.path)
    while parent:  # the directories the command made, now empty
        try:
            with _folder(root, parent) as (fd, name):
                os.rmdir(name, dir_fd=fd)
        except OSError:
            break
        parent = os.path.dirname(parent)


def _put(root: Path, rel: str, entry: Entry, data: bytes) -> None:
    with _folder(root, rel, make=True) as (fd, name):
        there = entry_at(fd, name)
        if there is not None and stat.S_ISDIR(there.st_mode):
            raise OSError(errno.EISDIR, "a directory is there now", rel)
        mode, _, perm = entry
        if mode == SYMLINK:
            tmp = f".{name}.agent-tmp"
            if entry_at(fd, tmp) is not None:
                os.unlink(tmp, dir_fd=fd)
            os.symlink(os.fsdecode(data), tmp, dir_fd=fd)
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)  # replaces what is there, never follows it
            return
        replace_file(fd, name, data, implied(mode) if perm is None else perm)


def _dir_mode(fd: int, name: str) -> int | None:
    """A real directory's mode (not a symlink to one); None when something else is there."""
    try:
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISDIR(info.st_mode) else None


def _make_dir(fd: int, name: str, rel: str) -> None:
    """A directory to restore, private (0700) until its files are in: _set_dir_mode gives its mode.
    One that is there is opened to its owner meanwhile (a `chmod 500` to undo after a file removed)."""
    if entry_at(fd, name) is not None:
        mode = _dir_mode(fd, name)
        if mode is None:
            raise OSError(errno.EEXIST, "a file or symlink the snapshots do not hold is where a directory was", rel)
        if mode & 0o700 != 0o700:
            _set_dir_mode(fd, name, mode | 0o700)  # the owner's bits only: nobody else gets anything
        return
    os.mkdir(name, 0o700, dir_fd=fd)


def _set_dir_mode(fd: int, name: str, mode: int) -> None:
    """chmod, never following a symlink put where the directory was; a setgid or sticky bit the
    directory has is kept (the manifest holds none: it is neither set nor taken away)."""
    child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    try:
        os.fchmod(child, (stat.S_IMODE(os.fstat(child).st_mode) & 0o7000) | mode)
    finally:
        os.close(child)


def _remove_dir(fd: int, name: str) -> None:
    """A directory the command made, removed when empty; one that holds what the snapshots do not
    (a __pycache__, a later command's files) is left."""
    if _dir_mode(fd, name) is None:
        return
    try:
        os.rmdir(name, dir_fd=fd)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
