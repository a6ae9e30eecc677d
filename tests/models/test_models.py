"""Ollama (against OllamaProtocolFake: Ollama itself cannot be installed here), fallbacks
between models, constraints per backend, and `agent-runtime models`."""

from __future__ import annotations

import io
import json
import re
import socket

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli
from ollama_fake import OllamaProtocolFake
from rich.console import Console

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import ConfigError, load_settings
from agent_runtime.models.constraints import choose_constraint
from agent_runtime.models.grammar import json_escaped
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.records import load_spans

MODEL = "qwen2.5-coder:14b"


def json_reply(thought: str, code: str) -> str:
    return json.dumps({"thought": thought, "code": code})


def session_with(repo, tmp_path, **env) -> Session:
    settings = load_settings({"RUNS_DIR": str(tmp_path / "runs"), **env})
    return Session(settings, repo, Approver("never", interactive=False),
                   Display(console=Console(file=io.StringIO(), width=200), out=io.StringIO()))


def test_ollama_gets_num_ctx_and_the_reply_schema_and_its_json_replies_run(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replies = [json_reply("Look.", 'print(read_file(path="calc.py"))\n'),
               json_reply("Done.", 'final_answer("add subtracts")\n')]
    with OllamaProtocolFake([MODEL], replies) as ollama:
        with session_with(repo, tmp_path, MODEL_ID=f"ollama_chat/{MODEL}", MODEL_API_BASE=ollama.url,
                          MODEL_CONTEXT_WINDOW="8192") as session:
            result = session.run("go through calc.py and say what add does")
    assert result.status == "answered" and result.answer == "add subtracts"
    first = ollama.requests[0]
    assert first["model"] == MODEL and first["stream"] is False
    assert first["options"]["num_ctx"] == 8192, "Ollama's 2048 default would drop the prompt's start"
    schema = first["format"]
    assert schema["required"] == ["thought", "code"]
    pattern = schema["properties"]["code"]["pattern"]  # over the code as escaped inside the JSON string
    assert re.match(pattern, json_escaped('print(read_file(path="calc.py"))\n'))
    assert not re.match(pattern, json_escaped("import os\n"))
    system = first["messages"][0]["content"]
    assert '{"thought": "what you do next' in system and '"code": "' in system, "the prompt asks for the JSON form"
    assert "def add" in ollama.requests[1]["messages"][-1]["content"], "the tool ran and the model saw its output"


def test_default_window_for_local_models_is_16384(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    with OllamaProtocolFake([MODEL], [json_reply("d", 'final_answer("x")')]) as ollama:
        with session_with(repo, tmp_path, MODEL_ID=f"ollama_chat/{MODEL}", MODEL_API_BASE=ollama.url) as session:
            session.run("x")
    assert ollama.requests[0]["options"]["num_ctx"] == 16384


def test_ollama_health_check_says_what_to_do(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    down = run_cli("--model", f"ollama_chat/{MODEL}", "task", cwd=tmp_path,
                   env={"MODEL_API_BASE": f"http://127.0.0.1:{closed}"})
    assert down.returncode == 1 and "ollama serve" in down.stderr
    with OllamaProtocolFake(["llama3.2:latest"], []) as ollama:
        missing = run_cli("--model", f"ollama_chat/{MODEL}", "task", cwd=tmp_path, env={"MODEL_API_BASE": ollama.url})
    assert missing.returncode == 1
    assert f"does not have the model {MODEL}: run `ollama pull {MODEL}`" in missing.stderr


def test_a_5xx_moves_the_run_to_the_next_model_and_is_recorded(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    with OllamaProtocolFake([MODEL], [json_reply("Look.", 'print(list_files())\n'), 500, 500]) as primary, \
            OllamaProtocolFake(["backup:7b"], [json_reply("Done.", 'final_answer("from the backup")\n')]) as backup:
        monkeypatch.setenv("OLLAMA_API_BASE", backup.url)  # where fallbacks without MODEL_API_BASE go
        with session_with(repo, tmp_path, MODEL_ID=f"ollama_chat/{MODEL}", MODEL_API_BASE=primary.url,
                          MODEL_FALLBACK_IDS="ollama_chat/backup:7b") as session:
            result = session.run("x")
            record = session.last_run
    assert result.status == "answered" and result.answer == "from the backup"
    assert len(primary.requests) == 2 and len(backup.requests) == 1
    meta = json.loads((record.dir / "metadata.json").read_text())
    assert [(s["from"], s["to"]) for s in meta["model_switches"]] == [(f"ollama_chat/{MODEL}", "ollama_chat/backup:7b")]
    assert "InternalServerError" in meta["model_switches"][0]["reason"] or "500" in meta["model_switches"][0]["reason"]
    events = [json.loads(line) for line in (record.dir / "events.jsonl").read_text().splitlines()]
    assert any(e["type"] == "model_fallback" for e in events)
    step_spans = [s for s in load_spans(record.dir) if s["name"] == "step 2"]
    assert step_spans[0]["attributes"]["llm.model_fallback"].startswith(f"ollama_chat/{MODEL} -> ollama_chat/backup:7b")


def test_an_unreachable_primary_is_skipped_at_start(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with OllamaProtocolFake(["backup:7b"], [json_reply("d", 'final_answer("ok")\n')]) as backup:
        monkeypatch.setenv("OLLAMA_API_BASE", backup.url)
        with session_with(repo, tmp_path, MODEL_ID=f"ollama_chat/{MODEL}", MODEL_API_BASE=f"http://127.0.0.1:{closed}",
                          MODEL_FALLBACK_IDS="ollama_chat/backup:7b") as session:
            assert session.model_label == "ollama_chat/backup:7b"
            result = session.run("x")
            meta = json.loads((session.last_run.dir / "metadata.json").read_text())
    assert result.status == "answered"
    assert meta["model_switches"][0]["to"] == "ollama_chat/backup:7b" and "ollama serve" in meta["model_switches"][0]["reason"]


def test_constraints_per_backend():
    assert choose_constraint("auto", None, None).kind == "gbnf-python"  # embedded llama.cpp, an instruct model
    assert choose_constraint("tools", None, None).kind == "gbnf-tools"
    assert choose_constraint("python", None, None).kind == "gbnf-python"
    assert choose_constraint("auto", "ollama_chat/q", None) == choose_constraint("tools", "ollama_chat/q", None)
    assert choose_constraint("auto", "ollama_chat/q", None).kind == "schema-tools"
    assert choose_constraint("auto", "ollama_chat/q", None).reply_format == "json"
    assert choose_constraint("python", "ollama_chat/q", None).kind == "schema"
    assert choose_constraint("auto", "openai/local", "http://127.0.0.1:8080/v1").kind == "none"
    assert choose_constraint("tools", "openai/local", "http://127.0.0.1:8080/v1").kind == "gbnf-tools"
    assert choose_constraint("auto", "openai/gpt-4o-mini", None).kind == "none"
    assert choose_constraint("off", "ollama_chat/q", None).kind == "none"
    with pytest.raises(ConfigError, match="GRAMMAR=tools needs a llama.cpp server"):
        choose_constraint("tools", "anthropic/claude-x", None)


def test_models_command(tmp_path):
    with OllamaProtocolFake([MODEL], []) as ollama:
        result = run_cli("models", "--json", cwd=tmp_path,
                         env={"MODEL_ID": f"ollama_chat/{MODEL}", "MODEL_API_BASE": ollama.url,
                              "MODEL_FALLBACK_IDS": "openai/gpt-4o-mini", "OPENAI_API_KEY": ""})
    found = json.loads(result.stdout)
    assert found["roles"]["coder"] == {"model": f"ollama_chat/{MODEL}", "id": f"ollama_chat/{MODEL}",
                                       "source": "--model / MODEL_ID", "fallbacks": ["openai/gpt-4o-mini"]}
    rows = {r["name"]: r for r in found["models"]}
    primary, fallback = rows[f"ollama_chat/{MODEL}"], rows["openai/gpt-4o-mini"]
    assert primary["roles"] == ["coder"] and fallback["fallback_of"] == ["coder"]
    assert primary["reachable"] is True and primary["window"] == 16384 and primary["constraint"] == "schema-tools"
    assert fallback["window"] == 128000 and fallback["reachable"] is False
    assert "missing OPENAI_API_KEY" in fallback["status"]
    embedded = json.loads(run_cli("models", "--json", cwd=tmp_path).stdout)
    coder = next(r for r in embedded["models"] if r["roles"] == ["coder"])
    assert coder["id"] == "embedded" and coder["constraint"] == "gbnf-python"
    assert "qwen2.5-coder-1.5b-instruct (Q4_K_M)" in coder["status"]


def test_replay_and_fallback_models_are_module_level_classes(tmp_path):
    """One class each (not one per factory call), so isinstance and pickling see the same type."""
    from conftest import write_replay

    from agent_runtime.models.fallback import FallbackModel, make_fallback_model
    from agent_runtime.models.replay import ReplayModel, make_replay_model

    one = make_replay_model(write_replay(tmp_path / "one.json", ["first"]))
    two = make_replay_model(write_replay(tmp_path / "two.json", ["second"]))
    assert type(one) is type(two) is ReplayModel and ReplayModel.__qualname__ == "ReplayModel"
    assert one.model_id == "replay:one.json" and one.generate([]).content == "first"

    class Down:
        def generate(self, messages, **kwargs):
            raise ConnectionError("refused")

    switches = []
    chain = make_fallback_model([("down", Down()), ("two", two)], lambda *switch: switches.append(switch))
    assert isinstance(chain, FallbackModel) and FallbackModel.__qualname__ == "FallbackModel"
    assert chain.generate([]).content == "second"
    assert chain.model_id == "two" and switches == [("down", "two", "ConnectionError: refused")]


def test_the_registry_says_what_a_model_id_means(tmp_path):
    """Nothing outside models/registry.py branches on the form of a model id."""
    from agent_runtime.models.registry import EmbeddedKind, LiteLLMKind, ReplayKind, kind_for, span_label

    settings = load_settings({})
    kinds = {model_id: type(kind_for(settings, model_id)) for model_id in
             ("embedded", "embedded:0.5b", "embeddedX", "replay:/tmp/x/r.json", "ollama_chat/qwen2.5-coder:7b")}
    assert kinds == {"embedded": EmbeddedKind, "embedded:0.5b": EmbeddedKind, "embeddedX": LiteLLMKind,
                     "replay:/tmp/x/r.json": ReplayKind, "ollama_chat/qwen2.5-coder:7b": LiteLLMKind}
    assert type(kind_for(settings)) is EmbeddedKind, "no MODEL_ID: the embedded default"
    assert [kind.uses_litellm for kind in (EmbeddedKind, ReplayKind, LiteLLMKind)] == [True, False, True]
    assert span_label("replay:/tmp/x/r.json") == "replay:r.json"
    assert span_label("ollama_chat/qwen2.5-coder:7b") == "ollama_chat/qwen2.5-coder:7b"


def test_a_replay_session_never_imports_litellm(tmp_path):
    """The session asks the kind (`uses_litellm`) whether to set LiteLLM up: recorded replies do not."""
    import subprocess
    import sys

    from conftest import write_replay

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", ['final_answer("ok")'])
    code = ("import io, sys\nfrom pathlib import Path\nfrom rich.console import Console\n"
            "from agent_runtime.agent.session import Session\nfrom agent_runtime.cli.display import Display\n"
            "from agent_runtime.config import load_settings\nfrom agent_runtime.safety.approval import Approver\n"
            f"settings = load_settings({{'MODEL_ID': 'replay:{replay}', 'RUNS_DIR': '{tmp_path / 'runs'}'}})\n"
            "display = Display(console=Console(file=io.StringIO()), out=io.StringIO())\n"
            f"with Session(settings, Path('{repo}'), Approver('never', interactive=False), display):\n"
            "    print('litellm' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_a_fix_over_ollama_is_free_text_and_a_new_attempt_really_goes_out_warmer(tmp_path):
    """The edit form is free text (no {thought, code} schema for that request), with room for the file;
    a request's own temperature reaches the server (smolagents let the model's default win, so the
    retries "sampled warmer" went out at 0.1)."""
    from agent_runtime.agent.attempts import REFIX_TEMPERATURE

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    wrong = "add() is off.\n\n### calc.py\n```python\ndef add(a, b):\n    return a * b\n\n\ndef mul(a, b):\n    return a * b\n```\n"
    right = wrong.replace("return a * b\n\n\n", "return a + b\n\n\n", 1)
    with OllamaProtocolFake([MODEL], [wrong, right]) as ollama:
        # The warmer fresh attempt is a coaching rule (fresh_restart, temperature_bumps): a 14B model runs
        # the plain core unless told otherwise (models/profiles.py).
        settings = load_settings({"RUNS_DIR": str(tmp_path / "runs"), "MODEL_ID": f"ollama_chat/{MODEL}",
                                  "MODEL_API_BASE": ollama.url, "MODEL_TEMPERATURE": "0.1", "MODEL_MAX_TOKENS": "512",
                                  "AGENT_COACHING": "fresh_restart,temperature_bumps"})
        with Session(settings, repo, Approver("auto", interactive=False),
                     Display(console=Console(file=io.StringIO(), width=200), out=io.StringIO())) as session:
            result = session.run("test_calc.py fails. Fix calc.py.")
    assert result.status == "answered" and "return a + b" in (repo / "calc.py").read_text()
    first, second = ollama.requests
    assert "format" not in first and "format" not in second, "the edit form is free text"
    assert first["options"]["temperature"] == 0.1 and second["options"]["temperature"] == REFIX_TEMPERATURE
    assert first["options"]["num_predict"] >= 512 and len(first["messages"]) == 1
    from agent_runtime.agent.shot import STOP

    assert first["options"]["stop"] == [STOP], "the first fix stops where its one block ends, and only there"
    assert "stop" not in second["options"], "no stop strings of the agent's own form cut a file short"
