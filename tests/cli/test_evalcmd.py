"""`agent-runtime eval`: what the command decides before any task runs."""

from __future__ import annotations

import argparse

import pytest

from agent_runtime.cli import evalcmd
from agent_runtime.config import load_settings


class Started(Exception):
    pass


def _servers_started(monkeypatch) -> list:
    """The keys of the shared servers the eval would start (the start raises Started instead)."""
    keys: list = []

    def start(settings, key, display):
        keys.append(key)
        raise Started

    monkeypatch.setattr(evalcmd, "_start_shared_server", start)
    monkeypatch.delenv("AGENT_RUNTIME_EMBEDDED_SERVER", raising=False)
    return keys


@pytest.mark.parametrize(("model", "shared"), [(None, True), ("embedded", True), ("embedded:0.5b", True),
                                               ("embeddedX", False), ("replay:r.json", False)])
def test_the_registry_decides_whether_the_eval_starts_the_embedded_server(tmp_path, monkeypatch, model, shared):
    """One shared llama.cpp server for the workers when the model is the embedded one, as the
    registry reads the id (`embeddedX` is a LiteLLM id, not the embedded model)."""
    keys = _servers_started(monkeypatch)
    args = argparse.Namespace(model=model, max_steps=None, timeout=None, workers=1, keep=False, ray=None)
    try:
        code = evalcmd.run_eval([], load_settings({}), args, tmp_path / "out.jsonl")
    except Started:
        code = None
    assert keys == ([("0.5b" if model == "embedded:0.5b" else None)] if shared else [])
    assert code == (None if shared else 0)


def test_a_coder_named_in_the_models_file_is_the_files_model(tmp_path, monkeypatch):
    """`--model NAME eval`: the name is the models file's model (here the embedded 0.5B, so the eval
    starts its server), not a LiteLLM id."""
    from agent_runtime.models.roles import choose_models

    keys = _servers_started(monkeypatch)
    models = tmp_path / "models.toml"
    models.write_text('[models.small]\nid = "embedded:0.5b"\n')
    settings = choose_models(load_settings({"MODELS_FILE": str(models)}), "coder=small,planner=small")
    args = argparse.Namespace(model=None, planner=None, max_steps=None, timeout=None, workers=1, keep=False, ray=None)
    with pytest.raises(Started):
        evalcmd.run_eval([], settings, args, tmp_path / "out.jsonl")
    assert keys == ["0.5b"]


@pytest.mark.parametrize(("option", "planner"), [(None, "replay:p.json"), ("none", "none"), ("replay:q.json", "replay:q.json")])
def test_the_planner_reaches_every_agent_of_the_eval(tmp_path, monkeypatch, option, planner):
    """--model coder=...,planner=... before `eval`, or `eval --planner`: each agent gets PLANNER_MODEL."""
    from pathlib import Path

    from agent_runtime.eval import runner
    from agent_runtime.eval.task import Task
    from agent_runtime.models.roles import choose_models

    seen = {}

    def supervise(argv, cwd, env, timeout, on_line):
        seen.update(argv=argv, env=env)
        return runner.Supervised(0, False, "")

    monkeypatch.setattr(runner, "supervise", supervise)
    monkeypatch.delenv("PLANNER_MODEL", raising=False)
    settings = choose_models(load_settings({}), "coder=replay:c.json,planner=replay:p.json")
    args = argparse.Namespace(model=None, planner=option, max_steps=None, timeout=None, workers=1, keep=False, ray=None)
    captured = {}

    def run_suite(tasks, attempt, options, out, on_result=None):
        captured["options"] = options
        attempt(Task("t", "fix it", {}, "true", ""), Path(tmp_path), options, 60)
        return []

    monkeypatch.setattr(runner, "run_suite", run_suite)
    assert evalcmd.run_eval([], settings, args, tmp_path / "out.jsonl") == 0
    assert captured["options"].planner == planner and seen["env"]["PLANNER_MODEL"] == planner
    assert seen["argv"][seen["argv"].index("--model") + 1] == "replay:c.json"


def test_experiment_goes_with_phoenix(tmp_path, capsys):
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "t", "prompt": "p", "files": {}, "check": "true"}\n')
    with pytest.raises(SystemExit) as exc:
        evalcmd.cmd_eval([str(suite), "--experiment", "x"], load_settings({}), tmp_path)
    assert exc.value.code == 2 and "--experiment goes with --phoenix" in capsys.readouterr().err


def test_a_phoenix_that_is_down_leaves_the_results_and_says_so(tmp_path, monkeypatch, capsys):
    """The eval ran; Phoenix does not answer: exit 1 with one line naming Phoenix and the results
    file (no traceback); the agents were told to send their traces."""
    from agent_runtime.procs import free_port

    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "t", "prompt": "p", "files": {}, "check": "true"}\n')
    out = tmp_path / "out.jsonl"
    seen = {}

    def run_eval(tasks, settings, args, path):
        seen["phoenix"] = args.phoenix
        path.write_text('{"id": "t", "solved": true, "wall_s": 1.0, "steps": 1}\n')
        return 0

    monkeypatch.setattr(evalcmd, "run_eval", run_eval)
    settings = load_settings({"PHOENIX_ENDPOINT": f"http://127.0.0.1:{free_port()}"})
    code = evalcmd.cmd_eval([str(suite), "--phoenix", "--out", str(out)], settings, tmp_path)
    err = capsys.readouterr().err
    assert code == 1 and seen["phoenix"] is True
    assert "the experiment was not recorded in Phoenix" in err and str(out) in err and "did not answer" in err
    assert "Traceback" not in err
