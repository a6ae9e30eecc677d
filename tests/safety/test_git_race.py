"""The agent's own git cannot be raced into running a repository's program on the host.

The door checks a repository, then runs git. A process flipping the git directory's files between
the two (a filter in `gd/config`, a `commondir` naming another repository) used to win within ten
tries: the host's name landed in a host file, another repository's commit and file were printed.
Now git runs contained (agent_runtime/gitbox.py): what slips past the checks finds no host file to
write and no other repository to read. These tests flip as fast as they can, while the git tools
run, and look on the host.

Two flippers: one on the host (nothing stops its writes, so the door alone is tested) and one in
the command sandbox, as the issue's MCP server was (its writes to the git directory now fail).
Run as root and as an unprivileged user (tests/safety/test_unprivileged.py); slow (a minute or so).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from conftest import git

from agent_runtime.safety.sandbox import Sandbox

SECRET = "plain4711value"
ATTEMPTS = 50
FLIPS_PER_ATTEMPT = 200
ATTEMPT_LIMIT_S = 20.0  # an attempt that cannot see its flips in this time fails: the flipper is stuck

# Swaps `target` between two prepared files (or a file and nothing) as fast as it can, counting the
# swaps done and the ones refused (a read-only git directory) in `count` every 16.
FLIPPER = r"""
import os, sys
target, first, second, count = sys.argv[1:5]
done = refused = 0
while True:
    for source in (first, second):
        try:
            if source == "-":
                os.unlink(target)
            else:
                data = open(source, "rb").read()
                with open(target + ".flip", "wb") as handle:
                    handle.write(data)
                os.replace(target + ".flip", target)
            done += 1
        except OSError:
            refused += 1
        if (done + refused) % 16 == 0:
            with open(count + ".tmp", "w") as handle:
                handle.write(f"{done} {refused}")
            os.replace(count + ".tmp", count)
