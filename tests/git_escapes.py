"""Git directories that lead into another repository, one builder per way (issue 45): for the door's
tests (tests/safety/test_git_dir_escape.py, test_gitpython_door.py). Each `via_*(ws, secret)` turns
the workspace `ws` (made by `workspace`) into one whose git reads `secret` (made by `secret_repo`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

from conftest import git, make_repo

SECRET = "TOPSECRET-4f1e9a"
SECRET_NAME = "merger-plans-7c2d.txt"
SECRET_MESSAGE = "internal: the acquisition 93b1"


def secret_repo(tmp_path: Path) -> Path:
    """Another repository of the user's: loose objects only (a fresh one), one commit."""
    return make_secret(tmp_path / "secret")


def make_secret(path: Path) -> Path:
    repo = make_repo(path, {SECRET_NAME: f"{SECRET}\n"}, commit=False)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", SECRET_MESSAGE)
    return repo


def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    (ws / "readme.md").write_text("hello\n")
    return ws


def point_head(ws: Path, secret: Path) -> None:
    """The workspace's branch names the other repository's commit (found by whoever planted this)."""
    (ws / ".git" / "refs" / "heads" / "main").write_text(git(secret, "rev-parse", "HEAD"))


def via_commondir(ws: Path, secret: Path) -> None:
    (ws / ".git" / "commondir").write_text(f"{secret / '.git'}\n")  # the reproduction


def via_objects(ws: Path, secret: Path) -> None:
    subprocess.run(["rm", "-rf", str(ws / ".git" / "objects")], check=True)
    (ws / ".git" / "objects").symlink_to(secret / ".git" / "objects")
    point_head(ws, secret)


def via_refs(ws: Path, secret: Path) -> None:
    subprocess.run(["rm", "-rf", str(ws / ".git" / "refs")], check=True)
    (ws / ".git" / "refs").symlink_to(secret / ".git" / "refs")
    (ws / ".git" / "objects" / "info" / "alternates").write_text(f"{ws / 'borrowed'}\n")  # inside: allowed


def via_alternates(ws: Path, secret: Path) -> None:
    (ws / ".git" / "objects" / "info" / "alternates").write_text(f"{secret / '.git' / 'objects'}\n")
    point_head(ws, secret)


def via_relative_alternates(ws: Path, secret: Path) -> None:
    rel = os.path.relpath(secret / ".git" / "objects", ws / ".git" / "objects")
    (ws / ".git" / "objects" / "info" / "alternates").write_text(f"# borrowed\n{rel}\n")
    point_head(ws, secret)


def via_two_line_commondir(ws: Path, secret: Path) -> None:
    """git takes the whole file as the path (only the trailing newline removed): its first line alone
    would name a folder inside."""
    (ws / ".git" / "x\n").mkdir()
    (ws / ".git" / "commondir").write_text(f"x\n/../../../{secret.name}/.git\n")


def via_alternates_ending_in_cr(ws: Path, secret: Path) -> None:
    """git keeps a carriage return in an alternates line: `store\r` is a symlink out, `store` is nothing."""
    (ws / "store\r").symlink_to(secret / ".git" / "objects")
    (ws / ".git" / "objects" / "info" / "alternates").write_bytes(b"../../store\r\n")
    point_head(ws, secret)


def via_info_alternates(ws: Path, secret: Path) -> None:
    (ws / ".git" / "info" / "alternates").write_text(f"{secret / '.git' / 'objects'}\n")


def via_gitdir_file(ws: Path, secret: Path) -> None:
    subprocess.run(["rm", "-rf", str(ws / ".git")], check=True)
    (ws / ".git").write_text(f"gitdir: {os.path.relpath(secret / '.git', ws)}\n")


def via_symlink_to_a_gitfile(ws: Path, secret: Path) -> None:
    """`.git` a symlink to a file inside the workspace, which names the other repository: git reads it."""
    subprocess.run(["rm", "-rf", str(ws / ".git")], check=True)
    (ws / "notes").write_text(f"gitdir: {secret / '.git'}\n")
    (ws / ".git").symlink_to("notes")


def via_fake_linked_worktree(ws: Path, secret: Path) -> None:
    """A `.git` file naming a git directory in the workspace that links back like a linked worktree's,
    whose commondir is the other repository."""
    fake = ws / "fake"
    subprocess.run(["mv", str(ws / ".git"), str(fake)], check=True)
    (ws / ".git").write_text(f"gitdir: {fake}\n")
    (fake / "gitdir").write_text(f"{ws / '.git'}\n")
    (fake / "commondir").write_text(f"{secret / '.git'}\n")


def via_worktrees_gitdir(ws: Path, secret: Path) -> None:
    """A worktree entry of this repository whose `gitdir` names the other repository's git directory."""
    entry = ws / ".git" / "worktrees" / "x"
    entry.mkdir(parents=True)
    (entry / "commondir").write_text("../..\n")
    (entry / "HEAD").write_text("ref: refs/heads/main\n")
    (entry / "gitdir").write_text(f"{secret / '.git'}\n")


def via_head(ws: Path, secret: Path) -> None:
    (ws / ".git" / "HEAD").unlink()
    (ws / ".git" / "HEAD").symlink_to(secret / ".git" / "HEAD")


def via_packed_refs(ws: Path, secret: Path) -> None:
    git(secret, "pack-refs", "--all")
    (ws / ".git" / "packed-refs").symlink_to(secret / ".git" / "packed-refs")


def via_index(ws: Path, secret: Path) -> None:
    (ws / ".git" / "index").symlink_to(secret / ".git" / "index")  # the other repository's file names


def via_one_loose_object(ws: Path, secret: Path) -> None:
    """Deep in objects/: the other repository's commit, tree and blob, one symlink each."""
    for name in git(secret, "rev-list", "--objects", "--all").split():
        if len(name) != 40:
            continue
        folder = ws / ".git" / "objects" / name[:2]
        folder.mkdir(exist_ok=True)
        (folder / name[2:]).symlink_to(secret / ".git" / "objects" / name[:2] / name[2:])
    point_head(ws, secret)


def via_core_worktree(ws: Path, secret: Path) -> None:
    """The workspace's own config names the other project's folder as its work tree: `git diff` and
    `git status -vv` print that folder's file, committed here under the same name (attack review)."""
    (ws / SECRET_NAME).write_text("placeholder\n")
    git(ws, "add", SECRET_NAME)
    git(ws, "commit", "-q", "-m", "x")
    (ws / SECRET_NAME).unlink()
    git(ws, "config", "core.worktree", str(secret))


ATTACKS: dict[str, Callable[[Path, Path], None]] = {

    "commondir": via_commondir, "objects": via_objects, "refs": via_refs, "alternates": via_alternates,
    "relative-alternates": via_relative_alternates, "info-alternates": via_info_alternates,
    "two-line-commondir": via_two_line_commondir, "alternates-ending-in-cr": via_alternates_ending_in_cr,
    "gitdir-file": via_gitdir_file, "symlink-to-a-gitfile": via_symlink_to_a_gitfile,
    "fake-linked-worktree": via_fake_linked_worktree,
    "worktrees-gitdir": via_worktrees_gitdir, "HEAD": via_head, "packed-refs": via_packed_refs, "index": via_index,
    "loose-object": via_one_loose_object,
}


def leaked(text: str) -> list[str]:
    return [s for s in (SECRET, SECRET_NAME, SECRET_MESSAGE) if s in text]
