"""The user's own layer over the command policy: approvals saved with "always" at a prompt.

The file is `$XDG_CONFIG_HOME/agent-runtime/policy.toml` (`~/.config/...`): the user's, like
the environment. A repository's files never add to it (POLICY_FILE and XDG_CONFIG_HOME are
not repository settings) and the agent never writes it (the policy denies writing the user's
configuration directory, also when it lies inside the workspace). It holds only entries like

    [[allow]]
    id = "git-push-origin-main"
    command = "git push origin main"        # exactly this command string
    repo = "/home/me/src/app"               # only in this repository (no repo: in every repository)
    reason = "saved with 'always' at an approval prompt, 2026-11-23"
    match = ["git push origin main"]        # checked by `agent-runtime policy test`

    [[allow]]
    id = "rule-git-push"
    rule = "git-push"                       # every command that rule of the shipped policy asks about
    match = ["git push origin feature"]

Precedence, strongest first (policy.py applies it):
  1. deny, from a rule or a floor: stays deny. A saved entry never lowers a deny.
  2. floors that ask: what cannot be read, code handed to an interpreter, a program or path only
     known at run time, risky environment variables, secrets in git's history, reading outside
     the workspace, and any write to AGENTS.md (the instructions later sessions follow): they
     still ask, whatever is saved.
  3. a saved entry: the command asks because of a rule (or the default), and the entry names
     that exact command, or every rule that asks about it; plain writes inside the workspace
     (policy.USER_LOWERABLE) are covered too. The policy's decision stays `ask` (spans show what the
     shipped policy says) and carries `approved_by`; the approval gate approves it without a
     prompt, with source `remembered`.
  4. the shipped policy (or POLICY_FILE): allow / ask.

An entry saved from a prompt holds the repository it was approved in (`repo`): the same command
text means something else in another repository (`./build.sh` there is another script), so an
approval does not travel unless the user deletes that line.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from agent_runtime.config import config_home
from agent_runtime.safety.policy import Policy, PolicyError

USER_POLICY_NAME = "policy.toml"
ALLOW_KEYS = ("id", "command", "rule", "repo", "reason", "match", "saved")
MAX_COMMAND_CHARS = 2000
HEADER = """\
# agent-runtime: your own approvals, layered over the shipped command policy.
# An [[allow]] entry approves, without asking, the exact `command` it names, or every command
# the shipped rule `rule` asks about. It never allows what the policy denies, and never lifts
# its floors (secrets, configuration files, AGENTS.md, code handed to an interpreter).
# `agent-runtime policy test` checks each entry's `match` examples. Edit or delete freely.
"""


def user_policy_path() -> Path:
    return config_home() / USER_POLICY_NAME


def shown(path: Path) -> str:
    """A path as a person reads it: ~/... under the home directory."""
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home):] if home != "/" and text.startswith(home + os.sep) else text


@dataclass(frozen=True)
class Allowance:
    id: str
    command: str | None
    rule: str | None
    reason: str
    match: tuple[str, ...]
    saved: str | None = None
    repo: Path | None = None  # None: every repository

    def applies_in(self, root: Path) -> bool:
        return self.repo is None or _same_directory(self.repo, root)

    def describe(self) -> str:
        return f"the command {self.command!r}" if self.command is not None else f"every command of rule {self.rule}"


class UserPolicy:
    """The [[allow]] entries of the user's policy file (none when it does not exist)."""

    def __init__(self, path: Path, entries: tuple[Allowance, ...] = ()):
        self.path = Path(path)
        self.entries = entries
        self.shown = shown(self.path)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def by_command(self, command: str, root: Path) -> Allowance | None:
        command = command.strip()
        return next((e for e in self.entries if e.command == command and e.applies_in(root)), None)

    def by_rules(self, rule_ids: set[str], root: Path) -> Allowance | None:
        """The entry that covers a command asked about by these rules: every one of them must be named
        (a command that matches `git-push` and `git-force-push` is not covered by `git-push` alone)."""
        found = {e.rule: e for e in self.entries if e.rule is not None and e.applies_in(root)}
        if not rule_ids or not all(r in found for r in rule_ids):
            return None
        return found[sorted(rule_ids)[0]]

    def where(self, entry: Allowance) -> str:
        return f"{self.shown} ([[allow]] {entry.id})"

    @classmethod
    def load(cls, path: Path | None = None) -> "UserPolicy":
        path = Path(path) if path else user_policy_path()
        where = shown(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{where}: cannot be read: {exc}") from None
        return cls(path, parse(text, where))


def parse(text: str, where: str) -> tuple[Allowance, ...]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where}: not valid TOML: {exc}; fix it or delete the file") from None
    unknown = sorted(set(raw) - {"allow"})
    if unknown:
        raise PolicyError(f"{where}: unknown section(s) {', '.join(unknown)}: your policy file holds only [[allow]] "
                          "entries (saved approvals); to change the rules themselves, copy the shipped policy.toml "
                          "and point POLICY_FILE at it")
    items = raw.get("allow", [])
    if not isinstance(items, list):
        raise PolicyError(f"{where}: allow must be an array of tables ([[allow]])")
    entries: list[Allowance] = []
    for index, item in enumerate(items, 1):
        at = f"{where}: [[allow]] #{index}"
        if not isinstance(item, dict):
            raise PolicyError(f"{at}: must be a table")
        extra = sorted(set(item) - set(ALLOW_KEYS))
        if extra:
            raise PolicyError(f"{at}: unknown key(s) {', '.join(extra)} (known: {', '.join(ALLOW_KEYS)}); "
                              "check the spelling")
        for key in ("id", "command", "rule", "repo", "reason", "saved"):
            if key in item and (not isinstance(item[key], str) or not item[key].strip()):
                raise PolicyError(f"{at}: {key} must be a non-empty string")
        if ("command" in item) == ("rule" in item):
            raise PolicyError(f"{at}: give exactly one of command (an exact command) or rule (a rule id of the "
                              "shipped policy)")
        match = item.get("match")
        if not isinstance(match, list) or not match or not all(isinstance(m, str) and m.strip() for m in match):
            raise PolicyError(f"{at}: match must be a non-empty list of example commands (policy test checks them)")
        if "repo" in item and not os.path.isabs(os.path.expanduser(item["repo"])):
            raise PolicyError(f"{at}: repo must be an absolute path (or leave it out for every repository)")
        command = item["command"].strip() if "command" in item else None
        entry_id = item.get("id") or (f"command {command!r}" if command else f"rule {item['rule']}")
        repo = Path(os.path.expanduser(item["repo"])) if "repo" in item else None
        entries.append(Allowance(entry_id, command, item.get("rule"), item.get("reason", "saved approval"),
                                 tuple(match), item.get("saved"), repo))
    ids = [e.id for e in entries]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise PolicyError(f"{where}: the id {duplicate!r} is used twice")
    return tuple(entries)


