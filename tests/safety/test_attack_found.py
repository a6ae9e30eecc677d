"""What an attack on the host's writes into the workspace found: a sandboxed process that runs all along
(an MCP server with sandbox=true) swaps a folder for a symlink while the host writes into it.

Each test is one reproduction, asserting the safe behaviour: nothing is written outside the workspace.
Run as root and as an unprivileged user (tests/safety/test_unprivileged.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from conftest import make_repo

from agent_runtime.safety.sandbox import Sandbox

# Swaps the workspace's `src` folder and a symlink to the folder named by its argument (renameat2's
# RENAME_EXCHANGE: `src` is always one or the other), over and over; while a file `pause` exists it leaves
# `src` the folder and says so in `paused`.
FLIP_FOLDER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
os.symlink(sys.argv[1], "src.link")
def swap():
    if libc.renameat2(-100, b"src", -100, b"src.link", 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
        raise OSError(ctypes.get_errno(), "renameat2")
while True:
    if os.path.exists("pause"):
        if os.path.islink("src"):
            swap()
        open("paused", "w").close()
        time.sleep(0.001)
        continue
    swap()
"""


@pytest.mark.slow
@pytest.mark.timeout(500)
def test_an_undo_never_writes_through_a_folder_swapped_for_a_symlink(tmp_path):
    """An undo (`/undo` in the REPL, with the session's MCP servers running; the model's undo_patch adds the
    policy's look first) writes the files a command changed back by path: it checks that the folder is the
    workspace's own (realpath), then makes a temporary file in it and renames it over the file. An MCP server with sandbox=true swaps `src` for a symlink to a folder outside between
    the check and the write (the link's target is only a string: the server need not see it), and the
    host writes the file there: `authorized_keys` into someone's `.ssh`, as whoever runs the agent."""
    from agent_runtime.patches.checkpoint import Store
    from agent_runtime.patches.diffs import PatchError

    ws, outside = make_repo(tmp_path / "ws", {"src/app.py": "x = 1\n"}), tmp_path / "outside"
    outside.mkdir()
    store = Store(tmp_path / "store", ws)
    keys = ws / "src" / "authorized_keys"
    attempts = 0
    with Sandbox(ws).program(["python3", "-c", FLIP_FOLDER, str(outside)]) as (argv, env):
        server = subprocess.Popen(argv, env=env, start_new_session=True, stdin=subprocess.DEVNULL)
        try:
            while attempts < 300 and not os.listdir(outside):
                attempts += 1
                (ws / "pause").touch()
                deadline = time.monotonic() + 20
                while not (ws / "paused").exists():
                    assert time.monotonic() < deadline and server.poll() is None, "the flipper is not running"
                    time.sleep(0.001)
                keys.write_text("ssh-ed25519 AAAA-attacker\n")
                before = store.snapshot()
                keys.write_text("changed by a command\n")
                changes = store.changes(before.id, store.snapshot().id)
                (ws / "pause").unlink()
                (ws / "paused").unlink()
                while not os.path.islink(ws / "src"):
                    time.sleep(0.0001)  # flipping again
                try:
                    store.restore(changes)  # what undo does
                except PatchError:
                    pass  # refused: the folder was a symlink when looked at
        finally:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
    assert os.listdir(outside) == [], f"attempt {attempts}: an undo wrote outside the workspace: {os.listdir(outside)}"
