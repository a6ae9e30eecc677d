"""core.within: the one path containment check (the workspace, the policy, the sandbox, git, notes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_runtime.core import ToolError, Workspace, within


@pytest.mark.parametrize(("path", "root", "inside"), [
    ("/a/b", "/a/b", True),          # the root itself
    ("/a/b/c", "/a/b", True),
    ("/a/b/c/d.txt", "/a/b", True),
    ("/a/bc", "/a/b", False),        # a lookalike: same prefix, another directory
    ("/a/bc/d", "/a/b", False),
    ("/a/b.bak", "/a/b", False),
    ("/a", "/a/b", False),           # a parent is not inside
    ("/x/a/b", "/a/b", False),
    ("/a/b", "/", True),
    ("a/b", "/a", False),            # relative against absolute: never
    ("/a/b/", "/a/b", True),         # a trailing slash changes nothing
])
def test_within_compares_whole_components(path, root, inside):
    assert within(Path(path), Path(root)) is inside


def test_within_takes_dot_dot_literally_so_callers_normalise_first():
    climbing = Path("/a/b/../c")
    assert within(climbing, Path("/a/b")), "as written: .. is a component"
    assert not within(Path(os.path.normpath(climbing)), Path("/a/b"))


def test_within_does_not_follow_symlinks(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    assert within(root / "link" / "f", root), "as written"
    assert not within((root / "link" / "f").resolve(), root.resolve()), "resolved: it leads outside"


def test_the_workspace_refuses_a_lookalike_sibling(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "bc").mkdir()
    (tmp_path / "bc" / "f.txt").write_text("x")
    workspace = Workspace(tmp_path / "b")
    with pytest.raises(ToolError) as raised:
        workspace.resolve("../bc/f.txt")
    assert raised.value.kind == "path_outside_workspace"
    with pytest.raises(ToolError):
        workspace.resolve(str(tmp_path / "bc" / "f.txt"))


def test_a_folder_is_walked_to_never_through_a_symlink_and_made_where_missing(tmp_path):
    """folder_of: the one way the host names a workspace file to write: each folder opened from the one
    before with O_NOFOLLOW. A symlink on the way is refused by name, one leading inside included (what
    it leads to can be swapped); a missing folder is made and listed; a path that could leave is refused."""
    from agent_runtime.core import folder_of

    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "src" / "pkg").mkdir(parents=True)
    outside.mkdir()
    (root / "out").symlink_to(outside)
    (root / "in").symlink_to(root / "src")
    (root / "file").write_text("x\n")
    with folder_of(root, "src/pkg/a.py") as (fd, name):
        assert name == "a.py" and os.path.samestat(os.fstat(fd), os.stat(root / "src" / "pkg"))
    for rel, why in (("out/a.py", "out is a symlink (not followed)"), ("in/pkg/a.py", "in is a symlink (not followed)"),
                     ("src/pkg/../../out/a.py", "not a plain path"), ("file/a.py", "file is not a folder"),
                     ("/etc/passwd", "not a plain path"), ("src//a.py", "not a plain path")):
        made: list[str] = []
        with pytest.raises(OSError) as raised, folder_of(root, rel, made):
            pass
        assert why in str(raised.value) and rel in str(raised.value) and made == []
    made = []
    with folder_of(root, "src/new/deep/a.py", made) as (fd, name):
        os.open(name, os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
    assert made == ["src/new", "src/new/deep"] and (root / "src" / "new" / "deep" / "a.py").is_file()
    with pytest.raises(OSError, match="out is a symlink"), folder_of(root, "out/new/a.py", made):
        pass
    assert os.listdir(outside) == []


def test_a_file_is_replaced_whole_with_its_mode_and_a_symlink_there_is_replaced_not_followed(tmp_path):
    from agent_runtime.core import folder_of, replace_file

    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "keys").write_text("theirs\n")
    (root / "keys").symlink_to(outside / "keys")
    with folder_of(root, "keys") as (fd, name):
        replace_file(fd, name, b"mine\n", 0o640)
    assert (outside / "keys").read_text() == "theirs\n"
    assert not (root / "keys").is_symlink() and (root / "keys").read_text() == "mine\n"
    assert (root / "keys").stat().st_mode & 0o777 == 0o640 and sorted(os.listdir(root)) == ["keys"]
