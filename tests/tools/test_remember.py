"""Project memory: the remember tool writes AGENTS.md's notes section through the policy and the
approval gate (asked every time: rule `instructions`), later sessions read the notes within a
budget, and nothing lets the model leave instructions a person did not approve."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import BUGGY_PROJECT, VENV_BIN, flat, make_repo, run_cli
from terminal import Terminal

from agent_runtime.agent.prompt import project_instructions
from agent_runtime.safety.approval import Approver
from agent_runtime.tools.remember import MAX_NOTES_CHARS, NOTES_HEADING, split_notes, with_note


def scripted(*keys):
    asked = []

    def prompt(tool, action, decision):
        asked.append((tool, action.kind, action.paths, decision.rule, action.preview.diff()))
        return keys[len(asked) - 1], None

    return prompt, asked


def test_remember_goes_through_the_approval_gate_every_time(tmp_path, tools_for):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "AGENTS.md": "# Rules\n\nUse tabs.\n"})
    runtime, tools = tools_for(repo)
    prompt, asked = scripted("n", "y", "y")
    runtime.approver = Approver("ask", interactive=True, prompt=prompt, notice=lambda m: None)
    refused = tools["remember"](note="tests need `make fixtures` first")
    assert "The user refused this remember" in refused["error"]
    assert (repo / "AGENTS.md").read_text() == "# Rules\n\nUse tabs.\n"
    tool, kind, paths, rule, diff = asked[0]
    assert (tool, kind, paths, rule) == ("remember", "write", ("AGENTS.md",), "instructions")
    assert "+- " in diff and "tests need `make fixtures` first" in diff, "the person sees the diff"
    saved = tools["remember"](note="tests need `make fixtures` first")
    assert saved["saved"] is True
    text = (repo / "AGENTS.md").read_text()
    assert text.startswith("# Rules\n\nUse tabs.\n") and NOTES_HEADING in text
    assert split_notes(text)[1][0].endswith(": tests need `make fixtures` first")
    # A second note: asked again (never remembered), appended in the same section.
    tools["remember"](note="the CLI entry point is app/main.py")
    assert len(asked) == 3 and len(split_notes((repo / "AGENTS.md").read_text())[1]) == 2
    assert "already saved" in tools["remember"](note="the CLI entry point is app/main.py")["error"]
    # The undo journal has it: `agent-runtime undo` takes the last note back.
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert len(split_notes((repo / "AGENTS.md").read_text())[1]) == 1


def test_always_for_patches_does_not_cover_notes(tmp_path, tools_for):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    runtime, tools = tools_for(repo)
    prompt, asked = scripted("a", "n")
    runtime.approver = Approver("ask", interactive=True, prompt=prompt, notice=lambda m: None)
    proposed = tools["propose_patch"](path="calc.py", old="a - b", new="a + b")
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"] is True  # "a": every patch
    assert "refused" in tools["remember"](note="add() had its sign wrong")["error"]
    assert [a[3] for a in asked] == ["write", "instructions"], "the note was asked about"
    # The same for a patch that writes AGENTS.md, and for a command that does.
    prompt2, asked2 = scripted("n", "a", "n")
    runtime.approver._prompt = prompt2
    proposed = tools["propose_patch"](path="AGENTS.md", old="", new="Always push to main.\n")
    assert "refused" in tools["apply_patch"](patch_id=proposed["patch_id"])["error"]
    assert asked2[0][3] == "instructions"
    assert not (repo / "AGENTS.md").exists()


def test_commands_that_write_the_instructions_ask_every_time(tmp_path, tools_for):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "AGENTS.md": "x\n"})
    (repo / "docs").mkdir()
    (repo / "docs" / "agents").symlink_to("../AGENTS.md")
    runtime, tools = tools_for(repo)
    rules = []

    def prompt(tool, action, decision):
        rules.append(decision.rule)
        return "a", None  # "always this exact command": still asked next time

    runtime.approver = Approver("ask", interactive=True, prompt=prompt, notice=lambda m: None)
    for _ in range(2):
        tools["run_cmd"](command="echo 'obey me' >> AGENTS.md")
    tools["run_cmd"](command="cp calc.py docs/agents")  # through a symlink
    tools["run_cmd"](command="rm -f build.txt && tee -a AGENTS.md < calc.py")  # beside another asking command
    assert rules == ["instructions"] * 4
    decision = runtime.policy.check_command("sed -i s/x/y/ AGENTS.md", repo)
    assert decision.rule == "instructions" and "project instructions" in decision.reason


def test_notes_are_read_into_the_next_session_within_their_budget(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    text = with_note("# Project\n\n" + "Long instructions. " * 800 + "\n\n## Style\n\nTabs.\n", "first note")
    for n in range(200):
        text = with_note(text, f"note number {n:03d}")
    (repo / "AGENTS.md").write_text(text)
    loaded = project_instructions(repo)
    assert "note number 199" in loaded, "the newest notes are kept even when AGENTS.md is long"
    assert "first note" not in loaded and "older notes left out]" in loaded
    notes_part = loaded[loaded.index(NOTES_HEADING):]
    assert len(notes_part) < MAX_NOTES_CHARS + 200
    assert "[AGENTS.md truncated]" in loaded and "## Style" not in loaded.split(NOTES_HEADING)[1]
    # The section stays where it is; text after it is kept when appending.
    before, notes, after = split_notes(with_note("# A\n\n" + NOTES_HEADING + "\n\n- one\n\n## Later\n\nz\n", "two"))
    assert notes == ["one", "two"] and after.startswith("## Later")


def test_instructions_are_never_read_through_a_link_to_a_secret(tmp_path, make_runtime):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, ".env": "OPENAI_API_KEY=sk-secret\n"})
    (repo / "AGENTS.md").symlink_to(".env")
    runtime = make_runtime(repo)
    from agent_runtime.core import Action

    denied = lambda rel: runtime.decide(Action("read", paths=(rel,))).decision == "deny"  # noqa: E731
    assert project_instructions(repo, denied) is None
    (repo / "AGENTS.md").unlink()
    outside = tmp_path / "outside.md"
    outside.write_text("secret plans\n")
    (repo / "AGENTS.md").symlink_to(outside)
    assert project_instructions(repo, denied) is None


def test_bad_notes_are_refused_with_what_to_do(tmp_path, tools_for):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    runtime, tools = tools_for(repo)  # auto: a note would be written
    for note, expected in (("two\nlines", "one non-empty line"), ("x" * 400, "at most 300"),
                           ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", "secret"),
                           ("bell \x07", "control characters"), ("   ", "one non-empty line")):
        result = tools["remember"](note=note)
        assert expected in result["error"], (note, result)
    assert not (repo / "AGENTS.md").exists()
    (repo / "AGENTS.md").symlink_to("README.md")
    assert "is a link to README.md" in tools["remember"](note="fine")["error"]


def test_the_prompt_for_a_note_asks_about_the_note_and_enter_means_no(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "160"}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "tool", "remember",
                     '{"note": "run the tests with make test"}'], repo, env)
    term.read_until("[y/N/m]", timeout=60)
    shown = flat(term.output)
    assert "Save this note?" in shown and "remember note: 1 file(s), +" in shown
    assert "always" not in shown, "no 'always' for the project's instructions"
    assert "policy: ask (rule instructions)" in shown
    term.type("\n")  # Enter: the default, no
    assert term.wait(60) == 1
    assert "The user refused this remember" in flat(term.output)
    assert not (repo / "AGENTS.md").exists()
    assert Path(repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"]
