"""Attacks on the models file (a review of the feature): a key written inline or in a URL, a file
that is not a small regular file, names that carry escape sequences to the terminal."""

from __future__ import annotations

import json
import time

import pytest
from conftest import not_a_small_file, run_cli

SECRET = "hunter2-models-secret-4711"
KEY = "sk-proj-Q1w2E3r4T5y6U7i8O9p0A1s2D3f4"


def _error(text: str) -> str:
    from agent_runtime.models.catalog import ModelsFileError, parse

    with pytest.raises(ModelsFileError) as raised:
        parse(text, "models.toml")
    return str(raised.value)


def test_a_key_in_the_file_is_refused_and_never_echoed():
    inline = _error(f'[models.m]\nid = "openai/gpt-4o"\napi_key = "{KEY}"\n')
    assert "api_key" in inline and KEY not in inline
    pasted = _error(f'[models.m]\nid = "openai/gpt-4o"\napi_key_env = "{KEY}"\n')
    assert "api_key_env" in pasted and KEY not in pasted
    in_url = _error(f'[models.m]\nid = "openai/gpt-4o"\napi_base = "http://user:{SECRET}@127.0.0.1:9/v1"\n')
    assert "user:password@" in in_url and SECRET not in in_url
    bad_scheme = _error(f'[models.m]\nid = "openai/gpt-4o"\napi_base = "ftp://user:{SECRET}@host"\n')
    assert SECRET not in bad_scheme


@pytest.mark.parametrize("kind", ["fifo", "directory", "device", "huge"])
def test_a_models_file_that_is_not_a_small_file_is_a_clear_error_not_a_hang(kind, tmp_path):
    from agent_runtime.models.catalog import Catalog, ModelsFileError

    path = not_a_small_file(kind, tmp_path / "models.toml")
    started = time.monotonic()
    with pytest.raises(ModelsFileError, match="cannot be read"):
        Catalog.load(path, required=True)
    assert time.monotonic() - started < 5


def test_agent_runtime_models_never_prints_a_password_in_an_address(tmp_path):
    repo = tmp_path
    env = {"MODEL_ID": "openai/gpt-4o", "MODEL_API_BASE": f"http://user:{SECRET}@127.0.0.1:9/v1"}
    text = run_cli("models", cwd=repo, env=env, timeout=120)
    as_json = run_cli("models", "--json", cwd=repo, env=env, timeout=120)
    assert text.returncode == 0 and as_json.returncode == 0
    assert SECRET not in text.stdout + text.stderr and SECRET not in as_json.stdout + as_json.stderr
    assert json.loads(as_json.stdout)["models"][0]["api_base"].startswith("http://[REDACTED]@")


def test_escape_sequences_in_a_models_file_do_not_reach_the_terminal(tmp_path):
    for body in ('[models."a\\u001b[31mRED\\u001b]0;title\\u0007"]\nid = "openai/x"\n',
                 '[models.ok]\nid = "openai/x"\n["evil\\u001b[2J"]\nx = 1\n',
                 '[models.ok]\nid = "openai/x"\n[roles]\n"coder\\u001b[2J" = "ok"\n'):
        path = tmp_path / "models.toml"
        path.write_text(body)
        done = run_cli("models", cwd=tmp_path, env={"MODELS_FILE": str(path)}, timeout=120)
        assert done.returncode == 1 and "\x1b" not in done.stdout + done.stderr and "^[" in done.stderr, done.stderr
