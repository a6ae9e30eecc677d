"""Patches that never half-apply, and can be undone.

A patch is planned in memory first: every file's new bytes are computed from its current
bytes (context must match; the failing hunk is named). Only then is anything written:
each file through a temporary file and a rename, and if any write fails, every file
already written is put back. Applied patches go to an undo journal outside the
repository; undo restores the files unless they changed since.

Every path a patch names is normalized and resolved when the patch is planned (`./`, `..`,
symlinks in any component: `b/./.git/hooks/x`, `hk/../.git/hooks/x` and `g/hooks/x` with
`g -> .git` all become `.git/hooks/x`), and the edit keeps that path: it is what the policy
judges and what is written. Writing checks again that each path still resolves to itself (a
symlink made since would redirect the write), then writes, removes and makes folders only relative
to a descriptor of the file's folder, walked from the workspace's own one component at a time
(core.folder_of): a folder swapped for a symlink after the check is refused, not followed. Only
regular files are made: modes 100644 and 100755; no symlinks (120000), submodules, setuid/setgid or
other bits.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from agent_runtime.code import symbols
from agent_runtime.core import WHOLE, ToolError, Workspace, entry_at, folder_of, read_regular, replace_file
from agent_runtime.patches import fragments, match
from agent_runtime.patches.diffs import (
    SEARCH_BUDGET,
    FileEdit,
    PatchError,
    apply_hunks,
    line_counts,
    parse_unified,
    render_edit,
    strip_prefix,
)


@dataclass
class Patch:
    id: str
    edits: list[FileEdit]
    notes: list[str] = field(default_factory=list)
    applied: bool = False
    made_dirs: list[str] = field(default_factory=list)  # folders applying it made (undo removes them)

    def stats(self) -> list[dict[str, object]]:
        out = []
        for edit in self.edits:
            added, removed = line_counts(edit.before, edit.after)
            out.append({"path": edit.path, "status": edit.status, "added": added, "removed": removed})
        return out

    def diff(self) -> str:
        return "".join(render_edit(edit) for edit in self.edits)


# --- planning: compute every file's new bytes, write nothing ---


REGULAR, EXECUTABLE = 0o100644, 0o100755
ALLOWED_MODES = {"100644": REGULAR, "100755": EXECUTABLE}


def permissions(mode: int | None) -> int:
    """The permission bits a file is written with: never setuid, setgid or sticky."""
    return stat.S_IMODE(mode) & 0o777 if mode else 0o644


def git_mode(text: str | None, shown: str) -> int | None:
    if text is None:
        return None
    if text in ALLOWED_MODES:
        return ALLOWED_MODES[text]
    what = {"120000": "a symlink", "160000": "a submodule", "040000": "a directory"}.get(text, "not a plain file mode")
    raise PatchError(
        f"{shown}: mode {text} is {what}; patches may only make regular files (100644) and executables (100755)",
        "Drop the mode line (or use 100644 / 100755). Symlinks, submodules, setuid and other special files "
        "must be made by the user.",
    )


def normalize(workspace: Workspace, raw: str) -> str:
    """A path as a patch names it -> the workspace-relative path it really leads to (resolved).
    Raises ToolError for paths outside the workspace (lexically or through a symlink)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise PatchError(
            f"the path {raw!r} contains a control character (newline, tab, escape)",
            "Use a plain file name: such names cannot be shown honestly for review.",
        )
    path = workspace.resolve(raw, want="any", must_exist=False)
    rel = workspace.relative(path)
    if rel == ".":
        raise PatchError(f"{raw!r} names the workspace itself, not a file", "Name a file inside the repository.")
    return rel


