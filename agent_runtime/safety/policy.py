"""Step 2 of a tool call: allow / ask / deny, from rules that are data (policy.toml).

Each rule matches simple commands by an argv prefix (alternatives per position, globs
allowed) and optional conditions, and carries a decision, a reason, and example commands
that must and must not match; the examples are checked when the file loads. Every simple
command a shell string would run (see commandline.py) is judged; the strictest decision
wins; a command no rule matches gets the default (ask).

A few floors hold whatever the rules say: what the parser cannot read is never allowed;
code handed to an interpreter, or hidden in a tool's own language (sed `e`, awk `system`,
`make --eval`, see programs.py), is never allowed; reading deny_read files is denied, also
from git's history; writing deny_write files is denied and writing outside the workspace is
denied, whether by redirection, by a tool's output option or by cp/mv/ln/tee; a path is
judged as written and as resolved (`..`, symlinks in every component).
"""

from __future__ import annotations

import fnmatch
import glob as globbing
import os
import re
import subprocess
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from agent_runtime.core import Action, Decision, within
from agent_runtime.safety import commandline as shell
from agent_runtime.safety import programs

DECISIONS = ("allow", "ask", "deny")
_RANK = {d: i for i, d in enumerate(DECISIONS)}
SHIPPED_POLICY = Path(__file__).with_name("policy.toml")
NEUTRAL_PATHS = ("/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero",
                 "/dev/urandom", "/dev/random", "/dev/fd/")
PRIVATE_TMP = "/tmp"  # private to each sandboxed command
UNKNOWN_DIRECTORY = Path("/dynamic-directory")  # `cd $X`: where relative paths then point is unknown
# Programs whose arguments are text, not files to read (`echo $HOME` reads nothing).
NO_FILE_ARGUMENTS = {"echo", "printf", "seq", "date", "sleep", "true", "false", "expr", "basename", "dirname",
                     "which", "type", "uname", "whoami", "id", "hostname", "nproc", "test", "[", "export",
                     "declare", "local", "readonly", "typeset", "unset", "set", "shopt", "alias", "read", "wait",
                     "exit", "return", ":", "kill", "pgrep", "ps", "pstree"}
# Variables a command may be given inline (`CI=1 pytest`); others (LD_PRELOAD, GIT_*, PAGER) can run code.
# Not HOME (git would read its configuration, which can run programs, from the new home) and not
# PYTEST_ADDOPTS (options this check would not see, such as --basetemp=/).
SAFE_ASSIGNMENTS = re.compile(
    r"^(CI|TERM|LANG|LANGUAGE|LC_[A-Z]+|TZ|NO_COLOR|FORCE_COLOR|COLUMNS|PYTHONPATH|PYTHONDONTWRITEBYTECODE|"
    r"PYTHONUNBUFFERED|PYTHONHASHSEED|PYTHONWARNINGS|NODE_ENV|RUST_BACKTRACE|RUST_LOG|DEBUG|"
    r"VERBOSE|GOFLAGS|CARGO_TERM_COLOR)$"
)
# Lower-case names that programs still read from the environment.
ENVIRONMENT_LOWERCASE = {"http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy"}
GIT_SCAN_TIMEOUT_S = 20.0
# Floors that only restate what an ask rule already says (it writes a file); others are added to its reason.
ROUTINE_FLOORS = {"write", "redirect-write", "write-dynamic", "redirect", "outside-workspace", "dynamic-argument",
                  "dynamic-directory"}
# The project's instructions, read into every later session's prompt (agent/prompt.py): a write to
# them asks every time, never approved from memory (a session's "always" or the user's saved approvals).
INSTRUCTION_FILES = ("AGENTS.md",)
# Floors that name the decision even when a rule already asks (the approval gate treats them apart).
PINNED_FLOORS = frozenset({"instructions"})
# Floors a user's saved approval (safety/userpolicy.py) may cover: a write to a named file inside the
# workspace (not a deny_write file, not AGENTS.md: those are other floors). Every other floor still applies.
USER_LOWERABLE = frozenset({"write", "redirect-write"})
INSTRUCTIONS_REASON = ("changes AGENTS.md, the project instructions every later session follows (asked every time, "
                       "never approved from memory)")


