"""Every tool on a temporary git repository, including bad input."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import git, make_repo

# --- paths: traversal, absolute, symlinks out, NUL, devices ---


@pytest.mark.parametrize(
    "path, kind",
    [
        ("../outside.txt", "path_outside_workspace"),
        ("src/../../outside.txt", "path_outside_workspace"),
        ("/etc/passwd", "path_outside_workspace"),
        ("calc.py\x00.txt", "invalid_input"),
        ("does_not_exist.py", "not_found"),
    ],
)
def test_read_file_rejects_bad_paths(buggy_repo, tools_for, path, kind):
    runtime, tools = tools_for(buggy_repo)
    result = tools["read_file"](path=path)
    assert "error" in result and "recovery_suggestion" in result
    assert runtime.state.history[-1].error_type == kind


def test_symlink_leading_out_is_refused(buggy_repo, tools_for, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    (buggy_repo / "link.txt").symlink_to(secret)
    _, tools = tools_for(buggy_repo)
    result = tools["read_file"](path="link.txt")
    assert "symlink" in result["error"]
    assert "top secret" not in str(result)


def test_symlink_inside_workspace_is_followed(buggy_repo, tools_for):
    (buggy_repo / "alias.py").symlink_to(buggy_repo / "calc.py")
    _, tools = tools_for(buggy_repo)
    assert "def add" in tools["read_file"](path="alias.py")["content"]


def test_fifo_and_directory_are_not_read(buggy_repo, tools_for):
    os.mkfifo(buggy_repo / "pipe")
    _, tools = tools_for(buggy_repo)
    assert "not a regular file" in tools["read_file"](path="pipe")["error"]
    assert "directory" in tools["read_file"](path=".")["error"]


def test_absolute_path_inside_workspace_is_accepted(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    assert tools["read_file"](path=str(buggy_repo / "README.md"))["content"].startswith("# calc")


# --- read_file ---


def test_read_file_range_and_next_hint(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"big.txt": "".join(f"line {i}\n" for i in range(1, 401))})
    _, tools = tools_for(repo)
    first = tools["read_file"](path="big.txt")
    assert first["lines"] == "1-150 of 400"
    assert first["content"].splitlines()[-1] == "line 150"
    assert first["more"] == 'read_file(path="big.txt", start_line=151)'
    middle = tools["read_file"](path="big.txt", start_line=200, end_line=202)
    assert middle["content"] == "line 200\nline 201\nline 202\n"
    assert "more" in middle


def test_read_file_checks_ranges_before_reading(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "one\ntwo\n"})
    _, tools = tools_for(repo)
    assert "at most 1,000" in tools["read_file"](path="a.txt", start_line=1, end_line=5000)["error"]
    assert "before start_line" in tools["read_file"](path="a.txt", start_line=5, end_line=2)["error"]
    assert "past the end" in tools["read_file"](path="a.txt", start_line=9)["error"]
    assert "out of range" in tools["read_file"](path="a.txt", start_line=0)["error"]
    assert "must be of type integer" in tools["read_file"](path="a.txt", start_line="ten")["error"]


def test_read_file_huge_file_is_bounded(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {}, commit=False)
    with (repo / "huge.log").open("w") as handle:
        for i in range(300_000):
            handle.write(f"entry {i} " + "x" * 60 + "\n")
    _, tools = tools_for(repo)
    result = tools["read_file"](path="huge.log", start_line=250_000, end_line=250_010)
    assert result["lines"] == "250000-250010 of 300000"
    assert result["content"].startswith("entry 249999 ")
    full = tools["read_file"](path="huge.log")
    assert len(full["content"]) <= 3000 + 200  # TRUNCATION_MAX_CHARS plus the marker
    assert full["truncated"] is True and "[... truncated" in full["content"]


def test_read_file_refuses_binary(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))})
    runtime, tools = tools_for(repo)
    result = tools["read_file"](path="logo.png")
    assert "binary file" in result["error"]
    assert runtime.state.history[-1].error_type == "binary_file"


def test_read_file_non_utf8_is_shown_not_crashed(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"latin.txt": "caf\xe9 au lait\n".encode("latin-1")})
    _, tools = tools_for(repo)
    assert tools["read_file"](path="latin.txt")["content"] == "caf\ufffd au lait\n"


def test_read_file_snippet(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    result = tools["read_file_snippet"](path="calc.py", pattern=r"return a \-", context_lines=1)
    assert result["matches"] == 1
    assert ">    2:     return a - b" in result["snippets"]
    assert "    1: def add(a, b):" in result["snippets"]
    # Not a valid regular expression: searched as the text it is (models write `def f(self`)
    literal = tools["read_file_snippet"](path="calc.py", pattern="def add(a", context_lines=0)
    assert literal["matches"] == 1 and ">    1: def add(a, b):" in literal["snippets"]
    assert "searched as plain text" in literal["pattern"]
    assert tools["read_file_snippet"](path="calc.py", pattern="(unclosed")["matches"] == 0
    none = tools["read_file_snippet"](path="calc.py", pattern="nothing_here")
    assert none["matches"] == 0


# --- list_files / rg_search ---


def test_list_files_respects_gitignore_and_globs(buggy_repo, tools_for):
    (buggy_repo / "build").mkdir()
    (buggy_repo / "build" / "out.py").write_text("x = 1\n")
    (buggy_repo / "pkg").mkdir()
    (buggy_repo / "pkg" / "mod.py").write_text("y = 2\n")
    _, tools = tools_for(buggy_repo)
    everything = tools["list_files"]()
    assert "build/out.py" not in everything["files"]
    assert {"calc.py", "pkg/mod.py", "README.md", ".gitignore"} <= set(everything["files"])
    assert everything["files"] == sorted(everything["files"])
    python = tools["list_files"](pattern="*.py")
    assert set(python["files"]) == {"calc.py", "test_calc.py", "pkg/mod.py"}
    limited = tools["list_files"](max_results=2)
    assert len(limited["files"]) == 2 and limited["total"] == everything["total"]
    assert "no files match" in tools["list_files"](pattern="*.rs")["note"]


def test_rg_search_finds_matches_and_hides_secrets(buggy_repo, tools_for):
    (buggy_repo / ".env").write_text("API_TOKEN=add-secret-value\n")
    _, tools = tools_for(buggy_repo)
    result = tools["rg_search"](pattern="add")
    assert "calc.py:1:def add(a, b):" in result["matches"]
    assert not any(".env" in m for m in result["matches"]), "deny_read files must not be searched"
    only_tests = tools["rg_search"](pattern="def", glob="test_*.py")
    assert all(m.startswith("test_calc.py:") for m in only_tests["matches"])
    assert tools["rg_search"](pattern="mul(", fixed_strings=True)["count"] >= 2
    assert tools["rg_search"](pattern="zzz_nothing")["count"] == 0


def test_rg_search_regex_error_and_limits(buggy_repo, tools_for):
    runtime, tools = tools_for(buggy_repo)
    bad = tools["rg_search"](pattern="mul(")
    assert "invalid regex" in bad["error"] and "fixed_strings" in bad["recovery_suggestion"]
    assert runtime.state.history[-1].error_type == "invalid_regex"
    limited = tools["rg_search"](pattern="a", max_results=2)
    assert limited["count"] == 2 and "stopped after 2" in limited["note"]
    assert "outside the workspace" in tools["rg_search"](pattern="x", path="..")["error"]


# --- git ---


def test_git_tools(buggy_repo, tools_for):
    (buggy_repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (buggy_repo / "new.txt").write_text("new\n")
    git(buggy_repo, "add", "new.txt")
    _, tools = tools_for(buggy_repo)
    status = tools["git_status"]()
    assert status["branch"].startswith("main")
    assert status["clean"] is False
    assert "M calc.py" in status["modified"] and "A new.txt" in status["staged"]
    diff = tools["git_diff"]()
    assert "+    return a + b" in diff["diff"] and diff["files"] == ["calc.py (+1 -5)"]
    assert "new.txt" in tools["git_diff"](staged=True)["diff"]
    assert tools["git_diff"](path="README.md")["diff"] == ""
    log = tools["git_log"](max_count=5)
    assert log["commits"][0]["subject"] == "initial"
    assert tools["git_log"](path="calc.py")["commits"]


def test_git_tools_on_empty_repo_and_non_repo(tmp_path, tools_for):
    empty = make_repo(tmp_path / "empty", {}, commit=False)
    _, tools = tools_for(empty)
    assert tools["git_log"]()["commits"] == []
    assert "no commits" in tools["git_status"]()["note"]
    assert "error" not in tools["repo_info"]()
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("hello\n")
    runtime, tools = tools_for(plain)
    result = tools["git_status"]()
    assert "not a git repository" in result["error"] and "list_files" in result["recovery_suggestion"]
    assert tools["repo_info"]()["git"] == "not a git repository"
    assert tools["list_files"]()["files"] == ["a.txt"]


def test_repo_info(buggy_repo, tools_for):
    (buggy_repo / "AGENTS.md").write_text("Use pytest.\n")
    _, tools = tools_for(buggy_repo)
    info = tools["repo_info"]()
    assert info["branch"] == "main" and info["head"].endswith("initial")
    assert ".py 2" in info["languages"]
    assert "AGENTS.md" in info["instructions"]
    assert "pytest" in info["test_command"].split()  # python3 -m pytest -q, pytest, ...


# --- patches ---


def test_propose_changes_nothing_then_apply_writes(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    before = (buggy_repo / "calc.py").read_bytes()
    proposed = tools["propose_patch"](path="calc.py", old="return a - b", new="return a + b")
    assert proposed["patch_id"] == "p1" and proposed["files"] == ["calc.py (modified, +1 -1)"]
    assert (buggy_repo / "calc.py").read_bytes() == before
    shown = tools["show_patch"](patch_id="p1")
    assert "-    return a - b\n+    return a + b" in shown["diff"] and shown["applied"] is False
    applied = tools["apply_patch"](patch_id="p1")
    assert applied["applied"] is True
    assert (buggy_repo / "calc.py").read_text().startswith("def add(a, b):\n    return a + b\n")
    again = tools["apply_patch"](patch_id="p1")
    assert "already applied" in again["error"]


def test_propose_patch_errors(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    assert "not found" in tools["propose_patch"](path="calc.py", old="return a / b", new="x")["error"]
    twice = tools["propose_patch"](path="calc.py", old="return a", new="return b")
    assert "occurs 2 times" in twice["error"] and "more surrounding lines" in twice["recovery_suggestion"]
    assert "outside the workspace" in tools["propose_patch"](path="../x.py", old="", new="x")["error"]
    assert "no patch 'p9'" in tools["apply_patch"](patch_id="p9")["error"]
    created = tools["propose_patch"](path="pkg/new.py", old="", new="VALUE = 1\n")
    assert created["files"] == ["pkg/new.py (added, +1 -0)"]
    assert not (buggy_repo / "pkg").exists()


def test_propose_patch_unified(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    diff = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    proposed = tools["propose_patch_unified"](diff=diff)
    assert proposed["added"] == 1 and proposed["removed"] == 1
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"]
    assert "return a + b" in (buggy_repo / "calc.py").read_text()


def test_propose_patch_unified_repairs_miscounted_hunks_and_reports_mismatch(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    miscounted = "--- a/calc.py\n+++ b/calc.py\n@@ -1,7 +1,9 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    assert "patch_id" in tools["propose_patch_unified"](diff=miscounted)
    wrong = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a * b\n+    return a + b\n"
    result = tools["propose_patch_unified"](diff=wrong)
    assert "hunk 1" in result["error"] and "'    return a * b'" in result["error"]
    assert "cannot be parsed" in tools["propose_patch_unified"](diff="hello world")["error"] or \
        "no file changes" in tools["propose_patch_unified"](diff="hello world")["error"]


def test_apply_refuses_when_file_changed_since_proposal(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    tools["propose_patch"](path="calc.py", old="return a - b", new="return a + b")
    (buggy_repo / "calc.py").write_text("def add(a, b):\n    return a - b  # edited by a person\n")
    result = tools["apply_patch"](patch_id="p1")
    assert "changed since patch p1" in result["error"]
    assert "edited by a person" in (buggy_repo / "calc.py").read_text()


def test_apply_patch_goes_through_the_approval_hook(buggy_repo, tools_for):
    runtime, tools = tools_for(buggy_repo, approval="never")
    tools["propose_patch"](path="calc.py", old="return a - b", new="return a + b")
    result = tools["apply_patch"](patch_id="p1")
    assert "needs approval" in result["error"] and "refused" in result["error"]
    assert "return a - b" in (buggy_repo / "calc.py").read_text()
    assert runtime.state.history[-1].outcome == "refused"


# --- run_cmd / run_tests ---


def test_run_cmd_runs_in_the_sandbox(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    result = tools["run_cmd"](command="ls && echo done")
    assert result["exit_code"] == 0 and "calc.py" in result["stdout"] and "done" in result["stdout"]
    assert result["sandbox"] == "bwrap"
    failing = tools["run_cmd"](command="ls no_such_file")
    assert failing["exit_code"] != 0 and "no_such_file" in failing["stderr"]


def test_run_cmd_timeout_kills_the_command(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    result = tools["run_cmd"](command="pytest --version && sleep 30", timeout=2)
    assert result["timed_out"] is True and result["duration_s"] < 10


def test_run_tests_detects_pytest_and_reports(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    result = tools["run_tests"]()
    assert "pytest" in result["command"].split()
    assert result["passed"] is False and "1 failed, 1 passed" in result["summary"]
    explicit = tools["run_tests"](command="python -m pytest -q test_calc.py -k mul")
    assert explicit["passed"] is True and "1 passed" in explicit["summary"]


def test_run_tests_without_a_test_setup(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"notes.txt": "hi\n"})
    _, tools = tools_for(repo)
    result = tools["run_tests"]()
    assert "no test setup found" in result["error"] and "run_tests(command=" in result["recovery_suggestion"]


def test_a_path_that_does_not_exist_names_the_files_that_do(buggy_repo, tools_for):
    """Small models guess paths or copy the prompt's example one: the error points at real files."""
    _, tools = tools_for(buggy_repo)
    guessed = tools["read_file"](path="calcs.py")
    assert guessed["error"] == "calcs.py does not exist"
    assert guessed["recovery_suggestion"].startswith("Files that exist: calc.py")
    copied = tools["read_file"](path="pkg/module.py")
    assert "calc.py" in copied["recovery_suggestion"]


