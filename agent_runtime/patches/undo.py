"""Undo: a journal of applied patches, outside the repository; undo restores the files unless
they changed since."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

from agent_runtime.core import Workspace
from agent_runtime.patches.apply import FileEdit, Patch, _read, _sha, write_edits
from agent_runtime.patches.diffs import PatchError


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


class UndoJournal:
    """One JSON line per applied patch, per workspace, under the user's state directory."""

    def __init__(self, directory: Path, workspace: Workspace):
        key = hashlib.sha256(str(workspace.root).encode()).hexdigest()[:16]
        self.path = Path(directory) / f"{key}.jsonl"
        self.workspace = workspace

    def record(self, patch: Patch) -> None:
        entry = {
            "patch_id": patch.id,
            "time": time.time(),
            "root": str(self.workspace.root),
            "undone": False,
            "edits": [
                {"old_path": e.old_path, "new_path": e.new_path, "before": _b64(e.before), "after": _b64(e.after),
                 "old_mode": e.old_mode, "new_mode": e.new_mode}
                for e in patch.edits
            ],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def _entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def undo_last(self) -> dict:
        """Restore the files of the last applied patch; refuse if any changed since."""
        entries = self._entries()
        index = next((i for i in range(len(entries) - 1, -1, -1) if not entries[i]["undone"]), None)
        if index is None:
            raise PatchError("there is no applied patch to undo in this repository", "Nothing to do.")
        entry = entries[index]
        edits = [FileEdit(e["old_path"], e["new_path"], _unb64(e["before"]), _unb64(e["after"]),
                      e["old_mode"], e["new_mode"]) for e in entry["edits"]]
        inverse = [edit.inverse() for edit in edits]
        changed = []
        for edit in inverse:
            if edit.old_path is not None and _sha(_read(self.workspace, edit.old_path)[0]) != _sha(edit.before):
                changed.append(edit.old_path)
            if edit.new_path not in (None, edit.old_path) and _read(self.workspace, edit.new_path)[0] is not None:
                changed.append(edit.new_path)
        if changed:
            raise PatchError(
                f"cannot undo patch {entry['patch_id']}: {', '.join(changed)} changed since it was applied",
                "Undo those changes by hand (git diff shows them), or keep them.",
            )
        write_edits(inverse, self.workspace)
        entry["undone"] = True
        entries[index] = entry
        self.path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
        return {"patch_id": entry["patch_id"], "files": [e.path for e in inverse]}
