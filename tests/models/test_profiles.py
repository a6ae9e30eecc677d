"""Coaching rules (models/profiles.py): which model runs with which rules, set by the built-in
profiles, the models file and AGENT_COACHING; and each rule's grammar limits on and off."""

from __future__ import annotations

import pytest

from agent_runtime.config import ConfigError, load_settings
from agent_runtime.models.profiles import (
    ALL,
    DROPPED_FOR_1_5B,
    JOINED_FOR_1_5B,
    RULES,
    RULES_BY_PROFILE,
    UNMEASURED,
    CoachingError,
    coaching_for,
    profile_for,
    switches,
)

SMALL = ALL - UNMEASURED - {"function_retries"}  # the 0.5B's and the 270M's profiles
# the 1.5B's: two rules measured worth nothing out, two measured with it alone in
SMALL_1_5B = SMALL - {"temperature_bumps", "reply_repairs"} | {"function_retries"}


@pytest.mark.parametrize("model_id, profile", [
    (None, "qwen2.5-coder-1.5b"), ("embedded", "qwen2.5-coder-1.5b"), ("embedded:1.5b", "qwen2.5-coder-1.5b"),
    ("embedded:0.5b", "qwen2.5-coder-0.5b"), ("embedded:gemma-270m", "gemma-3-270m"),
    ("replay:/tmp/r.json", "qwen2.5-coder-1.5b"), ("openai/qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-1.5b"),
    ("ollama_chat/qwen2.5-coder:7b", "plain"), ("openai/gpt-4o", "plain"), ("anthropic/claude-x", "plain"),
])
def test_built_in_profiles_know_the_small_models_and_anything_else_gets_the_plain_core(model_id, profile):
    assert profile_for(model_id) == profile
    coaching = coaching_for(model_id)
    assert coaching.rules == {"plain": frozenset(), "qwen2.5-coder-1.5b": SMALL_1_5B}.get(profile, SMALL)
    assert coaching.source == "built-in"


def test_the_rules_are_the_ones_the_issue_names():
    assert DROPPED_FOR_1_5B == {"temperature_bumps", "reply_repairs"}
    assert RULES_BY_PROFILE["qwen2.5-coder-1.5b"] == SMALL_1_5B, "a rule measured worth nothing is dropped"
    assert list(RULES) == ["grammar_limits", "reply_repairs", "repeat_retry", "fresh_restart",
                           "new_function_per_attempt", "temperature_bumps", "function_retries",
                           "localization", "extra_test_runs", "planner", "hints", "skill_preload"]
    assert UNMEASURED == {"skill_preload"}, "a rule joins the small models' profiles once measured there"
    assert JOINED_FOR_1_5B == {"function_retries"}
    assert {"function_retries"} <= RULES_BY_PROFILE["qwen2.5-coder-1.5b"]
    assert not {"function_retries"} & RULES_BY_PROFILE["qwen2.5-coder-0.5b"], \
        "measured with the 1.5B only"
    with pytest.raises(KeyError):
        coaching_for(None).on("no_such_rule")


def test_the_models_file_sets_rules_as_a_list_or_switches_some_as_a_table():
    exactly = switches(["hints", "planner"], "[models.big] rules")
    assert coaching_for("ollama_chat/qwen2.5-coder:7b", exactly).names == ["planner", "hints"]
    assert coaching_for("embedded:1.5b", exactly).names == ["planner", "hints"], "a list is exactly these"
    some = switches({"hints": False, "repeat_retry": False}, "[models.small] rules")
    small = coaching_for("embedded:1.5b", some)
    assert small.rules == SMALL_1_5B - {"hints", "repeat_retry"} and small.source == "models file"
    back = coaching_for("embedded:1.5b", switches({"reply_repairs": True}, "[models.small] rules"))
    assert back.rules == SMALL_1_5B | {"reply_repairs"}, "a dropped rule can be switched back on"
    assert coaching_for("openai/gpt-4o", switches({"hints": True}, "x")).names == ["hints"]
    with pytest.raises(CoachingError, match="unknown rule 'hint' .*the rules: grammar_limits"):
        switches(["hint"], "[models.big] rules")
    with pytest.raises(CoachingError, match="hints = expected true or false"):
        switches({"hints": "yes"}, "[models.big] rules")