def _same_directory(a: Path, b: Path) -> bool:
    try:
        return Path(os.path.realpath(a)) == Path(os.path.realpath(b))
    except (OSError, ValueError):
        return False


def load_policy(policy_file: Path | None = None, user_file: Path | None = None) -> Policy:
    """The command policy (POLICY_FILE or the shipped one) with the user's saved approvals over it.
    The user's configuration directory is protected from writes by the agent."""
    policy = Policy.load(policy_file)
    user = UserPolicy.load(user_file)
    policy.user = user
    policy.protected = tuple(dict.fromkeys(Path(os.path.realpath(d)) for d in (config_home(), user.path.parent)))
    return policy


def example_failures(policy: Policy, root: Path) -> list[str]:
    """Each saved entry's `match` examples must be approved by that entry as the layered policy
    now decides (a shipped rule renamed, or a floor that now applies, shows up here)."""
    user = getattr(policy, "user", None)
    failures: list[str] = []
    known = {r.id for r in policy.rules}
    for entry in user.entries if user else ():
        if entry.rule is not None and entry.rule not in known:
            failures.append(f"{user.shown}: [[allow]] {entry.id}: the policy has no rule {entry.rule!r} "
                            "(renamed or removed); this entry approves nothing")
            continue
        for example in entry.match:
            if entry.command is not None and example.strip() != entry.command:
                failures.append(f"{user.shown}: [[allow]] {entry.id}: the example {example!r} is not its command "
                                f"{entry.command!r} (a command entry approves only that exact command)")
                continue
            decision = policy.check_command(example, entry.repo or root)
            if decision.approved_by is None:
                failures.append(f"{user.shown}: [[allow]] {entry.id}: {example!r} is not approved by it: the policy "
                                f"says {decision.decision} (rule {decision.rule}): {decision.reason}")
    return failures


