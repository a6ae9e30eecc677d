"""Patch tools: propose (nothing on disk changes), show, apply (needs approval)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_runtime.core import Action, ToolError
from agent_runtime.patches.apply import (
    Patch,
    check_unchanged,
    plan_replace,
    plan_unified,
    write_edits,
)
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import path_check, text_check


class PatchStore:
    """The session's proposed patches, by id (p1, p2, ...)."""

    def __init__(self) -> None:
        self._patches: dict[str, Patch] = {}

    def add(self, patch_edits, notes) -> Patch:
        patch = Patch(f"p{len(self._patches) + 1}", patch_edits, notes)
        self._patches[patch.id] = patch
        return patch

    def get(self, patch_id: str) -> Patch:
        patch = self._patches.get(patch_id.strip())
        if patch is None:
            known = ", ".join(self._patches) or "none yet"
            raise ToolError(
                f"there is no patch {patch_id!r} (proposed so far: {known})",
                "Propose the change first with propose_patch or propose_patch_unified and use the patch_id it returns.",
                kind="not_found",
            )
        return patch


def proposal(patch: Patch) -> dict[str, Any]:
    files = patch.stats()
    result: dict[str, Any] = {
        "patch_id": patch.id,
        "files": [f"{f['path']} ({f['status']}, +{f['added']} -{f['removed']})" for f in files],
        "added": sum(int(f["added"]) for f in files),
        "removed": sum(int(f["removed"]) for f in files),
        "next": f'apply_patch(patch_id="{patch.id}") to write it; nothing has changed on disk yet',
    }
    if patch.notes:
        result["notes"] = patch.notes
    return result


class ProposePatchUnifiedTool(RuntimeTool):
    name = "propose_patch_unified"
    description = (
        "Propose a change as a unified diff (--- a/file, +++ b/file, @@ hunks). Checks it against the files; "
        "changes nothing. Returns patch_id for apply_patch."
    )
    inputs = {"diff": {"type": "string", "description": "unified diff text"}}
    checks = {"diff": text_check("diff", allow_empty=False)}

    def run(self, diff: str) -> dict[str, Any]:
        edits, notes = plan_unified(diff, self.workspace)
        if not edits:
            raise ToolError("the diff changes nothing", "Check that its + and - lines differ.", kind="patch_failed")
        return proposal(self.runtime.patches.add(edits, notes))


class ProposePatchTool(RuntimeTool):
    name = "propose_patch"
    description = (
        "Propose replacing the exact text old by new in one file (old must occur once; old=\"\" creates a new file). "
        "Changes nothing. Returns patch_id for apply_patch."
    )
    inputs = {
        "path": {"type": "string", "description": "file path relative to the repository root"},
        "old": {"type": "string", "description": "exact current text to replace, copied from read_file"},
        "new": {"type": "string", "description": "text to put in its place"},
    }
    checks = {"path": path_check("any", must_exist=False), "old": text_check("old"), "new": text_check("new")}

    def run(self, path: Path, old: str, new: str) -> dict[str, Any]:
        if old == new:
            raise ToolError("old and new are the same", "Pass the changed text as new.", kind="patch_failed")
        edit, notes = plan_replace(self.workspace, self.workspace.relative(path), old, new)
        return proposal(self.runtime.patches.add([edit], notes))


class ShowPatchTool(RuntimeTool):
    name = "show_patch"
    description = "Show a proposed patch as a diff, with its files and line counts."
    inputs = {"patch_id": {"type": "string", "description": "id returned by a propose tool, e.g. 'p1'"}}

    def run(self, patch_id: str) -> dict[str, Any]:
        patch = self.runtime.patches.get(patch_id)
        return {**proposal(patch), "applied": patch.applied, "diff": patch.diff()}


class ApplyPatchTool(RuntimeTool):
    name = "apply_patch"
    description = "Write a proposed patch to disk (all files or none). Needs the user's approval."
    inputs = {"patch_id": {"type": "string", "description": "id returned by a propose tool, e.g. 'p1'"}}
    approval = "always"

    def action(self, patch_id: str) -> Action:
        patch = self.runtime.patches.get(patch_id)
        paths = tuple(p for e in patch.edits for p in {e.old_path, e.new_path} if p)
        return Action("write", paths=paths, preview=patch)

    def run(self, patch_id: str) -> dict[str, Any]:
        patch = self.runtime.patches.get(patch_id)
        if patch.applied:
            raise ToolError(f"patch {patch.id} is already applied", "Propose a new patch for further changes.")
        check_unchanged(patch.edits, self.workspace, patch.id)
        write_edits(patch.edits, self.workspace)
        patch.applied = True
        self.runtime.patch_applied(patch)
        return {"patch_id": patch.id, "applied": True, "files": proposal(patch)["files"]}
