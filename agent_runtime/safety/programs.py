"""What everyday programs do with their arguments, beyond reading the files they are given.

Many read-only tools hide an interpreter or a write: `sed 's/x/y/e'` runs a command,
`sed 'w FILE'`, `sort -o FILE`, `uniq IN OUT`, `xxd IN OUT` write files, awk programs can
call system() or print to a file, `make --eval` runs recipes given on the command line,
`git show REV:.env` prints a secret from the history. `effects(cmd)` reads one simple
command's arguments the way the program would and returns what the policy must judge:

  writes        paths the command creates, changes or deletes (judged resolved: outside the
                workspace is denied, deny_write is denied, dynamic asks, the rest asks)
  reads         paths read that are not plain arguments (sed `r FILE`, awk `getline < FILE`)
  asks          reasons the command is never allowed without a person (code that cannot be judged)
  repo_paths    paths named inside the repository's objects (`REV:path`), judged against deny_read
  history       a git command that prints file contents from the history or the index
  names_only    the arguments are only listed or examined, never read (`ls .env` reads nothing)
  not_paths     arguments that are text, not files (`rg .env src` searches for the text ".env")

Anything a program is given that cannot be read here (a script file, an unknown awk
construct) is an `ask`, never an allow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from agent_runtime.safety.commandline import SimpleCommand, Word


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


# --- sed ---


class Unreadable(Exception):
    pass


_SED_SIMPLE = set("=dDgGhHlnNpPxzF")


def sed_script(script: str) -> tuple[list[str], list[str], list[str]]:
    """(commands it runs, files it writes, files it reads) for a GNU sed script; raises when unsure."""
    runs: list[str] = []
    writes: list[str] = []
    reads: list[str] = []
    s, i, n = script, 0, len(script)

    def rest_of_line(start: int) -> tuple[str, int]:
        end = s.find("\n", start)
        end = n if end < 0 else end
        return s[start:end], end

    def delimited(start: int, delim: str) -> int:
        """Index just after the closing delimiter of a regex or replacement starting at `start`."""
        j = start
        while j < n:
            if s[j] == "\\":
                j += 2
                continue
            if s[j] == delim:
                return j + 1
            if s[j] == "\n" and delim != "\n":
                raise Unreadable("newline inside a regex")
            j += 1
        raise Unreadable("unterminated regex")

    def address(j: int) -> int:
        if j < n and s[j].isdigit():
            while j < n and s[j].isdigit():
                j += 1
            if j < n and s[j] == "~":
                j += 1
                while j < n and s[j].isdigit():
                    j += 1
            return j
        if j < n and s[j] == "$":
            return j + 1
        if j < n and s[j] in "/\\":
            if s[j] == "\\":
                if j + 1 >= n:
                    raise Unreadable("bad address")
                delim, j = s[j + 1], j + 2
            else:
                delim, j = "/", j + 1
            j = delimited(j, delim)
            while j < n and s[j] in "IM":
                j += 1
            return j
        return j

    while i < n:
        while i < n and s[i] in " \t\n;":
            i += 1
        if i >= n:
            break
        if s[i] == "#":
            _, i = rest_of_line(i)
            continue
        start = i
        i = address(i)
        if i > start:
            while i < n and s[i] in " \t":
                i += 1
            if i < n and s[i] == ",":
                i += 1
                while i < n and s[i] in " \t":
                    i += 1
                if i < n and s[i] in "+~":
                    i += 1
                    while i < n and s[i].isdigit():
                        i += 1
                else:
                    i = address(i)
        while i < n and s[i] in " \t!":
            i += 1
        if i >= n:
            raise Unreadable("an address without a command")
        command = s[i]
        i += 1
        if command in "{}":
            continue
        if command in _SED_SIMPLE or command in "qQlL":
            while i < n and (s[i].isdigit() or s[i] in " \t"):
                i += 1
        elif command in "aic":
            text, i = rest_of_line(i)
            while text.endswith("\\") and i < n:  # a\ continued on the next line
                more, i = rest_of_line(i + 1)
                text += more
        elif command in "bBtTv:":
            while i < n and s[i] not in ";\n}":
                i += 1
        elif command in "rRwW":
            name, i = rest_of_line(i)
            name = name.strip()
            if not name:
                raise Unreadable(f"{command} without a file name")
            (reads if command in "rR" else writes).append(name)
        elif command == "e":
            text, i = rest_of_line(i)
            runs.append(text.strip() or "the pattern space")
        elif command in "sy":
            if i >= n or s[i] in "\n\\":
                raise Unreadable(f"{command} without a delimiter")
            delim = s[i]
            i = delimited(i + 1, delim)
            i = delimited(i, delim)
            if command == "s":
                while i < n and s[i] not in ";\n}#":
                    flag = s[i]
                    if flag == "w":
                        name, i = rest_of_line(i + 1)
                        if not name.strip():
                            raise Unreadable("s///w without a file name")
                        writes.append(name.strip())
                        break
                    if flag == "e":
                        runs.append("the pattern space")
                    elif flag not in "gpiImM0123456789 \t":
                        raise Unreadable(f"unknown s flag {flag!r}")
                    i += 1
        else:
            raise Unreadable(f"unknown command {command!r}")
    return runs, writes, reads


def sed(args: list[Word], eff: Effects) -> None:
    scripts: list[Word] = []
    in_place: str | None = None
    sandboxed = script_file = False
    positionals: list[Word] = []
    i, done = 0, False
    while i < len(args):
        word = args[i]
        text = word.text
        if done or not word.static or not text.startswith("-") or text == "-":
            positionals.append(word)
        elif text == "--":
            done = True
        elif text.startswith("--"):
            name, eq, value = text.partition("=")
            if name == "--expression":
                scripts.append(Word(value) if eq else (args[i + 1] if i + 1 < len(args) else Word("")))
                i += 0 if eq else 1
            elif name == "--file":
                script_file = True
                eff.ask("sed-script-file", "sed -f runs a sed script from a file, which can run commands or "
                                           "write files; show the script inline instead")
                i += 0 if eq else 1
            elif name == "--in-place":
                in_place = value
            elif name == "--line-length" and not eq:
                i += 1
            elif name == "--sandbox":
                sandboxed = True
        else:
            for j, letter in enumerate(text[1:], start=2):
                if letter in "efl":
                    value = text[j:]
                    if not value:
                        value_word = args[i + 1] if i + 1 < len(args) else Word("")
                        i += 1
                    else:
                        value_word = Word(value)
                    if letter == "e":
                        scripts.append(value_word)
                    elif letter == "f":
                        script_file = True
                        eff.ask("sed-script-file", "sed -f runs a sed script from a file, which can run "
                                                   "commands or write files; show the script inline instead")
                    break
                if letter == "i":
                    in_place = text[j:]
                    break
                if letter not in "nErsuzb":
                    break
        i += 1
    if not scripts and not script_file and positionals:
        scripts, positionals = [positionals[0]], positionals[1:]
    eff.not_paths += scripts
    for script in scripts:
        if not script.static:
            eff.ask("sed-script", "the sed script is only known at run time; it could run commands or write files")
            continue
        try:
            runs, writes, reads = sed_script(script.text)
        except Unreadable as exc:
            eff.ask("sed-script", f"this sed script cannot be fully read ({exc}), so it is never allowed")
            continue
        if sandboxed:
            continue  # --sandbox: sed itself refuses e, r and w
        for command in runs:
            eff.ask("sed-exec", f"the sed script runs a command ({command})")
        for name in writes:
            eff.writes.append((Word(name), "the sed script writes"))
        for name in reads:
            eff.reads.append((Word(name), "the sed script reads"))
    if in_place is not None:
        for file in positionals:
            eff.writes.append((file, "sed -i rewrites"))
            if "*" in in_place and file.static:  # a backup name: `-i'bak/*'` puts it elsewhere
                base = file.text.rpartition("/")[2]
                eff.writes.append((Word(in_place.replace("*", base)), "sed -i writes a backup to"))
            elif in_place:
                eff.writes.append((Word(file.text + in_place, file.static), "sed -i writes a backup to"))


# --- awk ---

_AWK_TOKEN = re.compile(r"""
    (?P<space>[ \t\r]+|\\\n)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<at>@[A-Za-z_]+)
  | (?P<op>\|\||\|&|&&|>>|>=|<=|==|!=|\+\+|--|[-+*%^!]=|[{}()\[\];,<>|?:~$!+\-*/%^=&])