def risky_variable(name: str) -> bool:
    """A shell variable whose new value can change what later commands run (PATH, IFS, LD_PRELOAD).
    Lower-case names are the script's own (`for f in ...`, `read line`)."""
    if SAFE_ASSIGNMENTS.match(name):
        return False
    return name in ENVIRONMENT_LOWERCASE or not re.fullmatch(r"[a-z][a-z0-9_]*", name)


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
    return re.compile("".join(out) + r"(?:/.*)?\Z", re.IGNORECASE)


def glob_match(pattern: str, rel: str) -> bool:
    """Does `rel` (a relative path, or an absolute one without its leading /) fall under `pattern`?
    Without regard to case: on a case-insensitive file system (macOS, Windows, WSL's /mnt/c) `.ENV`
    is `.env` and `.GIT/hooks` is `.git/hooks`."""
    rel = rel.lstrip("/").lower()
    if "/" not in pattern.strip("/"):
        # No slash: the pattern names a file or directory at any depth.
        return any(fnmatch.fnmatchcase(part, pattern.strip("/").lower()) for part in rel.split("/"))
    return bool(_glob_regex(pattern).match(rel))


@dataclass(frozen=True)
class Place:
    """Where a command runs: the workspace and the current directory (moved by cd)."""

    root: Path
    cwd: Path

    @property
    def known(self) -> bool:
        return self.cwd != UNKNOWN_DIRECTORY

    def _absolute(self, text: str) -> str | None:
        if not text or "://" in text or "\x00" in text:
            return None
        if text.startswith("~"):
            head, _, rest = text.partition("/")
            if head != "~":
                return str(Path("/nonexistent-user-home") / rest)  # ~user: someone else's home, outside
            text = str(Path.home() / rest)
        glob_at = min([text.index(c) for c in "*?[" if c in text] or [len(text)])
        if glob_at < len(text):
            text = text[:glob_at].rpartition("/")[0] or ("/" if text.startswith("/") else ".")
        return text if os.path.isabs(text) else str(self.cwd / text)

    def resolve(self, text: str) -> Path | None:
        """An argument as the path it reaches: symlinks in every component and `..` resolved the way
        the kernel does (`link/..` is the parent of the link's target); None when it cannot be a path."""
        absolute = self._absolute(text)
        if absolute is None:
            return None
        try:
            return Path(os.path.realpath(absolute))
        except (OSError, ValueError):
            return Path(os.path.normpath(absolute))

    def lexical(self, text: str) -> Path | None:
        """The path as written, `.` and `..` folded: `hk/../.git/x` is `.git/x` whatever hk is."""
        absolute = self._absolute(text)
        return Path(os.path.normpath(absolute)) if absolute is not None else None

    def forms(self, text: str, follow: bool = True) -> list[Path]:
        """Both readings of a path; deny_read / deny_write are checked against each. follow=False:
        the last component is not followed (rm and mv act on a symlink itself, not on its target)."""
        out: list[Path] = []
        resolved = self.resolve(text)
        lexical = self.lexical(text)
        if not follow and lexical is not None and lexical.name and not text.endswith(("/", "/.")):
            parent = self.resolve(str(lexical.parent))
            resolved = parent / lexical.name if parent is not None else resolved
        for path in (resolved, lexical):
            if path is not None and path not in out:
                out.append(path)
        return out

    def inside(self, path: Path) -> bool:
        return within(path, self.root)

    def neutral(self, path: Path) -> bool:
        """Devices like /dev/null: using them touches no file."""
        return not self.inside(path) and str(path).startswith(NEUTRAL_PATHS)

    def neutral_text(self, text: str) -> bool:
        """`/dev/stdout` as written: resolved it is /proc/self/fd/1, a pipe or a terminal."""
        lexical = self.lexical(text)
        return lexical is not None and self.neutral(lexical)

    def scratch(self, written: str, path: Path) -> bool:
        """A write into /tmp, private to each sandboxed command, written as such (`> /tmp/x`).
        Not a relative path that climbs out of a workspace which happens to live under /tmp, and
        not deleting or moving things there: that is still outside the workspace."""
        named = written == PRIVATE_TMP or written.startswith(PRIVATE_TMP + "/")
        return named and not self.inside(path)

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.root) if self.inside(path) else str(path)

    def moved(self, word: shell.Word | None) -> "Place":
        """The place after `cd WORD` (None: `cd` alone goes home)."""
        if word is None:
            return Place(self.root, Path.home())
        if not word.static or word.text == "-" or not self.known:
            return Place(self.root, UNKNOWN_DIRECTORY)
        target = self.resolve(word.text)
        return Place(self.root, target or UNKNOWN_DIRECTORY)


