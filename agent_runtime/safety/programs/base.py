"""What the program modules share: the Effects a handler reports, and GNU-style option scanning.

A handler reads one simple command's arguments the way its program would and fills in an
Effects (see programs/__init__.py for what each field means to the policy).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from agent_runtime.safety.shellwords import Word


@dataclass
class HistoryRead:
    """A git command that can print file contents from the history or the index.

    kind "objects" (git show, git cat-file): each argument is an object; `REV:path` prints one
    file (judged by its path), a bare revision prints a whole commit's diff (or, for cat-file, a
    blob when it is a hash). kind "worktree" (git diff, git grep): without a revision only what
    the index tracks can show up. kind "history" (git log -p, archive, ...): anything git holds."""

    what: str  # "git log -p", for the reason shown to the user
    pathspecs: list[Word]  # after `--`: only these paths are shown
    maybe_paths: list[Word]  # before `--`: revisions, or paths when they exist
    kind: str = "history"
    staged: bool = False  # git diff --cached: the index against HEAD, so HEAD's files too
    chdir: Word | None = None  # git -C DIR
    every_ref: str | None = None  # `--all`, `--branches`, ...: the whole history of every ref is printed


@dataclass
class Effects:
    writes: list[tuple[Word, str]] = field(default_factory=list)
    reads: list[tuple[Word, str]] = field(default_factory=list)
    asks: list[tuple[str, str]] = field(default_factory=list)  # (rule id, reason)
    repo_paths: list[tuple[str, str]] = field(default_factory=list)  # (path in the repository, how)
    history: HistoryRead | None = None
    names_only: bool = False
    not_paths: list[Word] = field(default_factory=list)  # arguments that are text (a pattern, a script)

    def ask(self, rule: str, reason: str) -> None:
        self.asks.append((rule, reason))


# --- argument scanning ---


@dataclass
class Scanned:
    options: list[tuple[str, Word | None]]  # ("-o", value) / ("--output", value) / ("-n", None)
    positionals: list[Word]

    def values(self, *names: str) -> list[Word]:
        return [v for n, v in self.options if n in names and v is not None]

    def has(self, *names: str) -> bool:
        return any(n in names for n, _ in self.options)


def scan(args: list[Word], short_values: str = "", long_values: frozenset[str] | set[str] = frozenset(),
         exact_values: frozenset[str] | set[str] = frozenset()) -> Scanned:
    """GNU-style options: `-abc` clusters, `-oFILE` / `-o FILE`, `--output=FILE` / `--output FILE`,
    `--` ends options; options may follow operands. A value option whose value is missing gets ''."""
    options: list[tuple[str, Word | None]] = []
    positionals: list[Word] = []
    i, done = 0, False
    while i < len(args):
        word = args[i]
        text = word.text
        if done or not word.static or not text.startswith("-") or text == "-":
            positionals.append(word)
            i += 1
            continue
        if text == "--":
            done = True
            i += 1
            continue
        if text in exact_values:
            options.append((text, args[i + 1] if i + 1 < len(args) else Word("")))
            i += 2
            continue
        if text.startswith("--"):
            name, eq, value = text.partition("=")
            if eq:
                options.append((name, Word(value)))
            elif name in long_values:
                options.append((name, args[i + 1] if i + 1 < len(args) else Word("")))
                i += 1
            else:
                options.append((name, None))
            i += 1
            continue
        for j, letter in enumerate(text[1:], start=2):
            if letter in short_values:
                value = text[j:]
                if value:
                    options.append((f"-{letter}", Word(value)))
                else:
                    options.append((f"-{letter}", args[i + 1] if i + 1 < len(args) else Word("")))
                    i += 1
                break
            options.append((f"-{letter}", None))
        i += 1
    return Scanned(options, positionals)


class Unreadable(Exception):
    pass


def has_flag(text: str, flag: str) -> bool:
    """`-c` also matches clustered short options (`-Ic`, `-ne`); longer flags match exactly or with =value."""
    if len(flag) == 2 and flag[0] == "-" and flag[1] != "-":
        return text.startswith("-") and not text.startswith("--") and flag[1] in text[1:]
    return text == flag or text.startswith(flag + "=")


# Where a program name is a path we know: the system's directories and virtualenvs.
_SYSTEM_DIRS = {"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/usr/local/sbin", "/snap/bin",
                "/opt/homebrew/bin", "/opt/local/bin", "/usr/games", "/run/current-system/sw/bin"}
_VENV_BIN = re.compile(r"(^|/)(\.?venv|env|\.tox/[^/]+|node_modules/\.bin)/bin$|(^|/)node_modules/\.bin$")
_VERSIONED = re.compile(r"^(python|pip|pypy)(\d+(\.\d+)*)$")


def normalize_program(name: str) -> str:
    """`/usr/bin/rm` -> `rm`, `../../usr/bin/rm` -> `rm`, `.venv/bin/pytest` -> `pytest`, `python3.11` -> `python3`."""
    directory, _, base = name.rpartition("/")
    if directory.startswith("/"):  # `/usr//bin/rm`, `/bin/../bin/rm`, `/usr/bin/./rm` are /usr/bin/rm
        directory = posixpath.normpath("/" + directory.lstrip("/"))  # normpath keeps a leading //
    if directory and (directory in _SYSTEM_DIRS or _VENV_BIN.search(directory)):
        name = base
    elif directory and (directory.startswith("~") or posixpath.normpath(directory).split("/")[0] == ".."):
        # `../../usr/bin/rm`, `~/../../bin/rm`: a path that climbs out of where it starts is no script
        # of the workspace (`*/*`, which the sandbox contains), so it is judged as the program it names.
        name = base
    match = _VERSIONED.match(name)
    if match:
        name = match.group(1) + match.group(2).split(".")[0]
    return name
