"""A command between two checkpoints (patches/checkpoint.py): the snapshots around it, the entry its
changes get in the undo history, and what its result says (Mark): what it changed, what undoes it,
and what undo cannot put back."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from agent_runtime.gitcmd import GitError
from agent_runtime.patches.checkpoint import Snapshot, Store, shown
from agent_runtime.patches.restore import Change

CHANGED_SHOWN = 20  # the changed paths a command's result names (a formatter over the repository: a count)


@dataclass
class Mark:
    """What `around` found: the entry recorded for the command's changes, or why there is none."""

    id: str | None = None
    files: int = 0
    note: str | None = None
    paths: tuple[str, ...] = ()  # the paths changed
    not_covered: tuple[str, ...] = ()  # what it did that undo cannot put back (Store.not_covered)

    def facts(self) -> dict[str, object]:
        """For a command's result: what it changed (the first CHANGED_SHOWN paths), what undoes it, and
        what undo cannot put back."""
        out: dict[str, object] = {}
        if self.id:
            out = {"files_changed": self.files, "changed": list(self.paths[:CHANGED_SHOWN]), "undo_id": self.id}
        elif self.note:
            out = {"checkpoint": self.note}
        if self.not_covered:
            out["not_covered"] = shown(list(self.not_covered))
        return out


def _why(exc: BaseException) -> str:
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"git timed out after {exc.timeout:.0f} s"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc.strerror or exc)
    return str(exc)[:300]


@contextmanager
def around(store: Store, record: Callable[[Snapshot, Snapshot, list[Change]], str]) -> Iterator[Mark]:
    """Snapshots before and after the body (a command); `record` is called with both and the changes
    when there are any, and returns the entry's id. A failing snapshot never stops the command: the
    mark's note says its changes cannot be undone."""
    mark = Mark()
    try:
        before: Snapshot | None = store.snapshot()
    except (GitError, OSError, subprocess.SubprocessError) as exc:
        before, mark.note = None, f"no checkpoint before this command ({_why(exc)}): its changes cannot be undone"
    try:
        yield mark
    finally:
        if before is not None:
            try:
                after = store.snapshot()
                changes = store.changes(before.id, after.id) if after.id != before.id else []
                mark.not_covered = tuple(store.not_covered(before, after))
                if changes:
                    mark.id, mark.files = record(before, after, changes), sum(not c.directory for c in changes)
                    mark.paths = tuple(c.name for c in changes)
            except (GitError, OSError, subprocess.SubprocessError) as exc:
                mark.note = f"no checkpoint after this command ({_why(exc)}): its changes cannot be undone"
