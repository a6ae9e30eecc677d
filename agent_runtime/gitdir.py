"""Does a work tree's git directory lead outside it? Checked on the files alone, before any git runs
(gitcmd, the door, asks here).

Why: git reads a repository's objects and refs wherever its git directory says they are. A `.git`
file (`gitdir: PATH`) or symlink, a `commondir` file, an `objects/info/alternates` line, a symlinked
`objects`, `refs`, `HEAD`, `packed-refs` or `index`, even one symlinked loose object or pack: each
makes `git log` or `git diff` print another repository's history and files (another project of the
user's, or the agent's own checkpoint store of one) as if they were this workspace's. Listing the
cases would miss the next one, so the check is one rule over the class: every path git can follow
from the git directory (each entry of it, at any depth, resolved; each path a commondir, gitdir or
alternates file names) must stay in the work tree, and never in the agent's own directories.

Allowed besides the work tree: a linked worktree's git directory and its main repository
(`git worktree add`), whose `gitdir` file names this work tree's `.git` back, and a submodule's git
directory, whose core.worktree names this work tree (the caller reads that, with git). Left to
other checks: `config` and `config.worktree` (gitcmd refuses configuration read from outside, with
what it includes), and `hooks` (the door never runs a hook: core.hooksPath=/dev/null).

Standard library only, with core and config: gitcmd imports it, never the other way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from agent_runtime.config import agent_dirs
from agent_runtime.core import read_regular as core_read_regular
from agent_runtime.core import within

PATH_FILE_MAX_BYTES = 1 << 20  # git reads such a file whole
# Left to other checks (see the module): the configuration, and hooks that never run.
NOT_WALKED = ("config", "config.worktree", "hooks")


class Escape(NamedTuple):
    """`entry` (a `.git` file, a symlink, a commondir or alternates file) leads to `target`, outside."""
    entry: Path
    target: Path
    own: bool  # the target is in the agent's own directories (state, checkpoints, config, caches)
    why: str = ""  # a refusal of another kind, said as it is (a FIFO in the git directory)

    def message(self) -> str:
        if self.why:
            return self.why
        if self.own:
            return (f"{self.entry} leads to {self.target}, in the agent's own state (checkpoints, runs, "
                    "configuration): git would read it as this workspace's, so git is not used here")
        return (f"{self.entry} leads to {self.target}, outside the workspace and not this directory's linked "
                "worktree or submodule: git would read another repository there, so git is not used here")


def _real(base: Path, text: str) -> Path:
    return Path(os.path.realpath(text if os.path.isabs(text) else base / text))


def read_regular(path: Path, limit: int = PATH_FILE_MAX_BYTES) -> bytes | None:
    """A file of the git directory as git reads it (its first `limit` bytes); None unless it is a
    regular file: a FIFO put there would otherwise hold the agent for ever."""
    data = core_read_regular(path, limit)
    return None if data is None else data[:limit]


def _path_file(path: Path) -> str | None:
    """A path as git reads it from a file (commondir, gitdir, a `.git` file): the whole text, only
    trailing CR and LF removed, as git does (a second line or a trailing blank is part of the path);
    None when there is no such file."""
    data = read_regular(path)
    return None if data is None else data.decode("utf-8", "surrogateescape").rstrip("\r\n")


def is_include(key: str) -> bool:
    """Is this configuration key (as `git config --list` prints it) an include.path or includeIf.*.path?"""
    lower = key.lower()
    return lower == "include.path" or (lower.startswith("includeif.") and lower.endswith(".path"))


def include_target(config: Path, value: str, home: str) -> Path:
    """The file an include in `config` names, resolved as git finds it: `~/` from HOME, relative to the file."""
    if value.startswith("~/"):
        value = home + value[1:]
    return _real(config.parent, value)


def gitfile_target(dot_git: Path) -> Path | None:
    """What a `.git` file (`gitdir: PATH`) names, resolved; None for anything else (git refuses it).
    A symlink to such a file is read like one, its path relative to where the link is, as git does."""
    text = _path_file(dot_git)
    if text is None or not text.startswith("gitdir: "):
        return None
    return _real(dot_git.parent, text[8:])


def common_dir(git_dir: Path) -> Path | None:
    """The common directory a git directory's `commondir` file names, resolved; None without one."""
    text = _path_file(git_dir / "commondir")
    return _real(git_dir, text) if text else None


def _links_back(git_dir: Path, dot_git: Path) -> bool:
    """Does this linked worktree's git directory name `dot_git` (a `.git` file) in its `gitdir` file?"""
    text = _path_file(git_dir / "gitdir")
    return bool(text) and _real(git_dir, text) == Path(os.path.realpath(dot_git))


