"""One door to the host for git (issue 30): every git process the agent starts goes through
agent_runtime/gitcmd.py, which runs nothing of the repository's. Read from the source (no git
started anywhere else, every other process the agent starts listed with what it runs), and
attacked with the hostile repository of tests/hostile_repo.py through the door itself. GitPython
only through the door's Repo (agent_runtime/gitrepo.py): imported nowhere else, no plain Repo or Git
made anywhere, and what would let it run git its own way refused (its attacks through a crafted `.git`:
test_gitpython_door.py).
The entry points (tools, CLI, MCP, a replayed task) are driven in test_hostile_entry_points.py.
Run as root and as an unprivileged user (tests/safety/test_unprivileged.py)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from hostile_repo import make_hostile_repo

from agent_runtime import gitcmd
from agent_runtime.gitcmd import GitError, SafeGit, UnsafeRepository, config_file_get, run_git, safe_git

PACKAGE = Path(__file__).resolve().parents[2] / "agent_runtime"
DOOR = "gitcmd.py"

# Calls that start a process, by the name they are called with.
PROCESS_CALLS = {
    "subprocess": {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"},
    "os": {"system", "popen", "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe",
           "spawnv", "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe",
           "posix_spawn", "posix_spawnp"},
    "asyncio": {"create_subprocess_exec", "create_subprocess_shell"},
    "pty": {"spawn"},
}
# Every process the agent starts outside the door, and what it runs: none is git, none is a
# program a repository configures. A new one fails here until it is listed (and checked).
KNOWN_PROCESSES = {
    "cli/memory.py": (1, "the user's own $VISUAL/$EDITOR on AGENTS.md, from the terminal"),
    "eval/repo.py": (1, "a task's check command, without bwrap only (the eval's own tasks)"),
    "eval/runner.py": (1, "a system under test of the eval, as the user configured it"),
    "models/embedded.py": (1, "llama.cpp's server, this interpreter"),
    "safety/executor.py": (2, "the model's code in the sandboxed child (this interpreter), and its probe"),
    "safety/isolation.py": (1, "bubblewrap's probe"),
    "safety/planted.py": (1, "rm -rf of a planted folder through its directory's fd (a tree of any depth)"),
    "safety/sandbox.py": (2, "rg over the workspace (no configuration read), the judged command in the sandbox"),
    "telemetry/phoenix.py": (1, "Phoenix's server, this interpreter"),
    "tools/commands.py": (1, "python3 -c 'find_spec(pytest)', from /, absolute PATH entries only"),
    "tools/hooks.py": (1, "the user's own hooks (hooks.toml in the user's config, never a repository's)"),
    "tools/rg.py": (2, "ripgrep with --no-config"),
}


def process_calls(path: Path) -> list[tuple[int, str, ast.Call]]:
    """(line, what, call) for every call in `path` that starts a process."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imported: dict[str, tuple[str, str]] = {}  # `from subprocess import run` -> run: (subprocess, run)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in PROCESS_CALLS:
            for alias in node.names:
                if alias.name in PROCESS_CALLS[node.module]:
                    imported[alias.asname or alias.name] = (node.module, alias.name)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and func.attr in PROCESS_CALLS.get(func.value.id, ()):
            found.append((node.lineno, f"{func.value.id}.{func.attr}", node))
        elif isinstance(func, ast.Name) and func.id in imported:
            found.append((node.lineno, ".".join(imported[func.id]), node))
    return found


def names_git(node: ast.AST) -> bool:
    """Does this expression (a process call's arguments, or anything) name the git program?"""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            text = sub.value.strip()
            if text == "git" or text.endswith("/git") or text.startswith(("git ", "exec git ")):
                return True
        if isinstance(sub, ast.Call) and getattr(sub.func, "attr", getattr(sub.func, "id", "")) == "which" \
                and any(isinstance(a, ast.Constant) and a.value == "git" for a in sub.args):
            return True
    return False


