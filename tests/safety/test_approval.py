"""Approval gates: modes, every choice at the prompt, one prompt at a time, and the real
terminal prompt for a command and for a patch."""

from __future__ import annotations

import os
import threading
import time

from conftest import BUGGY_PROJECT, VENV_BIN, flat, make_repo, step, write_replay
from terminal import Terminal

from agent_runtime.core import Action, Decision
from agent_runtime.safety.approval import Approver

ASK = Decision("ask", "change-files", "changes files directly")
RM = Action("command", command="rm a.txt")


def scripted(*answers):
    """A prompt that answers from a list and counts how often it was asked."""
    queue = list(answers)
    calls = []

    def prompt(tool, action, decision):
        calls.append((tool, action.command))
        return queue.pop(0)

    return prompt, calls


def test_modes_and_sources():
    assert Approver("auto", interactive=False).review("run_cmd", RM, ASK).source == "config"
    never = Approver("never", interactive=True).review("run_cmd", RM, ASK)
    assert (never.approved, never.outcome, never.source) == (False, "denied", "config")
    default = Approver("never", interactive=False, mode_from_default=True).review("run_cmd", RM, ASK)
    assert default.source == "non_interactive"
    no_tty = Approver("ask", interactive=False).review("run_cmd", RM, ASK)
    assert (no_tty.approved, no_tty.source) == (False, "non_interactive")


def test_yes_no_and_message():
    prompt, calls = scripted(("y", None), ("n", None), ("m", "use git rm instead"))
    approver = Approver("ask", interactive=True, prompt=prompt)
    assert approver.review("run_cmd", RM, ASK).approved is True
    assert approver.review("run_cmd", RM, ASK).approved is False
    refused = approver.review("run_cmd", RM, ASK)
    assert (refused.approved, refused.source, refused.message) == (False, "user", "use git rm instead")
    assert len(calls) == 3


def test_always_for_a_command_and_for_a_rule():
    prompt, calls = scripted(("a", None), ("r", None))
    approver = Approver("ask", interactive=True, prompt=prompt)
    assert approver.review("run_cmd", RM, ASK).approved
    assert approver.review("run_cmd", RM, ASK).approved  # same command: not asked again
    other = Action("command", command="rm b.txt")
    assert approver.review("run_cmd", other, ASK).approved  # asked: answered "r"
    third = Action("command", command="mv c d")
    assert approver.review("run_cmd", third, ASK).approved  # same rule: not asked again
    assert [c[1] for c in calls] == ["rm a.txt", "rm b.txt"]
    network = Decision("ask", "network", "reaches the network")
    prompt2, calls2 = scripted(("n", None))
    approver.__dict__["_prompt"] = prompt2
    assert not approver.review("run_cmd", Action("command", command="curl x"), network).approved
    assert len(calls2) == 1


def test_always_for_patches():
    prompt, calls = scripted(("a", None))
    approver = Approver("ask", interactive=True, prompt=prompt)
    write = Decision("ask", "write", "changes files in the workspace")
    assert approver.review("apply_patch", Action("write", paths=("a",)), write).approved
    assert approver.review("apply_patch", Action("write", paths=("b",)), write).approved
    assert len(calls) == 1


def test_one_prompt_at_a_time():
    open_prompts = []
    most = []

    def slow_prompt(tool, action, decision):
        open_prompts.append(1)
        most.append(len(open_prompts))
        time.sleep(0.2)
        open_prompts.pop()
        return ("y", None)

    approver = Approver("ask", interactive=True, prompt=slow_prompt)
    threads = [threading.Thread(target=approver.review, args=("run_cmd", Action("command", command=f"rm {i}"), ASK))
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(most) == 4 and max(most) == 1


def _terminal(args, repo):
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "160"}
    return Terminal([str(VENV_BIN / "agent-runtime"), *args], repo, env)


