"""benchmarks/baselines.py single_shot, the strong one completion: the modules the failing tests import
as the code, the test files read-only, the tests' output, the corrected function(s) asked in one block,
stopped where it ends; the block written back by name and scored by the eval runner's own repository
and check. The model's reply is given here; the request and what is written are what is tested."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_the_strong_one_completion_asks_for_functions_and_writes_them_back_by_name(tmp_path, monkeypatch):
    import baselines

    from agent_runtime.agent.shot import ASK, STOP
    from agent_runtime.eval.runner import EvalOptions, run_task
    from agent_runtime.eval.suite import load_suite

    task = next(t for t in load_suite(ROOT / "evals" / "single") if len([p for p in t.files if p.endswith(".py")]) >= 2)
    tests = sorted(p for p in task.files if p.startswith("tests/"))
    sent = []

    def complete(messages, model, max_tokens, timeout, stop=None):
        sent.append((messages[0]["content"], stop))
        return "Nothing is wrong.\n\n```python\ndef test_nothing():\n    pass\n```\n", None

    monkeypatch.setattr(baselines, "_complete", complete)
    result = run_task(task, baselines.single_shot({}, 512), EvalOptions(timeout_s=120), tmp_path, "single_shot")
    prompt, stop = sent[0]
    assert stop == [STOP] and prompt.endswith(ASK) and task.prompt in prompt and "Running `" in prompt
    code, read_only = prompt.split("(read-only", 1)
    assert all(f"### {t}" in read_only and f"### {t}" not in code for t in tests), "the tests only as context"
    assert result["files_written"] == [] and result["solved"] is False, "a block of tests writes nothing"


def test_a_corrected_function_goes_into_its_module_and_nothing_else_changes(tmp_path, monkeypatch):
    import baselines

    from agent_runtime.eval.runner import EvalOptions, run_task
    from agent_runtime.eval.suite import load_suite

    task = load_suite(ROOT / "evals" / "single")[0]
    source = next(p for p in task.files if p.endswith(".py") and not p.startswith("tests/"))
    first = next(line for line in task.files[source].splitlines() if line.startswith("def "))
    body = f"{first}\n    raise NotImplementedError\n"
    monkeypatch.setattr(baselines, "_complete", lambda *a, **k: (f"Here.\n\n```python\n{body}", None))
    attempt, seen = baselines.single_shot({}, 512), {}

    def observed(task, repo, options, timeout):
        facts = attempt(task, repo, options, timeout)
        seen.update({path: (repo / path).read_text() for path in task.files})
        return facts

    result = run_task(task, observed, EvalOptions(timeout_s=120), tmp_path, "single_shot")
    assert result["files_written"] == [source] and result["solved"] is False
    assert "    raise NotImplementedError\n" in seen[source] and seen[source].count(first) == 1
    assert all(seen[p] == task.files[p] for p in task.files if p != source), "no other file written"
