"""Patches against git itself: real commits of every kind of edit, re-applied with apply_patch
and compared byte for byte with `git apply`; broken patches that must leave every file as it
was; rollback when a write fails; undo."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import git, make_repo, run_cli

BIG_LIMITS = {"VALIDATION_MAX_CHARS": "1000000", "VALIDATION_MAX_LINES": "100000"}


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def history_of_every_kind(repo: Path) -> list[str]:
    """A series of commits, one per kind of edit; returns their shas (oldest first)."""
    shas = []

    def write(name: str, data: bytes) -> None:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)

    write("plain.txt", b"".join(b"line %d\n" % i for i in range(1, 41)))
    write("crlf.txt", b"one\r\ntwo\r\nthree\r\nfour\r\n")
    write("no_newline.txt", b"first\nlast without newline")
    write("latin1.txt", "caf\xe9\nna\xefve\nend\n".encode("latin-1"))
    write("script.sh", b"#!/bin/sh\necho hi\n")
    write("to_delete.txt", b"bye\n")
    write("to_rename.txt", b"".join(b"keep %d\n" % i for i in range(20)))
    write("my notes.txt", b"a file with a space\n")
    shas.append(commit(repo, "base"))

    text = (repo / "plain.txt").read_bytes().replace(b"line 3\n", b"line three\n").replace(b"line 30\n", b"")
    write("plain.txt", text + b"line 41\n")
    shas.append(commit(repo, "modify: two hunks and an append"))

    write("crlf.txt", b"one\r\nTWO\r\nthree\r\nfour\r\nfive\r\n")
    shas.append(commit(repo, "modify a CRLF file"))

    write("no_newline.txt", b"first\nlast line now ends\n")
    shas.append(commit(repo, "add a final newline"))

    write("no_newline.txt", b"first\nchanged, and no newline again")
    shas.append(commit(repo, "remove the final newline"))

    write("latin1.txt", "caf\xe9 cr\xe8me\nna\xefve\nend\n".encode("latin-1"))
    shas.append(commit(repo, "modify non-UTF-8 text"))

    write("src/pkg/new_module.py", b"VALUE = 1\n")
    write("empty.txt", b"")
    shas.append(commit(repo, "new files in new directories, and an empty file"))

    (repo / "to_delete.txt").unlink()
    shas.append(commit(repo, "delete a file"))

    git(repo, "mv", "to_rename.txt", "renamed.txt")
    shas.append(commit(repo, "pure rename"))

    (repo / "moved").mkdir()
    git(repo, "mv", "renamed.txt", "moved/renamed_again.txt")
    data = (repo / "moved/renamed_again.txt").read_bytes().replace(b"keep 10\n", b"changed 10\n")
    write("moved/renamed_again.txt", data)
    shas.append(commit(repo, "rename with a change"))

    os.chmod(repo / "script.sh", 0o755)
    shas.append(commit(repo, "make a script executable"))

    write("my notes.txt", b"a file with a space\nand a second line\n")
    write("windows1252.txt", b"smart \x93quotes\x94 and \x96 dashes\r\n")
    shas.append(commit(repo, "a path with a space; a new CRLF file in another code page"))

    (repo / "empty.txt").unlink()
    write("plain.txt", b"")
    shas.append(commit(repo, "delete an empty file; empty a file"))
    return shas


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    out = {}
    for path in sorted(root.rglob("*")):
        if ".git" in path.relative_to(root).parts or not path.is_file():
            continue
        out[str(path.relative_to(root))] = (path.read_bytes(), bool(path.stat().st_mode & stat.S_IXUSR))
    return out


def checkout(source: Path, sha: str, target: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(source), str(target)], check=True)
    git(target, "checkout", "-q", sha)
    return target


def test_every_commit_reapplies_byte_identical_to_git_apply(tmp_path, tools_for):
    source = make_repo(tmp_path / "source", {}, commit=False)
    git(source, "config", "core.autocrlf", "false")
    shas = history_of_every_kind(source)
    identical = 0
    for parent, child in zip(shas, shas[1:]):
        diff = subprocess.run(["git", "diff", "--no-color", "--no-ext-diff", parent, child], cwd=source,
                              capture_output=True, check=True).stdout
        ours = checkout(source, parent, tmp_path / f"ours-{child[:8]}")
        theirs = checkout(source, parent, tmp_path / f"theirs-{child[:8]}")
        subprocess.run(["git", "apply", "-"], cwd=theirs, input=diff, check=True)
        _, tools = tools_for(ours, env=BIG_LIMITS)
        proposed = tools["propose_patch_unified"](diff=diff.decode("utf-8", "surrogateescape"))
        assert "patch_id" in proposed, (git(source, "log", "-1", "--format=%s", child), proposed)
        applied = tools["apply_patch"](patch_id=proposed["patch_id"])
        assert applied.get("applied") is True, applied
        assert tree(ours) == tree(theirs), git(source, "log", "-1", "--format=%s", child)
        identical += 1
    assert identical == len(shas) - 1 == 12


def reapply(source: Path, parent: str, child: str, work: Path, tools_for) -> bool:
    """Apply the diff parent..child to a checkout of parent, with apply_patch and with git apply."""
    diff = subprocess.run(["git", "diff", "--no-color", "--no-ext-diff", parent, child], cwd=source,
                          capture_output=True, check=True).stdout
    ours = checkout(source, parent, work / f"ours-{child[:10]}")
    theirs = checkout(source, parent, work / f"theirs-{child[:10]}")
    if diff:
        subprocess.run(["git", "apply", "-"], cwd=theirs, input=diff, check=True)
        _, tools = tools_for(ours, env=BIG_LIMITS)
        proposed = tools["propose_patch_unified"](diff=diff.decode("utf-8", "surrogateescape"))
        assert "patch_id" in proposed, proposed
        assert tools["apply_patch"](patch_id=proposed["patch_id"]).get("applied") is True
    same = tree(ours) == tree(theirs)
    shutil.rmtree(ours)
    shutil.rmtree(theirs)
    return same


def test_a_random_history_reapplies_byte_identical(tmp_path, tools_for):
    from patch_corpus import random_history

    source = tmp_path / "random"
    source.mkdir()
    shas = random_history(source, commits=40)
    results = [reapply(source, p, c, tmp_path, tools_for) for p, c in zip(shas, shas[1:])]
    assert results.count(True) == len(results) == 40


def test_a_patch_with_one_bad_hunk_changes_nothing(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\na2\na3\n", "b.txt": "b1\nb2\nb3\n"})
    before = tree(repo)
    _, tools = tools_for(repo)
    diff = ("--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n a1\n-a2\n+A2\n a3\n"
            "--- a/b.txt\n+++ b/b.txt\n@@ -1,3 +1,3 @@\n b1\n-WRONG\n+B2\n b3\n"
            "--- /dev/null\n+++ b/c.txt\n@@ -0,0 +1 @@\n+new\n")
    result = tools["propose_patch_unified"](diff=diff)
    assert "hunk 1" in result["error"] and "b.txt" in result["error"] and "'WRONG'" in result["error"]
    assert tree(repo) == before


@pytest.mark.parametrize(
    "diff, message",
    [
        ("--- a/missing.txt\n+++ b/missing.txt\n@@ -1 +1 @@\n-x\n+y\n", "does not exist"),
        ("--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n+dup\n", "already exists"),
        ("--- a/a.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a1\n-a2\n", "does not remove the whole file"),
        ("--- a/../escape.txt\n+++ b/../escape.txt\n@@ -0,0 +1 @@\n+x\n", "outside the workspace"),
        ("diff --git a/img.png b/img.png\nBinary files a/img.png and b/img.png differ\n", "binary"),
        ("just some words\n", "no file changes"),
    ],
)
def test_broken_patches_are_refused_and_touch_nothing(tmp_path, tools_for, diff, message):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\na2\na3\n", "img.png": "x"})
    before = tree(repo)
    _, tools = tools_for(repo)
    result = tools["propose_patch_unified"](diff=diff)
    assert message in result["error"], result
    assert tree(repo) == before and not (tmp_path / "escape.txt").exists()


def test_a_failed_write_restores_every_file(tmp_path, tools_for, monkeypatch):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n", "b.txt": "b1\n", "gone.txt": "bye\n"})
    before = tree(repo)
    _, tools = tools_for(repo)
    diff = ("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a1\n+A1\n"
            "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
            "--- /dev/null\n+++ b/new/dir/c.txt\n@@ -0,0 +1 @@\n+c\n"
            "--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-b1\n+B1\n")
    proposed = tools["propose_patch_unified"](diff=diff)
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src, dst, *args, **kwargs):
        calls["n"] += 1
        if str(dst).endswith("b.txt") and calls["n"] < 10:
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)
    result = tools["apply_patch"](patch_id=proposed["patch_id"])
    assert "every file was restored" in result["error"] and "No space left on device" in result["error"]
    monkeypatch.setattr(os, "replace", real_replace)
    assert tree(repo) == before
    assert not (repo / "new").exists(), "directories made for the patch are removed again"
    assert not [p for p in repo.rglob("*.agent-tmp")], "no temporary files left behind"


def test_loose_match_keeps_the_files_line_endings(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"w.txt": b"alpha\r\nbeta\r\ngamma\r\n"})
    _, tools = tools_for(repo)
    model_diff = "--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,3 @@\n alpha\n-beta\n+BETA\n gamma\n"  # LF, as models write
    proposed = tools["propose_patch_unified"](diff=model_diff)
    assert "ignoring whitespace and line endings" in " ".join(proposed["notes"])
    tools["apply_patch"](patch_id=proposed["patch_id"])
    assert (repo / "w.txt").read_bytes() == b"alpha\r\nBETA\r\ngamma\r\n"
    replaced = tools["propose_patch"](path="w.txt", old="BETA\ngamma", new="beta\ngamma")
    tools["apply_patch"](patch_id=replaced["patch_id"])
    assert (repo / "w.txt").read_bytes() == b"alpha\r\nbeta\r\ngamma\r\n"


def test_hunks_found_at_an_offset(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"f.txt": "".join(f"{i}\n" for i in range(100))})
    _, tools = tools_for(repo)
    diff = "--- a/f.txt\n+++ b/f.txt\n@@ -10,3 +10,3 @@\n 50\n-51\n+fifty-one\n 52\n"  # wrong line numbers
    proposed = tools["propose_patch_unified"](diff=diff)
    assert "offset" in " ".join(proposed["notes"])
    tools["apply_patch"](patch_id=proposed["patch_id"])
    assert "fifty-one\n52\n" in (repo / "f.txt").read_text()


def test_modes_are_kept(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"run.sh": "#!/bin/sh\necho a\n"})
    os.chmod(repo / "run.sh", 0o755)
    _, tools = tools_for(repo)
    tools["apply_patch"](patch_id=tools["propose_patch"](path="run.sh", old="echo a", new="echo b")["patch_id"])
    assert (repo / "run.sh").stat().st_mode & 0o777 == 0o755


# --- undo ---


def test_undo_restores_and_refuses_after_later_changes(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n", "old.txt": "old\n"})
    _, tools = tools_for(repo)
    diff = ("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a1\n+A1\n"
            "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-old\n"
            "--- /dev/null\n+++ b/pkg/new.txt\n@@ -0,0 +1 @@\n+new\n")
    before = tree(repo)
    tools["apply_patch"](patch_id=tools["propose_patch_unified"](diff=diff)["patch_id"])
    after = tree(repo)
    assert after != before
    undone = run_cli("undo", cwd=repo)
    assert undone.returncode == 0 and "Undid patch p1" in undone.stdout
    assert tree(repo) == before
    nothing = run_cli("undo", cwd=repo)
    assert nothing.returncode == 1 and "no applied patch to undo" in nothing.stderr

    tools["apply_patch"](patch_id=tools["propose_patch"](path="a.txt", old="a1", new="a2")["patch_id"])
    (repo / "a.txt").write_text("edited by a person since\n")
    refused = run_cli("undo", cwd=repo)
    assert refused.returncode == 1 and "a.txt changed since it was applied" in refused.stderr
    assert (repo / "a.txt").read_text() == "edited by a person since\n"


def test_undo_of_a_rename(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"x.txt": "content\n"})
    _, tools = tools_for(repo)
    diff = "diff --git a/x.txt b/y.txt\nsimilarity index 100%\nrename from x.txt\nrename to y.txt\n"
    proposed = tools["propose_patch_unified"](diff=diff)
    tools["apply_patch"](patch_id=proposed["patch_id"])
    assert (repo / "y.txt").exists() and not (repo / "x.txt").exists()
    assert run_cli("undo", cwd=repo).returncode == 0
    assert (repo / "x.txt").read_text() == "content\n" and not (repo / "y.txt").exists()


def test_old_text_that_does_not_match_says_which_of_its_lines_differ(tmp_path):
    """Indentation and trailing spaces are forgiven; a line that really differs is named, with the
    file's line beside it, so the next try can copy the right text."""
    from agent_runtime.core import Workspace
    from agent_runtime.patches.apply import plan_replace
    from agent_runtime.patches.diffs import PatchError

    (tmp_path / "m.py").write_text("def f(a, b):\n    x = a + 1\n    y = b * 2\n    return x - y\n")
    workspace = Workspace(tmp_path)
    edit, notes = plan_replace(workspace, "m.py", "  x = a + 1  \n  y = b * 2", "  x = a + 2\n  y = b * 2")
    assert edit.after == b"def f(a, b):\n    x = a + 2\n    y = b * 2\n    return x - y\n"
    assert notes == ["m.py: old matched once when indentation is ignored; new was applied there"]
    (tmp_path / "n.py").write_text("x = 1\ny = 2")
    edit, _ = plan_replace(workspace, "n.py", "y = 2\n", "y = 3\n")
    assert edit.after == b"x = 1\ny = 3", "a file without a final newline does not gain one"
    (tmp_path / "w.py").write_bytes(b"def g():\r\n    a = 1\r\n    return a\r\n")
    edit, _ = plan_replace(workspace, "w.py", "a = 1\nreturn a\n", "a = 2\nreturn a\n")
    assert edit.after == b"def g():\r\n    a = 2\r\n    return a\r\n", "re-indented with the file's CRLF endings"
    (tmp_path / "b.py").write_bytes(b"def h(x):\n    if x:\n        a = 1\n\n    return a\n")
    edit, _ = plan_replace(workspace, "b.py", "if x:\n    a = 1\n\nreturn a\n", "if x:\n    a = 1\n    b = 2\n\nreturn a\n")
    assert edit.after == b"def h(x):\n    if x:\n        a = 1\n        b = 2\n\n    return a\n", \
        "a line new puts where old had a blank line is indented as the line before it"
    (tmp_path / "r.py").write_bytes(b"a = 1\rb = 2\n")
    edit, _ = plan_replace(workspace, "r.py", "a = 1\n", "a = 9\n")
    assert edit.after.startswith(b"a = 9") and b"b = 2\n" in edit.after and b"a = 9b" not in edit.after
    (tmp_path / "c.py").write_bytes(b"class Cart:\n    def total(self):\n        s = sum(self.prices)\n        return s\n")
    edit, _ = plan_replace(workspace, "c.py", "    s = sum(self.prices)\n    return s",
                           "    s = sum(self.prices)\n    return round(s, 2)\n\ndef rounded(self):\n    return self.total()")
    assert edit.after.endswith(b"        return round(s, 2)\n\n    def rounded(self):\n        return self.total()\n"), \
        "a line new indents less than old moves as far as old did"
    (tmp_path / "e.py").write_bytes(b"class A:\r\n    x = 1")
    edit, _ = plan_replace(workspace, "e.py", "  x = 1", "  x = 1\n  y = 2")
    assert edit.after == b"class A:\r\n    x = 1\r\n    y = 2", "the last line of a CRLF file"
    (tmp_path / "t.py").write_bytes(b"def add(a, b):\n    c = a\n    return c - b\n")
    edit, _ = plan_replace(workspace, "t.py", "    def add(a, b):\n        c = a\n>       return c - b\nE       assert -1 == 3",
                           "    def add(a, b):\n        c = a\n        return c + b")
    assert edit.after == b"def add(a, b):\n    c = a\n    return c + b\n", "pytest's > mark stands for 4 columns"
    (tmp_path / "k.py").write_bytes(b"def k():\n    pass\n\n\ndef j():\n    return 0\n")
    edit, _ = plan_replace(workspace, "k.py", "\npass\n\n", "\nreturn 1\n\n")
    assert edit.after == b"def k():\n    return 1\n\n\ndef j():\n    return 0\n", "old's blank ends are not looked for, nor new's added"
    for data, old, new, after in ((b"a = 1\r\n", "a = 1\n", "b = 2\r\n", b"b = 2\r\n"),
                                  (b"a = 1\n", "a = 1\n", "b = 2\r\n", b"b = 2\n"),
                                  (b"x = 4\r\n\r\npass\r\n", "\npass", "\r\n", b"x = 4\r\n\r\n\r\n")):
        (tmp_path / "l.py").write_bytes(data)
        assert plan_replace(workspace, "l.py", old, new)[0].after == after, "the file's own line endings"
    with pytest.raises(PatchError) as refused:
        plan_replace(workspace, "m.py", "x = a + 1\ny = b*2\nreturn x - y", "x = 0")
    assert "old line 2 'y = b*2' is not file line 3: 'y = b * 2'" in refused.value.error
    assert "old line 1" not in refused.value.error and "old line 3" not in refused.value.error
    assert "The closest lines in m.py (from line 1)" in refused.value.suggestion


