"""Patch tools: propose (nothing on disk changes), show, apply (needs approval).

Proposing a patch reads the files it names (their current bytes, to place the hunks; errors
quote them), so the policy judges it as a read of every path, normalized and resolved: a patch
to `.env` is refused before anything of the file is read or quoted. Applying judges the same
paths as a write. A proposal whose write the policy would deny is refused at once, so the model
learns it before asking for approval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from agent_runtime.core import Action, ToolError
from agent_runtime.patches.apply import (
    Patch,
    check_unchanged,
    normalize,
    plan_replace,
    plan_unified,
    plan_write,
    write_edits,
)
from agent_runtime.patches.diffs import PatchError, parse_unified, strip_prefix
from agent_runtime.patches.ids import split
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import patch_text_check, path_check


class PatchStore:
    """The session's proposed patches, by id (p1, p2, ...).

    journal: the repository's undo journal (patches/undo.py): ids are numbered per session there,
    the session numbered per repository, so `s3.p1` names one patch of the history for good
    (patches/ids.py); each proposal is kept there so a resumed conversation has its patches again."""

    def __init__(self, journal: Any = None) -> None:
        self._patches: dict[str, Patch] = {}
        self.journal = journal

    def add(self, patch_edits, notes) -> Patch:
        patch_id = self.journal.new_id() if self.journal is not None else f"p{len(self._patches) + 1}"
        patch = Patch(patch_id, patch_edits, notes)
        self._patches[patch.id] = patch
        if self.journal is not None:
            self.journal.remember(patch)
        return patch

    def restore(self, patches: list[Patch]) -> None:
        """Patches of a resumed conversation, by their ids."""
        for patch in patches:
            self._patches[patch.id] = patch

    def clear(self) -> None:
        self._patches.clear()

    def all(self) -> list[Patch]:
        return list(self._patches.values())

    def get(self, patch_id: str) -> Patch:
        wanted = patch_id.strip()
        session, short = split(wanted)
        if session is not None and self.journal is not None and session == self.journal.session:
            wanted = short  # this session's own, by its qualified id
        patch = self._patches.get(wanted)
        if patch is None:
            known = ", ".join(self._patches) or "none yet"
            raise ToolError(
                f"there is no patch {patch_id!r} (proposed so far: {known})",
                "Propose the change first with propose_patch or propose_patch_unified and use the patch_id it returns: "
                "p = propose_patch(...); print(p); then apply_patch(patch_id=p[\"patch_id\"]). If propose_patch "
                "failed, its error says why.",
                kind="not_found",
            )
        return patch

    def find(self, patch_id: str) -> Patch:
        """get, or an earlier session's patch by its qualified id (s3.p1), from the undo journal (to show)."""
        session, _ = split(patch_id)
        if session is None or self.journal is None or session == self.journal.session:
            return self.get(patch_id)
        patch = self.journal.kept(patch_id.strip())
        if patch is None:
            raise ToolError(f"there is no patch {patch_id.strip()!r} in this repository's history",
                            "Pass an id from `agent-runtime undo --list`, or a patch_id of this session "
                            f"(proposed so far: {', '.join(self._patches) or 'none yet'}).", kind="not_found")
        return patch


def patch_paths(patch: Patch) -> tuple[str, ...]:
    """Every path a patch reads or writes (both ends of a rename), as planned: normalized, resolved."""
    paths: list[str] = []
    for edit in patch.edits:
        for rel in (edit.old_path, edit.new_path):
            if rel and rel not in paths:
                paths.append(rel)
    return tuple(paths)


def diff_paths(diff: str, workspace) -> tuple[str, ...]:
    """The paths a unified diff names, normalized and resolved as planning will (for the policy)."""
    paths: list[str] = []
    for patched in parse_unified(diff):
        for raw in strip_prefix(patched.source_file, patched.target_file):
            if raw is not None:
                rel = normalize(workspace, raw)
                if rel not in paths:
                    paths.append(rel)
    return tuple(paths)


def refuse_denied_write(tool: RuntimeTool, paths: tuple[str, ...]) -> None:
    decision = tool.runtime.decide(Action("write", paths=paths))
    if decision.decision == "deny":
        rule = f" (rule {decision.rule})" if decision.rule else ""
        raise ToolError(
            f"this patch would be refused when applied{rule}: {decision.reason}",
            "Do not change that file. Reach the goal another way, or tell the user what to change themselves.",
            kind="refused",
        )


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


