"""`agent-runtime eval`: what the command decides before any task runs."""

from __future__ import annotations

import argparse

import pytest

from agent_runtime.cli import evalcmd
from agent_runtime.config import load_settings


class Started(Exception):
    pass


@pytest.mark.parametrize(("model", "shared"), [(None, True), ("embedded", True), ("embedded:0.5b", True),
                                               ("embeddedX", False), ("replay:r.json", False)])
def test_the_registry_decides_whether_the_eval_starts_the_embedded_server(tmp_path, monkeypatch, model, shared):
    """One shared llama.cpp server for the workers when the model is the embedded one, as the
    registry reads the id (`embeddedX` is a LiteLLM id, not the embedded model)."""
    keys = []

    def start(settings, key, display):
        keys.append(key)
        raise Started

    monkeypatch.setattr(evalcmd, "_start_shared_server", start)
    monkeypatch.delenv("AGENT_RUNTIME_EMBEDDED_SERVER", raising=False)
    args = argparse.Namespace(model=model, max_steps=None, timeout=None, workers=1, keep=False, ray=None)
    try:
        code = evalcmd.run_eval([], load_settings({}), args, tmp_path / "out.jsonl")
    except Started:
        code = None
    assert keys == ([("0.5b" if model == "embedded:0.5b" else None)] if shared else [])
    assert code == (None if shared else 0)
