"""What a git tree cannot hold, kept beside each checkpoint: the read, write and execute bits of the
workspace's files for user, group and others (a tree keeps only the exec bit: 100644 or 100755),
and its directories with their modes (a tree has no empty directory, and no directory mode at all).

A snapshot's manifest is a JSON blob in the checkpoint store, {"files": {path: mode}, "dirs": {path:
mode}}: a file only where its mode is not the one its git mode implies (0644, 0755), so a usual
repository's manifest is its directories alone. A snapshot is named `<tree>+<manifest blob>`; one
named by its tree alone was made before manifests, and is restored as then (0644 or 0755,
directories made as needed).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

REGULAR, EXECUTABLE, SYMLINK, DIRECTORY = "100644", "100755", "120000", "040000"


def implied(git_mode: str) -> int:
    """The permission bits a git mode stands for (what a restore without a manifest writes)."""
    return {EXECUTABLE: 0o755, SYMLINK: 0o777}.get(git_mode, 0o644)


def split(snapshot: str) -> tuple[str, str | None]:
    """`<tree>+<manifest>` -> (tree, manifest blob id); a tree alone (an old snapshot) -> (tree, None)."""
    tree, _, manifest = snapshot.partition("+")
    return tree, manifest or None


@dataclass
class Modes:
    files: dict[str, int] = field(default_factory=dict)  # only the modes git's mode does not imply
    dirs: dict[str, int] = field(default_factory=dict)  # every directory, empty ones too

    def of(self, rel: str, git_mode: str) -> int:
        return self.files.get(rel, implied(git_mode))

    def data(self) -> bytes:
        return json.dumps({"files": self.files, "dirs": self.dirs}, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, data: bytes) -> "Modes":
        raw = json.loads(data)
        return cls({str(k): int(v) for k, v in raw.get("files", {}).items()},
                   {str(k): int(v) for k, v in raw.get("dirs", {}).items()})


def scan(root: Path, skip: Callable[[str], bool], shallow: set[str]) -> Modes:
    """The modes of the workspace's files and directories, as a snapshot holds them.

    skip: a path the snapshot leaves out (hidden, not kept), asked of every directory (nothing under
    a skipped one is looked at) and of the files a manifest would name (those with a mode git's does
    not imply: few). shallow: directories whose mode is kept but which are not entered (ignored
    directories: their kept files come through `add`). The workspace's .git and nested repositories
    are left out, and symlinks never entered."""
    modes = Modes()
    todo = [""]
    while todo:
        top = todo.pop()
        try:
            entries = list(os.scandir(root / top if top else root))
        except OSError:
            continue  # gone or unreadable since: the snapshot leaves it out too
        prefix = f"{top}/" if top else ""
        for entry in entries:
            try:  # is_dir and is_file need no system call; the lstat is the walk's cost
                if entry.is_dir(follow_symlinks=False):
                    rel = prefix + entry.name
                    if entry.name == ".git" or skip(rel) or os.path.lexists(os.path.join(entry.path, ".git")):
                        continue  # left out, or a nested repository: its files are not in the snapshot
                    modes.dirs[rel] = permissions(entry.stat(follow_symlinks=False).st_mode)
                    if rel not in shallow:
                        todo.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    perm = _named(entry.stat(follow_symlinks=False).st_mode)
                    if perm is not None and not skip(prefix + entry.name):
                        modes.files[prefix + entry.name] = perm
            except OSError:
                continue  # gone since
    return modes


def add(modes: Modes, root: Path, paths: Iterable[str]) -> None:
    """Files the walk did not enter (kept files of ignored directories), with their directories."""
    for rel in paths:
        try:
            perm = _named(os.lstat(root / rel).st_mode)
        except OSError:
            continue
        if perm is not None:
            modes.files[rel] = perm
        parent = os.path.dirname(rel)
        while parent and parent not in modes.dirs:
            try:
                modes.dirs[parent] = permissions(os.lstat(root / parent).st_mode)
            except OSError:
                break
            parent = os.path.dirname(parent)


def permissions(mode: int) -> int:
    """The bits kept and restored: read, write and execute for user, group and others. Never setuid,
    setgid or sticky: the agent does not make those (as patches/apply.py)."""
    return stat.S_IMODE(mode) & 0o777


def _named(mode: int) -> int | None:
    """A regular file's permission bits where a manifest names them (git's mode does not imply them)."""
    perm = permissions(mode)
    if stat.S_ISREG(mode) and perm != (0o755 if mode & stat.S_IXUSR else 0o644):
        return perm
    return None