def _path_values(word: shell.Word) -> Iterable[str]:
    """The texts in an argument that could be paths: the word, the value of --opt=VALUE, and the
    value of NAME=VALUE (`dd if=.env`, `make FILE=.env`)."""
    if not word.static:
        return ()
    text = word.text
    if text.startswith("-"):
        _, eq, value = text.partition("=")
        return (value,) if eq and value else ()
    name, eq, value = text.partition("=")
    if eq and value and "/" not in name:
        return (text, value)
    return (text,)


MAX_EXPANSIONS = 256


def expand_braces(text: str) -> list[str]:
    """`{a,b}c` -> ["ac", "bc"], as bash expands an unquoted word (nested, at most MAX_EXPANSIONS)."""
    results, pending = [], [text]
    while pending:
        item = pending.pop()
        depth, start, commas, i, expanded = 0, -1, [], 0, False
        while i < len(item):
            c = item[i]
            if c == "\\":
                i += 2
                continue
            if c == "{":
                if depth == 0:
                    start, commas = i, []
                depth += 1
            elif c == "}" and depth:
                depth -= 1
                if depth == 0 and commas:
                    parts, last = [], start + 1
                    for comma in commas:
                        parts.append(item[last:comma])
                        last = comma + 1
                    parts.append(item[last:i])
                    pending += [item[:start] + part + item[i + 1:] for part in parts]
                    expanded = True
                    break
            elif c == "," and depth == 1:
                commas.append(i)
            i += 1
        if not expanded:
            results.append(item)
        if len(results) + len(pending) > MAX_EXPANSIONS:
            return results + pending
    return results


def candidates(word: shell.Word, place: Place) -> list[str]:
    """The path texts an argument can stand for: its brace expansions, and for a pattern the
    pattern itself plus the files it matches now (`cat .e*` reads .env)."""
    out: list[str] = []
    for value in _path_values(word):
        for text in expand_braces(value) if word.glob else [value]:
            out.append(text)
            if word.glob and any(c in text for c in "*?[") and place.known:
                pattern = os.path.expanduser(text) if text.startswith("~/") else text
                base = None if os.path.isabs(pattern) else str(place.cwd)
                try:
                    out += globbing.glob(pattern, root_dir=base)[:MAX_EXPANSIONS]
                except (OSError, ValueError, re.error):
                    pass
    return out


# --- rules ---


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

    FIELDS = ("id", "decision", "reason", "pattern", "exact", "any_flag", "any_arg", "outside_workspace",
              "pipe_from", "match", "not_match")

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
        return cls(rid, decision, raw["reason"], pattern, _boolean(raw, "exact", where),
                   _strings(raw, "any_flag", where), _strings(raw, "any_arg", where),
                   _boolean(raw, "outside_workspace", where), _strings(raw, "pipe_from", where),
                   _strings(raw, "match", where), _strings(raw, "not_match", where))

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

    def applies(self, cmd: shell.SimpleCommand, place: Place) -> bool:
        argv = cmd.argv
        if len(argv) < len(self.pattern) or (self.exact and len(argv) != len(self.pattern)):
            return False
        for word, (literal, globs) in zip(argv, self._matchers, strict=False):  # type: ignore[attr-defined]
            if not word.static or (word.text not in literal and not any(g.match(word.text) for g in globs)):
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
        if path is not None and not place.inside(path) and not place.neutral(path) and not place.neutral_text(text):
            return True
    return False


# --- git: does the repository hold deny_read files? ---


def find_repository(start: Path) -> tuple[Path, Path] | None:
    """(work tree, git directory) of the repository `start` is in, found the way git finds it
    (the nearest .git upwards), without running git."""
    for directory in (start, *start.parents):
        dot_git = directory / ".git"
        try:
            if dot_git.is_dir():
                return directory, dot_git
            if dot_git.is_file():
                text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
                if text.startswith("gitdir:"):
                    target = Path(text[7:].strip())
                    return directory, (target if target.is_absolute() else directory / target).resolve()
        except OSError:
            return None
    return None


