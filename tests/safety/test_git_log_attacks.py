"""git_log and the door against a repository shipped as files (an archive with its .git): FIFOs in the
git directory, commits written byte for byte (an encoding Python decodes in quadratic time, a message
of blank lines, a 64 MiB commit, dates past 9999), a SHA-256 repository. Each worked against the first
GitPython version of git_log (attack review of 2026-11-28), called as the agent calls the tools (real
git, no mocks). Hangs are cut by an alarm: the test fails, it does not hang."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import git, make_repo
from deadline import deadline

# --- a repository whose HEAD is a commit written byte for byte ---

def raw_commit(repo: Path, body: bytes) -> str:
    return subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"], cwd=repo,
                          input=body, capture_output=True, check=True).stdout.decode().strip()


def hostile_head(tmp_path: Path, headers: bytes, message: bytes) -> Path:
    """A workspace whose branch ends in a commit with these author/committer/other header lines and
    this message (written with `git hash-object --literally`, as anyone can ship it in an archive; the
    encoding one `git commit` writes itself with i18n.commitEncoding)."""
    repo = make_repo(tmp_path / "ws", {"a.txt": "a\n"})
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    head = git(repo, "rev-parse", "HEAD").strip()
    body = b"tree %s\nparent %s\n%s\n%s" % (tree.encode(), head.encode(), headers, message)
    git(repo, "update-ref", "refs/heads/main", raw_commit(repo, body))
    return repo


PEOPLE = b"author a <a@example.com> 1700000000 +0000\ncommitter a <a@example.com> 1700000000 +0000\n"


def git_log_subject(repo: Path) -> str:
    return subprocess.run(["git", "log", "-1", "--format=%s"], cwd=repo, capture_output=True,
                          check=True).stdout.decode("utf-8", "replace").strip()


# ==========================================================================================
# 2. git_log hangs the agent's process on a repository shipped as files (an archive with its .git).
# ==========================================================================================

@pytest.mark.parametrize("where", ["objects/info/alternates", "info/alternates", "HEAD"])
def test_git_log_does_not_hang_on_a_fifo_in_the_git_directory(where, tmp_path, tools_for):
    """gitdir._alternates opens `objects/info/alternates` (and the git directory's own `info/alternates`)
    with a plain open(), no regular-file check and no timeout (_path_file checks is_file, this one does
    not): a FIFO there blocks the door's check, so every git tool and the policy's git checks, for ever.
    A FIFO git itself opens (HEAD) costs each git call its 60 s timeout instead."""
    repo = make_repo(tmp_path / "ws", {"a.txt": "a\n"})
    runtime, tools = tools_for(repo)
    fifo = repo / ".git" / where
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    with deadline(15, f"git_log with a FIFO at .git/{where}"):
        tools["git_log"](max_count=1)
    runtime.close()


def test_judging_a_git_command_does_not_hang_on_a_fifo_config(tmp_path, tools_for):
    """The same class, in the policy: judging `run_cmd("git status")` (before any approval) asks
    gitcmd.git_worktree_escape, whose config_text() opens `.git/config` with a plain open(): a FIFO there
    blocks the agent for ever. Fix (both): open what the git directory holds with O_NONBLOCK and read it
    only when fstat says S_ISREG (as commands._marker_text does), and have gitdir's walk refuse a git
    directory holding a FIFO, socket or device anywhere (git would block on it too: 60 s per call)."""
    repo = make_repo(tmp_path / "ws", {"a.txt": "a\n"})
    runtime, tools = tools_for(repo)
    (repo / ".git" / "config").unlink()
    os.mkfifo(repo / ".git" / "config")
    with deadline(15, "judging run_cmd('git status') with .git/config a FIFO"):
        decision = runtime.policy.check_command("git status", repo, None)
    assert decision.decision != "allow", decision  # git there would wait on the FIFO: not allowed unasked
    runtime.close()


def test_git_log_does_not_hang_on_a_commit_encoding_python_decodes_in_quadratic_time(tmp_path, tools_for):
    """DoorCommit._deserialize decodes the whole commit with whatever codec its `encoding` header names,
    looked up in Python's registry: `punycode` (which iconv, so git, does not know) decodes in quadratic
    time, and a 1.5 MB commit (about 10 KB packed) takes minutes, 5 MB half an hour. git log answers
    at once. Fix: only the encodings git's iconv would take (an allow-list), never punycode, idna,
    unicode_escape, utf-16/32; and a size cap on the commit read."""
    repo = hostile_head(tmp_path, PEOPLE + b"encoding punycode\n", b"fix the parser -" + b"a" * 1_500_000 + b"\n")
    assert git_log_subject(repo).startswith("fix the parser -aaa")
    runtime, tools = tools_for(repo)
    with deadline(20, "git_log on a commit with `encoding punycode`"):
        result = tools["git_log"](max_count=2)
    assert result["commits"][0]["subject"].startswith("fix the parser -aaa")
    runtime.close()


def test_git_log_does_not_hang_on_a_message_of_blank_lines(tmp_path, tools_for):
    """tools/git.py subject() drops leading blank lines with `lines.pop(0)`, quadratic: 400,000 blank
    lines take 8 s, 4 MB of them (a few KB packed, kept by `git commit --cleanup=verbatim`) hours. git
    log's %s answers at once. Fix: find the first non-blank line by index (or use message.lstrip('\\n')
    first), and cap what is read of a message."""
    repo = hostile_head(tmp_path, PEOPLE, b"\n" * 1_500_000 + b"the subject\n")
    assert git_log_subject(repo) == "the subject"
    runtime, tools = tools_for(repo)
    with deadline(20, "git_log on a commit whose message starts with blank lines"):
        result = tools["git_log"](max_count=2)
    assert result["commits"][0]["subject"] == "the subject"
    runtime.close()


def test_git_log_memory_does_not_grow_with_the_size_of_a_commit(tmp_path, tools_for):
    """`git cat-file --batch` output is captured whole and copied four times over (partition, slice,
    BytesIO, decode): a 64 MiB commit (328 KB as a loose object) costs the agent 256 MiB, a 4 GiB one
    (a few MB packed) 16 GiB, for a log that shows its subject. Fix: `cat-file --batch-check` first and
    refuse (or read only the header and first paragraph of) a commit above a cap, e.g. 1 MiB."""
    import tracemalloc

    repo = hostile_head(tmp_path, PEOPLE, b"the subject\n\n" + b"a" * (64 << 20) + b"\n")
    runtime, tools = tools_for(repo)
    tracemalloc.start()
    try:
        result = tools["git_log"](max_count=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "commits" in result, result
    assert peak < 64 << 20, f"git_log held {peak >> 20} MiB for one 64 MiB commit"
    runtime.close()


# ==========================================================================================
# 3. git_log fails where git log answers (the model gets "git_log failed unexpectedly" and no history).
# ==========================================================================================

def test_git_log_reads_a_sha256_repository(tmp_path, tools_for):
    """GitPython's rev-list reader asserts 40-hex lines: every SHA-256 repository (`git init
    --object-format=sha256`, nothing hostile) fails with ValueError. Fix: parse rev-list's lines for
    either length (or read the log with `git log --format` through the door)."""
    repo = tmp_path / "ws"
    repo.mkdir()
    git(repo, "init", "-q", "--object-format=sha256", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first commit")
    runtime, tools = tools_for(repo)
    result = tools["git_log"](max_count=2)
    assert [c["subject"] for c in result.get("commits", [])] == ["first commit"], result
    runtime.close()


COMMITS_GIT_LOG_READS = {
    # decodes in Python as UTF-16 (even length), so the re-encoded commit has no header lines: IndexError
    "utf-16 encoding": (PEOPLE + b"encoding UTF-16\n", b"subject\n"),
    # GitPython's from_timestamp: datetime has no year 11476 (ValueError) or 2**66 (OverflowError)
    "date after 9999": (b"author a <a@x> 300000000000 +0000\ncommitter a <a@x> 300000000000 +0000\n", b"subject\n"),
    "date past time_t": (b"author a <a@x> 99999999999999999999 +0000\ncommitter a <a@x> 99999999999999999999 +0000\n",
                         b"subject\n"),
}


@pytest.mark.parametrize("case", list(COMMITS_GIT_LOG_READS))
def test_git_log_answers_for_a_commit_git_log_reads(case, tmp_path, tools_for):
    """Fix: catch what parsing a commit raises (ValueError, OverflowError, IndexError) per commit and show
    it as git would (date unknown, subject as bytes decoded with replacement), not the whole log lost."""
    repo = hostile_head(tmp_path, *COMMITS_GIT_LOG_READS[case])
    subprocess.run(["git", "log", "-1"], cwd=repo, check=True, capture_output=True)  # git reads it
    runtime, tools = tools_for(repo)
    result = tools["git_log"](max_count=2)
    assert len(result.get("commits", [])) == 2, result
    runtime.close()


