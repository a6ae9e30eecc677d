"""benchmarks/coaching_worth.py end to end with the replay model: each arm's AGENT_COACHING reaches
its agent (the run record's rules), arms alternate within a task, and the figures are read from
the eval's results."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

from conftest import ROOT, step, write_replay

SCRIPT = ROOT / "benchmarks" / "coaching_worth.py"


def a_wrong_fix(note: str, tasks: tuple[str, ...]) -> str:
    """A reply to the fix tasks of the project's suite named: each code file a fix may write under its
    heading, as it is but for a comment inside its first function, so the tests still fail. One reply
    serves every task (the replay starts over in each task's run): the first request takes the first
    block by its names (what a task does not define goes in as new code, and its tests fail all the
    same); a later request, the blocks under the task's own headings."""
    import re

    def noted(text: str) -> str:
        return re.sub(r"^(\s*)(def [^\n]*:)[ \t]*\n", lambda m: f"{m[1]}{m[2]}\n{m[1]}    # {note}\n", text, count=1, flags=re.M)

    by_id = {t["id"]: t for t in map(json.loads, (ROOT / "evals" / "tasks.jsonl").read_text().splitlines()) if t}
    blocks = [f"### {path}\n```python\n{noted(text).rstrip()}\n```"
              for task in tasks for path, text in by_id[task]["files"].items()
              if path.endswith(".py") and not path.startswith("tests/") and path not in by_id[task]["protected"]]
    return f"This should fix it ({note}).\n\n" + "\n\n".join(blocks) + "\n"


def test_two_arms_alternate_on_each_task_and_each_runs_with_its_rules(tmp_path):
    # Both tasks fail before the first request and are shown whole: the repair loop takes them, each
    # reply a fix that leaves the tests failing; --max-steps 2 (attempts are steps) stops each at two.
    tasks = ("basket-add-renamed", "convert-temperature")
    replay = write_replay(tmp_path / "r.json", [a_wrong_fix("a first guess", tasks), a_wrong_fix("a second guess", tasks)])
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, str(SCRIPT), "--model", f"replay:{replay}", "--arms", "plain,hints",
                           "--only", "basket-add-renamed", "--only", "convert-temperature", "--budget", "60",
                           "--max-steps", "2", "--out-dir", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path, env={**__import__("os").environ, "RUNS_DIR": str(runs)})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["arms"]) == {"plain", "hints"} and "worth" not in report  # no `profile` arm to count from
    for arm in ("plain", "hints"):
        figures = report["arms"][arm]
        assert figures["total"] == 2 and figures["solved"] == 0
        assert figures["median_first_request_s"] is not None and figures["median_first_request_s"] > 0
        assert figures["median_first_request_trace_s"] > 0
    assert not runs.exists(), "each arm's runs go to its own folder beside its results"
    rules, order = {}, []
    for arm in ("plain", "hints"):
        for line in (tmp_path / "out" / f"coaching-{arm}.jsonl").read_text().splitlines():
            result = json.loads(line)
            record = json.loads(next((tmp_path / "out").rglob(f"{result['run_id']}/metadata.json")).read_text())
            rules.setdefault(arm, set()).add(tuple(record["coaching_rules"]))
            order.append((record["started_at"], result["id"], arm))
    assert rules == {"plain": {()}, "hints": {("hints",)}}
    assert [(task, arm) for _, task, arm in sorted(order)] == [
        ("basket-add-renamed", "plain"), ("basket-add-renamed", "hints"),
        ("convert-temperature", "hints"), ("convert-temperature", "plain")], \
        "arms alternate within each task, each going first in turn"
    assert [row["id"] for row in report["tasks"]] == ["basket-add-renamed", "convert-temperature"]
    # why each request was made, read from the traces: per task, and summed per arm
    for arm in ("plain", "hints"):
        per_task = [row[arm]["requests"] for row in report["tasks"]]
        assert all(sum(r.values()) == 2 for r in per_task), per_task  # the two replies of each task
        assert report["arms"][arm]["requests"] == dict(sum((Counter(r) for r in per_task), Counter()))
        # the second attempt follows the first in the same conversation (fresh_restart is off in both
        # arms); no rule asked again (a retry, a fresh start, a fix held to one function)
        assert per_task == [{"fix asked as one completion": 1,
                             "fix after a failed one, in the same conversation": 1}] * 2, per_task
        assert [row[arm]["attempts"] for row in report["tasks"]] == [2, 2]


