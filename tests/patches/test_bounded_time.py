"""A hostile model's patch arguments take bounded time: no tool call may hang the agent.

Each attack below ran for minutes (or hours) before: difflib over many equal lines (the counts and
the diff shown of propose_file, show_patch, the approval), difflib's ratio over every window of a
file for an `old` that is not there (the closest lines in propose_patch's error), and hunks whose
@@ numbers send the search across the whole file again and again."""

from __future__ import annotations

import random
import time

from conftest import make_repo

from agent_runtime.patches import linediff

SECONDS = 15  # each took minutes or more before; bounded, each takes a second or two on a busy machine


def _replay(a: list[bytes], b: list[bytes], codes) -> list[bytes]:
    out, at = [], 0
    for tag, i1, i2, j1, j2 in codes:
        assert i1 == at
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        out += a[i1:i2] if tag == "equal" else b[j1:j2]
        at = i2
    assert at == len(a)
    return out


def test_the_bounded_line_diff_always_turns_the_old_lines_into_the_new():
    rnd = random.Random(7)
    for _ in range(2000):
        a = [bytes([rnd.choice(b"abcdef")]) for _ in range(rnd.randint(0, 40))]
        b = list(a)
        for _ in range(rnd.randint(0, 6)):
            k = rnd.randint(0, len(b))
            if b and rnd.random() < 0.5:
                del b[min(k, len(b) - 1)]
            else:
                b.insert(k, bytes([rnd.choice(b"abcdefgh")]))
        for budget in (0, 7, linediff.PAIR_BUDGET):  # 0: every gap past the anchors shown replaced whole
            assert _replay(a, b, linediff.opcodes(a, b, budget)) == b


def test_repetitive_lines_in_another_order_are_diffed_in_bounded_time(tmp_path, tools_for):
    # difflib alone: 20 seconds for 1,400 lines of this, hours for the 30,000 here
    repo = make_repo(tmp_path / "r", {"t.txt": "a\nb\nc\n" * 10_000})
    _, tools = tools_for(repo, approval="auto")
    started = time.monotonic()
    proposed = tools["propose_file"](path="t.txt", content="c\nb\na\n" * 10_000)
    shown = tools["show_patch"](patch_id=proposed["patch_id"])
    assert time.monotonic() - started < SECONDS
    assert "@@ -1," in shown["diff"] and 0 < proposed["added"] <= 30_000, proposed
    tools["apply_patch"](patch_id=proposed["patch_id"])
    assert (repo / "t.txt").read_text() == "c\nb\na\n" * 10_000


def test_a_change_in_a_file_of_equal_lines_is_counted_shown_and_applied_quickly(tmp_path, tools_for):
    lines = 20_000
    repo = make_repo(tmp_path / "r", {"data.txt": "q\n" * lines})
    _, tools = tools_for(repo, approval="auto")
    started = time.monotonic()
    proposed = tools["propose_file"](path="data.txt", content="q\n" * (lines // 2) + "z\n" + "q\n" * (lines // 2))
    shown = tools["show_patch"](patch_id=proposed["patch_id"])
    assert time.monotonic() - started < SECONDS
    assert proposed["added"] == 1 and proposed["removed"] == 0, proposed
    assert "+z\n" in shown["diff"] and len(shown["diff"]) < 500, shown
    tools["apply_patch"](patch_id=proposed["patch_id"])
    assert (repo / "data.txt").read_text().count("\n") == lines + 1


def test_an_old_text_not_in_a_big_repetitive_file_is_refused_quickly_with_the_closest_lines(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"conf.py": "a = 1\n" * 2000 + "def add(a, b):\n    return a - b\n"})
    _, tools = tools_for(repo, approval="auto")
    started = time.monotonic()
    result = tools["propose_patch"](path="conf.py", old="a = 2\n" * 200, new="a = 3\n")
    assert time.monotonic() - started < SECONDS
    assert "was not found" in result["error"], result
    started = time.monotonic()
    typo = tools["propose_patch"](path="conf.py", old="def add(a, b):\n    return a - c\n", new="x = 1\n")
    assert time.monotonic() - started < SECONDS
    assert "return a - b" in typo["recovery_suggestion"], typo  # still shown, past 2,000 near misses


def test_hunks_numbered_across_the_file_are_refused_in_bounded_time_and_change_nothing(tmp_path, tools_for):
    lines = 40_000
    text = "".join(f"m{i}\n" if i % 10 == 0 else "q\n" for i in range(lines))
    repo = make_repo(tmp_path / "r", {"a.txt": text})
    _, tools = tools_for(repo, approval="auto")
    # each hunk's @@ line is at the other end of the file from the previous one's
    hunks = "".join(f"@@ -{lines if (i // 10) % 2 else 1} +1 @@\n-m{i}\n+M{i}\n" for i in range(0, lines, 10))
    started = time.monotonic()
    result = tools["propose_patch_unified"](diff="--- a/a.txt\n+++ b/a.txt\n" + hunks)
    assert time.monotonic() - started < SECONDS
    assert "bounded time" in result["error"], result
    assert (repo / "a.txt").read_text() == text


def test_hunks_a_little_off_still_apply(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "".join(f"line {i}\n" for i in range(5000))})
    _, tools = tools_for(repo, approval="auto")
    diff = "--- a/a.txt\n+++ b/a.txt\n@@ -10 +10 @@\n-line 4000\n+LINE 4000\n@@ -4500 +4500 @@\n-line 12\n+LINE 12\n"
    assert "error" in tools["propose_patch_unified"](diff=diff)  # hunks out of order: not placed
    diff = "--- a/a.txt\n+++ b/a.txt\n@@ -10 +10 @@\n-line 12\n+LINE 12\n@@ -4500 +4500 @@\n-line 4000\n+LINE 4000\n"
    proposed = tools["propose_patch_unified"](diff=diff)
    tools["apply_patch"](patch_id=proposed["patch_id"])
    assert "LINE 12\n" in (repo / "a.txt").read_text() and "LINE 4000\n" in (repo / "a.txt").read_text()