def _unquote(line: str) -> str | None:
    """A C-quoted alternates line ("..."), unquoted; None when it is not one."""
    if not (len(line) > 1 and line.startswith('"') and line.endswith('"')):
        return None
    try:
        raw = line[1:-1].encode("utf-8", "surrogateescape").decode("unicode_escape")
        return raw.encode("latin-1").decode("utf-8", "surrogateescape")
    except (UnicodeError, ValueError):
        return None


def _alternates(objects: Path) -> list[Path]:
    """The object directories git borrows from through `<objects>/info/alternates`, resolved: each
    line as git takes it (not stripped; empty lines and `#` comments skipped), relative to
    `objects`. A quoted line counts both as written and unquoted: either reading is checked."""
    data = read_regular(objects / "info" / "alternates")
    if data is None:
        return []
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    found = []
    for line in lines:
        if line and not line.startswith("#"):
            found += [_real(objects, text) for text in (line, _unquote(line)) if text]
    return found


class _Bounds:
    """Where git may read: the roots, never the agent's own directories (unless the work tree is in one)."""

    def __init__(self, root: Path):
        self.roots = [root]
        owned = [Path(os.path.realpath(d)) for d in agent_dirs()]
        self.owned = [d for d in owned if not within(root, d)]

    def escape(self, entry: Path, target: Path) -> Escape | None:
        if any(within(target, d) for d in self.owned):
            return Escape(entry, target, True)
        if not any(within(target, r) for r in self.roots):
            return Escape(entry, target, False)
        return None


def _walk(starts: Iterable[Path], bounds: _Bounds) -> Escape | None:
    """Every entry under the git directories `starts`, at any depth: a symlink must resolve inside
    the bounds (a symlinked directory inside is walked too)."""
    seen: set[Path] = set()
    stack = [(Path(os.path.realpath(s)), True) for s in starts]
    while stack:
        directory, top = stack.pop()
        if directory in seen:
            continue
        seen.add(directory)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue  # unreadable: git cannot read it either
        for entry in entries:
            if not (entry.is_symlink() or entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False)):
                return Escape(Path(entry.path), Path(entry.path), False,
                              f"{entry.path} is not a file (a FIFO, socket or device): git would wait on it, "
                              "so git is not used here")
            if top and entry.name in NOT_WALKED:
                continue
            if entry.is_symlink():
                target = Path(os.path.realpath(entry.path))
                found = bounds.escape(Path(entry.path), target)
                if found is not None:
                    return found
                if target.is_dir():
                    stack.append((target, False))
            elif entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), False))
    return None


def _named_paths(git_dir: Path, bounds: _Bounds) -> tuple[list[Path], Escape | None]:
    """The paths a git directory's own files name (commondir, gitdir, alternates, followed from one
    object directory to the next as git does) checked: the object directories to walk too, or the
    first that leads out. The git directory's own `info/alternates` is read as git would if the
    directory were named as an object directory."""
    common = common_dir(git_dir)
    if common is not None and (found := bounds.escape(git_dir / "commondir", common)) is not None:
        return [], found
    text = _path_file(git_dir / "gitdir")
    if text:  # where a linked worktree is: outside is fine if it is gone or names this directory back
        named = _real(git_dir, text)
        found = bounds.escape(git_dir / "gitdir", named)
        if found is not None and named.exists() and gitfile_target(named) != Path(os.path.realpath(git_dir)):
            return [], found
    extra: list[Path] = []
    queue = [git_dir / "objects", git_dir]
    while queue:
        objects = queue.pop()
        for alternate in _alternates(objects):
            if (found := bounds.escape(objects / "info" / "alternates", alternate)) is not None:
                return [], found
            if alternate not in extra and len(extra) < 64:  # git follows five levels; a loop ends here
                extra.append(alternate)
                queue.append(alternate)
    return extra, None


MAX_MODULES = 256


