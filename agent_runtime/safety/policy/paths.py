"""Paths as a command names them: where they lead (resolved through `..` and symlinks in every
component, and as written), what a glob or a brace pattern stands for, and which of the
policy's path lists (deny_read, allow_read, deny_write, the user's configuration) they fall under."""

from __future__ import annotations

import fnmatch
import glob as globbing
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from agent_runtime.core import within
from agent_runtime.safety.policy.tilde import UNKNOWN_DIRECTORY, expand_tilde
from agent_runtime.safety.shellwords import Word

NEUTRAL_PATHS = ("/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero",
                 "/dev/urandom", "/dev/random", "/dev/fd/")
PRIVATE_TMP = "/tmp"  # private to each sandboxed command
# The project's instructions, read into every later session's prompt (agent/prompt.py).
INSTRUCTION_FILES = ("AGENTS.md",)
# What other programs run or obey when the folder is opened: other agents' instructions, settings,
# hooks and MCP servers, editors' tasks and settings, CI workflows, dev containers. Top-level names,
# without regard to case; a folder's name stands for all it holds. Written only as a patch the person
# sees (asked every time), never by a command unasked; the sandbox keeps them read-only (sandbox.py).
OBEYED_FILES = (
    "CLAUDE.md", "CLAUDE.local.md", "GEMINI.md", ".cursorrules", ".windsurfrules", ".clinerules", ".roorules",
    ".goosehints", ".aider.conf.yml", ".mcp.json", ".claude", ".agents", ".cursor", ".windsurf", ".gemini",
    ".codex", ".roo", ".kiro", ".amazonq", ".continue", ".junie", ".github", ".gitlab-ci.yml", ".gitlab",
    ".vscode", ".idea", ".zed", ".devcontainer", ".devcontainer.json",
)
_OBEYED = {name.lower(): name for name in OBEYED_FILES}


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


def _through_proc(absolute: str) -> bool:
    """Does resolving the path pass through a process's folder in /proc (/proc/self, /proc/PID, by a
    symlink too), whose `cwd`, `root` and `fd` mean another process's at run time?"""
    current = "/"
    for part in Path(absolute).parts[1:]:
        current = os.path.realpath(os.path.join(current, part))
        head = Path(current).parts[1:3]
        if len(head) == 2 and head[0] == "proc" and (head[1].isdigit() or head[1] in ("self", "thread-self")):
            return True
    return False


@dataclass(frozen=True)
class Place:
    """Where a command runs: the workspace and the current directory (moved by cd)."""

    root: Path
    cwd: Path
    logical: Path | None = None  # bash's $PWD when it differs from cwd: `cd link` keeps the link's name

    @property
    def known(self) -> bool:
        return not within(self.cwd, UNKNOWN_DIRECTORY)  # `cd $X`, `cd ~-/sub`

    def expand(self, text: str) -> str:
        """The path as bash hands it to the program: its tilde prefix expanded (tilde.py)."""
        return expand_tilde(text, self.cwd)

    def anchored(self, text: str) -> bool:
        """Does the path lead to the same place whatever the current directory (`/x`, `~/x`, `~user/x`)?"""
        return os.path.isabs(self.expand(text))

    def _absolute(self, text: str) -> str | None:
        """Every reading of a path goes through here: expanded as bash does, then made absolute. A glob
        stands for the directory before its first pattern (`/home/*/.npmrc` is under /home)."""
        if not text or "://" in text or "\x00" in text:
            return None
        text = self.expand(text)
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
            real = os.path.realpath(absolute)
        except (OSError, ValueError):
            return Path(os.path.normpath(absolute))
        if real != os.path.normpath(absolute) and _through_proc(absolute):
            # /proc/self/cwd, /dev/fd/../cwd, a link to /proc/self: resolved here they name the policy's own
            # process (its current directory, the workspace), at run time the command's (after `cd /root`)
            return UNKNOWN_DIRECTORY / os.path.basename(os.path.normpath(absolute))
        return Path(real)

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

    def moved(self, word: Word | None) -> "Place":
        """The place after `cd WORD` (None: `cd` alone goes home)."""
        if word is None:
            return Place(self.root, Path.home())
        if not word.static or word.text == "-" or not self.known:
            return Place(self.root, UNKNOWN_DIRECTORY)
        target = self.resolve(word.text)
        return Place(self.root, target or UNKNOWN_DIRECTORY)

    def moved_logically(self, word: Word | None) -> "Place":
        """The place after a logical `cd WORD` (bash's default, -L): `..` is taken off the text of $PWD and
        the operand before the kernel resolves anything, so `cd link/../..` climbs from where the link
        is named, not from its target. moved() is the physical reading (cd -P, or the fallback bash takes
        when a component is missing)."""
        if word is None or not word.static or word.text == "-" or not self.known:
            return self.moved(word)
        text = self.expand(word.text)
        if not text or "\x00" in text or any(c in text for c in "*?["):
            return self.moved(word)
        base = self.logical or self.cwd
        lexical = os.path.normpath(text if os.path.isabs(text) else str(base / text))
        physical = self.resolve(lexical)
        if physical is None or not self.known:
            return self.moved(word)
        return Place(self.root, physical, Path(lexical) if Path(lexical) != physical else None)


