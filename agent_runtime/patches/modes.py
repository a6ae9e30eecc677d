"""What a git tree cannot hold, kept beside each checkpoint: the read, write and execute bits of the
workspace's files for user, group and others (a tree keeps only the exec bit: 100644 or 100755),
and its directories with their modes (a tree has no empty directory, and no directory mode at all).

A snapshot's manifest is a JSON blob in the checkpoint store, {"files": {path: mode}, "dirs": {path:
mode}}: a file only where its mode is not the one its git mode implies (0644, 0755), so a usual
repository's manifest is its directories alone. Two more keys where they have anything: "special",
the setuid, setgid and sticky bits of what has them (never restored: a restore says it leaves them
off), and "unheld", what was there that the snapshot does not hold (caches, environments, files past
the size limits, secrets; a folder with a slash): no change of theirs is undone. A snapshot is named `<tree>+<manifest blob>`; one
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
    special: dict[str, int] = field(default_factory=dict)  # setuid / setgid / sticky bits, where set
    unheld: list[str] = field(default_factory=list)  # there, not in the snapshot (a folder ends in /)

    def of(self, rel: str, git_mode: str) -> int:
        return self.files.get(rel, implied(git_mode))

    def data(self) -> bytes:
        raw: dict[str, object] = {"files": self.files, "dirs": self.dirs}
        raw.update((k, v) for k, v in (("special", self.special), ("unheld", sorted(self.unheld))) if v)
        return json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, data: bytes) -> "Modes":
        raw = json.loads(data)
        return cls({str(k): int(v) for k, v in raw.get("files", {}).items()},
                   {str(k): int(v) for k, v in raw.get("dirs", {}).items()},
                   {str(k): int(v) for k, v in raw.get("special", {}).items()},
                   [str(p) for p in raw.get("unheld", [])])

    def holds(self, rel: str) -> bool:
        """Is `rel` held by the snapshot as far as this manifest says (not unheld, nor under an unheld folder)?"""
        return not any(rel == u or (u.endswith("/") and rel.startswith(u)) for u in self.unheld)


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
                    info = entry.stat(follow_symlinks=False)
                    modes.dirs[rel] = permissions(info.st_mode)
                    if stat.S_IMODE(info.st_mode) & SPECIAL:
                        modes.special[rel + "/"] = stat.S_IMODE(info.st_mode) & SPECIAL
                    if rel not in shallow:
                        todo.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    mode = entry.stat(follow_symlinks=False).st_mode
                    perm = _named(mode)
                    if (perm is not None or stat.S_IMODE(mode) & SPECIAL) and not skip(prefix + entry.name):
                        _name(modes, prefix + entry.name, mode)
            except OSError:
                continue  # gone since
    return modes


def add(modes: Modes, root: Path, paths: Iterable[str]) -> None:
    """Files the walk did not enter (kept files of ignored directories), with their directories."""
    for rel in paths:
        try:
            _name(modes, rel, os.lstat(root / rel).st_mode)
        except OSError:
            continue
        parent = os.path.dirname(rel)
        while parent and parent not in modes.dirs:
            try:
                modes.dirs[parent] = permissions(os.lstat(root / parent).st_mode)
            except OSError:
                break
            parent = os.path.dirname(parent)


def _name(modes: Modes, rel: str, mode: int) -> None:
    """A regular file's mode in the manifest where a tree does not imply it, its special bits apart."""
    perm = _named(mode)
    if perm is not None:
        modes.files[rel] = perm
    if stat.S_ISREG(mode) and stat.S_IMODE(mode) & SPECIAL:
        modes.special[rel] = stat.S_IMODE(mode) & SPECIAL


SPECIAL = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


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
