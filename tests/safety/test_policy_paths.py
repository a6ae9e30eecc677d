"""Paths as bash expands them before the policy judges them (issue 45): `~user`, `~+`, `~-`, $HOME,
variables it cannot know, globs. A read outside the workspace asks whether or not the path exists
today; run through run_cmd with `--approval never`, it is refused and prints nothing it would read.

The run_cmd reproduction plants a token in the home of a user created for it (as root, with
useradd): outside /tmp and /var/tmp, which the sandbox makes private, so a command that ran would
read it. As another user (test_unprivileged.py) the token goes under that user's own $HOME."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import make_repo, run_cli

from agent_runtime.safety.policy import Policy
from agent_runtime.safety.policy.tilde import UNKNOWN_DIRECTORY, expand_tilde

# A user every machine has, whose home is outside any workspace of the tests (and readable or not: the
# policy judges the path, not the file).
ROOT_HOME = pwd.getpwnam("root").pw_dir
NO_SUCH_USER = "agent-runtime-no-such-user"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


@pytest.fixture
def root(tmp_path) -> Path:
    return make_repo(tmp_path / "ws", {"app.py": "x = 1\n", "README.md": "hello\n"})


# --- the expansion itself ---


@pytest.mark.parametrize(("text", "expected"), [
    ("~", "$HOME"),
    ("~/.npmrc", "$HOME/.npmrc"),
    ("~root/.npmrc", f"{ROOT_HOME}/.npmrc"),
    ("~root", ROOT_HOME),
    ("~+/x", "/work/ws/x"),
    ("~0", "/work/ws"),
    ("~-/.profile", f"{UNKNOWN_DIRECTORY}/.profile"),  # OLDPWD: only known at run time
    ("~1/x", f"{UNKNOWN_DIRECTORY}/x"),  # the directory stack
    ("~-2", str(UNKNOWN_DIRECTORY)),
    (f"~{NO_SUCH_USER}/x", f"~{NO_SUCH_USER}/x"),  # bash leaves it: a relative path
    ("x/~root", "x/~root"), ("/a/~root", "/a/~root"),  # only a leading tilde is expanded
])
def test_a_tilde_prefix_expands_as_bash_expands_it(text, expected):
    assert expand_tilde(text, Path("/work/ws")) == expected.replace("$HOME", str(Path.home()))  # each test's own


# --- reads outside the workspace ask, however the path is written and whether or not it exists ---

OUTSIDE_READS = [
    "cat ~root/.npmrc",  # another user's home, as `cat ~ci/.npmrc` in the issue
    "cat ~root/agent-runtime-not-there/config.toml",  # a file that may appear later
    "cat ~-/.profile",  # the previous directory: only known at run time
    "cat ~+/../x",  # the workspace's parent
    "cat ~1/x",  # the directory stack
    "cat $HOME/.npmrc", "cat ${HOME}/x", "cat ~/agent-runtime-not-there",
    "cat $OLDPWD/.profile",
    "cat /home/*/.npmrc",  # a glob whose fixed part is outside
    "cat ~root/.n*",
    "cat /agent-runtime-not-there/token",  # missing, outside
    "cat ../agent-runtime-not-there",
    "head -n 1 ~root/.profile", "grep -r token ~root/.config", "sed -n 1p ~-/x",
    "cat < ~root/.npmrc", "cat < /agent-runtime-not-there",  # through a redirection
    "cd $SOMEWHERE && cat < .npmrc",  # relative to a directory only known at run time
]


@pytest.mark.parametrize("command", OUTSIDE_READS)
def test_a_read_outside_the_workspace_asks_however_it_is_written(policy, root, command):
    decision = policy.check_command(command, root)
    assert decision.decision == "ask", decision.as_dict()
    assert decision.rule in ("outside-workspace", "dynamic-directory"), decision.as_dict()


@pytest.mark.parametrize("command", ["cat $SOME_DIR/.npmrc", "cat ${XDG_CONFIG_HOME}/gh/hosts.yml", 'cat "$X"/y'])
def test_a_path_with_a_variable_the_policy_cannot_know_asks(policy, root, command):
    decision = policy.check_command(command, root)
    assert decision.decision == "ask" and decision.rule == "dynamic-argument", decision.as_dict()


@pytest.mark.parametrize("command", ["cat ~+/app.py", "cat ~0/README.md", "cat ./app.py ~+/README.md",
                                     f"cat ~{NO_SUCH_USER}/x",  # bash reads ./~agent-runtime-no-such-user/x
                                     "cat app.py", "head -n 3 README.md", "grep -rn x ."])
def test_reads_in_the_workspace_are_still_allowed(policy, root, command):
    assert policy.check_command(command, root).decision == "allow"


@pytest.mark.parametrize("command", ["cat ~root/.ssh/id_rsa", "cat ~root/.ssh/*", "cat ~-/.env"])
def test_secrets_under_an_expanded_path_are_still_denied(policy, root, command):
    decision = policy.check_command(command, root)
    assert decision.decision == "deny" and decision.rule == "deny_read", decision.as_dict()


@pytest.mark.parametrize("command", ["echo x > ~-/f", "cp app.py ~root/x", "echo x > ~root/x", "rm -rf $OLDPWD",
                                     "touch ~1/x"])
def test_writes_to_an_expanded_path_outside_are_denied(policy, root, command):
    assert policy.check_command(command, root).decision == "deny"


def test_policy_check_says_ask_for_another_users_home(root):
    for command in ("cat ~root/.npmrc", "cat ~-/.profile", "cat /agent-runtime-not-there/token"):
        done = run_cli("policy", "check", command, cwd=root)
        assert done.returncode == 10, (command, done.stdout, done.stderr)  # ask
        assert done.stdout.startswith("ask (rule outside-workspace):"), done.stdout


# --- run_cmd with --approval never: refused, the token never printed ---


def _run_cmd(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli("--approval", "never", "tool", "run_cmd", json.dumps({"command": command}), cwd=cwd)


def _refused(done: subprocess.CompletedProcess, token: str) -> None:
    assert token not in done.stdout + done.stderr
    assert done.returncode != 0 and "needs approval and was refused" in done.stdout, done.stdout + done.stderr


@pytest.fixture
def other_user():
    """A user created for the test, with a token in ~/.npmrc: the issue's `~ci`. Removed afterwards."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("userdel"):
        pytest.skip("creates a user: only as root, with useradd")
    if not Path("/home").is_dir():
        pytest.skip("no /home to create the user's home in")
    name = f"arpp{secrets.token_hex(4)}"
    home = Path("/home") / name
    subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/usr/sbin/nologin", name], check=True,
                   capture_output=True)
    try:
        home.mkdir()
        token = f"npm_{secrets.token_hex(16)}"
        (home / ".npmrc").write_text(f"//registry.npmjs.org/:_authToken={token}\n")
        (home / ".npmrc").chmod(0o644)  # readable to whoever runs the sandbox: only the policy stands between
        yield name, home, token
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def test_run_cmd_refuses_to_read_another_users_home_and_prints_nothing_of_it(root, other_user):
    name, home, token = other_user
    for command in (f"cat ~{name}/.npmrc", f"cat ~{name}/.n*", f"cat {home}/.npmrc", "cat /home/*/.npmrc",
                    f"cat < ~{name}/.npmrc", f"cd ~{name} && cat .npmrc"):
        _refused(_run_cmd(command, root), token)
    judged = run_cli("policy", "check", f"cat ~{name}/.npmrc", cwd=root)
    assert judged.returncode == 10 and judged.stdout.startswith("ask (rule outside-workspace):"), judged.stdout