""", re.X)
_AWK_OPERAND_END = {"name", "number", "string", "regex"}
_AWK_STATEMENT_END = {";", "\n", "{", "}"}
_AWK_SPECIAL_FILES = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "-")


# Keywords after which a `/` starts a regex (awk decides by its grammar; these are the places
# where a statement or an expression begins), and the parenthesised conditions of if/while/for.
_AWK_KEYWORDS = {"print", "printf", "return", "in", "if", "while", "for", "do", "else", "case", "delete", "exit",
                 "BEGIN", "END", "BEGINFILE", "ENDFILE", "function", "func", "switch", "default", "next",
                 "nextfile"}


def _awk_tokens(program: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    parens: list[bool] = []  # per open `(`: does it hold the condition of if/while/for?
    after_condition = False  # the last token closed an if/while/for condition: a statement follows
    i, n = 0, len(program)
    while i < n:
        if program[i] == "/":
            prev = tokens[-1] if tokens else None
            divides = prev is not None and not after_condition and prev[1] not in _AWK_KEYWORDS and (
                prev[0] in _AWK_OPERAND_END or prev[1] in (")", "]", "$", "++", "--"))
            if not divides:
                j, bracket = i + 1, -1
                while j < n:
                    c = program[j]
                    if c == "\\":
                        j += 2
                        continue
                    if c == "\n":
                        raise Unreadable("newline inside a regex")
                    if c == "[" and bracket < 0:
                        bracket = j
                    elif c == "]" and bracket >= 0 and j > bracket + 1 and not (
                            j == bracket + 2 and program[bracket + 1] == "^"):
                        bracket = -1  # `[]...]` and `[^]...]`: a first ] is literal
                    elif c == "/" and bracket < 0:
                        break
                    j += 1
                if j >= n:
                    raise Unreadable("unterminated regex")
                tokens.append(("regex", program[i:j + 1]))
                after_condition = False
                i = j + 1
                continue
        match = _AWK_TOKEN.match(program, i)
        if not match:
            raise Unreadable(f"unexpected {program[i]!r}")
        kind = match.lastgroup or "op"
        text = match.group()
        i = match.end()
        if kind in ("space", "comment"):
            continue
        if kind == "newline":
            kind, text = "op", "\n"
        if text == "(":
            parens.append(bool(tokens) and tokens[-1][1] in ("if", "while", "for"))
        after_condition = text == ")" and bool(parens) and parens.pop()
        tokens.append((kind, text))
    return tokens


def awk_program(program: str) -> tuple[list[str], list[str | None], list[str | None]]:
    """(why it runs commands, files it writes, files it reads) for an awk program; None is a file
    name only known at run time. Raises when the program cannot be read."""
    tokens = _awk_tokens(program)
    runs: list[str] = []
    if re.search(r"\bsystem\b", program):  # wherever the tokens say it is: a misread must not hide it
        runs.append("system() runs a command")
    if any(kind == "string" and "|" in text for kind, text in tokens):
        runs.append("a | inside what reads as a string could connect to a command")
    writes: list[str | None] = []
    reads: list[str | None] = []

    def target(k: int) -> str | None:
        """The file named after a redirection at token k: a string literal, else unknown."""
        if k < len(tokens) and tokens[k][0] == "string":
            after = tokens[k + 1][1] if k + 1 < len(tokens) else ";"
            if after in _AWK_STATEMENT_END or after in (")", ","):
                return tokens[k][1][1:-1].encode().decode("unicode_escape")
        return None

    in_print, depth = False, 0
    for k, (kind, text) in enumerate(tokens):
        if kind == "at":
            runs.append(f"{text}: gawk loads code or calls a function named at run time")
        if kind == "op" and text in ("|", "|&"):
            runs.append(f"{text} connects to a command")
        if kind == "name" and text in ("print", "printf"):
            in_print, depth = True, 0
            continue
        if kind == "op" and text in ("(", "["):
            depth += 1
        elif kind == "op" and text in (")", "]"):
            depth -= 1
        elif kind == "op" and text in _AWK_STATEMENT_END:
            in_print = False
        elif kind == "op" and text in (">", ">>") and in_print and depth <= 0:
            writes.append(target(k + 1))
        elif kind == "op" and text == "<" and any(t[1] == "getline" for t in tokens[max(0, k - 3):k]):
            reads.append(target(k + 1))
    return runs, writes, reads


AWK_VALUE_OPTIONS = frozenset({"-F", "-v", "-f", "-e", "-i", "-l", "-E", "-W", "--field-separator", "--assign",
                               "--file", "--source", "--include", "--load", "--exec"})
AWK_SAFE_FLAGS = frozenset({"-b", "-c", "-C", "-g", "-h", "-M", "-N", "-n", "-O", "-P", "-r", "-s", "-t", "-V",
                            "-L", "--characters-as-bytes", "--traditional", "--copyright", "--gen-pot", "--help",
                            "--use-lc-numeric", "--bignum", "--non-decimal-data", "--optimize", "--posix",
                            "--re-interval", "--no-optimize", "--lint", "--version", "--csv", "--sandbox"})


def awk(args: list[Word], eff: Effects, program_name: str = "awk") -> None:
    programs: list[Word] = []
    operands: list[Word] = []
    in_place = sandboxed = False
    i, done = 0, False
    while i < len(args):
        word = args[i]
        text = word.text
        if done or not word.static or not text.startswith("-") or text == "-":
            operands.append(word)
            i += 1
            continue
        if text == "--":
            done = True
            i += 1
            continue
        name, eq, value = text.partition("=") if text.startswith("--") else (text[:2], "", text[2:])
        if name in AWK_VALUE_OPTIONS:
            if eq or value:
                value_word = Word(value)
            else:
                value_word = args[i + 1] if i + 1 < len(args) else Word("")
                i += 1
            if name in ("-F", "--field-separator", "-v", "--assign"):
                eff.not_paths += [word, value_word]
            if name in ("-e", "--source"):
                programs.append(value_word)
            elif name in ("-f", "--file", "-E", "--exec"):
                eff.ask("awk-program-file", f"{program_name} {name} runs an awk program from a file, which can "
                                            "run commands or write files; give the program inline instead")
            elif name in ("-i", "--include"):
                if value_word.text in ("inplace", "inplace.awk"):
                    in_place = True
                else:
                    eff.ask("awk-program-file", f"{program_name} {name} {value_word.text} loads awk code from a file")
            elif name in ("-l", "--load"):
                eff.ask("awk-program-file", f"{program_name} {name} loads a compiled extension")
            elif name == "-W" and value_word.text not in ("version", "v", "usage", "help"):
                eff.ask("awk-option", f"{program_name} -W {value_word.text} is an option this check does not know")
        elif name in ("-d", "--dump-variables", "-p", "--profile", "-o", "--pretty-print", "-D", "--debug"):
            eff.ask("awk-writes", f"{program_name} {name} writes a file (a dump, profile or listing)")
        elif text in ("-S", "--sandbox"):
            sandboxed = True
        elif text not in AWK_SAFE_FLAGS:
            eff.ask("awk-option", f"{program_name} {text} is an option this check does not know")
        i += 1
    if not programs and operands:
        programs, operands = [operands[0]], operands[1:]
    eff.not_paths += programs
    for program in programs:
        if not program.static:
            eff.ask("awk-program", "the awk program is only known at run time; it could run commands or write files")
            continue
        try:
            runs, writes, reads = awk_program(program.text)
        except Unreadable as exc:
            eff.ask("awk-program", f"this awk program cannot be fully read ({exc}), so it is never allowed")
            continue
        if sandboxed:
            continue  # --sandbox: awk itself refuses system(), pipes and redirections
        for why in runs:
            eff.ask("awk-exec", f"the awk program runs commands ({why})")
        for name in writes:
            if name is None:
                eff.ask("awk-writes", "the awk program writes to a file named only at run time")
            elif not name.startswith(_AWK_SPECIAL_FILES):
                eff.writes.append((Word(name), "the awk program writes"))
        for name in reads:
            if name is None:
                eff.ask("awk-reads", "the awk program reads a file named only at run time (getline <)")
            elif not name.startswith(_AWK_SPECIAL_FILES):
                eff.reads.append((Word(name), "the awk program reads"))
    if in_place:
        for operand in operands:
            if not (operand.static and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", operand.text)):
                eff.writes.append((operand, f"{program_name} -i inplace rewrites"))


# --- small tools that write ---


def sort(args: list[Word], eff: Effects) -> None:
    found = scan(args, "kotST", {"--output", "--key", "--field-separator", "--temporary-directory",
                                 "--buffer-size", "--compress-program", "--files0-from", "--random-source",
                                 "--batch-size", "--parallel", "--sort"})
    for value in found.values("-o", "--output"):
        eff.writes.append((value, "sort -o writes"))
    for value in found.values("--compress-program"):
        eff.ask("program-option", f"sort --compress-program runs {value.text}")


def uniq(args: list[Word], eff: Effects) -> None:
    found = scan(args, "fsw", {"--skip-fields", "--skip-chars", "--check-chars"})
    if len(found.positionals) >= 2:  # uniq [INPUT [OUTPUT]]
        eff.writes.append((found.positionals[1], "uniq writes its output to"))


XXD_VALUES = frozenset({"-c", "-cols", "-g", "-groupsize", "-l", "-len", "-o", "-offset", "-s", "-seek", "-n",
                        "-name", "-R"})


def xxd(args: list[Word], eff: Effects) -> None:
    positionals, i = [], 0
    while i < len(args):
        text = args[i].text
        if args[i].static and text in XXD_VALUES:
            i += 2
            continue
        if not args[i].static or not text.startswith("-") or text == "-":
            positionals.append(args[i])
        i += 1
    if len(positionals) >= 2:  # xxd [INFILE [OUTFILE]]
        eff.writes.append((positionals[1], "xxd writes its output to"))


def tee(args: list[Word], eff: Effects) -> None:
    for word in scan(args).positionals:
        eff.writes.append((word, "tee writes"))


def dd(args: list[Word], eff: Effects) -> None:
    for word in args:
        if word.text.startswith("of="):
            eff.writes.append((Word(word.text[3:], word.static), "dd writes"))
        elif word.text.startswith("if="):
            eff.reads.append((Word(word.text[3:], word.static), "dd reads"))


def tree(args: list[Word], eff: Effects) -> None:
    found = scan(args, "LPIHTo", {"--charset", "--filelimit", "--timefmt", "--sort", "--hintro", "--houtro"})
    for value in found.values("-o"):
        eff.writes.append((value, "tree -o writes"))
    if found.has("-R"):
        eff.ask("tree-writes", "tree -R writes an index file into every directory")
    eff.names_only = not found.has("--fromfile")  # --fromfile prints the lines of a file


def pager(args: list[Word], eff: Effects) -> None:
    for i, word in enumerate(args):
        text = word.text
        if not word.static:
            continue
        if text.startswith("+"):
            eff.ask("pager-commands", f"{text}: less runs these commands at start, and they can run a shell")
        elif text in ("-o", "-O") and i + 1 < len(args):
            eff.writes.append((args[i + 1], "less -o writes"))
        elif text[:2] in ("-o", "-O") and len(text) > 2 and not text.startswith("--"):
            eff.writes.append((Word(text[2:]), "less -o writes"))
        elif text.startswith(("--log-file=", "--LOG-FILE=")):
            eff.writes.append((Word(text.split("=", 1)[1]), "less --log-file writes"))
        elif text.startswith(("-k", "--lesskey")):
            eff.ask("pager-commands", "a lesskey file can set up commands that run a shell")


def file_(args: list[Word], eff: Effects) -> None:
    found = scan(args, "mfFPe", {"--magic-file", "--files-from", "--separator", "--parameter", "--exclude"})
    # `file -f.env` prints each line as a name it cannot open; `file -m.env` quotes the lines
    # it cannot parse as magic.
    for value in found.values("-m", "--magic-file", "-f", "--files-from"):
        eff.reads.append((value, "file reads"))
    if found.has("-C", "--compile"):
        eff.ask("file-compile", "file -C writes a compiled magic file")


def cp(args: list[Word], eff: Effects, how: str = "cp") -> None:
    found = scan(args, "tSmog" if how == "install" else "tS",
                 {"--target-directory", "--suffix", "--mode", "--owner", "--group"})
    targets = found.values("-t", "--target-directory")
    if how == "install" and found.has("-d", "--directory"):
        targets = found.positionals
    elif not targets and len(found.positionals) >= 2:
        targets = found.positionals[-1:]
    for word in targets:
        eff.writes.append((word, f"{how} writes"))


def mv(args: list[Word], eff: Effects, how: str = "mv") -> None:
    found = scan(args, "tS", {"--target-directory", "--suffix"})
    targets = found.values("-t", "--target-directory")
    sources = found.positionals if targets else found.positionals[:-1]
    targets = targets or found.positionals[-1:]
    if how == "ln":  # `ln -s TARGET LINK`: a link that points into .git is a way to write there later
        sources, targets = [], found.positionals + targets
    for word in sources:
        eff.writes.append((word, f"{how} moves"))  # a move removes its sources...
    for word in targets:
        eff.writes.append((word, f"{how} writes"))  # ...and writes its target


_MODE_OPTION = re.compile(r"^-[rwxXst]+$")


def chmod_like(args: list[Word], eff: Effects, how: str) -> None:
    found = scan(args, "", {"--reference"})
    mode_given = bool(found.values("--reference")) or any(
        _MODE_OPTION.match(w.text) for w in args if w.static)
    for word in found.positionals if mode_given else found.positionals[1:]:
        eff.writes.append((word, f"{how} changes"))


def positional_writes(how: str, short_values: str = "", long_values: frozenset[str] = frozenset(),
                      first_only: bool = False) -> Callable[[list[Word], Effects], None]:
    def handler(args: list[Word], eff: Effects) -> None:
        positionals = scan(args, short_values, long_values).positionals
        for word in positionals[:1] if first_only else positionals:
            eff.writes.append((word, how))
    return handler


def last_positional_written(args: list[Word], eff: Effects, how: str) -> None:
    positionals = scan(args, "eiPoFcS", {"--rsh", "--exclude", "--include", "--exclude-from", "--include-from",
                                         "--files-from", "--password-file", "--log-file", "--temp-dir"}).positionals
    if len(positionals) >= 2:
        eff.writes.append((positionals[-1], f"{how} writes"))


def split(args: list[Word], eff: Effects) -> None:
    found = scan(args, "abCdlnt", {"--suffix-length", "--additional-suffix", "--bytes", "--line-bytes",
                                    "--lines", "--number", "--separator", "--filter"})
    if found.values("--filter"):
        eff.ask("program-option", "split --filter runs a command")
    prefix = found.positionals[1] if len(found.positionals) >= 2 else Word("x")
    eff.writes.append((prefix, "split writes files starting with"))


def compressor(args: list[Word], eff: Effects, how: str) -> None:
    found = scan(args, "S", {"--suffix"})
    if found.has("-c", "--stdout", "--to-stdout", "-t", "--test", "-l", "--list"):
        return
    for word in found.positionals:
        eff.writes.append((word, f"{how} replaces"))


def tar(args: list[Word], eff: Effects) -> None:
    words = list(args)
    if words and words[0].static and not words[0].text.startswith("-"):
        words[0] = Word("-" + words[0].text)  # `tar czf a.tgz dir`: the first word is a cluster
    found = scan(words, "fCTXbKNgVLHI", {"--file", "--directory", "--files-from", "--exclude-from",
                                         "--to-command", "--use-compress-program", "--info-script",
                                         "--new-volume-script", "--rsh-command", "--rmt-command",
                                         "--checkpoint-action", "--transform"})
    letters = {name for name, _ in found.options}
    creating = bool(letters & {"-c", "-r", "-u", "-A", "--create", "--append", "--update", "--concatenate"})
    extracting = bool(letters & {"-x", "--extract", "--get"})
    if creating:
        for value in found.values("-f", "--file"):
            eff.writes.append((value, "tar writes the archive"))
    if extracting:
        directories = found.values("-C", "--directory") or [Word(".")]
        for value in directories:
            eff.writes.append((value, "tar extracts into"))
    for name in ("--to-command", "--use-compress-program", "-I", "--info-script", "-F", "--new-volume-script",
                 "--rsh-command", "--rmt-command"):
        for value in found.values(name):
            eff.ask("program-option", f"tar {name} runs {value.text}")
    if any(v.text.startswith("exec") for v in found.values("--checkpoint-action")):
        eff.ask("program-option", "tar --checkpoint-action=exec runs a command")


def unzip(args: list[Word], eff: Effects) -> None:
    found = scan(args, "dP", set())
    for value in found.values("-d") or [Word(".")]:
        eff.writes.append((value, "unzip extracts into"))


def patch(args: list[Word], eff: Effects) -> None:
    found = scan(args, "oidDpBzFrVY", {"--output", "--input", "--directory", "--strip", "--prefix",
                                       "--reject-file", "--suffix", "--basename-prefix"})
    for value in found.values("-o", "--output", "-r", "--reject-file"):
        eff.writes.append((value, "patch writes"))
    for word in found.positionals[:1]:
        eff.writes.append((word, "patch changes"))


def find(args: list[Word], eff: Effects) -> None:
    starts = []
    for word in args:
        if word.text.startswith(("-", "(", "!")):
            break
        starts.append(word)
    for i, word in enumerate(args):
        if word.text in ("-fprint", "-fprint0", "-fls", "-fprintf") and i + 1 < len(args):
            eff.writes.append((args[i + 1], f"find {word.text} writes"))
        elif word.text == "-files0-from" and i + 1 < len(args):
            eff.reads.append((args[i + 1], "find -files0-from reads"))
        elif word.text == "-delete":
            for start in starts or [Word(".")]:
                eff.writes.append((start, "find -delete removes files under"))
    eff.names_only = True


def _search_patterns(args: list[Word], eff: Effects, short_values: str, long_values: set[str],
                     pattern_options: tuple[str, ...], text_options: tuple[str, ...],
                     file_options: tuple[str, ...] = ("-f", "--file")) -> Scanned:
    """grep and rg: the pattern (the first operand, or every -e) is text, not a file; so are the
    values of options that name text (--exclude=GLOB leaves files out, it reads none). The values
    of `file_options` are files read (`-f FILE`: patterns), also written attached to the option
    (`-f.env`, `-rf../.env`), where the word itself is not a path: `grep -o -f.env` prints what of
    its input the secret's lines match, `rg --debug -f.env` the patterns themselves."""
    found = scan(args, short_values, long_values)
    for value in found.values(*file_options):
        eff.reads.append((value, "reads patterns from"))
    patterns = found.values(*pattern_options)
    if not patterns and not found.has("-f", "--file") and found.positionals:
        eff.not_paths.append(found.positionals[0])
    for word in args:  # --exclude=.env: the option word itself carries the text
        name, eq, value = word.text.partition("=")
        if word.static and eq and name in pattern_options + text_options and not _includes(name, value):
            eff.not_paths.append(word)
    for name, value in found.options:
        if value is not None and name in pattern_options + text_options and not _includes(name, value.text):
            eff.not_paths.append(value)
    return found


