"""Git configuration a sandboxed command leaves in the workspace, found and removed afterwards.

The sandbox keeps the workspace writable, so a command the policy lets run without asking (a
`conftest.py` under `run_tests`) could plant `vendor/lib/.git` with a config whose
core.sshCommand or core.fsmonitor the host's git would run later. What exists at the start is
read-only in the sandbox (sandbox.py binds it); what a command creates is found here and removed:

- `.git` (folder, file or symlink), `.gitattributes` and `.gitmodules` at any depth, compared
  without case (a case-insensitive file system finds `.GIT` as `.git`);
- what a `.git` symlink or `gitdir:` file of the workspace pointed at when that did not exist at
  the start (the command cannot change the pointer, read-only, but it can create its target);
- a new folder git would take for a bare repository (HEAD, objects/ and refs/ in it).

One walk before the command, one after. An entry is "the same" when its device, inode and ctime
are: a rename of a folder above it moves it without changing it (and must not delete the user's
nested repository), while a new entry (also one that reuses an inode) has a new ctime, which no
command can set. A directory whose (inode, ctime) did not change holds the same names, so its
listing from before is reused (cheap: only changed directories are read again, and those changed
just before the walk, where file times are coarse). The walk goes by
file descriptors, so a path longer than PATH_MAX is walked too; a directory the walk cannot read
that changed during the command is removed (fail closed). Nothing of the sandbox runs any more
when the walk after it runs: its PID namespace ended with the command. What is taken out goes to
a private folder of the agent's state when it can (Keep), so a repository the user cloned into
the workspace while a command ran is not lost.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from agent_runtime.procs import host_program

log = logging.getLogger(__name__)

PLANTED_NAMES = frozenset({".git", ".gitattributes", ".gitmodules"})
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
GITDIR_MAX_BYTES = 4096
# Where file times are coarse (a clock tick, before Linux 6.13's fine-grained ctimes), a change just
# after the walk can keep a folder's ctime: one changed this recently before it is read again after.
RECENT_NS = 500_000_000

Ident = tuple[int, int, int]  # st_dev, st_ino, st_ctime_ns


def is_planted_name(name: str) -> bool:
    return name.lower() in PLANTED_NAMES


def _ident(info: os.stat_result) -> Ident:
    return info.st_dev, info.st_ino, info.st_ctime_ns


@dataclass
class Dir:
    ident: Ident
    subdirs: list[str]  # names of the subdirectories walked into
    links: list[str]  # names of the symlinks in it
    config: dict[str, tuple[str, Ident]]  # name -> (type letter "d" / "f" / "l", identity) of configuration entries
    repository: bool = False  # holds HEAD, objects/ and refs/: git takes the folder itself for a (bare) repository
    recent: bool = False  # changed within RECENT_NS of the walk: read again after the command whatever its ctime


@dataclass
class Listing:
    """One walk of the workspace: no symlink followed, no folder named like git's configuration entered."""

    dirs: dict[str, Dir] = field(default_factory=dict)  # by rel ("" is the workspace)
    unreadable: dict[str, Ident] = field(default_factory=dict)  # directories that could not be listed

    @property
    def config(self) -> dict[str, tuple[str, Ident]]:
        """rel -> (type letter, identity) of every entry named like git's configuration."""
        return {_join(rel, name): value for rel, d in self.dirs.items() for name, value in d.config.items()}

    @property
    def symlinks(self) -> list[str]:
        return [_join(rel, name) for rel, d in self.dirs.items() for name in d.links]

    def entries(self) -> list[tuple[str, str]]:
        """(type letter, rel) of every symlink and every configuration entry below the top level,
        as `find -printf '%y %P'` gives them."""
        return [("l", rel) for rel in self.symlinks] + [(kind, rel) for rel, (kind, _) in self.config.items()
                                                        if kind != "l" and "/" in rel]


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _read_dir(fd: int, ident: Ident) -> Dir:
    out = Dir(ident, [], [], {})
    seen: set[str] = set()
    with os.scandir(fd) as entries:
        for entry in entries:  # the type from the directory itself: a stat only for configuration entries
            try:
                if is_planted_name(entry.name):  # recorded, never entered
                    info = entry.stat(follow_symlinks=False)
                    mode = info.st_mode
                    kind = "l" if stat.S_ISLNK(mode) else "d" if stat.S_ISDIR(mode) else "f"
                    out.config[entry.name] = (kind, _ident(info))
                    if kind == "l":
                        out.links.append(entry.name)
                elif entry.is_symlink():
                    out.links.append(entry.name)
                elif entry.is_dir(follow_symlinks=False):
                    out.subdirs.append(entry.name)
                    if entry.name in ("objects", "refs"):
                        seen.add(entry.name)
                elif entry.name == "HEAD":
                    seen.add("HEAD")
            except OSError:
                continue
    out.repository = len(seen) == 3
    return out


