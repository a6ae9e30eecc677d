"""A sandboxed command cannot plant code for the user's own git: every git directory, common directory
and hooks folder git would use is read-only in the sandbox, whether or not it exists yet.

The reproductions: with `.git` a `gitdir: gd` file, a script the policy lets run (`run-script`,
approved) wrote `gd/hooks/pre-commit` and `core.fsmonitor` into `gd/config`; with core.hooksPath =
.githooks (in the repository's configuration or the user's global one) and no such folder yet, it
made `.githooks/pre-commit`. The user's next `git commit` ran them. Here each is tried through
run_cmd, then the user's own plain git runs on the host, and nothing of the script's may run.
Run as root and as an unprivileged user (tests/safety/test_unprivileged.py).
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import git


def _script(ws: Path, name: str, body: str) -> None:
    path = ws / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _hook(marker: Path) -> str:
    return f"#!/bin/sh\\nhostname >> {marker}\\n"


def _users_git(ws: Path, marker: Path, home: Path | None = None) -> None:
    """The user's own git on the host afterwards: a status and a commit (hooks run), then no marker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com")
    if home is not None:
        env["HOME"] = str(home)
    for args in (["status", "--porcelain"], ["commit", "-q", "--allow-empty", "-m", "by the user"]):
        subprocess.run(["git", *args], cwd=ws, env=env, capture_output=True, timeout=60)
    assert not marker.exists(), f"a planted program ran with the user's git: {marker.read_text()}"


@pytest.fixture
def gitdir_workspace(tmp_path) -> Path:
    """A work tree whose `.git` is `gitdir: gd` (a folder inside the work tree)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    (ws / "app.py").write_text("x = 1\n")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "first")
    os.rename(ws / ".git", ws / "gd")
    (ws / ".git").write_text("gitdir: gd\n")
    return ws


def test_a_script_cannot_write_the_hooks_or_config_of_a_gitdir_folder(tmp_path, gitdir_workspace, tools_for):
    ws, marker = gitdir_workspace, tmp_path / "MARKER"
    gd = ws / "gd"
    config = (gd / "config").read_text()
    (gd / "hooks").mkdir(exist_ok=True)
    _script(ws, "plant.sh", f"mkdir -p gd/hooks; printf '{_hook(marker)}' > gd/hooks/pre-commit\n"
                            "chmod +x gd/hooks/pre-commit\n"
                            f"printf '[core]\\n\\tfsmonitor = hostname >> {marker}\\n' >> gd/config\n"
                            f"printf '[alias]\\n\\tst = !hostname >> {marker}\\n' >> gd/config\n"
                            "mv gd gd-aside && mkdir -p gd/hooks && echo moved > gd/hooks/pre-commit\n"
                            "echo done\n")
    _, tools = tools_for(ws, "auto")
    ran = tools["run_cmd"](command="./plant.sh")
    assert ran.get("sandbox") == "bwrap" and "done" in ran.get("stdout", ""), ran
    assert not (gd / "hooks" / "pre-commit").exists()
    assert (gd / "config").read_text() == config
    assert not (ws / "gd-aside").exists()
    _users_git(ws, marker)


@pytest.mark.parametrize("where", ["local", "global"])
@pytest.mark.parametrize("hooks", [".githooks", "tools/git-hooks"])
def test_a_hooks_path_that_does_not_exist_yet_cannot_be_created(tmp_path, tools_for, monkeypatch, where, hooks):
    """core.hooksPath names a folder not made yet: the sandbox cannot make it (nor move the folder above it
    aside to make a fresh one), and nothing of the placeholder that stood there is left afterwards."""
    ws, marker = tmp_path / "ws", tmp_path / "MARKER"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    (ws / "tools").mkdir()
    (ws / "tools" / "build.py").write_text("print(1)\n")
    (ws / "app.py").write_text("x = 1\n")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "first")
    home = None
    if where == "local":
        git(ws, "config", "core.hooksPath", hooks)
    else:
        home = tmp_path / "home"
        home.mkdir()
        (home / ".gitconfig").write_text(f"[core]\n\thooksPath = {hooks}\n")
        monkeypatch.setenv("HOME", str(home))
    top = hooks.split("/")[0]
    _script(ws, "plant.sh", f"mkdir -p {hooks}; printf '{_hook(marker)}' > {hooks}/pre-commit\n"
                            f"chmod +x {hooks}/pre-commit\n"
                            f"mv {top} moved-aside; mkdir -p {hooks}; printf '{_hook(marker)}' > {hooks}/pre-commit\n"
                            f"chmod +x {hooks}/pre-commit\necho done\n")
    _, tools = tools_for(ws, "auto")
    ran = tools["run_cmd"](command="./plant.sh")
    assert ran.get("sandbox") == "bwrap" and "done" in ran.get("stdout", ""), ran
    assert not (ws / hooks / "pre-commit").exists()
    assert not (ws / "moved-aside").exists()
    if top == ".githooks":
        assert not (ws / ".githooks").exists()  # the placeholder is gone, nothing left in the workspace
    else:
        assert sorted(os.listdir(ws / "tools")) == ["build.py"]
    _users_git(ws, marker, home)


def test_a_command_still_writes_the_workspace_beside_the_kept_folders(tmp_path, gitdir_workspace, tools_for):
    """What stays writable: the work tree's files, folders beside a kept one, the one above it."""
    ws = gitdir_workspace
    git(ws, "config", "--file", "gd/config", "core.hooksPath", "tools/git-hooks")
    (ws / "tools").mkdir()
    _, tools = tools_for(ws, "auto")
    _script(ws, "work.sh", "echo new > app.py && mkdir -p tools/other && echo x > tools/other/f && "
                           "echo y > tools/f && rm tools/f && echo done\n")
    ran = tools["run_cmd"](command="./work.sh")
    assert "done" in ran.get("stdout", ""), ran
    assert (ws / "app.py").read_text() == "new\n" and (ws / "tools" / "other" / "f").read_text() == "x\n"
    assert not (ws / "tools" / "git-hooks").exists()