def propose_one(tool: RuntimeTool, path: Path, plan: Callable[[str], tuple[Any, list[str]]]) -> dict[str, Any]:
    """A change to one file: refused if the policy forbids writing it, else planned and kept."""
    rel = tool.workspace.relative(path)
    refuse_denied_write(tool, (rel,))
    edit, notes = plan(rel)
    return proposal(tool.runtime.patches.add([edit], notes))


class ProposePatchUnifiedTool(RuntimeTool):
    name = "propose_patch_unified"
    description = (
        "Propose a change as a unified diff (--- a/file, +++ b/file, @@ hunks). Checks it against the files; "
        "changes nothing. Returns patch_id for apply_patch."
    )
    inputs = {"diff": {"type": "string", "description": "unified diff text"}}
    checks = {"diff": patch_text_check("diff", allow_empty=False)}

    _named: tuple[str, tuple[str, ...]] | None = None  # the last diff's paths: a big diff is parsed once here

    def _paths(self, diff: str) -> tuple[str, ...]:
        if self._named is None or self._named[0] != diff:
            self._named = (diff, diff_paths(diff, self.workspace))
        return self._named[1]

    def action(self, diff: str) -> Action:
        return self.reads(*self._paths(diff))

    def run(self, diff: str) -> dict[str, Any]:
        refuse_denied_write(self, self._paths(diff))
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
    checks = {"path": path_check("any", must_exist=False), "old": patch_text_check("old"),
              "new": patch_text_check("new")}

    def action(self, path: Path, **_: Any) -> Action:
        return self.reads(path)

    def run(self, path: Path, old: str, new: str) -> dict[str, Any]:
        if old == new:
            raise ToolError("old and new are the same", "Pass the changed text as new.", kind="patch_failed")
        try:
            return propose_one(self, path, lambda rel: plan_replace(self.workspace, rel, old, new))
        except PatchError as exc:
            named = self.workspace.relative(path)
            other = self._only_file_with(old, named) if "was not found" in exc.error and old.strip() else None
            if other is None:
                raise
        # Small models name the test file while copying old from the code under test: the text
        # is in exactly one other file the policy lets them read, so that is the file meant.
        result = propose_one(self, self.workspace.root / other, lambda rel: plan_replace(self.workspace, rel, old, new))
        result["notes"] = [f"old is not in {named} but in {other}: this patch changes {other}"] + result.get("notes", [])
        return result

    def _only_file_with(self, old: str, named: str) -> str | None:
        from agent_runtime.tools.rg import base_command, run_rg, strip_dot

        needle = old.encode("utf-8", "surrogateescape")
        files, _, _, _ = run_rg(base_command(self.workspace.hidden) + ["--files"], self.workspace.root, 5000)
        found = []
        for rel in map(strip_dot, files):
            target = self.workspace.root / rel
            if rel == named or not target.is_file() or target.stat().st_size > 1_000_000:
                continue
            if self.runtime.decide(Action("read", paths=(rel,))).decision != "allow":
                continue
            if needle in target.read_bytes():
                found.append(rel)
                if len(found) > 1:
                    return None
        return found[0] if found else None


class ProposeFileTool(RuntimeTool):
    name = "propose_file"
    description = (
        "Propose the whole new content of one file (replaces it, or creates it). Changes nothing. "
        "Returns patch_id for apply_patch."
    )
    inputs = {
        "path": {"type": "string", "description": "file path relative to the repository root"},
        "content": {"type": "string", "description": "the complete new text of the file, every line"},
    }
    checks = {"path": path_check("any", must_exist=False), "content": patch_text_check("content")}

    def action(self, path: Path, **_: Any) -> Action:
        return self.reads(path)

    def run(self, path: Path, content: str) -> dict[str, Any]:
        return propose_one(self, path, lambda rel: plan_write(self.workspace, rel, content))