def test_agent_coaching_overrides_one_run():
    assert coaching_for("embedded", override="plain").rules == frozenset()
    assert coaching_for("openai/gpt-4o", override="qwen2.5-coder-1.5b").rules == SMALL_1_5B
    assert coaching_for("openai/gpt-4o", override="all").rules == ALL
    assert coaching_for("embedded", override="none").rules == frozenset()
    assert coaching_for("embedded", override="-hints,-planner").rules == SMALL_1_5B - {"hints", "planner"}
    assert coaching_for("embedded", override="+skill_preload").rules == SMALL_1_5B | {"skill_preload"}
    assert coaching_for("openai/gpt-4o", override="+hints").names == ["hints"]
    assert coaching_for("openai/gpt-4o", override="localization, extra_test_runs").names == \
        ["localization", "extra_test_runs"]
    assert coaching_for("embedded", override="plain").source == "AGENT_COACHING"
    with pytest.raises(CoachingError, match="unknown rule 'hintz'"):
        coaching_for("embedded", override="hintz")
    with pytest.raises(CoachingError, match="not both"):
        coaching_for("embedded", override="hints,-planner")
    assert isinstance(CoachingError("x"), ConfigError), "shown as a configuration error, no traceback"


def test_the_session_s_model_kind_carries_its_rules(tmp_path):
    from agent_runtime.models.roles import model_for_role

    plain = load_settings({"MODEL_ID": "ollama_chat/qwen2.5-coder:7b"})
    assert model_for_role(plain, "coder").open_kind(plain).coaching.rules == frozenset()
    replay = load_settings({"MODEL_ID": f"replay:{tmp_path / 'r.json'}"})
    assert model_for_role(replay, "coder").open_kind(replay).coaching.rules == SMALL_1_5B, "replies recorded from the 1.5B"
    off = load_settings({"MODEL_ID": f"replay:{tmp_path / 'r.json'}", "AGENT_COACHING": "plain"})
    assert model_for_role(off, "coder").open_kind(off).coaching.rules == frozenset()
    file = tmp_path / "models.toml"
    file.write_text('[models.big]\nid = "ollama_chat/qwen2.5-coder:7b"\nrules = ["hints"]\n')
    named = load_settings({"MODEL_ID": "big", "MODELS_FILE": str(file)})
    chosen = model_for_role(named, "coder")
    assert chosen.open_kind(named).coaching.names == ["hints"] == chosen.coaching(named).names


# --- grammar_limits: the grammars and the schema with and without them ---


def test_grammar_limits_bound_the_thought_and_the_statements_only_where_on():
    from gbnf_sampler import Grammar

    from agent_runtime.agent.codeagent import grammar_chooser
    from agent_runtime.models.grammar import THOUGHT_CHARS, python_grammar, reply_schema, tool_call_grammar
    from agent_runtime.tools import tool_classes

    tools = list(tool_classes())
    long_thought = "Thought: " + "x" * (THOUGHT_CHARS * 8) + "\n<code>\nprint(run_tests())\n</code>"
    four = "Thought: t\n<code>\n" + "print(run_tests())\n" * 4 + "</code>"
    held, free = Grammar(tool_call_grammar(tools, 1024)), Grammar(tool_call_grammar(tools, 1024, limits=False))
    assert not held.accepts(long_thought) and not held.accepts(four)
    assert free.accepts(long_thought) and free.accepts(four)
    held, free = Grammar(python_grammar(tools, 1024)), Grammar(python_grammar(tools, 1024, limits=False))
    assert not held.accepts(long_thought) and free.accepts(long_thought)
    assert reply_schema(tools)["properties"]["thought"]["maxLength"] == THOUGHT_CHARS
    assert "maxLength" not in reply_schema(tools, limits=False)["properties"]["thought"]
    assert "{1,3}" in reply_schema(tools)["properties"]["code"]["pattern"]
    assert "{1,3}" not in reply_schema(tools, limits=False)["properties"]["code"]["pattern"]
    # A SEARCH of the changes form: at most SEARCH_LINES lines with the limits, any run of lines without.
    code = "".join(f"    x{i} = {i}\n" for i in range(20))
    reply = ("Fix.\n### f.py::f\n```python\n<<<<<<< SEARCH\n" + code + "=======\n    pass\n>>>>>>> REPLACE\n```\n")
    for limits, accepted in ((True, False), (False, True)):
        choose = grammar_chooser(tools, 1024, edit=("f.py::f",), edit_changes={"f.py::f": code}, edit_blocks=1,
                                 limits=limits)
        assert Grammar(choose("gbnf-tools")).accepts(reply) is accepted
