"""Nothing outside the workspace is readable through its git directory (issue 45): a `.git` folder
whose commondir, alternates or a symlink anywhere in it leads to another repository (another project
of the user's, or the agent's own checkpoint store of one) is refused by the door (gitcmd and
gitdir.py) with a one-line reason, and nothing of that repository appears in any output. A linked
worktree made by `git worktree add` still works. Run as root and as an unprivileged user
(tests/safety/test_unprivileged.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import git, make_repo, run_cli
from git_escapes import (
    ATTACKS,
    SECRET,
    SECRET_NAME,
    leaked,
    make_secret,
    secret_repo,
    via_commondir,
    via_core_worktree,
    workspace,
)

from agent_runtime import gitcmd
from agent_runtime.safety.policy import Policy

REFUSED = "git is not used here"
# The cases where plain git prints the other repository's secret: what the door is for.
LIVE = ("commondir", "objects", "alternates", "relative-alternates", "gitdir-file", "fake-linked-worktree",
        "index", "loose-object", "two-line-commondir", "alternates-ending-in-cr", "symlink-to-a-gitfile")


def plain_git(ws: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ws, capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "GIT_CONFIG_NOSYSTEM": "1"})
    return done.stdout + done.stderr


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_git_directory_leading_to_another_repository_is_refused(attack, tmp_path, tools_for):
    secret, ws = secret_repo(tmp_path), workspace(tmp_path)
    ATTACKS[attack](ws, secret)
    if attack in LIVE:
        shown = plain_git(ws, "log", "-p", "--stat") + plain_git(ws, "diff", "--staged") + plain_git(ws, "status")
        assert leaked(shown), f"the attack is real for plain git: {shown}"
    _, tools = tools_for(ws, "never")
    outputs = [str(dict(tools[name](**args))) for name, args in
               (("git_log", {}), ("git_diff", {"staged": True}), ("git_diff", {}), ("git_status", {}),
                ("repo_info", {}))]
    assert [leaked(text) for text in outputs] == [[]] * len(outputs), outputs
    for text in outputs[:4]:
        assert REFUSED in text, text
    with pytest.raises(gitcmd.ForeignRepository, match=REFUSED):
        gitcmd.safe_git(ws)
    with pytest.raises(gitcmd.ForeignRepository):  # the eval's calls too
        gitcmd.run_git(["log", "-p"], ws)
    for command in ("git log -p", "git diff --staged", "git show HEAD"):
        assert Policy.load().check_command(command, ws).decision == "ask", command


@pytest.mark.parametrize("tool, args", [("git_log", "{}"), ("git_diff", '{"staged": true}')])
def test_the_issues_reproduction_through_the_cli(tool, args, tmp_path):
    """mkdir ws && git init && echo /elsewhere/.git > .git/commondir; agent-runtime tool git_log '{}'"""
    secret, ws = secret_repo(tmp_path), workspace(tmp_path)
    via_commondir(ws, secret)
    done = run_cli("--approval", "never", "tool", tool, args, cwd=ws)
    assert leaked(done.stdout + done.stderr) == []
    assert done.returncode != 0
    assert f"{ws}/.git/commondir leads to {secret}/.git, outside the workspace" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_commondir_into_another_projects_checkpoint_store_is_refused(tmp_path, tools_for, isolated_state):
    """The agent's own copy of another project (its checkpoint store), even with its path known."""
    from agent_runtime.config import state_home
    from agent_runtime.patches.checkpoint import Store
    from agent_runtime.patches.storekey import checkpoint_dir

    other = make_secret(tmp_path / "other")
    store = Store(checkpoint_dir(state_home(), other), other)
    store.snapshot()
    ws = workspace(tmp_path)
    (ws / ".git" / "commondir").write_text(f"{store.git_dir}\n")
    (ws / ".git" / "HEAD").write_text("ref: refs/heads/checkpoints\n")
    assert SECRET_NAME in plain_git(ws, "log", "--stat"), "the attack is real for plain git"
    _, tools = tools_for(ws, "never")
    outputs = [str(dict(tools[name](**args))) for name, args in
               (("git_log", {}), ("git_diff", {"staged": True}), ("git_status", {}))]
    assert [leaked(text) for text in outputs] == [[]] * 3, outputs
    assert all("in the agent's own state" in text and REFUSED in text for text in outputs), outputs
    # a symlinked objects folder into the state home: the same
    ws2 = tmp_path / "ws2"
    ws2.mkdir()
    git(ws2, "init", "-q")
    subprocess.run(["rm", "-rf", str(ws2 / ".git" / "objects")], check=True)
    (ws2 / ".git" / "objects").symlink_to(store.git_dir / "objects")
    found = gitcmd.git_dir_escape(ws2)
    assert found is not None and found.own and found.entry == ws2 / ".git" / "objects"


