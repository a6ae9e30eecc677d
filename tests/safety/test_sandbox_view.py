"""The sandbox's view is an allow-list (issue 45, "Nothing outside the workspace is readable"): the
homes are empty but for the toolchains a command runs, the skills folders are read-only, and no
process inside can read the list of what is hidden from bwrap's command line. As root and as an
unprivileged user (test_unprivileged.py)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
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
    shutil.copy(os.path.realpath(sys.executable), home / ".pyenv/versions/3.12/bin/python3")  # an ELF program
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
    # a real interpreter of the home: that file and its standard library, not the rest of ~/.pyenv
    (home / ".pyenv/versions/3.12/lib/python3.12").mkdir(parents=True)
    (home / ".pyenv/versions/3.12/notes.txt").write_text("x\n")
    (ws / ".venv" / "pyvenv.cfg").write_text(f"home = {home / '.pyenv/versions/3.12/bin'}\n")
    chosen = {dest for _, dest in view.toolchains(env, [home], [ws / ".venv" / "bin"], ws)}
    agents = {dest for _, dest in view.toolchains({"PATH": "/usr/bin"}, [home], [], ws)}  # the agent's interpreter
    assert chosen - agents == {home / ".pyenv/versions/3.12/bin/python3",
                               home / ".pyenv/versions/3.12/lib/python3.12"}, chosen


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


# ----------------------------------------------------------------- the rest of the root (issue 45)
# The sandbox's root is an allow-list too: the system folders, /dev, /proc, a private /tmp, the toolchains,
# the workspace. What else the host holds (/srv, /opt, /var, /mnt, the projects beside the workspace) is
# not there, and /proc/self/mountinfo does not name it. Planted secrets need root (only root may write
# under /srv or /var); the walk of the host's first two levels runs as any user.

# What a workspace script finds at run time (the policy allows running it: the sandbox contains it).
LEAK = """import os
for top in open("targets.txt").read().split():
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in dirs + files:
            print("FOUND", os.path.join(folder, name))
            try:
                print(open(os.path.join(folder, name), errors="replace").read(200))
            except OSError:
                pass
print("walked", "to the end")
"""


def _made_under(top: str) -> Path:
    """A folder of the test's own under a top-level folder of the host (cleaned up by the caller)."""
    if not os.path.isdir(top) or not os.access(top, os.W_OK):
        pytest.skip(f"{top} is not writable by this user (root plants there)")
    return Path(tempfile.mkdtemp(prefix="ar-test-", dir=top))


def _not_shown(workspace: Path) -> list[Path]:
    """The host's entries one and two levels down that the sandbox must not show: all but the system
    folders, the sandbox's own (/proc, /tmp, ...) and what holds or lies in something it shows (the
    workspace, $HOME, the toolchains: here the agent's interpreter, maybe in /work or a home)."""
    from agent_runtime.safety import view
    from agent_runtime.safety.sandbox import allowed_env

    own = [Path(p) for p in ("/proc", "/sys", "/dev", "/tmp", "/run", "/var/tmp", "/var/run")]
    chains = view.toolchains(allowed_env(), view.covers(), [], workspace)
    shown = [workspace, Path.home(), *own] + [dest for _, dest in chains]
    found: list[Path] = []
    for top in sorted(Path("/").iterdir()):
        listable = top.is_dir() and not top.is_symlink() and os.access(top, os.R_OK | os.X_OK)
        for path in [top, *(sorted(top.iterdir()) if listable else [])]:
            if not view.system_shown(path) and not any(view.within(s, path) or view.within(path, s) for s in shown):
                found.append(path)
    return found


