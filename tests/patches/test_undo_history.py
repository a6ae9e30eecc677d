"""Undo as history: patch ids numbered per session and never naming two entries, undo walking back through applied
patches newest first, each refused only for its own files (and saying which and what to do), a
restore by hand (git checkout) never leaving undo stuck, `undo --list`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import git, make_repo, run_cli, step, write_replay

from agent_runtime.core import Workspace
from agent_runtime.patches.undo import UndoJournal
from agent_runtime.tools.runtime import undo_dir


def patch(tools, path: str, old: str, new: str) -> str:
    proposed = tools["propose_patch"](path=path, old=old, new=new)
    assert "patch_id" in proposed, proposed
    applied = tools["apply_patch"](patch_id=proposed["patch_id"])
    assert applied.get("applied") is True, applied
    return proposed["patch_id"]


def test_each_session_numbers_from_p1_ids_stay_unique_and_undo_walks_back_through_them(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n", "b.txt": "b1\n"})
    _, first = tools_for(repo)  # one session
    assert patch(first, "a.txt", "a1", "a2") == "p1"
    assert patch(first, "b.txt", "b1", "b2") == "p2"
    _, second = tools_for(repo)  # a later session in the same repository numbers its own from 1
    assert patch(second, "a.txt", "a2", "a3") == "p1"
    assert "+a3" in second["show_patch"](patch_id="p1")["diff"], "p1 is this session's own patch"
    assert "+b2" in second["show_patch"](patch_id="s1.p2")["diff"], "an earlier session's, by its qualified id"
    assert second["show_patch"](patch_id="p2")["error"].startswith("there is no patch 'p2'"), \
        "an earlier session's patch is not this one's"
    other = make_repo(tmp_path / "other", {"x.txt": "x\n"})
    _, elsewhere = tools_for(other)
    assert patch(elsewhere, "x.txt", "x", "y") == "p1", "each repository counts on its own"

    listed = run_cli("undo", "--list", cwd=repo)
    assert listed.returncode == 0
    rows = listed.stdout.splitlines()
    assert rows[0].split() == ["PATCH", "APPLIED", "STATE", "FILES"]
    assert [r.split()[0] for r in rows[1:]] == ["p1", "s1.p2", "s1.p1"] and all("in effect" in r for r in rows[1:])
    assert "in effect, then p1" in rows[3], "s1.p1's file was changed again by p1, the agent's own later patch"
    listed_json = json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)
    assert [r["id"] for r in listed_json] == ["s2.p1", "s1.p2", "s1.p1"], "one id never names two entries"
    assert [r["patch_id"] for r in listed_json] == ["p1", "s1.p2", "s1.p1"]
    short = run_cli("undo", "p2", cwd=repo)  # the CLI's short ids are the newest session's
    assert short.returncode == 1 and "the newest session (s2) has no p2 of its own" in short.stderr
    assert "s1.p2 (patch: b.txt" in short.stderr and "agent-runtime undo s1.p2" in short.stderr
    assert (repo / "b.txt").read_text() == "b2\n", "nothing was undone"

    steps = []
    for expected in ("p1", "s1.p2", "s1.p1"):
        done = run_cli("undo", cwd=repo)
        assert done.returncode == 0, done.stderr
        steps.append(done.stdout.strip())
        assert f"Undid patch {expected}" in done.stdout
    assert (repo / "a.txt").read_text() == "a1\n" and (repo / "b.txt").read_text() == "b1\n"
    assert steps[0] == "Undid patch p1: restored a.txt"
    nothing = run_cli("undo", cwd=repo)
    assert nothing.returncode == 1 and "no applied patch to undo" in nothing.stderr
    states = {row["patch_id"]: row["state"] for row in json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)}
    assert states == {"p1": "undone", "s1.p2": "undone", "s1.p1": "undone"}
    again = run_cli("undo", "s1.p2", cwd=repo)
    assert again.returncode == 1 and "patch s1.p2 is already undone" in again.stderr


def test_an_earlier_sessions_patch_is_undone_by_its_qualified_id(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n", "b.txt": "b1\n", "c.txt": "c1\n"})
    _, first = tools_for(repo)
    patch(first, "a.txt", "a1", "a2")  # s1.p1
    patch(first, "b.txt", "b1", "b2")  # s1.p2
    runtime, second = tools_for(repo)
    patch(second, "c.txt", "c1", "c2")  # s2.p1
    assert runtime.journal.session == "s2"
    mine = second["undo_patch"](patch_id="p2")
    assert "this session has no p2 of its own" in mine["error"] and "s1.p2" in mine["error"]
    done = second["undo_patch"](patch_id="s1.p2")  # the model, by the qualified id
    assert done.get("undone") is True and done["patch_id"] == "s1.p2", done
    assert (repo / "b.txt").read_text() == "b1\n" and (repo / "c.txt").read_text() == "c2\n"
    cli = run_cli("undo", "s1.p1", cwd=repo)  # the person, by the qualified id
    assert cli.returncode == 0 and "Undid patch s1.p1: restored a.txt" in cli.stdout, cli.stderr
    assert (repo / "a.txt").read_text() == "a1\n" and (repo / "c.txt").read_text() == "c2\n", "p1 of s2 is kept"
    unknown = run_cli("undo", "s1.p9", cwd=repo)
    assert unknown.returncode == 1 and "there is no applied patch 's1.p9'" in unknown.stderr
    assert "valid ids: p1, s1.p2, s1.p1" in unknown.stderr


def test_a_short_id_of_several_sessions_is_refused_with_the_choices(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n", "b.txt": "b1\n", "c.txt": "c1\n", "d.txt": "d1\n"})
    _, one = tools_for(repo)
    _, two = tools_for(repo)
    patch(one, "a.txt", "a1", "a2")  # s1.p1
    patch(two, "b.txt", "b1", "b2")  # s2.p1: two sessions at once
    patch(one, "c.txt", "c1", "c2")  # s1.p2
    rows = json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)
    assert [r["patch_id"] for r in rows] == ["p2", "s2.p1", "s1.p1"], "p1 is both sessions': shown qualified"
    refused = run_cli("undo", "p1", cwd=repo)
    assert refused.returncode == 1 and "p1 is ambiguous" in refused.stderr
    assert "s2.p1 (patch: b.txt" in refused.stderr and "s1.p1 (patch: a.txt" in refused.stderr
    assert [(repo / f).read_text() for f in ("a.txt", "b.txt")] == ["a2\n", "b2\n"], "nothing was undone"
    _, three = tools_for(repo)  # a later session: p1 of its own; its p2 does not exist, two earlier ones do
    patch(three, "d.txt", "d1", "d2")  # s3.p1
    refused = run_cli("undo", "p2", cwd=repo)
    assert refused.returncode == 1 and "the newest session (s3) has no p2 of its own" in refused.stderr
    assert "s1.p2 (patch: c.txt" in refused.stderr
    assert three["undo_patch"](patch_id="p1").get("undone") is True and (repo / "d.txt").read_text() == "d1\n"
    assert run_cli("undo", "s2.p1", cwd=repo).returncode == 0 and (repo / "b.txt").read_text() == "b1\n"


def test_a_refusal_names_the_file_and_a_git_checkout_unsticks_it(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n", "b.txt": "b1\n"})
    _, tools = tools_for(repo)
    patch(tools, "b.txt", "b1", "b2")  # p1
    patch(tools, "a.txt", "a1", "a2")  # p2
    (repo / "a.txt").write_text("a2 and the person's own edit\n")
    refused = run_cli("undo", cwd=repo)
    assert refused.returncode == 1
    assert "cannot undo patch p2: a.txt changed since it was applied" in refused.stderr
    assert "git checkout -- a.txt" in refused.stderr and "undo --list" in refused.stderr
    assert (repo / "a.txt").read_text() == "a2 and the person's own edit\n", "the person's edit is kept"
    # Its own files only: p1 (b.txt) can be undone by id meanwhile.
    assert run_cli("undo", "p1", cwd=repo).returncode == 0 and (repo / "b.txt").read_text() == "b1\n"
    # The person restores a.txt by hand: p2 counts as undone, and undo goes on (nothing left here).
    git(repo, "checkout", "--", "a.txt")
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "Patch p2 had already been undone by hand" in done.stdout and "No other applied patch" in done.stdout
    states = {row["patch_id"]: row["state"] for row in json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)}
    assert states == {"p1": "undone", "p2": "undone by hand"}


def test_a_checkout_past_several_patches_of_one_file_is_not_stuck_either(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "one\n", "c.txt": "c1\n"})
    _, tools = tools_for(repo)
    patch(tools, "c.txt", "c1", "c2")  # p1
    patch(tools, "a.txt", "one", "two")  # p2
    patch(tools, "a.txt", "two", "three")  # p3
    explicit = run_cli("undo", "p2", cwd=repo)
    assert explicit.returncode == 1 and "(by patch p3, applied later)" in explicit.stderr
    (repo / "a.txt").write_text("four\n")
    assert run_cli("undo", cwd=repo).returncode == 1
    git(repo, "checkout", "--", "a.txt")  # back to "one": before p2, so before p3 too
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "Patch p3, p2 had already been undone by hand" in done.stdout
    assert "Undid patch p1: restored c.txt" in done.stdout and (repo / "c.txt").read_text() == "c1\n"


def test_a_journal_from_before_sessions_is_session_s0_and_a_resumed_s0_conversation_numbers_on(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n"})
    journal = UndoJournal(undo_dir(), Workspace(repo))
    journal.path.parent.mkdir(parents=True, exist_ok=True)
    old = {"patch_id": "p7", "time": 1.0, "root": str(repo), "undone": True, "conversation": "old-conv",
           "edits": [{"old_path": "a.txt", "new_path": "a.txt", "before": "YTAK", "after": "YTEK",
                      "old_mode": None, "new_mode": None}]}
    journal.path.write_text(json.dumps(old) + "\n")  # the journal's first format: no session, undone in place
    _, tools = tools_for(repo)
    assert patch(tools, "a.txt", "a1", "a2") == "p1"
    history = journal.history()
    assert [(e.qualified, e.shown, e.undone) for e in history] == [("s0.p7", "s0.p7", "undo"), ("s1.p1", "p1", None)]
    runtime, resumed = tools_for(repo)
    runtime.journal.take_up("old-conv")  # a conversation of before: its ids go on past p7, never meet it
    assert patch(resumed, "a.txt", "a2", "a3") == "p8"
    assert [e.qualified for e in journal.history()] == ["s0.p7", "s1.p1", "s0.p8"]


def test_proposals_are_kept_for_resume_but_never_a_hidden_files(tmp_path, tools_for):
    from agent_runtime.patches.apply import FileEdit, Patch

    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n"})
    runtime, tools = tools_for(repo)
    runtime.journal.context.update(conversation="conv-1")
    first = tools["propose_patch"](path="a.txt", old="a1", new="a2")["patch_id"]
    runtime.journal.remember(Patch("p99", [FileEdit(".env", ".env", b"K=secret\n", b"K=x\n", 0o100644, 0o100644)]))
    kept = runtime.journal.proposals("conv-1")
    assert [p.id for p in kept] == [first] and not kept[0].applied
    assert b"secret" not in runtime.journal.proposed_path.read_bytes()
    tools["apply_patch"](patch_id=first)
    assert runtime.journal.proposals("conv-1")[0].applied
    assert runtime.journal.proposals("other") == []
    mode = os.stat(runtime.journal.proposed_path).st_mode & 0o777
    assert mode == 0o600


def test_undo_in_the_repl_lists_and_refuses_as_the_command_does(tmp_path, tools_for):
    from agent_runtime.cli.slash import ReplContext, dispatch
    from agent_runtime.config import load_settings

    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n"})
    _, tools = tools_for(repo)
    patch(tools, "a.txt", "a1", "a2")
    said: list[str] = []

    class Display:
        def info(self, message):
            said.append(message)

        def warn(self, message):
            said.append("warn: " + message)

        def error(self, message):
            said.append("error: " + message)

    ctx = ReplContext(load_settings({}), Path(repo), session=None, display=Display(), opener=None)
    dispatch(ctx, "/undo --list")
    assert "p1" in said[-1] and "in effect" in said[-1]
    (repo / "a.txt").write_text("changed\n")
    dispatch(ctx, "/undo")
    assert said[-1].startswith("error: cannot undo patch p1: a.txt changed since it was applied")
    dispatch(ctx, "/undoo")
    assert said[-1] == "warn: unknown command /undoo; did you mean /undo? (/help lists them)"


def test_the_repls_undo_takes_this_sessions_short_ids_and_earlier_ones_qualified(tmp_path, tools_for):
    from types import SimpleNamespace

    from agent_runtime.cli.slash import ReplContext, dispatch
    from agent_runtime.config import load_settings

    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n", "b.txt": "b1\n"})
    _, earlier = tools_for(repo)
    patch(earlier, "a.txt", "a1", "a2")  # s1.p1
    runtime, tools = tools_for(repo)  # the REPL's session
    assert patch(tools, "b.txt", "b1", "b2") == "p1"
    said: list[str] = []
    display = SimpleNamespace(info=said.append, warn=lambda m: said.append("warn: " + m),
                              error=lambda m: said.append("error: " + m))
    from agent_runtime.agent.conversation import Conversation

    session = SimpleNamespace(runtime=runtime, chat=Conversation(), applied=[])
    ctx = ReplContext(load_settings({}), Path(repo), session=session, display=display, opener=None)
    dispatch(ctx, "/undo --list")
    assert [line.split()[0] for line in said[-1].splitlines()[1:]] == ["p1", "s1.p1"]
    dispatch(ctx, "/undo p1")  # this session's p1: b.txt, not the earlier session's a.txt
    assert said[-1] == "Undid patch p1: restored b.txt"
    assert (repo / "b.txt").read_text() == "b1\n" and (repo / "a.txt").read_text() == "a2\n"
    assert session.chat.notes == ["the user undid patch p1: its files are back as they were before it"]
    dispatch(ctx, "/undo p2")
    assert said[-1].startswith("error: there is no applied patch 'p2' in this session") and "s1.p1" in said[-1]
    dispatch(ctx, "/undo s1.p1")
    assert said[-1] == "Undid patch s1.p1: restored a.txt" and (repo / "a.txt").read_text() == "a1\n"


def test_a_fresh_cli_run_numbers_from_p1_and_continue_numbers_on_in_its_session(tmp_path):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n", "b.txt": "b1\n"})
    runs = tmp_path / "runs"

    def task(path: str, old: str, new: str, *options: str):
        replay = write_replay(tmp_path / f"{path}-{new}.json", [step("Change it and report its id.", (
            f'p = propose_patch(path="{path}", old="{old}", new="{new}")\n'
            'print(apply_patch(patch_id=p["patch_id"]))\nfinal_answer(p["patch_id"])'))])
        done = run_cli(*options, "--approval", "auto", "--model", f"replay:{replay}", f"change {path}", cwd=repo,
                       env={"RUNS_DIR": str(runs)})
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert task("a.txt", "a1", "a2") == "p1"
    assert task("b.txt", "b1", "b2") == "p1", "a new process is a new session: it numbers from p1"
    assert task("a.txt", "a2", "a3", "--continue") == "p2", "a resumed conversation numbers on in its session"
    rows = json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)
    assert [r["id"] for r in rows] == ["s2.p2", "s2.p1", "s1.p1"]
    assert [r["patch_id"] for r in rows] == ["p2", "p1", "s1.p1"]


@pytest.mark.pty
def test_a_fresh_repl_after_an_earlier_sessions_patch_numbers_from_p1_on_its_terminal(tmp_path):
    """The issue's walk on a real terminal: a repository where an earlier run applied p1; a new REPL's
    first patch is p1 again, and its /undo --list names both, the earlier one qualified."""
    from conftest import VENV_BIN
    from terminal import Terminal

    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n", "b.txt": "b1\n"})
    env = {"RUNS_DIR": str(tmp_path / "runs")}
    earlier = write_replay(tmp_path / "earlier.json", [step("Change a.", (
        'p = propose_patch(path="a.txt", old="a1", new="a2")\nprint(apply_patch(patch_id=p["patch_id"]))\n'
        'final_answer(p["patch_id"])'))])
    done = run_cli("--approval", "auto", "--model", f"replay:{earlier}", "change a", cwd=repo, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "p1", done.stderr
    replay = write_replay(tmp_path / "repl.json", [step("Change b.", (
        'p = propose_patch(path="b.txt", old="b1", new="b2")\nprint(apply_patch(patch_id=p["patch_id"]))\n'
        'final_answer("changed b with " + p["patch_id"])'))])
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "auto", "--model", f"replay:{replay}"], repo,
                    {**os.environ, "TERM": "dumb", "COLUMNS": "160", **env})
    try:
        term.read_until("› ", timeout=90)
        term.type("change b\n")
        term.read_until_after("changed b with p1", "› ", timeout=120)
        term.type("/undo --list\n")
        term.read_until("s1.p1", timeout=30)
        term.type("/exit\n")
        assert term.wait() == 0, term.output[-3000:]
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    listing = term.output[term.output.rindex("/undo --list"):]
    assert re.search(r"^\s*p1\s", listing, re.M) and re.search(r"^\s*s1\.p1\s", listing, re.M), listing
    assert (repo / "a.txt").read_text() == "a2\n" and (repo / "b.txt").read_text() == "b2\n"
