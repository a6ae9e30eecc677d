"""The safety tests again, as an unprivileged user, when the suite runs as root (as CI does).

Root and an ordinary user meet different walls: as root bubblewrap must take capabilities away
itself (a user namespace, --cap-drop ALL), RLIMIT_NPROC does not hold, file modes do not stop
reads; as a user the sandbox must still start (unprivileged user namespaces) and do everything
without privileges. So the tests whose outcome depends on who runs them are run a second time
as another user (AGENT_RUNTIME_TEST_USER, default `nobody`) under `runuser`.

That user must reach the interpreter and the repository: the interpreter often lives under
/root (pyenv), which is 0700. In a private mount namespace (only this run sees it) each
directory it cannot enter is covered by an empty tmpfs, and the paths it needs under it
(the repository, the virtualenv, the base interpreter) are bound back. Its $HOME is a fresh
directory outside /tmp (the sandbox's /tmp is private: a $HOME there would be hidden from
commands whatever the sandbox's view of the homes, and tests check that view).

Marked slow (about a minute or two of the same tests again): `make test` runs it, `make test-fast`
does not.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT

# The tests whose outcome depends on who runs them: the sandboxes (commands and the model's code)
# attacked, the reproductions from the trust-boundaries issue, the file and git tools on disk.
UNPRIVILEGED_TESTS = [
    "tests/safety/test_sandbox.py",
    "tests/safety/test_sandbox_view.py",  # the homes an allow-list, skills read-only, no hidden path in /proc
    "tests/safety/test_planted.py",  # git's configuration planted at any depth by a sandboxed command
    "tests/safety/test_obeyed_files.py",  # what editors and other agents obey on open: read-only to commands
    "tests/safety/test_attack_found.py",  # undo and apply while a sandboxed process swaps a folder for a link out
    # the everyday corpus in a hostile workspace: nothing written outside, nothing read out of view
    "tests/safety/test_policy_diff.py::test_the_everyday_corpus_in_a_hostile_workspace_writes_nothing_outside_and_reads_nothing_out_of_view",
    "tests/safety/test_config_readers.py",  # a repository's .env symlinked to a key
    "tests/safety/test_symlinked_reads.py",  # the tests swap a source file or folder for a link out
    "tests/safety/test_rg_reads.py",  # ripgrep's ignore files linked out of the workspace, or FIFOs
    "tests/safety/test_agent_state_hidden.py",  # run records, logs, journal, history out of the sandbox's sight
    "tests/safety/test_redteam.py",
    "tests/safety/test_containment.py",  # what the sandbox lets run without asking, trying to get out
    "tests/safety/test_wrappers.py",  # wrapped deletions run for real with approval never (issue 30)
    "tests/safety/test_policy_paths.py",  # a token in $HOME, read as ~, $HOME, a glob: refused (issue 45)
    "tests/safety/test_judge.py",  # the judge gated on the sandbox
    "tests/safety/test_executor.py::test_the_issues_attacks_do_no_harm",
    "tests/safety/test_executor.py::test_tools_in_the_child_are_bare_proxies",
    "tests/safety/test_executor.py::test_the_child_sandbox_holds_nothing_even_for_raw_python",
    "tests/safety/test_executor.py::test_the_agent_process_environment_does_not_reach_the_child",
    "tests/tools/test_boundaries.py",
    # git on the host only through gitcmd's door, attacked with the hostile repository (issue 30)
    "tests/safety/test_git_door.py",
    "tests/safety/test_hostile_entry_points.py",
    "tests/safety/test_git_dir_escape.py",  # a git directory leading to another repository (issue 45)
    "tests/safety/test_gitpython_door.py",  # GitPython's Repo led by a crafted .git (issue 42)
    "tests/safety/test_git_race.py",  # the door raced: a filter or commondir flipped in runs contained
    "tests/safety/test_git_planting.py",  # hooks and git directories read-only in the sandbox, existing or not
    # undo without asking only for the session's own patch, and never where a write is denied
    "tests/tools/test_code_tools.py::test_undoing_this_sessions_patch_is_not_asked_an_older_one_is_asked_with_its_diff",
    "tests/tools/test_code_tools.py::test_a_restore_is_judged_for_its_paths_like_a_write",
    "tests/tools/test_redteam.py",
    "tests/tools/test_mcp_sandbox.py",  # a hostile MCP server the user configured, in bubblewrap
    # a server that hangs in a call or at its start: stopped, its processes gone, whoever runs it
    "tests/tools/test_mcp_client.py::test_a_hung_server_times_out_and_its_process_is_gone",
    "tests/tools/test_mcp_client.py::test_a_server_that_never_answers_its_start_is_left_out_in_its_startup_timeout_and_stopped",
    "tests/cli/test_mcp_server.py::test_the_server_refuses_what_the_policy_refuses",
    # the attacks of the MCP review: a hostile server in bubblewrap, a client of agent-runtime mcp
    "tests/tools/test_mcp_attacks.py",
    # an MCP tool's saved approval: never over a deny, only its exact name, never from a repository
    "tests/tools/test_mcp_approvals.py",
    "tests/cli/test_mcp_server.py::test_a_client_cannot_write_configuration_or_read_outside_even_with_auto",
    "tests/telemetry/test_redteam_redact.py",
    # the traced test run (run_tests' values): nothing more runs than the judged command
    "tests/code/test_values.py::test_the_traced_command_quotes_every_word_so_it_can_do_nothing_more",
    "tests/code/test_values.py::test_values_are_refused_clearly_where_they_cannot_be_read",
    # checkpoints: a command's changes undone byte for byte, nothing of a hostile repository run
    "tests/patches/test_checkpoints.py",
    # skills (issue 32): a promoted tool's attacks in the sandbox, a repository's skills and links out
    "tests/tools/test_promoted.py",
    "tests/tools/test_skills.py",
]
# Where the user's $HOME is mounted (a tmpfs in the private mount namespace): the first of these
# that exists and holds nothing the run needs.
HOME_MOUNTS = ("/mnt", "/srv", "/media", "/opt")
RUN_TIMEOUT_S = 1500


def _user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(os.environ.get("AGENT_RUNTIME_TEST_USER", "nobody"))
    except KeyError:
        return None


def _enterable(path: Path, user: pwd.struct_passwd, groups: set[int]) -> bool:
    """Can `user` pass through the directory `path` (search permission)?"""
    info = path.stat()
    if info.st_uid == user.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _needed() -> list[Path]:
    paths = {ROOT.resolve(), Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(os.path.realpath(sys.executable)).parent}
    out: list[Path] = []
    for path in sorted(paths, key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(kept) for kept in out):  # one already bound brings it along
            out.append(path)
    return out


def _home_base() -> Path | None:
    """Where to mount the tmpfs that holds the user's $HOME: outside /tmp, holding nothing needed."""
    for place in map(Path, HOME_MOUNTS):
        if place.is_dir() and not place.is_symlink() and not any(place == n or place in n.parents for n in _needed()):
            return place
    return None


