"""The models file (models/catalog.py): a good full file read whole, and every way a file can be wrong,
each one line naming the file, the line, the key and what was expected. And the roles read from it
(models/roles.py): which model each role gets, from where, and the --model option."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from agent_runtime.config import ConfigError, load_settings
from agent_runtime.models.catalog import Catalog, ModelsFileError, parse
from agent_runtime.models.roles import ModelChoiceError, choose_models, model_for_role, parse_model_option

FULL = """\
# the models I use
[models.small]
id = "embedded:1.5b"
context_window = 16384
capabilities = ["code"]

[models.local]
id = "openai/qwen"
api_base = "http://127.0.0.1:8080/v1/"
api_key_env = "LOCAL_KEY"
cost = { input = 0, output = 0.5 }
concurrency = 2
fallbacks = ["big"]

[models.big]
id = "ollama_chat/qwen2.5-coder:7b"

[roles]
coder = "small"
planner = "big"

[profiles.fast]
coder = "small"
judge = "small"

[[routes]]
role = "coder"
kind = ["fix", "change"]
min_tokens = 2000
model = "big"

[[routes]]
role = "planner"
kind = "question"
max_tokens = 100
model = "local"
"""


def test_a_full_file_is_read_whole():
    catalog = parse(FULL, "m.toml")
    assert list(catalog.models) == ["small", "local", "big"] and catalog.source == "m.toml"
    small, local = catalog.models["small"], catalog.models["local"]
    assert small.embedded and small.fallbacks == () and local.fallbacks == ("big",) and small.capabilities == ("code",)
    assert small.where == "m.toml:2" and small.context_window == 16384
    assert local.api_base == "http://127.0.0.1:8080/v1" and local.api_key_env == "LOCAL_KEY"
    assert local.concurrency == 2 and local.cost(1_000_000, 2_000_000) == 1.0 and small.cost(5, 5) is None
    assert catalog.roles == {"coder": "small", "planner": "big"}
    assert catalog.profiles == {"fast": {"coder": "small", "judge": "small"}}
    first, second = catalog.routes
    assert (first.role, first.kinds, first.min_tokens, first.model, first.where) == \
        ("coder", ("fix", "change"), 2000, "big", "m.toml:26")
    assert second.kinds == ("question",) and second.max_tokens == 100
    assert catalog.route("coder", "fix", 2500) is first
    assert catalog.route("coder", "fix", 1999) is None and catalog.route("coder", "question", 5000) is None
    assert catalog.route("planner", "question", 100) is second and catalog.route("planner", "question", 101) is None
    assert parse("", "empty.toml").models == {}


def bad(*lines: str) -> str:
    return "\n".join(lines) + "\n"


MODEL = '[models.small]\nid = "embedded"'  # lines 1-2: a good model to refer to

ERRORS = [
    # (file, line, what the message says)
    (bad("[models.small", 'id = "x"'), 1, "expected valid TOML; found expected ']' at the end of a table declaration"),
    (bad("[model.small]", 'id = "x"'), 1, 'model: expected one of the keys models, roles, profiles, routes; found unknown key "model"'),
    (bad("models = 3"), 1, "models: expected a table; found 3"),
    (bad('[models."my model"]', 'id = "x/y"'), 1, """models."my model": expected a model's name: letters, digits and . _ : - (no spaces); found "my model\""""),
    (bad("[models.coder]", 'id = "x/y"'), 1, 'models.coder: expected a name after what the model is; found "coder", a role'),
    (bad('[models."embedded:0.5b"]', 'id = "embedded:0.5b"'), 1, 'models."embedded:0.5b": expected a name of its own (and the model id as id = "..."); found "embedded:0.5b", a model id'),
    (bad("[models]", 'small = "ollama_chat/x"'), 2, 'models.small: expected a table; found "ollama_chat/x"'),
    (bad("[models.small]", 'id = "x/y"', "colour = 1"), 3, 'models.small.colour: expected one of the keys id, api_base, api_key_env, context_window, capabilities, cost, concurrency, fallbacks, rules; found unknown key "colour"'),
    (bad("[models.small]", 'api_base = "http://h/v1"'), 1, 'models.small.id: expected this key (it is required); found none'),
    (bad("[models.small]", 'id = "ollama chat/x"'), 2, 'models.small.id: expected a model id without spaces; found "ollama chat/x"'),
    (bad("[models.small]", "id = 7"), 2, "models.small.id: expected a model id without spaces; found 7"),
    (bad("[models.small]", 'id = "openai/x"', 'api_base = "127.0.0.1:8080"'), 3,
     "models.small.api_base: expected a URL starting with http:// or https://; found a value not shown here"),
    (bad("[models.small]", 'id = "embedded:0.5b"', 'api_base = "http://h/v1"'), 3, "models.small.api_base: expected no address: embedded models have none (only a server you run has one); found an address"),
    (bad("[models.small]", 'id = "openai/x"', 'api_key_env = "sk-abc123"'), 3,
     "models.small.api_key_env: expected the name of an environment variable (the key itself is never written here); found a value not shown here"),
    (bad("[models.small]", 'id = "x/y"', "context_window = 100"), 3, "models.small.context_window: expected a whole number from 512 to 1048576; found 100"),
    (bad("[models.small]", 'id = "x/y"', "context_window = true"), 3, "models.small.context_window: expected a whole number from 512 to 1048576; found true"),
    (bad("[models.small]", 'id = "x/y"', 'capabilities = "code"'), 3, 'models.small.capabilities: expected a list; found "code"'),
    (bad("[models.small]", 'id = "x/y"', "capabilities = [\"Code\"]"), 3, 'models.small.capabilities[0]: expected a lower-case word, e.g. "code"; found "Code"'),
    (bad("[models.small]", 'id = "x/y"', "cost = { input = -1 }"), 3, "models.small.cost.input: expected a number at least 0; found -1"),
    (bad("[models.small]", 'id = "x/y"', "cost = { inputs = 1 }"), 3, 'models.small.cost.inputs: expected one of the keys input, output; found unknown key "inputs"'),
    (bad("[models.small]", 'id = "x/y"', "concurrency = 0"), 3, "models.small.concurrency: expected a whole number from 1 to 256; found 0"),
    (bad("[models.small]", 'id = "x/y"', 'fallbacks = "big"'), 3, 'models.small.fallbacks: expected a list; found "big"'),
    (bad("[models.small]", 'id = "x/y"', 'fallbacks = ["small"]'), 3, 'models.small.fallbacks: expected other models\' names; found "small", this model itself'),
    (bad("[models.small]", 'id = "x/y"', 'fallbacks = ["big"]'), 3, 'models.small.fallbacks: expected names of models of this file (models: small); found "big"'),
    (bad("[models.small]", 'id = "x/y"', 'fallbacks = ["b", "b"]', "[models.b]", 'id = "b/c"'), 3, 'models.small.fallbacks: expected each name once; found ["b", "b"]'),
    # a fallback stands in for a model reached through LiteLLM, and is one (registry.py's LiteLLMKind)
    (bad("[models.small]", 'id = "embedded:1.5b"', 'fallbacks = ["b"]', "[models.b]", 'id = "b/c"'), 3,
     "models.small.fallbacks: expected none: embedded:1.5b is never replaced by a fallback"),
    (bad("[models.small]", 'id = "x/y"', 'fallbacks = ["b"]', "[models.b]", 'id = "embedded:0.5b"'), 3,
     'models.small.fallbacks: expected models reached through LiteLLM (a server or a provider), to stand in for x/y; found "b", which is embedded:0.5b'),
    (bad("[models.small]", 'id = "x/y"', 'fallbacks = ["b"]', "[models.b]", 'id = "replay:/r.json"'), 3,
     'to stand in for x/y; found "b", which is replay:/r.json'),
    (bad("roles = 'small'"), 1, 'roles: expected a table; found "small"'),
    (bad(MODEL, "[roles]", 'writer = "small"'), 4, 'roles.writer: expected one of the keys coder, planner, judge; found unknown key "writer"'),
    (bad(MODEL, "[roles]", 'coder = "smal"'), 4, 'roles.coder: expected a model of this file (models: small); found "smal"'),
    (bad(MODEL, "[roles]", "coder = 1"), 4, "roles.coder: expected a string; found 1"),
    (bad(MODEL, "[profiles]", "fast = 1"), 4, "profiles.fast: expected a table; found 1"),
    (bad(MODEL, "[profiles.small]", 'coder = "small"'), 3, 'profiles.small: expected a name no model has (`--model NAME` would not know which one is meant); found "small", a model'),
    (bad(MODEL, '[profiles."embedded:x"]', 'coder = "small"'), 3, 'profiles."embedded:x": expected a profile\'s name: letters, digits and . _ : - (no spaces), not a model id'),
    (bad(MODEL, "[profiles.empty]"), 3, "profiles.empty: expected at least one role (coder, planner, judge); found an empty table"),
    (bad(MODEL, "[profiles.fast]", 'writer = "small"'), 4, 'profiles.fast.writer: expected one of the keys coder, planner, judge; found unknown key "writer"'),
    (bad("routes = 1", MODEL), 1, "routes: expected a list; found 1"),
    (bad(MODEL, "[[routes]]", 'role = "coder"', 'model = "small"', "size = 3"), 6, 'routes[0].size: expected one of the keys role, kind, min_tokens, max_tokens, model; found unknown key "size"'),
    (bad(MODEL, "[[routes]]", 'role = "coder"'), 3, 'routes[0].model: expected this key (it is required); found none'),
    (bad(MODEL, "[[routes]]", 'model = "small"'), 3, 'routes[0].role: expected this key (it is required); found none'),
    (bad(MODEL, "[[routes]]", 'role = "judge"', 'model = "small"'), 4, 'routes[0].role: expected coder or planner (the judge is not routed: it answers approvals, not tasks; set it in [roles]); found "judge"'),
    (bad(MODEL, "[[routes]]", 'role = "writer"', 'model = "small"'), 4, 'routes[0].role: expected one of coder, planner; found "writer"'),
    (bad(MODEL, "[[routes]]", 'role = "coder"', 'model = "big"'), 5, 'routes[0].model: expected a model of this file (models: small); found "big"'),
    (bad(MODEL, "[[routes]]", 'role = "coder"', 'model = "small"', 'kind = ["bugfix"]'), 6,
     'routes[0].kind: expected some of question, change, fix (a word or a list); found ["bugfix"]'),
    (bad(MODEL, "[[routes]]", 'role = "coder"', 'model = "small"', "min_tokens = -5"), 6,
     "routes[0].min_tokens: expected a whole number at least 0; found -5"),
    (bad(MODEL, "[[routes]]", 'role = "coder"', 'model = "small"', "min_tokens = 9", "max_tokens = 3"), 6,
     "routes[0].min_tokens: expected at most max_tokens (3): else no request would match; found 9"),
    (bad(MODEL, "[[routes]]", 'role = "coder"', 'model = "small"', "[[routes]]", 'role = "coder"',
         'model = "small"', "kind = 3"), 9, "routes[1].kind: expected some of question, change, fix (a word or a list); found 3"),
]