def _includes(option: str, value: str) -> bool:
    """`-g '.env*'` searches the files it names (a path); `-g '!.env'` leaves them out (text)."""
    return option in ("-g", "--glob", "--iglob") and not value.startswith("!")


def grep(args: list[Word], eff: Effects) -> None:
    _search_patterns(args, eff, "efABCmdD", {"--regexp", "--file", "--after-context", "--before-context",
                                             "--context", "--max-count", "--directories", "--devices",
                                             "--label", "--exclude", "--exclude-dir", "--color", "--colour",
                                             "--binary-files", "--exclude-from"},
                     ("-e", "--regexp"), ("--exclude", "--exclude-dir", "--label", "-A", "-B", "-C", "-m",
                                          "--color", "--colour"), ("-f", "--file", "--exclude-from"))


def rg(args: list[Word], eff: Effects) -> None:
    for word in args:
        if word.static and (word.text == "--pre" or word.text.startswith("--pre=")):
            eff.ask("program-option", "rg --pre runs a program on every file it searches")
    _search_patterns(args, eff, "efgtTABCmMjdrE", {"--regexp", "--file", "--glob", "--iglob", "--type",
                                                     "--type-not", "--after-context", "--before-context",
                                                     "--context", "--max-count", "--max-columns", "--threads",
                                                     "--max-depth", "--replace", "--encoding", "--pre",
                                                     "--pre-glob", "--sort", "--sortr", "--type-add", "--colors",
                                                     "--context-separator", "--path-separator",
                                                     "--max-filesize", "--field-match-separator",
                                                     "--ignore-file"},
                     ("-e", "--regexp"), ("-g", "--glob", "--iglob", "-t", "-T", "--type", "--type-not", "-r",
                                          "--replace", "--pre-glob", "--type-add", "--colors", "-A", "-B", "-C",
                                          "-m", "-M", "--context-separator", "--field-match-separator"),
                     ("-f", "--file", "--ignore-file"))