def test_a_build_arm_runs_the_package_of_its_revision_beside_this_one(tmp_path):
    """`@REV`: the tree as committed at REV, extracted, its package run with PYTHONPATH (paired old/new
    builds); a revision that is not one is a clear error."""
    replay = write_replay(tmp_path / "r.json", [step("stop", 'final_answer("not fixed")')] * 2)
    done = subprocess.run([sys.executable, str(SCRIPT), "--model", f"replay:{replay}", "--arms", "@HEAD,profile",
                           "--only", "convert-temperature", "--budget", "60", "--out-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    build = tmp_path / "out" / "build-HEAD" / "agent_runtime"
    assert (build / "__main__.py").is_file() and report["worth"] == {"@HEAD": 0}
    for arm in ("@HEAD", "profile"):
        assert report["arms"][arm]["total"] == 1 and report["arms"][arm]["median_first_request_trace_s"] > 0
    (result,) = [json.loads(line) for line in (tmp_path / "out" / "coaching-@HEAD.jsonl").read_text().splitlines()]
    assert next((tmp_path / "out" / "runs-coaching-@HEAD").rglob(f"{result['run_id']}/trace.jsonl"))
    bad = subprocess.run([sys.executable, str(SCRIPT), "--model", f"replay:{replay}", "--arms", "@no-such-rev",
                          "--only", "convert-temperature", "--out-dir", str(tmp_path / "bad")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode != 0 and "not a revision" in bad.stderr and "Traceback" not in bad.stderr


def test_bad_arms_and_budgets_are_clear_errors(tmp_path):
    for args, said in ((["--arms", "plain,plain"], "distinct"), (["--arms", ","], "distinct"),
                       (["--budget", "5"], "at least 10")):
        done = subprocess.run([sys.executable, str(SCRIPT), *args, "--dry-run"], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr


def test_requests_are_counted_by_reason_with_the_function_a_fix_is_held_to_left_out(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from coaching_worth import trace_figures

    def span(start, **attributes):
        return json.dumps({"start_time": start, "parent_id": "root" if attributes else None,
                           "attributes": {"openinference.span.kind": "LLM", **attributes} if attributes else {}})

    run = tmp_path / "r1"
    run.mkdir()
    held = "fix held to {} (new_function_per_attempt) after a failed one, from the first message (fresh_restart)"
    (run / "trace.jsonl").write_text("\n".join([
        span(1_000_000_000), span(3_500_000_000, **{"agent_runtime.request": "fix", "llm.token_count.prompt": 1200,
                                                    "llm.token_count.completion": 80}),
        span(4_000_000_000, **{"agent_runtime.request": held.format("a.py::f")}),
        span(5_000_000_000, **{"agent_runtime.request": held.format("b.py::C.g")}),
        span(6_000_000_000, **{"llm.role": "planner", "llm.token_count.prompt": 9}),
        span(7_000_000_000, **{"llm.role": "coder"})]) + "\n")
    assert trace_figures(tmp_path, "r1") == {"first_request_trace_s": 2.5, "requests": {
        "fix": 1, held.format("F"): 2, "unrecorded": 1}, "first_request_tokens": [1200, 80],
        "identical_fixes_applied": 0}, "the planner's request is not the coder's"
    assert trace_figures(tmp_path, "missing") == {"first_request_trace_s": None, "requests": {},
                                                  "first_request_tokens": [None, None], "identical_fixes_applied": 0}


def test_each_arm_goes_first_in_turn(tmp_path):
    """The first run of a task evaluates its prompt uncached (about 20 s more here): no arm may
    take that on every task."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--arms", "profile,plain,-hints", "--only", "a", "--only", "b",
                           "--only", "c", "--only", "d", "--dry-run"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    commands = json.loads(done.stdout)["commands"]
    firsts = [commands[i]["arm"] for i in range(0, len(commands), 3)]
    assert firsts == ["profile", "plain", "-hints", "profile"]
    assert sorted(c["arm"] for c in commands[3:6]) == ["-hints", "plain", "profile"], "every arm runs every task"


def test_another_suite_runs_every_task_of_it_by_default(tmp_path):
    """The 12 small tasks are the project suite's; `--suite evals/single` runs that suite's tasks."""
    single = ROOT / "evals" / "single"
    ids = [json.loads(line)["id"] for line in (single / "tasks.jsonl").read_text().splitlines() if line.strip()]
    for suite, expected in ((single, ids), (ROOT / "evals" / "tasks.jsonl", None)):
        done = subprocess.run([sys.executable, str(SCRIPT), "--arms", "plain", "--suite", str(suite), "--dry-run"],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        argvs = [c["argv"] for c in json.loads(done.stdout)["commands"]]
        run = [argv[argv.index("--only") + 1] for argv in argvs]
        assert all(argv[argv.index("eval") + 1] == str(suite) for argv in argvs)
        if expected is None:
            sys.path.insert(0, str(ROOT / "benchmarks"))
            from coaching_worth import SMALL_TASKS

            assert run == list(SMALL_TASKS)
        else:
            assert run == expected and len(run) >= 20


def test_the_single_shot_arm_runs_the_baseline_on_the_same_tasks_without_coaching(tmp_path):
    """`single_shot`: one plain completion of the same model (benchmarks/baselines.py), the yardstick,
    on the arm's suite and task, into the arm's results file, with no AGENT_COACHING (the agent's rules
    are not its)."""
    single = ROOT / "evals" / "single"
    ids = [json.loads(line)["id"] for line in (single / "tasks.jsonl").read_text().splitlines() if line.strip()][:2]
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(SCRIPT), "--arms", "single_shot,plain", "--suite", str(single),
                           "--only", ids[0], "--only", ids[1], "--model", "embedded:0.5b", "--budget", "90",
                           "--out-dir", str(out), "--dry-run"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    commands = json.loads(done.stdout)["commands"]
    assert [(c["arm"], c["argv"][c["argv"].index("--only") + 1]) for c in commands] == [
        ("single_shot", ids[0]), ("plain", ids[0]), ("plain", ids[1]), ("single_shot", ids[1])]
    for command, task in ((commands[0], ids[0]), (commands[3], ids[1])):
        argv = command["argv"]
        assert argv[1:3] == [str(ROOT / "benchmarks" / "baselines.py"), "single_shot"], argv
        assert "agent_runtime" not in argv and "eval" not in argv, "not the agent's eval"
        options = dict(zip(argv[3::2], argv[4::2]))
        assert options == {"--model": "embedded:0.5b", "--suite": str(single), "--only": task, "--timeout": "90",
                           "--out": str(out / "coaching-single_shot.jsonl")}, argv
        assert "AGENT_COACHING" not in command["environment"], command["environment"]
    assert all(c["environment"] == {"AGENT_COACHING": "plain"} for c in commands if c["arm"] == "plain")


def test_an_arm_of_several_changes_joined_runs_them_all(tmp_path):
    """Commas part the arms, so `+a-b` is AGENT_COACHING `+a,-b`; one change, or a list, goes as written."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--arms", "+hints+function_retries,-hints,plain,profile",
                           "--only", "convert-temperature", "--dry-run"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    environments = {c["arm"]: c["environment"] for c in json.loads(done.stdout)["commands"]}
    assert environments == {"+hints+function_retries": {"AGENT_COACHING": "+hints,+function_retries"},
                            "-hints": {"AGENT_COACHING": "-hints"}, "plain": {"AGENT_COACHING": "plain"}, "profile": {}}