def test_a_linked_worktree_made_by_git_worktree_add_still_works(tmp_path, tools_for):
    main = make_repo(tmp_path / "main", {"a.txt": "a\n"})
    git(main, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "feature")
    git(main, "worktree", "add", "-q", str(tmp_path / "gone"), "-b", "gone")
    subprocess.run(["rm", "-rf", str(tmp_path / "gone")], check=True)  # a stale worktree: git prunes it later
    (tmp_path / "wt" / "a.txt").write_text("a changed in the worktree\n")
    (main / "a.txt").write_text("a changed in main\n")
    for where, text in ((tmp_path / "wt", "a changed in the worktree"), (main, "a changed in main")):
        assert gitcmd.git_dir_escape(where) is None, where
        _, tools = tools_for(where, "never")
        assert text in tools["git_diff"]()["diff"]
        assert tools["git_log"]()["commits"], where
        assert Policy.load().check_command("git log -p", where).decision == "allow", where


def test_hooks_that_never_run_may_live_anywhere(tmp_path):
    """The door never runs a hook (core.hooksPath=/dev/null): a hooks folder linked to the user's
    dotfiles is no reason to refuse the repository."""
    repo = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    elsewhere = tmp_path / "dotfiles-hooks"
    elsewhere.mkdir()
    subprocess.run(["rm", "-rf", str(repo / ".git" / "hooks")], check=True)
    (repo / ".git" / "hooks").symlink_to(elsewhere)
    assert gitcmd.git_dir_escape(repo) is None
    assert gitcmd.safe_git(repo).head()


def test_no_git_directory_comes_from_the_agents_environment(monkeypatch, tmp_path):
    """What names a git directory in the environment is never inherited: only the door's own GIT_*."""
    secret = secret_repo(tmp_path)
    ws = make_repo(tmp_path / "ws", {"a.txt": "a\n"})
    for name in ("GIT_DIR", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                 "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES"):
        monkeypatch.setenv(name, str(secret / ".git"))
    env = gitcmd.git_environment()
    assert set(env) - {"PATH", "HOME", "LANG", "LC_ALL"} == set(gitcmd._DOOR_ENV) | {"GIT_LITERAL_PATHSPECS"}
    assert leaked(gitcmd.safe_git(ws).run("log", "-p", "--all")) == []


@pytest.mark.parametrize("command", ["git diff", "git status -vv", "git blame {name}", "git annotate {name}",
                                     "git status", "git grep TOPSECRET"])
def test_any_git_command_asks_where_core_worktree_leads_out(command, tmp_path):
    secret, ws = secret_repo(tmp_path), workspace(tmp_path)
    via_core_worktree(ws, secret)
    command = command.format(name=SECRET_NAME)
    assert SECRET in plain_git(ws, *command.split()[1:]) or "status" in command or "grep" in command
    decision = Policy.load().check_command(command, ws)
    assert decision.decision == "ask", decision.as_dict()



def test_a_core_worktree_in_config_worktree_asks_too(tmp_path, tools_for):
    secret, ws = secret_repo(tmp_path), workspace(tmp_path)
    via_core_worktree(ws, secret)
    git(ws, "config", "--unset", "core.worktree")
    git(ws, "config", "core.repositoryformatversion", "1")
    git(ws, "config", "extensions.worktreeConfig", "true")
    git(ws, "config", "--worktree", "core.worktree", str(secret))
    assert SECRET in plain_git(ws, "diff")
    assert Policy.load().check_command("git diff", ws).decision == "ask"
    _, tools = tools_for(ws, "never")  # the door pins GIT_WORK_TREE: its tools show the workspace's files
    outputs = [str(dict(tools[name](**args))) for name, args in (("git_diff", {}), ("git_status", {}))]
    assert not any(SECRET in text for text in outputs), outputs  # (the file's name is the workspace's own)