def jq(args: list[Word], eff: Effects) -> None:
    i, filter_seen = 0, any(w.text in ("-f", "--from-file") for w in args)
    while i < len(args):
        text = args[i].text
        if text in ("--arg", "--argjson"):
            eff.not_paths += args[i + 1:i + 3]
            i += 3
            continue
        if text in ("--rawfile", "--slurpfile"):
            eff.not_paths += args[i + 1:i + 2]  # the name; the file after it is read
            i += 3
            continue
        if text in ("--indent", "--tab"):
            i += 1 + (text == "--indent")
            continue
        if not text.startswith("-") and not filter_seen:
            eff.not_paths.append(args[i])
            filter_seen = True
        i += 1


XARGS_SHORT_VALUES = "adEILnPs"  # the value attached, or the next argument
XARGS_SHORT_OPTIONAL = "iel"  # -i[R], -l[N], -e[EOF]: a value only when attached
XARGS_LONG_VALUES = {"--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars", "--max-lines",
                     "--process-slot-var"}


def xargs(args: list[Word], eff: Effects) -> None:
    """xargs's own options (what it runs is judged apart, see commandline.py): -a FILE reads the
    arguments from FILE and hands them to the command, so `xargs -a.env echo` prints the file."""
    how = "xargs -a reads the arguments from"
    i = 0
    while i < len(args):
        word, text = args[i], args[i].text
        if not word.static or text == "--" or not text.startswith("-") or text == "-":
            break
        following = args[i + 1] if i + 1 < len(args) else None
        if text.startswith("--"):
            name, eq, value = text.partition("=")
            if name in XARGS_LONG_VALUES and not eq:
                if name == "--arg-file" and following is not None:
                    eff.reads.append((following, how))
                i += 1
            elif name == "--arg-file":
                eff.reads.append((Word(value), how))
            i += 1
            continue
        for j, letter in enumerate(text[1:], start=2):
            if letter in XARGS_SHORT_VALUES:
                value = text[j:]
                if letter == "a" and (value or following is not None):
                    eff.reads.append((Word(value) if value else following, how))  # type: ignore[arg-type]
                if not value:
                    i += 1
                break
            if letter in XARGS_SHORT_OPTIONAL:
                break
        i += 1


