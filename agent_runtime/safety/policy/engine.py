"""Step 2 of a tool call: allow / ask / deny, from rules that are data (policy.toml).

Each rule matches simple commands by an argv prefix (alternatives per position, globs
allowed) and optional conditions, and carries a decision, a reason, and example commands
that must and must not match; the examples are checked when a file is first loaded (Policy.load). Every
simple command a shell string would run (see commandline.py) is judged; the strictest decision
wins; a command no rule matches gets the default (ask). The floors (floors.py) hold whatever
the rules say; a path is judged as written and as resolved (paths.py); git's history is
scanned for deny_read files (history.py).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import agent_runtime.schema as schema
from agent_runtime.core import Action, Decision
from agent_runtime.safety.commandline import DYNAMIC, SimpleCommand, parse
from agent_runtime.safety.policy.containment import (
    CONTAINED,
    ESCAPES,
    REVIEW,
    UNAVAILABLE,
    SandboxState,
    contained_reason,
    in_sandbox_reason,
    unavailable_reason,
    worst,
)
from agent_runtime.safety.policy.floors import (
    INSTRUCTIONS_REASON,
    PINNED_FLOORS,
    ROUTINE_FLOORS,
    USER_LOWERABLE,
    floors,
    obeyed_reason,
)
from agent_runtime.safety.policy.history import secrets_in_repository
from agent_runtime.safety.policy.mcp import McpRules, argument_floor, server_of
from agent_runtime.safety.policy.paths import PathRules, Place, expand_braces, write_denied_reason
from agent_runtime.safety.policy.rules import RANK, PolicyError, Rule, Verdict, read_policy_file, stricter
from agent_runtime.safety.programs import RUNS
from agent_runtime.safety.programs.files import CHANGES_FILES
from agent_runtime.safety.programs.interpreters import INTERPRETERS
from agent_runtime.safety.programs.wrappers import WRAPPERS
from agent_runtime.safety.shellwords import Word

SHIPPED_POLICY = Path(__file__).resolve().parents[1] / "policy.toml"


def _examples_stamp(source: Path) -> Path | Literal["shipped"] | None:
    """Where it is remembered that this file's rule examples held, for this content and this build
    (what a command means to the parser can change with it); "shipped" for the file this build ships."""
    from agent_runtime.config import state_home

    try:
        content = source.read_bytes()
    except OSError:
        return None
    if source.resolve() == SHIPPED_POLICY.resolve():
        return "shipped"
    build = hashlib.sha256()
    try:
        for module in sorted(SHIPPED_POLICY.parent.rglob("*.py")):  # the parser, the programs, the rules
            build.update(module.read_bytes())
    except OSError:
        return None
    key = hashlib.sha256(content + b"\0" + build.digest()).hexdigest()
    return state_home() / "policy-examples" / key
# A program allowed only because the sandbox contains it (one no rule knows, a workspace script, npx)
# may run a command given as its arguments: `rlwrap rm -rf src`, `npm exec -- rm -rf src`,
# `concurrently 'rm -rf src'`. Each word that could name a program is judged with what follows it, and
# each argument holding a shell command as one string: what would not run unasked alone in the sandbox,
# or cannot be read, does not run unasked through it. Only words naming a program the policy
# knows start one (an unknown program would be contained anyway), so a long file list costs a lookup a word.
TARGETS_NOT_COMMANDS = frozenset({"make", "gmake", "ninja"})  # their words are targets and variables (make-code)
# Options whose value is text, not a command: test-name filters, messages, titles.
TEXT_OPTIONS = frozenset({"-t", "--testNamePattern", "--test-name-pattern", "-g", "--grep", "-k", "--tests", "--filter",
                          "-m", "--message", "--title", "--name", "--description", "--label", "--comment"})
# No rule covers it, or a workspace script or npx; the launchers programs/ knows are unwrapped already.
SEEN_THROUGH = (None, "run-script")
_PROGRAM_WORD = re.compile(r"[A-Za-z0-9_./+][A-Za-z0-9_./+-]*")


def _braces_expanded(words: list[Word]) -> list[Word]:
    """The words as bash hands them to the program: an unquoted `{rm,-rf,src}` is three words."""
    out: list[Word] = []
    for word in words:
        if word.static and word.glob and "{" in word.text:
            out += [Word(text) for text in reversed(expand_braces(word.text))]  # expand_braces lists them last first
        else:
            out.append(word)
    return out


CD_OPTIONS = {"cd": frozenset("LPe"), "pushd": frozenset("n"), "popd": frozenset("n")}
_STACK_ARGUMENT = re.compile(r"[+-]\d+")  # `pushd +1`: a directory of the stack, only known at run time
MAX_FALLBACKS = 8


def _entered(path: Path) -> bool:
    try:
        return path.is_dir() and os.access(path, os.X_OK)
    except OSError:
        return False


def _moved(cmd: SimpleCommand, place: Place, fallbacks: list[Place]) -> tuple[Place, list[Place]]:
    """Where the shell is after `cd`/`pushd`/`popd` (and where else it may be). Options only before the
    first operand, as bash reads them (`cd -L DIR -P` is two operands: cd fails); an unknown option, a
    stack entry (`pushd +1`), pushd's swap, popd, two operands: only known at run time. Braces expand as
    bash expands them (`cd {/root,}` is `cd /root`). `pushd -n DIR` stays. A target that is not a
    directory one can enter now may fail to be entered: the shell then stays where it was, so that place
    is kept as a fallback every later command is judged from too. A pattern (`cd wl*`) is only known at
    run time."""
    dynamic = (place.moved(DYNAMIC), [])
    operands: list[Word] = []
    stays = physically = False
    words = list(cmd.argv[1:])
    while words and words[0].static and words[0].text.startswith("-") and words[0].text != "-" \
            and not _STACK_ARGUMENT.fullmatch(words[0].text):
        word = words.pop(0)
        if word.text == "--":
            break
        if not set(word.text[1:]) <= CD_OPTIONS[cmd.program]:
            return dynamic
        stays = stays or "n" in word.text
        for letter in word.text[1:] if cmd.program == "cd" else ():
            physically = {"P": True, "L": False}.get(letter, physically)  # the last of -L and -P wins
    if any(not w.static for w in words) and cmd.program != "cd":
        return dynamic
    if any(w.glob and any(c in w.text for c in "*?[") for w in words):
        return dynamic  # `cd wl*`: the folder a pattern matches at run time (a symlink `wlink -> /root`)
    operands = [w for w in _braces_expanded(words) if not (w.static and w.text == "")]
    if cmd.program == "popd" or len(operands) > 1:
        return dynamic
    if cmd.program == "pushd":
        if stays:
            return place, fallbacks
        if not operands or (operands[0].static and _STACK_ARGUMENT.fullmatch(operands[0].text)):
            return dynamic
    word = operands[0] if operands else None
    physical = physically or word is None
    target = place.moved(word) if physical else place.moved_logically(word)
    others = [f.moved(word) if physical else f.moved_logically(word) for f in fallbacks]
    if not physical:  # bash takes the physical path when the logical one cannot be entered
        others += [p.moved(word) for p in (place, *fallbacks)]
    if not _entered(target.cwd):
        others.append(place)
    kept: list[Place] = []
    for other in others:
        if other.cwd != target.cwd and other not in kept:
            kept.append(other)
    if len(kept) > MAX_FALLBACKS:
        return dynamic
    return target, kept


class Policy:
    def __init__(self, rules: list[Rule], default: str = "ask", deny_read: tuple[str, ...] = (),
                 allow_read: tuple[str, ...] = (), deny_write: tuple[str, ...] = (), network: bool = False,
                 examples: tuple[tuple[str, str, bool], ...] = (), source: str = "<policy>",
                 sandbox_default: str = "allow", mcp: McpRules | None = None):
        self.rules = rules
        self.mcp = mcp or McpRules()  # MCP tools by name; the user's server configuration adds to it
        self.default = default
        self.paths = PathRules(deny_read, allow_read, deny_write)
        self.network = network
        self.examples = examples
        self.source = source
        self.user: Any = None  # the user's saved approvals (safety/userpolicy.py), layered over the rules
        self.sandbox_default = sandbox_default  # a command no rule covers, when commands run in the sandbox
        # Whether the commands judged run in the sandbox (tools/runtime.py, `policy check` set it).
        # None: not known, so nothing is allowed for being contained and no reason says so.
        self.sandbox: SandboxState | None = None
        # Rules by program name, so a command is tried only against rules that can match it.
        self._by_program: dict[str, list[tuple[int, Rule]]] = {}
        self._any_program: list[tuple[int, Rule]] = []
        for index, rule in enumerate(rules):
            names = rule.programs
            if names is None:
                self._any_program.append((index, rule))
            else:
                for name in names:
                    self._by_program.setdefault(name, []).append((index, rule))

    def _candidates(self, cmd: SimpleCommand) -> list[Rule]:
        program = cmd.program
        if program is None:
            return []
        found = self._by_program.get(program, []) + self._any_program
        return [rule for _, rule in sorted(found, key=lambda item: item[0])]

    @classmethod
    def load(cls, path: Path | None = None, check_examples: bool | None = None) -> "Policy":
        """Read and check a policy file: every key known, every value of its type, every example right.
        The rules' examples (a few hundred command parses) are checked once per file content and build:
        the shipped file's by the test suite and `policy test`, a user's file the first time it is read
        (remembered by its hash). check_examples=True checks them whatever was remembered."""
        source = Path(path) if path else SHIPPED_POLICY
        policy = cls(**read_policy_file(source))
        stamp = None if check_examples else _examples_stamp(source)
        if stamp is not None and (stamp == "shipped" or stamp.exists()):
            return policy
        wrong = policy._rule_examples_wrong()
        if wrong:
            index, key, example, said = wrong[0]
            rule = schema.shown(policy.rules[index].id)
            expected = f"commands rule {rule} matches" if key == "match" else f"commands rule {rule} does not match"
            more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
            try:  # the line of the key: the file is read again only to say where
                lines: schema.KeyLines | None = schema.KeyLines(Path(policy.source).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                lines = None
            raise schema.fail(PolicyError, policy.source, ("rules", index, key), expected,
                              f"{schema.shown(example)}, which {said}{more}", lines)
        if isinstance(stamp, Path):
            try:
                stamp.parent.mkdir(parents=True, exist_ok=True)
                stamp.touch()
            except OSError:  # a read-only state folder: checked again next time
                pass
        return policy

    # --- examples that test the policy itself ---

    def _rule_examples_wrong(self) -> list[tuple[int, str, str, str]]:
        """(rule index, match / not_match, the example, what is wrong) for each rule example that fails."""
        place = Place(Path("/policy-examples/workspace"), Path("/policy-examples/workspace"))
        wrong = []
        for index, rule in enumerate(self.rules):
            for example in rule.match:
                if not any(rule.applies(c, place) for c in parse(example).commands):
                    wrong.append((index, "match", example, "it does not match"))
            for example in rule.not_match:
                if any(rule.applies(c, place) for c in parse(example).commands):
                    wrong.append((index, "not_match", example, "it matches"))
        return wrong

    def rule_example_failures(self) -> list[str]:
        return [f"rule {self.rules[index].id!r}: its {key} example {example!r} " +
                ("does not match it" if key == "match" else "matches it")
                for index, key, example, _ in self._rule_examples_wrong()]

    def example_failures(self, root: Path) -> list[str]:
        failures = self.rule_example_failures()
        for command, expected, sandboxed in self.examples:
            state = SandboxState(True) if sandboxed else SandboxState(False, "the example says sandbox = false")
            got = self.check_command(command, root, state)
            if got.decision != expected:
                failures.append(f"example {command!r}: expected {expected}, got {got.decision} ({got.reason})")
        return failures

    def read_denied(self, rel: str) -> str | None:
        """The deny_read glob that forbids reading `rel`, unless allow_read excepts it."""
        return self.paths.read_denied(rel)

    def write_denied(self, rel: str) -> str | None:
        return self.paths.write_denied(rel)

    @property
    def deny_read(self) -> tuple[str, ...]:
        return self.paths.deny_read

    @property
    def allow_read(self) -> tuple[str, ...]:
        return self.paths.allow_read

    @property
    def deny_write(self) -> tuple[str, ...]:
        return self.paths.deny_write

    @property
    def protected(self) -> tuple[Path, ...]:
        """The user's configuration directory: never written by the agent (set by safety/userpolicy.py)."""
        return self.paths.protected

    @protected.setter
    def protected(self, directories: tuple[Path, ...]) -> None:
        self.paths.protected = directories

    def secrets_in_repository(self, worktree: Path, git_dir: Path, index_only: bool = False) -> tuple[str, ...] | None:
        """The deny_read paths git holds for this repository (policy/history.py)."""
        return secrets_in_repository(self.paths, worktree, git_dir, index_only)

    # --- decisions ---

    def decide(self, action: Action, root: Path) -> Decision:
        """The decision for a tool's action (docs/architecture.md, "The one path of a tool call",
        step 2). Paths are judged resolved: `..`, and symlinks in every component (a link
        `g -> .git` makes `g/hooks/x` a .git path)."""
        if action.kind == "command":
            return self.check_command(action.command or "", root)
        if action.kind == "mcp":  # a tool of an MCP server: by its name, then its arguments (policy/mcp.py)
            name = action.command or ""
            decision = self.mcp.decide(name, server_of(name))
            if decision.decision == "deny":
                return decision
            resolved = Path(root).resolve()
            # A command given to a server is judged as run_cmd's, but without the sandbox's relaxing of asks:
            # the server's sandbox may be off (sandbox = false in mcp.toml).
            floor = argument_floor(self.paths, Place(resolved, resolved), action.preview,
                                   lambda command: self._check(command, resolved, False))
            if floor is not None:  # as for `cat` of it: stricter than an allow by name, not lifted by a saved one
                verdict, rule, why = floor
                also = f"; also {decision.reason}" if verdict == decision.decision == "ask" else ""
                return Decision(verdict, rule, f"MCP tool {name}: {why}{also}")
            if decision.decision == "ask" and self.user:  # an allow stays what it is
                decision.approved_by = self._saved_tool_approval(name, root)
            return decision
        if action.kind == "skill":  # a file of a skill in the user's own folder (tools/skills.py), paths relative to it
            for rel in action.paths:
                glob = self.read_denied(rel)
                if glob:
                    return Decision("deny", "deny_read", f"{rel} may hold secrets (deny_read {glob!r})")
            return Decision("allow", "skill", "reads a skill of your own skills folder")
        if action.kind == "promoted":  # the user's own promoted tool (tools/promoted.py): it runs in the sandbox
            return Decision("allow", "promoted", "your own promoted tool, run in the sandbox")
        if action.kind == "promote":  # promote_tool: its source file is read, a tool is added for later sessions
            read = self.decide(Action("read", paths=action.paths), root)
            if read.decision == "deny":
                return read
            return Decision("ask", "promote", "adds a tool to your own skills folder that later sessions can call "
                                              "(it runs in the sandbox)")
        if action.kind not in ("read", "write", "restore"):
            return Decision("ask", None, f"unknown action {action.kind!r}")
        root = Path(root).resolve()
        place = Place(root, root)
        for rel in action.paths:
            if not isinstance(rel, str) or not rel or "\x00" in rel:
                return Decision("deny", "path", f"{rel!r} is not a usable path")
            resolved = place.resolve(rel)
            if resolved is None or not place.inside(resolved) or not all(place.inside(p) for p in place.forms(rel)):
                return Decision("deny", "outside-workspace", f"{rel} leads outside the workspace {root}")
            if action.kind == "read":
                hit = self.paths.denied_at(place, rel, self.read_denied)
                if hit:
                    return Decision("deny", "deny_read", f"{hit[0]} may hold secrets (deny_read {hit[1]!r})")
            else:
                hit = self.paths.denied_at(place, rel, self.write_denied)
                if hit:
                    return Decision("deny", "deny_write", f"{hit[0]} {write_denied_reason(hit[0], hit[1])}")
                if self.paths.protected_at(place, rel):
                    return Decision("deny", "user-config", f"{rel} is in your agent-runtime configuration "
                                                           "(approvals, hooks): only you change it")
                hit = self.paths.denied_at(place, rel, self.read_denied)
                if hit:  # writing a secret file is replacing it: the user does that, not the agent
                    return Decision("deny", "deny_read", f"{hit[0]} may hold secrets (deny_read {hit[1]!r}); "
                                                         "it is changed by the user, not by the agent")
        if action.kind == "read":
            return Decision("allow", None, "reads files in the workspace")
        if action.kind == "restore":  # the paths' denies above hold as for any write
            return Decision("allow", "restore", "puts back files as they were before this session's own patch")
        if any(self.paths.instructions_at(place, rel) for rel in action.paths):
            return Decision("ask", "instructions", INSTRUCTIONS_REASON)
        for rel in action.paths:
            obeyed = self.paths.obeyed_at(place, rel)
            if obeyed is not None:
                return Decision("ask", "obeyed-file", obeyed_reason(obeyed))
        return Decision("ask", "write", "changes files in the workspace")

    def check_command(self, command: str, root: Path, sandbox: SandboxState | None = None) -> Decision:
        """The decision for a shell command run in `root`. `sandbox`: whether commands run in the
        sandbox (default: what the policy was told, `self.sandbox`); an ask whose whole effect it
        contains is then allowed, and every ask's reason says why it is still asked."""
        state = sandbox if sandbox is not None else self.sandbox
        decision = self._check(command, Path(root).resolve(), state is not None and state.contains)
        if state is None:
            decision.sandbox = None  # nothing is known of a sandbox: nothing said of it
            return decision
        if decision.decision != "ask":
            return decision
        if state.contains:
            decision.reason = in_sandbox_reason(decision.reason, decision.sandbox or ESCAPES, decision.rule)
            return decision
        inside = self._check(command, Path(root).resolve(), True)  # what the sandbox would make of it
        if inside.decision == "allow":
            decision.reason, decision.sandbox = unavailable_reason(decision.reason, state.note), UNAVAILABLE
        else:
            decision.sandbox = inside.sandbox  # its kind in the sandbox: review or escapes
        return decision

    def _check(self, command: str, root: Path, contained: bool) -> Decision:
        parsed = parse(command)
        place = Place(root, root)
        overall: Verdict | None = None
        if parsed.problems:
            overall = Verdict("ask", "parse", f"cannot be fully read ({parsed.problems[0]}), so it is never allowed")
        judged = []
        saved: list[str | None] = []  # for each command that asks: the user's entry that approves it
        kind: str | None = ESCAPES if parsed.problems else None  # the worst kind of the asks
        relaxed: Verdict | None = None  # the first command allowed because the sandbox contains it
        fallbacks: list[Place] = []  # where the shell is instead if a cd to a missing directory failed
        inner: Place | None = None  # where a cd in a command substitution `$(cd DIR; ...)` moved it
        inner_fallbacks: list[Place] = []
        for cmd in parsed.commands:
            substituted = cmd.via.startswith("$(") or cmd.subshell  # a subshell: ( ), $( ), a pipe's stage, &
            if cmd.program in ("cd", "pushd", "popd"):
                if not substituted:
                    place, fallbacks = _moved(cmd, place, fallbacks)
                else:  # moves only the substitution's commands, which are judged from there and from outside
                    inner, inner_fallbacks = _moved(cmd, inner or place, inner_fallbacks if inner else fallbacks)
            here = place
            if cmd.chdir is not None:  # env -C DIR: this command (and what it runs) starts there
                here = place.moved(cmd.chdir)
            others = fallbacks + ([inner, *inner_fallbacks] if substituted and inner is not None else [])
            verdict = self._judge(cmd, here, contained)
            for other in others:  # where it runs if a cd before it failed, or a cd in its substitution moved it
                verdict = stricter(verdict, self._judge(cmd, other.moved(cmd.chdir) if cmd.chdir else other,
                                                        contained))
            if verdict.decision == "ask" and verdict.sandbox == REVIEW and cmd.through:
                # a change run through another program (script -c, parallel, sqlite3 .shell) is a person's to see
                verdict = Verdict("ask", verdict.rule, f"{verdict.reason}; {cmd.through} runs it, so a person "
                                                       "looks at it", ESCAPES)
            judged.append({"argv": cmd.texts(), "decision": verdict.decision, "rule": verdict.rule, "via": cmd.via})
            if verdict.decision == "ask":
                kind = worst(kind or verdict.sandbox, verdict.sandbox)
                if self.user:
                    saved.append(self._saved_approval(command, cmd, here))
            elif verdict.decision == "allow" and verdict.sandbox == CONTAINED and relaxed is None:
                relaxed = verdict
            if overall is not None and verdict.decision == overall.decision and verdict.rule in PINNED_FLOORS:
                overall = verdict  # the decision names it, whatever else asks
            else:
                overall = verdict if overall is None else stricter(overall, verdict)
        if overall is None:
            overall = Verdict("ask", "parse", "no command found")
            kind = ESCAPES
        approved_by = None
        if overall.decision == "ask" and not parsed.problems and saved and all(saved):
            approved_by = saved[0]
        if overall.decision == "allow" and relaxed is not None:
            overall = relaxed  # the reason says that the sandbox is why
        sandbox = {"allow": CONTAINED if relaxed is not None else None, "ask": kind, "deny": None}[overall.decision]
        return Decision(overall.decision, overall.rule, overall.reason, judged, approved_by, sandbox)

    def _saved_approval(self, command: str, cmd: SimpleCommand, place: Place) -> str | None:
        """Where the user approved this asking command for good (userpolicy.py), or None. The entry
        must name the exact command, or every rule that asks about it; no rule may deny it; and no
        floor may ask but a plain write inside the workspace."""
        hits = [r for r in self._candidates(cmd) if r.applies(cmd, place)]
        if any(r.decision == "deny" for r in hits):
            return None
        entry = self.user.by_command(command, place.root) or self.user.by_rules(
            {r.id for r in hits if r.decision == "ask"}, place.root)
        if entry is None:
            return None
        for floor in floors(self.paths, cmd, place, Verdict("allow", entry.id, entry.reason)):
            if floor.decision == "deny" or floor.rule not in USER_LOWERABLE:
                return None
        return self.user.where(entry)

    def _saved_tool_approval(self, name: str, root: Path) -> str | None:
        """Where the user approved this MCP tool for good (userpolicy.py), or None. The entry names the
        exact tool and the server's exact name in mcp.toml as configured now: `my-notes` and `my_notes`
        give the same tool names, and a server renamed to the other one is not the one approved."""
        server = self.mcp.servers.get(server_of(name) or "")
        entry = self.user.by_tool(name, server, root) if server is not None else None
        return self.user.where(entry) if entry is not None else None

    def _judge(self, cmd: SimpleCommand, place: Place, contained: bool = False, see_through: bool = True) -> Verdict:
        """One simple command: the strictest rule, then the floors. contained: commands run in the
        sandbox, so an ask of the kind it contains is lifted (before the floors, which then judge
        what an allowed command reads)."""
        hits = [r for r in self._candidates(cmd) if r.applies(cmd, place)]
        if hits:
            best = hits[0]
            for rule in hits[1:]:
                if RANK[rule.decision] > RANK[best.decision]:
                    best = rule
            verdict = Verdict(best.decision, best.id, best.reason, best.sandbox)
        elif not cmd.argv:
            verdict = Verdict("allow", None, "sets shell variables")
        elif cmd.transparent:
            verdict = Verdict("allow", None, f"{cmd.program} only runs the commands judged beside it")
        else:
            name = cmd.program or "a program only known at run time"
            kind = CONTAINED if cmd.program is not None and self.sandbox_default == "allow" else ESCAPES
            verdict = Verdict(self.default, None, f"no rule covers {name!r}; the default is {self.default}", kind)
        if verdict.decision == "deny":
            return verdict  # nothing is stricter; the floors would only cost time
        lifted: Verdict | None = None
        if contained and verdict.decision == "ask" and verdict.sandbox == CONTAINED:
            lifted, verdict = verdict, Verdict("allow", verdict.rule, verdict.reason, CONTAINED)
        for floor in floors(self.paths, cmd, place, verdict):
            if contained and floor.decision == "ask" and floor.sandbox == CONTAINED:
                lifted = lifted or floor
                continue
            kind = worst(floor.sandbox, floor.sandbox if verdict.decision != "ask" else verdict.sandbox)
            if RANK[floor.decision] > RANK[verdict.decision] or (
                    floor.decision == verdict.decision and verdict.rule is None and floor.rule):
                verdict = floor  # stricter, or the same with a specific reason instead of the default's
            elif floor.decision == verdict.decision == "ask" and floor.rule in PINNED_FLOORS \
                    and verdict.rule not in PINNED_FLOORS:
                verdict = Verdict("ask", floor.rule, f"{floor.reason}; also {verdict.reason}")
            elif floor.decision == verdict.decision == "ask" and floor.rule not in ROUTINE_FLOORS \
                    and floor.reason not in verdict.reason and verdict.reason.count("; also ") < 2:
                # A person approving should see that it also runs code or prints secrets.
                verdict = Verdict(verdict.decision, verdict.rule, f"{verdict.reason}; also {floor.reason}")
            if verdict.decision == "deny":
                break
            if verdict.decision == "ask":
                verdict = replace(verdict, sandbox=kind)
        if verdict.decision == "allow" and lifted is not None:
            if see_through and lifted.rule in SEEN_THROUGH and posixpath.basename(cmd.program or "") not in RUNS \
                    and (inside := self._run_by_arguments(cmd, place)):
                return inside
            return Verdict("allow", lifted.rule, contained_reason(lifted.reason), CONTAINED)
        return verdict

    def _knows(self, name: str) -> bool:
        """Whether a word names a program the policy judges as more than unknown (a rule, a launcher or
        wrapper, a file tool, an interpreter): only such a word can start a command that would ask."""
        return name in self._by_program or name in RUNS or name in WRAPPERS or name in CHANGES_FILES \
            or name in INTERPRETERS or name in ("sed", "find", "xargs", "env", "fd", "fdfind")

    def _run_by_arguments(self, cmd: SimpleCommand, place: Place) -> Verdict | None:
        """An ask, if a command this one's arguments could be would not run unasked on its own (in the
        sandbox: what is left to ask once the sandbox has lifted what it contains), or cannot be read."""
        name = posixpath.basename(cmd.program or "")
        if name in TARGETS_NOT_COMMANDS:
            return None
        code_options = INTERPRETERS.get(name, ())  # `python -c CODE`: the floors judge the code, as Python
        words = _braces_expanded(cmd.argv[1:])
        quoted = [shlex.quote(w.text) if w.static else '"$RUN_TIME_VALUE"' for w in words]
        strings = [" ".join(quoted[i:]) for i, w in reversed(list(enumerate(words[:-1])))  # the shortest first;
                   if w.static and _PROGRAM_WORD.fullmatch(w.text)  # a program alone (`make install`) changes nothing
                   and self._knows(posixpath.basename(w.text))]
        for i, w in enumerate(words):  # a command as one string: `concurrently 'rm -rf src'`, `--call='...'`
            option, eq, value = w.text.partition("=") if w.text.startswith("-") else ("", "", w.text)
            named_by = option if eq else (words[i - 1].text if i else "")
            if w.static and len(value.split()) > 1 and named_by not in TEXT_OPTIONS and named_by not in code_options:
                strings.append(value)
        for text in strings:
            shown = text if len(text) <= 80 else text[:77] + "..."
            parsed = parse(text)
            if parsed.problems:
                return Verdict("ask", "runs-command", f"{cmd.program or 'it'} may run `{shown}`, which cannot be fully "
                                                      f"read ({parsed.problems[0]})", ESCAPES)
            for inner in parsed.commands:
                verdict = self._judge(inner, place, True, see_through=False)
                if verdict.decision != "allow":
                    return Verdict("ask", "runs-command", f"{cmd.program or 'it'} may run `{shown}`, which would not "
                                                          f"run unasked on its own: {verdict.reason}", ESCAPES)
        return None
