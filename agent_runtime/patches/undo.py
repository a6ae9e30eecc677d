"""Undo as history: a journal of applied patches per repository, outside it; undo walks back
through them, newest first, restoring each one's files unless they changed since.

Files, all under the user's state directory (undo/), named after the workspace's path:

    <key>.jsonl            one line per applied patch (files' bytes before and after), and one
                           per undo ("undone": which line, how); appended, never rewritten
    <key>.proposed.jsonl   every proposed patch (so a resumed conversation gets its patches back)
    <key>.ids              the next session number and each session's next id (patches/ids.py: p1, p2,
                           ... per session, `s3.p1` in the history; an id never names two entries)
    <key>.lock             taken while allocating an id, appending or undoing (two sessions at once)

The journal holds files' contents, so it is private (directory 0700, files 0600), and it never
holds the content of a file the policy forbids reading (deny_read, e.g. `.env`): such a patch is
refused before anything is written (the policy denies proposing it in the first place).

Commands are in the same history: before and after each sandboxed command the workspace is saved
in the checkpoint store (patches/checkpoint.py), and a command that changed files gets an entry
(ids c1, c2, ... from the session's counter) naming its two snapshots; undoing it puts every file it
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
from agent_runtime.patches.apply import FileEdit, Patch, _read, remove_made_dirs, write_edits
from agent_runtime.patches.checkpoint import SHOWN, Change, Snapshot, Store, shown
from agent_runtime.patches.diffs import NothingToUndo, PatchError
from agent_runtime.patches.ids import LEGACY, SESSION, current_sessions, label, resolve, split
from agent_runtime.patches.restore import same
from agent_runtime.patches.states import Found, account, effect_paths
from agent_runtime.patches.storekey import checkpoint_dir


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
PROPOSED_MAX_BYTES = 16_000_000  # past this the oldest half of the proposals is dropped
_ID = re.compile(r"^[pc](\d+)$")
IDS_FILE = "ids"  # <key>.ids: {"sessions": the last session number, "next": {"s3": 4, ...}}


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
    before: str = ""  # a command's snapshots (Snapshot.id: a tree of the checkpoint store, and its manifest)
    after: str = ""
    not_covered: list[str] = field(default_factory=list)  # what the command did that undo cannot put back
    session: str = LEGACY  # the session that made it (s0: before sessions were numbered)
    shown: str = ""  # the id to show and accept: short where it means this entry, else qualified
    in_scope: bool = False  # of the session(s) short ids mean
    made_dirs: list[str] = field(default_factory=list)  # a patch's: the folders applying it made

    @property
    def qualified(self) -> str:
        return f"{self.session}.{self.patch_id}"

    @property
    def paths(self) -> list[str]:
        if self.command is not None:
            return [f.rstrip("/") for f in self.files]  # a directory is named with a slash
        return [p for e in self.edits for p in dict.fromkeys((e.old_path, e.new_path)) if p]

    @property
    def what(self) -> str:
        """"patch p3" or "command c4 (`rm -rf src`)"."""
        if self.command is None:
            return f"patch {self.shown or self.patch_id}"
        shown = self.command if len(self.command) <= 60 else self.command[:57] + "..."
        return f"command {self.shown or self.patch_id} (`{shown}`)"


class UndoJournal:
    """The history of one workspace's applied patches, its proposals and its patch ids.

    secret: does the policy forbid reading this workspace-relative path? (default: nothing is)
    context: tags written with each entry (run_id, conversation), set by the session.
    mine: a session's journal (a runtime's): short ids are this session's (`session`, numbered at its
    first id, or taken up from a resumed conversation). Otherwise (`agent-runtime undo`) short ids are
    the newest session's (patches/ids.py).
    """

    def __init__(self, directory: Path, workspace: Workspace, secret: Callable[[str], bool] | None = None,
                 store: Store | None = None, mine: bool = False):
        key = hashlib.sha256(str(workspace.root).encode()).hexdigest()[:16]
        # The checkpoint store of this workspace, beside the journal (<state home>/checkpoints/<key>).
        self.store = store or Store(checkpoint_dir(Path(directory).parent, workspace.root), workspace.root)
        self.dir = Path(directory)
        self.path = self.dir / f"{key}.jsonl"
        self.proposed_path = self.dir / f"{key}.proposed.jsonl"
        self.ids_path = self.dir / f"{key}.{IDS_FILE}"
        self.lock_path = self.dir / f"{key}.lock"
        self.workspace = workspace
        self.secret = secret or (lambda rel: False)
        self.context: dict[str, Any] = {}
        self.mine = mine
        self.session: str | None = None

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

    def new_id(self, prefix: str = "p", take: bool = True) -> str:
        """The session's next id: p1, p2, ... (c3 for a command's changes). The session gets the
        repository's next number first if it has none yet (sessions are never renumbered).
        take=False: only that (the id is not used up)."""
        with self._locked():
            ids = self._read_ids()
            if self.session is None:
                last = ids["sessions"] if isinstance(ids.get("sessions"), int) else self._highest_session()
                self.session = f"s{last + 1}"
                ids["sessions"], ids["next"][self.session] = last + 1, 1
            number = ids["next"].get(self.session)
            if not isinstance(number, int):  # a session taken up (resume) the file does not know
                number = self._highest_id(self.session) + 1
            ids["next"][self.session] = number + 1 if take else number
            tmp = self.ids_path.with_suffix(".tmp")
            _write_private(tmp, json.dumps(ids) + "\n", append=False)
            os.replace(tmp, self.ids_path)
        return f"{prefix}{number}"

    def _read_ids(self) -> dict[str, Any]:
        try:
            ids = json.loads(self.ids_path.read_text())
        except (FileNotFoundError, ValueError):
            ids = {}
        ids = ids if isinstance(ids, dict) else {}
        ids["next"] = ids["next"] if isinstance(ids.get("next"), dict) else {}
        return ids

    def _tagged(self) -> Iterator[tuple[str, str]]:
        """(session, short id) of every line of the journal and the proposals."""
        for path in (self.path, self.proposed_path):
            for item in _lines(path):
                if item.get("patch_id"):
                    yield str(item.get("session") or LEGACY), str(item["patch_id"])

    def _highest_session(self) -> int:
        return max([0] + [int(m.group(1)) for s, _ in self._tagged() if (m := SESSION.match(s))])

    def _highest_id(self, session: str) -> int:
        return max([0] + [int(m.group(1)) for s, i in self._tagged() if s == session and (m := _ID.match(i))])

    def _own_session(self) -> str:
        if self.session is None:
            self.new_id("p", take=False)  # numbers the session
        assert self.session is not None
        return self.session

    def _entry_ids(self, patch_id: str) -> dict[str, str]:
        """The journal's fields for an id: a short one is this session's, a qualified one (a patch of
        an earlier session of a resumed conversation) keeps its session."""
        session, short = split(patch_id)
        return {"session": session or self._own_session(), "patch_id": short}

    def session_of(self, conversation: str) -> str | None:
        """The session of a conversation's newest patch or command's changes (None: it made none)."""
        found = None
        for path in (self.proposed_path, self.path):
            for item in _lines(path):
                if item.get("conversation") == conversation and item.get("patch_id"):
                    found = str(item.get("session") or LEGACY)
        return found

    def take_up(self, conversation: str) -> None:
        """A resumed conversation numbers on in its session, so its patches keep their ids."""
        session = self.session_of(conversation)
        if session is not None:
            self.session = session

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
        entry = {"type": "applied", **self._entry_ids(patch.id), "time": time.time(), "root": str(self.workspace.root),
                 **self._tags(), "edits": _edits_json(patch.edits)}
        if patch.made_dirs:
            entry["made_dirs"] = list(patch.made_dirs)
        with self._locked():
            _write_private(self.path, json.dumps(entry, ensure_ascii=True) + "\n", append=True)

    def record_command(self, command: str, before: Snapshot, after: Snapshot, changes: list[Change]) -> str:
        """A command that changed files (mark.around's `record`): its id."""
        entry_id = self.new_id("c")
        entry = {"type": "command", **self._entry_ids(entry_id), "time": time.time(),
                 "root": str(self.workspace.root),
                 **self._tags(), "command": command, "before": before.id, "after": after.id,
                 "files": [c.name for c in changes], "not_covered": shown(self.store.not_covered(before, after))}
        with self._locked():
            _write_private(self.path, json.dumps(entry, ensure_ascii=True) + "\n", append=True)
        return entry_id

    def remember(self, patch: Patch) -> None:
        """A proposed patch, kept so a resumed conversation has it again. One that names a file
        the policy hides is not kept (proposing it was refused already; this is the second lock)."""
        paths = [rel for e in patch.edits for rel in (e.old_path, e.new_path) if rel]
        if any(self.secret(rel) for rel in paths):
            return
        entry = {"type": "proposed", **self._entry_ids(patch.id), "time": time.time(), **self._tags(),
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
        """Every applied patch and command's changes, oldest first, with whether (and how) it was
        undone, and the id to show for it (`shown`: short where it means it, else qualified)."""
        applied: dict[int, Applied] = {}
        for number, item in enumerate(_lines(self.path)):
            kind = item.get("type", "applied" if "edits" in item else None)
            if kind == "applied" and "edits" in item:
                entry = Applied(number, str(item.get("patch_id", "?")), float(item.get("time") or 0),
                                _edits(item["edits"]), item.get("run_id"), item.get("conversation"))
                entry.made_dirs = [str(d) for d in item.get("made_dirs") or [] if isinstance(d, str)]
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
                continue
            if number in applied:
                applied[number].session = str(item.get("session") or LEGACY)
        entries = list(applied.values())
        label(entries, self.scope(entries))
        return entries

    def scope(self, entries: list[Applied]) -> set[str]:
        """The sessions whose short ids mean their entries: this one, or (no session) the newest."""
        if self.mine:
            return {self.session} if self.session else set()
        return current_sessions(entries)

    def where(self, entries: list[Applied]) -> str:
        """What a short id means, for messages."""
        if self.mine:
            return "this session"
        sessions = sorted(current_sessions(entries))
        return f"the newest session ({', '.join(sessions)})" if sessions else "this repository's history"

    def find(self, patch_id: str, entries: list[Applied] | None = None) -> list[Applied]:
        """The entries an id names (one patch, applied once or again), newest last; PatchError naming
        the valid ids, or the choices of an ambiguous short id."""
        entries = self.history() if entries is None else entries
        return resolve(entries, patch_id, self.where(entries),
                       "undo_patch" if self.mine else "agent-runtime undo")

    def proposals(self, conversation: str) -> list[Patch]:
        """The patches proposed in a conversation, in order, marked applied when they still are."""
        in_effect = {e.qualified for e in self.history() if e.undone is None}
        found: dict[str, Patch] = {}
        for item in _lines(self.proposed_path):
            if item.get("type") == "proposed" and item.get("conversation") == conversation and "edits" in item:
                session, short = str(item.get("session") or LEGACY), str(item["patch_id"])
                shown = short if session == self.session else f"{session}.{short}"  # ids stay unique here
                patch = Patch(shown, _edits(item["edits"]), list(item.get("notes") or []))
                patch.applied = f"{session}.{short}" in in_effect
                found[patch.id] = patch
        return list(found.values())

    def kept(self, qualified: str) -> Patch | None:
        """A patch of the history by its qualified id (s3.p1): as applied, else as proposed."""
        for entry in reversed(self.history()):
            if entry.qualified == qualified and entry.command is None:
                patch = Patch(qualified, entry.edits)
                patch.applied = entry.undone is None
                return patch
        session, short = split(qualified)
        for item in reversed(_lines(self.proposed_path)):
            if item.get("type") == "proposed" and str(item.get("session") or LEGACY) == session \
                    and item.get("patch_id") == short and "edits" in item:
                return Patch(qualified, _edits(item["edits"]), list(item.get("notes") or []))
        return None

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
            if (edit.old_path is None or old_now == edit.before or self._held_before(edit.old_path, earlier)) and \
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
                named = self.find(patch_id, history)
                matches = [e for e in named if e.undone is None]
                if not matches:
                    raise PatchError(f"{named[-1].what} is already undone",
                                     "Nothing to do (agent-runtime undo --list shows the history).")
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
                    by_hand.append(entry.shown)
                    continue
                removed: list[str] = []
                if entry.command is not None:
                    self.store.restore(in_effect)
                    files = [c.name for c in in_effect]
                    removed = [c.name for c in in_effect if c.before is None]
                else:
                    write_edits([edit.inverse() for edit in in_effect], self.workspace)
                    files = [e.inverse().path for e in in_effect]
                    removed = remove_made_dirs(self.workspace, entry.made_dirs)
                self._mark(entry, "undo")
                return {"patch_id": entry.shown, "id": entry.qualified, "files": files, "by_hand": by_hand, "left_as_is": restored,
                        "what": entry.what, "command": entry.command, "not_covered": entry.not_covered,
                        "removed": removed}
            if by_hand:
                return {"patch_id": None, "files": [], "by_hand": by_hand, "left_as_is": []}
            raise NothingToUndo("there is no applied patch to undo in this repository (nor a command's changes)",
                             "Nothing to do (agent-runtime undo --list shows the history).")

    def _entry_state(self, entry: Applied, live: list[Applied]) -> tuple[list[Any], list[str], list[str]]:
        """_state for a patch; for a command, from its snapshots in the checkpoint store."""
        if entry.command is None:
            return self._state(entry, live)
        try:
            in_effect, restored, changed = self.store.state(entry.before, entry.after)
        except (GitError, OSError, subprocess.SubprocessError) as exc:
            raise PatchError(f"the checkpoint of {entry.what} cannot be read ({exc})",
                             "Nothing was changed. Restore its files by hand (git checkout, your backups).") from None
        # As for a patch: a file put back past this command (git checkout) counts as restored too.
        earlier = [e for e in live if e.line < entry.line]
        back = [p for p in changed if self._held_before(p, earlier)]
        return in_effect, restored + back, [p for p in changed if p not in back]

    def _held_before(self, path: str, earlier: list[Applied]) -> bool:
        """Does `path` hold now what it held before one of the `earlier` entries that changed it?"""
        for other in earlier:
            if path not in other.paths:
                continue
            if other.command is None:
                if any(e.old_path == path and _read(self.workspace, path)[0] == e.before for e in other.edits):
                    return True
                continue
            try:
                if any(c.path == path and same(self.store.now(path), c.before)
                       for c in self.store.changes(other.before, other.after)):
                    return True
            except (GitError, OSError, subprocess.SubprocessError):
                continue  # its checkpoint is gone: it cannot say
        return False

    def _refusal(self, entry: Applied, changed: list[str], live: list[Applied]) -> str:
        later = [e for e in live if e.line > entry.line and set(e.paths) & set(changed)]
        since = "it was applied" if entry.command is None else "it ran"
        files = ", ".join(changed[:SHOWN]) + (f" and {len(changed) - SHOWN} more" if len(changed) > SHOWN else "")
        head = f"cannot undo {entry.what}: {files} changed since {since}"
        patches = [e.shown for e in later if e.command is None]
        commands = [e.what for e in later if e.command is not None]
        if patches:
            head += f" (by patch {', '.join(patches)}, applied later)"
        if commands:
            head += f" (by {', '.join(commands)}, run later)"
        if later and not self._held_by(later, changed, live):
            head += ", and by something else after them (by hand?)"  # the later entries alone do not explain it
        return head

    def _held_by(self, later: list[Applied], changed: list[str], live: list[Applied]) -> bool:
        """Does the newest of `later` touching each changed path still hold it (its change in effect)?"""
        for path in changed:
            newest = [e for e in later if path in e.paths][-1:]
            try:
                if not newest or path not in effect_paths(self._entry_state(newest[0], live)[0]):
                    return False
            except PatchError:
                return False
        return True

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
        found = []
        for entry in live:
            try:
                in_effect, _, changed = self._entry_state(entry, live)
                found.append(Found(entry.line, entry.shown, entry.paths, effect_paths(in_effect), changed))
            except PatchError as exc:
                found.append(Found(entry.line, entry.shown, entry.paths, set(), [], exc.error))
        states = account(found)
        rows = []
        for entry in reversed(history):
            if entry.undone:
                state = "undone" if entry.undone == "undo" else "undone by hand"
                changed: list[str] = []
            else:
                state, changed = states[entry.line]
            if entry.command is None:
                files = Patch(entry.patch_id, entry.edits).stats()
            else:
                files = [{"path": p, "status": "changed", "added": None, "removed": None} for p in entry.files]
            rows.append({"patch_id": entry.shown, "id": entry.qualified, "session": entry.session, "time": entry.time, "state": state, "changed": changed[:SHOWN],
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