def fd(args: list[Word], eff: Effects) -> None:
    if any(w.text in ("-x", "--exec", "-X", "--exec-batch") for w in args):
        eff.ask("fd-exec", "fd --exec runs a command on every file it finds")
    for i, word in enumerate(args):  # names only, but an ignore file is read
        if word.static and word.text == "--ignore-file" and i + 1 < len(args):
            eff.reads.append((args[i + 1], "fd reads ignore patterns from"))
        elif word.static and word.text.startswith("--ignore-file="):
            eff.reads.append((Word(word.text.partition("=")[2]), "fd reads ignore patterns from"))
    eff.names_only = True


def date(args: list[Word], eff: Effects) -> None:
    found = scan(args, "dfrsI", {"--date", "--file", "--reference", "--set"})
    if found.has("-s", "--set"):
        eff.ask("system-clock", "date -s sets the system clock")
    for value in found.values("-f", "--file"):
        eff.reads.append((value, "date -f reads"))  # and prints the lines it cannot parse


def du(args: list[Word], eff: Effects) -> None:
    for value in scan(args, "BdtX", {"--files0-from", "--exclude-from", "--block-size", "--max-depth",
                                     "--threshold", "--time-style", "--exclude"}).values("--files0-from", "-X",
                                                                                         "--exclude-from"):
        eff.reads.append((value, "du reads the names in"))  # and prints them when they are not files


def ps(args: list[Word], eff: Effects) -> None:
    for word in args:
        if word.static and not word.text.startswith("-") and "e" in word.text:
            eff.ask("process-environment", "ps e shows the environment of processes, which can hold API keys")
            return


def uv(args: list[Word], eff: Effects) -> None:
    if args and args[0].text == "run" and any(
            w.text.startswith(("--with", "--index", "--extra-index-url", "--find-links", "--script"))
            for w in args[1:]):
        eff.ask("package-install", "uv run --with installs packages (and runs their code) before the command")


def hostname(args: list[Word], eff: Effects) -> None:
    found = scan(args, "F", {"--file"})
    if found.positionals or found.has("-F", "--file", "-b", "--boot"):
        eff.ask("system-name", "hostname NAME changes the machine's name")


def alias(args: list[Word], eff: Effects) -> None:
    if any("=" in w.text or not w.static for w in args):
        eff.ask("alias", "an alias makes a later command name run something else")


def declare(args: list[Word], eff: Effects) -> None:
    for word in args:
        if word.static and word.text.startswith(("-", "+")) and "n" in word.text[1:]:
            eff.ask("env-assignment", "declare -n makes a name stand for another variable (ref=x then sets it)")


SHOPT_RISKY = {"dotglob", "globstar", "nocaseglob", "extglob", "expand_aliases", "nocasematch", "sourcepath"}


def shopt(args: list[Word], eff: Effects) -> None:
    if any(w.text in SHOPT_RISKY or not w.static for w in args):
        eff.ask("shell-options", "this shell option changes which files a pattern or a name stands for")


def option_reads(names: tuple[str, ...], how: str, short_values: str = "",
                 long_values: frozenset[str] | set[str] = frozenset()) -> Callable[[list[Word], Effects], None]:
    """Options whose values are files read (also attached: `hexdump -f.env`, whose error quotes
    the file's lines)."""
    def handler(args: list[Word], eff: Effects) -> None:
        found = scan(args, short_values, long_values)
        for value in found.values(*names):
            eff.reads.append((value, how))
    return handler


def output_option(names: tuple[str, ...], how: str, short_values: str = "",
                  long_values: frozenset[str] | set[str] = frozenset()) -> Callable[[list[Word], Effects], None]:
    def handler(args: list[Word], eff: Effects) -> None:
        found = scan(args, short_values, long_values)
        for value in found.values(*names):
            eff.writes.append((value, how))
    return handler


def time_like(args: list[Word], eff: Effects, how: str) -> None:
    # Only the wrapper's own options, before the command it runs.
    for i, word in enumerate(args):
        if not word.static or not word.text.startswith("-"):
            break
        if word.text in ("-o", "--output") and i + 1 < len(args):
            eff.writes.append((args[i + 1], f"{how} -o writes"))
        elif word.text.startswith("--output="):
            eff.writes.append((Word(word.text.split("=", 1)[1]), f"{how} -o writes"))


CURL_WRITES = ("-o", "--output", "-D", "--dump-header", "-c", "--cookie-jar", "--trace", "--trace-ascii",
               "--stderr", "--libcurl", "--etag-save", "--hsts", "--alt-svc", "--output-dir")
CURL_DATA = ("-d", "--data", "--data-binary", "--data-ascii", "--data-urlencode", "--json", "-T",
             "--upload-file", "-F", "--form", "--form-string", "-K", "--config", "-H", "--header")


def curl(args: list[Word], eff: Effects) -> None:
    found = scan(args, "oDcdTFKHXuAerxUEbwYyzmC",
                 set(CURL_WRITES) | set(CURL_DATA) | {"--url", "--request", "--user", "--proxy", "--cert", "--key",
                                                      "--cacert", "--max-time", "--connect-timeout", "--retry",
                                                      "--user-agent", "--referer", "--range", "--cookie"})
    for value in found.values(*CURL_WRITES):
        eff.writes.append((value, "curl writes"))
    for name, value in found.options:
        if value is None or name not in CURL_DATA:
            continue
        text = value.text
        if name in ("-T", "--upload-file", "-K", "--config"):
            eff.reads.append((value, f"curl {name} sends"))
        elif text.startswith("@"):
            eff.reads.append((Word(text[1:], value.static), f"curl {name} sends"))
        elif name in ("-F", "--form"):
            for match in re.finditer(r"=[@<]([^;]*)", text):
                eff.reads.append((Word(match.group(1), value.static), f"curl {name} sends"))
    for value in found.values("--cookie", "-b"):
        if "=" not in value.text:
            eff.reads.append((value, "curl --cookie sends"))


def wget(args: list[Word], eff: Effects) -> None:
    found = scan(args, "OoaPiBeUTtw", {"--output-document", "--output-file", "--append-output",
                                       "--directory-prefix", "--input-file", "--post-file", "--body-file",
                                       "--execute", "--user-agent", "--header", "--load-cookies",
                                       "--save-cookies", "--config"})
    for value in found.values("-O", "--output-document", "-o", "--output-file", "-a", "--append-output",
                              "-P", "--directory-prefix", "--save-cookies"):
        eff.writes.append((value, "wget writes"))
    for value in found.values("--post-file", "--body-file", "-i", "--input-file", "--load-cookies", "--config"):
        eff.reads.append((value, "wget sends"))
    if found.has("-e", "--execute"):
        eff.ask("program-option", "wget -e runs a wgetrc command, which can change where it writes")


