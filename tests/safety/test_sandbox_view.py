"""The sandbox's view is an allow-list (issue 45, "Nothing outside the workspace is readable"): the
homes are empty but for the toolchains a command runs, the skills folders are read-only, and no
process inside can read the list of what is hidden from bwrap's command line. As root and as an
unprivileged user (test_unprivileged.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import REAL_HOME, make_repo

from agent_runtime.safety.sandbox import Sandbox

DENY_READ = (".env*", "**/.ssh/**", "*.pem", "**/.netrc")


@pytest.fixture
def workspace(tmp_path) -> Path:
    repo = make_repo(tmp_path / "ws", {"app.py": "x = 1\n", ".agents/skills/x/SKILL.md": "---\nname: x\n---\nbody\n",
                                       ".claude/skills/y/SKILL.md": "---\nname: y\n---\nbody\n"})
    (repo / ".env").write_text("TOKEN=hunter2\n")
    return repo


@pytest.fixture
def sandbox(workspace) -> Sandbox:
    box = Sandbox(workspace, hidden_globs=DENY_READ)
    assert box.kind == "bwrap", "bubblewrap must work on this machine (make installs it)"
    return box


def test_home_is_empty_and_no_other_home_is_there(sandbox):
    """/home is empty in the sandbox, whoever runs it; as root, a user made for the test with a token
    in ~/.npmrc is not there at all."""
    user = None
    if os.geteuid() == 0 and shutil.which("useradd"):
        user = f"arv{uuid.uuid4().hex[:8]}"
        home = Path("/home") / user
        subprocess.run(["useradd", "-m", "-d", str(home), user], check=True, capture_output=True)
    try:
        if user is not None:
            (home / ".npmrc").write_text("//registry.npmjs.org/:_authToken=npm-token-4711\n")
            assert "npm-token-4711" in subprocess.run(["cat", str(home / ".npmrc")], capture_output=True,
                                                      text=True).stdout  # there on the host: the test can tell
        probe = f"cat /home/{user}/.npmrc; ls -A /home; echo listed" if user else "ls -A /home; echo listed"
        result = sandbox.run(probe, timeout=60)
        assert "npm-token-4711" not in result.stdout + result.stderr
        assert result.stdout.strip() == "listed", result.stdout  # not the user, nor any other home
    finally:
        if user is not None:
            subprocess.run(["userdel", "-r", user], capture_output=True)


def test_roots_dotfiles_are_not_there_while_a_toolchain_under_a_home_works(sandbox):
    """This machine's Python lives under a home (pyenv at /root/.pyenv): it runs, read-only, while
    /root's dotfiles (~/.npmrc, ~/.ssh, histories) are simply not there, as root and as another user."""
    planted = None
    npmrc = Path("/root/.npmrc")
    if os.geteuid() == 0 and not os.path.lexists(npmrc):
        planted = npmrc
        npmrc.write_text("//registry.npmjs.org/:_authToken=root-npm-4711\n")
    interpreter = Path(os.path.realpath(sys.executable))
    try:
        result = sandbox.run(f"test -e /root/.npmrc && echo NPMRC; test -e /root/.ssh && echo SSH; "
                             f"test -e /root/.bash_history && echo HISTORY; ls -A /root; "
                             f"{interpreter} -c 'import sys; print(\"python\", sys.version_info[0])'; "
                             f"touch {interpreter.parent}/x 2>&1; echo rc=$?", timeout=60)
        out = result.stdout
        assert "NPMRC" not in out and "SSH" not in out and "HISTORY" not in out, out
        assert "root-npm-4711" not in out + result.stderr
        listed = out.split("python")[0].split()
        assert not {".npmrc", ".ssh", ".bash_history", ".profile", ".bashrc"} & set(listed), listed
        assert "python 3" in out, (out, result.stderr)
        assert "rc=0" not in out, "the toolchain is read-only"
        if os.path.realpath(sys.base_prefix).startswith("/root/"):  # pyenv here: shown, and only that folder of ~
            assert all(not name.startswith(".") or name in (".pyenv", ".cargo", ".rustup", ".nvm", ".gitconfig")
                       or name.startswith(".art-homes") for name in listed), listed
    finally:
        if planted is not None:
            planted.unlink()


def test_the_skills_folders_cannot_be_written(sandbox, workspace):
    skill_x, skill_y = workspace / ".agents/skills/x/SKILL.md", workspace / ".claude/skills/y/SKILL.md"
    before = skill_x.read_text(), skill_y.read_text()
    result = sandbox.run("echo evil > .agents/skills/x/SKILL.md; echo evil > .claude/skills/y/SKILL.md; "
                         "mkdir .agents/skills/z; rm -rf .agents/skills/x .claude; echo end", timeout=60)
    assert "end" in result.stdout
    assert (skill_x.read_text(), skill_y.read_text()) == before
    assert not (workspace / ".agents/skills/z").exists()
    assert result.stderr.count("Read-only file system") >= 3, result.stderr