def _repository_state(git_dir: Path) -> tuple:
    """Changes whenever a ref, the index or a reflog changes: the cache key for what the history holds."""
    dirs = [git_dir]
    try:
        common = (git_dir / "commondir").read_text().strip()
        dirs.append((git_dir / common).resolve())
    except OSError:
        pass
    state: list[Any] = []
    for base in dirs:
        for name in ("HEAD", "index", "packed-refs", "logs/HEAD", "shallow"):
            try:
                st = os.stat(base / name)
                state.append((str(base), name, st.st_mtime_ns, st.st_size))
            except OSError:
                state.append((str(base), name, None))
        for top in ("refs", "logs/refs"):
            for dirpath, _, _ in os.walk(base / top):
                try:
                    state.append((dirpath, os.stat(dirpath).st_mtime_ns))
                except OSError:
                    pass
    return tuple(state)


_GIT_ENV_DROP = re.compile(r"^GIT_")  # GIT_DIR and friends would point git somewhere else
_HISTORY_CACHE: dict[tuple, tuple[str, ...] | None] = {}


def _git(worktree: Path, *args: str) -> subprocess.CompletedProcess | None:
    env = {k: v for k, v in os.environ.items() if not _GIT_ENV_DROP.match(k)}
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
    try:
        return subprocess.run(["git", "-c", "core.fsmonitor=false", "-C", str(worktree), *args],
                              capture_output=True, timeout=GIT_SCAN_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _paths_in_repository(worktree: Path, index_only: bool) -> list[str] | None:
    """The paths git holds for this repository: the index, and unless index_only every path in
    every commit reachable from any ref, reflog or stash. None when git could not say."""
    listed = _git(worktree, "ls-files", "-z", "--cached")
    if listed is None:
        return None
    if listed.returncode != 0:
        if b"dubious ownership" in listed.stderr or b"not a git repository" in listed.stderr:
            return []  # git refuses this repository: a git command run here prints nothing either
        return None
    paths = [p for p in listed.stdout.decode("utf-8", "replace").split("\0") if p]
    if index_only:
        return paths
    objects = _git(worktree, "rev-list", "--objects", "--all", "--reflog", "--indexed-objects")
    if objects is None or objects.returncode != 0:
        return None
    for line in objects.stdout.decode("utf-8", "replace").splitlines():
        _, sep, path = line.partition(" ")
        if sep and path:
            paths.append(path)
    return paths


def _covers(pathspec: Path, secret: Path) -> bool:
    """Would a git pathspec (resolved to an absolute path) select this file?"""
    if within(secret, pathspec):
        return True
    text = str(pathspec)
    return any(c in text for c in "*?[") and fnmatch.fnmatchcase(str(secret), text)


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
        self.user: Any = None  # the user's saved approvals (safety/userpolicy.py), layered over the rules
        self.protected: tuple[Path, ...] = ()  # the user's configuration directory: never written by the agent
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

    def _candidates(self, cmd: shell.SimpleCommand) -> list[Rule]:
        program = cmd.program
        if program is None:
            return []
        found = self._by_program.get(program, []) + self._any_program
        return [rule for _, rule in sorted(found, key=lambda item: item[0])]

    SECTIONS = ("default", "sandbox", "paths", "rules", "examples")
    SANDBOX_KEYS = ("network",)
    PATH_KEYS = ("deny_read", "allow_read", "deny_write")
    EXAMPLE_KEYS = ("command", "decision")

    @classmethod
    def load(cls, path: Path | None = None) -> "Policy":
        """Read and check a policy file: every key known, every value of its type, every example right."""
        path = Path(path) if path else SHIPPED_POLICY
        where = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PolicyError(f"{where}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{where}: cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{where}: not valid TOML: {exc}") from None
        unknown = set(raw) - set(cls.SECTIONS)
        if unknown:
            raise PolicyError(f"{where}: unknown section(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(cls.SECTIONS)}); check the spelling")
        default = _decision(raw, "default", where, "ask")
        sandbox = raw.get("sandbox", {})
        if not isinstance(sandbox, dict):
            raise _wrong(where, "sandbox", "a table ([sandbox])", sandbox)
        _unknown(f"{where}: [sandbox]", sandbox, cls.SANDBOX_KEYS, "key(s)")
        network = _boolean(sandbox, "network", f"{where}: [sandbox]")
        paths = raw.get("paths", {})
        if not isinstance(paths, dict):
            raise _wrong(where, "paths", "a table ([paths])", paths)
        _unknown(f"{where}: [paths]", paths, cls.PATH_KEYS, "key(s)")
        deny_read, allow_read, deny_write = (_strings(paths, key, f"{where}: [paths]") for key in cls.PATH_KEYS)
        rules_raw = raw.get("rules", [])
        if not isinstance(rules_raw, list):
            raise _wrong(where, "rules", "an array of tables ([[rules]])", rules_raw)
        rules = [Rule.from_toml(r, where) for r in rules_raw]
        ids = [r.id for r in rules]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate:
            raise PolicyError(f"{where}: rule id {duplicate!r} is used twice")
        examples_raw = raw.get("examples", [])
        if not isinstance(examples_raw, list):
            raise _wrong(where, "examples", "an array of tables ([[examples]])", examples_raw)
        examples = []
        for item in examples_raw:
            if not isinstance(item, dict):
                raise _wrong(where, "each [[examples]] entry", "a table", item)
            _unknown(f"{where}: [[examples]]", item, cls.EXAMPLE_KEYS, "key(s)")
            if not isinstance(item.get("command"), str) or not item["command"]:
                raise _wrong(f"{where}: [[examples]]", "command", "a shell command (a string)", item.get("command"))
            examples.append((item["command"], _decision(item, "decision", f"{where}: [[examples]] {item['command']!r}")))
        policy = cls(rules, default, deny_read, allow_read, deny_write, network, tuple(examples), where)
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

    def _denied_at(self, place: Place, text: str, check, follow: bool = True) -> tuple[str, str] | None:
        """(the path as shown, the glob) when any reading of `text` (resolved or as written) is denied."""
        for path in place.forms(text, follow):
            rel = place.relative(path) if place.inside(path) else str(path)
            pattern = check(rel)
            if pattern:
                return rel, pattern
        if any(c in text for c in "*?[") and not os.path.isabs(text) and not text.startswith("~"):
            # A pattern names the files it matches: `--include='.env*'` and `-g '.env*'` read .env.
            written = os.path.normpath(text.lstrip("!"))
            pattern = check(written)
            if pattern:
                return written, pattern
        return None

    def _protected_at(self, place: Place, text: str, follow: bool = True) -> Path | None:
        """The user's configuration directory (saved approvals, hooks) when `text` lies in it: never
        written by the agent, also when the workspace holds it (--repo ~)."""
        for path in place.forms(text, follow):
            for directory in self.protected:
                if within(path, directory):
                    return directory
        return None

    def _instructions_at(self, place: Place, text: str, follow: bool = True) -> bool:
        """Does `text` name the project's instructions file (or what its symlink points at)?"""
        targets = {place.root / name for name in INSTRUCTION_FILES}
        targets |= {Path(os.path.realpath(t)) for t in targets}
        return any(path in targets for path in place.forms(text, follow))

    # --- decisions ---

    def decide(self, action: Action, root: Path) -> Decision:
        """The decision for a tool's action (DESIGN.md step 2). Paths are judged resolved: `..`,
        and symlinks in every component (a link `g -> .git` makes `g/hooks/x` a .git path)."""
        if action.kind == "command":
            return self.check_command(action.command or "", root)
        if action.kind not in ("read", "write"):
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
                hit = self._denied_at(place, rel, self.read_denied)
                if hit:
                    return Decision("deny", "deny_read", f"{hit[0]} may hold secrets (deny_read {hit[1]!r})")
            else:
                hit = self._denied_at(place, rel, self.write_denied)
                if hit:
                    return Decision("deny", "deny_write", f"{hit[0]} {_write_denied_reason(hit[0], hit[1])}")
                if self._protected_at(place, rel):
                    return Decision("deny", "user-config", f"{rel} is in your agent-runtime configuration "
                                                           "(approvals, hooks): only you change it")
                hit = self._denied_at(place, rel, self.read_denied)
                if hit:  # writing a secret file is replacing it: the user does that, not the agent
                    return Decision("deny", "deny_read", f"{hit[0]} may hold secrets (deny_read {hit[1]!r}); "
                                                         "it is changed by the user, not by the agent")
        if action.kind == "read":
            return Decision("allow", None, "reads files in the workspace")
        if any(self._instructions_at(place, rel) for rel in action.paths):
            return Decision("ask", "instructions", INSTRUCTIONS_REASON)
        return Decision("ask", "write", "changes files in the workspace")

    def check_command(self, command: str, root: Path) -> Decision:
        root = Path(root).resolve()
        parsed = shell.parse(command)
        place = Place(root, root)
        overall: Verdict | None = None
        if parsed.problems:
            overall = Verdict("ask", "parse", f"cannot be fully read ({parsed.problems[0]}), so it is never allowed")
        judged = []
        saved: list[str | None] = []  # for each command that asks: the user's entry that approves it
        for cmd in parsed.commands:
            if cmd.program in ("cd", "pushd", "popd") and not cmd.via.startswith("$("):
                args = [w for w in cmd.argv[1:] if not (w.static and w.text.startswith("-") and w.text != "-")]
                place = place.moved(args[0] if args else None) if cmd.program != "popd" else place.moved(shell.DYNAMIC)
            here = place
            if cmd.chdir is not None:  # env -C DIR: this command (and what it runs) starts there
                here = place.moved(cmd.chdir)
            verdict = self._judge(cmd, here)
            judged.append({"argv": cmd.texts(), "decision": verdict.decision, "rule": verdict.rule, "via": cmd.via})
            if verdict.decision == "ask" and self.user:
                saved.append(self._saved_approval(command, cmd, here))
            if overall is not None and verdict.decision == overall.decision and verdict.rule in PINNED_FLOORS:
                overall = verdict  # the decision names it, whatever else asks
            else:
                overall = verdict if overall is None else stricter(overall, verdict)
        if overall is None:
            overall = Verdict("ask", "parse", "no command found")
        approved_by = None
        if overall.decision == "ask" and not parsed.problems and saved and all(saved):
            approved_by = saved[0]
        return Decision(overall.decision, overall.rule, overall.reason, judged, approved_by)

    def _saved_approval(self, command: str, cmd: shell.SimpleCommand, place: Place) -> str | None:
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
        for floor in self._floors(cmd, place, Verdict("allow", entry.id, entry.reason)):
            if floor.decision == "deny" or floor.rule not in USER_LOWERABLE:
                return None
        return self.user.where(entry)

    def _judge(self, cmd: shell.SimpleCommand, place: Place) -> Verdict:
        hits = [r for r in self._candidates(cmd) if r.applies(cmd, place)]
        if hits:
            best = hits[0]
            for rule in hits[1:]:
                if _RANK[rule.decision] > _RANK[best.decision]:
                    best = rule
            verdict = Verdict(best.decision, best.id, best.reason)
        elif not cmd.argv:
            verdict = Verdict("allow", None, "sets shell variables")
        elif cmd.transparent:
            verdict = Verdict("allow", None, f"{cmd.program} only runs the commands judged beside it")
        else:
            name = cmd.program or "a program only known at run time"
            verdict = Verdict(self.default, None, f"no rule covers {name!r}; the default is {self.default}")
        if verdict.decision == "deny":
            return verdict  # nothing is stricter; the floors would only cost time
        for floor in self._floors(cmd, place, verdict):
            if _RANK[floor.decision] > _RANK[verdict.decision] or (
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
        return verdict

    def _floors(self, cmd: shell.SimpleCommand, place: Place, verdict: Verdict) -> Iterable[Verdict]:
        if cmd.program is None and cmd.argv:
            yield Verdict("ask", "dynamic-program", "the program to run is only known at run time")
        if cmd.opaque_code:
            yield Verdict("ask", "interpreter-code", f"{cmd.opaque_code}: code that cannot be judged is never allowed")
        if cmd.argv:
            for name, _ in cmd.assignments:
                if not SAFE_ASSIGNMENTS.match(name):
                    yield Verdict("ask", "env-assignment", f"setting {name} can change what runs")
        for name in cmd.variables:
            if risky_variable(name):
                yield Verdict("ask", "env-assignment", f"setting {name} can change what later commands run")
        effects = programs.effects(cmd)
        for rule, reason in effects.asks:
            yield Verdict("ask", rule, reason)
        for word, how in effects.writes:
            yield from self._write_floor(word, place, how, cmd)
        for word, how in effects.reads:
            yield from self._read_floor(word, place, verdict, how)
        for path, how in effects.repo_paths:
            pattern = self.read_denied(path)
            if pattern:
                yield Verdict("deny", "deny_read", f"{how} prints {path} from the repository's history, and it may "
                                                   f"hold secrets (deny_read {pattern!r})")
        written = {id(word) for word, _ in effects.writes} | {id(word) for word in effects.not_paths}
        reads_files = cmd.program not in NO_FILE_ARGUMENTS and not effects.names_only
        for word in cmd.argv[1:] if reads_files else ():
            if id(word) not in written:  # what it writes or removes, or a pattern or a script, it does not read
                yield from self._read_floor(word, place, verdict, "")
        if effects.history is not None:
            yield from self._history_floor(effects.history, place)
        for redirect in cmd.redirects:
            yield from self._redirect_floor(redirect, place)

    def _read_floor(self, word: shell.Word, place: Place, verdict: Verdict, how: str) -> Iterable[Verdict]:
        label = f"{how} " if how else ""
        if not word.static:
            if verdict.decision == "allow":
                yield Verdict("ask", "dynamic-argument", f"{label}{word.text} is only known at run time; it could "
                                                         "name a file that may hold secrets")
            return
        for text in candidates(word, place):
            hit = self._denied_at(place, text, self.read_denied)
            if hit:
                shown = text if os.path.normpath(text) == hit[0] else f"{text} ({hit[0]})"
                said = f"{how} {shown}, which" if how else shown
                yield Verdict("deny", "deny_read", f"{said} may hold secrets (deny_read {hit[1]!r})")
                return
            if verdict.decision != "allow":
                continue
            path = place.resolve(text)
            if path is None:
                continue
            if not place.known and not os.path.isabs(text) and not text.startswith("~"):
                yield Verdict("ask", "dynamic-directory", f"{label}{text} is relative to a directory only known "
                                                          "at run time")
            elif not place.inside(path) and not place.neutral(path) and not place.neutral_text(text) and path.exists():
                yield Verdict("ask", "outside-workspace", f"{label}{text} is outside the workspace")

    def _write_floor(self, word: shell.Word, place: Place, how: str,
                     cmd: shell.SimpleCommand | None = None) -> Iterable[Verdict]:
        if not word.static:
            yield Verdict("ask", "write-dynamic", f"{how} {word.text}, a path only known at run time")
            return
        if not word.text:
            return
        texts = candidates(word, place)
        follow = not how.startswith(("rm ", "unlink ", "rmdir ", "mv moves", "ln moves"))
        for text in texts:
            hit = self._denied_at(place, text, self.write_denied, follow)
            if hit:
                yield Verdict("deny", "deny_write", f"{how} {hit[0]}, which {_write_denied_reason(hit[0], hit[1])}")
                return
            if self._protected_at(place, text, follow):
                yield Verdict("deny", "user-config", f"{how} {text}, in your agent-runtime configuration (approvals, "
                                                     "hooks): only you change it")
                return
            hit = self._denied_at(place, text, self.read_denied, follow)
            if hit and not how.startswith(("rm ", "unlink ", "rmdir ", "shred ")):
                yield Verdict("deny", "deny_read", f"{how} {hit[0]}, which may hold secrets (deny_read {hit[1]!r}); "
                                                   "the user changes it")
                return
        for text in texts[:1]:
            path = place.resolve(text)
            if path is None or place.neutral(path) or place.neutral_text(text):
                continue
            if not place.known and not os.path.isabs(text) and not text.startswith("~"):
                yield Verdict("ask", "write-dynamic", f"{how} {text} in a directory only known at run time")
            elif not place.inside(path):
                if not place.scratch(text, path):
                    yield Verdict("deny", "write-outside", f"{how} {text}, outside the workspace")
            elif path == place.root and not any(c in text for c in "*?[") and cmd is not None \
                    and cmd.program in ("rm", "mv", "rmdir", "shred"):
                yield Verdict("deny", "workspace-root", f"{how} the whole workspace, .git included")
            elif self._instructions_at(place, text, follow):
                yield Verdict("ask", "instructions", f"{how} {place.relative(path)}: {INSTRUCTIONS_REASON}")
            else:
                yield Verdict("ask", "write", f"{how} {place.relative(path)} directly (propose_patch lets the user "
                                              "review a change)")

    def _history_floor(self, history: programs.HistoryRead, place: Place) -> Iterable[Verdict]:
        start = place.moved(history.chdir) if history.chdir is not None else place
        if not start.known:
            yield Verdict("ask", "git-history", f"{history.what} runs in a directory only known at run time, so "
                                                "what it can print from the history cannot be checked")
            return
        found = find_repository(start.cwd)
        if found is None:
            return  # not in a repository: git prints nothing
        worktree = found[0]
        from agent_runtime.gitcmd import foreign_git_dir

        foreign = foreign_git_dir(worktree)
        if foreign is not None:
            yield Verdict("ask", "git-history", f"{history.what} reads {foreign}: this directory's .git file points "
                                                "to a repository outside the workspace that is not its own")
            return
        # Which objects and paths the command shows.
        revisions: list[shell.Word] = []  # whole commits (or unknown objects)
        positives: list[Path] = []  # paths it is limited to
        for word in history.maybe_paths:
            if not word.static:
                revisions.append(word)
            elif ":" in word.text and "://" not in word.text:
                continue  # REV:path prints that one file, judged by its path (repo_paths)
            else:
                path = start.lexical(word.text)
                if path is not None and path.exists() and history.kind != "objects":
                    positives.append(path)
                elif history.what == "git cat-file" and not re.fullmatch(r"[0-9a-fA-F]{4,64}", word.text) \
                        and "^{blob}" not in word.text:
                    continue  # HEAD, a branch, a tag: a commit, which cat-file prints without any file
                else:
                    revisions.append(word)
        for word in history.pathspecs:
            if not word.static:
                positives = []
                break
            if word.text.startswith((":!", ":^", ":(exclude")):
                continue
            text = re.sub(r"^:(\([^)]*\)|/)?", "", word.text)
            base = worktree if word.text.startswith(":") else start.cwd
            positives.append(Path(os.path.normpath(base / text)) if text else worktree)
        if history.kind == "objects" and not revisions:
            return
        index_only = history.kind == "worktree" and not revisions and not history.staged
        secrets = self.secrets_in_repository(*found, index_only=index_only)
        if secrets is None:
            yield Verdict("ask", "git-history", f"{history.what} can print files from the repository's history, "
                                                "and the history could not be checked for deny_read files")
            return
        shown = [s for s in secrets if not positives or any(_covers(p, worktree / s) for p in positives)]
        if shown:
            more = f" (and {len(shown) - 1} more)" if len(shown) > 1 else ""
            where = "index" if index_only else "history or index"
            yield Verdict("ask", "git-history",
                          f"{history.what} can print {shown[0]}{more} from the repository's {where}, and it may "
                          f"hold secrets (deny_read {self.read_denied(shown[0])!r}); name the paths to show, "
                          f"e.g. `{history.what} -- src/`")

    def secrets_in_repository(self, worktree: Path, git_dir: Path, index_only: bool = False) -> tuple[str, ...] | None:
        """The deny_read paths git holds for this repository: in its index, or anywhere in its history
        (cached until a ref or the index changes); None when git could not say."""
        key = (str(worktree), str(git_dir), index_only, self.deny_read, self.allow_read, _repository_state(git_dir))
        if key not in _HISTORY_CACHE:
            paths = _paths_in_repository(worktree, index_only)
            _HISTORY_CACHE[key] = None if paths is None else tuple(sorted({p for p in paths if self.read_denied(p)}))
            if len(_HISTORY_CACHE) > 64:
                _HISTORY_CACHE.pop(next(iter(_HISTORY_CACHE)))
        return _HISTORY_CACHE[key]

    def _redirect_floor(self, redirect: shell.Redirect, place: Place) -> Iterable[Verdict]:
        target = redirect.target
        writes = not redirect.op.startswith("<") or redirect.op == "<>"
        if not target.static:
            yield Verdict("ask", "redirect", f"redirection to {target.text}, a path only known at run time")
            return
        if not writes:
            for text in candidates(target, place):
                hit = self._denied_at(place, text, self.read_denied)
                if hit:
                    yield Verdict("deny", "deny_read", f"{hit[0]} may hold secrets (deny_read {hit[1]!r})")
                    return
            return
        path = place.resolve(target.text)
        if path is None or place.neutral(path) or place.neutral_text(target.text):
            return
        anchored = place.known or os.path.isabs(target.text) or target.text.startswith("~")
        if anchored and not place.inside(path) and not place.scratch(target.text, path):
            yield Verdict("deny", "redirect-outside", f"writes to {target.text}, outside the workspace")
            return
        for verdict in self._write_floor(target, place, "the redirection writes"):
            if verdict.rule == "write":
                yield Verdict("ask", "redirect-write", f"writes {place.relative(path)} directly (propose_patch lets "
                                                       "the user review a change)")
            else:
                yield verdict


def _write_denied_reason(rel: str, pattern: str) -> str:
    name = rel.rstrip("/")
    if name == ".git" or name.startswith(".git/") or "/.git/" in f"/{name}":
        why = ".git holds the repository's history and configuration (a hook written there runs on the next git command)"
    elif name.rpartition("/")[2].startswith(".env"):
        why = "it is environment configuration that the next session loads"
    else:
        why = "it is configuration that decides what runs or what is allowed"
    return f"must not be changed by commands or patches: {why} (deny_write {pattern!r}); the user changes it"