def test_nothing_of_the_host_beyond_the_allow_list_is_there(tmp_path, tools_for):
    from agent_runtime.safety import view

    """A workspace script the policy lets run (the sandbox contains it) walks /srv, /opt, /var, /mnt,
    /media, /home and the workspace's parent: it finds nothing planted there, and every other entry of the
    host's first two levels that the sandbox does not show is absent, also from /proc/self/mountinfo."""
    planted: list[Path] = []
    if os.geteuid() == 0:
        for top in ("/srv", "/opt", "/mnt", "/var/backups" if os.path.isdir("/var/backups") else "/var"):
            folder = _made_under(top)
            (folder / "secret.txt").write_text(f"planted-secret-{folder.name}\n")
            planted.append(folder)
    try:
        repo = make_repo(tmp_path / "ws", {"leak.py": LEAK, "targets.txt": "/srv /opt /mnt /media /var /home ..\n"})
        absent = _not_shown(repo)
        assert all(any(view.within(f, a) for a in absent) for f in planted), (planted, absent)
        _, tools = tools_for(repo, "never")
        walk = tools["run_cmd"](command="python3 leak.py")
        assert walk.get("sandbox") == "bwrap" and "walked to the end" in walk["stdout"], walk
        for folder in planted:
            assert folder.name not in walk["stdout"], walk["stdout"]  # neither listed, read, nor a mount
        (repo / "probe.sh").write_text("".join(f"test -e {shlex.quote(str(p))} && echo THERE {shlex.quote(str(p))}\n"
                                               for p in absent) + "cat /proc/self/mountinfo\n")
        seen = tools["run_cmd"](command="bash probe.sh")
        assert "THERE" not in seen["stdout"], seen["stdout"]
        mounts = seen["stdout"]
        assert "/newroot / " in mounts, mounts  # it is mountinfo, and the root bwrap's own tmpfs
        named = [str(p) for p in absent if re.search(rf"(^| ){re.escape(str(p))}(/| |$)", mounts, re.M)]
        assert named == [], named
    finally:
        for folder in planted:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("top", ["/srv", "/var", "/mnt"])
def test_a_project_beside_the_workspace_is_not_there(tools_for, top):
    """A workspace at /srv/x/ws (or /var, /mnt) works, read-write, while /srv/x/other beside it, with its
    secret, is not there: not listed, not read, not named in mountinfo."""
    base = _made_under(top)
    try:
        other = make_repo(base / "other", {"secret.txt": "sibling-secret-4711\n"})
        repo = make_repo(base / "ws", {"leak.py": LEAK, "targets.txt": f"{base}/other .. ../other\n",
                                       "probe.sh": "cat /proc/self/mountinfo\n",
                                       "test_it.py": "def test_one():\n    open('made.txt', 'w').write('x')\n"})
        _, tools = tools_for(repo, "never")
        walk = tools["run_cmd"](command="python3 leak.py; bash probe.sh")
        out = walk["stdout"]
        assert walk.get("sandbox") == "bwrap" and "walked to the end" in out, walk
        assert "sibling-secret-4711" not in out, out
        assert not [line for line in out.splitlines() if line.startswith("FOUND") and "other" in line], out
        assert not re.search(rf" {re.escape(str(other))}[ /]", out), out  # nor a mount point
        assert "FOUND ../ws/leak.py" in out  # the workspace itself is there
        for command, expected in (("python3 -m pytest -q -p no:cacheprovider test_it.py", "1 passed"),
                                  ("git status --short", "?? made.txt"), ("rg -l made", "test_it.py")):
            ran = tools["run_cmd"](command=command)
            assert ran.get("exit_code") == 0 and expected in ran["stdout"], (command, ran)
        assert (repo / "made.txt").read_text() == "x"  # written by the test, in the workspace
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_workspace_under_tmp_runs_its_tests_git_and_rg(tmp_path, tools_for):
    repo = make_repo(tmp_path / "ws", {"test_it.py": "def test_one():\n    assert 'needle'\n"})
    _, tools = tools_for(repo, "never")
    for command, expected in (("python -m pytest -q -p no:cacheprovider", "1 passed"),
                              ("pytest -q -p no:cacheprovider", "1 passed"), ("git log --oneline", "initial"),
                              ("rg -n needle", "test_it.py:2")):
        if command.startswith("pytest") and not shutil.which("pytest"):
            continue
        ran = tools["run_cmd"](command=command)
        assert ran.get("exit_code") == 0 and expected in ran["stdout"], (command, ran)


def test_symlinked_system_folders_stay_symlinks(sandbox):
    """Merged /usr: /bin -> usr/bin is the same symlink inside, not a second mount of /usr/bin."""
    links = [name for name in ("/bin", "/sbin", "/lib", "/lib64") if os.path.islink(name)]
    if not links:
        pytest.skip("no symlinked system folder here")
    result = sandbox.run("; ".join(f"readlink {name}" for name in links) + "; cat /proc/self/mountinfo", timeout=60)
    assert result.stdout.split()[:len(links)] == [os.readlink(name) for name in links], result.stdout
    mounted = [line.split()[4] for line in result.stdout.splitlines()[len(links):] if len(line.split()) > 4]
    assert not set(links) & set(mounted), mounted


