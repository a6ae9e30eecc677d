"""Nothing a sandboxed command creates is trusted later: git's configuration planted at any depth.

A command the policy lets run without asking (a conftest.py under run_tests, a script of the
workspace) must not leave a repository for the host's git to find: `vendor/lib/.git` with a
config whose core.fsmonitor runs when the user (or the agent) runs `git status` there. These
tests plant it every way we could think of and then look from the host.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import VENV_BIN, git, make_repo

from agent_runtime.safety import planted
from agent_runtime.safety.sandbox import Sandbox


def hostile_config(marker: Path) -> str:
    """A repository config that runs a program of the attacker's wherever git reads it."""
    command = f"sh -c 'id >> {marker}' --"
    return (f"[core]\n\trepositoryformatversion = 0\n\tfsmonitor = {command}\n\tsshCommand = {command}\n"
            f"\thooksPath = /nonexistent\n[alias]\n\tst = !id >> {marker}\n")


def plant_script(where: str, marker: Path) -> str:
    """Python that makes `where` a repository git on the host would use (HEAD, objects, refs, config)."""
    return (f"import os\nroot = {where!r}\n"
            "for d in ('objects', 'refs/heads'):\n"
            "    os.makedirs(os.path.join(root, d), exist_ok=True)\n"
            "open(os.path.join(root, 'HEAD'), 'w').write('ref: refs/heads/main\\n')\n"
            f"open(os.path.join(root, 'config'), 'w').write({hostile_config(marker)!r})\n")


def host_git_finds_no_repository_at(path: Path, workspace: Path, marker: Path) -> None:
    """What the user does later, on the host, with plain git: nothing of the attacker's runs, and
    the repository git finds there is the workspace's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for args in (["status", "--porcelain"], ["log", "-1", "--oneline"], ["fetch", "-q"], ["rev-parse", "--show-toplevel"]):
        done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, env=env, timeout=30)
        if args[0] == "rev-parse":
            assert done.stdout.strip() == str(workspace), done.stdout + done.stderr
    assert not marker.exists(), marker.read_text()


@pytest.fixture
def workspace(tmp_path) -> Path:
    return make_repo(tmp_path / "ws", {"app.py": "x = 1\n", "vendor/lib/lib.py": "y = 1\n"})


@pytest.fixture
def sandbox(workspace) -> Sandbox:
    box = Sandbox(workspace)
    assert box.kind == "bwrap", "bubblewrap must work on this machine (make installs it)"
    return box


def planted_names(root: Path) -> list[str]:
    """Every entry named like git's configuration below the top level, seen from the host."""
    found = subprocess.run(["find", ".", "-mindepth", "2", "(", "-iname", ".git", "-o", "-iname", ".gitmodules", "-o",
                            "-iname", ".gitattributes", ")", "-print0"], cwd=root, capture_output=True).stdout
    return sorted(os.fsdecode(p) for p in found.split(b"\0") if p and not p.startswith(b"./.git/"))


def test_the_issues_chain_a_conftest_run_by_run_tests_plants_no_repository(tmp_path, tools_for):
    """The reproduction: run_tests (allowed without asking) runs the repository's conftest.py in the
    sandbox; it creates vendor/lib/.git with a hostile config. Afterwards the host finds no
    repository there, git run there runs nothing of it, and the model is told what was removed."""
    marker = tmp_path / "MARKER"
    repo = make_repo(tmp_path / "project", {
        "conftest.py": plant_script("vendor/lib/.git", marker),
        "test_ok.py": "def test_ok():\n    assert True\n",
        "vendor/lib/lib.py": "y = 1\n",
    })
    _, tools = tools_for(repo, "never")  # nobody to ask: it runs only because the sandbox contains it
    result = tools["run_tests"](command=f"{shlex.quote(str(VENV_BIN / 'python'))} -m pytest -q -p no:cacheprovider")
    assert result.get("passed") is True, result
    assert not os.path.lexists(repo / "vendor" / "lib" / ".git")
    assert "removed vendor/lib/.git" in result["output"], result["output"]
    host_git_finds_no_repository_at(repo / "vendor" / "lib", repo, marker)
    assert (repo / "vendor" / "lib" / "lib.py").read_text() == "y = 1\n", "the rest is left as it was"


def test_run_cmd_a_workspace_script_planting_deep_is_undone_and_said(tmp_path, tools_for):
    marker = tmp_path / "MARKER"
    repo = make_repo(tmp_path / "project", {"plant.py": plant_script("a/b/c/d/e/.git", marker) + (
        "open('a/b/.gitmodules', 'w').write('[submodule \"x\"]\\n\\tpath = x\\n\\turl = ext::sh -c id\\n')\n"
        "open('a/.gitattributes', 'w').write('* filter=evil diff=evil\\n')\n")})
    _, tools = tools_for(repo, "never")
    result = tools["run_cmd"](command="python3 plant.py")
    assert result["exit_code"] == 0, result
    assert planted_names(repo) == [], planted_names(repo)
    for name in ("a/.gitattributes", "a/b/.gitmodules", "a/b/c/d/e/.git"):
        assert name in result["stderr"], result["stderr"]
    host_git_finds_no_repository_at(repo / "a" / "b" / "c" / "d" / "e", repo, marker)