def target(workspace: Workspace, rel: str, patch_id: str | None = None) -> Path:
    """The file to write for a planned path, refusing if it now resolves elsewhere (a symlink made since)."""
    path = workspace.resolve(rel, want="any", must_exist=False)
    now = workspace.relative(path)
    if now != rel:
        raise PatchError(
            f"{rel} now leads to {now} (a symlink was made or changed since "
            f"{'patch ' + patch_id if patch_id else 'the patch'} was proposed)",
            "Nothing was written. Check the symlink, then propose the change again.",
        )
    return path


def _read(workspace: Workspace, rel: str) -> tuple[bytes | None, int | None]:
    target(workspace, rel)
    try:
        with folder_of(workspace.root, rel) as (fd, name):
            return _read_at(fd, name, rel)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise PatchError(f"{rel} cannot be read ({exc.strerror})", "Check the path with list_files.") from None


def _read_at(fd: int, name: str, rel: str) -> tuple[bytes | None, int | None]:
    """The bytes and mode of `name` in the folder `fd`; (None, None) when nothing is there."""
    info = entry_at(fd, name)
    if info is None:
        return None, None
    data = read_regular(Path(name), WHOLE, follow=False, dir_fd=fd) if stat.S_ISREG(info.st_mode) else None
    if data is None:
        raise PatchError(f"{rel} is not a regular file", "Patch regular files only.")
    return data, info.st_mode


def plan_unified(diff: str, workspace: Workspace) -> tuple[list[FileEdit], list[str]]:
    patchset = parse_unified(diff)
    edits: list[FileEdit] = []
    notes: list[str] = []
    seen: set[str] = set()
    left = [SEARCH_BUDGET]  # one budget for placing all the diff's hunks
    for patched in patchset:
        old_path, new_path = strip_prefix(patched.source_file, patched.target_file)
        old_path = None if old_path is None else normalize(workspace, old_path)
        new_path = None if new_path is None else normalize(workspace, new_path)
        shown = new_path or old_path or "?"
        touched = {p for p in (old_path, new_path) if p}
        if touched & seen:
            raise PatchError(f"the diff changes {shown} more than once", "Put all hunks of a file under one '---'/'+++' header.")
        seen |= touched
        if patched.is_binary_file:
            raise PatchError(f"{shown}: binary patches are not supported", "Change text files only.")
        source_mode, target_mode = git_mode(patched.source_mode, shown), git_mode(patched.target_mode, shown)
        before, old_mode = (None, None) if old_path is None else _read(workspace, old_path)
        if old_path is not None and before is None:
            raise PatchError(f"{old_path} does not exist", "Check the path with list_files, or create it with '--- /dev/null'.")
        if new_path is not None and new_path != old_path and _read(workspace, new_path)[0] is not None:
            raise PatchError(f"{new_path} already exists", "Patch the existing file, or pick another name.")
        after, hunk_notes = apply_hunks(shown, before or b"", patched, left)
        notes += hunk_notes
        if new_path is None and after:
            raise PatchError(f"{old_path}: the deletion does not remove the whole file", "Include every line of the file.")
        new_mode = None if old_mode is None else stat.S_IFREG | permissions(old_mode)
        if old_path is None:
            new_mode = target_mode or REGULAR
        elif target_mode and source_mode and target_mode != source_mode:
            new_mode = target_mode  # an explicit mode change ("old mode" / "new mode")
        edits.append(FileEdit(old_path, new_path, before, None if new_path is None else after, old_mode, new_mode))
    return edits, notes