def path_values(word: Word) -> Iterable[str]:
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


def candidates(word: Word, place: Place) -> list[str]:
    """The path texts an argument can stand for: its brace expansions, and for a pattern the
    pattern itself plus the files it matches now (`cat .e*` reads .env)."""
    out: list[str] = []
    for value in path_values(word):
        for text in expand_braces(value) if word.glob else [value]:
            out.append(text)
            if word.glob and any(c in text for c in "*?[") and place.known:
                pattern = place.expand(text)
                base = None if os.path.isabs(pattern) else str(place.cwd)
                try:
                    out += globbing.glob(pattern, root_dir=base)[:MAX_EXPANSIONS]
                except (OSError, ValueError, re.error):
                    pass
    return out


@dataclass
class PathRules:
    """The policy's path lists, and the user's configuration directory (set when the user's saved
    approvals are loaded, safety/userpolicy.py): never written by the agent."""

    deny_read: tuple[str, ...] = ()
    allow_read: tuple[str, ...] = ()
    deny_write: tuple[str, ...] = ()
    protected: tuple[Path, ...] = ()

    def read_denied(self, rel: str) -> str | None:
        """The deny_read glob that forbids reading `rel`, unless allow_read excepts it."""
        if any(glob_match(p, rel) for p in self.allow_read):
            return None
        return next((p for p in self.deny_read if glob_match(p, rel)), None)

    def write_denied(self, rel: str) -> str | None:
        return next((p for p in self.deny_write if glob_match(p, rel)), None)

    def denied_at(self, place: Place, text: str, check, follow: bool = True) -> tuple[str, str] | None:
        """(the path as shown, the glob) when any reading of `text` (resolved or as written) is denied."""
        for path in place.forms(text, follow):
            rel = place.relative(path) if place.inside(path) else str(path)
            pattern = check(rel)
            if pattern:
                return rel, pattern
        if any(c in text for c in "*?[") and not place.anchored(text):
            # A pattern names the files it matches: `--include='.env*'` and `-g '.env*'` read .env.
            written = os.path.normpath(text.lstrip("!"))
            pattern = check(written)
            if pattern:
                return written, pattern
        return None

    def protected_at(self, place: Place, text: str, follow: bool = True) -> Path | None:
        """The user's configuration directory (saved approvals, hooks) when `text` lies in it: never
        written by the agent, also when the workspace holds it (--repo ~)."""
        for path in place.forms(text, follow):
            for directory in self.protected:
                if within(path, directory):
                    return directory
        return None

    def obeyed_at(self, place: Place, text: str, follow: bool = True) -> str | None:
        """The OBEYED_FILES name `text` falls under (also through a symlink: what it points at, or a
        link named like one), or None."""
        for path in place.forms(text, follow):
            if place.inside(path) and path != place.root:
                first = os.path.relpath(path, place.root).split("/")[0]
                if first.lower() in _OBEYED:
                    return _OBEYED[first.lower()]
        targets = [(name, Path(os.path.realpath(place.root / name))) for name in obeyed_names(place.root)]
        for path in place.forms(text, follow):
            for name, target in targets:
                if target != place.root and within(path, target):
                    return name
        return None

    def instructions_at(self, place: Place, text: str, follow: bool = True) -> bool:
        """Does `text` name the project's instructions file (or what its symlink points at)?"""
        targets = {place.root / name for name in INSTRUCTION_FILES}
        targets |= {Path(os.path.realpath(t)) for t in targets}
        return any(path in targets for path in place.forms(text, follow))


def obeyed_names(root: Path) -> list[str]:
    """The OBEYED_FILES names present at the workspace's top level, as spelt there."""
    try:
        return sorted(n for n in os.listdir(root) if n.lower() in _OBEYED)
    except OSError:
        return []


def write_denied_reason(rel: str, pattern: str) -> str:
    name = rel.rstrip("/")
    if name == ".git" or name.startswith(".git/") or "/.git/" in f"/{name}":
        why = ".git holds the repository's history and configuration (a hook written there runs on the next git command)"
    elif name.rpartition("/")[2].startswith(".env"):
        why = "it is environment configuration that the next session loads"
    else:
        why = "it is configuration that decides what runs or what is allowed"
    return f"must not be changed by commands or patches: {why} (deny_write {pattern!r}); the user changes it"
