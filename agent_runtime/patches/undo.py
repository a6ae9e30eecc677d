"""Undo as history: a journal of applied patches per repository, outside it; undo walks back
through them, newest first, restoring each one's files unless they changed since.

Files, all under the user's state directory (undo/), named after the workspace's path:

    <key>.jsonl            one line per applied patch (files' bytes before and after), and one
                           per undo ("undone": which line, how); appended, never rewritten
    <key>.proposed.jsonl   every proposed patch (so a resumed conversation gets its patches back)
    <key>.next             the next patch number: ids (p1, p2, ...) are never reused in a repository
    <key>.lock             taken while allocating an id, appending or undoing (two sessions at once)

The journal holds files' contents, so it is private (directory 0700, files 0600), and it never
holds the content of a file the policy forbids reading (deny_read, e.g. `.env`): such a patch is
refused before anything is written (the policy denies proposing it in the first place).

Commands are in the same history: before and after each sandboxed command the workspace is saved
in the checkpoint store (patches/checkpoint.py), and a command that changed files gets an entry
(ids c1, c2, ... from the same counter) naming its two snapshots; undoing it puts every file it
changed back as it was, under the same rule as a patch (refused when one changed since).

A patch is undone by hand when each of its files is back as it was before it (or before an
earlier patch still in effect), e.g. after `git checkout FILE`: undo then marks it undone and goes
on to the one before, so a restore by hand never leaves undo stuck on a refusal.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from agent_runtime.core import Workspace
from agent_runtime.gitcmd import GitError
from agent_runtime.patches.apply import FileEdit, Patch, _read, write_edits
from agent_runtime.patches.checkpoint import SHOWN, Change, Snapshot, Store
from agent_runtime.patches.diffs import PatchError


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
PROPOSED_MAX_BYTES = 16_000_000  # past this the oldest half of the proposals is dropped
_ID = re.compile(r"^[pc](\d+)$")


def _write_private(path: Path, text: str, append: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path.parent, PRIVATE_DIR)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(text)


def _edits_json(edits: list[FileEdit]) -> list[dict[str, Any]]:
    return [{"old_path": e.old_path, "new_path": e.new_path, "before": _b64(e.before), "after": _b64(e.after),
             "old_mode": e.old_mode, "new_mode": e.new_mode} for e in edits]


def _edits(items: list[dict[str, Any]]) -> list[FileEdit]:
    return [FileEdit(e["old_path"], e["new_path"], _unb64(e["before"]), _unb64(e["after"]), e["old_mode"],
                     e["new_mode"]) for e in items]


def _lines(path: Path) -> list[dict[str, Any]]:
    """The journal's lines; a line cut short by a kill is skipped (the rest still reads)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        out.append(item if isinstance(item, dict) else {})
    return out


@dataclass
class Applied:
    """One applied patch of the history, and what became of it."""

    line: int  # its line in the journal: what an undo mark names
    patch_id: str
    time: float
    edits: list[FileEdit]
    run_id: str | None = None
    conversation: str | None = None
    undone: str | None = None  # None (in effect), "undo", or "by hand"
    files: list[str] = field(default_factory=list)  # a command's: the paths it changed
    command: str | None = None  # set for a command's changes (a checkpoint), None for a patch
    before: str = ""  # a command's snapshots (trees of the checkpoint store)
    after: str = ""
    not_covered: list[str] = field(default_factory=list)  # ignored files past the snapshot's limits

    @property
    def paths(self) -> list[str]:
        if self.command is not None:
            return self.files
        return [p for e in self.edits for p in dict.fromkeys((e.old_path, e.new_path)) if p]

    @property
    def what(self) -> str:
        """"patch p3" or "command c4 (`rm -rf src`)"."""
        if self.command is None:
            return f"patch {self.patch_id}"
        shown = self.command if len(self.command) <= 60 else self.command[:57] + "..."
        return f"command {self.patch_id} (`{shown}`)"