def test_new_skills_folders_are_removed_afterwards(tmp_path):
    repo = make_repo(tmp_path / "bare", {"app.py": "x = 1\n"})
    result = Sandbox(repo).run("mkdir -p .agents/skills/evil .claude && echo x > .agents/skills/evil/SKILL.md",
                               timeout=60)
    assert not (repo / ".agents").exists() and not (repo / ".claude").exists()
    assert "[sandbox] removed" in result.stderr and ".agents" in result.stderr


def test_no_process_in_the_sandbox_shows_the_hidden_paths(sandbox, workspace):
    """bwrap's pid 1 inside is a fork of bwrap: its command line would list every path it hides.
    The options go through a file descriptor (--args), so every process shows only the command."""
    script = ("for p in /proc/[0-9]*; do printf '%s: ' $p; tr '\\0' ' ' < $p/cmdline; echo; done; "
              "tr '\\0' ' ' < /proc/1/cmdline; echo; ls /proc/self/../ | grep -c '^[0-9]'; ls -l /proc/self/fd")
    result = sandbox.run(script, timeout=60)
    out = result.stdout
    assert "/proc/1: " in out and "--args 3 -- bash -c" in out, out
    for hidden in (str(workspace / ".env"), "--ro-bind", "--tmpfs", "--setenv", "/etc/shadow", "/root/.ssh"):
        assert hidden not in out, (hidden, out)
    assert "bwrap-args" not in out, "the file of options is neither open nor named inside"


