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

    [[allow]]
    id = "mcp-notes-search"
    tool = "mcp__notes__search"             # exactly this MCP tool (a full name, never a glob)
    server = "notes"                        # of the server of this exact name in mcp.toml
    repo = "/home/me/src/app"

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

A `tool` entry approves one MCP tool the policy asks about (policy/mcp.py); a deny (the server's
`deny` or `default` in mcp.toml, the policy file's `[mcp]` table) stays deny. It needs no `match`:
`policy test` checks the tool itself.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, model_validator

import agent_runtime.schema as schema
from agent_runtime.config import config_home
from agent_runtime.core import Action
from agent_runtime.safety.policy import Policy, PolicyError
from agent_runtime.safety.policy.mcp import TOOL_NAME, server_of

USER_POLICY_NAME = "policy.toml"
ALLOW_KEYS = ("id", "command", "rule", "tool", "server", "repo", "reason", "match", "saved")
MAX_COMMAND_CHARS = 2000
HEADER = """\
# agent-runtime: your own approvals, layered over the shipped command policy.
# An [[allow]] entry approves, without asking, the exact `command` it names, every command
# the shipped rule `rule` asks about, or the one MCP `tool` it names (of `server` in mcp.toml).
# It never allows what the policy denies, and never lifts its floors (secrets, configuration
# files, AGENTS.md, code handed to an interpreter).
# `agent-runtime policy test` checks each entry. Edit or delete freely.
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
    tool: str | None = None  # an MCP tool's full name (its `match` is that name)
    server: str | None = None  # with `tool`: the server's name in mcp.toml, exactly

    def applies_in(self, root: Path) -> bool:
        return self.repo is None or _same_directory(self.repo, root)

    def describe(self) -> str:
        if self.tool is not None:
            return f"the MCP tool {self.tool} of server {self.server}"
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

    def by_tool(self, name: str, server: str, root: Path) -> Allowance | None:
        """The entry of exactly this MCP tool of exactly this server (compared as written, no glob)."""
        return next((e for e in self.entries if e.tool == name and e.server == server and e.applies_in(root)), None)

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


class AllowEntry(BaseModel):
    """One [[allow]] entry of the user's policy.toml: a saved approval."""

    model_config = schema.STRICT
    id: schema.Text | None = None
    command: schema.Text | None = None  # an exact command
    rule: schema.Text | None = None  # every command this rule of the shipped policy asks about
    tool: schema.Text | None = None  # one MCP tool, mcp__<server>__<tool>
    server: schema.Text | None = None  # with tool: its server's name in mcp.toml
    repo: schema.Text | None = None  # an absolute path; none: every repository
    reason: schema.Text | None = None
    match: list[schema.Text] | None = None  # example commands `policy test` checks (not for a tool)
    saved: schema.Text | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "AllowEntry":
        given = [key for key in ("command", "rule", "tool") if getattr(self, key) is not None]
        if len(given) != 1:
            raise schema.Wrong("exactly one of command (an exact command), rule (a rule id of the shipped policy) "
                               "or tool (an MCP tool's full name)", f"{' and '.join(given) or 'none of them'}")
        if self.tool is not None:
            if not TOOL_NAME.fullmatch(self.tool):
                raise schema.Wrong("one MCP tool's full name as the prompt shows it, mcp__<server>__<tool> "
                                   "(letters, digits and '_', no glob)", schema.shown(self.tool), "tool")
            if self.server is None:
                raise schema.Wrong('the server of the tool, named as in your mcp.toml (server = "...")', "none",
                                   "server")
            if server_of(self.tool) != self.server.replace("-", "_"):
                raise schema.Wrong(f"the server of {self.tool}", schema.shown(self.server), "server")
            if self.match is not None:
                raise schema.Wrong("no match in a tool entry (it approves only the tool it names)",
                                   schema.shown(self.match), "match")
        elif self.server is not None:
            raise schema.Wrong("server only with tool (an MCP tool), not with a command or a rule",
                               schema.shown(self.server), "server")
        elif not self.match:
            raise schema.Wrong("a non-empty list of example commands (policy test checks them)",
                               schema.shown(self.match) if self.match is not None else "none", "match")
        if self.repo is not None and not os.path.isabs(os.path.expanduser(self.repo)):
            raise schema.Wrong("an absolute path (or leave it out for every repository)", schema.shown(self.repo),
                               "repo")
        return self


class UserPolicyFile(BaseModel):
    """The user's policy.toml: only [[allow]] entries (saved approvals). To change the rules themselves,
    copy the shipped policy.toml and point POLICY_FILE at it."""

    model_config = schema.STRICT
    unknown_key_hint: ClassVar[str] = ("your policy file holds only [[allow]] entries (saved approvals); to change "
                                       "the rules themselves, copy the shipped policy.toml and point POLICY_FILE at it")
    allow: list[AllowEntry] = []


assert tuple(AllowEntry.model_fields) == ALLOW_KEYS


def parse(text: str, where: str) -> tuple[Allowance, ...]:
    raw, lines = schema.read_toml(text, where, PolicyError)
    entries: list[Allowance] = []
    for item in schema.validate(UserPolicyFile, raw, where, PolicyError, lines).allow:
        command = item.command.strip() if item.command is not None else None
        entry_id = item.id or (f"command {command!r}" if command else
                               f"rule {item.rule}" if item.rule is not None else f"tool {item.tool}")
        match = [item.tool] if item.tool is not None else item.match  # a tool entry's one example is the tool
        repo = Path(os.path.expanduser(item.repo)) if item.repo is not None else None
        entries.append(Allowance(entry_id, command, item.rule, item.reason or "saved approval", tuple(match or ()),
                                 item.saved, repo, item.tool, item.server))
    ids = [e.id for e in entries]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        index = len(ids) - 1 - ids[::-1].index(duplicate)
        raise schema.fail(PolicyError, where, ("allow", index, "id"), "each id once", f"{schema.shown(duplicate)} a second time",
                          lines)
    return tuple(entries)


def _same_directory(a: Path, b: Path) -> bool:
    try:
        return Path(os.path.realpath(a)) == Path(os.path.realpath(b))
    except (OSError, ValueError):
        return False


def load_policy(policy_file: Path | None = None, user_file: Path | None = None) -> Policy:
    """The command policy (POLICY_FILE or the shipped one) with the user's saved approvals over it.
    The user's configuration directory is protected from writes by the agent, and so is the folder
    of an eval's trust file for the run (AGENT_RUNTIME_TRUSTED_SKILLS)."""
    from agent_runtime.config import extra_trust_path

    policy = Policy.load(policy_file)
    user = UserPolicy.load(user_file)
    policy.user = user
    extra = extra_trust_path()
    folders = (config_home(), user.path.parent) + ((extra.parent,) if extra is not None else ())
    policy.protected = tuple(dict.fromkeys(Path(os.path.realpath(d)) for d in folders))
    return policy


def example_failures(policy: Policy, root: Path) -> list[str]:
    """Each saved entry's `match` examples must be approved by that entry as the layered policy
    now decides (a shipped rule renamed, or a floor that now applies, shows up here)."""
    user = getattr(policy, "user", None)
    failures: list[str] = []
    known = {r.id for r in policy.rules}
    for entry in user.entries if user else ():
        if entry.tool is not None:
            failures += _tool_failures(policy, user, entry, root)
            continue
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


def _tool_failures(policy: Policy, user: UserPolicy, entry: Allowance, root: Path) -> list[str]:
    """A tool entry approves its tool as the policy and mcp.toml (added by the caller) now decide."""
    at = f"{user.shown}: [[allow]] {entry.id}"
    if entry.server not in policy.mcp.servers.values():
        return [f"{at}: your mcp.toml has no server {entry.server!r} (renamed or removed); this entry approves "
                "nothing"]
    decision = policy.decide(Action("mcp", command=entry.tool), entry.repo or root)
    if decision.approved_by is None:
        return [f"{at}: {entry.tool} is not approved by it: the policy says {decision.decision} "
                f"(rule {decision.rule}): {decision.reason}"]
    return []


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
        key = f"rule = {_toml_string(rule)}" if rule else f"command = {_toml_string(command)}"
        entry, text = self._entry(f"rule-{_slug(rule)}" if rule else _slug(command), [key],
                                  f"match = [{_toml_string(command)}]", (command,), command=None if rule else command,
                                  rule=rule)
        return self._checked(entry, text, lambda policy: policy.check_command(command, self.root))

    def propose_tool(self, name: str) -> Proposal | None:
        """The entry for "always this MCP tool": its full name and its server's exact name in mcp.toml
        (as configured now), or None when the policy would not ask about it (a deny stays deny)."""
        server = self.policy.mcp.servers.get(server_of(name) or "")
        if server is None or not TOOL_NAME.fullmatch(name):
            return None
        keys = [f"tool = {_toml_string(name)}  # exactly this MCP tool: no other tool, no glob",
                f"server = {_toml_string(server)}  # its server, by its exact name in your mcp.toml"]
        entry, text = self._entry(_slug(name), keys, None, (name,), tool=name, server=server)
        return self._checked(entry, text, lambda policy: policy.decide(Action("mcp", command=name), self.root))

    def _entry(self, base: str, keys: list[str], match: str | None, examples: tuple[str, ...],
               **what: Any) -> tuple[Allowance, str]:
        """An entry of this repository saved today, with a free id, and its TOML."""
        existing = self.policy.user.entries if getattr(self.policy, "user", None) is not None else ()
        ids = {e.id for e in existing}
        entry_id, n = base, 2
        while entry_id in ids:
            entry_id, n = f"{base}-{n}", n + 1
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        repo = Path(os.path.realpath(self.root))
        entry = Allowance(entry_id, what.get("command"), what.get("rule"),
                          f"saved with 'always' at an approval prompt ({today})", examples, today, repo,
                          what.get("tool"), what.get("server"))
        lines = ["[[allow]]", f"id = {_toml_string(entry.id)}", *keys,
                 f"repo = {_toml_string(str(repo))}  # only in this repository; without it: in every one",
                 f"reason = {_toml_string(entry.reason)}", *([match] if match else []), f"saved = {_toml_string(today)}"]
        return entry, "\n".join(lines) + "\n"

    def _checked(self, entry: Allowance, text: str, decide: Any) -> Proposal | None:
        """The proposal, if its TOML reads back as the same entry and, with it saved, `decide` is approved."""
        try:
            text.encode("utf-8")  # a path or command that is not UTF-8 cannot be saved as TOML
            parsed = parse(text, "entry")[0]
        except (PolicyError, UnicodeEncodeError):
            return None
        fields = ("command", "rule", "tool", "server", "match", "repo")
        if any(getattr(parsed, f) != getattr(entry, f) for f in fields):
            return None
        current = getattr(self.policy, "user", None)
        self.policy.user = UserPolicy(self.path, (*(current.entries if current else ()), entry))
        try:
            approved = decide(self.policy).approved_by is not None
        finally:
            self.policy.user = current
        return Proposal(entry, text, self.path) if approved else None

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
