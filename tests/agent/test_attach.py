"""@path in a task: the same validators and policy as read_file; refusals say why; a size budget."""

from __future__ import annotations

import os

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli, step, write_replay

from agent_runtime.agent.attach import AttachmentError, attach_files, mentions

SECRET = "hunter2-do-not-leak-7731"


def test_a_file_is_attached_and_words_that_name_no_file_are_left_alone(tmp_path, make_runtime):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    runtime = make_runtime(repo)
    task = "why does @calc.py fail? ask me@example.com, see @pytest.fixture, and @calc.py again."
    assert mentions(task) == ["calc.py", "pytest.fixture"]
    text = attach_files(task, runtime)
    assert text.startswith(task + "\n\nAttached file calc.py (lines 1-6 of 6):\ndef add(a, b):\n    return a - b\n")
    assert text.count("Attached file") == 1 and text.endswith("(end of calc.py)")
    assert attach_files("no mention here", runtime) == "no mention here"


@pytest.mark.parametrize("name, expected", [
    (".env", "the policy forbids reading it"),
    ("./.env", "the policy forbids reading it"),
    ("src/../.env", "the policy forbids reading it"),
    ("../outside.txt", "is outside the workspace"),
    ("/etc/passwd", "is outside the workspace"),
    ("link.txt", "symlink that leads outside"),
    ("blob.bin", "is a binary file"),
    ("src", "is a directory"),
])
def test_what_read_file_refuses_is_refused_with_the_reason(tmp_path, make_runtime, name, expected):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, ".gitignore": ".env\n", "src/m.py": "x = 1\n"})
    (repo / ".env").write_text(f"API_KEY={SECRET}\n")
    (tmp_path / "outside.txt").write_text(SECRET)
    os.symlink(tmp_path / "outside.txt", repo / "link.txt")
    (repo / "blob.bin").write_bytes(b"\x00\x01" * 100)
    runtime = make_runtime(repo)
    with pytest.raises(AttachmentError, match=expected) as caught:
        attach_files(f"look at @{name}", runtime)
    assert SECRET not in str(caught.value)


def test_attachments_share_a_size_budget(tmp_path, make_runtime):
    repo = make_repo(tmp_path / "p", {"a.txt": "a line of text\n" * 300, "b.txt": "b\n" * 100})
    runtime = make_runtime(repo, env={"TRUNCATION_MAX_CHARS": "200"})  # budget 4 x 200
    text = attach_files("@a.txt and @b.txt", runtime)
    attached = text.split("\n\n", 1)[1]
    assert len(attached) < 800 + 400  # the contents within the budget, plus the framing lines
    assert "the attachments' size budget is used up" in attached
    assert 'read_file(path="a.txt", start_line=' in attached and 'read_file(path="b.txt", start_line=' in attached


def test_a_refused_attachment_runs_nothing(tmp_path):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, ".gitignore": ".env\n"})
    (repo / ".env").write_text(f"API_KEY={SECRET}\n")
    replay = write_replay(tmp_path / "r.json", [step("d", 'final_answer("read it")')])
    done = run_cli("--model", f"replay:{replay}", "summarize @.env", cwd=repo, env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 2
    assert "@.env is not attached: the policy forbids reading it" in done.stderr and "nothing was run" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_mistyped_path_gets_one_warning_but_decorators_and_addresses_do_not(tmp_path, make_runtime):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, ".gitignore": ".env\n", "pytest.ini": "[pytest]\n"})
    (repo / ".env").write_text(f"API_KEY={SECRET}\n")
    runtime = make_runtime(repo)
    warned: list[str] = []
    task = ("fix @calc.pyy and @src/utils.py, see @notes.md; not @property, @pytest.fixture, @dataclass, "
            "@app.route('/x'), @.evn or me@example.com")
    assert attach_files(task, runtime, warn=warned.append) == task
    assert warned == [
        "@calc.pyy names no file in the repository and is not attached (did you mean @calc.py?); "
        "the task goes on without it",
        "@src/utils.py names no file in the repository and is not attached (a mistyped path?); "
        "the task goes on without it",
        "@notes.md names no file in the repository and is not attached (a mistyped path?); "
        "the task goes on without it",
    ]
    assert not any(".env" in line or SECRET in line for line in warned), "a denied file is never suggested"


def test_the_warning_reaches_the_person_and_the_task_runs(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [step("d", 'final_answer("looked")')])
    done = run_cli("--model", f"replay:{replay}", "look at @calc.pyy", cwd=repo,
                   env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stderr.split())
    assert said.count("@calc.pyy names no file in the repository") == 1
    assert "did you mean @calc.py?" in said and done.stdout.strip() == "looked"
