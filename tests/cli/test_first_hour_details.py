"""The smaller things a new user met in the first hour (issue 41, item 8), each as they met it:
a trusted skill edited since, Ctrl-C at an approval prompt, a Latin-1 file, a folder outside git,
/status, and a failed propose_patch whose result the code indexes anyway."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import VENV_BIN, json_lines, make_repo, run_cli, step, write_replay
from terminal import Terminal

CALC = {"calc.py": "def add(a, b):\n    return a - b\n"}


def _terminal(repo: Path, replay: Path) -> Terminal:
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "120"}
    return Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}"], repo, env)


def test_a_trusted_skill_edited_since_says_it_changed_and_how_to_see_the_change(tmp_path):
    repo = make_repo(tmp_path / "p", {".agents/skills/release/SKILL.md":
                                      "---\nname: release\ndescription: How to cut a release.\n---\nRun make release.\n"})
    assert run_cli("skills", "trust", "--yes", "release", cwd=repo).returncode == 0
    assert "enabled (trusted)" in run_cli("skills", "list", cwd=repo).stdout
    with (repo / ".agents/skills/release/SKILL.md").open("a") as skill:
        skill.write("Then push to production.\n")
    listed = run_cli("skills", "list", cwd=repo).stdout
    assert "off: changed since you trusted it" in listed and "not trusted" not in listed, listed
    assert "git diff -- .agents/skills/release" in listed and "git log -p --since=" in listed
    assert "agent-runtime skills trust release` trusts this version" in listed
    replay = write_replay(tmp_path / "r.json", [step("Done.", 'final_answer("ok")')])
    started = run_cli("--model", f"replay:{replay}", "hi", cwd=repo)
    assert "Skill release is off: changed since you trusted it" in started.stderr, started.stderr
    assert "you have not trusted" not in started.stderr


def test_ctrl_c_at_an_approval_prompt_ends_the_prompts_line(tmp_path):
    repo = make_repo(tmp_path / "p", CALC)
    replay = write_replay(tmp_path / "r.json", [
        step("Fix.", 'p = propose_patch(path="calc.py", old="a - b", new="a + b")\n'
                     'print(apply_patch(patch_id=p["patch_id"]))'), step("Done.", 'final_answer("ok")')])
    term = _terminal(repo, replay)
    try:
        term.read_until("› ", timeout=60)
        term.type("fix add\n")
        term.read_until("[y/N/a/m] ", timeout=60)
        term.type("\x03")
        term.read_until_after("[y/N/a/m] ", "› ", timeout=30)
        term.type("/exit\n")
        assert term.wait() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    asked = term.output[term.output.rindex("[y/N/a/m] "):]
    assert asked.startswith("[y/N/a/m] ^C\r\n"), repr(asked[:200])
    assert "\r\ninterrupted: 1 step" in asked, "the summary starts a line of its own"
    assert (repo / "calc.py").read_text() == CALC["calc.py"], "nothing was applied"


def test_status_says_each_thing_once(tmp_path):
    repo = make_repo(tmp_path / "p", CALC)
    term = _terminal(repo, write_replay(tmp_path / "r.json", []))
    try:
        term.read_until("› ", timeout=60)
        term.type("/status\n")
        term.read_until_after("/status", "repo ", timeout=60)
        term.read_until_after("repo ", "› ", timeout=30)
        term.type("/exit\n")
        assert term.wait() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    shown = term.output[term.output.index("/status"):]
    assert shown.count("approval") == 1 and shown.count("sandbox") == 1 and shown.count("replay:") == 1, shown


def test_a_failed_propose_patch_indexed_anyway_is_one_line_saying_so(tmp_path):
    repo = make_repo(tmp_path / "p", CALC)
    replay = write_replay(tmp_path / "r.json", [
        step("Fix.", 'p = propose_patch(path="calc.py", old="a * b", new="a + b")\n'
                     'print(apply_patch(patch_id=p["patch_id"]))'), step("Done.", 'final_answer("ok")')])
    done = run_cli("--json", "-q", "--approval", "auto", "--model", f"replay:{replay}", "fix add", cwd=repo)
    (ended, *_) = [e for e in json_lines(done.stdout) if e["type"] == "step_ended"]
    error = ended["error"]
    assert "Could not index" not in error and "recovery_suggestion" not in error, error
    assert "FailedCall: the call failed, so there is no 'patch_id' (nothing was made or changed): " \
           "old text was not found in calc.py" in error, error
    assert "\n" not in error, "one line"


def test_a_latin1_file_is_read_with_a_note_and_a_patch_keeps_its_bytes(tmp_path):
    repo = make_repo(tmp_path / "p", {"names.py": b'owner = "Jos\xe9"\ncount = 1\n'})
    read = run_cli("tool", "read_file", json.dumps({"path": "names.py"}), cwd=repo)
    result = json.loads(read.stdout)
    assert "\ufffd" in result["content"] and "names.py is not UTF-8" in result["note"], result
    assert "Patches keep the file's bytes as they are" in result["note"]
    assert "note" not in json.loads(run_cli("tool", "read_file", '{"path": "names.py", "start_line": 2}',
                                            cwd=repo).stdout), "a range without such a byte needs no note"
    replay = write_replay(tmp_path / "r.json", [
        step("Count.", 'p = propose_patch(path="names.py", old="count = 1", new="count = 2")\n'
                       'print(apply_patch(patch_id=p["patch_id"]))'), step("Done.", 'final_answer("ok")')])
    assert run_cli("--approval", "auto", "--model", f"replay:{replay}", "count", cwd=repo).returncode == 0
    assert (repo / "names.py").read_bytes() == b'owner = "Jos\xe9"\ncount = 2\n'


def test_a_folder_outside_git_is_told_what_undo_and_diff_do_there(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "calc.py").write_text(CALC["calc.py"])
    replay = write_replay(tmp_path / "r.json", [step("Done.", 'final_answer("ok")')])
    started = run_cli("--model", f"replay:{replay}", "hi", cwd=folder)
    assert f"{folder} is not a git repository" in started.stderr, started.stderr
    assert "agent-runtime undo keeps its own history" in started.stderr and "git_diff" in started.stderr
    inside = run_cli("--model", f"replay:{replay}", "hi", cwd=make_repo(tmp_path / "git", CALC))
    assert "not a git repository" not in inside.stderr
