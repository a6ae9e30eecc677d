"""benchmarks/baselines.py single_shot's request forms: `whole` (one plain completion, no grammar),
`explain` and `plain` (the agent's fix grammar, with and without what is wrong first), each scored by
the eval runner's own repository and check. The model's reply is given here; the request is what is tested."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.mark.parametrize("form", ["whole", "explain", "plain"])
def test_each_form_asks_as_named_and_the_written_fix_is_judged_by_the_task_check(tmp_path, monkeypatch, form):
    import baselines

    from agent_runtime.agent.edits import EXPLAIN
    from agent_runtime.eval.runner import EvalOptions, run_task
    from agent_runtime.eval.suite import load_suite

    task = load_suite(ROOT / "evals" / "single")[0]
    source = next(p for p in task.files if not p.startswith("tests/"))
    sent = []

    def complete(messages, model, max_tokens, timeout, grammar=None):
        sent.append((messages[0]["content"], grammar))
        return f"### {source}\n```python\n{task.files[source]}```\n", None

    monkeypatch.setattr(baselines, "_complete", complete)
    result = run_task(task, baselines.single_shot({}, 512, form), EvalOptions(timeout_s=120), tmp_path, "single_shot")
    prompt, grammar = sent[0]
    assert result["files_written"] == [source] and result["solved"] is False, "the file as it was: the check fails"
    assert "Running `" in prompt and task.prompt in prompt
    assert (EXPLAIN in prompt) is (form == "explain")
    if form == "whole":
        assert grammar is None
    else:
        assert f'"{source}"' in grammar and "tests/" not in grammar, "only the code, never its tests"
        assert ("root ::= explain " in grammar) is (form == "explain")
