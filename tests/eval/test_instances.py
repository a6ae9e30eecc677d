"""SWE-bench-shaped instances in `agent-runtime eval`: read from JSONL (lists or JSON strings,
local snapshots or URLs), a fresh repository per task at base_commit, the judge that puts the
original tests back before running FAIL_TO_PASS and PASS_TO_PASS, bad instances reported with
their line, parallel workers, and what an agent could do to the repository to fool the judge."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import git, make_repo, run_cli, step, write_replay

from agent_runtime.eval.instance import DEFAULT_TEST_CMD, Instance
from agent_runtime.eval.judge import judge_command, judge_instance, outcomes, prepare_instance
from agent_runtime.eval.repo import check_env, python_bin_dir
from agent_runtime.eval.suite import SuiteError, load_suite

LIB = {"calc/__init__.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
       "tests/test_calc.py": "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"}
# The fix's test: what the instance's test_patch adds to tests/test_calc.py.
TEST_PATCH = """\
diff --git a/tests/test_calc.py b/tests/test_calc.py
--- a/tests/test_calc.py
+++ b/tests/test_calc.py
@@ -1,4 +1,8 @@
-from calc import mul
+from calc import add, mul
+
+
+def test_add():
+    assert add(2, 3) == 5
 
 
 def test_mul():
"""
PATCHED_TEST = "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
# The CodeAgent's fix: a task with no failing test in front of the model (the tests hidden, or a task
# that names no failure) runs on the CodeAgent, its replies Thought and code.
FIX = [step("fix", 'p = propose_patch(path="calc/__init__.py", old="a - b", new="a + b")\n'
                   'print(apply_patch(patch_id=p["patch_id"]))'),
       step("done", 'final_answer("fixed add")')]
# The same fix in the edit form: with the failing test visible, the harness's repair loop runs the task
# (agent/repair.py), the reply the fixed file whole, which the harness applies and tests.
EDIT_FIX = [f"add subtracts; it must add.\n\n### calc/__init__.py\n```python\n"
            f"{LIB['calc/__init__.py'].replace('a - b', 'a + b')}```\n"]
# A change the task asks for without a failure: the CodeAgent's run, whether the tests are visible or not.
CHANGE = "Change add in calc so that it adds."


@pytest.fixture
def snapshot(tmp_path) -> tuple[Path, str]:
    """A project's history: the base commit, then a later one (which the agent must never see)."""
    repo = make_repo(tmp_path / "snapshot", LIB)
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "calc" / "__init__.py").write_text(LIB["calc/__init__.py"].replace("a - b", "a + b"))
    git(repo, "commit", "-qam", "the upstream fix")
    return repo, base


def instance(instance_id: str, repo: str, base: str | None, **extra) -> dict:
    raw = {"instance_id": instance_id, "repo": repo, "base_commit": base,
           "problem_statement": "tests/test_calc.py::test_add fails: add(2, 3) gives -1. Fix the library code; "
                                "do not change the tests.",
           "test_patch": TEST_PATCH, "FAIL_TO_PASS": json.dumps(["tests/test_calc.py::test_add"]),
           "PASS_TO_PASS": json.dumps(["tests/test_calc.py::test_mul"]), **extra}
    return {k: v for k, v in raw.items() if v is not None}


def write_suite(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def run_eval(tmp_path: Path, lines: list[dict], replies: list[str], *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    replay = write_replay(tmp_path / "replay.json", replies)
    out = tmp_path / "results.jsonl"
    done = run_cli("eval", str(write_suite(tmp_path / "instances.jsonl", lines)), "--model", f"replay:{replay}",
                   "--out", str(out), *extra, cwd=tmp_path, timeout=300)
    found = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())} if out.exists() else {}
    return done, found


def state(repo: Path) -> tuple[str, str, str]:
    return git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain"), git(repo, "for-each-ref")


# -- reading ---------------------------------------------------------------------------------

