"""The git paths kept read-only in the command sandbox: everything the user's own git reads as configuration
or runs for this workspace (git directories, common directories, hooks folders, hook targets, configuration
files), for the repository, its linked worktrees and nested repositories, existing or not, so that no
command leaves a hook, an fsmonitor or an alias there for the next `git commit` (sandbox.py binds them).

What cannot be bound read-only is kept another way: a folder that does not exist yet stands as an empty
placeholder while the command runs (FolderPlaceholders); the folders above a kept one are bound onto
themselves, so none can be renamed aside (pin_args); a symlink on the way is put back afterwards
(relink_all).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import agent_runtime.gitbox as gitbox
from agent_runtime.core import within
from agent_runtime.safety import planted

if TYPE_CHECKING:
    from agent_runtime.gitcmd import SafeGit

# The folders FolderPlaceholders made that stand now: (path -> commands using them).
_folders: dict[Path, int] = {}
_lock = threading.Lock()


@dataclass
class Kept:
    """What kept() finds: the paths held read-only, the workspace's symlinks on the way to them (rel -> target),
    and for a path of a nested repository or linked worktree, that work tree's top (pin_args pins nothing from
    there up: the work tree moves whole, its own .git with it, as a user's `mv vendor third_party` does)."""

    paths: list[Path] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    floors: dict[Path, Path] = field(default_factory=dict)


def kept(root: Path, listing: planted.Listing | None = None) -> Kept:
    """Everything the person's own git reads as configuration or runs for this workspace, existing or not:
    for the repository, each linked worktree and each nested repository in the workspace (`listing`, one
    walk of it; walked here when not given), its git directory, common directory, hooks folder
    (core.hooksPath as git evaluates it there: system, global, local, includes and includeIf), each hook's
    resolved target, and every configuration file git reads there. Git's own answer through the door
    (paths), with what the files say beside it (git_dirs and `<git dir>/hooks`) in case git
    cannot answer. Read-only in the sandbox: a command cannot leave a hook, an fsmonitor or an alias there
    for the user's next `git commit`. Beside them, the symlinks of the workspace on the way to one
    (`.githooks -> tools/hooks`): a link cannot be bound read-only, so one a command replaces is put back
    afterwards (relink_all)."""
    from agent_runtime.gitcmd import find_top  # through the door

    top = find_top(root)
    if top is None:
        return Kept()
    if listing is None:
        listing = planted.walk(str(root))
    nested = sorted(root / rel[:-5] for rel, (kind, _) in listing.config.items() if rel.endswith("/.git") and kind != "l")
    trees: list[Path] = []
    found: list[tuple[Path, Path]] = []
    files: dict[Path, Path] = {}  # a configuration file -> the first work tree found reading it
    for tree in [top, *nested]:
        if tree not in trees:
            trees.append(tree)
            found += _tree(tree, trees, files)
    found += list(files.items())
    out: list[Path] = []
    links: dict[str, str] = {}
    floors: dict[Path, Path] = {}
    for path, tree in found:
        real = Path(os.path.realpath(path))
        if real not in out:
            out.append(real)
            if tree != top:
                floors[real] = tree
        for step in [*reversed(Path(os.path.abspath(path)).parents), Path(os.path.abspath(path))]:
            if step != root and within(step, root) and step.is_symlink():
                links.setdefault(str(step.relative_to(root)), os.readlink(step))
    return Kept(out, links, floors)


@dataclass(frozen=True)
class GitPaths:
    """What git run in a work tree uses besides it (paths), each absolute, existing or not."""

    git_dir: Path
    common_dir: Path
    hooks: Path  # resolved; hooks_named: as configured, its symlinks not followed (`.githooks -> tools/hooks`)
    hooks_named: Path
    worktrees: tuple[Path, ...] = ()  # the work trees of the repository (linked ones and the main one)
    config_files: tuple[Path, ...] = ()  # every configuration file git reads there (system, global, includes), resolved