def planted_submodule(ws: Path, secret: Path) -> None:
    """A commit of the workspace names the other repository's commit as a submodule at `sub`, and a
    `sub/.git` file names that repository: git shows its files as the submodule's diff (attack review)."""
    commit = git(secret, "rev-parse", "HEAD").strip()
    git(ws, "update-index", "--add", "--cacheinfo", f"160000,{commit},sub")
    git(ws, "commit", "-q", "-m", "vendor")
    (ws / "sub").mkdir()
    (ws / "sub" / ".git").write_text(f"gitdir: {secret / '.git'}\n")


@pytest.mark.parametrize("command", ["git log -p --submodule=diff", "git show --submodule=diff",
                                     "git diff --submodule=diff HEAD~1", "git log -p", "git status"])
def test_a_nested_git_file_leading_to_another_repository_asks(command, tmp_path):
    secret, ws = secret_repo(tmp_path), workspace(tmp_path)
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "first")
    planted_submodule(ws, secret)
    git(ws, "config", "diff.submodule", "diff")  # then a plain `git log -p` shows it too
    assert SECRET in plain_git(ws, "log", "-p")
    decision = Policy.load().check_command(command, ws)
    assert decision.decision == "ask" and decision.rule == "git-history", decision.as_dict()


def test_a_submodules_git_directory_borrowing_objects_from_outside_asks(tmp_path):
    secret, ws = secret_repo(tmp_path), workspace(tmp_path)
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "first")
    planted_submodule(ws, secret)
    module = ws / ".git" / "modules" / "sub"
    module.mkdir(parents=True)
    git(module, "init", "-q", "--bare")
    (module / "objects" / "info" / "alternates").write_text(f"{secret / '.git' / 'objects'}\n")
    git(module, "config", "core.worktree", "../../../sub")
    (ws / "sub" / ".git").write_text("gitdir: ../.git/modules/sub\n")
    assert SECRET in plain_git(ws, "log", "-p", "--submodule=diff")
    assert Policy.load().check_command("git log -p --submodule=diff", ws).decision == "ask"


def test_a_real_submodule_and_a_nested_repository_are_still_read_freely(tmp_path):
    lib = make_secret(tmp_path / "lib")
    ws = workspace(tmp_path)
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "first")
    git(ws, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    git(ws, "commit", "-q", "-m", "lib")
    (ws / "vendor").mkdir()
    git(ws / "vendor", "init", "-q")  # a nested repository of its own, inside the workspace
    for command in ("git log -p", "git status", "git diff --submodule=diff HEAD~1"):
        assert Policy.load().check_command(command, ws).decision == "allow", command


def test_a_large_work_tree_is_walked_only_for_commands_that_open_submodules(tmp_path, monkeypatch):
    """The walk for nested .git entries runs only when git would open a submodule's repository (a
    --submodule option, diff.submodule, ...): a work tree too large to walk (a .venv, node_modules) does
    not make every history read ask."""
    from agent_runtime import gitdir

    ws = workspace(tmp_path)
    for n in range(8):
        (ws / f"f{n}.txt").write_text("x\n")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "files")
    monkeypatch.setattr(gitdir, "MAX_NESTED_WALK", 5)
    policy = Policy.load()
    assert policy.check_command("git log -p", ws).decision == "allow"
    assert policy.check_command("git log -p --submodule=diff", ws).decision == "ask"
    git(ws, "config", "diff.submodule", "diff")
    assert policy.check_command("git log -p", ws).decision == "ask"


@pytest.mark.parametrize("where", ["commondir", ".git file"])
def test_a_fifo_where_the_policy_reads_the_git_directory_never_blocks_it(where, tmp_path):
    """Judging `git log -p` looks for the repository and its history on the host: a FIFO as `commondir`
    or as `.git` (a shipped archive can hold one) is never opened blocking. The door's check refuses the
    first before the history's cache key would read it (policy/history.py); the second is no repository."""
    from deadline import deadline

    ws = make_repo(tmp_path / "ws", {"a.txt": "a\n"})
    if where == "commondir":
        os.mkfifo(ws / ".git" / "commondir")
    else:
        real = tmp_path / "real.git"
        (ws / ".git").rename(real)
        os.mkfifo(ws / ".git")
    with deadline(10, f"judging git log -p with a FIFO as {where}"):
        decision = Policy.load().check_command("git log -p", ws)
    if where == "commondir":
        assert decision.decision == "ask" and "commondir" in decision.reason, decision
    else:
        assert decision.decision == "allow", decision  # no repository here: nothing in a history to print
