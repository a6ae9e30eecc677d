"""awk: a language with system(), pipes to commands, `print > FILE` and `getline < FILE`, read
here token by token; options that load code from files, and gawk's `-i inplace`."""

from __future__ import annotations

import re

from agent_runtime.safety.programs.base import Effects, Unreadable
from agent_runtime.safety.shellwords import Word

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


HANDLERS = {"awk": awk, "gawk": lambda a, e: awk(a, e, "gawk"), "mawk": lambda a, e: awk(a, e, "mawk"),
            "nawk": lambda a, e: awk(a, e, "nawk")}
