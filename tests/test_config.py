"""Settings: defaults, validation with the variable's name, .env, and .env.example agreeing."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from agent_runtime.config import ConfigError, Settings, load_dotenv_file, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults():
    settings = load_settings({})
    assert settings.model_id is None and settings.uses_embedded_model
    assert (settings.model_temperature, settings.model_max_tokens, settings.agent_max_steps) == (0.1, 1024, 25)
    assert (settings.validation_max_chars, settings.validation_max_lines, settings.validation_max_line_range) == (5000, 200, 1000)
    assert (settings.truncation_max_chars, settings.truncation_max_lines, settings.truncation_max_list_items) == (3000, 150, 100)
    assert settings.log_level == "INFO" and settings.suppress_warnings is True


@pytest.mark.parametrize(
    "name, value, accepts",
    [
        ("MODEL_TEMPERATURE", "hot", "a number from 0 to 2"),
        ("AGENT_MAX_STEPS", "-1", "a whole number from 1 to 1000"),
        ("MODEL_MAX_TOKENS", "lots", "a whole number"),
        ("PHOENIX_ENABLED", "maybe", "true or false"),
        ("APPROVAL_MODE", "sometimes", "ask or auto or never"),
        ("MODEL_API_BASE", "localhost:8080", "a URL starting with http://"),
        ("LOG_LEVEL", "loud", "debug or info or warning or error"),
    ],
)
def test_bad_values_name_the_variable(name, value, accepts):
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    message = str(info.value)
    assert message.startswith(f"{name}={value!r} is not valid") and accepts in message
    assert "\n" not in message


def test_values_are_parsed():
    settings = load_settings({"MODEL_ID": "ollama_chat/qwen2.5-coder:14b", "MODEL_TEMPERATURE": "0.7",
                              "SUPPRESS_WARNINGS": "no", "APPROVAL_MODE": "AUTO", "RUNS_DIR": "~/runs",
                              "MODEL_FALLBACK_IDS": "a/b, c/d"})
    assert settings.model_id == "ollama_chat/qwen2.5-coder:14b" and settings.model_temperature == 0.7
    assert settings.suppress_warnings is False and settings.approval_mode == "auto"
    assert settings.runs_dir == Path.home() / "runs" and settings.model_fallback_ids == ("a/b", "c/d")


def test_dotenv_is_loaded_and_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("AGENT_MAX_STEPS=7\nMODEL_TEMPERATURE=0.5\n")
    monkeypatch.setenv("MODEL_TEMPERATURE", "0.2")
    monkeypatch.delenv("AGENT_MAX_STEPS", raising=False)
    assert load_dotenv_file(tmp_path) == tmp_path / ".env"
    settings = load_settings()
    assert settings.agent_max_steps == 7 and settings.model_temperature == 0.2
    monkeypatch.delenv("AGENT_MAX_STEPS")


def test_env_example_documents_every_setting_with_a_comment():
    text = (ROOT / ".env.example").read_text()
    documented = {}
    comment = False
    for line in text.splitlines():
        if line.startswith("#"):
            comment = True
            continue
        match = re.match(r"^([A-Z_]+)=", line)
        if match:
            documented[match.group(1)] = comment
        comment = False
    names = {f.name.upper() for f in fields(Settings)}
    assert names <= set(documented), f"missing from .env.example: {sorted(names - set(documented))}"
    assert all(documented[n] for n in names), "every setting needs a comment above it"
    assert load_settings({k: v for k, v in _values(text).items() if v}) is not None


def _values(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z_]+)=(.*)$", line)
        if match:
            out[match.group(1)] = match.group(2)
    return out