def test_the_reader_takes_swe_bench_lines_and_our_own_tasks_side_by_side(tmp_path, snapshot):
    repo, base = snapshot
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "x.py").write_text("x = 1\n")
    lines = [instance("local", "snapshot", base[:10], tests_visible=True, patch="the fix", version="1.0"),
             instance("plain", "plain", None, test_cmd="PYTHONPATH=src python -m pytest", FAIL_TO_PASS=["t.py::a"],
                      PASS_TO_PASS=[]),
             instance("github", "owner/project", base),
             instance("url", "https://example.org/x.git", base),
             {"id": "own", "prompt": "p", "files": {"a.py": ""}, "check": "true"}]
    tasks = load_suite(write_suite(tmp_path / "suite.jsonl", lines))
    local, plain_one, github, url, own = tasks
    assert isinstance(local, Instance) and not isinstance(own, Instance)
    assert local.source == str(repo) and local.base_commit == base, "relative to the file; the full sha"
    assert local.prompt.startswith("tests/test_calc.py::test_add fails") and local.tests_visible
    assert local.fail_to_pass == ("tests/test_calc.py::test_add",) and local.pass_to_pass == ("tests/test_calc.py::test_mul",)
    assert local.test_cmd == DEFAULT_TEST_CMD and local.reference_patch == "the fix" and local.extra == {"version": "1.0"}
    assert local.protected == ("tests/test_calc.py",)
    assert plain_one.base_commit is None and plain_one.fail_to_pass == ("t.py::a",) and not plain_one.tests_visible
    assert github.source == "https://github.com/owner/project.git" and url.source == "https://example.org/x.git"
    assert {t.kind for t in tasks[:4]} == {"instance"}


@pytest.mark.parametrize("change, message", [
    ({"problem_statement": None}, "problem_statement: expected this key (it is required); found none"),
    ({"test_patch": 3}, "test_patch: expected a string; found 3"),
    ({"FAIL_TO_PASS": "[not json"},
     "FAIL_TO_PASS: expected a list of test ids (or a JSON string of one); found a string that is not a JSON list"),
    ({"FAIL_TO_PASS": "[]"}, "FAIL_TO_PASS: expected at least one test (nothing else would show the fix); found []"),
    ({"PASS_TO_PASS": [1]}, "PASS_TO_PASS: expected a list of test ids (one line each); found [1]"),
    ({"FAIL_TO_PASS": ["../up.py::t"]}, 'FAIL_TO_PASS: expected tests inside the repository; found "../up.py::t"'),
    ({"base_commit": "deadbeef"}, "base_commit: expected a commit of "),
    ({"base_commit": "not-a-sha"}, 'base_commit: expected text matching ^[0-9a-f]{7,40}$; found "not-a-sha"'),
    ({"base_commit": None}, "base_commit: expected a commit: "),
    ({"repo": "no/such/dir"}, 'repo: expected a directory, a git URL or owner/name; found "no/such/dir": no such directory'),
    ({"repo": "owner/name", "base_commit": "abc1234"},
     'base_commit: expected a full 40-character commit id for a remote repository; found "abc1234"'),
    ({"test_patch": "just words"}, "test_patch: expected a unified diff (---/+++ file lines); found none of them"),
    ({"test_patch": "--- a/../../etc/x\n+++ b/../../etc/x\n"},
     'test_patch: expected a diff of files inside the repository; found it touches "../../etc/x"'),
    ({"tests_visible": "yes"}, 'tests_visible: expected true or false; found "yes"'),
    ({"timeout_s": 0}, "timeout_s: expected a whole number above 0; found 0"),
])
def test_a_bad_instance_fails_at_load_with_its_line_and_field(tmp_path, snapshot, change, message):
    _, base = snapshot
    bad = instance("bad", "snapshot", base)
    for key, value in change.items():
        if value is None:
            bad.pop(key, None)
        else:
            bad[key] = value
    path = write_suite(tmp_path / "suite.jsonl", [instance("good", "snapshot", base), bad])
    with pytest.raises(SuiteError) as raised:
        load_suite(path)
    assert str(raised.value).startswith(f"{path}:2, ") and message in str(raised.value)


def test_a_plain_directory_with_a_base_commit_and_a_duplicate_id_are_refused(tmp_path, snapshot):
    _, base = snapshot
    (tmp_path / "plain").mkdir()
    path = write_suite(tmp_path / "a.jsonl", [instance("p", "plain", base)])
    with pytest.raises(SuiteError, match=r":1, base_commit: expected none: .* is a plain directory, not a git repository; found "):
        load_suite(path)
    path = write_suite(tmp_path / "b.jsonl", [instance("same", "snapshot", base), instance("same", "snapshot", base)])
    with pytest.raises(SuiteError, match=r':2, instance_id: expected each id once; found "same" a second time$'):
        load_suite(path)


