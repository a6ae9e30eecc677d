"""schema.py: the one error shape of the files users write (file:line, key path, expected, found),
pydantic's errors rendered in it, and the line of a TOML key. And every format, read wrong, says so
in that shape: one line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

import agent_runtime.schema as schema
from agent_runtime.config import ConfigError, load_config
from agent_runtime.eval.suite import SuiteError, load_suite
from agent_runtime.models.catalog import Catalog, ModelsFileError
from agent_runtime.safety.policy import Policy, PolicyError
from agent_runtime.safety.userpolicy import UserPolicy
from agent_runtime.tools.hooks import HookConfigError, Hooks
from agent_runtime.tools.mcpconfig import McpConfigError, load_servers


class Entry(BaseModel):
    model_config = schema.STRICT
    id: schema.Text
    decision: Literal["allow", "ask", "deny"]
    tries: Annotated[int, Field(ge=1, le=5)] = 1
    tags: list[str] = []


class File(BaseModel):
    model_config = schema.STRICT
    entries: list[Entry] = []
    name: str | None = None


def _error(raw: object, text: str = "") -> str:
    with pytest.raises(ValueError) as raised:
        schema.validate(File, raw, "f.toml", ValueError, schema.KeyLines(text) if text else None)
    return str(raised.value)


def test_each_kind_of_mistake_reads_as_expected_and_found():
    ok = {"id": "a", "decision": "allow"}
    assert _error({"entries": [ok, {"id": "b", "decision": "alow"}]}) == \
        'f.toml, entries[1].decision: expected one of allow, ask, deny; found "alow"'
    assert _error({"entries": [{"decision": "ask"}]}) == "f.toml, entries[0].id: expected this key (it is required); found none"
    assert _error({"entries": [{**ok, "colour": 1}]}) == \
        'f.toml, entries[0].colour: expected one of the keys id, decision, tries, tags; found unknown key "colour"'
    assert _error({"entries": [{**ok, "tries": 9}]}) == "f.toml, entries[0].tries: expected a whole number from 1 to 5; found 9"
    assert _error({"entries": [{**ok, "tries": True}]}) == "f.toml, entries[0].tries: expected a whole number from 1 to 5; found true"
    assert _error({"entries": [{**ok, "id": "  "}]}) == 'f.toml, entries[0].id: expected a non-empty string; found "  "'
    assert _error({"entries": [{**ok, "tags": "x"}]}) == 'f.toml, entries[0].tags: expected a list; found "x"'
    assert _error({"entries": "none"}) == 'f.toml, entries: expected a list; found "none"'
    assert _error({"name": 3}) == "f.toml, name: expected a string; found 3", "strict: no number read as a string"


def test_the_line_is_the_keys_own_or_its_tables():
    text = 'name = "x"\n\n[[entries]]\nid = "a"\ndecision = "allow"\n\n[[entries]]\nid = "b"\ndecision = "alow"\n'
    assert _error({"entries": [{"id": "a", "decision": "allow"}, {"id": "b", "decision": "alow"}]}, text) == \
        'f.toml:9, entries[1].decision: expected one of allow, ask, deny; found "alow"'
    without_id = text.replace('id = "b"\n', "")
    assert _error({"entries": [{"id": "a", "decision": "allow"}, {"decision": "alow"}]}, without_id) == \
        "f.toml:7, entries[1].id: expected this key (it is required); found none", "a missing key: its table's line"


def test_key_lines_follow_tables_arrays_dotted_and_quoted_keys_and_skip_multiline_strings():
    lines = schema.KeyLines('top = 1\n[a.b]\nc.d = 2\n[servers."my x"]\ncmd = """\nfake = 1\n"""\nreal = 2\n'
                            '[[r]]\nid = 1\n[[r]]\nid = 2\n[r.sub]\nk = 3\n')
    assert lines.line(("top",)) == 1 and lines.line(("a",)) == 2 and lines.line(("a", "b", "c", "d")) == 3
    assert lines.line(("servers", "my x", "cmd")) == 5 and lines.line(("servers", "my x", "real")) == 8
    assert lines.line(("servers", "my x", "fake")) == 4, "a line inside a multi-line string is no key"
    assert lines.line(("r", 1, "id")) == 12 and lines.line(("r", 1, "sub", "k")) == 14 and lines.line(("r",)) == 9


def test_values_are_shown_on_one_line_and_paths_quote_odd_keys():
    assert schema.shown("a\nb") == '"a\\nb"' and schema.shown(["x", 1, None]) == '["x", 1, null]'
    assert schema.shown({"a": 1}) == "a table (a)" and len(schema.shown("x" * 500)) == 80
    assert schema.key_path(("models", "my model", 0, "id")) == 'models."my model"[0].id'
    assert schema.message("f", "", "valid TOML", "junk", 3) == "f:3: expected valid TOML; found junk"


def test_a_toml_syntax_error_has_its_line():
    with pytest.raises(ValueError, match=r"^f\.toml:2: expected valid TOML; found "):
        schema.read_toml("a = 1\nb = \n", "f.toml")


SHAPE = re.compile(r"^(?P<file>[^,:]+)(:(?P<line>\d+))?, (?P<path>\S+): expected (?P<expected>.+); found (?P<found>.+)$")


def _bad_files(tmp_path: Path) -> dict[str, tuple[type[Exception], object, str, str]]:
    """One bad file of each format: (its error class, how it is read, the key path and line of the mistake)."""
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    config = write("config.env", "A=1\nMODEL_MAX_TOKENS=lots\n")
    policy = write("policy.toml", '[[rules]]\nid = "r"\ndecision = "alow"\nreason = "why"\npattern = ["ls"]\n')
    approvals = write("approvals.toml", '[[allow]]\ncommand = "ls"\nmatch = "ls"\n')
    models = write("models.toml", '[models.fast]\nid = "ollama_chat/x"\nconcurrency = "four"\n')
    mcp = write("mcp.toml", '[servers.notes]\ncommand = ["python3", "x.py"]\ntimeout = "60"\n')
    hooks = write("hooks.toml", '[[hooks]]\nevent = "before_tol"\ncommand = "true"\n')
    suite = write("suite.jsonl", json.dumps({"id": "t", "prompt": "p", "files": {}, "check": "true", "timeout_s": "9"}))
    instances = write("instances.jsonl", json.dumps({
        "instance_id": "i", "repo": "o/r", "base_commit": "0" * 40, "problem_statement": "fix", "test_patch": "",
        "FAIL_TO_PASS": "[oops"}))
    return {
        "settings": (ConfigError, lambda: load_config(None, env={}, cwd=tmp_path / "none", user_file=config,
                                                      export=False), "MODEL_MAX_TOKENS", "2"),
        "policy": (PolicyError, lambda: Policy.load(policy), "rules[0].decision", "3"),
        "approvals": (PolicyError, lambda: UserPolicy.load(approvals), "allow[0].match", "3"),
        "models": (ModelsFileError, lambda: Catalog.load(models), "models.fast.concurrency", "3"),
        "mcp": (McpConfigError, lambda: load_servers(mcp), "servers.notes.timeout", "3"),
        "hooks": (HookConfigError, lambda: Hooks.load(tmp_path, hooks), "hooks[0].event", "2"),
        "suite": (SuiteError, lambda: load_suite(suite), "timeout_s", "1"),
        "instances": (SuiteError, lambda: load_suite(instances), "FAIL_TO_PASS", "1"),
    }


@pytest.mark.parametrize("name", ["settings", "policy", "approvals", "models", "mcp", "hooks", "suite", "instances"])
def test_every_format_says_a_mistake_in_the_one_shape(tmp_path, name):
    error, read, path, line = _bad_files(tmp_path)[name]
    with pytest.raises(error) as raised:
        read()
    said = SHAPE.match(str(raised.value))
    assert said, str(raised.value)
    assert (Path(said["file"]).parent, said["path"], said["line"]) == (tmp_path, path, line)