def test_no_git_process_starts_anywhere_but_the_door():
    wrong, counts = [], {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == DOOR:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, what, call in process_calls(path):
            counts[rel] = counts.get(rel, 0) + 1
            if names_git(call):
                wrong.append(f"agent_runtime/{rel}:{line}: {what} starts git: use agent_runtime.gitcmd")
        # `git = shutil.which("git")` then `subprocess.run([git, ...])` is the same thing
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "which" \
                    and names_git(node):
                wrong.append(f"agent_runtime/{rel}:{node.lineno}: looks git up to run it: use agent_runtime.gitcmd")
    assert wrong == [], "\n".join(wrong)
    expected = {rel: count for rel, (count, _) in KNOWN_PROCESSES.items()}
    assert counts == expected, ("a process is started where none was, or one is gone: list each in KNOWN_PROCESSES "
                                f"with what it runs (never git, never a repository's program): {counts}")


# GitPython (and gitdb under it) only in the door's own module for it: a plain git.Repo or git.Git runs
# git with the inherited environment and none of the door's pins, and reads .git in Python.
GITPYTHON_DOOR = "gitrepo.py"
GITPYTHON_MODULES = ("git", "gitdb")
# A GitPython object that starts git or opens a repository on its own, by the last parts of its name.
GITPYTHON_OPENERS = {("Repo",), ("Git",), ("Repo", "init"), ("Repo", "clone_from"), ("cmd", "Git")}


def gitpython_uses(path: Path) -> list[tuple[int, str]]:
    """(line, what) for every import of GitPython, and every call that makes a plain Repo or Git."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bound = {"git": "git"}  # local name -> what it is; `git` however bound (the door binds it by assignment)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in GITPYTHON_MODULES:
                    found.append((node.lineno, f"imports {alias.name}"))
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in GITPYTHON_MODULES:
            found.append((node.lineno, f"imports from {node.module}"))
            bound.update({alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names})
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        parts, func = [], node.func
        while isinstance(func, ast.Attribute):
            parts.insert(0, func.attr)
            func = func.value
        if isinstance(func, ast.Name) and func.id in bound:
            names = [*bound[func.id].split("."), *parts]
            if any(tuple(names[-len(tail):]) == tail for tail in GITPYTHON_OPENERS):
                found.append((node.lineno, f"{'.'.join(names)}(...) outside the door"))
    return sorted(found)


def test_gitpython_runs_git_only_through_the_door():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for line, what in gitpython_uses(path):
            if rel != GITPYTHON_DOOR or "outside the door" in what:
                wrong.append(f"agent_runtime/{rel}:{line}: {what}: use agent_runtime.gitrepo (door_repo, DoorRepo)")
    assert wrong == [], "\n".join(wrong)
    assert gitpython_uses(PACKAGE / GITPYTHON_DOOR), "the door's module no longer imports GitPython: update this test"


def test_the_source_check_sees_plain_gitpython_however_it_is_named(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import git\nimport git as g\nfrom git import Repo as R\nfrom git.cmd import Git\n"
                      "git.Repo('.')\ng.Repo.init('x')\nR('.')\nGit('.').status()\ngit.cmd.Git().log()\n"
                      "g.Repo.clone_from('a', 'b')\nDoorRepo(door)\nother.Repo('.')\n")
    calls = [(line, what) for line, what in gitpython_uses(sample) if "outside the door" in what]
    assert [line for line, _ in calls] == [5, 6, 7, 8, 9, 10]
    assert len(gitpython_uses(sample)) == 4 + 6


def test_the_source_check_sees_git_however_it_is_started(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import subprocess, shutil, os\nfrom subprocess import run as r\n"
                      "subprocess.run(['git', 'status'])\n"
                      "r(['git', '-C', '.', 'log'])\n"
                      "git = shutil.which('git')\n"
                      "os.system('git log -p')\n"
                      "subprocess.Popen([sys.executable, '-c', 'pass'])\n")
    found = process_calls(sample)
    assert [(line, what) for line, what, _ in found] == [(3, "subprocess.run"), (4, "subprocess.run"),
                                                        (6, "os.system"), (7, "subprocess.Popen")]
    assert [names_git(call) for _, _, call in found] == [True, True, True, False]


# --- the issue's first reproduction: the partial clone's core.sshCommand, run while judging ---

def partial_clone_with_ssh_command(tmp_path: Path) -> tuple[Path, Path]:
    """The issue's shell reproduction, step by step."""
    repo, marker = tmp_path / "r", tmp_path / "marker"
    script = ("git init -q \"$R\"; cd \"$R\"\n"
              "echo a>a; git add a; git commit -qm 1; echo b>b; git add b; git commit -qm 2\n"
              "o=$(git rev-parse HEAD:b); rm .git/objects/$(echo $o | cut -c1-2)/$(echo $o | cut -c3-)\n"
              "git config core.repositoryformatversion 1; git config extensions.partialClone origin\n"
              "git config remote.origin.url ssh://evil.invalid/x; git config remote.origin.promisor true\n"
              "git config core.sshCommand \"sh -c 'id >$M; exit 1' --\"\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "R": str(repo), "M": str(marker),
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["sh", "-ec", script], env=env, check=True, capture_output=True)
    return repo, marker


def test_the_issues_first_reproduction_runs_nothing_while_judging(tmp_path):
    repo, marker = partial_clone_with_ssh_command(tmp_path)
    done = run_cli("--approval", "never", "policy", "check", "git log -p", cwd=repo)
    assert not marker.exists(), f"judging `git log -p` ran the repository's core.sshCommand: {marker.read_text()}"
    assert done.returncode == 10, done.stdout + done.stderr  # ask: the history could not be checked
    assert "could not be checked" in done.stdout + done.stderr


def test_the_reproduction_is_live_without_the_door(tmp_path):
    """The same walk with plain git runs core.sshCommand: what the door is for."""
    repo, marker = partial_clone_with_ssh_command(tmp_path)
    subprocess.run(["git", "rev-list", "--objects", "--all", "--reflog", "--indexed-objects"], cwd=repo,
                   capture_output=True, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
                   stdin=subprocess.DEVNULL, timeout=120)
    assert marker.exists()


def partial_clone_with_ext_transport(tmp_path: Path) -> tuple[Path, Path]:
    """A partial clone whose promisor is reached by the `ext::` transport (a command of the
    repository's), allowed by the repository's own protocol.ext.allow=always."""
    repo, marker = partial_clone_with_ssh_command(tmp_path)
    for key, value in (("remote.origin.url", f"ext::sh -c id%S>{marker}"), ("protocol.ext.allow", "always")):
        subprocess.run(["git", "config", key, value], cwd=repo, check=True, env={"PATH": os.environ["PATH"]})
    return repo, marker


def test_a_git_without_no_lazy_fetch_still_reaches_no_transport(tmp_path, monkeypatch):
    """Gits the door accepts (MIN_GIT) but older than GIT_NO_LAZY_FETCH fetch a missing object; a
    repository's protocol.ext.allow=always lifts the door's protocol.allow=never, GIT_ALLOW_PROTOCOL
    does not. Simulated by leaving GIT_NO_LAZY_FETCH out of the door's environment."""
    repo, marker = partial_clone_with_ext_transport(tmp_path)
    monkeypatch.delitem(gitcmd._DOOR_ENV, "GIT_NO_LAZY_FETCH")
    done = run_git(["rev-list", "--objects", "--all"], repo)
    assert not marker.exists(), "the repository's ext:: command ran on the host"
    assert done.returncode != 0
    # what the lock holds shut: without it, the same walk runs the repository's command
    monkeypatch.delitem(gitcmd._DOOR_ENV, "GIT_ALLOW_PROTOCOL")
    env = gitcmd.git_environment()
    subprocess.run([*gitcmd._pins(()), "rev-list", "--objects", "--all"], cwd=repo, env=env, capture_output=True,
                   stdin=subprocess.DEVNULL, timeout=60)
    assert marker.exists()


# --- the door itself over the hostile repository ---

def test_the_hostile_repository_is_live_without_the_door(hostile):
    """Plain git over the fixture runs its programs: each test that finds no marker means something."""
    env = {"PATH": os.environ["PATH"], "HOME": str(hostile.root), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0"}  # the programs run; only a prompt on a terminal is left out
    # status: fsmonitor, index hooks; diff HEAD~1 HEAD: diff.external; rev-list: the lazy fetch;
    # diff: the work tree's files through the filter (last: the failing filter stops git)
    for args in (["status"], ["diff", "HEAD~1", "HEAD"], ["rev-list", "--objects", "--all"], ["diff"]):
        subprocess.run(["git", *args], cwd=hostile.root, capture_output=True, env=env, timeout=120,
                       stdin=subprocess.DEVNULL)
    written = set(hostile.markers_written())
    assert {"ssh", "fsmonitor", "diff-external"} <= written, written
    assert written & {"filter-clean", "filter-process"}, written
    subprocess.run(["git", "status"], cwd=hostile.root / "vendor" / "lib", capture_output=True, env=env, timeout=120,
                   stdin=subprocess.DEVNULL)
    assert "lib-fsmonitor" in hostile.markers_written()


READS = [["status", "--porcelain=v1", "-z", "--untracked-files=all"], ["diff"], ["diff", "--cached"],
         ["diff", "HEAD~2"], ["log", "-p"], ["log", "-p", "--all", "--reflog"], ["show", "HEAD~2"],
         ["show", "--show-signature", "HEAD"], ["rev-list", "--objects", "--all", "--reflog", "--indexed-objects"],
         ["ls-files", "-z", "--cached"], ["format-patch", "-1", "--stdout"], ["blame", "notes.txt"],
         ["grep", "-e", "notes"], ["archive", "--format=tar.evil", "HEAD"], ["whatchanged", "-1"],
         ["cat-file", "--textconv", "HEAD:notes.txt"], ["interpret-trailers", "--trailer", "evil=x"]]


def test_the_door_runs_nothing_of_the_repositorys(hostile):
    repo = safe_git(hostile.root)
    outputs = []
    for args in READS:
        done = repo.call(*args)
        outputs.append(done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace"))
    assert hostile.markers_written() == []
    walk = repo.call("rev-list", "--objects", "--all", "--reflog", "--indexed-objects")
    assert walk.returncode != 0 and b"missing" in walk.stderr  # the missing object is an error, not a fetch
    assert "+notes, changed" in outputs[1]  # the diff still works, without textconv or filters
    lib = safe_git(hostile.root / "vendor" / "lib")  # its config a symlink inside the workspace
    for args in READS:
        lib.call(*args)
    assert hostile.markers_written() == []
    # the writes the eval makes, in a repository of the hostile kind: still nothing runs
    for args in (["add", "-A"], ["commit", "-q", "-m", "x"], ["checkout", "-q", "-b", "other"],
                 ["stash"], ["gc", "--auto"]):
        run_git(args, hostile.root, env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                                         "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    assert hostile.markers_written() == []


@pytest.mark.parametrize("nested", ["vendor/out", "vendor/link"])
def test_a_repository_configured_from_outside_it_is_refused(hostile, nested):
    """include.path to a file outside, or .git/config a symlink to one: git is not run there."""
    repo = safe_git(hostile.root / nested)
    with pytest.raises(UnsafeRepository, match="outside it"):
        repo.call("status")
    with pytest.raises(UnsafeRepository):
        run_git(["log", "-p"], hostile.root / nested)
    assert hostile.markers_written() == []


def test_a_filter_named_with_an_equals_sign_is_blanked_too(tmp_path):
    """`-c` cannot name `filter.a=b.clean`; the door's GIT_CONFIG_KEY_n can."""
    hostile = make_hostile_repo(tmp_path)
    script = hostile.markers / "odd.sh"
    script.write_text(f"#!/bin/sh\necho ran >> {hostile.markers / 'odd-filter'}\ncat\n")
    script.chmod(0o755)
    subprocess.run(["git", "config", "filter.a=b.clean", str(script)], cwd=hostile.root, check=True,
                   env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    (hostile.root / ".gitattributes").write_text("*.txt filter=a=b\n")
    safe_git(hostile.root).call("status")
    safe_git(hostile.root).call("diff")
    assert hostile.markers_written() == []


def test_the_environment_is_clean_and_transport_is_closed(monkeypatch, tmp_path):
    for name, value in {"GIT_SSH_COMMAND": "touch /x", "GIT_EXTERNAL_DIFF": "touch /x", "GIT_DIR": "/elsewhere",
                        "GIT_CONFIG_PARAMETERS": "'core.pager'='touch /x'", "GIT_CONFIG_COUNT": "1",
                        "SSH_ASKPASS": "/x", "GIT_ASKPASS": "/x", "OPENAI_API_KEY": "sk-x", "XDG_CONFIG_HOME": "/x",
                        "PAGER": "less", "EDITOR": "vi", "PATH": f".:relative/bin:{os.environ['PATH']}"}.items():
        monkeypatch.setenv(name, value)
    env = gitcmd.git_environment()
    assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL"} | {k for k in env if k.startswith("GIT_")}
    assert "GIT_SSH_COMMAND" not in env and "GIT_EXTERNAL_DIFF" not in env and "GIT_DIR" not in env
    assert "GIT_CONFIG_PARAMETERS" not in env and "GIT_CONFIG_COUNT" not in env and "XDG_CONFIG_HOME" not in env
    assert env["GIT_NO_LAZY_FETCH"] == "1" and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert all(os.path.isabs(p) for p in env["PATH"].split(os.pathsep))
    with pytest.raises(ValueError):
        gitcmd.git_environment({"GIT_SSH_COMMAND": "x"})
    command = SafeGit(tmp_path).command("status")
    assert "protocol.allow=never" in command and "credential.helper=" in command
    assert "core.sshCommand=false" in command and "core.hooksPath=/dev/null" in command
    assert not any("safe.directory" in arg for arg in command)  # git's ownership check is never waived
    # a fetch is refused before any transport starts
    src, dst = tmp_path / "src", tmp_path / "dst"
    for path in (src, dst):
        subprocess.run(["git", "init", "-q", str(path)], check=True, env={"PATH": os.environ["PATH"]})
    done = run_git(["fetch", str(src)], dst)
    assert done.returncode != 0 and b"not allowed" in done.stderr


def test_a_config_file_is_read_without_a_repository_around(hostile, tmp_path):
    config = hostile.root / ".git" / "config"
    assert config_file_get(config, "core.sshCommand") == str(hostile.markers / "ssh.sh")
    assert config_file_get(config, "core.nothing") is None
    assert config_file_get(tmp_path / "missing", "core.sshCommand") is None
    assert hostile.markers_written() == []


def test_a_configuration_that_never_ends_is_an_error_not_a_hang(tmp_path, monkeypatch):
    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    os.mkfifo(repo / "fifo.cfg")  # in the work tree: the git directory's own walk refuses a FIFO in it at once
    with open(repo / ".git" / "config", "a") as handle:
        handle.write("[include]\n\tpath = ../fifo.cfg\n")
    monkeypatch.setattr(gitcmd, "GIT_TIMEOUT_S", 2)
    with pytest.raises(GitError, match="took over"):
        safe_git(repo).call("status")
    (repo / "fifo.cfg").unlink()
    os.mkfifo(repo / ".git" / "fifo.cfg")
    with pytest.raises(GitError, match=r"fifo.cfg is not a file \(a FIFO"):
        safe_git(repo).call("status")


def test_a_git_symlink_to_a_repository_outside_is_someone_elses(hostile, tmp_path):
    """`.git -> /elsewhere/.git` is followed by git like a `gitdir:` file: not this work tree's."""
    work = tmp_path / "work"
    work.mkdir()
    (work / ".git").symlink_to(hostile.root / ".git")
    with pytest.raises(gitcmd.ForeignRepository):
        safe_git(work)
    done = run_cli("--approval", "never", "policy", "check", "git log -p", cwd=work)
    assert done.returncode == 10 and "outside the workspace" in done.stdout + done.stderr
    assert hostile.markers_written() == []


def test_a_git_too_old_for_the_door_is_refused_not_run_unprotected(tmp_path, monkeypatch):
    """Before 2.31 git ignores GIT_CONFIG_COUNT: the repository's filters would run. Every call fails."""
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'git version 2.25.1'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    gitcmd._version_problem.cache_clear()
    try:
        with pytest.raises(GitError, match="2.25.1 is too old"):
            run_git(["status"], tmp_path)
    finally:
        gitcmd._version_problem.cache_clear()


# --- GitPython through the door (issue 42): gitrepo.DoorRepo over the hostile repository ---

def test_gitpython_through_the_door_runs_nothing_of_the_repositorys(hostile):
    from agent_runtime.gitrepo import DoorCommandError, NotThroughTheDoor, door_repo

    repo = door_repo(hostile.root)
    assert "notes" in repo.git.status("--porcelain=v1", "--untracked-files=all")  # fsmonitor, index hooks
    assert "+notes, changed" in repo.git.diff()  # the work tree through the filter, textconv
    repo.git.diff("HEAD~1", "HEAD")  # diff.external
    assert repo.git.log("--max-count=5", "--format=%H %s").strip()  # git_log's call
    with pytest.raises(NotThroughTheDoor):  # GitPython's objects, parsed in Python: not used
        repo.iter_commits("HEAD")
    with pytest.raises(DoorCommandError, match="missing"):  # the lazy fetch: an error, not core.sshCommand
        repo.git.rev_list("--objects", "--all")
    repo.git.log("-p", "--show-signature", with_exceptions=False)  # pager.log, gpg (fails at the missing blob)
    assert hostile.markers_written() == []


def test_what_would_let_gitpython_run_git_its_own_way_is_refused(hostile):
    """A `-c` before the subcommand beats the door's pins; an environment, a shell or a live stdin would
    be GitPython's, not the door's: each is refused before git starts."""
    from subprocess import PIPE

    from agent_runtime.gitrepo import NotThroughTheDoor, door_repo

    repo = door_repo(hostile.root)
    fsmonitor = str(hostile.markers / "fsmonitor.sh")
    attempts = [lambda: repo.git(c=f"core.fsmonitor={fsmonitor}").status(),
                lambda: repo.git.status(env={"GIT_CONFIG_PARAMETERS": f"'core.fsmonitor'='{fsmonitor}'"}),
                lambda: repo.git.status(shell=True), lambda: repo.git.status(universal_newlines=True),
                lambda: repo.git.cat_file("--batch", istream=PIPE, as_process=True),
                lambda: repo.git.execute("git status"), lambda: repo.git.execute(["git", "--git-dir=/x", "status"])]
    for attempt in attempts:
        with pytest.raises(NotThroughTheDoor):
            attempt()
    repo.git.update_environment(GIT_DIR="/elsewhere")
    with pytest.raises(NotThroughTheDoor):
        repo.git.status()
    assert hostile.markers_written() == []


def test_plain_gitpython_runs_the_repositorys_programs(hostile, monkeypatch):
    """What the door is for: GitPython's own git, as anyone would use it, runs them."""
    from agent_runtime.gitrepo import git as gitpython

    monkeypatch.setattr(gitpython.Git, "GIT_PYTHON_GIT_EXECUTABLE", "git")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    repo = gitpython.Repo(hostile.root)
    repo.git.status(with_exceptions=False)
    repo.git.diff("HEAD~1", "HEAD", with_exceptions=False)
    assert {"fsmonitor", "diff-external"} <= set(hostile.markers_written())


def test_importing_gitpython_through_the_door_starts_no_git(tmp_path):
    """GitPython runs `git version` when imported, with the inherited PATH: `.` there would start the
    workspace's own `git`. Imported by the door, it starts nothing; imported plainly, it runs it."""
    marker = tmp_path / "ran"
    fake = tmp_path / "ws" / "git"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {marker}\necho 'git version 2.99.0'\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f".{os.pathsep}{os.environ['PATH']}"}
    env.pop("GIT_PYTHON_GIT_EXECUTABLE", None)
    for module, runs in (("agent_runtime.gitrepo", False), ("git", True)):
        done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=fake.parent, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert marker.exists() == runs, (module, marker.exists())