# --- propose_file: a file's whole new content (what small models write best) ---


def test_propose_file_rewrites_a_file_through_apply_patch(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    before = (buggy_repo / "calc.py").read_bytes()
    # The newline right after the opening quotes is not the file's; the missing last newline is kept.
    content = '\ndef add(a, b):\n    """Sum."""\n    return a + b\n\n\ndef mul(a, b):\n    return a * b'
    proposed = tools["propose_file"](path="calc.py", content=content)
    assert proposed["files"] == ["calc.py (modified, +2 -1)"]
    assert (buggy_repo / "calc.py").read_bytes() == before  # nothing written before apply_patch
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"] is True
    assert (buggy_repo / "calc.py").read_text() == content[1:] + "\n"
    created = tools["propose_file"](path="pkg/new.py", content="VALUE = 1\n")
    assert created["files"] == ["pkg/new.py (added, +1 -0)"] and not (buggy_repo / "pkg").exists()


def test_propose_file_refuses_elided_or_unchanged_content(buggy_repo, tools_for):
    _, tools = tools_for(buggy_repo)
    # "the rest unchanged" around a definition: the definition is put in place, the rest kept
    placed = tools["propose_file"](path="calc.py", content="def add(a, b):\n    return a + b\n\n# ... rest unchanged\n")
    assert "content held only add" in placed["notes"][0]
    diff = tools["show_patch"](patch_id=placed["patch_id"])["diff"]
    assert "+    return a + b" in diff and "-def mul" not in diff and "rest unchanged" not in diff
    # ... standing for a body would delete it
    elided = tools["propose_file"](path="calc.py", content="def add(a, b):\n    ...\n\n\ndef mul(a, b):\n    return a * b\n")
    assert "would delete the code" in elided["error"] and "whole file" in elided["recovery_suggestion"]
    same = tools["propose_file"](path="calc.py", content=(buggy_repo / "calc.py").read_text())
    assert "the same as calc.py" in same["error"]
    assert "outside the workspace" in tools["propose_file"](path="../x.py", content="x\n")["error"]
    (buggy_repo / "logo.bin").write_bytes(b"\x89PNG\0\0data")
    assert "binary file" in tools["propose_file"](path="logo.bin", content="x\n")["error"]
    (buggy_repo / "pkg").mkdir()
    assert "not a regular file" in tools["propose_file"](path="pkg", content="x\n")["error"]


def test_propose_file_keeps_crlf_line_endings(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"w.py": b"a = 1\r\nb = 2\r\n"})
    _, tools = tools_for(repo)
    proposed = tools["propose_file"](path="w.py", content="a = 1\nb = 3\n")
    tools["apply_patch"](patch_id=proposed["patch_id"])
    assert (repo / "w.py").read_bytes() == b"a = 1\r\nb = 3\r\n"


