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
