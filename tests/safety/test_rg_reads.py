"""ripgrep, run on the host for list_files, rg_search, the symbol tools and the overview, reads nothing
outside the workspace and blocks on nothing in it.

The attack: rg reads the ignore files (.gitignore, .ignore, .rgignore) of every folder it walks, and
of the folders above the workspace, following symlinks. A repository's `.ignore -> ~/.aws/credentials`
(committed: git keeps symlinks) is read on the host; each of its lines is a glob, so a line that is
not one is quoted on stderr ("error parsing glob 'aws_secret_access_key=...'"), which list_files and
rg_search hand to the model when rg fails (a folder it may not read: rg exits 2). Even when nothing
is quoted, what the file holds decides what is listed. A FIFO named .gitignore (made by a sandboxed
command: the repository's tests) blocked rg, and the agent with it, for ever.
Run as root and as an unprivileged user (tests/safety/test_unprivileged.py).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from conftest import make_repo

from agent_runtime.core import ToolError

SECRET = "aws_secret_access_key=sk-outside-rg-7c1d{unclosed"
OUTSIDE_NAME = "hidden-if-the-outside-file-is-read.txt"


def workspace_with_links_out(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "home" / ".aws" / "credentials"
    outside.parent.mkdir(parents=True)
    outside.write_text(f"{OUTSIDE_NAME}\n{SECRET}\n[zz\n")
    (tmp_path / "parent").mkdir()
    (tmp_path / "parent" / ".ignore").write_text("from-the-folder-above.txt\n")  # not the workspace's
    repo = make_repo(tmp_path / "parent" / "ws", {"app.py": "def main():\n    return 1\n", OUTSIDE_NAME: "x\n",
                                                  "from-the-folder-above.txt": "x\n", "sub/mod.py": "main()\n"})
    (repo / ".ignore").symlink_to(outside)
    (repo / "sub" / ".gitignore").symlink_to(outside)
    (repo / "sub" / ".rgignore").symlink_to(os.path.relpath(outside, repo / "sub"))
    locked = repo / "locked"
    locked.mkdir()
    locked.chmod(0)  # as a user, rg cannot read it: exit status 2, and its stderr goes to the model
    return repo, outside


def every_answer(tools: dict) -> str:
    answers = []
    for name, args in [("list_files", {}), ("list_files", {"pattern": "zz*"}), ("rg_search", {"pattern": "zzz"}),
                       ("rg_search", {"pattern": "main"}), ("rg_search", {"pattern": "main", "path": "sub"})]:
        try:
            answers.append(str(tools[name](**args)))
        except ToolError as exc:
            answers.append(str(exc) + str(getattr(exc, "hint", "")))
    return "\n".join(answers)


def test_ignore_files_linked_out_of_the_workspace_are_not_read(tmp_path, tools_for, isolated_state):
    repo, _ = workspace_with_links_out(tmp_path)
    try:
        _, tools = tools_for(repo, "never")
        text = every_answer(tools)
    finally:
        (repo / "locked").chmod(0o755)
    assert "sk-outside-rg" not in text and "unclosed" not in text
    listed = tools["list_files"]()["files"]
    assert OUTSIDE_NAME in listed  # the outside file's lines hid nothing
    assert "from-the-folder-above.txt" in listed  # nor did the folder above the workspace


def test_a_fifo_named_like_an_ignore_file_does_not_hang_the_agent(tmp_path, tools_for, isolated_state, monkeypatch):
    import agent_runtime.tools.rg as rg

    monkeypatch.setattr(rg, "RG_TIMEOUT_S", 3)
    repo = make_repo(tmp_path / "ws", {"app.py": "x = 1\n"})
    os.mkfifo(repo / ".gitignore")
    _, tools = tools_for(repo, "never")
    done: list = []

    def run() -> None:
        for name, args in [("list_files", {}), ("rg_search", {"pattern": "x"})]:
            try:
                done.append(tools[name](**args))
            except ToolError as exc:
                done.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():  # unblock rg so the test's process can end
        with open(repo / ".gitignore", "w"):
            pass
        pytest.fail("rg blocked on a FIFO named .gitignore")
    assert len(done) == 2