def test_a_toolchain_outside_the_homes_brings_its_prefix_and_no_more(tmp_path):
    """The rules of view.toolchains outside the homes: a PATH bin folder brings its install prefix (npm lives in
    /opt/node/lib), a Python the workspace names only its interpreter file and lib/python3.X; never `/`, a top-level folder,
    nor a folder that holds the workspace (it would show the projects beside it)."""
    from agent_runtime.safety import view

    opt, ws = tmp_path / "opt", tmp_path / "work" / "ws"
    for rel in ("node/bin", "node/lib/node_modules/npm", "py/bin", "py/lib/python3.12", "py/etc", "work/bin"):
        (opt / rel if not rel.startswith("work") else tmp_path / rel).mkdir(parents=True)
    shutil.copy(os.path.realpath(sys.executable), opt / "py/bin/python3")  # an interpreter: an ELF program
    (opt / "py/etc/app-secret.conf").write_text("x\n")
    (ws / ".venv/bin").mkdir(parents=True)
    (ws / ".venv/pyvenv.cfg").write_text(f"home = {opt / 'py/bin'}\n")
    agents = {dest for _, dest in view.toolchains({"PATH": ""}, [], [], ws)}
    path = ":".join(map(str, (opt / "node/bin", "/", "/srv", tmp_path / "work" / "bin", tmp_path / "work")))
    chosen = {dest for _, dest in view.toolchains({"PATH": path}, [], [ws / ".venv" / "bin"], ws)} - agents
    assert chosen == {opt / "node", tmp_path / "work" / "bin", opt / "py/bin/python3", opt / "py/lib/python3.12"}, chosen


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may write /etc (and only a sandboxed root passes the owner check)")
def test_what_not_everyone_may_read_of_etc_is_hidden_from_a_sandboxed_root(sandbox):
    """/etc is shown whole, but a service's 0600 password file there (no fixed list knows its name) is
    hidden from root inside, as /etc/shadow is; the rest of /etc reads as on the host."""
    secret = Path(tempfile.mkstemp(prefix="ar-test-", suffix=".conf", dir="/etc")[1])
    try:
        secret.write_text("password=etc-secret-4711\n")
        secret.chmod(0o600)
        result = sandbox.run(f"cat {secret} /etc/shadow; grep -c root /etc/passwd", timeout=60)
        assert "etc-secret-4711" not in result.stdout and "root:" not in result.stdout, result.stdout
        assert result.stdout.split()[-1] != "0", result.stdout
    finally:
        secret.unlink()


# The kernel's keyrings are not namespaced files: a child inherits its parent's session keyring (a login's
# Kerberos tickets, keys `keyctl add ... @s` stored), and what it possesses it may read, by syscall.
_KEY_READER = r'''import ctypes
libc = ctypes.CDLL(None, use_errno=True)
SYS = {"x86_64": (249, 250), "aarch64": (218, 219)}[__import__("platform").machine()]
key = libc.syscall(SYS[0], b"user", b"art-planted", None, 0)  # request_key: searches the keyrings possessed
buf = ctypes.create_string_buffer(200)
size = libc.syscall(SYS[1], 11, key, buf, 200) if key > 0 else -1  # KEYCTL_READ
print("read:", buf.raw[:size] if size > 0 else ctypes.get_errno())'''


@pytest.mark.parametrize("how", ["command", "program"])
def test_the_agents_session_keyring_is_not_the_sandboxs(sandbox, how):
    """A key in the agent's session keyring (where a login keeps its secrets) cannot be read by a command,
    nor by a program started in the sandbox (an MCP server)."""
    import ctypes
    import platform

    numbers = {"x86_64": (248, 250), "aarch64": (217, 219)}.get(platform.machine())
    if numbers is None:
        pytest.skip(f"keyctl's syscall numbers are not known here ({platform.machine()})")
    libc = ctypes.CDLL(None, use_errno=True)
    key = libc.syscall(numbers[0], b"user", b"art-planted", b"keyring-token-4711", 18, -3)  # add_key to @s
    if key < 0:
        pytest.skip(f"no session keyring here (errno {ctypes.get_errno()})")
    try:
        assert libc.syscall(numbers[1], 11, key, None, 0) == 18  # there, readable, outside: the test can tell
        if how == "command":
            result = sandbox.run(f"python3 -c {shlex.quote(_KEY_READER)}", timeout=60)
        else:
            with sandbox.program(["python3", "-c", _KEY_READER]) as (argv, env):
                result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert "read:" in result.stdout, result.stdout + result.stderr
        assert "keyring-token-4711" not in result.stdout + result.stderr
    finally:
        libc.syscall(numbers[1], 3, key)  # KEYCTL_REVOKE