PYTEST_WRITES = ("--basetemp", "--junitxml", "--junit-xml", "--report-log", "--resultlog", "--result-log", "--html",
                 "--json-report-file", "--debug")


def pytest(args: list[Word], eff: Effects) -> None:
    found = scan(args, "kmpcoW", {"--basetemp", "--junitxml", "--junit-xml", "--report-log", "--resultlog",
                                  "--result-log", "--html", "--json-report-file", "--rootdir", "--confcutdir",
                                  "--override-ini", "--maxfail", "--tb", "--deselect", "--ignore", "--ignore-glob",
                                  "--durations", "--log-file", "--log-level", "--import-mode", "--capture",
                                  "--config-file", "--cov", "--cov-report", "--timeout", "--junit-prefix"})
    for value in found.values(*PYTEST_WRITES, "--log-file"):
        if value.text:
            eff.writes.append((value, "pytest writes"))  # --basetemp is emptied first: it deletes
    for value in found.values("-o", "--override-ini"):
        key, _, setting = value.text.partition("=")
        if key.strip() == "cache_dir":
            eff.writes.append((Word(setting, value.static), "pytest writes its cache to"))
        elif key.strip() in ("addopts", "basetemp", "junit_logfile", "log_file", "required_plugins") or not value.static:
            eff.ask("pytest-options", f"pytest -o {key} passes options this check cannot see")


def make(args: list[Word], eff: Effects) -> None:
    found = scan(args, "fCIEoWjl", {"--file", "--makefile", "--directory", "--include-dir", "--eval",
                                    "--old-file", "--what-if", "--new-file", "--assume-old", "--assume-new",
                                    "--jobs", "--load-average"})
    if found.has("-f", "--file", "--makefile"):
        eff.ask("make-code", "make -f runs the recipes of another makefile")
    if found.has("-E", "--eval"):
        eff.ask("make-code", "make --eval runs make code given on the command line")
    if found.has("-I", "--include-dir"):
        eff.ask("make-code", "make -I changes where the makefile's includes come from")
    for word in found.positionals:
        if not word.static or re.match(r"^[A-Za-z_.][A-Za-z0-9_.]*[:+?!]?=", word.text):
            eff.ask("make-code", f"make {word.text}: a variable set on the command line can change what "
                                 "the recipes run")


def runner_config(program: str, risky: tuple[str, ...], why: str) -> Callable[[list[Word], Effects], None]:
    def handler(args: list[Word], eff: Effects) -> None:
        for word in args:
            if word.static and any(word.text == r or word.text.startswith(r + "=") or
                                   (len(r) == 2 and word.text.startswith(r) and not r.startswith("--"))
                                   for r in risky):
                eff.ask("runner-config", f"{program} {word.text.split('=')[0]}: {why}")
                return
    return handler


def go(args: list[Word], eff: Effects) -> None:
    runner_config("go", ("-exec", "-toolexec", "--exec", "--toolexec", "-overlay", "-modfile"),
                  "runs the build or the tests through another program")(args, eff)
    for i, word in enumerate(args):
        name, eq, value = word.text.partition("=")
        if name.lstrip("-") in ("o", "coverprofile", "cpuprofile", "memprofile", "blockprofile", "mutexprofile",
                                "trace", "outputdir") and word.text.startswith("-"):
            target = Word(value) if eq else (args[i + 1] if i + 1 < len(args) else Word(""))
            eff.writes.append((target, f"go {name} writes"))


# --- git ---

GIT_GLOBAL_VALUES = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix",
                               "--config-env", "--list-cmds", "--attr-source", "--exec-path"})
GIT_LOG_VALUES = frozenset({"-n", "--max-count", "--skip", "--since", "--after", "--until", "--before", "--author",
                            "--committer", "--grep", "-S", "-G", "-L", "-O", "--format", "--pretty", "--encoding",
                            "--diff-filter", "--min-parents", "--max-parents", "--word-diff-regex", "--color-moved",
                            "--anchored", "--find-object", "--inter-hunk-context", "--output", "--src-prefix",
                            "--dst-prefix", "--line-prefix", "--exclude", "--glob", "--decorate-refs",
                            "--decorate-refs-exclude", "--date", "-U", "--unified", "--stat-width",
                            "--stat-name-width", "--stat-count", "--abbrev", "--notes", "--branches", "--tags",
                            "--remotes", "--ignore-matching-lines", "-I", "--submodule", "--relative"})
GIT_GREP_VALUES = frozenset({"-e", "-f", "-A", "-B", "-C", "--context", "--after-context", "--before-context",
                             "--max-depth", "--threads", "-m", "--max-count"})
GIT_NAMES_ONLY = ("--stat", "--shortstat", "--numstat", "--name-only", "--name-status", "--summary", "--raw", "-s",
                  "--no-patch", "--dirstat", "--compact-summary")
GIT_PATCH_FLAGS = ("-p", "-u", "--patch", "--patch-with-stat", "--patch-with-raw", "--cc", "-c", "--word-diff",
                   "--color-words", "--full-diff", "-U", "--unified", "-L", "-m", "--diff-merges", "--remerge-diff")
# Configuration keys that can hold a credential (case-insensitive).
GIT_SECRET_KEY = re.compile(r"(^|\.)(url|pushurl|insteadof|pushinsteadof|extraheader|proxy|proxyauthmethod|"
                            r"cookiefile|askpass|helper)$|^(remote|url|http|https|credential|sendemail|github|"
                            r"gitlab|hub|lfs)\.|token|password|passwd|secret|key|auth|cookie|credential",
                            re.I)


GIT_TEXT_OPTIONS = {"-m", "--message", "--grep", "--author", "--committer", "-S", "-G", "--format", "--pretty",
                    "--date", "--since", "--until", "--after", "--before"}


def _git_repo_paths(text: str) -> list[str]:
    """The repository paths an argument names inside objects: `REV:path`, `:0:path`, `-L1,5:path`."""
    if ":" not in text or "://" in text:
        return []
    out = []
    _, _, after = text.partition(":")
    if re.match(r"^[0-3]:", after):  # :STAGE:path
        after = after[2:]
    out.append(after)
    last = text.rpartition(":")[2]
    if last != after:
        out.append(last)
    cleaned = []
    for path in out:
        path = re.sub(r"^\([^)]*\)", "", path).lstrip("/")  # pathspec magic :(top)x and :/x
        if path.startswith("./"):
            path = path[2:]
        if path and not path.startswith(("^", "!")):
            cleaned.append(path)
    return cleaned


def git(args: list[Word], eff: Effects) -> None:
    i, chdir = 0, None
    while i < len(args) and args[i].static and args[i].text.startswith("-"):
        text = args[i].text
        if text in GIT_GLOBAL_VALUES:
            if text == "-C" and i + 1 < len(args):
                chdir = args[i + 1]
            i += 2
            continue
        i += 1
    if i >= len(args) or not args[i].static:
        return
    sub, rest = args[i].text, args[i + 1:]
    for j, word in enumerate(rest):  # messages and search text are not paths
        name = word.text.split("=")[0]
        if name in GIT_TEXT_OPTIONS and word.static:
            eff.not_paths.append(word if "=" in word.text or len(word.text) > 2 and name == word.text[:2]
                                 else (rest[j + 1] if j + 1 < len(rest) else word))
    for word in rest:
        for text in (word.text, word.text.partition("=")[2]):
            for path in _git_repo_paths(text) if word.static else ():
                eff.repo_paths.append((path, f"git {sub} {word.text}"))
    git_file_options(sub, rest, eff)
    git_writes(sub, rest, eff)
    git_credentials(sub, rest, eff)
    history = git_history(sub, rest, eff)
    if history is not None:
        history.chdir = chdir
        eff.history = history