def test_propose_patch_naming_the_wrong_file_goes_to_the_one_file_with_old(tmp_path, tools_for):
    """Models name the test file while copying old from the code under test."""
    repo = make_repo(tmp_path / "r", {"paginate.py": "def pages(n):\n    return n // 10 + 1\n",
                                      "tests/test_paginate.py": "from paginate import pages\n\n\ndef test():\n    assert pages(20) == 2\n"})
    (repo / ".env").write_text("SECRET=x\n    return n // 10 + 1\n")  # hidden by the policy: never a candidate
    _, tools = tools_for(repo)
    proposed = tools["propose_patch"](path="tests/test_paginate.py", old="    return n // 10 + 1",
                                      new="    return (n + 9) // 10")
    assert proposed["files"] == ["paginate.py (modified, +1 -1)"]
    assert "old is not in tests/test_paginate.py but in paginate.py" in proposed["notes"][0]
    (repo / "copy.py").write_text("def pages(n):\n    return n // 10 + 1\n")
    two = tools["propose_patch"](path="tests/test_paginate.py", old="    return n // 10 + 1", new="x")
    assert "was not found in tests/test_paginate.py" in two["error"]  # two candidates: no guess


def test_git_log_shows_what_git_log_prints(tmp_path, tools_for):
    """git_log reads commits with GitPython (through the door): the subject is git's %s (the whole first
    paragraph, not GitPython's first line), the date the committer's own, a legacy encoding decoded."""
    repo = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    latin1 = {"GIT_AUTHOR_NAME": "Ren\u00e9e".encode("latin-1")}  # a commit in ISO-8859-1, as an old git wrote it
    commits = [("b.txt", ["-m", "first line\nsecond line of the subject   \n\nthe body"], {}),
               ("c.txt", ["--cleanup=verbatim", "-m", "\n\n  indented subject\n\nbody"], {}),
               ("a.txt", ["-m", "late evening"], {"GIT_COMMITTER_DATE": "2020-01-02T01:30:00+05:00"}),
               ("d.txt", ["-m", "caf\u00e9 au lait".encode("latin-1")], latin1)]
    for name, args, env in commits:
        (repo / name).write_text(f"{name}\n")
        git(repo, "add", name)
        encoding = ["-c", "i18n.commitEncoding=ISO-8859-1"] if env is latin1 else []
        subprocess.run(["git", *encoding, "commit", "-q", *args], cwd=repo, check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", **env})
    _, tools = tools_for(repo)
    expected = []
    for line in git(repo, "log", "--format=%H%x00%cI%x00%an%x00%s").splitlines():
        sha, date, author, subject = line.split("\0")
        expected.append({"sha": sha[:10], "date": date[:10], "author": author, "subject": subject})
    assert tools["git_log"](max_count=20)["commits"] == expected
    assert [c["subject"] for c in expected[:4]] == ["caf\u00e9 au lait", "late evening", "  indented subject",
                                                   "first line second line of the subject"]
    assert expected[1]["date"] == "2020-01-02" and expected[0]["author"] == "Ren\u00e9e"
    assert tools["git_log"](path="a.txt")["commits"] == [expected[1], expected[4]]
