"""Does the repository hold deny_read files, in its index or anywhere in its history? A git
command that prints file contents from there (git log -p, git show REV, git diff REV) is judged
by what it could print: found by asking git for every path it holds (cached until a ref or the
index changes)."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterable

from agent_runtime.core import within
from agent_runtime.safety.policy.paths import PathRules, Place
from agent_runtime.safety.policy.rules import Verdict
from agent_runtime.safety.programs.base import HistoryRead
from agent_runtime.safety.shellwords import Word

GIT_SCAN_TIMEOUT_S = 20.0


def find_repository(start: Path) -> tuple[Path, Path] | None:
    """(work tree, git directory) of the repository `start` is in, found the way git finds it
    (the nearest .git upwards), without running git."""
    for directory in (start, *start.parents):
        dot_git = directory / ".git"
        try:
            if dot_git.is_dir():
                return directory, dot_git
            if dot_git.is_file():
                text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
                if text.startswith("gitdir:"):
                    target = Path(text[7:].strip())
                    return directory, (target if target.is_absolute() else directory / target).resolve()
        except OSError:
            return None
    return None


def _repository_state(git_dir: Path) -> tuple:
    """Changes whenever a ref, the index or a reflog changes: the cache key for what the history holds."""
    dirs = [git_dir]
    try:
        common = (git_dir / "commondir").read_text().strip()
        dirs.append((git_dir / common).resolve())
    except OSError:
        pass
    state: list[Any] = []
    for base in dirs:
        for name in ("HEAD", "index", "packed-refs", "logs/HEAD", "shallow"):
            try:
                st = os.stat(base / name)
                state.append((str(base), name, st.st_mtime_ns, st.st_size))
            except OSError:
                state.append((str(base), name, None))
        for top in ("refs", "logs/refs"):
            for dirpath, _, _ in os.walk(base / top):
                try:
                    state.append((dirpath, os.stat(dirpath).st_mtime_ns))
                except OSError:
                    pass
    return tuple(state)


_HISTORY_CACHE: dict[tuple, tuple[str, ...] | None] = {}


def _git(worktree: Path, *args: str) -> subprocess.CompletedProcess | None:
    """git through the door (gitcmd): the repository's programs switched off, no lazy fetch (a
    partial clone's missing object makes rev-list fail: the history could not be checked).
    None when git could not be run safely."""
    from agent_runtime.gitcmd import GitError, SafeGit

    try:
        return SafeGit(worktree).call(*args, timeout=GIT_SCAN_TIMEOUT_S)
    except GitError:
        return None


def _paths_in_repository(worktree: Path, index_only: bool) -> list[str] | None:
    """The paths git holds for this repository: the index, and unless index_only every path in
    every commit reachable from any ref, reflog or stash. None when git could not say."""
    listed = _git(worktree, "ls-files", "-z", "--cached")
    if listed is None:
        return None
    if listed.returncode != 0:
        if b"dubious ownership" in listed.stderr or b"not a git repository" in listed.stderr:
            return []  # git refuses this repository: a git command run here prints nothing either
        return None
    paths = [p for p in listed.stdout.decode("utf-8", "replace").split("\0") if p]
    if index_only:
        return paths
    objects = _git(worktree, "rev-list", "--objects", "--all", "--reflog", "--indexed-objects")
    if objects is None or objects.returncode != 0:
        return None
    for line in objects.stdout.decode("utf-8", "replace").splitlines():
        _, sep, path = line.partition(" ")
        if sep and path:
            paths.append(path)
    return paths


def _covers(pathspec: Path, secret: Path) -> bool:
    """Would a git pathspec (resolved to an absolute path) select this file?"""
    if within(secret, pathspec):
        return True
    text = str(pathspec)
    return any(c in text for c in "*?[") and fnmatch.fnmatchcase(str(secret), text)


def foreign_floor(chdir: Word | None, place: Place, what: str, argv: Iterable[str] = ()) -> Iterable[Verdict]:
    """Any git command run where git would read outside the work tree (a `.git` leading out, a
    core.worktree naming another folder: `git status -vv` and `git blame FILE` print that folder's
    files) asks, like a history read there."""
    start = place.moved(chdir) if chdir is not None else place
    if not start.known:
        return  # judged elsewhere: a directory only known at run time
    found = find_repository(start.cwd)
    if found is None:
        return
    from agent_runtime.gitcmd import git_dir_escape, git_worktree_escape

    foreign = git_dir_escape(found[0]) or git_worktree_escape(found[0])
    if foreign is not None:
        yield Verdict("ask", "git-history", f"{what} reads {foreign.target}: {foreign.entry} leads to a "
                                            "repository or folder outside the workspace that is not its own")
        return
    yield from _nested_floor(found[0], what, False, list(argv))


# What makes git open a submodule's repository and print from it: a command's option, or a setting.
SUBMODULE_WORDS = ("--submodule", "--recurse-submodules")
SUBMODULE_SETTINGS = re.compile(r"^(diff\.submodule|status\.submodulesummary|submodule\.recurse|"
                                r"grep\.recursesubmodules|fetch\.recursesubmodules)$", re.I)


def _shows_submodules(worktree: Path, argv: Iterable[str]) -> bool:
    """Does this git command open its submodules' repositories: `--submodule=diff`, `--recurse-submodules`,
    or a setting of the repository's or the user's configuration (`diff.submodule = diff`)? Unknown: yes."""
    if any(text.startswith(SUBMODULE_WORDS) for text in argv):
        return True
    from agent_runtime.gitcmd import GitError, SafeGit, config_text, git_dirs

    home = Path(os.environ.get("HOME") or "/nonexistent")
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    files = [d / name for d in git_dirs(worktree) for name in ("config", "config.worktree")]
    files += [home / ".gitconfig", xdg / "git" / "config"]
    if not any(word in config_text(f).lower() for f in files for word in ("submodule", "include")):
        return False  # neither the repository nor the user sets one (the system file is the administrator's)

    try:
        done = SafeGit(worktree).call("config", "--list", "--show-scope", "-z", timeout=GIT_SCAN_TIMEOUT_S)
    except GitError:
        return True
    if done.returncode != 0:
        return True
    fields = done.stdout.decode("utf-8", "replace").split("\0")
    for scope, entry in zip(fields[0::2], fields[1::2]):
        key = entry.split("\n", 1)[0]
        if scope != "command" and SUBMODULE_SETTINGS.match(key):
            return True
    return False


def _nested_floor(worktree: Path, what: str, history: bool, argv: Iterable[str]) -> Iterable[Verdict]:
    """A nested repository whose git directory leads out: git shows its files as a submodule's diff,
    when the command or a setting makes it open its submodules (the work tree is walked only then)."""
    from agent_runtime.gitcmd import nested_git_escape

    if not _shows_submodules(worktree, argv):
        return
    nested = nested_git_escape(worktree)
    if nested == "many":
        if history:
            yield Verdict("ask", "git-history", f"{what} can show a submodule's files, and the work tree has too "
                                                "many files to check that no nested .git leads outside it")
    elif nested is not None:
        yield Verdict("ask", "git-history", f"{what} can read {nested.target} as a submodule's: {nested.entry} "
                                            "leads to a repository outside the workspace")


def history_floor(paths: PathRules, history: HistoryRead, place: Place,
                  argv: Iterable[str] = ()) -> Iterable[Verdict]:
    start = place.moved(history.chdir) if history.chdir is not None else place
    if not start.known:
        yield Verdict("ask", "git-history", f"{history.what} runs in a directory only known at run time, so "
                                            "what it can print from the history cannot be checked")
        return
    found = find_repository(start.cwd)
    if found is None:
        return  # not in a repository: git prints nothing
    worktree = found[0]
    from agent_runtime.gitcmd import git_dir_escape, git_worktree_escape

    foreign = git_dir_escape(worktree) or git_worktree_escape(worktree)
    if foreign is not None:
        yield Verdict("ask", "git-history", f"{history.what} reads {foreign.target}: {foreign.entry} leads to a "
                                            "repository outside the workspace that is not its own")
        return
    nested = list(_nested_floor(worktree, history.what, True, list(argv)))
    if nested:
        yield from nested
        return
    # Which objects and paths the command shows.
    revisions: list[Word] = []  # whole commits (or unknown objects)
    positives: list[Path] = []  # paths it is limited to
    for word in history.maybe_paths:
        if not word.static:
            revisions.append(word)
        elif word.text.startswith(":/"):
            revisions.append(word)  # `:/three`: the newest commit whose message matches, printed whole
        elif ":" in word.text and "://" not in word.text:
            continue  # REV:path prints that one file, judged by its path (repo_paths)
        else:
            path = start.lexical(word.text)
            if path is not None and path.exists() and history.kind != "objects":
                positives.append(path)
            elif history.what == "git cat-file" and not re.fullmatch(r"[0-9a-fA-F]{4,64}", word.text) \
                    and "^{blob}" not in word.text:
                continue  # HEAD, a branch, a tag: a commit, which cat-file prints without any file
            else:
                revisions.append(word)
    for word in history.pathspecs:
        if not word.static:
            positives = []
            break
        if word.text.startswith((":!", ":^", ":(exclude")):
            continue
        text = re.sub(r"^:(\([^)]*\)|/)?", "", word.text)
        base = worktree if word.text.startswith(":") else start.cwd
        positives.append(Path(os.path.normpath(base / text)) if text else worktree)
    if history.kind == "objects" and not revisions:
        return
    index_only = history.kind == "worktree" and not revisions and not history.staged
    secrets = secrets_in_repository(paths, *found, index_only=index_only)
    if secrets is None:
        yield Verdict("ask", "git-history", f"{history.what} can print files from the repository's history, "
                                            "and the history could not be checked for deny_read files")
        return
    shown = [s for s in secrets if not positives or any(_covers(p, worktree / s) for p in positives)]
    if not shown and history.every_ref:
        # No deny_read file, but a secret committed once to any file and removed since is printed whole.
        yield Verdict("ask", "git-history-all", f"{history.what} {history.every_ref} prints every change on every "
                                                "branch, tag and stash: a secret committed once and removed since "
                                                "is printed whole, and output redaction is the only guard; name the "
                                                "branch or range, e.g. `git log -p main~5..main`")
    if shown:
        more = f" (and {len(shown) - 1} more)" if len(shown) > 1 else ""
        where = "index" if index_only else "history or index"
        yield Verdict("ask", "git-history",
                      f"{history.what} can print {shown[0]}{more} from the repository's {where}, and it may "
                      f"hold secrets (deny_read {paths.read_denied(shown[0])!r}); name the paths to show, "
                      f"e.g. `{history.what} -- src/`")


def secrets_in_repository(rules: PathRules, worktree: Path, git_dir: Path,
                          index_only: bool = False) -> tuple[str, ...] | None:
    """The deny_read paths git holds for this repository: in its index, or anywhere in its history
    (cached until a ref or the index changes); None when git could not say."""
    key = (str(worktree), str(git_dir), index_only, rules.deny_read, rules.allow_read, _repository_state(git_dir))
    if key not in _HISTORY_CACHE:
        held = _paths_in_repository(worktree, index_only)
        _HISTORY_CACHE[key] = None if held is None else tuple(sorted({p for p in held if rules.read_denied(p)}))
        if len(_HISTORY_CACHE) > 64:
            _HISTORY_CACHE.pop(next(iter(_HISTORY_CACHE)))
    return _HISTORY_CACHE[key]