def _shell_script(user: pwd.struct_passwd, stage: Path, command: list[str]) -> str:
    """What runs in the private mount namespace, as root, before it becomes `user`."""
    groups = {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem} | {user.pw_gid}
    needed = _needed()
    blocked: dict[Path, list[Path]] = {}  # directory the user cannot enter -> needed paths under it
    for path in needed:
        for parent in reversed([path, *path.parents][1:]):  # from / down, not the path itself
            if not _enterable(parent, user, groups):
                blocked.setdefault(parent, []).append(path)
                break
    lines = ["set -e"]
    staged = 0
    for directory, inside in blocked.items():  # bind each aside, cover the directory, bind it back
        places = []
        for path in inside:
            place = stage / str(staged)
            staged += 1
            places.append((path, place))
            lines += [f"mkdir -p {place}", f"mount --bind {shlex.quote(str(path))} {place}"]
        lines.append(f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(directory))}")
        for path, place in places:
            lines += [f"mkdir -p {shlex.quote(str(path))}", f"mount --bind {place} {shlex.quote(str(path))}"]
    home_base = _home_base()
    assert home_base is not None
    home = home_base / "agent-runtime-test-home"
    lines += [f"mount -t tmpfs -o mode=755 tmpfs {home_base}", f"mkdir {home}",
              f"chown {user.pw_uid}:{user.pw_gid} {home}", f"cd {shlex.quote(str(ROOT))}"]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "AGENT_RUNTIME_TEST_USER": user.pw_name}
    lines.append("exec runuser -u " + shlex.quote(user.pw_name) + " -- env -i "
                 + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " "
                 + " ".join(shlex.quote(part) for part in command))
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_the_safety_tests_pass_as_an_unprivileged_user_too():
    if os.geteuid() != 0:
        pytest.skip("runs the safety tests as another user only when the suite runs as root (this run is that user)")
    user = _user()
    if user is None or user.pw_uid == 0:
        pytest.skip(f"no unprivileged user {os.environ.get('AGENT_RUNTIME_TEST_USER', 'nobody')!r} on this machine")
    for tool in ("runuser", "unshare", "mount"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.strip()}")
    if _home_base() is None:
        pytest.skip(f"none of {', '.join(HOME_MOUNTS)} can hold the user's $HOME here")
    if ROOT.stat().st_mode & (stat.S_IROTH | stat.S_IXOTH) != stat.S_IROTH | stat.S_IXOTH:
        pytest.skip(f"{ROOT} is not readable by other users")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *UNPRIVILEGED_TESTS]
    with tempfile.TemporaryDirectory(prefix="agent-runtime-unprivileged-") as stage:
        script = _shell_script(user, Path(stage), command)
        done = subprocess.run(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script],
                              capture_output=True, text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-40:])
    assert done.returncode == 0 and " passed" in tail, f"as {user.pw_name} (uid {user.pw_uid}):\n{tail}"
    print(f"as {user.pw_name} (uid {user.pw_uid}): {tail.splitlines()[-1] if tail else ''}")
