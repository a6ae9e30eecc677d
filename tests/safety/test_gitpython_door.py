"""GitPython only through the door (issue 42): the Repo the agent gets (gitrepo.DoorRepo) is made only
after the door's checks, from the git directory as the door resolved it, and reads nothing of the git
directory in Python, so a crafted `.git` cannot lead it into another repository. Each attack is shown
live against plain GitPython first (what the door is for). Run as root and as an unprivileged user
(tests/safety/test_unprivileged.py)."""

from __future__ import annotations

from pathlib import Path

import git_escapes as escapes
import pytest
from conftest import git, make_repo
from git_escapes import ATTACKS, SECRET_MESSAGE, leaked, make_secret, secret_repo, workspace

from agent_runtime.gitcmd import ForeignRepository, SafeGit
from agent_runtime.gitrepo import PYTHON_SIDE, DoorRepo, NotThroughTheDoor, door_repo
from agent_runtime.gitrepo import git as gitpython

SECRET_BRANCH = "secret-branch-5e1d"
# What plain GitPython hands over from the other repository, read in Python (refs) or asked of git in a
# git directory it found itself. Not HEAD: GitPython 3.2 itself refuses a reference file that resolves
# outside the git directory (SymbolicReference._get_validated_path), but not a listing of refs/.
NAIVE_READS = {
    "commondir": lambda repo: repo.head.commit.message,
    "gitdir-file": lambda repo: repo.head.commit.message,
    "objects": lambda repo: repo.head.commit.message,
    "refs": lambda repo: " ".join(ref.name for ref in repo.refs),
}


def via_head_through_refs(ws: Path, secret: Path) -> None:
    """HEAD a symlink whose text starts with `refs/`, which GitPython's is_git_dir takes for a symbolic
    ref (an absolute one it refuses), while the kernel follows it out of the workspace."""
    (ws / ".git" / "HEAD").unlink()
    (ws / ".git" / "HEAD").symlink_to(f"refs/../../../{secret.name}/.git/HEAD")


ATTACKS = {**ATTACKS, "HEAD": via_head_through_refs}


@pytest.fixture
def plain_gitpython(monkeypatch):
    """GitPython as anyone would use it (the door's import leaves it no git program: given one here)."""
    monkeypatch.setattr(gitpython.Git, "GIT_PYTHON_GIT_EXECUTABLE", "git")
    return gitpython


def other_repository(tmp_path: Path) -> Path:
    secret = secret_repo(tmp_path)
    git(secret, "checkout", "-q", "-b", SECRET_BRANCH)
    return secret


@pytest.mark.parametrize("attack", list(NAIVE_READS))
def test_plain_gitpython_is_led_into_the_other_repository(attack, tmp_path, plain_gitpython):
    """Without the door, each crafted `.git` hands GitPython the other repository's commit or names."""
    secret, ws = other_repository(tmp_path), workspace(tmp_path)
    ATTACKS[attack](ws, secret)
    shown = NAIVE_READS[attack](plain_gitpython.Repo(ws))
    assert SECRET_MESSAGE in shown or SECRET_BRANCH in shown, shown


@pytest.mark.parametrize("attack", list(ATTACKS) + ["HEAD-absolute"])
def test_the_door_hands_out_no_repo_over_a_git_directory_leading_out(attack, tmp_path):
    secret, ws = other_repository(tmp_path), workspace(tmp_path)
    (ATTACKS[attack] if attack != "HEAD-absolute" else escapes.via_head)(ws, secret)
    with pytest.raises(ForeignRepository, match="git is not used here"):
        door_repo(ws)
    with pytest.raises(ForeignRepository):  # a SafeGit nobody checked yet: the Repo runs the door's checks first
        DoorRepo(SafeGit(ws))


def test_a_gitdir_path_gitpython_would_read_lexically_names_the_doors_directory(tmp_path, plain_gitpython):
    """`gitdir: d/../../outside/.git` with `d` a symlink to `a/b`: git and the door resolve the symlink
    (ws/outside/.git, inside, a repository of the workspace's), GitPython's own discovery joins the path
    lexically (normpath) and finds tmp/outside/.git, another repository. The door's checks pass, so only
    a Repo made from the door's reading of the git directory stays in the workspace."""
    secret = make_secret(tmp_path / "outside")
    git(secret, "checkout", "-q", "-b", SECRET_BRANCH)
    ws = tmp_path / "ws"
    make_repo(ws / "outside", {"decoy.txt": "decoy\n"})
    (ws / "a" / "b").mkdir(parents=True)
    (ws / "d").symlink_to(ws / "a" / "b")
    (ws / ".git").write_text("gitdir: d/../../outside/.git\n")
    naive = plain_gitpython.Repo(ws)
    assert Path(naive.git_dir) == secret / ".git" and naive.active_branch.name == SECRET_BRANCH  # live
    repo = door_repo(ws)
    assert Path(repo.git_dir) == ws / "outside" / ".git"
    messages = repo.git.log("--format=%B")
    assert messages.strip() == "initial" and leaked(messages) == []


def test_the_doors_repo_reads_nothing_of_the_git_directory_in_python(tmp_path):
    """References, configuration, index: GitPython reads them from the files, following any symlink
    planted after the door's check; the door's Repo refuses them, and answers through git."""
    secret, ws = other_repository(tmp_path), make_repo(tmp_path / "ws", {"a.txt": "a\n"})
    repo = door_repo(ws)
    ATTACKS["refs"](ws, secret)  # planted after the check: only a Python-side read would follow it now
    readers = {"head", "heads", "refs", "tags", "active_branch", "index", "config_reader", "rev_parse", "commit",
               "tree", "submodules", "is_dirty", "alternates", "description"}  # each reads .git in Python
    for name in sorted(PYTHON_SIDE | readers):
        with pytest.raises(NotThroughTheDoor, match=f"Repo.{name} "):
            getattr(repo, name)
    with pytest.raises(NotThroughTheDoor):  # a Repo made by GitPython itself never gets the door's git
        DoorRepo.init(tmp_path / "new")
    assert not (tmp_path / "new").exists()