# Short options whose value is a file git reads, per subcommand, and the short options before them
# in a cluster that take a value of their own: `git blame -S FILE` (a revisions file: a line it
# cannot parse is quoted, "bad graft data: TOKEN=..."), `git grep -f FILE` (patterns), `git ls-files
# -X FILE`, `git commit -F FILE` (the message: into the history). The long forms (`--exclude-from=`)
# and a separate value are paths already; -S is search text for `git log`, a file only for blame.
GIT_FILE_OPTIONS = {"blame": ("S", "LCM"), "annotate": ("S", "LCM"), "grep": ("f", "eABCmO"),
                    "ls-files": ("X", "x"), "commit": ("F", "mcCtuS"), "tag": ("F", "mu"),
                    "merge": ("F", "msX"), "notes": ("F", "mC")}


def git_file_options(sub: str, rest: list[Word], eff: Effects) -> None:
    files, values = GIT_FILE_OPTIONS.get(sub, ("", ""))
    if not files:
        return
    for j, word in enumerate(rest):
        text = word.text
        if not word.static or text == "--":
            break
        if not text.startswith("-") or text.startswith("--") or len(text) < 2:
            continue
        for k, letter in enumerate(text[1:], start=2):
            if letter in files:
                value = text[k:]
                target = Word(value) if value else (rest[j + 1] if j + 1 < len(rest) else None)
                if target is not None:
                    eff.reads.append((target, f"git {sub} -{letter} reads"))
                break
            if letter in values:
                break


def _flag(words: list[Word], *names: str) -> bool:
    for word in words:
        text = word.text
        if not word.static or not text.startswith("-"):
            continue
        for name in names:
            if text == name or text.startswith(name + "="):
                return True
            if len(name) == 2 and name[1] != "-" and not text.startswith("--") and text.startswith(name):
                return True  # attached values: -U5, -L1,5:file
    return False


def git_writes(sub: str, rest: list[Word], eff: Effects) -> None:
    output_short = sub in ("format-patch", "archive")  # -o DIR / -o FILE
    for i, word in enumerate(rest):
        text = word.text
        if text == "--" or not word.static:
            if text == "--":
                break
            continue
        name, eq, value = text.partition("=")
        if name in ("--output", "--output-directory") or (name == "--prefix" and sub == "checkout-index"):
            target = Word(value) if eq else (rest[i + 1] if i + 1 < len(rest) else Word(""))
            eff.writes.append((target, f"git {sub} {name} writes"))
        elif output_short and text.startswith("-o") and not text.startswith("--"):
            target = Word(text[2:]) if len(text) > 2 else (rest[i + 1] if i + 1 < len(rest) else Word(""))
            eff.writes.append((target, f"git {sub} -o writes"))
    if sub == "config":
        git_config_writes(rest, eff)


GIT_CONFIG_WRITE_FLAGS = ("--add", "--unset", "--unset-all", "--replace-all", "--rename-section", "--remove-section",
                          "-e", "--edit")
GIT_CONFIG_READ_FLAGS = ("--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list", "--get-color",
                         "--get-colorbool")


def _git_config_args(rest: list[Word]) -> tuple[Scanned, str | None]:
    found = scan(rest, "f", {"--file", "--blob", "--default", "--type", "--comment", "--value"})
    action = None
    if found.positionals and found.positionals[0].text in ("get", "set", "unset", "list", "edit", "rename-section",
                                                           "remove-section"):
        action = found.positionals[0].text
        found.positionals = found.positionals[1:]
    return found, action


def git_config_writes(rest: list[Word], eff: Effects) -> None:
    found, action = _git_config_args(rest)
    reading = found.has(*GIT_CONFIG_READ_FLAGS) or action in ("get", "list")
    writing = (found.has(*GIT_CONFIG_WRITE_FLAGS) or action in ("set", "unset", "edit", "rename-section",
                                                                 "remove-section")
               or (not reading and len(found.positionals) >= 2))
    if not writing:
        return
    files = found.values("-f", "--file")
    if files:
        for value in files:
            eff.writes.append((value, "git config writes"))
    elif found.has("--global"):
        eff.writes.append((Word("~/.gitconfig"), "git config --global writes"))
    elif found.has("--system"):
        eff.writes.append((Word("/etc/gitconfig"), "git config --system writes"))
    else:
        eff.writes.append((Word(".git/config"), "git config writes"))


def git_credentials(sub: str, rest: list[Word], eff: Effects) -> None:
    texts = [w.text for w in rest]
    url_reason = "prints remote URLs, and a URL can hold an access token (https://user:TOKEN@host)"
    if sub == "remote" and (set(texts) & {"-v", "--verbose", "show", "get-url"}):
        eff.ask("git-credentials", f"git remote {' '.join(texts)} {url_reason}")
    elif sub == "ls-remote":
        eff.ask("git-credentials", f"git ls-remote {url_reason}, and reaches the network")
    elif sub == "var" and ("-l" in texts):
        eff.ask("git-credentials", "git var -l prints the whole configuration, which can hold tokens")
    elif sub == "help" and set(texts) & {"-w", "--web", "-i", "--info"}:
        eff.ask("program-option", "git help --web opens a browser")
    elif sub.startswith("credential"):
        eff.ask("git-credentials", f"git {sub} can print stored passwords and tokens")
    elif sub == "config":
        found, action = _git_config_args(rest)
        if found.has("-l", "--list") or action == "list":
            eff.ask("git-credentials", "git config --list prints the whole configuration, which can hold tokens "
                                       "(remote URLs, http.extraheader); ask for one key with --get")
        elif found.has("--get-regexp", "--get-urlmatch"):
            eff.ask("git-credentials", "this git config query can print keys that hold tokens")
        elif found.has("--get", "--get-all") or action == "get" or len(found.positionals) == 1:
            for key in found.positionals[:1]:
                if not key.static or GIT_SECRET_KEY.search(key.text):
                    eff.ask("git-credentials", f"git config {key.text} can hold a credential (a token in a URL "
                                               "or a header)")


