"""benchmarks/same_requests.py: recorded replies played back to two arms, and their requests compared.
Two builds of the same code send the same requests; two arms whose rules differ part where the
rule acts (here, after a failed fix: a fresh start against the failure told in the conversation)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, step, write_replay

COACHING = ROOT / "benchmarks" / "coaching_worth.py"
SCRIPT = ROOT / "benchmarks" / "same_requests.py"
TASK = "convert-temperature"


def recorded_run(tmp_path):
    """A coaching_worth run of the replay model: a fix whose tests fail, then an answer."""
    task = next(json.loads(line) for line in (ROOT / "evals" / "tasks.jsonl").read_text().splitlines()
                if json.loads(line)["id"] == TASK)
    wrong = task["files"]["convert.py"].replace("/ factors[to_unit]", "/ factors[to_unit] + 1")
    replies = [f"Temperatures need offsets.\n### convert.py\n```python\n{wrong}```\n",
               step("give up", 'final_answer("not fixed")')] * 2
    replay = write_replay(tmp_path / "r.json", replies)
    done = subprocess.run([sys.executable, str(COACHING), "--model", f"replay:{replay}", "--arms", "profile",
                           "--only", TASK, "--budget", "60", "--out-dir", str(tmp_path / "source")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "source"


def same_requests(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600, cwd=cwd)


def test_two_builds_of_the_same_code_send_the_same_requests_and_two_rule_sets_part_where_the_rule_acts(tmp_path):
    source = recorded_run(tmp_path)
    done = same_requests("--from", str(source), "--arms", "@HEAD,profile", "--out-dir", str(tmp_path / "a"),
                         cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    [row] = report["tasks"]
    assert row["replies"] >= 2 and row["profile"]["requests"] == row["@HEAD"]["requests"] == row["requests_equal"] >= 2
    assert report["identical"] == report["same_outcome"] == 1 and row["first_different"] is None

    done = same_requests("--from", str(source), "--arms", "profile,-fresh_restart", "--out-dir", str(tmp_path / "b"),
                         cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)["tasks"]
    assert row["requests_equal"] == 1 and row["first_different"] == 1, row  # the request after the failed fix

    # the run's suite must be named where it is not the default: a task not found is said, not compared
    done = same_requests("--from", str(source), "--suite", str(ROOT / "evals" / "kinds" / "tasks.jsonl"),
                         "--out-dir", str(tmp_path / "e"), cwd=tmp_path)
    report = json.loads(done.stdout)
    assert report["errors"] == 1 and "has no result (is convert-temperature in the suite? --suite)" in \
        report["tasks"][0]["error"], report

    # temperature_bumps (off in the 1.5B's profile) changes no message, only what the fix after a failed
    # one is sampled at
    arms = ("--arms", "profile,+temperature_bumps")
    done = same_requests("--from", str(source), *arms, "--out-dir", str(tmp_path / "c"), cwd=tmp_path)
    assert json.loads(done.stdout)["identical"] == 1, done.stdout
    done = same_requests("--from", str(source), *arms, "--sampling", "--out-dir", str(tmp_path / "d"), cwd=tmp_path)
    [row] = json.loads(done.stdout)["tasks"]
    assert row["first_different"] == 1 and row["differs_at_message"] == 0, row


def test_a_source_with_no_results_is_a_clear_error(tmp_path):
    done = same_requests("--from", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and "no coaching-ARM.jsonl results in" in done.stderr
    (tmp_path / "coaching-profile.jsonl").write_text("")
    done = same_requests("--from", str(tmp_path), "--source", "plain", cwd=tmp_path)
    assert done.returncode == 2 and "--source plain: no results for it" in done.stderr
    assert "Traceback" not in done.stderr
