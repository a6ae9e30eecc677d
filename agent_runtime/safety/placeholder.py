"""The empty read-only `.env` standing at the top of the workspace while a sandboxed command runs.

A command must not create `.env` (the next start would read it), and bubblewrap can cover only
what exists: so an empty file stands there, bound read-only, and goes afterwards if still empty.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

# The placeholders standing for a missing top-level .env while commands run: (path -> users).
_placeholders: dict[Path, int] = {}
_placeholder_lock = threading.Lock()
# The folders FolderPlaceholders made that stand now: (path -> commands using them).
_folders: dict[Path, int] = {}


class DotenvPlaceholder:
    """An empty file at W/.env while a command runs, so bwrap can cover it read-only: a command
    cannot create .env (our next start would load it). Removed afterwards if still empty; one per
    workspace however many commands run at once."""

    def __init__(self, root: Path):
        self.path = root / ".env"
        self.ours = False

    def __enter__(self) -> "DotenvPlaceholder":
        with _placeholder_lock:
            if self.path in _placeholders:
                _placeholders[self.path] += 1
                self.ours = True
            elif not os.path.lexists(self.path):
                try:
                    os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
                    _placeholders[self.path] = 1
                    self.ours = True
                except OSError:  # a read-only workspace, a race with the user: nothing to cover
                    pass
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.ours:
            return
        with _placeholder_lock:
            _placeholders[self.path] -= 1
            if _placeholders[self.path]:
                return
            del _placeholders[self.path]
            try:
                info = self.path.lstat()
                if stat.S_ISREG(info.st_mode) and info.st_size == 0:
                    self.path.unlink()
            except OSError:
                pass


class Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def exclude_placeholder(root: Path, scratch: Path) -> Path | None:
    """The repository's .git/info/exclude plus the placeholder, to bind over it read-only."""
    exclude = root / ".git" / "info" / "exclude"
    if not exclude.is_file() or exclude.is_symlink():
        return None
    try:
        text = exclude.read_text(errors="replace")
    except OSError:
        return None
    copy = scratch / "exclude"
    copy.write_text(text.rstrip("\n") + "\n/.env\n")
    return copy


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
        with _placeholder_lock:
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
        with _placeholder_lock:
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