"""


def _workspace(tmp_path: Path) -> tuple[Path, Path]:
    """A work tree whose `.git` is `gitdir: gd`, with one committed file changed and one staged."""
    ws = tmp_path / "ws"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    (ws / "a.txt").write_text("one\n")
    (ws / "b.txt").write_text("two\n")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "own subject")
    os.rename(ws / ".git", ws / "gd")
    (ws / ".git").write_text("gitdir: gd\n")
    (ws / "a.txt").write_text("one changed\n")
    (ws / "b.txt").write_text("two changed\n")
    git(ws, "add", "b.txt")
    (ws / ".env").write_text(f"TOKEN={SECRET}\n")  # deny_read: hidden from commands, and from the agent's git
    return ws, ws / "gd"


@contextmanager
def _flipper(how: str, ws: Path, target: Path, first: str, second: str, count: Path) -> Iterator[None]:
    """The flipper running, on the host or in the command sandbox (held as an MCP server is), then stopped."""
    argv = [sys.executable if how == "host" else "python3", "-c", FLIPPER, str(target), first, second, str(count)]
    with ExitStack() as stack:
        env = None
        if how == "sandbox":
            argv, env = stack.enter_context(Sandbox(ws).program(argv))
        proc = subprocess.Popen(argv, env=env, start_new_session=True)
        try:
            yield
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


def _counts(count: Path) -> tuple[int, int]:
    try:
        done, refused = count.read_text().split()
        return int(done), int(refused)
    except (OSError, ValueError):
        return 0, 0


def _race(tools, count: Path, calls) -> tuple[list[str], list[tuple[int, int]]]:
    """ATTEMPTS rounds of the git tools, each going on until FLIPS_PER_ATTEMPT more flips were tried."""
    outputs, flips = [], []
    for _ in range(ATTEMPTS):
        start = sum(_counts(count))
        started = time.monotonic()
        while sum(_counts(count)) - start < FLIPS_PER_ATTEMPT:
            assert time.monotonic() - started < ATTEMPT_LIMIT_S, "the flipper stopped flipping"
            for call in calls:
                outputs.append(json.dumps(call()))
        flips.append(_counts(count))
    return outputs, flips


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("how", [
    pytest.param("host", marks=pytest.mark.xfail(strict=True, reason=(
        "open: the git tools' box sees deny_read files in the work tree (covering them with /dev/null made "
        "git_diff fail to hash a tracked .env), so a filter a host process flips into .git/config can print one; "
        "from the sandbox the config is read-only"))),
    "sandbox"])
def test_a_filter_flipped_into_the_config_never_runs_on_the_host(tmp_path, tools_for, how):
    ws, gd = _workspace(tmp_path)
    marker = tmp_path / "MARKER"
    original = (gd / "config").read_text()
    evil = original + (f'[filter "pwn"]\n\tclean = sh -c "hostname >> {marker}; cat .env 2>/dev/null; '
                       'sed s/^/RAN-/"\n')
    (tmp_path / "config.good").write_text(original)
    (tmp_path / "config.evil").write_text(evil)
    (gd / "info").mkdir(exist_ok=True)
    (gd / "info" / "attributes").write_text("* filter=pwn\n")
    count = (tmp_path if how == "host" else ws) / "flips"
    if how == "sandbox":  # the sandbox sees only the workspace: the two configurations go there
        for name in ("config.good", "config.evil"):
            (ws / name).write_text((tmp_path / name).read_text())
    source = tmp_path if how == "host" else ws
    _, tools = tools_for(ws, "auto")
    with _flipper(how, ws, gd / "config", str(source / "config.evil"), str(source / "config.good"), count):
        outputs, flips = _race(tools, count, [lambda: tools["git_diff"](), lambda: tools["git_status"](),
                                              lambda: tools["git_log"](max_count=2)])
    assert not marker.exists(), f"a repository program ran on the host: {marker.read_text()}"
    assert not any(os.path.exists(p) for p in (ws / "MARKER", Path("/tmp") / marker.name))
    assert not [text for text in outputs if SECRET in text], "a file the policy hides was printed"
    done, refused = flips[-1]
    assert done + refused >= ATTEMPTS * FLIPS_PER_ATTEMPT
    if how == "host":
        assert done >= ATTEMPTS * FLIPS_PER_ATTEMPT  # the race was really run: every flip landed
    else:
        assert done == 0 and (gd / "config").read_text() == original  # the git directory is read-only there
    ran = sum("RAN-" in text for text in outputs)
    print(f"{how}: {len(outputs)} git tool calls, {done} flips done, {refused} refused, "
          f"{ran} outputs where the filter ran contained")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_commondir_flipped_to_another_repository_shows_none_of_it(tmp_path, tools_for):
    ws, gd = _workspace(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    (other / "b.txt").write_text("FOREIGN-CONTENT\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "FOREIGN-SUBJECT")
    (tmp_path / "commondir").write_text(f"{other / '.git'}\n")
    count = tmp_path / "flips"
    _, tools = tools_for(ws, "auto")
    with _flipper("host", ws, gd / "commondir", str(tmp_path / "commondir"), "-", count):
        outputs, flips = _race(tools, count, [lambda: tools["git_diff"](staged=True),
                                              lambda: tools["git_log"](max_count=2)])
    assert flips[-1][0] >= ATTEMPTS * FLIPS_PER_ATTEMPT
    foreign = [text for text in outputs if "FOREIGN" in text]
    assert foreign == [], foreign[:3]
    assert any("own subject" in text for text in outputs)  # between flips the workspace's own history shows


def test_what_slips_past_the_checks_runs_contained(tmp_path):
    """The race made certain: the checks ran (ready), then a filter and its attributes appear before the
    call. It runs, contained: no host file written (neither a marker outside nor a file in the workspace),
    no host name, no folder beside the workspace, and not the `.env` the policy hides."""
    from agent_runtime.gitcmd import safe_git

    ws, gd = _workspace(tmp_path)
    marker = tmp_path / "MARKER"
    beside = tmp_path / "beside"
    beside.mkdir()
    (beside / "sibling-file-4711").write_text("x\n")
    repo = safe_git(ws, hidden=[ws / ".env"])
    repo.ready()
    (gd / "info").mkdir(exist_ok=True)
    (gd / "info" / "attributes").write_text("* filter=pwn\n")
    probe = (f"hostname >> {marker}; touch {ws / 'PLANTED'}; echo host=$(hostname); ls {beside} {Path.home()}; "
             "cat .env; sed s/^/RAN-/")
    with open(gd / "config", "a") as handle:
        handle.write(f'[filter "pwn"]\n\tclean = sh -c "{probe}"\n')
    out = repo.call("diff").stdout.decode()
    assert "RAN-one changed" in out  # it did run
    assert not marker.exists() and not (ws / "PLANTED").exists()
    assert f"host={socket.gethostname()}" not in out and "host=git" in out
    assert SECRET not in out and "sibling-file-4711" not in out


def test_a_commondir_that_appears_after_the_checks_leads_nowhere(tmp_path):
    from agent_runtime.gitcmd import safe_git

    ws, gd = _workspace(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    (other / "b.txt").write_text("FOREIGN-CONTENT\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "FOREIGN-SUBJECT")
    repo = safe_git(ws)
    repo.ready()
    (gd / "commondir").write_text(f"{other / '.git'}\n")
    for args in (["log", "-2"], ["diff", "--staged"], ["show", "HEAD"]):
        done = repo.call(*args)
        assert b"FOREIGN" not in done.stdout + done.stderr, args
