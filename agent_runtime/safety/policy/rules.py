"""The policy file's rules: each matches simple commands by an argv prefix (alternatives per
position, globs allowed) and optional conditions, and carries a decision, a reason, and example
commands that must and must not match. The file's keys and types are checked strictly, by its
schema (PolicyFile, published in docs/configuration.md)."""

from __future__ import annotations

import fnmatch
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator

import agent_runtime.schema as schema
from agent_runtime.safety.policy.containment import ESCAPES, RULE_KINDS
from agent_runtime.safety.policy.mcp import KEYS as MCP_KEYS
from agent_runtime.safety.policy.mcp import McpRules
from agent_runtime.safety.policy.paths import Place, path_values
from agent_runtime.safety.programs.base import has_flag
from agent_runtime.safety.shellwords import SimpleCommand, Word

DECISIONS = ("allow", "ask", "deny")
RANK = {d: i for i, d in enumerate(DECISIONS)}


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


Decision = Literal["allow", "ask", "deny"]
Strings = list[schema.Text]


def _position(value: Any) -> Any:
    if (isinstance(value, str) and value) or (
            isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)):
        return value
    raise schema.Wrong("a word or a list of alternatives (strings), e.g. \"git\" or [\"push\", \"pull\"]")


# One check for both shapes (a union would report each of its members' errors).
Position = Annotated[Any, BeforeValidator(_position), WithJsonSchema(
    {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]})]


class RuleEntry(BaseModel):
    """One [[rules]] entry: an argv prefix (alternatives per position, globs allowed), conditions, a decision."""

    model_config = schema.STRICT
    id: schema.Text
    decision: Decision
    reason: schema.Text  # shown to the user and the model
    pattern: Annotated[list[Position], Field(min_length=1)]  # at least the program
    exact: bool = False
    any_flag: Strings = []
    any_arg: Strings = []
    outside_workspace: bool = False
    pipe_from: Strings = []
    match: Strings = []  # examples it must match
    not_match: Strings = []  # examples it must not match
    sandbox: Literal["contained", "review"] | None = None  # an ask rule: what the sandbox holds of it

    @model_validator(mode="after")
    def _sandbox_of_an_ask(self) -> "RuleEntry":
        if self.sandbox is not None and self.decision != "ask":
            raise schema.Wrong("sandbox = ... only in an ask rule (it says what the sandbox contains)",
                               f"a {self.decision} rule", "sandbox")
        return self


class SandboxSection(BaseModel):
    model_config = schema.STRICT
    network: bool = False
    default: Literal["allow", "ask"] = "allow"  # what no rule covers gets in the sandbox (it lowers only an ask)


class PathsSection(BaseModel):
    model_config = schema.STRICT
    deny_read: Strings = []
    allow_read: Strings = []
    deny_write: Strings = []


class McpSection(BaseModel):
    """MCP tools by name (safety/policy/mcp.py)."""

    model_config = schema.STRICT
    default: Decision = "ask"
    allow: Strings = []
    ask: Strings = []
    deny: Strings = []


class ExampleEntry(BaseModel):
    model_config = schema.STRICT
    command: schema.Text
    decision: Decision
    sandbox: bool = False  # judged as when commands run in the sandbox (true) or without it


class PolicyFile(BaseModel):
    """policy.toml: the command policy (the shipped one, or POLICY_FILE)."""

    model_config = schema.STRICT
    default: Decision = "ask"
    sandbox: SandboxSection = SandboxSection()
    paths: PathsSection = PathsSection()
    rules: list[RuleEntry] = []
    examples: list[ExampleEntry] = []
    mcp: McpSection = McpSection()


assert typing.get_args(Decision) == DECISIONS and set(RuleEntry.model_fields) >= {"sandbox"}
assert set(typing.get_args(typing.get_args(RuleEntry.model_fields["sandbox"].annotation)[0])) == set(RULE_KINDS)
assert tuple(McpSection.model_fields) == MCP_KEYS


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{where}: cannot be read: {exc}") from None
    raw, lines = schema.read_toml(text, where, PolicyError)
    policy = schema.validate(PolicyFile, raw, where, PolicyError, lines)
    rules = [Rule(r.id, r.decision, r.reason, tuple(tuple([p] if isinstance(p, str) else p) for p in r.pattern),
                  r.exact, tuple(r.any_flag), tuple(r.any_arg), r.outside_workspace, tuple(r.pipe_from),
                  tuple(r.match), tuple(r.not_match), r.sandbox or ESCAPES) for r in policy.rules]
    ids = [r.id for r in rules]
    for index, rid in enumerate(ids):
        if rid in ids[:index]:
            raise schema.fail(PolicyError, where, ("rules", index, "id"), "each rule id once",
                              f"{schema.shown(rid)} a second time", lines)
    mcp = policy.mcp
    mcp_rules = McpRules(mcp.default, default_written="default" in mcp.model_fields_set)
    for decision in DECISIONS:
        mcp_rules.add(decision, tuple(getattr(mcp, decision)), where)
    examples = tuple((e.command, e.decision, e.sandbox) for e in policy.examples)
    paths = policy.paths
    return {"rules": rules, "default": policy.default, "deny_read": tuple(paths.deny_read),
            "allow_read": tuple(paths.allow_read), "deny_write": tuple(paths.deny_write),
            "network": policy.sandbox.network, "examples": examples, "source": where,
            "sandbox_default": policy.sandbox.default, "mcp": mcp_rules}
