"""Red team, the tools: a hostile repository and a hostile model against the tools' own checks.

Broke, fixed:
- starting the agent in a repository with a `pytest.py` ran it on the host, before the model's
  first reply (the test-command probe ran `python3 -c "import pytest"` in the repository);
- a `pyproject.toml` / `Makefile` that is a FIFO or a symlink to /dev/zero hung the agent or filled
  its memory (the test-command detection read them whole);
- a `.git` *file* saying `gitdir: ../private/.git` made git_diff print every file of that other
  repository as deleted lines (and git_log its history), without any approval.
Held (kept as tests): path tricks against read_file, approval bypasses through positional
arguments, a dict or extra keywords, rg options smuggled in a pattern or glob.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, VENV_BIN, git, make_repo, run_cli, step, write_replay

from agent_runtime.safety.policy import Policy
from agent_runtime.tools import commands as commands_module
from agent_runtime.tools.commands import detect_test_command

SECRET = "hunter2xyz"


@pytest.fixture
def hostile_repo(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "PWNED"
    repo = make_repo(tmp_path / "hostile", {
        **BUGGY_PROJECT,
        # Whatever imports or runs these on the host leaves the marker.
        "pytest.py": f"open({str(marker)!r}, 'a').write('pytest.py ran on the host\\n')\n",
        "python3": f"#!/bin/sh\necho 'python3 ran on the host' >> {marker}\n",
    })
    (repo / "python3").chmod(0o755)
    (repo / ".env").write_text(f"SECRET={SECRET}\n")
    return repo, marker


def test_starting_the_agent_in_a_hostile_repo_runs_nothing_of_it(hostile_repo, tmp_path):
    repo, marker = hostile_repo
    replay = write_replay(tmp_path / "r.json", [step("Look.", "print(repo_info())\nprint(run_tests())"),
                                                step("Done.", 'final_answer("ok")')])
    # The user's PATH may hold "." (ours does not by default): the probe must not pick ./python3.
    result = run_cli("--approval", "never", "--model", f"replay:{replay}", "check the tests", cwd=repo,
                     env={"PATH": f".:{VENV_BIN}:/usr/bin:/bin", "RUNS_DIR": str(tmp_path / "runs")})
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), marker.read_text()


def test_the_pytest_probe_never_imports_the_repositorys_pytest(hostile_repo, monkeypatch):
    repo, marker = hostile_repo
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PATH", f".:{VENV_BIN}:/usr/bin:/bin")
    commands_module._python_with_pytest.cache_clear()
    try:
        assert detect_test_command(repo) == "python3 -m pytest -q"
    finally:
        commands_module._python_with_pytest.cache_clear()
    assert not marker.exists()


@pytest.mark.parametrize("name", ["pyproject.toml", "Makefile", "package.json"])
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_test_detection_does_not_hang_on_special_files(tmp_path, name, kind):
    repo = make_repo(tmp_path / "r", {"README.md": "x\n"})
    if kind == "fifo":
        os.mkfifo(repo / name)
    else:
        (repo / name).symlink_to("/dev/zero")
    found: dict = {}
    thread = threading.Thread(target=lambda: found.setdefault("command", detect_test_command(repo)), daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), f"detect_test_command hangs on a {kind} {name}"
    assert found["command"] is None


# --- a .git file that points to someone else's repository ---


@pytest.fixture
def foreign(tmp_path) -> Path:
    private = make_repo(tmp_path / "private", {"settings.py": 'PASSWORD = "corp-db-pass-123"\n'})
    git(private, "commit", "-q", "--allow-empty", "-m", "internal: rotate the production keys")
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / ".git").write_text("gitdir: ../private/.git\n")
    (evil / "readme.md").write_text("hello\n")
    return evil


def test_git_tools_do_not_follow_a_gitfile_into_another_repository(foreign, tools_for):
    assert "corp-db-pass" in subprocess.run(["git", "diff"], cwd=foreign, capture_output=True, text=True).stdout, \
        "the attack is real for plain git"
    _, tools = tools_for(foreign)
    for name in ("git_diff", "git_log", "git_status", "repo_info"):
        text = str(dict(tools[name]()))
        assert "corp-db-pass" not in text and "rotate" not in text, (name, text)
    assert "outside the workspace" in tools["git_diff"]()["error"]


def test_git_commands_reading_another_repository_ask(foreign):
    policy = Policy.load()
    for command in ("git show HEAD:settings.py", "git diff", "git log -p"):
        assert policy.check_command(command, foreign).decision == "ask", command


def test_linked_worktrees_and_submodules_still_work(tmp_path, tools_for):
    main = make_repo(tmp_path / "main", {"a.txt": "a\n"})
    git(main, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "feature")
    (tmp_path / "wt" / "a.txt").write_text("a changed in the worktree\n")
    _, tools = tools_for(tmp_path / "wt")
    assert "a changed in the worktree" in tools["git_diff"]()["diff"]

    lib = make_repo(tmp_path / "lib", {"lib.py": "v = 1\n"})
    sup = make_repo(tmp_path / "super", {"README.md": "x\n"})
    git(sup, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    git(sup, "commit", "-q", "-m", "add lib")
    (sup / "lib" / "lib.py").write_text("v = 2\n")
    assert (sup / "lib" / ".git").is_file()
    _, tools = tools_for(sup / "lib")
    assert "+v = 2" in tools["git_diff"]()["diff"]


# --- a hostile model: paths and argument forms ---


@pytest.mark.parametrize("path", [
    ".env", "./.env", "sub/../.env", ".env/", " .env ", ".//.env", ".ENV", ".Env", "link-to-env",
    "link-to-dir/.env", "environ", "{root}/.env", "../hostile/.env", ".env\x00.txt", "a" * 5000,
    ".git/config", ".git//config", ".GIT/config", ".git/objects",
])
def test_read_file_path_tricks(hostile_repo, tools_for, path):
    repo, _ = hostile_repo
    (repo / "sub").mkdir(exist_ok=True)
    (repo / "link-to-env").symlink_to(".env")
    (repo / "link-to-dir").symlink_to(".")
    (repo / "environ").symlink_to("/proc/self/environ")
    git(repo, "remote", "add", "origin", "https://me:ghp_remotetoken123@github.com/x/y.git")
    _, tools = tools_for(repo)
    result = tools["read_file"](path=path.format(root=repo))
    assert "error" in result and SECRET not in str(dict(result)) and "remotetoken" not in str(dict(result)), result


def test_approval_cannot_be_skipped_by_the_form_of_the_call(hostile_repo, tools_for):
    repo, _ = hostile_repo
    _, tools = tools_for(repo, approval="never")
    run_cmd = tools["run_cmd"]
    for call in (lambda: run_cmd("rm calc.py"), lambda: run_cmd({"command": "rm calc.py"}),
                 lambda: run_cmd(**{"command": "rm calc.py"}),
                 lambda: run_cmd(command="rm calc.py", sanitize_inputs_outputs=True),
                 lambda: run_cmd("rm calc.py", 5)):
        result = call()
        assert "error" in result, result
    assert (repo / "calc.py").exists()


@pytest.mark.parametrize("args", [
    {"pattern": "--pre=./python3"}, {"pattern": "-f/etc/passwd"}, {"pattern": "x", "glob": "--pre=./python3"},
    {"pattern": "SECRET", "glob": ".env"}, {"pattern": "SECRET", "glob": "{.env,*.py}"},
    {"pattern": "SECRET", "glob": "!*.py"}, {"pattern": "SECRET", "path": "."},
])
def test_rg_options_cannot_be_smuggled_in(hostile_repo, tools_for, args):
    repo, marker = hostile_repo
    _, tools = tools_for(repo)
    result = tools["rg_search"](**args)
    assert SECRET not in str(dict(result)) and "root:" not in str(dict(result))
    assert not marker.exists()


def test_list_files_globs_never_show_hidden_names(hostile_repo, tools_for):
    repo, _ = hostile_repo
    (repo / ".Env.local").write_text("X=1\n")
    _, tools = tools_for(repo)
    for pattern in (".env", ".env*", "*env*", ".[eE]nv*", "**/.env", "{.env,calc.py}"):
        files = tools["list_files"](pattern=pattern)["files"]
        assert not [f for f in files if f.lower().startswith(".env")], (pattern, files)


def test_patches_cannot_reach_git_or_dotenv_by_case(hostile_repo, tools_for):
    repo, _ = hostile_repo
    _, tools = tools_for(repo, approval="auto")
    for path in (".GIT/hooks/pre-commit", ".ENV"):
        result = tools["propose_patch"](path=path, old="", new="touch PWNED\n")
        assert "error" in result, (path, result)
    assert not (repo / ".GIT").exists() and not (repo / ".ENV").exists()
    assert stat.S_ISDIR((repo / ".git").stat().st_mode)