def persons_config(repo: "SafeGit") -> tuple[dict[str, str], gitbox.View, tuple[Path, ...]]:
    """The person's own configuration as their git reads it in `repo`: the environment that gives a contained
    git the system file and the real global files (not the door's copy), the view that shows them and every
    file they include (includes and includeIf evaluated by git for this repository), and those files,
    resolved. An include git could not see is shown, then git is asked again."""
    from agent_runtime.gitcmd import GitError
    from agent_runtime.gitdir import include_target, is_include

    env = dict(repo.env)
    for key in ("GIT_CONFIG_SYSTEM", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "XDG_CONFIG_HOME"):
        env.pop(key, None)
        if os.environ.get(key):
            env[key] = os.environ[key]
    home = env.get("HOME", "")
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    named = [env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"]
    named += [env["GIT_CONFIG_GLOBAL"]] if env.get("GIT_CONFIG_GLOBAL") else [
        os.path.join(home, ".gitconfig"), os.path.join(xdg, "git", "config")]
    shown = [*repo.roots, *(Path(p) for p in named if os.path.isabs(p) and os.path.isfile(p))]
    files: list[Path] = []
    for _ in range(8):  # an include chain outside the work tree: one more file shown each round
        view = gitbox.View(read=tuple(shown), hidden=repo.hidden)
        listed = repo.ask(["config", "--list", "--includes", "--show-scope", "--show-origin", "-z"], env, view)
        if listed.returncode != 0:
            raise GitError("git config failed: " + " ".join(listed.stderr.decode("utf-8", "replace").split())[:300])
        fields = listed.stdout.decode("utf-8", "surrogateescape").split("\0")
        files, more = [], []
        for origin, entry in zip(fields[1::3], fields[2::3]):
            if not origin.startswith("file:"):
                continue  # the command line: the door's own pins
            path = Path(os.path.realpath(repo.top / origin[5:]))
            if path not in files:
                files.append(path)
            key, _, value = entry.partition("\n")
            if is_include(key) and value:
                target = include_target(repo.top / origin[5:], value, home)
                if target.is_file() and not any(within(target, p) for p in shown) and target not in more:
                    more.append(target)
        if not more:
            break
        shown += more
    return env, gitbox.View(read=tuple(shown), hidden=repo.hidden), tuple(files)


def paths(repo: "SafeGit", refused: bool = False) -> GitPaths:
    """Where the person's git, run in `repo`'s work tree, finds its git and common directories, hooks
    (core.hooksPath from all its configuration: system, global, local, includes as git evaluates them there),
    worktrees and configuration files: git's own answer, contained, after the door's check (config, rev-parse
    and worktree list run no repository program). `refused`: asked of a repository the check refuses
    (ForeignRepository) too, for where the person's git looks; what it names outside stays unshown."""
    from agent_runtime.gitcmd import ForeignRepository, GitError

    try:
        repo.check()
    except ForeignRepository:
        if not refused:
            raise
    env, view, files = persons_config(repo)
    asked = repo.ask(["rev-parse", "--git-path", "hooks", "--path-format=absolute", "--git-dir", "--git-common-dir",
                      "--git-path", "hooks"], env, view, hooks=True)
    named, *lines = asked.stdout.decode("utf-8", "surrogateescape").split("\n")
    if asked.returncode != 0 or len(lines) < 3:
        raise GitError("git rev-parse failed: " + " ".join(asked.stderr.decode("utf-8", "replace").split())[:300])
    common, worktrees = Path(lines[1]), []
    if (common / "worktrees").is_dir():
        listed = repo.ask(["worktree", "list", "--porcelain", "-z"], env, view, hooks=True).stdout
        worktrees = [Path(os.fsdecode(item[9:])) for item in listed.split(b"\0") if item.startswith(b"worktree ")]
    return GitPaths(Path(lines[0]), common, Path(lines[2]), repo.top / named, tuple(worktrees), files)


def _tree(tree: Path, trees: list[Path], files: dict[Path, Path]) -> list[tuple[Path, Path]]:
    """What the person's git uses for the work tree `tree` (see kept), each with the work tree it belongs to;
    its linked worktrees not yet in `trees` are added there and looked at too, the configuration files it
    reads added to `files`."""
    from agent_runtime.gitcmd import GitError, SafeGit, config_file_get, git_dirs  # through the door

    found = [*git_dirs(tree)]
    hooks = [found[-1] / "hooks"]
    try:
        found_paths = paths(SafeGit(tree), refused=True)
    except GitError:  # git cannot answer there (its git directory unreadable contained): the files' word
        value = config_file_get(found[0] / "config", "core.hooksPath")
        hooks += [tree / os.path.expanduser(value)] if value else []
        return [(p, tree) for p in [*found, *hooks, *(t for h in hooks for t in _hook_targets(h))]]
    hooks += [found_paths.hooks, found_paths.hooks_named]
    found += [found_paths.git_dir, found_paths.common_dir, *hooks, *(t for h in hooks for t in _hook_targets(h))]
    for file in found_paths.config_files:
        if file.is_file():
            files.setdefault(file, tree)
    out = [(p, tree) for p in found]
    for other in found_paths.worktrees:
        out.append((other / ".git", other))
        if other not in trees:
            trees.append(other)
            out += _tree(other, trees, files)
    return out


def _hook_targets(folder: Path) -> list[Path]:
    """The resolved target of each hook in `folder` that is a symlink (`pre-commit -> ../../scripts/pre-commit`):
    the file git runs, kept like the folder."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    out = []
    for name in sorted(names):
        if os.path.islink(folder / name):
            target = Path(os.path.realpath(folder / name))
            if target.is_file():
                out.append(target)
    return out


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


def pin_args(root: Path, kept: list[Path], floors: dict[Path, Path] | None = None) -> list[str]:
    """Each folder between the workspace and a path kept read-only, bound onto itself (as writable as it
    was): a mount point cannot be renamed, so a command cannot move a kept folder's parent aside and make
    a fresh folder, hooks and all, where the kept one was. For a path of a nested work tree (`floors`),
    only the folders below that tree's top: moved, the tree takes its kept paths and its .git along."""
    floors = floors or {}
    folders = {a for p in kept for a in p.parents if a != root and within(a, root)
               and not (p in floors and within(floors[p], a))}
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