def test_the_cli_reports_a_bad_instance_in_one_line(tmp_path, snapshot):
    _, base = snapshot
    path = write_suite(tmp_path / "suite.jsonl", [instance("x", "snapshot", "0" * 40)])
    done = run_cli("eval", str(path), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"agent-runtime: error: {path}:1, base_commit: expected a commit of "
                                   f"{tmp_path / 'snapshot'}; found {'0' * 40}, which is not one")


def test_outcomes_are_read_from_pytests_last_summary_only():
    tests = ("t.py::test_a[x - y]", "t.py::test_b", "t.py::test_c", "t.py::test_d", "t.py::test_e")
    output = ("---- Captured stdout call ----\n=== short test summary info ===\nPASSED t.py::test_b\n"  # printed by a test
              "=========================== short test summary info ============================\n"
              "PASSED t.py::test_a[x - y]\nFAILED t.py::test_b - assert 1 == 2\nPASSED t.py::test_c\n"
              "ERROR t.py::test_c - teardown\nXFAIL t.py::test_e - known\n1 failed, 2 passed, 1 error in 0.1s\n")
    assert outcomes(output, tests) == {"t.py::test_a[x - y]": "PASSED", "t.py::test_b": "FAILED", "t.py::test_c": "ERROR",
                                       "t.py::test_d": "MISSING", "t.py::test_e": "XFAIL"}
    assert outcomes("no summary at all", ("t.py::test_b",)) == {"t.py::test_b": "MISSING"}


def test_the_test_command_gets_the_ids_at_the_end_or_where_it_says(tmp_path, snapshot):
    _, base = snapshot
    plain, tox = load_suite(write_suite(tmp_path / "s.jsonl", [
        instance("plain", "snapshot", base),
        instance("tox", "snapshot", base, test_cmd="tox -e py -- {tests} -x", FAIL_TO_PASS=["t.py::a b"])]))
    assert judge_command(plain) == (f"{DEFAULT_TEST_CMD} -rfEpx tests/test_calc.py::test_add tests/test_calc.py::test_mul")
    assert judge_command(tox) == "tox -e py -- -rfEpx 't.py::a b' tests/test_calc.py::test_mul -x"


# -- end to end, with the replay model ----------------------------------------------------------

def test_a_solved_instance_with_the_tests_visible(tmp_path, snapshot):
    repo, base = snapshot
    before = state(repo)
    done, found = run_eval(tmp_path, [instance("visible", "snapshot", base, tests_visible=True)], EDIT_FIX, "--keep")
    assert done.returncode == 0, done.stderr
    result = found["visible"]
    assert result["solved"] is True and result["status"] == "answered" and result["tampered"] == []
    assert result["attempts"] == 1 and result["steps"] == 1, "the repair loop's one attempt"
    assert (result["f2p_passed"], result["f2p_total"], result["p2p_passed"], result["p2p_total"]) == (1, 1, 1, 1)
    assert (result["diff_files"], result["diff_added"], result["diff_removed"]) == (1, 1, 1)
    assert "+    return a + b" in result["diff"] and "test_calc" not in result["diff"], "only the agent's change"
    assert "solved 1/1" in done.stdout and "+1 -1 in 1 files" in done.stdout
    kept = Path(result["repo"])
    log = git(kept, "log", "--format=%s", "--all")
    assert log.splitlines() == ["visible: the failing tests", "initial"], "the later fix was never fetched"
    assert (kept / "tests" / "test_calc.py").read_text() == PATCHED_TEST
    assert state(repo) == before, "the snapshot is only read"