def plan_replace(workspace: Workspace, rel: str, old: str, new: str) -> tuple[FileEdit, list[str]]:
    """Replace the one occurrence of `old` by `new` in a file; old="" creates a new file."""
    rel = normalize(workspace, rel)
    before, mode = _read(workspace, rel)
    mode = None if mode is None else stat.S_IFREG | permissions(mode)
    old_b, new_b = old.encode("utf-8", "surrogateescape"), new.encode("utf-8", "surrogateescape")
    if before is None:
        if old:
            raise PatchError(f"{rel} does not exist", "To create it, pass old=\"\" and the whole content as new.")
        return FileEdit(None, rel, None, new_b, None, REGULAR), []
    if not old:
        raise PatchError(
            f"{rel} exists and old is empty",
            "Pass the exact existing lines to replace as old (read them with read_file first).",
        )
    notes: list[str] = []
    if b"\r\n" in before and b"\r\n" not in old_b and b"\n" in old_b:  # an LF old would split a CRLF
        crlf_old, crlf_new = old_b.replace(b"\n", b"\r\n"), new_b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if before.count(crlf_old):
            old_b, new_b = crlf_old, crlf_new
            notes.append(f"{rel}: matched with CRLF line endings")
    found = match.find(before, old_b, new_b)
    if found is None:
        near = match.closest(before, old_b)
        differ = match.mismatched_lines(before, old_b)
        error = f"old text was not found in {rel}"
        if differ is not None and differ[1]:
            error += f" (indentation and trailing spaces aside); where it comes closest, from line {differ[0]}: " \
                     + "; ".join(differ[1])
        hint = "Copy old exactly from read_file output (whitespace and indentation count)."
        if near is not None:
            hint = (f"The closest lines in {rel} (from line {near[0]}) are:\n{near[1]}\n"
                    "Copy old exactly from them, or read the file again with read_file.")
        raise PatchError(error, hint)
    if isinstance(found, list):
        raise PatchError(
            f"old text occurs {len(found)} times in {rel} (lines {', '.join(map(str, found))})",
            "Include more surrounding lines in old so that it matches exactly one place.",
        )
    if found.how != "exact":
        notes.append(f"{rel}: old matched once when {found.how} is ignored; new was applied there")
    after = before[:found.start] + found.new + before[found.end:]
    if b"\r\n" in before and before.count(b"\n") == before.count(b"\r\n"):  # a CRLF file stays one
        after = after.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    elif b"\r" not in before:  # and an LF file one
        after = after.replace(b"\r\n", b"\n")
    if after == before:
        raise PatchError(f"the patch changes nothing in {rel} (new is the text that is there now)",
                         "Pass the corrected text as new.")
    return FileEdit(rel, rel, before, after, mode, mode), notes


# A line standing for code left out ("# ... rest unchanged", "..."): written whole, it would
# delete that code. Only refused when the file did not already have such a line.
ELISION = re.compile(rb"^[ \t]*(?:(?:#|//)[ \t]*)?(?:\.\.\.|\xe2\x80\xa6)[ \t]*(?:(?:rest|remaining|other|existing|unchanged)\b.*)?$",
                     re.MULTILINE | re.IGNORECASE)


def _place_fragment(rel: str, before: bytes, after: bytes, notes: list[str]) -> bytes:
    """Content that is only some of the file's definitions (small models write just the function
    they fixed): put in place of those, the rest kept; refused when it cannot be placed."""
    old_text, new_text = before.decode("utf-8", "surrogateescape"), after.decode("utf-8", "surrogateescape")
    problem = fragments.syntax_problem(old_text, new_text)
    if problem:
        raise PatchError(f"content is not valid Python ({problem}); {rel} is now", "Correct the code and propose it again.")
    dropped = fragments.dropped_names(old_text, new_text)
    if not dropped:
        text, restored = fragments.restore_imports(old_text, new_text)
        if restored:
            notes.append(f"{rel}: content left out {'; '.join(restored)}, which it still uses: kept")
        return text.encode("utf-8", "surrogateescape")
    placed = fragments.place_fragment(old_text, new_text)
    if placed is None:
        raise PatchError(
            f"content would delete {', '.join(dropped[:6])}{' …' if len(dropped) > 6 else ''} from {rel}",
            "Pass every line of the file as content, or change only some lines with propose_patch(path, old, new).",
        )
    text, names = placed
    notes.append(f"{rel}: content held only {', '.join(names)}: put in place of "
                 f"{'it' if len(names) == 1 else 'them'}, the rest of the file kept")
    return text.encode("utf-8", "surrogateescape")


