"""The policy file's rules: each matches simple commands by an argv prefix (alternatives per
position, globs allowed) and optional conditions, and carries a decision, a reason, and example
commands that must and must not match. The file's keys and types are checked strictly."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from agent_runtime.safety.policy.containment import ESCAPES, RULE_KINDS
from agent_runtime.safety.policy.mcp import KEYS as MCP_KEYS
from agent_runtime.safety.policy.mcp import McpRules
from agent_runtime.safety.policy.paths import Place, path_values
from agent_runtime.safety.programs.base import has_flag
from agent_runtime.safety.shellwords import SimpleCommand, Word

DECISIONS = ("allow", "ask", "deny")
RANK = {d: i for i, d in enumerate(DECISIONS)}
SECTIONS = ("default", "sandbox", "paths", "rules", "examples", "mcp")
SANDBOX_KEYS = ("network", "default")
PATH_KEYS = ("deny_read", "allow_read", "deny_write")
EXAMPLE_KEYS = ("command", "decision", "sandbox")


class PolicyError(ValueError):
    """The policy file is invalid; the message names the file and the rule."""


@dataclass(frozen=True)
class Verdict:
    decision: str
    rule: str | None
    reason: str
    sandbox: str | None = None  # for an ask: what kind it is to the sandbox (policy/containment.py)


def stricter(a: Verdict, b: Verdict) -> Verdict:
    return b if RANK[b.decision] > RANK[a.decision] else a


def _describe(value: Any) -> str:
    """A TOML value as a person would name it: `the string 'false'`, `a list`, `the integer 1`."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _wrong(where: str, key: str, expected: str, value: Any) -> PolicyError:
    return PolicyError(f"{where}: {key} must be {expected}, got {_describe(value)}")


def _unknown(where: str, raw: dict[str, Any], known: Iterable[str], what: str) -> None:
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise PolicyError(f"{where}: unknown {what} {', '.join(repr(k) for k in unknown)} "
                          f"(known: {', '.join(known)}); check the spelling")


