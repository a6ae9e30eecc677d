"""Coaching: the small-model aids, as named rules a model's profile turns on.

The agent's core is the same for every model; each aid below is opt-in, chosen per model:

    built-in profile      what a model id the project knows runs with (RULES_BY_PROFILE)
    the models file       [models.NAME] rules = ["hints", ...] (exactly these) or
                          rules = { hints = false, ... } (the built-in profile, these switched)
    AGENT_COACHING        one run: a profile's name (`plain`: every rule off), a list of rules
                          (`hints,planner`: exactly these), or changes (`-repeat_retry,+hints`)

A model the project does not know gets the plain core: no rule at all. Data, not code, as Aider
keeps its per-model settings. Standard library and config only (`agent-runtime models` and start-up read it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent_runtime.config import ConfigError

# Each rule, and what it does where it is on. Where it is off the core does the plain thing.
RULES: dict[str, str] = {
    "grammar_limits": "replies held short: a thought of at most 160 characters (200 under the Python grammar), "
                      "at most 3 tool statements, a SEARCH of at most 8 lines",
    "reply_repairs": "a reply that does not parse, reads a name nothing set or writes no usable file is asked again",
    "repeat_retry": "a reply repeating an earlier step is asked again (warmer, with a suggested next step)",
    "fresh_restart": "a failed fix is undone and the next attempt starts from the task's first message plus notes "
                     "(off: the failure is reflected back in the same conversation, the change kept)",
    "new_function_per_attempt": "in a big repository each attempt is held to a function no attempt has written",
    "temperature_bumps": "fixes after a failed one and retries are sampled warmer than MODEL_TEMPERATURE",
    "function_retries": "where the files a fix may change are shown whole, the fixes after the first are asked "
                        "for each function they change, written alone (### path::name); off: each file, whole",
    "localization": "before the first request: the traced spectrum run and the values run rank the code shown",
    "extra_test_runs": "before the first request: the failing tests' files run without the failing tests, "
                       "so a fix is judged by what it breaks",
    "planner": "the planner role (when it has a model) names where the fix goes before the coder writes it",
    "hints": "next-step suggestions and the note that a question's answer is due",
    "skill_preload": "an enabled skill whose name or description shares a word with the task is loaded "
                     "(load_skill) before the first request, its instructions in the task's first message",
}
ALL = frozenset(RULES)
PLAIN = "plain"
# A rule newer than the profiles joins one once a benchmark shows it pays there (docs/evaluation.md).
UNMEASURED = frozenset({"skill_preload"})
# Worth nothing or less to the 1.5B, each measured alone (docs/evaluation.md). The smaller models were
# not measured rule by rule and keep every rule they ran with before.
DROPPED_FOR_1_5B = frozenset({"temperature_bumps", "reply_repairs"})
# Measured together with the 1.5B alone, against one completion on both suites (docs/evaluation.md).
JOINED_FOR_1_5B = frozenset({"function_retries"})
SMALLER = ALL - UNMEASURED - JOINED_FOR_1_5B  # what the 0.5B and the 270M run with
RULES_BY_PROFILE: dict[str, frozenset[str]] = {
    PLAIN: frozenset(),
    "qwen2.5-coder-1.5b": ALL - UNMEASURED - DROPPED_FOR_1_5B,
    "qwen2.5-coder-0.5b": SMALLER,
    "gemma-3-270m": SMALLER,
}
_QWEN = re.compile(r"qwen2\.5-coder[-:_]?(0\.5|1\.5)b", re.IGNORECASE)


class CoachingError(ConfigError):
    """A rules setting that cannot be read; the message is one line and lists what is known."""


@dataclass(frozen=True)
class Coaching:
    """The rules one model runs with: `profile` the built-in one they start from, `source` what set
    them last (built-in, the models file, AGENT_COACHING)."""

    profile: str
    rules: frozenset[str]
    source: str = "built-in"

    def on(self, rule: str) -> bool:
        if rule not in RULES:
            raise KeyError(f"no coaching rule {rule!r}")
        return rule in self.rules

    @property
    def names(self) -> list[str]:
        """The rules on, in RULES' order."""
        return [r for r in RULES if r in self.rules]

    def describe(self) -> str:
        return f"{self.profile} ({self.source}): " + (", ".join(self.names) or "none (the plain core)")