def plan_write(workspace: Workspace, rel: str, content: str) -> tuple[FileEdit, list[str]]:
    """A file's whole new content (the file is created if missing). Small models rewrite a short
    file more reliably than they copy an exact snippet of it; the result is an ordinary edit."""
    rel = normalize(workspace, rel)
    before, mode = _read(workspace, rel)
    after = content.encode("utf-8", "surrogateescape")
    if after.startswith(b"\n") and not (before or b"").startswith(b"\n"):
        after = after[1:]  # content='''<newline>... : the newline after the opening quotes is not the file's
    if before is None:
        return FileEdit(None, rel, None, after, None, REGULAR), []
    if b"\0" in before[:8000]:
        raise PatchError(f"{rel} is a binary file", "propose_file writes text; leave binary files as they are.")
    mode = stat.S_IFREG | permissions(mode)
    notes: list[str] = []
    if rel.endswith(".py"):
        after = _place_fragment(rel, before, after, notes)
    if before.endswith(b"\n") and after and not after.endswith(b"\n"):
        after += b"\n"
    if b"\r\n" in before and b"\r\n" not in after:
        after = after.replace(b"\n", b"\r\n")
        notes.append(f"{rel}: written with the file's CRLF line endings")
    elided = [m.group(0).strip().decode("utf-8", "replace") for m in ELISION.finditer(after)]
    if elided and not ELISION.search(before):
        raise PatchError(
            f"content has the line {elided[0]!r}, which would delete the code it stands for",
            "Pass the whole file as content, every line of it, or change only some lines with "
            "propose_patch(path, old, new).",
        )
    if after == before:
        raise PatchError(f"content is the same as {rel} now", "Pass the corrected file as content.")
    return FileEdit(rel, rel, before, after, mode, mode), notes


def plan_symbol(workspace: Workspace, rel: str, name: str, new: str) -> tuple[FileEdit, list[str]]:
    """One class, function or method of a Python file replaced by its new source (code/symbols.py):
    the result must parse, and every byte outside the symbol stays as it is."""
    rel = normalize(workspace, rel)
    before, mode = _read(workspace, rel)
    if before is None:
        raise PatchError(f"{rel} does not exist", "Check the path with list_files or find_symbol.")
    if b"\0" in before[:8000]:
        raise PatchError(f"{rel} is a binary file", "Symbols are found in Python source files only.")
    text = before.decode("utf-8", "surrogateescape")
    try:
        after_text, symbol = symbols.replace(text, name, new.replace("\r\n", "\n"), rel)
    except symbols.SymbolError as exc:
        raise PatchError(exc.error, exc.suggestion) from None
    after = after_text.encode("utf-8", "surrogateescape")
    elided = [m.group(0).strip().decode("utf-8", "replace") for m in ELISION.finditer(after)]
    if elided and not ELISION.search(before):
        raise PatchError(
            f"the new {symbol.name} has the line {elided[0]!r}, which would delete the code it stands for",
            f"Write {symbol.name} whole, every line of it.",
        )
    if after == before:
        raise PatchError(f"the new {symbol.name} is the same as it is now in {rel}",
                         "Change the lines that cause the failure.")
    mode = None if mode is None else stat.S_IFREG | permissions(mode)
    return FileEdit(rel, rel, before, after, mode, mode), [f"{rel}: {symbol.name} (lines {symbol.start}-{symbol.end}) replaced"]


# --- writing: all files or none ---


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def check_unchanged(edits: Iterable[FileEdit], workspace: Workspace, patch_id: str) -> None:
    """Refuse to write over work done since the patch was proposed, or through a symlink made since."""
    for edit in edits:
        for rel in (edit.old_path, edit.new_path):
            if rel is not None:
                target(workspace, rel, patch_id)
        if edit.old_path is not None and _sha(_read(workspace, edit.old_path)[0]) != _sha(edit.before):
            raise PatchError(
                f"{edit.old_path} changed since patch {patch_id} was proposed",
                "Read it again and propose a new patch.",
            )
        if edit.new_path not in (None, edit.old_path) and _read(workspace, edit.new_path)[0] is not None:
            raise PatchError(f"{edit.new_path} was created since patch {patch_id} was proposed", "Propose the change again.")