# --- saving an "always" from a prompt ---


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except that DEL must be escaped too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or "command"


class SaveError(ValueError):
    """The entry cannot be saved; the message says why and what to do."""


@dataclass(frozen=True)
class Proposal:
    """An entry about to be saved: its TOML, shown to the user first."""

    entry: Allowance
    text: str
    path: Path


class ApprovalStore:
    """Saves "always" answers to the user's policy file and puts them in force at once."""

    def __init__(self, policy: Policy, root: Path, path: Path | None = None):
        self.policy = policy
        self.root = Path(root)
        self.path = Path(path) if path else (policy.user.path if getattr(policy, "user", None) is not None
                                             else user_policy_path())

    def propose(self, command: str, rule: str | None) -> Proposal | None:
        """The entry for "always this command" (rule None) or "always this rule", or None when saving
        it would change nothing: the policy would still ask (a floor) or never asked because of a rule."""
        command = command.strip()
        if not command or len(command) > MAX_COMMAND_CHARS or any(0xD800 <= ord(c) < 0xE000 for c in command):
            return None
        existing = self.policy.user.entries if getattr(self.policy, "user", None) is not None else ()
        ids = {e.id for e in existing}
        base = f"rule-{_slug(rule)}" if rule else _slug(command)
        entry_id, n = base, 2
        while entry_id in ids:
            entry_id, n = f"{base}-{n}", n + 1
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        repo = Path(os.path.realpath(self.root))
        entry = Allowance(entry_id, None if rule else command, rule,
                          f"saved with 'always' at an approval prompt ({today})", (command,), today, repo)
        lines = ["[[allow]]", f"id = {_toml_string(entry.id)}"]
        lines.append(f"rule = {_toml_string(rule)}" if rule else f"command = {_toml_string(command)}")
        lines += [f"repo = {_toml_string(str(repo))}  # only in this repository; without it: in every one",
                  f"reason = {_toml_string(entry.reason)}", f"match = [{_toml_string(command)}]",
                  f"saved = {_toml_string(today)}"]
        text = "\n".join(lines) + "\n"
        try:
            text.encode("utf-8")  # a path or command that is not UTF-8 cannot be saved as TOML
            parsed = parse(text, "entry")[0]
        except (PolicyError, UnicodeEncodeError):
            return None
        if (parsed.command, parsed.rule, parsed.match, parsed.repo) != (entry.command, entry.rule, entry.match, repo):
            return None
        if not self._would_approve(entry, command):
            return None
        return Proposal(entry, text, self.path)

    def _would_approve(self, entry: Allowance, command: str) -> bool:
        current = getattr(self.policy, "user", None)
        trial = UserPolicy(self.path, (*(current.entries if current else ()), entry))
        self.policy.user = trial
        try:
            return self.policy.check_command(command, self.root).approved_by is not None
        finally:
            self.policy.user = current

    def save(self, proposal: Proposal) -> None:
        """Append the entry (the file is checked whole before it replaces the old one) and use it now."""
        path = proposal.path
        try:
            old = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            old = HEADER
        except (OSError, UnicodeDecodeError) as exc:
            raise SaveError(f"cannot read {shown(path)}: {exc}; nothing was saved") from None
        text = old.rstrip("\n") + "\n\n" + proposal.text
        try:
            entries = parse(text, shown(path))
        except PolicyError as exc:
            raise SaveError(f"{exc}; nothing was saved (fix the file first)") from None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise SaveError(f"cannot write {shown(path)}: {exc.strerror or exc}; nothing was saved") from None
        self.policy.user = UserPolicy(path, entries)