def walk(root: str, before: Listing | None = None) -> Listing:
    """The workspace's directories, configuration entries and symlinks. With `before`, a directory
    whose identity did not change is not read again: its names are the same."""
    out = Listing()
    try:
        top = os.open(root, _DIR_FLAGS)
    except OSError:
        return out
    if before is not None:
        try:
            quick = _walk_by_path(top, before)
        finally:
            os.close(top)
        if quick is not None:
            return quick
        top = os.open(root, _DIR_FLAGS)
    # Depth first; each level keeps its directory's descriptor open while its subdirectories are walked.
    stack: list[tuple[int, str, list[str]]] = []

    recent = time.time_ns() - RECENT_NS

    def enter(fd: int, rel: str, info: os.stat_result) -> None:
        ident = _ident(info)
        old = before.dirs.get(rel) if before is not None else None
        if old is not None and old.ident == ident and not old.recent:
            found = old
        else:
            found = _read_dir(fd, ident)
            found.recent = info.st_ctime_ns >= recent
        out.dirs[rel] = found
        stack.append((fd, rel, found.subdirs[::-1]))

    try:
        enter(top, "", os.fstat(top))
    except OSError:
        os.close(top)
        return out
    while stack:
        fd, rel, pending = stack[-1]
        if not pending:
            stack.pop()
            os.close(fd)
            continue
        name = pending.pop()
        child = _join(rel, name)
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            continue
        try:
            child_fd = _open_dir(fd, name, info, before, child)
        except OSError:
            out.unreadable[child] = _ident(info)
            continue
        try:
            enter(child_fd, child, info)
        except OSError:
            os.close(child_fd)
            out.unreadable[child] = _ident(info)
    return out