def write_edits(edits: list[FileEdit], workspace: Workspace) -> list[str]:
    """Apply every edit or, if any write fails, restore every file touched so far. Returns the
    folders it made, parents first: undoing a new file must remove them too. Every write is made
    in a descriptor of the file's folder walked from the workspace's (core.folder_of): never
    through a symlink, one a sandboxed process swaps in between included."""
    root = workspace.root
    done: list[tuple[str, bytes | None, int | None]] = []  # (path, bytes before, mode before), once written
    made_dirs: list[str] = []
    try:
        for edit in edits:
            if edit.new_path is not None:
                target(workspace, edit.new_path)  # refused clearly where it now leads elsewhere
                with folder_of(root, edit.new_path, made_dirs) as (fd, name):
                    previous = _read_at(fd, name, edit.new_path)
                    mode = edit.new_mode
                    if previous[1] is not None and edit.old_mode is not None \
                            and permissions(edit.old_mode) == permissions(edit.new_mode):
                        mode = previous[1]  # the edit leaves the mode as it found it: a chmod made since stays
                    replace_file(fd, name, edit.after or b"", permissions(mode), sync=True)  # done, or not at all
                done.append((edit.new_path, *previous))
            if edit.old_path is not None and edit.old_path != edit.new_path:
                target(workspace, edit.old_path)
                with folder_of(root, edit.old_path) as (fd, name):
                    previous = _read_at(fd, name, edit.old_path)
                    os.unlink(name, dir_fd=fd)
                done.append((edit.old_path, *previous))
    except BaseException as exc:
        unrestored = _roll_back(root, done, made_dirs)
        if unrestored:
            raise PatchError(
                f"writing the patch failed ({exc}) and {', '.join(unrestored)} could not be restored",
                "Check those files by hand (git diff shows them).",
            ) from None
        if isinstance(exc, OSError):
            raise PatchError(
                f"writing the patch failed ({exc.strerror}: {exc.filename}); every file was restored",
                "Nothing was changed. Check permissions or disk space, then try again.",
            ) from None
        raise
    return made_dirs


def remove_made_dirs(workspace: Workspace, made: list[str]) -> list[str]:
    """Remove the folders a patch made (write_edits' list), deepest first, where they are still
    empty folders at their own place: never one holding a file made since, never through a symlink."""
    removed = []
    for rel in reversed(made):
        try:
            target(workspace, rel)
            with folder_of(workspace.root, rel) as (fd, name):
                os.rmdir(name, dir_fd=fd)  # a symlink there is not a folder: refused, not followed
            removed.append(rel + "/")
        except (OSError, PatchError, ToolError):
            continue  # not empty, gone, or now leads elsewhere: left as it is
    return removed


def _roll_back(root: Path, done: list[tuple[str, bytes | None, int | None]], made_dirs: list[str]) -> list[str]:
    """Put back what `done` lists, newest first; return the paths that could not be restored."""
    unrestored = []
    for rel, data, mode in reversed(done):
        try:
            with folder_of(root, rel) as (fd, name):
                if data is None:
                    with suppress(FileNotFoundError):
                        os.unlink(name, dir_fd=fd)
                else:
                    replace_file(fd, name, data, permissions(mode), sync=True)
        except OSError:
            unrestored.append(rel)
    for rel in reversed(made_dirs):
        try:
            with folder_of(root, rel) as (fd, name):
                os.rmdir(name, dir_fd=fd)
        except OSError:
            pass  # not empty (someone else's file) or already gone: leave it
    return unrestored