@pytest.mark.parametrize("text, line, says", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_every_error_names_the_file_the_line_and_what_was_expected(text, line, says):
    with pytest.raises(ModelsFileError) as info:
        parse(text, "/home/me/models.toml")
    message = str(info.value)
    assert isinstance(info.value, ConfigError)  # start-up's one-line, exit-1 path takes it
    # file:line, then the key path (none for the file as a whole: a TOML syntax error)
    assert re.match(rf"/home/me/models\.toml:{line}(, .+?)?: expected ", message), message
    assert says in message and "\n" not in message, message


def test_loading(tmp_path):
    assert Catalog.load(tmp_path / "none.toml").models == {}  # the default file need not exist
    with pytest.raises(ModelsFileError, match=r"none\.toml: file not found \(MODELS_FILE\)"):
        Catalog.load(tmp_path / "none.toml", required=True)
    with pytest.raises(ModelsFileError, match="cannot be read"):
        Catalog.load(tmp_path, required=True)  # a directory
    (tmp_path / "m.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(ModelsFileError, match="cannot be read"):
        Catalog.load(tmp_path / "m.toml")


# --- roles ---


@pytest.fixture
def models_file(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text(FULL)
    return path


def settings_with(models_file, **env):
    return load_settings({"MODELS_FILE": str(models_file), **env})


def test_each_role_comes_from_the_first_that_names_it(models_file, monkeypatch):
    monkeypatch.setenv("LOCAL_KEY", "sk-local-secret")
    settings = settings_with(models_file)
    coder = model_for_role(settings, "coder")
    assert (coder.name, coder.entry.id, coder.source, coder.named) == ("small", "embedded:1.5b",
                                                                        "models file [roles]", True)
    assert coder.fallbacks == ()
    assert [f.name for f in model_for_role(settings_with(models_file, MODEL_ID="local"), "coder").fallbacks] == ["big"]
    assert model_for_role(settings, "planner").entry.id == "ollama_chat/qwen2.5-coder:7b"
    assert model_for_role(settings, "judge") is None  # nothing names one: cli/judgemodel.py's default
    # A route, for a task known before the model opens; never over a setting.
    routed = model_for_role(settings, "coder", kind="fix", tokens=3000)
    assert routed.name == "big" and routed.source.startswith("route at ") and "models.toml:26" in routed.source
    assert model_for_role(settings, "coder", kind="question", tokens=3000).name == "small"
    assert model_for_role(settings_with(models_file, MODEL_ID="local"), "coder", kind="fix", tokens=3000).name == "local"
    # The environment (and --model, which sets the same fields) wins over the file.
    env = settings_with(models_file, MODEL_ID="openai/x", MODEL_API_BASE="http://127.0.0.1:1/v1",
                        MODEL_API_KEY="sk-env", MODEL_FALLBACK_IDS="local,ollama_chat/y", JUDGE_MODEL="big")
    coder = model_for_role(env, "coder")
    assert (coder.entry.id, coder.entry.api_base, coder.named, coder.source) == \
        ("openai/x", "http://127.0.0.1:1/v1", False, "--model / MODEL_ID")
    assert [f.name for f in coder.fallbacks] == ["local", "ollama_chat/y"]  # a fallback may be a name of the file
    view = coder.apply(env)
    assert (view.model_id, view.model_api_key, view.model_fallback_ids) == ("openai/x", "sk-env",
                                                                              ("openai/qwen", "ollama_chat/y"))
    assert coder.endpoints(env) == {"openai/qwen": ("http://127.0.0.1:8080/v1", "sk-local-secret"),
                                    "ollama_chat/y": (None, None)}
    assert model_for_role(env, "judge").name == "big"
    # A model of the file brings its own address, key and window; MODEL_API_BASE is not its.
    named = model_for_role(settings_with(models_file, MODEL_ID="local", MODEL_API_BASE="http://elsewhere:1"), "coder")
    view = named.apply(load_settings({"MODEL_API_BASE": "http://elsewhere:1"}))
    assert (view.model_id, view.model_api_base, view.model_api_key) == ("openai/qwen", "http://127.0.0.1:8080/v1",
                                                                        "sk-local-secret")
    assert "sk-local-secret" not in repr(named)  # a key is looked up when needed, never kept to be shown


def test_without_a_file_the_default_is_the_embedded_coder(tmp_path):
    settings = load_settings({})
    coder = model_for_role(settings, "coder")
    assert (coder.entry.id, coder.source, coder.model_id) == ("embedded", "default", None)
    assert model_for_role(settings, "planner") is None and model_for_role(settings, "judge") is None
    with pytest.raises(ModelsFileError, match="file not found"):
        model_for_role(load_settings({"MODELS_FILE": str(tmp_path / "gone.toml")}), "coder")
    with pytest.raises(ValueError, match="unknown role"):
        model_for_role(settings, "writer")


def test_the_model_option(models_file):
    catalog = Catalog.load(models_file)
    assert parse_model_option("ollama_chat/qwen2.5-coder:14b", catalog) == {"coder": "ollama_chat/qwen2.5-coder:14b"}
    assert parse_model_option("gpt-4o-mini", catalog) == {"coder": "gpt-4o-mini"}  # a plain id: as always
    assert parse_model_option("small", catalog) == {"coder": "small"}
    assert parse_model_option("fast", catalog) == {"coder": "small", "judge": "small"}
    assert parse_model_option("coder=embedded:1.5b, planner=ollama_chat/qwen2.5-coder:7b", catalog) == \
        {"coder": "embedded:1.5b", "planner": "ollama_chat/qwen2.5-coder:7b"}
    assert parse_model_option("judge=replay:/tmp/j.json,coder=big", catalog) == {"judge": "replay:/tmp/j.json",
                                                                                 "coder": "big"}
    for option, says in [
        ("", "--model needs a value"),
        ("writer=small", "'writer' is not a role (the roles: coder, planner, judge)"),
        ("coder=small,small", "'small' is not a role"),
        ("coder=small,coder=big", "names the coder twice"),
        ("coder=", "coder= needs one model"),
        ("coder=a=b", "coder= needs one model"),
        ("planner=smal", "'smal' is neither a model of the models file (small, local, big) nor a model id "
                         "(provider/model, embedded[:KEY], replay:FILE); did you mean small?"),
        ("small,big", "one model id, a profile's name, or ROLE=MODEL,ROLE=MODEL"),
    ]:
        with pytest.raises(ModelChoiceError) as info:
            parse_model_option(option, catalog)
        assert says in str(info.value), (option, str(info.value))
    empty = Catalog()
    with pytest.raises(ModelChoiceError, match=r"\(none: no models file\)"):
        parse_model_option("coder=small", empty)
    chosen = choose_models(settings_with(models_file, MODEL_ID="openai/env"), "planner=local,judge=embedded:0.5b")
    assert (chosen.model_id, chosen.planner_model, chosen.judge_model) == ("openai/env", "local", "embedded:0.5b")
    assert choose_models(settings_with(models_file), "embedded").model_id == "embedded"  # beats [roles] coder
    assert model_for_role(choose_models(settings_with(models_file), "embedded"), "coder").model_id is None
    assert choose_models(replace(load_settings({})), None) == load_settings({})


def test_the_example_in_the_docs_loads():
    """docs/configuration.md's models file is one a user copies: it must load as it stands."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    example = re.search(r"```toml\n(# ~/.config/agent-runtime/models.toml\n.*?)```", page, re.S)
    assert example, "the models file example is in docs/configuration.md"
    catalog = parse(example.group(1), "configuration.md")
    assert catalog.roles == {"coder": "small", "planner": "big", "judge": "judge-small"}
    assert catalog.models["local"].fallbacks == ("big",) and catalog.routes[0].model == "big"