def test_every_way_of_planting_is_undone(sandbox, workspace, tmp_path):
    """A .git folder, a .git file (gitdir:), a .git symlink, other cases of the name, a folder
    renamed into place, names with a newline and bytes that are not UTF-8, a folder made unreadable."""
    marker = tmp_path / "MARKER"
    (workspace / "plant.py").write_text(plant_script("/tmp/staged/.git", marker) + plant_script("real", marker))
    attack = r"""
python3 plant.py
mv /tmp/staged staged; mkdir -p vendor/x && mv staged vendor/x/moved     # from the private /tmp, renamed
mkdir -p d1 d2 d3 d4 && printf 'gitdir: ../real\n' > d1/.git && ln -s ../real d2/.git
mkdir -p d3/.GIT d4/.Git && cp -r real/. d3/.GIT/
mkdir -p "$(printf 'odd\nname')/.gitattributes" "$(printf 'bad\377byte')"/.gitmodules
mkdir -p locked/inner/.git && chmod 000 locked
mkdir -p a/b && cp -r real a/b/.git && mv a renamed-a
echo done
"""
    result = sandbox.run(attack, timeout=60)
    assert result.stdout.strip().endswith("done"), result.stdout + result.stderr
    assert planted_names(workspace) == []
    for shown in ("vendor/x/moved/.git", "d1/.git", "d2/.git", "d3/.GIT", "d4/.Git", "renamed-a/b/.git",
                  "odd^Jname/.gitattributes", "bad<U+DCFF>byte/.gitmodules", "locked/inner/.git", "real"):
        assert shown in result.stderr, (shown, result.stderr)
    assert "\nname/.gitattributes" not in result.stderr, "a newline in a name never starts a line of its own"
    for where in ("d1", "d2", "d3", "renamed-a/b", "vendor/x/moved"):
        host_git_finds_no_repository_at(workspace / where, workspace, marker)
    assert not (workspace / "real").exists(), "a new folder git takes for a bare repository goes too"


def test_what_is_taken_out_is_kept_in_the_agents_state_not_lost(sandbox, workspace, isolated_state):
    """A repository cloned into the workspace by the user while a command ran looks like a planted
    one: it leaves the workspace, but into a private folder of the agent's state (hidden from the
    sandbox like the rest of it), not into nothing."""
    result = sandbox.run("mkdir -p sub/.git && echo work > sub/.git/precious && echo x > sub/kept.txt", timeout=30)
    assert "removed sub/.git" in result.stderr and not os.path.lexists(workspace / "sub" / ".git")
    kept = list((isolated_state / "agent-runtime" / "removed").glob("*/1-.git/precious"))
    assert len(kept) == 1 and kept[0].read_text() == "work\n"
    assert oct(kept[0].parent.parent.stat().st_mode & 0o777) == "0o700"
    assert (workspace / "sub" / "kept.txt").read_text() == "x\n"


def test_the_users_nested_repository_moved_by_a_command_is_kept(sandbox, workspace):
    """Identity, not path: a nested repository that existed at the start and that a command moved
    (renaming a folder above it) is the user's, and is not deleted as if it were new."""
    nested = make_repo(workspace / "vendor" / "lib", {"lib.py": "y = 1\n"})
    (workspace / "vendor" / "lib" / ".gitattributes").write_text("*.py text\n")
    head = git(nested, "rev-parse", "HEAD")
    result = sandbox.run("mv vendor third_party && ls third_party/lib/.git >/dev/null && echo moved", timeout=30)
    assert result.stdout == "moved\n", result.stderr
    assert "removed" not in result.stderr
    assert git(workspace / "third_party" / "lib", "rev-parse", "HEAD") == head
    assert (workspace / "third_party" / "lib" / ".gitattributes").read_text() == "*.py text\n"