def _walk_by_path(top: int, before: Listing) -> Listing | None:
    """The walk after a command: one stat per folder, by its path from the workspace; only a folder
    whose identity changed (or that is new) is opened and read. None when a path is too long for
    one call: the walk by descriptors takes over."""
    out = Listing()
    recent = time.time_ns() - RECENT_NS
    stack = [""]
    while stack:
        rel = stack.pop()
        path = rel or "."
        try:
            info = os.stat(path, dir_fd=top, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return None
            continue
        if not stat.S_ISDIR(info.st_mode):
            continue
        ident = _ident(info)
        old = before.dirs.get(rel)
        if old is not None and old.ident == ident and not old.recent:
            found = old  # the same names (and not recent then, so not now)
        else:
            try:
                fd = _open_dir(top, path, info, before, rel)
            except OSError as exc:
                if exc.errno == errno.ENAMETOOLONG:
                    return None
                out.unreadable[rel] = ident
                continue
            try:
                found = _read_dir(fd, ident)
            except OSError:
                out.unreadable[rel] = ident
                continue
            finally:
                os.close(fd)
            found.recent = info.st_ctime_ns >= recent
        out.dirs[rel] = found
        stack += [_join(rel, name) for name in found.subdirs]
    return out


def _open_dir(parent_fd: int, name: str, info: os.stat_result, before: Listing | None, rel: str) -> int:
    """A directory's descriptor (`name` relative to `parent_fd`). One the command made unreadable
    (chmod 000) is opened after giving the owner access back, when it changed since the walk
    before (which recorded it unreadable)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except PermissionError:
        if before is None or before.unreadable.get(rel) == _ident(info):
            raise  # unreadable already at the start and not changed since: nothing new can be in it
        os.chmod(name, stat.S_IMODE(info.st_mode) | stat.S_IRWXU, dir_fd=parent_fd)
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def gitdir_target(root: str, rel: str) -> str | None:
    """What a `.git` file (`gitdir: PATH`) at `rel` points at, relative to the workspace, when that
    lies inside it; None otherwise."""
    try:
        fd = _open_parent(root, rel)
    except OSError:
        return None
    try:
        file_fd = os.open(rel.rpartition("/")[2], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                          dir_fd=fd)
        try:
            if not stat.S_ISREG(os.fstat(file_fd).st_mode):
                return None
            text = os.read(file_fd, GITDIR_MAX_BYTES).decode("utf-8", "surrogateescape")
        finally:
            os.close(file_fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    first = text.splitlines()[0] if text else ""
    if not first.startswith("gitdir:"):
        return None
    return _inside(root, os.path.join(root, rel.rpartition("/")[0], first[len("gitdir:"):].strip()))


def _inside(root: str, path: str) -> str | None:
    """`path` (after following symlinks as far as they exist) relative to the workspace, or None
    when that is outside it or the workspace itself."""
    real = os.path.realpath(path)
    rel = os.path.relpath(real, root)
    return None if rel == "." or rel == ".." or rel.startswith("../") else rel


def pointers(root: str, listing: Listing) -> dict[str, str]:
    """Configuration entries that point at a path inside the workspace that does not exist yet
    (entry rel -> target rel): a dangling `.git` symlink or a `gitdir:` file."""
    out: dict[str, str] = {}
    for rel, (kind, _) in listing.config.items():
        if kind == "d" or (kind == "f" and rel.rpartition("/")[2].lower() != ".git"):
            continue
        target = _inside(root, os.path.join(root, rel)) if kind == "l" else gitdir_target(root, rel) if kind == "f" else None
        if target is not None and not os.path.lexists(os.path.join(root, target)):
            out[rel] = target
    return out


def _open_parent(root: str, rel: str) -> int:
    """A descriptor of the directory holding `rel`, opened one component at a time without following
    a symlink (so a path of any length)."""
    fd = os.open(root, _DIR_FLAGS)
    for part in rel.split("/")[:-1]:
        try:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd


class Keep:
    """Where what is taken out of the workspace goes, so that nothing is lost (a repository the user
    cloned into the workspace while a command ran looks just like a planted one): a private folder
    made on first use. Moved there when it is on the same file system, deleted otherwise."""

    def __init__(self, parent: str):
        self.parent = parent
        self.path: str | None = None
        self.count = 0

    def take(self, fd: int, name: str) -> bool:
        try:
            if self.path is None:
                os.makedirs(self.parent, mode=0o700, exist_ok=True)
                self.path = tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=self.parent)
            self.count += 1
            os.rename(name, os.path.join(self.path, f"{self.count}-{name}"), src_dir_fd=fd)
            return True
        except OSError:  # another file system (EXDEV), no room: deleted instead
            return False


def remove(root: str, rel: str, keep: Keep | None = None) -> bool:
    """Take the entry at `rel` out of the workspace (a folder with all it holds), never following a
    symlink: into `keep` when it can, else deleted."""
    try:
        fd = _open_parent(root, rel)
    except OSError as exc:
        log.warning("could not reach %s to remove it: %s", rel, exc)
        return False
    name = rel.rpartition("/")[2]
    try:
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if keep is not None and keep.take(fd, name):
            return True
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(name, dir_fd=fd)
            return True
        rm = host_program("rm")
        if rm:  # GNU rm walks a tree of any depth; through /proc/self/fd the path stays short
            done = subprocess.run([rm, "-rf", "--", f"/proc/self/fd/{fd}/{name}"], pass_fds=(fd,),
                                  capture_output=True, timeout=120)
            if done.returncode == 0:
                return True
        shutil.rmtree(name, dir_fd=fd)
        return True
    except FileNotFoundError:
        return True
    except (OSError, subprocess.TimeoutExpired, RecursionError) as exc:
        log.warning("could not remove %s that a sandboxed command created: %s", rel, exc)
        return False
    finally:
        os.close(fd)


def planted(root: str, before: Listing, dangling: dict[str, str], keep: Keep | None = None) -> list[str]:
    """Walk the workspace again and take out what the command planted (into `keep` when given);
    the rel paths taken. Top-level entries named exactly like the top-level configuration are left
    to the caller."""
    after = walk(root, before)
    known = {ident for _, ident in before.config.values()}  # wherever they are now: a rename moves them
    created = [rel for rel, (_, ident) in after.config.items() if ident not in known and not _top_level_exact(rel)]
    # A directory the walk could not read and that changed: what it holds cannot be checked.
    unreadable = set(before.unreadable.values())
    created += [rel for rel, ident in after.unreadable.items() if ident not in unreadable]
    # A folder git would take for a bare repository (`git -C folder log` reads its config), new.
    repositories = {d.ident[:2] for d in before.dirs.values() if d.repository}
    created += [rel for rel, d in after.dirs.items() if d.repository and rel and d.ident[:2] not in repositories]
    # What a .git symlink or gitdir: file pointed at that did not exist at the start.
    created += [target for target in dangling.values() if os.path.lexists(os.path.join(root, target))]
    removed: list[str] = []
    for rel in sorted(set(created), key=lambda r: (r.count("/"), r)):
        if any(rel.startswith(done + "/") for done in removed):
            continue  # inside a folder removed already
        if remove(root, rel, keep):
            removed.append(rel)
    return removed


def _top_level_exact(rel: str) -> bool:
    return "/" not in rel and rel in PLANTED_NAMES