def test_toolchains_under_home_and_system_run_their_tests(tmp_path, tools_for, monkeypatch):
    """What the allow-list could break, measured: tests run through run_cmd with the toolchain under
    a home (pyenv's pytest) and under /usr (npm), and cargo's (rustup under ~/.cargo and ~/.rustup)."""
    for name, folder in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")):  # each test has its own $HOME
        if not os.environ.get(name) and (REAL_HOME / folder).is_dir():
            monkeypatch.setenv(name, str(REAL_HOME / folder))
    repo = make_repo(tmp_path / "proj", {
        "test_small.py": "def test_sum():\n    assert sum([1, 2]) == 3\n",
        "package.json": '{"name": "tiny", "version": "1.0.0", "scripts": {"test": "node -e \\"console.log(\'npm-ok\')\\""}}\n',
        "Cargo.toml": '[package]\nname = "tiny"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/lib.rs": "pub fn two() -> u32 { 2 }\n#[cfg(test)]\nmod t { #[test] fn two() { assert_eq!(super::two(), 2); } }\n"})
    _, tools = tools_for(repo, "auto")
    commands = [f"{sys.executable} -m pytest -q -p no:cacheprovider test_small.py"]
    if shutil.which("python3") and subprocess.run(["python3", "-c", "import pytest"], capture_output=True).returncode == 0:
        commands.append("python3 -m pytest -q -p no:cacheprovider test_small.py")
    if shutil.which("npm"):
        commands.append("npm test")
    if shutil.which("cargo"):
        commands.append("cargo test --offline -q")
    for command in commands:
        ran = tools["run_cmd"](command=command)
        assert ran.get("exit_code") == 0 and ran.get("sandbox") == "bwrap", (command, ran)
        assert ("1 passed" in ran["stdout"]) or ("npm-ok" in ran["stdout"]) or ("test result: ok" in ran["stdout"]), ran


def test_go_test_runs_when_go_is_installed(tmp_path):
    go = shutil.which("go")
    if not go:
        pytest.skip("go is not installed on this machine")
    repo = make_repo(tmp_path / "gomod", {"go.mod": "module tiny\n\ngo 1.20\n",
                                          "tiny_test.go": "package tiny\n\nimport \"testing\"\n\n"
                                                          "func TestTwo(t *testing.T) { if 1+1 != 2 { t.Fatal() } }\n"})
    result = Sandbox(repo).run("go test ./...", timeout=600)
    assert result.exit_code == 0 and "ok" in result.stdout, (result.stdout, result.stderr)


def test_only_the_toolchain_folders_of_a_home_are_chosen(tmp_path):
    """The rules of view.toolchains on a made-up home: a manager's whole folder (nvm), ~/.cargo/bin with
    ~/.rustup but not ~/.cargo, a pipx link's virtualenv and its interpreter, a plain bin folder alone;
    never the home itself, never a dotfile that is no toolchain."""
    from agent_runtime.safety import view

    home = tmp_path / "home" / "u"
    for rel in (".nvm/versions/node/v20/bin", ".cargo/bin", ".cargo/registry", ".rustup/toolchains", ".ssh",
                ".local/bin", ".local/share/pipx/venvs/black/bin", ".pyenv/versions/3.12/bin", "bin", "code/other"):
        (home / rel).mkdir(parents=True)
    (home / ".cargo" / "credentials.toml").write_text("token\n")
    (home / ".local/share/pipx/venvs/black/pyvenv.cfg").write_text(f"home = {home}/.pyenv/versions/3.12/bin\n")
    (home / ".local/share/pipx/venvs/black/bin/black").write_text("#!/bin/sh\n")
    (home / ".local/bin/black").symlink_to(home / ".local/share/pipx/venvs/black/bin/black")
    path = ":".join(str(home / p) for p in (".nvm/versions/node/v20/bin", ".cargo/bin", ".local/bin", "bin", ""))
    agents = {dest for _, dest in view.toolchains({"PATH": ""}, [home])}  # the agent's own interpreter
    chosen = {dest for _, dest in view.toolchains({"PATH": path}, [home])} - agents
    assert chosen == {home / ".nvm", home / ".cargo" / "bin", home / ".cargo" / "registry", home / ".rustup",
                      home / ".local" / "bin", home / ".local/share/pipx/venvs/black", home / ".pyenv", home / "bin"}
    assert view.shown_under(home / ".ssh", [home], sorted(chosen)) is False
    assert view.shown_under(home / ".cargo" / "credentials.toml", [home], sorted(chosen)) is False


@pytest.mark.parametrize("how", ["pyvenv-home", "symlinked-bin", "activated"])
def test_a_workspace_virtualenv_brings_no_other_folder_of_a_home(tmp_path, how):
    """A hostile repository's `.venv` names a folder of a home (its pyvenv.cfg's `home = ~/.config`, or
    `.venv/bin` a symlink to ~/.m2): only a folder holding a Python interpreter is bound back, never
    that one (attack review: both showed the user's ~/.config or ~/.m2 in the sandbox)."""
    from agent_runtime.safety import view

    home = tmp_path / "home" / "u"
    for rel in (".config/gh", ".m2", ".pyenv/versions/3.12/bin"):
        (home / rel).mkdir(parents=True)
    (home / ".config/gh/hosts.yml").write_text("oauth_token: x\n")
    (home / ".pyenv/versions/3.12/bin/python3").write_text("#!/bin/sh\n")
    ws = tmp_path / "ws"
    (ws / ".venv").mkdir(parents=True)
    env = {"PATH": "/usr/bin"}
    if how == "symlinked-bin":
        (ws / ".venv" / "bin").symlink_to(home / ".m2")
        (ws / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    else:
        (ws / ".venv" / "bin").mkdir()
        (ws / ".venv" / "pyvenv.cfg").write_text(f"home = {home / '.config'}\n")
    if how == "activated":  # the user ran `source .venv/bin/activate` in the repository, then the agent
        env = {"PATH": f"{ws / '.venv' / 'bin'}:/usr/bin", "VIRTUAL_ENV": str(ws / ".venv")}
    chosen = {dest for _, dest in view.toolchains(env, [home], [ws / ".venv" / "bin"], ws)}
    assert not any(view.within(d, home) for d in chosen), chosen
    # a real interpreter of the home is still brought back (pyenv's, as before)
    (ws / ".venv" / "pyvenv.cfg").write_text(f"home = {home / '.pyenv/versions/3.12/bin'}\n")
    chosen = {dest for _, dest in view.toolchains(env, [home], [ws / ".venv" / "bin"], ws)}
    assert home / ".pyenv" in chosen, chosen


def test_the_users_own_home_is_covered_under_a_system_folder_too(tmp_path, monkeypatch):
    """A service account's $HOME under /var or /opt (Jenkins' /var/lib/jenkins) is covered like one under
    /home (attack review: it was left whole, its files shown but for the secrets known by name); a
    system folder itself (`/usr`) or `/` never is."""
    from agent_runtime.safety import view

    system = tmp_path / "var"
    (system / "lib" / "jenkins").mkdir(parents=True)
    monkeypatch.setattr(view, "SYSTEM", view.SYSTEM + (str(system),))
    monkeypatch.setattr(view, "NOT_COVERED", ())
    assert system / "lib" / "jenkins" in view.covers(system / "lib" / "jenkins")
    assert system not in view.covers(system)
    assert Path("/") not in view.covers(Path("/")) and Path("/usr") not in view.covers(Path("/usr"))


@pytest.mark.skipif(os.geteuid() != 0, reason="makes a home under /var/lib")
def test_a_home_under_var_shows_nothing_of_itself_in_the_sandbox(tmp_path, monkeypatch):
    import shutil
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="agent-runtime-svc-home-", dir="/var/lib"))
    try:
        (home / "secrets").mkdir()
        (home / "secrets" / "master.key").write_text("svc-master-key-4411\n")
        monkeypatch.setenv("HOME", str(home))
        repo = make_repo(home / "ws", {"app.py": "x = 1\n"})
        result = Sandbox(repo).run(f"cat app.py; ls -A {home}; cat {home}/secrets/master.key", timeout=60)
        assert "x = 1" in result.stdout, (result.stdout, result.stderr)
        assert "svc-master-key-4411" not in result.stdout and "secrets" not in result.stdout, result.stdout
    finally:
        shutil.rmtree(home, ignore_errors=True)