PLAIN_CORE = Coaching(PLAIN, frozenset())
# Every measured rule on: the loops' default where no profile is passed (the session always passes one).
FULL = Coaching("the smaller models' rules", SMALLER)


def profile_for(model_id: str | None) -> str:
    """The built-in profile of a model id (None: the embedded default). Recorded replies (replay:)
    get the 1.5B model's: they were recorded from it, and the tests replay what it does."""
    if model_id is None or model_id in ("embedded", "embedded:1.5b") or model_id.startswith("replay:"):
        return "qwen2.5-coder-1.5b"
    if model_id == "embedded:0.5b":
        return "qwen2.5-coder-0.5b"
    if model_id.startswith("embedded:gemma"):
        return "gemma-3-270m"
    if model_id.startswith("embedded:"):
        return "qwen2.5-coder-1.5b"  # another embedded small model: the aids its siblings run with
    found = _QWEN.search(model_id)
    return f"qwen2.5-coder-{found.group(1)}b" if found else PLAIN


def check_rules(names: object, where: str) -> list[str]:
    """Rule names as given (a list of strings), each known; CoachingError otherwise."""
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise CoachingError(f"{where}: expected a list of rule names, got {type(names).__name__}")
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise CoachingError(f"{where}: unknown rule {unknown[0]!r} (the rules: {', '.join(RULES)})")
    return list(names)


def switches(value: object, where: str) -> tuple[tuple[str, bool], ...]:
    """The models file's `rules`: a list (exactly these on, every other off) or a table of booleans
    (these switched, the rest as the built-in profile has them)."""
    if isinstance(value, dict):
        check_rules(list(value), where)
        wrong = [k for k, v in value.items() if not isinstance(v, bool)]
        if wrong:
            raise CoachingError(f"{where}: {wrong[0]} = expected true or false")
        return tuple((k, bool(v)) for k, v in value.items())
    on = set(check_rules(value, where))
    return tuple((r, r in on) for r in RULES)


def _override(base: Coaching, text: str) -> Coaching:
    """AGENT_COACHING applied to `base`."""
    text = text.strip()
    if text in RULES_BY_PROFILE:
        return Coaching(text, RULES_BY_PROFILE[text], "AGENT_COACHING")
    if text in ("all", "none"):
        return Coaching(base.profile, ALL if text == "all" else frozenset(), "AGENT_COACHING")
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if parts and all(p[0] in "+-" for p in parts):
        rules = set(base.rules)
        for part in parts:
            check_rules([part[1:]], "AGENT_COACHING")
            (rules.add if part[0] == "+" else rules.discard)(part[1:])
        return Coaching(base.profile, frozenset(rules), "AGENT_COACHING")
    if any(p[0] in "+-" for p in parts):
        raise CoachingError("AGENT_COACHING: either a list of rules or changes (+rule,-rule), not both")
    return Coaching(base.profile, frozenset(check_rules(parts, "AGENT_COACHING")), "AGENT_COACHING")


def coaching_for(model_id: str | None, file_rules: tuple[tuple[str, bool], ...] = (),
                 override: str | None = None) -> Coaching:
    """The rules a model runs with: its built-in profile, the models file's switches, then
    AGENT_COACHING (one run's). Raises CoachingError for an AGENT_COACHING it cannot read."""
    profile = profile_for(model_id)
    coaching = Coaching(profile, RULES_BY_PROFILE[profile])
    if file_rules:
        rules = set(coaching.rules)
        for rule, on in file_rules:
            (rules.add if on else rules.discard)(rule)
        coaching = Coaching(profile, frozenset(rules), "models file")
    return _override(coaching, override) if override and override.strip() else coaching
