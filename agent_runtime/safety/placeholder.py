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
