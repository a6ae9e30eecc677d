"""Step 2 of a tool call: allow / ask / deny, from rules that are data (policy.toml).

Each rule matches simple commands by an argv prefix (alternatives per position, globs
allowed) and optional conditions, and carries a decision, a reason, and example commands
that must and must not match; the examples are checked when the file loads. Every simple
command a shell string would run (see shell.py) is judged; the strictest decision wins;
a command no rule matches gets the default (ask).

A few floors hold whatever the rules say: what the parser cannot read is never allowed;
code handed to an interpreter is never allowed; reading deny_read files is denied;
redirection to a path outside the workspace is denied.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from agent_runtime.core import Action, Decision
from agent_runtime.safety import commandline as shell

DECISIONS = ("allow", "ask", "deny")
_RANK = {d: i for i, d in enumerate(DECISIONS)}
SHIPPED_POLICY = Path(__file__).with_name("policy.toml")
NEUTRAL_PATHS = ("/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero",
                 "/dev/urandom", "/dev/random", "/dev/fd/")
PRIVATE_TMP = "/tmp"  # private to each sandboxed command
# Programs whose arguments are text, not files to read (`echo $HOME` reads nothing).
NO_FILE_ARGUMENTS = {"echo", "printf", "seq", "date", "sleep", "true", "false", "expr", "basename", "dirname",
                     "which", "type", "uname", "whoami", "id", "hostname", "nproc", "test", "["}
# Variables a command may be given inline (`CI=1 pytest`); others (LD_PRELOAD, GIT_*, PAGER) can run code.
SAFE_ASSIGNMENTS = re.compile(
    r"^(CI|TERM|LANG|LANGUAGE|LC_[A-Z]+|TZ|NO_COLOR|FORCE_COLOR|COLUMNS|PYTHONPATH|PYTHONDONTWRITEBYTECODE|"
    r"PYTHONUNBUFFERED|PYTHONHASHSEED|PYTHONWARNINGS|PYTEST_ADDOPTS|NODE_ENV|RUST_BACKTRACE|RUST_LOG|DEBUG|"
    r"VERBOSE|GOFLAGS|CARGO_TERM_COLOR|HOME)$"
)


class PolicyError(ValueError):
    """The policy file is invalid; the message names the file and the rule."""


@dataclass(frozen=True)
class Verdict:
    decision: str
    rule: str | None
    reason: str


def stricter(a: Verdict, b: Verdict) -> Verdict:
    return b if _RANK[b.decision] > _RANK[a.decision] else a


# --- paths ---


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """gitignore-style glob -> regex over a relative path."""
    pattern = pattern.strip().lstrip("/")
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"(?:/.*)?\Z")


def glob_match(pattern: str, rel: str) -> bool:
    """Does `rel` (a relative path, or an absolute one without its leading /) fall under `pattern`?"""
    rel = rel.lstrip("/")
    if "/" not in pattern.strip("/"):
        # No slash: the pattern names a file or directory at any depth.
        return any(fnmatch.fnmatchcase(part, pattern.strip("/")) for part in rel.split("/"))
    return bool(_glob_regex(pattern).match(rel))


@dataclass(frozen=True)
class Place:
    """Where a command runs: the workspace and the current directory (moved by cd)."""

    root: Path
    cwd: Path

    def resolve(self, text: str) -> Path | None:
        """An argument as a path; None when it cannot be a path (a URL, a pattern with ://)."""
        if not text or "://" in text or "\x00" in text:
            return None
        if text.startswith("~"):
            head, _, rest = text.partition("/")
            if head != "~":
                return Path("/nonexistent-user-home") / rest  # ~user: someone else's home, outside
            text = str(Path.home() / rest)
        glob_at = min([text.index(c) for c in "*?[" if c in text] or [len(text)])
        if glob_at < len(text):
            text = text[:glob_at].rpartition("/")[0] or ("/" if text.startswith("/") else ".")
        path = Path(text) if os.path.isabs(text) else self.cwd / text
        path = Path(os.path.normpath(path))
        try:
            return Path(os.path.realpath(path))
        except OSError:
            return path

    def inside(self, path: Path) -> bool:
        return path == self.root or self.root in path.parents

    def neutral(self, path: Path) -> bool:
        """Devices like /dev/null: using them touches no file."""
        return not self.inside(path) and str(path).startswith(NEUTRAL_PATHS)

    def scratch(self, written: str, path: Path) -> bool:
        """A redirection into /tmp, private to each sandboxed command, written as such (`> /tmp/x`).
        Not a relative path that climbs out of a workspace which happens to live under /tmp, and
        not deleting or moving things there: that is still outside the workspace."""
        named = written == PRIVATE_TMP or written.startswith(PRIVATE_TMP + "/")
        return named and not self.inside(path)

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.root) if self.inside(path) else str(path)