def _boolean(raw: dict[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise _wrong(where, key, "true or false (a boolean, without quotes)", value)
    return value


def _strings(raw: dict[str, Any], key: str, where: str, non_empty_items: bool = True) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _wrong(where, key, 'a list of strings (e.g. [".env*"])', value)
    if non_empty_items and any(not v.strip() for v in value):
        raise PolicyError(f"{where}: {key} holds an empty string; remove it")
    return tuple(value)


def _decision(raw: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if value not in DECISIONS:
        raise _wrong(where, key, '"allow", "ask" or "deny"', value)
    return value  # type: ignore[return-value]


def _alternatives(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise _wrong(where, "each pattern position", "a string or a list of strings", value)


@dataclass(frozen=True)
class Rule:
    id: str
    decision: str
    reason: str
    pattern: tuple[tuple[str, ...], ...] = ()
    exact: bool = False
    any_flag: tuple[str, ...] = ()
    any_arg: tuple[str, ...] = ()
    outside_workspace: bool = False
    pipe_from: tuple[str, ...] = ()
    match: tuple[str, ...] = ()
    not_match: tuple[str, ...] = ()
    sandbox: str = ESCAPES  # an ask rule: "contained" or "review" when the sandbox holds what it does

    FIELDS = ("id", "decision", "reason", "pattern", "exact", "any_flag", "any_arg", "outside_workspace",
              "pipe_from", "match", "not_match", "sandbox")

    @classmethod
    def from_toml(cls, raw: Any, where: str) -> "Rule":
        if not isinstance(raw, dict):
            raise _wrong(where, "each [[rules]] entry", "a table", raw)
        rid = raw.get("id")
        if not isinstance(rid, str) or not rid:
            raise PolicyError(f"{where}: every rule needs an id (a string)" +
                              (f", got {_describe(rid)}" if rid is not None else ""))
        where = f"{where}: rule {rid!r}"
        unknown = set(raw) - set(cls.FIELDS)
        if unknown:
            raise PolicyError(f"{where}: unknown field(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(cls.FIELDS)}); check the spelling")
        decision = _decision(raw, "decision", where)
        if not isinstance(raw.get("reason"), str) or not raw["reason"]:
            raise PolicyError(f"{where}: a reason is required (it is shown to the user and the model)" +
                              (f"; got {_describe(raw['reason'])}" if "reason" in raw else ""))
        pattern_raw = raw.get("pattern", [])
        if not isinstance(pattern_raw, list):
            raise _wrong(where, "pattern", 'a list (e.g. ["git", ["push", "pull"]])', pattern_raw)
        pattern = tuple(_alternatives(p, where) for p in pattern_raw)
        if not pattern:
            raise PolicyError(f"{where}: pattern must name at least the program")
        sandbox = raw.get("sandbox", ESCAPES)
        if "sandbox" in raw and sandbox not in RULE_KINDS:
            raise _wrong(where, "sandbox", '"contained" or "review"', sandbox)
        if "sandbox" in raw and decision != "ask":
            raise PolicyError(f"{where}: only an ask rule says what the sandbox contains (sandbox = ...); "
                              f"this one is {decision}")
        return cls(rid, decision, raw["reason"], pattern, _boolean(raw, "exact", where),
                   _strings(raw, "any_flag", where), _strings(raw, "any_arg", where),
                   _boolean(raw, "outside_workspace", where), _strings(raw, "pipe_from", where),
                   _strings(raw, "match", where), _strings(raw, "not_match", where), sandbox)

    def __post_init__(self) -> None:
        # Per position: the literal alternatives as a set, the glob ones as compiled patterns (speed).
        matchers = []
        for options in self.pattern:
            literal = frozenset(o for o in options if not any(c in o for c in "*?["))
            globs = tuple(re.compile(fnmatch.translate(o)) for o in options if o not in literal)
            matchers.append((literal, globs))
        object.__setattr__(self, "_matchers", tuple(matchers))

    @property
    def programs(self) -> frozenset[str] | None:
        """The program names this rule can match, or None when its first position is a glob."""
        literal, globs = self._matchers[0]  # type: ignore[attr-defined]
        return None if globs else literal

    def applies(self, cmd: SimpleCommand, place: Place) -> bool:
        argv = cmd.argv
        if len(argv) < len(self.pattern) or (self.exact and len(argv) != len(self.pattern)):
            return False
        for word, (literal, globs) in zip(argv, self._matchers, strict=False):  # type: ignore[attr-defined]
            if not word.static or (word.text not in literal and not any(g.match(word.text) for g in globs)):
                return False
        rest = argv[len(self.pattern):]
        if (self.any_flag or self.any_arg) and not any(
            w.static and (any(has_flag(w.text, f) for f in self.any_flag)
                          or any(fnmatch.fnmatchcase(w.text, a) for a in self.any_arg))
            for w in rest
        ):
            return False
        if self.pipe_from and not (cmd.fed_by & set(self.pipe_from)):
            return False
        if self.outside_workspace and not any(_outside(w, place) for w in rest):
            return False
        return True


def _outside(word: Word, place: Place) -> bool:
    """A path argument that leaves the workspace. A value only known at run time does not
    count (the command stays at the default, ask): it is unknown, not known to be outside."""
    for text in path_values(word):
        path = place.resolve(text)
        if path is not None and not place.inside(path) and not place.neutral(path) and not place.neutral_text(text):
            return True
    return False


def read_policy_file(path: Path) -> dict[str, Any]:
    """Read and check a policy file: every key known, every value of its type. What it holds, as
    the arguments of Policy (the examples are checked there, against the rules)."""
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{where}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where}: not valid TOML: {exc}") from None
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise PolicyError(f"{where}: unknown section(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(SECTIONS)}); check the spelling")
    default = _decision(raw, "default", where, "ask")
    sandbox = raw.get("sandbox", {})
    if not isinstance(sandbox, dict):
        raise _wrong(where, "sandbox", "a table ([sandbox])", sandbox)
    _unknown(f"{where}: [sandbox]", sandbox, SANDBOX_KEYS, "key(s)")
    network = _boolean(sandbox, "network", f"{where}: [sandbox]")
    # What a command no rule covers gets when commands run in the sandbox (it lowers only an ask).
    sandbox_default = sandbox.get("default", "allow")
    if sandbox_default not in ("allow", "ask"):
        raise _wrong(f"{where}: [sandbox]", "default", '"allow" or "ask"', sandbox_default)
    paths = raw.get("paths", {})
    if not isinstance(paths, dict):
        raise _wrong(where, "paths", "a table ([paths])", paths)
    _unknown(f"{where}: [paths]", paths, PATH_KEYS, "key(s)")
    deny_read, allow_read, deny_write = (_strings(paths, key, f"{where}: [paths]") for key in PATH_KEYS)
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        raise _wrong(where, "rules", "an array of tables ([[rules]])", rules_raw)
    rules = [Rule.from_toml(r, where) for r in rules_raw]
    ids = [r.id for r in rules]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise PolicyError(f"{where}: rule id {duplicate!r} is used twice")
    mcp = raw.get("mcp", {})  # MCP tools by name (safety/policy/mcp.py)
    if not isinstance(mcp, dict):
        raise _wrong(where, "mcp", "a table ([mcp])", mcp)
    _unknown(f"{where}: [mcp]", mcp, MCP_KEYS, "key(s)")
    mcp_rules = McpRules(_decision(mcp, "default", f"{where}: [mcp]", "ask"), default_written="default" in mcp)
    for decision in DECISIONS:
        mcp_rules.add(decision, _strings(mcp, decision, f"{where}: [mcp]"), where)
    examples_raw = raw.get("examples", [])
    if not isinstance(examples_raw, list):
        raise _wrong(where, "examples", "an array of tables ([[examples]])", examples_raw)
    examples = []
    for item in examples_raw:
        if not isinstance(item, dict):
            raise _wrong(where, "each [[examples]] entry", "a table", item)
        _unknown(f"{where}: [[examples]]", item, EXAMPLE_KEYS, "key(s)")
        if not isinstance(item.get("command"), str) or not item["command"]:
            raise _wrong(f"{where}: [[examples]]", "command", "a shell command (a string)", item.get("command"))
        said = f"{where}: [[examples]] {item['command']!r}"
        # sandbox = true / false: judged as when commands run in the sandbox / without it (default: false)
        examples.append((item["command"], _decision(item, "decision", said), _boolean(item, "sandbox", said)))
    return {"rules": rules, "default": default, "deny_read": deny_read, "allow_read": allow_read,
            "deny_write": deny_write, "network": network, "examples": tuple(examples), "source": where,
            "sandbox_default": sandbox_default, "mcp": mcp_rules}