class UndoJournal:
    """The history of one workspace's applied patches, its proposals and its patch ids.

    secret: does the policy forbid reading this workspace-relative path? (default: nothing is)
    context: tags written with each entry (run_id, conversation), set by the session.
    """

    def __init__(self, directory: Path, workspace: Workspace, secret: Callable[[str], bool] | None = None,
                 store: Store | None = None):
        key = hashlib.sha256(str(workspace.root).encode()).hexdigest()[:16]
        # The checkpoint store of this workspace, beside the journal (<state home>/checkpoints/<key>).
        self.store = store or Store(Path(directory).parent / "checkpoints" / key, workspace.root)
        self.dir = Path(directory)
        self.path = self.dir / f"{key}.jsonl"
        self.proposed_path = self.dir / f"{key}.proposed.jsonl"
        self.counter_path = self.dir / f"{key}.next"
        self.lock_path = self.dir / f"{key}.lock"
        self.workspace = workspace
        self.secret = secret or (lambda rel: False)
        self.context: dict[str, Any] = {}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        os.chmod(self.dir, PRIVATE_DIR)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    # --- ids ---

    def new_id(self, prefix: str = "p") -> str:
        """The next id of this repository: p1, p2, ... (c3 for a command's changes), never one an earlier
        session used."""
        with self._locked():
            try:
                number = int(self.counter_path.read_text().strip())
            except (FileNotFoundError, ValueError):
                number = self._highest_id() + 1  # a journal from before the counter: go past its ids
            tmp = self.counter_path.with_suffix(".tmp")
            _write_private(tmp, f"{number + 1}\n", append=False)
            os.replace(tmp, self.counter_path)
        return f"{prefix}{number}"

    def _highest_id(self) -> int:
        numbers = [0]
        for path in (self.path, self.proposed_path):
            for item in _lines(path):
                match = _ID.match(str(item.get("patch_id", "")))
                if match:
                    numbers.append(int(match.group(1)))
        return max(numbers)

    # --- writing ---

    def refuse_secrets(self, patch: Patch) -> None:
        """Refuse a patch whose files' contents may not be stored (call before writing it)."""
        for edit in patch.edits:
            for rel in (edit.old_path, edit.new_path):
                if rel is not None and self.secret(rel):
                    raise PatchError(
                        f"{rel} may hold secrets (the policy forbids reading it), so patch {patch.id} is not applied: "
                        "its content would be kept in the undo journal",
                        "Leave that file to the user; change other files.",
                    )

    def record(self, patch: Patch) -> None:
        """An applied patch (a Runtime patch listener)."""
        self.refuse_secrets(patch)
        entry = {"type": "applied", "patch_id": patch.id, "time": time.time(), "root": str(self.workspace.root),
                 **self._tags(), "edits": _edits_json(patch.edits)}
        with self._locked():
            _write_private(self.path, json.dumps(entry, ensure_ascii=True) + "\n", append=True)

    def record_command(self, command: str, before: Snapshot, after: Snapshot, changes: list[Change]) -> str:
        """A command that changed files (checkpoint.around's `record`): its id."""
        entry_id = self.new_id("c")
        covered = set(after.not_covered) - set(before.not_covered)
        entry = {"type": "command", "patch_id": entry_id, "time": time.time(), "root": str(self.workspace.root),
                 **self._tags(), "command": command, "before": before.tree, "after": after.tree,
                 "files": [c.path for c in changes], "not_covered": sorted(covered)[:SHOWN]}
        with self._locked():
            _write_private(self.path, json.dumps(entry, ensure_ascii=True) + "\n", append=True)
        return entry_id

    def remember(self, patch: Patch) -> None:
        """A proposed patch, kept so a resumed conversation has it again. One that names a file
        the policy hides is not kept (proposing it was refused already; this is the second lock)."""
        paths = [rel for e in patch.edits for rel in (e.old_path, e.new_path) if rel]
        if any(self.secret(rel) for rel in paths):
            return
        entry = {"type": "proposed", "patch_id": patch.id, "time": time.time(), **self._tags(),
                 "notes": list(patch.notes), "edits": _edits_json(patch.edits)}
        with self._locked():
            _write_private(self.proposed_path, json.dumps(entry, ensure_ascii=True) + "\n", append=True)
            if self.proposed_path.stat().st_size > PROPOSED_MAX_BYTES:
                lines = self.proposed_path.read_text(encoding="utf-8").splitlines(keepends=True)
                kept = "".join(lines[len(lines) // 2:])
                tmp = self.proposed_path.with_suffix(".tmp")
                _write_private(tmp, kept, append=False)
                os.replace(tmp, self.proposed_path)

    def _tags(self) -> dict[str, Any]:
        return {k: self.context[k] for k in ("run_id", "conversation") if self.context.get(k)}

    # --- reading ---

    def history(self) -> list[Applied]:
        """Every applied patch, oldest first, with whether (and how) it was undone."""
        applied: dict[int, Applied] = {}
        for number, item in enumerate(_lines(self.path)):
            kind = item.get("type", "applied" if "edits" in item else None)
            if kind == "applied" and "edits" in item:
                entry = Applied(number, str(item.get("patch_id", "?")), float(item.get("time") or 0),
                                _edits(item["edits"]), item.get("run_id"), item.get("conversation"))
                if item.get("undone"):  # the journal's first format marked undone entries in place
                    entry.undone = "undo"
                applied[number] = entry
            elif kind == "command" and isinstance(item.get("files"), list):
                applied[number] = Applied(number, str(item.get("patch_id", "?")), float(item.get("time") or 0), [],
                                          item.get("run_id"), item.get("conversation"),
                                          files=[str(f) for f in item["files"]], command=str(item.get("command")),
                                          before=str(item.get("before")), after=str(item.get("after")),
                                          not_covered=[str(f) for f in item.get("not_covered") or []])
            elif kind == "undone" and isinstance(item.get("line"), int) and item["line"] in applied:
                applied[item["line"]].undone = str(item.get("how") or "undo")
        return list(applied.values())

    def proposals(self, conversation: str) -> list[Patch]:
        """The patches proposed in a conversation, in order, marked applied when they still are."""
        in_effect = {e.patch_id for e in self.history() if e.undone is None}
        found: dict[str, Patch] = {}
        for item in _lines(self.proposed_path):
            if item.get("type") == "proposed" and item.get("conversation") == conversation and "edits" in item:
                patch = Patch(str(item["patch_id"]), _edits(item["edits"]), list(item.get("notes") or []))
                patch.applied = patch.id in in_effect
                found[patch.id] = patch
        return list(found.values())

    # --- undo ---

    def _state(self, entry: Applied, live: list[Applied]) -> tuple[list[FileEdit], list[str], list[str]]:
        """(edits still in effect, paths back as before by hand, paths changed since) of an entry.

        A file counts as back as before when it holds what it held before this patch, or before an
        earlier patch still in effect that changed it too (a `git checkout` that went further back)."""
        in_effect: list[FileEdit] = []
        restored: list[str] = []
        changed: list[str] = []
        earlier = [e for e in live if e.line < entry.line]
        for edit in entry.edits:
            old_now = _read(self.workspace, edit.old_path)[0] if edit.old_path else None
            new_now = _read(self.workspace, edit.new_path)[0] if edit.new_path else None
            moved = edit.old_path != edit.new_path
            if (edit.new_path is None or new_now == edit.after) and \
                    (edit.old_path is None or not moved or old_now is None):
                in_effect.append(edit)
                continue
            befores = [edit.before] + [e.before for other in earlier for e in other.edits
                                       if edit.old_path is not None and e.old_path == edit.old_path]
            if (edit.old_path is None or any(old_now == b for b in befores)) and \
                    (edit.new_path is None or not moved or new_now is None):
                restored.append(edit.path)
            else:
                changed += [p for p in dict.fromkeys((edit.old_path, edit.new_path)) if p and p not in changed]
        return in_effect, restored, changed

    def _mark(self, entry: Applied, how: str) -> None:
        mark = {"type": "undone", "line": entry.line, "patch_id": entry.patch_id, "how": how, "time": time.time()}
        _write_private(self.path, json.dumps(mark, ensure_ascii=True) + "\n", append=True)
        entry.undone = how

    def undo(self, patch_id: str | None = None) -> dict[str, Any]:
        """Undo the newest patch still in effect (or `patch_id`): restore its files, refusing if any
        changed since. Patches found already undone by hand on the way are marked so and skipped.
        Returns {"patch_id", "files", "by_hand": [ids]}; patch_id is None when only those were found."""
        with self._locked():
            history = self.history()
            live = [e for e in history if e.undone is None]
            by_hand: list[str] = []
            if patch_id is not None:
                wanted = patch_id.strip()
                matches = [e for e in live if e.patch_id == wanted]
                if not matches:
                    done = [e for e in history if e.patch_id == wanted]
                    if done:
                        raise PatchError(f"{done[-1].what} is already undone",
                                         "Nothing to do (agent-runtime undo --list shows the history).")
                    raise PatchError(f"there is no patch {wanted} in this repository's history",
                                     "agent-runtime undo --list shows the applied patches and their ids.")
                candidates = matches[-1:]
            else:
                candidates = list(reversed(live))
            for entry in candidates:
                in_effect, restored, changed = self._entry_state(entry, live)
                if changed:
                    raise PatchError(self._refusal(entry, changed, live), self._advice(entry, changed))
                if not in_effect:  # every file is back already: undone by hand
                    self._mark(entry, "by hand")
                    live.remove(entry)
                    by_hand.append(entry.patch_id)
                    continue
                removed: list[str] = []
                if entry.command is not None:
                    self.store.restore(in_effect)
                    files = [c.path for c in in_effect]
                    removed = [c.path for c in in_effect if c.before is None]
                else:
                    write_edits([edit.inverse() for edit in in_effect], self.workspace)
                    files = [e.inverse().path for e in in_effect]
                self._mark(entry, "undo")
                return {"patch_id": entry.patch_id, "files": files, "by_hand": by_hand, "left_as_is": restored,
                        "what": entry.what, "command": entry.command, "not_covered": entry.not_covered,
                        "removed": removed}
            if by_hand:
                return {"patch_id": None, "files": [], "by_hand": by_hand, "left_as_is": []}
            raise PatchError("there is no applied patch to undo in this repository (nor a command's changes)",
                             "Nothing to do (agent-runtime undo --list shows the history).")

    def _entry_state(self, entry: Applied, live: list[Applied]) -> tuple[list[Any], list[str], list[str]]:
        """_state for a patch; for a command, from its snapshots in the checkpoint store."""
        if entry.command is None:
            return self._state(entry, live)
        try:
            return self.store.state(entry.before, entry.after)
        except (GitError, OSError, subprocess.SubprocessError) as exc:
            raise PatchError(f"the checkpoint of {entry.what} cannot be read ({exc})",
                             "Nothing was changed. Restore its files by hand (git checkout, your backups).") from None

    def _refusal(self, entry: Applied, changed: list[str], live: list[Applied]) -> str:
        later = [e for e in live if e.line > entry.line and set(e.paths) & set(changed)]
        since = "it was applied" if entry.command is None else "it ran"
        files = ", ".join(changed[:SHOWN]) + (f" and {len(changed) - SHOWN} more" if len(changed) > SHOWN else "")
        head = f"cannot undo {entry.what}: {files} changed since {since}"
        patches = [e.patch_id for e in later if e.command is None]
        commands = [e.what for e in later if e.command is not None]
        if patches:
            head += f" (by patch {', '.join(patches)}, applied later)"
        if commands:
            head += f" (by {', '.join(commands)}, run later)"
        return head

    def _advice(self, entry: Applied, changed: list[str]) -> str:
        files = " ".join(changed[:SHOWN])
        later = "patches" if entry.command is None else "patches and commands"
        return (f"Nothing was changed. Undo the later {later} first, or put {files} back by hand "
                f"(`git diff -- {files}` shows what changed; `git checkout -- {files}` restores the committed "
                f"version, after which undo goes on); earlier {later} can be undone by id "
                "(agent-runtime undo --list)")

    def status(self) -> list[dict[str, Any]]:
        """The history for `undo --list`, newest first: id, time, state, files, run."""
        history = self.history()
        live = [e for e in history if e.undone is None]
        rows = []
        for entry in reversed(history):
            if entry.undone:
                state = "undone" if entry.undone == "undo" else "undone by hand"
                changed: list[str] = []
            else:
                try:
                    in_effect, _, changed = self._entry_state(entry, live)
                except PatchError as exc:
                    in_effect, changed = [], [exc.error]
                later = [e.patch_id for e in live if e.line > entry.line and set(e.paths) & set(changed)]
                if changed and later:  # changed again by a later patch of the agent's: still in effect
                    state, changed = f"in effect, then {', '.join(later)}", []
                else:
                    state = "changed since" if changed else ("in effect" if in_effect else "restored by hand")
            if entry.command is None:
                files = Patch(entry.patch_id, entry.edits).stats()
            else:
                files = [{"path": p, "status": "changed", "added": None, "removed": None} for p in entry.files]
            rows.append({"patch_id": entry.patch_id, "time": entry.time, "state": state, "changed": changed[:SHOWN],
                         "files": files, "run_id": entry.run_id, "kind": "command" if entry.command else "patch",
                         "command": entry.command, "not_covered": entry.not_covered})
        return rows

    def undo_last(self) -> dict[str, Any]:
        """The newest patch still in effect (the journal's first interface)."""
        return self.undo()


def combined_edits(patches: list[list[FileEdit]]) -> list[FileEdit]:
    """Patches applied one after another as one change per file: each file from before the first
    patch that touched it to after the last (renames followed), files with no net change left out."""
    current: dict[str, FileEdit] = {}  # path now -> its change so far
    gone: list[FileEdit] = []
    for edits in patches:
        for edit in edits:
            prior = current.pop(edit.old_path, None) if edit.old_path is not None else None
            start = prior or edit
            change = FileEdit(start.old_path, edit.new_path, start.before, edit.after, start.old_mode, edit.new_mode)
            if edit.new_path is None:
                if change.old_path is not None:  # a file made and removed again leaves nothing
                    gone.append(change)
            else:
                current[edit.new_path] = change
    changes = [*current.values(), *gone]
    kept = [c for c in changes if not (c.old_path == c.new_path and c.before == c.after and c.old_mode == c.new_mode)]
    return sorted(kept, key=lambda c: c.path)