def git_history(sub: str, rest: list[Word], eff: Effects) -> HistoryRead | None:
    values = GIT_GREP_VALUES if sub == "grep" else GIT_LOG_VALUES
    before: list[Word] = []
    after: list[Word] = []
    i, dashdash = 0, False
    skip_pattern = sub == "grep" and not _flag(rest, "-e", "-f", "--and", "--or", "--not")
    while i < len(rest):
        word = rest[i]
        text = word.text
        if dashdash:
            after.append(word)
        elif text == "--":
            dashdash = True
        elif word.static and text in values:
            i += 1
        elif word.static and text.startswith("-"):
            pass
        elif skip_pattern:
            skip_pattern = False
        else:
            before.append(word)
        i += 1
    names_only = _flag(rest, *GIT_NAMES_ONLY) and not _flag(rest, "-p", "-u", "--patch", "--patch-with-stat",
                                                            "--patch-with-raw")
    what = f"git {sub}"
    if sub == "show" and not (names_only and not any(":" in w.text for w in before)):
        return HistoryRead(what, after, before or [Word("HEAD")], kind="objects")
    if sub in ("log", "whatchanged", "reflog") and _flag(rest, *GIT_PATCH_FLAGS) and not names_only:
        return HistoryRead(f"{what} -p", after, before)
    if sub == "stash" and rest and rest[0].text == "list" and _flag(rest, *GIT_PATCH_FLAGS):
        return HistoryRead("git stash list -p", after, before[1:])
    if sub in ("diff", "diff-tree", "diff-index", "diff-files") and not names_only:
        if sub == "diff" and _flag(rest, "--no-index"):
            return None  # compares two files named on the command line: judged as plain reads
        staged = _flag(rest, "--cached", "--staged", "--merge-base")
        return HistoryRead(what, after, before, kind="worktree" if sub in ("diff", "diff-files") else "history",
                           staged=staged)
    if sub == "grep":
        if _flag(rest, "--untracked", "--no-index"):
            eff.ask("git-grep-untracked", "git grep --untracked searches files git does not track, which can "
                                          "hold secrets (.env); use rg_search, which leaves them out")
        return HistoryRead(what, after, before, kind="worktree")
    if sub == "cat-file":
        if _flag(rest, "--batch-all-objects") and _flag(rest, "--batch", "--batch-command"):
            eff.ask("git-history", "git cat-file --batch-all-objects prints every object git stores, also files "
                                   "that were added once and removed (a .env staged by mistake)")
        if _flag(rest, "--batch", "--batch-command", "--batch-all-objects"):
            return HistoryRead(what, after, [Word("<objects named on its input>", False)], kind="objects")
        types = {"blob", "tree", "commit", "tag"}
        if _flag(rest, "-p", "--textconv", "--filters") or (before and before[0].text in types):
            objects = before[1:] if before and before[0].text in types else before
            return HistoryRead(what, after, objects, kind="objects")
    if sub == "stash" and rest and rest[0].text == "show" and _flag(rest, "-p", "-u", "--patch"):
        return HistoryRead("git stash show -p", after, before[1:])
    if sub in ("archive", "format-patch", "fast-export", "bundle"):
        return HistoryRead(what, after, before)
    return None


def python_module(args: list[Word], eff: Effects) -> None:
    for i, word in enumerate(args[:-1]):
        if word.text == "-m":
            if args[i + 1].text == "pytest":
                pytest(args[i + 2:], eff)
            return
        if not word.text.startswith("-"):
            return


# --- the table ---

HANDLERS: dict[str, Callable[[list[Word], Effects], None]] = {
    "sed": sed, "gsed": sed,
    "awk": awk, "gawk": lambda a, e: awk(a, e, "gawk"), "mawk": lambda a, e: awk(a, e, "mawk"),
    "nawk": lambda a, e: awk(a, e, "nawk"),
    "sort": sort, "uniq": uniq, "xxd": xxd, "tee": tee, "dd": dd, "tree": tree,
    "less": pager, "more": pager, "file": file_,
    "hexdump": option_reads(("-f", "--format-file"), "hexdump reads formats from", "efns",
                            {"--format", "--format-file", "--length", "--skip"}),
    "diff": option_reads(("-X", "--exclude-from"), "diff reads names to leave out from", "xXIFLSDCUW",
                         {"--exclude", "--exclude-from", "--ignore-matching-lines", "--show-function-line",
                          "--label", "--starting-file", "--ifdef", "--width", "--tabsize",
                          "--old-line-format", "--new-line-format", "--unchanged-line-format", "--line-format",
                          "--old-group-format", "--new-group-format", "--unchanged-group-format",
                          "--changed-group-format", "--horizon-lines", "--color", "--palette"}),
    "cp": cp, "install": lambda a, e: cp(a, e, "install"), "mv": mv, "ln": lambda a, e: mv(a, e, "ln"),
    "rm": positional_writes("rm removes"), "rmdir": positional_writes("rmdir removes"),
    "unlink": positional_writes("unlink removes"), "shred": positional_writes("shred destroys", "nsu"),
    "touch": positional_writes("touch writes", "rdt", frozenset({"--reference", "--date"})),
    "mkdir": positional_writes("mkdir creates", "m", frozenset({"--mode"})),
    "mkfifo": positional_writes("mkfifo creates", "m", frozenset({"--mode"})),
    "mknod": positional_writes("mknod creates", "m", frozenset({"--mode"}), first_only=True),
    "truncate": positional_writes("truncate changes", "sr", frozenset({"--size", "--reference"})),
    "chmod": lambda a, e: chmod_like(a, e, "chmod"), "chown": lambda a, e: chmod_like(a, e, "chown"),
    "chgrp": lambda a, e: chmod_like(a, e, "chgrp"),
    "split": split, "csplit": output_option(("-f", "--prefix"), "csplit writes files starting with", "fbn",
                                            {"--prefix", "--suffix-format", "--digits"}),
    "gzip": lambda a, e: compressor(a, e, "gzip"), "gunzip": lambda a, e: compressor(a, e, "gunzip"),
    "bzip2": lambda a, e: compressor(a, e, "bzip2"), "xz": lambda a, e: compressor(a, e, "xz"),
    "zstd": lambda a, e: compressor(a, e, "zstd"),
    "tar": tar, "unzip": unzip, "patch": patch,
    "rsync": lambda a, e: last_positional_written(a, e, "rsync"), "scp": lambda a, e: last_positional_written(a, e, "scp"),
    "du": du, "ps": ps, "uv": uv, "find": find, "rg": rg, "grep": grep, "egrep": grep, "fgrep": grep, "xargs": xargs,
    "zgrep": grep, "jq": jq, "fd": fd, "fdfind": fd, "date": date, "hostname": hostname, "alias": alias,
    "shopt": shopt, "declare": declare, "typeset": declare, "local": declare,
    "time": lambda a, e: time_like(a, e, "time"), "strace": lambda a, e: time_like(a, e, "strace"),
    "ltrace": lambda a, e: time_like(a, e, "ltrace"),
    "curl": curl, "wget": wget, "pytest": pytest, "py.test": pytest,
    "python": python_module, "python3": python_module,
    "make": make, "gmake": make,
    "npm": runner_config("npm", ("--script-shell", "--node-options", "--userconfig", "--globalconfig", "--prefix",
                                 "-C", "--cwd", "--dir", "--workspace"),
                         "changes which scripts run, or the shell and options they run with"),
    "yarn": runner_config("yarn", ("--cwd", "--use-yarnrc", "--script-shell"), "changes which scripts run"),
    "pnpm": runner_config("pnpm", ("-C", "--dir", "--script-shell", "--filter", "--prefix"), "changes which scripts run"),
    "cargo": runner_config("cargo", ("--config", "-Z", "--manifest-path"),
                           "can set a program to run the build or the tests with"),
    "go": go,
    "tox": runner_config("tox", ("-c", "--conf", "-x", "--override", "--installpkg"), "changes the commands tox runs"),
    "nox": runner_config("nox", ("-f", "--noxfile"), "runs another noxfile"),
    "mvn": runner_config("mvn", ("-f", "--file", "-s", "--settings", "-gs", "--global-settings"),
                         "runs another build file or settings"),
    "gradle": runner_config("gradle", ("-b", "--build-file", "-c", "--settings-file", "-I", "--init-script"),
                            "runs another build or init script"),
    "./gradlew": runner_config("gradlew", ("-b", "--build-file", "-c", "--settings-file", "-I", "--init-script"),
                               "runs another build or init script"),
    "git": git,
}
# Programs that only list or examine the paths they are given: `ls .env` shows a name, not secrets.
NAMES_ONLY = {"ls", "stat", "du", "realpath", "readlink", "test", "[", "basename", "dirname", "cd", "pushd"}


def effects(cmd: SimpleCommand) -> Effects:
    eff = Effects()
    program = cmd.program
    if program is None:
        return eff
    handler = HANDLERS.get(program)
    if handler is not None:
        handler(cmd.argv[1:], eff)
    if program in NAMES_ONLY:
        eff.names_only = True
    return eff


__all__ = ["Effects", "HistoryRead", "Unreadable", "effects", "sed_script", "awk_program", "scan"]