# ----------------------------------------------------------------- what a repository names for the view
def _host_app(tmp_path: Path) -> Path:
    """A folder the sandbox does not show, beside no workspace: under /srv when this user may write
    there (root), else under the test's /tmp (the sandbox's /tmp is private)."""
    if os.path.isdir("/srv") and os.access("/srv", os.W_OK):
        return Path(tempfile.mkdtemp(prefix="ar-test-", dir="/srv")) / "app"
    return tmp_path / "host" / "app"


@pytest.mark.parametrize("how", ["venv-symlink", "pyvenv-home", "python-linked-to-a-file"])
def test_a_repositorys_virtualenv_shows_an_interpreter_not_the_folder_it_names(tmp_path, how):
    """`.venv -> /srv/app`, or a `.venv/pyvenv.cfg` with `home = /srv/app/bin`, where /srv/app is a
    deployed virtualenv with its settings and .env: a sandboxed command runs the interpreter it links
    to, and reads neither file (attack review: the "bin of a virtualenv -> its folder" rule showed
    /srv/app whole). Nor does `.venv/bin/python -> /srv/app/.env` show that file: only an ELF program."""
    app = _host_app(tmp_path)
    try:
        (app / "bin").mkdir(parents=True)
        (app / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (app / "bin" / "python3").symlink_to(os.path.realpath("/usr/bin/python3"))
        (app / "settings.py").write_text("DATABASE_PASSWORD_HINT = 'app-settings-4711'\n")
        (app / ".env").write_text("APP_TOKEN=app-env-4711\n")
        repo = make_repo(tmp_path / "ws", {"app.py": "x = 1\n"})
        if how == "venv-symlink":
            (repo / ".venv").symlink_to(app)
        elif how == "python-linked-to-a-file":
            (repo / ".venv" / "bin").mkdir(parents=True)
            (repo / ".venv" / "pyvenv.cfg").write_text(f"home = {app / 'bin'}\n")
            (repo / ".venv" / "bin" / "python3").symlink_to(os.path.realpath("/usr/bin/python3"))
            (repo / ".venv" / "bin" / "python").symlink_to(app / ".env")
            (app / "bin" / "python3.11").symlink_to(app / "settings.py")
        else:
            (repo / ".venv" / "bin").mkdir(parents=True)
            (repo / ".venv" / "pyvenv.cfg").write_text(f"home = {app / 'bin'}\n")
            (repo / ".venv" / "bin" / "python3").symlink_to(app / "bin" / "python3")
        result = Sandbox(repo).run(f"cat {app}/settings.py {app}/.env .venv/settings.py .venv/.env .venv/bin/python "
                                   f"{app}/bin/python3.11; ls -A {app}; "
                                   ".venv/bin/python3 -c 'print(\"py-\" + \"ok\")'", timeout=60)
        out = result.stdout + result.stderr
        assert "app-settings-4711" not in out and "app-env-4711" not in out, out
        assert "settings.py" in result.stderr and "No such file" in result.stderr, result.stderr
        assert "py-ok" in result.stdout, out  # the interpreter it names still runs
    finally:
        if str(app).startswith("/srv/"):
            shutil.rmtree(app.parent, ignore_errors=True)


def test_a_workspace_virtualenv_on_an_interpreter_the_sandbox_does_not_show_runs_pytest(tmp_path, tools_for):
    """A real virtualenv in the workspace whose base interpreter lives where the sandbox shows nothing
    (a Python copied to /srv/py or the host's /tmp): run_cmd runs pytest with it, the interpreter's file
    bound at its path, and nothing else of that folder is there."""
    base = _host_app(tmp_path).parent / "py"
    try:
        (base / "bin").mkdir(parents=True)
        shutil.copy2(os.path.realpath("/usr/bin/python3"), base / "bin" / "python3")
        (base / "private.txt").write_text("py-private-4711\n")
        installed = base / "lib" / "python3.11" / "site-packages"  # the interpreter's library: its packages emptied
        installed.mkdir(parents=True)
        (installed / "deployed_settings.py").write_text("TOKEN = 'site-packages-4711'\n")
        (base / "lib" / "python3.11" / "marker.txt").write_text("library\n")
        repo = make_repo(tmp_path / "ws", {"test_it.py": "import sys\n\ndef test_one():\n    print(sys.prefix)\n"})
        subprocess.run([str(base / "bin" / "python3"), "-m", "venv", "--without-pip", str(repo / ".venv")],
                       check=True, capture_output=True)
        site = next((repo / ".venv" / "lib").glob("python3.*")) / "site-packages"
        pytest_home = Path(os.path.realpath(pytest.__file__)).parent.parent  # the agent's: shown read-only
        (site / "agent.pth").write_text(f"{pytest_home}\n")
        _, tools = tools_for(repo, "never")
        ran = tools["run_cmd"](command=".venv/bin/python -m pytest -q -p no:cacheprovider test_it.py")
        assert ran.get("sandbox") == "bwrap" and "1 passed" in ran["stdout"], ran
        probe = Sandbox(repo).run(f"cat {base}/private.txt {installed}/deployed_settings.py; "
                                  f"ls -A {base} {base}/bin {installed}; cat {base}/lib/python3.11/marker.txt", timeout=60)
        assert "4711" not in probe.stdout and "private.txt" not in probe.stdout, probe.stdout
        assert probe.stdout.split() == [f"{base}:", "bin", "lib", f"{base}/bin:", "python3", f"{installed}:",
                                        "library"], probe.stdout  # the file and the library, no more
    finally:
        if str(base).startswith("/srv/"):
            shutil.rmtree(base.parent, ignore_errors=True)


def test_mountinfo_names_no_scratch_folder_of_the_host(workspace):
    """The copies of git's settings (the repository's, the user's) are given to bwrap as data: the
    sandbox's /proc/self/mountinfo names no `/tmp/agent-runtime-sandbox-...` folder of the host (attack
    review: it named the host's scratch folder), and git inside still reads the copies."""
    from conftest import git

    git(workspace, "config", "user.name", "Copied Person")
    git(workspace, "config", "foo.token", "scratch-4711")  # not allowed: the copy differs, so it is bound
    (Path.home() / ".gitconfig").write_text("[user]\n\temail = copied@example.com\n[imap]\n\tpass = x-4711\n")
    result = Sandbox(workspace).run("cat /proc/self/mountinfo; git config user.name; git config user.email; "
                                    "cat .git/config ~/.gitconfig", timeout=60)
    assert "Copied Person\ncopied@example.com\n" in result.stdout, (result.stdout, result.stderr)
    assert "4711" not in result.stdout, result.stdout
    assert " /proc " in result.stdout, result.stdout  # it is mountinfo
    assert "agent-runtime-sandbox-" not in result.stdout and tempfile.gettempdir() + "/" not in result.stdout.replace(
        str(workspace), ""), result.stdout


@pytest.mark.parametrize("files", [2, 9])
def test_files_of_the_scratch_folder_reach_the_sandbox_as_data(tmp_path, files):
    """Each file bound from the scratch folder is read from a descriptor of its own, by sh up to fd 9,
    by bash past it: every one arrives whole at its place, and mountinfo names none of their sources."""
    from agent_runtime.safety import view
    from agent_runtime.safety.isolation import args_through_file, isolation

    iso = isolation()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    options = [*iso.flags, *view.system_args(), "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/data"]
    for n in range(files):
        (scratch / f"f{n}").write_text(f"content {n}\n")
        options += ["--ro-bind", str(scratch / f"f{n}"), f"/data/f{n}"]
    argv = ["sh", "-c", "for f in /data/f*; do cat $f; done; cat /proc/self/mountinfo"]
    done = subprocess.run(args_through_file(iso.bwrap, [iso.bwrap, *options, "--", *argv], argv, scratch),
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("".join(f"content {n}\n" for n in sorted(range(files), key=str))), done
    assert str(scratch) not in done.stdout and " /data/f0 " in done.stdout, done.stdout