def test_what_an_existing_git_pointer_leads_to_cannot_be_made_a_repository(sandbox, workspace, tmp_path):
    """A .git symlink or gitdir: file of the workspace pointing at a folder that does not exist yet:
    the pointer is read-only, but the command creates its target. The target goes; when the target
    exists at the start it is read-only."""
    marker = tmp_path / "MARKER"
    for name in ("p1", "p2", "p3"):
        (workspace / name).mkdir()
    (workspace / "p1" / ".git").symlink_to("../gone1")
    (workspace / "p2" / ".git").write_text("gitdir: ../gone2\n")
    (workspace / "p3" / ".git").write_text("gitdir: ../kept3\n")
    (workspace / "kept3").mkdir()
    (workspace / "kept3" / "config").write_text("[core]\n")
    (workspace / "plant.py").write_text(plant_script("gone1", marker) + plant_script("gone2", marker)
                                        + plant_script("kept3", marker))
    result = sandbox.run("python3 plant.py; echo done", timeout=30)
    assert "done" in result.stdout
    assert not (workspace / "gone1").exists() and not (workspace / "gone2").exists()
    assert "gone1" in result.stderr and "gone2" in result.stderr
    assert (workspace / "kept3" / "config").read_text() == "[core]\n", "an existing target is read-only"
    assert "Read-only file system" in result.stderr
    for where in ("p1", "p2", "p3"):
        subprocess.run(["git", "-C", str(workspace / where), "status"], capture_output=True, timeout=30)
    assert not marker.exists()


def test_a_path_longer_than_path_max_is_walked_and_cleaned(sandbox, workspace):
    result = sandbox.run("for i in $(seq 500); do mkdir dddddddddd && cd dddddddddd || exit 1; done; "
                         "mkdir .git && echo '[core]' > .git/config && pwd | wc -c", timeout=120)
    try:
        assert int(result.stdout.split()[-1]) > 4096, result.stdout + result.stderr
        assert "dddddddddd/.git" in result.stderr, result.stderr[-500:]
        tail = subprocess.run("cd dddddddddd && for i in $(seq 499); do cd dddddddddd; done; ls -A",
                              shell=True, executable="/bin/bash", cwd=workspace, capture_output=True, text=True)
        assert tail.returncode == 0 and tail.stdout == "", tail.stdout + tail.stderr
    finally:
        subprocess.run(["rm", "-rf", str(workspace / "dddddddddd")])


def test_a_background_process_cannot_plant_after_the_check(sandbox, workspace):
    """The check runs after the command, and nothing of the command is left to race it: its PID
    namespace ends with it (background jobs, setsid, a double fork)."""
    result = sandbox.run("(sleep 1; mkdir -p late1/.git) & setsid sh -c 'sleep 1; mkdir -p late2/.git' & "
                         "sh -c '(sleep 1; mkdir -p late3/.git) &' ; nohup sh -c 'sleep 1; mkdir -p late4/.git' "
                         ">/dev/null 2>&1 & echo started", timeout=30)
    assert result.stdout == "started\n" and result.duration_s < 1
    time.sleep(2.5)
    assert planted_names(workspace) == [] and not any(workspace.glob("late*"))


def test_the_walk_after_reads_only_the_folders_that_changed(workspace, monkeypatch):
    """Cost: a folder whose inode and ctime did not change holds the same names, so the walk
    after a command reads again only what changed, and still finds what is new deep inside."""
    for i in range(30):
        (workspace / f"pkg{i}" / "sub").mkdir(parents=True)
        (workspace / f"pkg{i}" / "sub" / "m.py").write_text("")
    time.sleep(planted.RECENT_NS / 1e9 + 0.1)  # folders changed just before the walk are read again anyway
    before = planted.walk(str(workspace))
    (workspace / "pkg7" / "sub" / "deep").mkdir()
    (workspace / "pkg7" / "sub" / "deep" / ".git").mkdir()
    reads: list[str] = []
    real = planted._read_dir
    monkeypatch.setattr(planted, "_read_dir",
                        lambda fd, ident: reads.append(os.readlink(f"/proc/self/fd/{fd}")) or real(fd, ident))
    assert planted.planted(str(workspace), before, {}) == ["pkg7/sub/deep/.git"]
    assert sorted(reads) == [str(workspace / "pkg7" / "sub"), str(workspace / "pkg7" / "sub" / "deep")], \
        "pkg7/sub (changed) and pkg7/sub/deep (new); not the 60 others"
    (workspace / "pkg3" / "sub" / "n.py").write_text("")
    before = planted.walk(str(workspace))
    reads.clear()
    planted.walk(str(workspace), before)
    assert str(workspace / "pkg3" / "sub") in reads and str(workspace / "pkg4" / "sub") not in reads, \
        "a folder changed just before the walk (a coarse clock could hide a later change) is read again"


def test_without_bubblewrap_nothing_is_walked_or_removed(workspace):
    """Without the sandbox every command that writes is asked first; nothing is removed behind the user."""
    box = Sandbox(workspace, use_bwrap=False)
    result = box.run("mkdir -p sub/.git", timeout=30)
    assert result.sandbox == "none" and (workspace / "sub" / ".git").is_dir() and "removed" not in result.stderr


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