def test_run_cmd_refuses_to_read_the_own_home_however_it_is_written(root):
    """As root and as an unprivileged user (test_unprivileged.py): a token in $HOME (each test's own,
    conftest.py), which the sandbox shows read-only."""
    token = f"tok_{secrets.token_hex(16)}"
    (Path.home() / "token.txt").write_text(token + "\n")
    for command in ("cat ~/token.txt", "cat $HOME/token.txt", "cat ${HOME}/token.txt", "cat ~/tok*"):
        _refused(_run_cmd(command, root), token)


# --- where cd, pushd and popd leave the shell, as bash moves it (attack review) ---

CD_ESCAPES = [
    "cd {/root,}; cat .npmrc",  # brace expansion: `cd /root` (the empty word is dropped)
    "cd {,/root}; cat .npmrc",
    "pushd {/root,}; cat .npmrc",
    "pushd /root; pushd {ws}; pushd +1; cat .npmrc",  # +1 rotates the stack: back to /root
    "cd /root; pushd -n {ws}; cat .npmrc",  # -n: the stack changes, the directory does not
    "cd /root; cd -L {ws} -P; cat .npmrc",  # options end at the first operand: two operands, cd fails
    "cd /root; cd -@ {ws}; cat .npmrc",  # an option bash may not have: cd fails
    "cd /root; cd {ws}/agent-runtime-not-there; cat .npmrc",  # a missing directory: cd fails, stays in /root
    "cd {missing}; cat {up}root/.npmrc",  # the missing folder: read from the workspace, not from it
    "shopt -s cdable_vars; r=/root; cd r; cat .npmrc",  # `cd r` goes to $r
    "echo $(cd /root; cat .npmrc)",  # a cd in a command substitution moves the commands after it there
    "echo `cd /root && cat .npmrc`", 'x="$(cd /root; cat .npmrc)"; echo "$x"',
    "cd hom*; cat .npmrc", "cd {hom?,}; cat .npmrc", "pushd [h]ome; cat .npmrc",  # `home -> /root`, committed
    # `deep -> d/e` committed: bash's cd is logical, `..` is taken off the link's name, not its target
    "cd deep/../..; cat {sibling}", "cd deep; cd ../..; cat {sibling}", "cd -P -L deep/../..; cat {sibling}",
    "pushd deep; cd ../..; cat {sibling}",
    # a cd in a subshell moves no one after it: the shell is still in /root
    "cd /root; (cd {ws}); cat .npmrc", "cd /root; cd {ws} | true; cat .npmrc", "cd /root; true | cd {ws}; cat .npmrc",
    "cd /root; cd {ws} & cat .npmrc", "cd /root; { cd {ws} & }; cat .npmrc",
    "shopt -s lastpipe; true | cd /root; cat .npmrc",  # then the last stage runs in the shell itself
]