def test_an_unsolved_instance_with_the_tests_hidden(tmp_path, snapshot):
    _, base = snapshot
    done, found = run_eval(tmp_path, [instance("hidden", "snapshot", base)],
                           [step("look", 'print(read_file(path="tests/test_calc.py"))'), step("give up", 'final_answer("no idea")')],
                           "--keep")
    assert done.returncode == 0, done.stderr
    result = found["hidden"]
    assert result["solved"] is False and result["status"] == "answered" and result["tampered"] == []
    assert (result["f2p_passed"], result["p2p_passed"]) == (0, 1) and result["diff_files"] == 0
    assert "FAILED tests/test_calc.py::test_add - assert -1 == 5" in result["check_output"]
    assert result["not_passed"] == {"tests/test_calc.py::test_add": "FAILED"}
    kept = Path(result["repo"])
    assert git(kept, "log", "--format=%s").splitlines() == ["initial"], "SWE-bench: no test commit"
    # the agent saw the tests as they were at base_commit: the read_file result has no test_add
    events = (Path(os.environ["XDG_STATE_HOME"]) / "agent-runtime" / "runs" / result["run_id"] / "trace.jsonl").read_text()
    assert "def test_mul" in events and "def test_add" not in events


def test_an_agent_that_edits_the_test_is_judged_by_the_original(tmp_path, snapshot):
    _, base = snapshot
    cheat = [step("cheat", 'p = propose_patch(path="tests/test_calc.py", old="== 5", new="== -1")\n'
                           'print(apply_patch(patch_id=p["patch_id"]))'),
             step("done", 'final_answer("the tests pass now")')]
    # the CodeAgent's steps (the repair loop's fix may name the code only, never the test)
    cheating = instance("cheat", "snapshot", base, tests_visible=True, problem_statement=CHANGE)
    done, found = run_eval(tmp_path, [cheating], cheat, "--keep")
    assert done.returncode == 0, done.stderr
    result = found["cheat"]
    assert result["solved"] is False and result["tampered"] == ["tests/test_calc.py"]
    assert result["f2p_passed"] == 0 and result["diff_files"] == 0, "the put-back test file is not the agent's change"
    assert (Path(result["repo"]) / "tests" / "test_calc.py").read_text() == PATCHED_TEST
    assert "check files edited 1" in done.stdout


def test_two_workers_each_get_their_own_repository(tmp_path, snapshot):
    repo, base = snapshot
    before = state(repo)
    replies = [step("wait", 'print(run_cmd(command="sleep 2"))'), *FIX]
    # both on the CodeAgent, whose steps the one replay file holds: "two" sees no failing test (hidden);
    # "one", whose failing test is visible, would be a fix task of the repair loop (replies in the edit
    # form) if its task named the failure
    lines = [instance("one", "snapshot", base, tests_visible=True, problem_statement=CHANGE),
             instance("two", "snapshot", base)]
    done, found = run_eval(tmp_path, lines, replies, "--workers", "2", "--keep")
    assert done.returncode == 0, done.stderr
    assert found["one"]["solved"] and found["two"]["solved"], found
    one, two = Path(found["one"]["repo"]), Path(found["two"]["repo"])
    assert one != two and found["one"]["run_id"] != found["two"]["run_id"]
    assert len(git(one, "log", "--format=%s").splitlines()) == 2 and len(git(two, "log", "--format=%s").splitlines()) == 1
    assert found["one"]["diff_files"] == found["two"]["diff_files"] == 1
    assert git(one, "diff", "--name-only", "HEAD").split() == ["calc/__init__.py"]
    assert git(two, "diff", "--name-only", "HEAD").split() == ["calc/__init__.py", "tests/test_calc.py"], \
        "the judge applied the hidden test patch"
    assert state(repo) == before


def test_a_plain_directory_snapshot_is_copied_and_committed(tmp_path):
    plain = tmp_path / "plain"
    for rel, content in LIB.items():
        (plain / rel).parent.mkdir(parents=True, exist_ok=True)
        (plain / rel).write_text(content)
    done, found = run_eval(tmp_path, [instance("plain", "plain", None)], FIX)
    assert done.returncode == 0, done.stderr
    assert found["plain"]["solved"] is True
    assert sorted(p.name for p in plain.rglob("*") if p.is_file()) == ["__init__.py", "test_calc.py"], "left as it was"