@pytest.mark.parametrize("target", ["tools/hooks", "/nonexistent-hooks"])
def test_a_symlinked_hooks_path_replaced_by_a_folder_is_put_back(tmp_path, tools_for, target):
    """`.githooks -> tools/hooks` (or a link out of the workspace): the link itself cannot be bound
    read-only, so a command can replace it with a folder of hooks; afterwards the folder is taken out
    and the link is there again, and the user's git runs nothing of the command's."""
    ws, marker = tmp_path / "ws", tmp_path / "MARKER"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    (ws / "tools" / "hooks").mkdir(parents=True)
    (ws / "app.py").write_text("x = 1\n")
    (ws / ".githooks").symlink_to(target)
    git(ws, "add", "app.py")
    git(ws, "commit", "-q", "-m", "first")
    git(ws, "config", "core.hooksPath", ".githooks")
    _script(ws, "plant.sh", f"rm .githooks && mkdir .githooks && printf '{_hook(marker)}' > .githooks/pre-commit\n"
                            "chmod +x .githooks/pre-commit; echo done\n")
    _, tools = tools_for(ws, "auto")
    ran = tools["run_cmd"](command="./plant.sh")
    assert "done" in ran.get("stdout", ""), ran
    assert (ws / ".githooks").is_symlink() and os.readlink(ws / ".githooks") == target
    assert not (ws / "tools" / "hooks" / "pre-commit").exists()
    _users_git(ws, marker)


def test_a_nested_repositorys_hooks_folder_is_pinned_below_its_top_only(tmp_path, tools_for):
    """A nested repository (`vendor/lib`, core.hooksPath = tools/git-hooks): the folder between its top and
    its hooks folder cannot be moved aside for a fresh one, while the repository itself still moves whole
    (a user's `mv vendor third_party`), its kept folders and .git with it."""
    ws, marker = tmp_path / "ws", tmp_path / "MARKER"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    (ws / ".gitignore").write_text("vendor/\nthird_party/\n")
    lib = ws / "vendor" / "lib"
    lib.mkdir(parents=True)
    git(lib, "init", "-q", "-b", "main")
    (lib / "tools" / "git-hooks").mkdir(parents=True)
    (lib / "tools" / "git-hooks" / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (lib / "tools" / "git-hooks" / "pre-commit").chmod(0o755)
    git(lib, "config", "core.hooksPath", "tools/git-hooks")
    hooks = "vendor/lib/tools/git-hooks"
    _script(ws, "plant.sh", f"mv vendor/lib/tools vendor/lib/aside; mkdir -p {hooks}; "
                            f"printf '{_hook(marker)}' > {hooks}/pre-commit; chmod +x {hooks}/pre-commit\n"
                            f"printf '{_hook(marker)}' > vendor/lib/aside/git-hooks/pre-commit\n"
                            "mv vendor third_party && echo done\n")
    _, tools = tools_for(ws, "auto")
    ran = tools["run_cmd"](command="./plant.sh")
    assert ran.get("sandbox") == "bwrap" and "done" in ran.get("stdout", ""), ran
    moved = ws / "third_party" / "lib"
    assert not (moved / "aside").exists()
    assert (moved / "tools" / "git-hooks" / "pre-commit").read_text() == "#!/bin/sh\nexit 0\n"
    _users_git(moved, marker)


def test_a_global_config_linked_into_the_workspace_is_kept(tmp_path, tools_for, monkeypatch):
    """Dotfiles kept with stow: `~/.gitconfig -> ~/dotfiles/.gitconfig`, the dotfiles repository the
    workspace. The file git reads as the person's global configuration is kept read-only, through the link."""
    ws, marker, home = tmp_path / "ws", tmp_path / "MARKER", tmp_path / "home"
    ws.mkdir()
    home.mkdir()
    git(ws, "init", "-q", "-b", "main")
    (ws / ".gitconfig").write_text("[user]\n\tname = t\n")
    (home / ".gitconfig").symlink_to(ws / ".gitconfig")
    monkeypatch.setenv("HOME", str(home))
    _script(ws, "plant.sh", f"printf '[core]\\n\\tfsmonitor = \"hostname >> {marker}; false\"\\n' >> .gitconfig\n"
                            "echo done\n")
    _, tools = tools_for(ws, "auto")
    ran = tools["run_cmd"](command="./plant.sh")
    assert ran.get("sandbox") == "bwrap" and "done" in ran.get("stdout", ""), ran
    assert (ws / ".gitconfig").read_text() == "[user]\n\tname = t\n"
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    _users_git(other, marker, home)