def _path_values(word: shell.Word) -> Iterable[str]:
    """The texts in an argument that could be paths: the word, or the value of --opt=VALUE."""
    if not word.static:
        return ()
    text = word.text
    if text.startswith("-"):
        _, eq, value = text.partition("=")
        return (value,) if eq and value else ()
    return (text,)


# --- rules ---


def _alternatives(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"{where}: each pattern position must be a string or a list of strings")


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

    FIELDS = ("id", "decision", "reason", "pattern", "exact", "any_flag", "any_arg", "outside_workspace",
              "pipe_from", "match", "not_match")

    @classmethod
    def from_toml(cls, raw: dict[str, Any], where: str) -> "Rule":
        rid = raw.get("id")
        if not isinstance(rid, str) or not rid:
            raise PolicyError(f"{where}: every rule needs an id")
        where = f"{where}: rule {rid!r}"
        unknown = set(raw) - set(cls.FIELDS)
        if unknown:
            raise PolicyError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if raw.get("decision") not in DECISIONS:
            raise PolicyError(f"{where}: decision must be allow, ask or deny")
        if not isinstance(raw.get("reason"), str) or not raw["reason"]:
            raise PolicyError(f"{where}: a reason is required (it is shown to the user and the model)")
        pattern = tuple(_alternatives(p, where) for p in raw.get("pattern", []))
        if not pattern:
            raise PolicyError(f"{where}: pattern must name at least the program")

        def strings(key: str) -> tuple[str, ...]:
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise PolicyError(f"{where}: {key} must be a list of strings")
            return tuple(value)

        return cls(rid, raw["decision"], raw["reason"], pattern, bool(raw.get("exact", False)),
                   strings("any_flag"), strings("any_arg"), bool(raw.get("outside_workspace", False)),
                   strings("pipe_from"), strings("match"), strings("not_match"))

    def applies(self, cmd: shell.SimpleCommand, place: Place) -> bool:
        argv = cmd.argv
        if len(argv) < len(self.pattern) or (self.exact and len(argv) != len(self.pattern)):
            return False
        for word, options in zip(argv, self.pattern):
            if not word.static or not any(fnmatch.fnmatchcase(word.text, o) for o in options):
                return False
        rest = argv[len(self.pattern):]
        if (self.any_flag or self.any_arg) and not any(
            w.static and (any(shell._has_flag(w.text, f) for f in self.any_flag)
                          or any(fnmatch.fnmatchcase(w.text, a) for a in self.any_arg))
            for w in rest
        ):
            return False
        if self.pipe_from and not (cmd.fed_by & set(self.pipe_from)):
            return False
        if self.outside_workspace and not any(_outside(w, place) for w in rest):
            return False
        return True


def _outside(word: shell.Word, place: Place) -> bool:
    """A path argument that leaves the workspace. A value only known at run time does not
    count (the command stays at the default, ask): it is unknown, not known to be outside."""
    for text in _path_values(word):
        path = place.resolve(text)
        if path is not None and not place.inside(path) and not place.neutral(path):
            return True
    return False