def _module_dirs(starts: list[Path]) -> list[Path]:
    """The submodules' git directories (`modules/NAME`, nested ones within): git opens them to show a
    submodule's diff (`git log -p --submodule=diff`, diff.submodule=diff), following their alternates."""
    found: list[Path] = []
    stack = [base / "modules" for base in starts]
    while stack and len(found) < MAX_MODULES:
        folder = stack.pop()
        try:
            entries = [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for entry in entries:
            if (entry / "HEAD").exists():
                found.append(entry)
                stack.append(entry / "modules")
            else:
                stack.append(entry)  # a name with a slash: modules/a/b
    return found


MAX_NESTED_WALK = 50000


def nested_escape(top: Path, core_worktree: Callable[[Path], str | None],
                  worktrees: Callable[[Path], list[str]] = lambda git_dir: []) -> Escape | str | None:
    """The first nested repository of the work tree `top` (a `.git` at any depth below it) through which
    git would read outside `top`: git opens `SUB/.git` to show a submodule's diff, at any path a commit
    of the history names as a submodule, so a `sub/.git` file planted with `gitdir: /other/repo/.git`
    prints that repository's files. "many" when the work tree has too many entries to look at all."""
    root = Path(os.path.realpath(top))
    stack, count = [root], 0
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            count += 1
            if count > MAX_NESTED_WALK:
                return "many"
            if entry.name.lower() == ".git":
                if folder != root:
                    found = escape(Path(folder), core_worktree, worktrees, outer=root)
                    if found is not None:
                        return found
                continue  # never into a git directory
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
            except OSError:
                continue
    return None


def _worktree_out(top: Path, root: Path, bounds: "_Bounds",
                  worktrees: Callable[[Path], list[str]]) -> Escape | None:
    dot_git = top / ".git"
    git_dir = gitfile_target(dot_git) or Path(os.path.realpath(dot_git))
    for value in worktrees(git_dir):
        target = _real(git_dir, value)
        if target != root and (found := bounds.escape(git_dir / "config", target)) is not None:
            return Escape(found.entry, found.target, found.own)
    return None


def worktree_escape(top: Path, worktrees: Callable[[Path], list[str]]) -> Escape | None:
    """A core.worktree of the git directory (its config or config.worktree) naming a folder outside `top`:
    git run there without GIT_WORK_TREE (a command of the user's, not the door's, which pins it) takes
    that folder for the work tree, so `git diff`, `git status -vv` and `git blame` print its files."""
    root = Path(os.path.realpath(top))
    return _worktree_out(top, root, _Bounds(root), worktrees)


def escape(top: Path, core_worktree: Callable[[Path], str | None],
           worktrees: Callable[[Path], list[str]] = lambda git_dir: [], outer: Path | None = None,
           allowed: list[Path] | None = None) -> Escape | None:
    """The first path through which git, run in the work tree `top`, would read outside it (see the
    module); None when there is none. `core_worktree(git_dir)`: that git directory's core.worktree
    (read by the caller, with git), for a submodule's git directory outside `top`. `worktrees(git_dir)`:
    every core.worktree its configuration files set (config, config.worktree), checked as in
    worktree_escape (the door pins GIT_WORK_TREE, so it does not ask for that check). `outer`: the
    work tree a nested repository `top` lies in, where its git directory may be too. `allowed`, when
    given and nothing leads out: filled with the folders this one look found git may read (the work tree,
    a linked worktree's or submodule's git directory and main repository), each checked on its own: a
    contained git is shown those and nothing else, so what a file says after this look cannot widen it."""
    root = Path(os.path.realpath(top))
    bounds = _Bounds(root)
    if outer is not None:  # a nested repository: its git directory may be anywhere in the outer work tree
        bounds.roots.append(outer)
    found = _worktree_out(top, root, bounds, worktrees)
    if found is not None:
        return found
    dot_git = top / ".git"
    if dot_git.is_symlink() and (found := bounds.escape(dot_git, Path(os.path.realpath(dot_git)))) is not None:
        return found  # a symlink out is never a linked worktree's
    if (target := gitfile_target(dot_git)) is not None:
        git_dir = target
        if (found := bounds.escape(dot_git, git_dir)) is not None:
            worktree = None if found.own else core_worktree(git_dir)
            if found.own or not (_links_back(git_dir, dot_git) or (worktree and _real(git_dir, worktree) == root)):
                return found
            bounds.roots.append(git_dir)  # a linked worktree's or a submodule's git directory
    else:
        git_dir = Path(os.path.realpath(dot_git))
    starts = [git_dir]
    common = common_dir(git_dir)
    if common is not None and common not in starts:
        # a linked worktree's main repository: git_dir is <common>/worktrees/<name>, linked back above
        if git_dir in bounds.roots[1:] and git_dir.parent == common / "worktrees":
            bounds.roots.append(common)
        starts.append(common)
    dirs = list(starts)
    for base in starts:  # the other linked worktrees' git directories
        try:
            dirs += [Path(e.path) for e in os.scandir(base / "worktrees") if e.is_dir(follow_symlinks=False)]
        except OSError:
            pass
    dirs += _module_dirs(starts)
    for directory in dirs:
        extra, found = _named_paths(directory, bounds)
        if found is not None:
            return found
        starts += extra
    found = _walk(starts, bounds)
    if found is None and allowed is not None:
        allowed += bounds.roots
    return found