def test_terminal_prompt_for_a_command(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    term = _terminal(["--approval", "ask", "tool", "run_cmd", '{"command": "rm calc.py"}'], repo)
    term.read_until("[y/N/a/r/m]", timeout=60)
    shown = flat(term.output)
    assert "Run this command?" in shown
    assert "run_cmd wants to run" in shown and "rm calc.py" in shown
    assert "policy: ask (rule change-files): changes files directly" in shown
    assert "always: every command of this rule" in shown
    term.type("x\n")
    term.read_until("Please answer one of")
    term.type("y\n")
    assert term.wait() == 0 and not (repo / "calc.py").exists()


def test_a_single_keypress_answers_the_prompt_and_enter_alone_is_still_no(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    term = _terminal(["--approval", "ask", "tool", "run_cmd", '{"command": "rm calc.py"}'], repo)
    term.read_until("[y/N/a/r/m]", timeout=60)
    term.type("y")  # no Enter
    assert term.wait() == 0 and not (repo / "calc.py").exists()
    import re

    assert "[y/N/a/r/m] y" in re.sub(r"\x1b\[[0-9;]*m", "", term.output), "the key is echoed after the question"
    term = _terminal(["--approval", "ask", "tool", "run_cmd", '{"command": "rm test_calc.py"}'], repo)
    term.read_until("[y/N/a/r/m]", timeout=60)
    term.type("\r")  # Enter: the default
    term.wait()
    assert (repo / "test_calc.py").exists() and "refused" in term.output


def test_terminal_prompt_for_a_patch_shows_the_diff_and_passes_a_message(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [
        step("Fix.", 'print(propose_patch(path="calc.py", old="return a - b", new="return a + b"))'),
        step("Apply.", 'print(apply_patch(patch_id="p1"))'),
        step("Report.", 'final_answer("done")'),
    ])
    term = _terminal(["--approval", "ask", "--model", f"replay:{replay}", "fix add"], repo)
    term.read_until("[y/N/a/m]", timeout=120)
    shown = flat(term.output)
    assert "Apply this patch?" in shown
    assert "this exact command" not in shown, "a patch prompt speaks of patches"
    assert "apply_patch p1: 1 file(s), +1 -1" in shown and "modified calc.py +1 -1" in shown
    assert "-    return a - b" in term.output and "+    return a + b" in term.output
    assert "\x1b[32m" in term.output and "\x1b[31m" in term.output, "the diff is coloured"
    term.type("m\n")
    term.read_until("Message to the model:")
    term.type("please add a test first\n")
    assert term.wait(120) == 5  # answered, but the patch was refused
    assert "The user refused this apply_patch. They said: please add a test first" in flat(term.output)
    assert (repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"]


class _Preview:
    """Enough of a patch for the terminal prompt: its id, its files and its diff."""

    id = "p1"

    def stats(self):
        return [{"status": "modified", "path": "AGENTS.md", "added": 2, "removed": 0}]

    def diff(self):
        return "--- a/AGENTS.md\n+++ b/AGENTS.md\n@@ -1 +1,3 @@\n # Notes\n+\n+- run make test-fast first\n"


def test_the_note_prompt_speaks_of_saving_a_note(monkeypatch, capsys):
    from agent_runtime.safety import approval

    monkeypatch.setattr(approval, "read_answer", lambda: "y")
    pinned = Decision("ask", "instructions", "writes the project's instructions")
    note = Action("write", paths=("AGENTS.md",), preview=_Preview())
    assert approval.terminal_prompt("remember", note, pinned) == ("y", None)
    shown = " ".join(capsys.readouterr().err.split())
    assert "Save this note? [y/N/m]" in shown and "y yes, save it" in shown, shown
    assert "apply" not in shown.lower(), "a note is saved, not applied"
    # A patch keeps its own words.
    assert approval.terminal_prompt("apply_patch", note, ASK) == ("y", None)
    shown = " ".join(capsys.readouterr().err.split())
    assert "Apply this patch? [y/N/a/m]" in shown and "y yes, apply it" in shown, shown
    assert "always: every patch, for this session" in shown