class Policy:
    def __init__(self, rules: list[Rule], default: str = "ask", deny_read: tuple[str, ...] = (),
                 allow_read: tuple[str, ...] = (), deny_write: tuple[str, ...] = (), network: bool = False,
                 examples: tuple[tuple[str, str], ...] = (), source: str = "<policy>"):
        self.rules = rules
        self.default = default
        self.deny_read = deny_read
        self.allow_read = allow_read
        self.deny_write = deny_write
        self.network = network
        self.examples = examples
        self.source = source

    @classmethod
    def load(cls, path: Path | None = None) -> "Policy":
        path = Path(path) if path else SHIPPED_POLICY
        where = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PolicyError(f"{where}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{where}: not valid TOML: {exc}") from None
        unknown = set(raw) - {"default", "sandbox", "paths", "rules", "examples"}
        if unknown:
            raise PolicyError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
        default = raw.get("default", "ask")
        if default not in DECISIONS:
            raise PolicyError(f"{where}: default must be allow, ask or deny")
        paths = raw.get("paths", {})
        rules = [Rule.from_toml(r, where) for r in raw.get("rules", [])]
        ids = [r.id for r in rules]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate:
            raise PolicyError(f"{where}: rule id {duplicate!r} is used twice")
        examples = []
        for item in raw.get("examples", []):
            if item.get("decision") not in DECISIONS or not isinstance(item.get("command"), str):
                raise PolicyError(f"{where}: each [[examples]] needs a command and a decision (allow, ask or deny)")
            examples.append((item["command"], item["decision"]))
        policy = cls(rules, default, tuple(paths.get("deny_read", ())), tuple(paths.get("allow_read", ())),
                     tuple(paths.get("deny_write", ())), bool(raw.get("sandbox", {}).get("network", False)),
                     tuple(examples), where)
        failures = policy.rule_example_failures()
        if failures:
            raise PolicyError(f"{where}: {failures[0]}" + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""))
        return policy

    # --- examples that test the policy itself ---

    def rule_example_failures(self) -> list[str]:
        place = Place(Path("/policy-examples/workspace"), Path("/policy-examples/workspace"))
        failures = []
        for rule in self.rules:
            for example in rule.match:
                if not any(rule.applies(c, place) for c in shell.parse(example).commands):
                    failures.append(f"rule {rule.id!r}: its match example {example!r} does not match it")
            for example in rule.not_match:
                if any(rule.applies(c, place) for c in shell.parse(example).commands):
                    failures.append(f"rule {rule.id!r}: its not_match example {example!r} matches it")
        return failures

    def example_failures(self, root: Path) -> list[str]:
        failures = self.rule_example_failures()
        for command, expected in self.examples:
            got = self.check_command(command, root)
            if got.decision != expected:
                failures.append(f"example {command!r}: expected {expected}, got {got.decision} ({got.reason})")
        return failures

    # --- paths ---

    def read_denied(self, rel: str) -> str | None:
        """The deny_read glob that forbids reading `rel`, unless allow_read excepts it."""
        if any(glob_match(p, rel) for p in self.allow_read):
            return None
        return next((p for p in self.deny_read if glob_match(p, rel)), None)

    def write_denied(self, rel: str) -> str | None:
        return next((p for p in self.deny_write if glob_match(p, rel)), None)

    # --- decisions ---

    def decide(self, action: Action, root: Path) -> Decision:
        """The decision for a tool's action (DESIGN.md step 2)."""
        if action.kind == "command":
            return self.check_command(action.command or "", root)
        if action.kind == "read":
            for rel in action.paths:
                pattern = self.read_denied(rel)
                if pattern:
                    return Decision("deny", "deny_read", f"{rel} may hold secrets (deny_read {pattern!r})")
            return Decision("allow", None, "reads files in the workspace")
        if action.kind == "write":
            for rel in action.paths:
                pattern = self.write_denied(rel)
                if pattern:
                    return Decision("deny", "deny_write", f"{rel} must not be changed (deny_write {pattern!r})")
            return Decision("ask", "write", "changes files in the workspace")
        return Decision("ask", None, f"unknown action {action.kind!r}")

    def check_command(self, command: str, root: Path) -> Decision:
        root = Path(root).resolve()
        parsed = shell.parse(command)
        place = Place(root, root)
        overall: Verdict | None = None
        if parsed.problems:
            overall = Verdict("ask", "parse", f"cannot be fully read ({parsed.problems[0]}), so it is never allowed")
        judged = []
        for cmd in parsed.commands:
            if cmd.program in ("cd", "pushd") and len(cmd.argv) > 1:
                target = place.resolve(cmd.argv[1].text) if cmd.argv[1].static else None
                place = Place(root, target or Path("/dynamic-directory"))
            verdict = self._judge(cmd, place)
            judged.append({"argv": cmd.texts(), "decision": verdict.decision, "rule": verdict.rule, "via": cmd.via})
            overall = verdict if overall is None else stricter(overall, verdict)
        if overall is None:
            overall = Verdict("ask", "parse", "no command found")
        return Decision(overall.decision, overall.rule, overall.reason, judged)

    def _judge(self, cmd: shell.SimpleCommand, place: Place) -> Verdict:
        hits = [r for r in self.rules if r.applies(cmd, place)]
        if hits:
            best = hits[0]
            for rule in hits[1:]:
                if _RANK[rule.decision] > _RANK[best.decision]:
                    best = rule
            verdict = Verdict(best.decision, best.id, best.reason)
        elif cmd.transparent:
            verdict = Verdict("allow", None, f"{cmd.program} only runs the commands judged beside it")
        else:
            name = cmd.program or "a program only known at run time"
            verdict = Verdict(self.default, None, f"no rule covers {name!r}; the default is {self.default}")
        for floor in self._floors(cmd, place, verdict):
            verdict = stricter(verdict, floor)
        return verdict

    def _floors(self, cmd: shell.SimpleCommand, place: Place, verdict: Verdict) -> Iterable[Verdict]:
        if cmd.program is None:
            yield Verdict("ask", "dynamic-program", "the program to run is only known at run time")
        if cmd.opaque_code:
            yield Verdict("ask", "interpreter-code", f"{cmd.opaque_code}: code that cannot be judged is never allowed")
        for name, _ in cmd.assignments:
            if not SAFE_ASSIGNMENTS.match(name):
                yield Verdict("ask", "env-assignment", f"setting {name} can change what runs")
        for word in cmd.argv[1:] if cmd.program not in NO_FILE_ARGUMENTS else ():
            for text in _path_values(word):
                path = place.resolve(text)
                if path is None:
                    continue
                pattern = self.read_denied(place.relative(path).lstrip("/")) if place.inside(path) else \
                    self.read_denied(str(path))
                if pattern:
                    yield Verdict("deny", "deny_read", f"{text} may hold secrets (deny_read {pattern!r})")
                elif verdict.decision == "allow" and not place.inside(path) and not place.neutral(path) and path.exists():
                    yield Verdict("ask", "outside-workspace", f"{text} is outside the workspace")
        for redirect in cmd.redirects:
            yield from self._redirect_floor(redirect, place)

    def _redirect_floor(self, redirect: shell.Redirect, place: Place) -> Iterable[Verdict]:
        target = redirect.target
        writes = not redirect.op.startswith("<") or redirect.op == "<>"
        if not target.static:
            yield Verdict("ask", "redirect", f"redirection to {target.text}, a path only known at run time")
            return
        path = place.resolve(target.text)
        if path is None or place.neutral(path) or (writes and place.scratch(target.text, path)):
            return
        rel = place.relative(path)
        if not place.inside(path):
            if writes:
                yield Verdict("deny", "redirect-outside", f"writes to {target.text}, outside the workspace")
            elif self.read_denied(str(path)):
                yield Verdict("deny", "deny_read", f"{target.text} may hold secrets")
            return
        if not writes:
            if self.read_denied(rel):
                yield Verdict("deny", "deny_read", f"{rel} may hold secrets")
            return
        if self.write_denied(rel):
            yield Verdict("deny", "deny_write", f"{rel} must not be changed")
        else:
            yield Verdict("ask", "redirect-write", f"writes {rel} directly (propose_patch lets the user review a change)")