def test_a_folder_swapped_for_a_symlink_after_the_last_check_is_refused_and_the_patch_rolled_back(tmp_path, monkeypatch):
    """A process that swaps `src` for a link out exactly when the check that the path still leads to itself
    has passed (a sandboxed MCP server can, at any moment): the write walks from the workspace's own
    descriptor, so it is refused by name, the file already written is put back, and nothing is written out."""
    from agent_runtime.core import Workspace
    from agent_runtime.patches import apply
    from agent_runtime.patches.diffs import PatchError

    repo = make_repo(tmp_path / "r", {"a.txt": "a\n", "src/app.py": "x = 1\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    workspace = Workspace(repo)
    edits = [apply.plan_write(workspace, "a.txt", "a changed\n")[0],
             apply.plan_write(workspace, "src/new/keys", "ssh-ed25519 AAAA-attacker\n")[0]]
    apply.check_unchanged(edits, workspace, "p1")
    checked = apply.target

    def swapping(workspace: Workspace, rel: str, patch_id: str | None = None) -> Path:
        if (repo / "src").is_symlink():
            os.unlink(repo / "src")
            os.rename(repo / "src.real", repo / "src")
        path = checked(workspace, rel, patch_id)
        if rel.startswith("src/"):
            os.rename(repo / "src", repo / "src.real")
            os.symlink(outside, repo / "src")
        return path

    monkeypatch.setattr(apply, "target", swapping)
    with pytest.raises(PatchError) as raised:
        apply.write_edits(edits, workspace)
    assert "src is a symlink (not followed): src/new/keys" in raised.value.error
    assert "every file was restored" in raised.value.error
    assert os.listdir(outside) == [] and (repo / "a.txt").read_text() == "a\n"
    assert os.listdir(repo / "src.real") == ["app.py"]