class ShowPatchTool(RuntimeTool):
    reads_only = True
    name = "show_patch"
    description = "Show a proposed patch as a diff, with its files and line counts."
    inputs = {"patch_id": {"type": "string", "description": "id returned by a propose tool, e.g. 'p1'"}}

    def action(self, patch_id: str) -> Action:
        return self.reads(*patch_paths(self.runtime.patches.find(patch_id)))

    def run(self, patch_id: str) -> dict[str, Any]:
        patch = self.runtime.patches.find(patch_id)
        return {**proposal(patch), "applied": patch.applied, "diff": patch.diff()}


class ApplyPatchTool(RuntimeTool):
    name = "apply_patch"
    description = "Write a proposed patch to disk (all files or none). Needs the user's approval."
    inputs = {"patch_id": {"type": "string", "description": "id returned by a propose tool, e.g. 'p1'"}}
    approval = "always"

    def action(self, patch_id: str) -> Action:
        patch = self.runtime.patches.get(patch_id)
        return Action("write", paths=patch_paths(patch), preview=patch)

    def run(self, patch_id: str) -> dict[str, Any]:
        patch = self.runtime.patches.get(patch_id)
        if patch.applied:
            raise ToolError(f"patch {patch.id} is already applied", "Propose a new patch for further changes.")
        # The undo journal keeps the files' contents: never those of files the policy hides.
        for rel in patch_paths(patch):
            if self.hidden(rel):
                raise ToolError(
                    f"{rel} may hold secrets (the policy forbids reading it); patch {patch.id} is not applied",
                    "Leave that file to the user; change other files.", kind="refused",
                )
        check_unchanged(patch.edits, self.workspace, patch.id)
        patch.made_dirs = write_edits(patch.edits, self.workspace)
        patch.applied = True
        self.runtime.patch_applied(patch)
        return {"patch_id": patch.id, "applied": True, "files": proposal(patch)["files"]}


class UndoPatchTool(RuntimeTool):
    name = "undo_patch"
    description = ("Undo an applied patch, or what a command changed (the undo_id run_cmd and run_tests return): "
                   "its files are put back as they were before it (refused if they changed since).")
    inputs = {"patch_id": {"type": "string", "description": "id of an applied patch, e.g. 'p1', or a command's "
                                                           "undo_id, e.g. 'c2'"}}

    def _entry(self, patch_id: str) -> Any:
        journal = self.runtime.journal
        if journal is None:
            raise ToolError(f"there is no applied patch {patch_id!r}: this session keeps no undo history",
                            "Undo by hand, with another patch.", kind="not_found")
        try:  # a short id is this session's; an earlier session's by its qualified id (s3.p1)
            named = journal.find(patch_id)
        except PatchError as exc:
            raise ToolError(exc.error, "Pass the patch_id that apply_patch returned, or the undo_id of a command. "
                            + exc.suggestion, kind="not_found") from None
        live = [e for e in named if e.undone is None]
        return (live or named)[-1]

    def action(self, patch_id: str) -> Action:
        entry = self._entry(patch_id)
        paths = tuple(dict.fromkeys(entry.paths))
        if entry.command is not None:  # a command's changes: the same, with this session's commands as its own
            if entry.qualified in self.runtime.commands_changed:
                return Action("restore", paths=paths)
            edits = self.runtime.journal.store.edits(entry.before, entry.after)  # type: ignore[union-attr]
            return Action("write", paths=paths, preview=Patch(entry.patch_id, [e.inverse() for e in edits]))
        # A patch applied in this session puts back files the session itself changed (the journal
        # refuses if they changed since): a "restore", judged for its paths like a write but not
        # asked. An older patch is a write like any other, asked with the diff that undoes it.
        mine = any(p.id == entry.shown and p.applied for p in self.runtime.patches.all())
        if mine:
            return Action("restore", paths=paths)
        return Action("write", paths=paths, preview=Patch(entry.patch_id, [e.inverse() for e in entry.edits]))

    def run(self, patch_id: str) -> dict[str, Any]:
        journal = self.runtime.journal
        assert journal is not None  # _paths refused the call otherwise
        try:
            done = journal.undo(self._entry(patch_id).qualified)
        except PatchError as exc:
            raise ToolError(exc.error, exc.suggestion, kind="patch_failed") from None
        for patch in self.runtime.patches.all():
            if patch.id == done.get("patch_id"):
                patch.applied = False
        self.runtime.patch_undone(str(done.get("patch_id")))
        return {"patch_id": done.get("patch_id"), "undone": True, "files": done.get("files", [])}
