"""What an attack on the host's writes into the workspace found: a sandboxed process that runs all along
(an MCP server with sandbox=true) swaps a folder for a symlink while the host writes into it.

Each test is one reproduction, asserting the safe behaviour: nothing is written outside the workspace.
Run as root and as an unprivileged user (tests/safety/test_unprivileged.py).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest
from conftest import make_repo

from agent_runtime.safety.sandbox import Sandbox

# Swaps the workspace's `src` folder and a symlink to the folder named by its argument (renameat2's
# RENAME_EXCHANGE: `src` is always one or the other), over and over; while a file `pause` exists it leaves
# `src` the folder and says so by copying the pause's token into `paused`.
FLIP_FOLDER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
os.symlink(sys.argv[1], "src.link")
def swap():
    if libc.renameat2(-100, b"src", -100, b"src.link", 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
        raise OSError(ctypes.get_errno(), "renameat2")
said = None
while True:
    try:
        token = open("pause").read()
    except FileNotFoundError:
        swap()
        continue
    if os.path.islink("src"):
        swap()
    if token != said:  # once a pause: the workspace stays still while it lasts
        with open("paused.tmp", "w") as handle:
            handle.write(token)
        os.replace("paused.tmp", "paused")
        said = token
    time.sleep(0.001)
"""


@contextmanager
def _flipping(ws: Path, outside: Path) -> Iterator[Callable[[], None]]:
    """FLIP_FOLDER running in the sandbox (as an MCP server with sandbox=true runs) on `ws`; yields
    `pause`, which returns once `src` is the folder and stays so until `_flip` is called."""
    with Sandbox(ws).program(["python3", "-c", FLIP_FOLDER, str(outside)]) as (argv, env):
        server = subprocess.Popen(argv, env=env, start_new_session=True, stdin=subprocess.DEVNULL)

        pauses = itertools.count()

        def pause() -> None:
            token = str(next(pauses))  # a `paused` from a pause before (a stale loop of the flipper) is not this one
            (ws / "pause.tmp").write_text(token)
            os.replace(ws / "pause.tmp", ws / "pause")
            deadline = time.monotonic() + 20
            while not (ws / "paused").exists() or (ws / "paused").read_text() != token:
                assert time.monotonic() < deadline and server.poll() is None, "the flipper is not running"
                time.sleep(0.001)

        try:
            yield pause
        finally:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def _flip(ws: Path) -> None:
    """Lets the flipper run again, and returns once `src` is the symlink."""
    (ws / "pause").unlink()
    while not os.path.islink(ws / "src"):
        time.sleep(0.0001)  # flipping again


@pytest.mark.slow
@pytest.mark.timeout(500)
def test_an_undo_never_writes_through_a_folder_swapped_for_a_symlink(tmp_path):
    """An undo (`/undo` in the REPL, with the session's MCP servers running; the model's undo_patch adds the
    policy's look first) writes the files a command changed back into a folder. An MCP server with
    sandbox=true swaps `src` for a symlink to a folder outside while the undo runs (the link's target is
    only a string: the server need not see it); a check of the folder then a write by path would put the
    file there: `authorized_keys` into someone's `.ssh`, as whoever runs the agent."""
    from agent_runtime.patches.checkpoint import Store
    from agent_runtime.patches.diffs import PatchError

    ws, outside = make_repo(tmp_path / "ws", {"src/app.py": "x = 1\n"}), tmp_path / "outside"
    outside.mkdir()
    store = Store(tmp_path / "store", ws)
    keys = ws / "src" / "authorized_keys"
    attempts = 0
    with _flipping(ws, outside) as pause:
        while attempts < 300 and not os.listdir(outside):
            attempts += 1
            pause()
            keys.write_text("ssh-ed25519 AAAA-attacker\n")
            before = store.snapshot()
            keys.write_text("changed by a command\n")
            changes = store.changes(before.id, store.snapshot().id)
            _flip(ws)
            try:
                store.restore(changes)  # what undo does
            except PatchError:
                pass  # refused: the folder was a symlink when walked through
    assert os.listdir(outside) == [], f"attempt {attempts}: an undo wrote outside the workspace: {os.listdir(outside)}"


@pytest.mark.slow
@pytest.mark.timeout(500)
def test_applying_a_patch_never_writes_through_a_folder_swapped_for_a_symlink(tmp_path):
    """The same swap while a patch is applied (apply_patch after its approval): the check that the path
    still leads to itself, then the write. The file, its folders and the rollback copy are all reached
    from the workspace's own descriptor: a swap is refused or lands in the folder inside, never outside."""
    from agent_runtime.core import ToolError, Workspace
    from agent_runtime.patches.apply import check_unchanged, plan_write, write_edits
    from agent_runtime.patches.diffs import PatchError

    ws, outside = make_repo(tmp_path / "ws", {"src/app.py": "x = 1\n"}), tmp_path / "outside"
    outside.mkdir()
    workspace = Workspace(ws)
    outcomes: dict[str, int] = {}
    with _flipping(ws, outside) as pause:
        while outcomes.get("past the check", 0) < 1000 and sum(outcomes.values()) < 200000 and not os.listdir(outside):
            pause()
            (ws / "src" / "authorized_keys").unlink(missing_ok=True)
            new, _ = plan_write(workspace, "src/authorized_keys", "ssh-ed25519 AAAA-attacker\n")
            deep, _ = plan_write(workspace, "src/new/deep/key", "ssh-ed25519 AAAA-attacker\n")
            _flip(ws)
            for _ in range(200):  # until the check finds the folder, which the flipper swaps on
                try:
                    check_unchanged([new, deep], workspace, "p1")
                except (PatchError, ToolError):
                    outcomes["refused by the check"] = outcomes.get("refused by the check", 0) + 1
                    continue
                outcomes["past the check"] = outcomes.get("past the check", 0) + 1
                try:
                    write_edits([new, deep], workspace)  # what apply_patch does once approved
                    outcomes["written"] = outcomes.get("written", 0) + 1
                except (PatchError, ToolError):  # a folder on the way was a symlink when walked through
                    outcomes["refused at the write"] = outcomes.get("refused at the write", 0) + 1
                break
            pause()
            shutil.rmtree(ws / "src" / "new", ignore_errors=True)
    assert os.listdir(outside) == [], f"{outcomes}: applying a patch wrote outside the workspace: {os.listdir(outside)}"
    print(outcomes)
