"""`undo --list` as a person reads it after two real runs and a hand edit: every state true of the files
as they are now, and the STATE column never running into FILES."""

from __future__ import annotations

import json

import pytest
from conftest import git, make_repo, run_cli, step, write_replay

from agent_runtime.safety.isolation import isolation

needs_bwrap = pytest.mark.skipif(isolation(None).bwrap is None, reason="bubblewrap does not run here")


def _two_runs(tmp_path):
    """s1.p1 fixes shop.py; the next run's p1 changes it again, and its command c2 once more."""
    repo = make_repo(tmp_path / "shop", {"shop.py": "def total(xs):\n    return sum(xs) - 1\n"})
    first = write_replay(tmp_path / "r1.json", [
        step("fix", 'p = propose_patch(path="shop.py", old="sum(xs) - 1", new="sum(xs)")\n'
                    'print(apply_patch(patch_id=p["patch_id"]))'),
        step("done", 'final_answer("fixed")')])
    second = write_replay(tmp_path / "r2.json", [
        step("again", 'p = propose_patch(path="shop.py", old="return sum(xs)", new="return sum(xs) + 0")\n'
                      'print(apply_patch(patch_id=p["patch_id"]))\n'
                      "print(run_cmd(command=\"sed -i 's/+ 0/+ 0  # total/' shop.py\"))"),
        step("done", 'final_answer("ok")')])
    for replay in (first, second):
        done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "fix", cwd=repo)
        assert done.returncode == 0, done.stderr
    return repo


def _states(repo) -> dict[str, str]:
    rows = json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)
    return {row["patch_id"]: row["state"] + (f": {', '.join(row['changed'])}" if row["changed"] else "")
            for row in rows}


def _columns_hold(repo) -> None:
    """Each row's STATE cell holds its whole state and FILES starts where the header's does (or, after
    a long state, on a line of its own at that column)."""
    states = list(_states(repo).values())
    lines = run_cli("undo", "--list", cwd=repo).stdout.splitlines()
    state_at, files_at = lines[0].index("STATE"), lines[0].index("FILES")
    rows = iter(lines[1:])
    for state in states:
        line = next(rows)
        if line[state_at:].rstrip() == state:  # a long state: FILES on the next line
            line = next(rows)
            assert line[:files_at].strip() == "" and line[files_at] != " ", line
            continue
        assert line[state_at:files_at].strip() == state and line[files_at - 1] == " " != line[files_at], \
            f"STATE runs into FILES: {line!r}"


@needs_bwrap
def test_undo_list_tells_the_truth_after_a_hand_edit_and_keeps_its_columns(tmp_path):
    repo = _two_runs(tmp_path)
    assert _states(repo) == {"c2": "in effect", "p1": "in effect, then c2", "s1.p1": "in effect, then p1, c2"}
    _columns_hold(repo)
    refused = run_cli("undo", "s1.p1", cwd=repo)
    assert refused.returncode == 1 and "(by patch p1, applied later)" in refused.stderr
    assert "something else" not in refused.stderr, "p1 and c2 account for the change"

    (repo / "shop.py").write_text("def total(xs):\n    return sum(xs)  # mine\n")  # the person's own edit
    # Neither p1 nor c2 holds the file now: no entry is "in effect, then ..." on their account.
    assert _states(repo) == {"c2": "changed since: shop.py", "p1": "changed since: shop.py",
                             "s1.p1": "changed since: shop.py"}
    assert "in effect" not in run_cli("undo", "--list", cwd=repo).stdout
    refused = run_cli("undo", "s1.p1", cwd=repo)
    assert "(by patch p1, applied later)" in refused.stderr and "and by something else after them" in refused.stderr
    _columns_hold(repo)

    git(repo, "checkout", "--", "shop.py")  # back past every entry: each one is restored by hand
    assert _states(repo) == {"c2": "restored by hand", "p1": "restored by hand", "s1.p1": "restored by hand"}
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "Command c2, patch p1, s1.p1 had already been undone by hand (their files are" in done.stdout