def test_a_snapshot_gone_since_loading_is_a_setup_failure_not_a_crash(tmp_path, snapshot):
    import shutil

    repo, base = snapshot
    write_suite(tmp_path / "instances.jsonl", [instance("gone", "snapshot", base)])
    tasks = load_suite(tmp_path / "instances.jsonl")
    shutil.rmtree(repo)
    from agent_runtime.eval.runner import EvalOptions, run_task

    result = run_task(tasks[0], lambda *a: pytest.fail("the agent must not run"), EvalOptions(), tmp_path, "x")
    assert result["status"] == "setup_failed" and result["solved"] is False and "git fetch failed" in result["error"]


# -- what an agent could do to the repository ----------------------------------------------------

def prepared(tmp_path: Path, snapshot: tuple[Path, str], **extra):
    (task,) = load_suite(write_suite(tmp_path / "one.jsonl", [instance("attack", "snapshot", snapshot[1], **extra)]))
    where = tmp_path / "work"
    where.mkdir()
    ready = prepare_instance(task, where)
    ready.mark_start()
    return ready, check_env(python_bin_dir(where))


def test_a_conftest_the_agent_adds_does_not_pass_the_tests(tmp_path, snapshot):
    ready, env = prepared(tmp_path, snapshot)
    (ready.repo / "tests" / "conftest.py").write_text(
        "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
    result = judge_instance(ready, env)
    assert result["solved"] is False and result["tampered"] == ["tests/conftest.py"]
    assert not (ready.repo / "tests" / "conftest.py").exists()


def test_a_tests_folder_turned_into_a_symlink_leads_nowhere(tmp_path, snapshot):
    ready, env = prepared(tmp_path, snapshot)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "test_calc.py").write_text("def test_add():\n    pass\n\n\ndef test_mul():\n    pass\n")
    import shutil

    shutil.rmtree(ready.repo / "tests")
    (ready.repo / "tests").symlink_to(outside)
    (ready.repo / "calc" / "__init__.py").write_text(LIB["calc/__init__.py"].replace("a - b", "a + b"))
    result = judge_instance(ready, env)
    assert (outside / "test_calc.py").read_text().startswith("def test_add():\n    pass"), "nothing written outside"
    assert not (ready.repo / "tests").is_symlink() and (ready.repo / "tests" / "test_calc.py").read_text() == PATCHED_TEST
    assert result["solved"] is True and result["tampered"] == ["tests", "tests/test_calc.py"], result
    assert result["diff_files"] == 1


def test_the_judge_never_runs_what_the_agents_git_config_names(tmp_path, snapshot):
    """The repository's own .git is the agent's to change (outside the sandbox, a command can): a
    fsmonitor or a diff filter there would run on the host when the judge uses git."""
    ready, env = prepared(tmp_path, snapshot)
    marker = tmp_path / "ran"
    with (ready.repo / ".git" / "config").open("a") as config:
        config.write(f"[core]\n\tfsmonitor = touch {marker}\n[filter \"x\"]\n\tclean = touch {marker}\n"
                     f"[diff \"x\"]\n\ttextconv = touch {marker}\n")
    (ready.repo / ".gitattributes").write_text("* filter=x diff=x\n")
    hook = ready.repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    (ready.repo / "calc" / "__init__.py").write_text(LIB["calc/__init__.py"].replace("a - b", "a + b"))
    result = judge_instance(ready, env)
    assert not marker.exists(), "the judge ran a program the repository named"
    assert result["solved"] is True and result["diff_files"] == 2  # the fix and .gitattributes


@pytest.mark.parametrize("sandboxed", [True, False])
def test_the_checks_python_is_the_runners_even_when_path_has_another(tmp_path, monkeypatch, sandboxed):
    """Tasks say `python -m pytest`: that must be this interpreter (with its venv and pytest), not
    the first python on PATH; in the sandbox too, whose private /tmp hides the wrapper made outside."""
    import sys

    from agent_runtime.eval.repo import run_shell

    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no venv here; maybe a system python
    repo = tmp_path / "repo"
    repo.mkdir()
    env = check_env(python_bin_dir(tmp_path))
    done = run_shell('python -c "import sys; print(sys.prefix)"', repo, env, timeout=60, sandboxed=sandboxed)
    assert done.passed, done.output
    assert done.output.strip().splitlines()[-1] == sys.prefix