@pytest.mark.parametrize("command", CD_ESCAPES)
def test_a_read_after_a_cd_is_judged_where_bash_would_be(policy, root, command):
    depth = len(root.parts) - 1  # as many folders as lie above the workspace: from the missing one, that
    # many `..` stay inside; from the workspace, where bash stays when cd fails, they reach /
    command = command.replace("{missing}", "/".join(["d"] * depth)).replace("{up}", "../" * depth)
    (root / "home").symlink_to("/root")
    (root / "d" / "e").mkdir(parents=True)
    (root / "deep").symlink_to("d/e")
    command = command.replace("{sibling}", f"{root.name}-sibling/notes.txt")  # beside the workspace
    decision = policy.check_command(command.replace("{ws}", str(root)), root)
    assert decision.decision == "ask", decision.as_dict()
    assert decision.rule in ("outside-workspace", "dynamic-directory", "shell-options"), decision.as_dict()


@pytest.mark.parametrize("command", ["cd src && cat app.py", "cd . && cat app.py", "pushd . && cat app.py",
                                     "cd -P . && cat app.py", "cd -- . && cat README.md", "cd {.,} && cat app.py",
                                     "cd link/.. && cat app.py", "cd -P link/../.. && cat app.py",
                                     "cd link && cat ../app.py"])
def test_a_cd_inside_the_workspace_still_reads_there(policy, root, command):
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "app.py").write_text("y = 2\n")
    (root / "src" / "in").mkdir()
    (root / "src" / "in" / "app.py").write_text("z = 3\n")
    (root / "link").symlink_to("src/in")
    assert policy.check_command(command, root).decision == "allow", command


# --- a recursive read that follows symlinks, over a workspace holding one that leads out (attack review) ---


@pytest.mark.parametrize("command", ["grep -R token .", "grep -Rn token", "grep -nR token src",
                                     "grep --dereference-recursive token .", "rg -L token", "rg --follow token src",
                                     "diff -r src other"])
def test_a_recursive_read_that_follows_a_symlink_out_asks(policy, root, tmp_path, command):
    outside = tmp_path / "sibling"
    outside.mkdir()
    (outside / "notes.txt").write_text("token = hunter2\n")
    (root / "src").mkdir()
    (root / "other").mkdir()
    (root / "src" / "vendor").symlink_to(outside)  # committed by a hostile repository
    decision = policy.check_command(command, root)
    assert decision.decision == "ask" and decision.rule == "outside-workspace", decision.as_dict()


def test_a_recursive_read_that_follows_a_symlink_to_secrets_is_denied(policy, root):
    (root / "keys").symlink_to(Path(ROOT_HOME) / ".ssh")
    for command in ("grep -R . .", "rg --follow BEGIN"):
        decision = policy.check_command(command, root)
        assert decision.decision == "deny" and decision.rule == "deny_read", decision.as_dict()


@pytest.mark.parametrize("command", ["grep -r token .", "rg token", "grep -R token .", "rg -L token",
                                     "diff -r --no-dereference src other", "grep -eR token ."])
def test_recursive_reads_without_a_symlink_out_are_still_allowed(policy, root, command):
    (root / "src").mkdir()
    (root / "other").mkdir()
    (root / "src" / "inside").symlink_to(root / "other")  # a symlink inside is fine
    (root / "src" / "gone").symlink_to(root / "other" / "missing")  # a dangling one inside too
    if command.startswith(("grep -r ", "rg token", "grep -eR")):  # these follow no symlink they meet
        (root / "out").symlink_to("/")
    assert policy.check_command(command, root).decision == "allow", command


@pytest.mark.parametrize("command", ["cd /root; cat /proc/self/cwd/.npmrc", "cd /root && cat /proc/thread-self/cwd/.npmrc",
                                     "cd /root; head /dev/fd/../cwd/.npmrc", "cd /root; cat < /proc/self/cwd/.npmrc",
                                     "cd /root; cat /proc/self/../self/cwd/.npmrc", "cd /root; cat link/cwd/.npmrc"])
def test_a_path_through_a_process_folder_of_proc_is_not_the_policys_own(policy, root, command, monkeypatch):
    """/proc/self/cwd is the policy's current directory when the policy resolves it (the agent runs in the
    workspace), the command's (here /root) when the command runs (attack review: it resolved into the
    workspace and was allowed)."""
    monkeypatch.chdir(root)
    (root / "link").symlink_to("/proc/self")
    decision = policy.check_command(command.replace("link/", f"{root}/link/"), root)
    assert decision.decision == "ask" and decision.rule == "outside-workspace", decision.as_dict()


@pytest.mark.parametrize("command", ["echo hi > /dev/stderr", "cat app.py > /dev/null", "cat app.py 2>/dev/stdout"])
def test_the_standard_streams_are_still_neutral(policy, root, command):
    assert policy.check_command(command, root).decision == "allow", command
