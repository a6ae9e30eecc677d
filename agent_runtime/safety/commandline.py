"""What a shell command string would run, read with a real parser (tree-sitter-bash).

`parse(text)` returns every simple command that could run: inside lists, pipelines,
subshells, groups, if/for/while/case, command and process substitutions, and inside
wrappers (sudo, env, timeout, xargs, find -exec, fd -x, watch, flock -c, ...), `sh -c` /
`eval` strings and `env -S` strings (split by env's own rules). Quoting and escaping are
resolved (`r''m`, `\\rm`, `/bin/rm` are all `rm`). Words whose value is only known at run
time ($VAR, $(...), what xargs -I puts in place of {}) are marked dynamic; `$(echo WORD)` is
WORD. Unquoted patterns ({a,b}, *) are marked so the policy can expand them. Shell variables a
command sets (x=1, export, read, for, printf -v) are recorded: PATH or IFS change what runs
next. Anything the parser cannot read is reported in `problems`, so the policy can refuse to
allow it. What each program does with its arguments (sed scripts, output files) is in programs.py.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

MAX_DEPTH = 6  # nested sh -c / eval strings


@dataclass(frozen=True)
class Word:
    text: str
    static: bool = True  # False: contains an expansion or substitution
    glob: bool = False  # has unquoted * ? [ or {a,b}: the shell expands it to file names


DYNAMIC = Word("<dynamic>", static=False)


@dataclass
class Redirect:
    op: str
    target: Word


@dataclass
class SimpleCommand:
    argv: list[Word]
    assignments: list[tuple[str, Word]] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    via: str = ""  # how it is reached: "", "sudo", "bash -c", "find -exec", "$(...)", ...
    fed_by: set[str] = field(default_factory=set)  # programs whose output it reads (pipes, substitutions)
    opaque_code: str | None = None  # code handed to an interpreter that cannot be judged, and how
    transparent: bool = False  # a wrapper or a shell whose script was read: only what it runs is judged
    variables: list[str] = field(default_factory=list)  # shell variables it sets (x=1, export, read, for)
    chdir: Word | None = None  # the directory it runs in, when a wrapper moves it (env -C DIR)

    @property
    def program(self) -> str | None:
        return self.argv[0].text if self.argv and self.argv[0].static else None

    def texts(self) -> list[str]:
        if not self.argv:  # a bare assignment (`x=1`)
            return [f"{name}={value.text}" for name, value in self.assignments] or [f"{v}=..." for v in self.variables]
        return [w.text for w in self.argv]


@dataclass
class Parsed:
    commands: list[SimpleCommand]
    problems: list[str]


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bash.language()))


# --- words ---

_ESCAPE_IN_DQUOTE = re.compile(r'\\([$`"\\\n])')
_UNQUOTED_GLOB = re.compile(r"(?<!\\)[*?[{]")


def _unescape_word(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _known_variable(text: str) -> str | None:
    """$HOME and friends have one value we can know; judging `rm -rf $HOME` needs it."""
    name = text.strip("${}")
    if name == "HOME":
        return str(Path.home())
    if name in ("PWD", "OLDPWD"):
        return "."
    if name in ("TMPDIR",):
        return "/tmp"
    return None


class _Walker:
    def __init__(self, depth: int):
        self.depth = depth
        self.commands: list[SimpleCommand] = []
        self.problems: list[str] = []

    # Words: resolve quoting; walk substitutions (their commands run too).
    def word(self, node) -> Word:
        kind = node.type
        text = node.text.decode("utf-8", errors="replace")
        if kind in ("word", "number"):
            return Word(_unescape_word(text), glob=bool(_UNQUOTED_GLOB.search(text)))
        if kind == "raw_string":
            return Word(text[1:-1])
        if kind == "ansi_c_string":
            try:
                return Word(codecs.decode(text[2:-1].encode("latin-1", "backslashreplace"), "unicode_escape"))
            except (UnicodeError, ValueError):
                return Word(text, static=False)
        if kind == "string":
            parts, static = [], True
            for child in node.named_children:
                if child.type == "string_content":
                    parts.append(_ESCAPE_IN_DQUOTE.sub(r"\1", child.text.decode("utf-8", errors="replace")))
                elif child.type in ("simple_expansion", "expansion") and _known_variable(child.text.decode()) is not None:
                    parts.append(_known_variable(child.text.decode()))  # type: ignore[arg-type]
                elif child.type == "command_substitution" and self.echoed(child) is not None:
                    self.substitutions_in(child)
                    parts.append(self.echoed(child))  # type: ignore[arg-type]
                else:
                    static = False
                    self.substitutions_in(child)
                    parts.append(child.text.decode("utf-8", errors="replace"))
            return Word("".join(parts), static)
        if kind == "concatenation":
            words = [self.word(child) for child in node.named_children]
            if not node.named_children:
                return Word(_unescape_word(text), glob=bool(_UNQUOTED_GLOB.search(text)))
            return Word("".join(w.text for w in words), all(w.static for w in words), any(w.glob for w in words))
        if kind in ("simple_expansion", "expansion") and _known_variable(text) is not None:
            return Word(_known_variable(text))  # type: ignore[arg-type]
        if kind == "command_substitution" and self.echoed(node) is not None:
            self.substitutions_in(node)  # echo is judged too
            return Word(self.echoed(node))  # type: ignore[arg-type]
        # $VAR, ${...}, $(...), <(...), $((...)), {a,b} and anything else: known only at run time
        self.substitutions_in(node)
        return Word(text, static=False)

    @staticmethod
    def echoed(node) -> str | None:
        """`$(echo .env)` is `.env`: the output of an echo of fixed words, when it is one plain word."""
        commands = [c for c in node.named_children if c.type != "comment"]
        if len(commands) != 1 or commands[0].type != "command":
            return None
        parts = commands[0].named_children
        if not parts or parts[0].type != "command_name" or parts[0].text != b"echo" or len(parts) < 2:
            return None
        words = []
        for part in parts[1:]:
            if part.type not in ("word", "raw_string", "string", "concatenation") or any(
                    c.type not in ("string_content", "word", "raw_string", "string") for c in part.named_children):
                return None
            words.append(_Walker(0).word(part))
        text = " ".join(w.text for w in words)
        if not all(w.static for w in words) or not text or text.startswith("-") or any(
                c in text for c in " \t\n*?[{"):
            return None
        return text

    def substitutions_in(self, node) -> None:
        """Walk the commands inside $(...), `...`, <(...) under `node`: they are judged too."""
        if node.type in ("command_substitution", "process_substitution"):
            redirects: list[Redirect] = []
            for child in node.named_children:
                if child.type in ("file_redirect", "heredoc_redirect", "herestring_redirect"):
                    redirects += self.redirect(child)  # `$(<file)`: no command, only the redirection
                else:
                    self.statement(child, via="$(...)")
            if redirects:  # bash prints the file, as `$(cat <file)` would: judged as that
                self.commands.append(SimpleCommand([Word("cat")], redirects=redirects, via="$(...)"))
            return
        for child in node.named_children:
            self.substitutions_in(child)

    # Statements
    def statement(self, node, via: str = "", fed_by: set[str] | None = None) -> list[SimpleCommand]:
        kind = node.type
        if node.is_missing or kind == "ERROR":
            self.problems.append(f"cannot parse near {node.text.decode(errors='replace')[:40]!r}")
            return []
        if kind == "command":
            return self.command(node, via, fed_by or set())
        if kind == "pipeline":
            made: list[SimpleCommand] = []
            upstream: set[str] = set(fed_by or set())
            for child in node.named_children:
                stage = self.statement(child, via, upstream)
                made += stage
                upstream = upstream | {c.program for c in stage if c.program}
            return made
        if kind == "redirected_statement":
            body = node.child_by_field_name("body")
            made = self.statement(body, via, fed_by) if body is not None else []
            redirects: list[Redirect] = []
            for child in node.named_children:
                if body is None or child.id != body.id:
                    redirects += self.redirect(child, made)
            if not made and redirects:
                made = [SimpleCommand([Word(":")], via=via)]  # a bare `> file`
                self.commands.append(made[0])
            if made:
                made[-1].redirects += redirects
            return made
        if kind == "function_definition":
            # What a call runs then depends on the function, and functions can recurse (fork bombs).
            self.problems.append("it defines a shell function")
        if kind in ("variable_assignment", "variable_assignments"):
            # `PATH=/tmp/evil:$PATH; ls`: a bare assignment changes what later commands run.
            assignments = self.assignments_in(node)
            bare = SimpleCommand([], assignments, via=via, transparent=True,
                                 variables=[name for name, _ in assignments])
            self.commands.append(bare)
            return [bare]
        if kind == "declaration_command":  # export / declare / local / readonly / typeset
            keyword = node.children[0].text.decode() if node.children else "declare"
            argv, assignments, names = [Word(keyword)], [], []
            for child in node.named_children:
                if child.type == "variable_assignment":
                    assignments += self.assignments_in(child)
                    names.append(assignments[-1][0])
                elif child.type == "variable_name":
                    names.append(child.text.decode())
                else:
                    argv.append(self.word(child))
            cmd = SimpleCommand(argv, [], [], via, set(fed_by or set()), variables=names)
            self.commands.append(cmd)
            return [cmd]
        if kind == "for_statement":
            variable = node.child_by_field_name("variable")
            if variable is not None:
                self.commands.append(SimpleCommand([], [], via=via, transparent=True,
                                                   variables=[variable.text.decode()]))
        if kind in ("comment", "heredoc_body", "heredoc_end", "heredoc_start"):
            return []
        made = []
        for child in node.named_children:
            if child.type in ("word", "string", "raw_string", "concatenation", "number", "variable_name",
                              "simple_expansion", "expansion", "command_substitution", "process_substitution",
                              "test_operator", "regex", "extglob_pattern", "binary_expression",
                              "unary_expression", "parenthesized_expression", "arithmetic_expansion"):
                self.substitutions_in(child)
                continue
            if child.type in ("file_redirect", "heredoc_redirect", "herestring_redirect"):
                self.redirect(child)
                continue
            made += self.statement(child, via, fed_by)
        return made

    def assignments_in(self, node) -> list[tuple[str, Word]]:
        nodes = [node] if node.type == "variable_assignment" else [c for c in node.named_children
                                                                    if c.type == "variable_assignment"]
        out = []
        for child in nodes:
            name = child.child_by_field_name("name")
            value = child.child_by_field_name("value")
            out.append((name.text.decode() if name is not None else "?",
                        self.word(value) if value is not None else Word("")))
        return out

    def redirect(self, node, made: list[SimpleCommand] | None = None) -> list[Redirect]:
        made = made if made is not None else []
        if node.type == "heredoc_redirect":
            out: list[Redirect] = []
            body_text = None
            for child in node.named_children:
                if child.type == "file_redirect":
                    out += self.redirect(child)
                elif child.type == "heredoc_body":
                    self.substitutions_in(child)
                    body_text = child.text.decode("utf-8", errors="replace")
                elif child.type not in ("heredoc_start", "heredoc_end"):
                    upstream = {c.program for c in made if c.program}
                    made += self.statement(child, fed_by=upstream)  # `cat <<EOF | sh`: the pipe goes on here
            for command in made:
                if body_text is not None and command.opaque_code and command.program in SHELLS:
                    command.opaque_code = None  # the heredoc is the script: judge it
                    self._run_script(Word(body_text), command, f"{command.program} <<heredoc")
            return out
        if node.type != "file_redirect":
            self.substitutions_in(node)
            return []
        op = next((c.type for c in node.children if not c.is_named), ">")
        dest = node.child_by_field_name("destination")
        if dest is None:
            named = [c for c in node.named_children if c.type != "file_descriptor"]
            dest = named[-1] if named else None
        if dest is None:
            return []
        target = self.word(dest)
        if op in (">&", "<&") and (target.text.isdigit() or target.text == "-"):
            return []  # duplicating or closing a file descriptor, not a file
        return [Redirect(op, target)]

    def command(self, node, via: str, fed_by: set[str]) -> list[SimpleCommand]:
        argv: list[Word] = []
        assignments: list[tuple[str, Word]] = []
        redirects: list[Redirect] = []
        subs: set[str] = set()
        for child in node.named_children:
            if child.type == "variable_assignment":
                name = child.child_by_field_name("name")
                value = child.child_by_field_name("value")
                word = self.word(value) if value is not None else Word("")
                assignments.append((name.text.decode() if name is not None else "?", word))
            elif child.type == "command_name":
                inner = child.named_children[0] if child.named_children else child
                before = len(self.commands)
                program = self.word(inner)
                if inner.type != "word" and ("$(" in inner.text.decode(errors="replace") or b"`" in inner.text):
                    program = Word(program.text, False)  # a program named by a substitution stays unknown
                argv.append(program)
                subs |= {c.program for c in self.commands[before:] if c.program}
            elif child.type in ("file_redirect", "herestring_redirect"):
                redirects += self.redirect(child)
            else:
                before = len(self.commands)
                argv.append(self.word(child))
                subs |= {c.program for c in self.commands[before:] if c.program}
        cmd = SimpleCommand(argv, assignments, redirects, via, set(fed_by) | subs)
        return self.effective(cmd)

    def effective(self, cmd: SimpleCommand) -> list[SimpleCommand]:
        """Record `cmd` and whatever it runs in turn (wrappers, sh -c, eval, find -exec)."""
        if cmd.argv and cmd.argv[0].static:
            cmd.argv[0] = Word(normalize_program(cmd.argv[0].text))
        self.commands.append(cmd)
        made = [cmd]
        program = cmd.program
        if program is None:
            return made
        args = cmd.argv[1:]
        inner: list[Word] | None = None
        script: Word | None = None
        label = program
        if program in SHELLS:
            script, rest = _shell_script(args)
            if script is None and (not rest or rest[0].text == "-"):
                cmd.opaque_code = f"{program} runs commands read from its input"
        elif program in INTERPRETERS:
            cmd.opaque_code = _interpreter_code(program, args)
        elif program == "eval":
            script = Word(" ".join(w.text for w in args), all(w.static for w in args))
        elif program == "su":
            script = _option_value(args, ("-c", "--command"))
        elif program == "env":
            inner, script = _unwrap_env(args, cmd)
            if script is not None:
                # `env -S STRING` splits by its own rules (\_ is a space, ${VAR} expands), not the shell's:
                # what it runs is judged as split that way, and it is never allowed on its own.
                cmd.opaque_code = "env -S splits a string into a command by rules of its own"
                inner = _split_string(script) if script.static else [DYNAMIC]
                script = None
        elif program in ("read", "printf", "mapfile", "readarray", "getopts"):
            cmd.variables += _variables_set(program, args)
        elif program == "find":
            for chunk in _find_exec(args):
                made += self._run_inner(chunk, cmd, "find -exec")
        elif program in ("fd", "fdfind"):
            for chunk in _fd_exec(args):
                made += self._run_inner(chunk, cmd, f"{program} --exec")
        elif program == "watch":
            inner, script = _unwrap_watch(args)
        elif program == "flock":
            inner, script = _unwrap_flock(args)
        elif program == "xargs":
            inner = _unwrap_xargs(args)
        elif program in RUNNERS and args and args[0].text == "run":
            inner = _skip_options(args[1:], RUNNER_OPTIONS)
            label = f"{program} run"
        elif program in WRAPPERS:
            inner = _skip_options(args, WRAPPERS[program])
            if program in ("timeout",) and inner:
                inner = inner[1:]  # the duration
            if program in ("taskset", "chroot") and inner:
                inner = inner[1:]
        if inner:
            made += self._run_inner(inner, cmd, label)
            cmd.transparent = True
        if script is not None:
            made += self._run_script(script, cmd, f"{label} -c")
            cmd.transparent = script.static
        return made

    def _run_inner(self, argv: list[Word], outer: SimpleCommand, label: str) -> list[SimpleCommand]:
        inner = SimpleCommand(list(argv), [], [], label, set(outer.fed_by), chdir=outer.chdir)
        return self.effective(inner)

    def _run_script(self, script: Word, outer: SimpleCommand, label: str) -> list[SimpleCommand]:
        if not script.static:
            self.problems.append(f"{label} runs a string only known at run time")
            return []
        if self.depth >= MAX_DEPTH:
            self.problems.append(f"{label} strings nested too deep")
            return []
        nested = _Walker(self.depth + 1)
        nested.walk(script.text)
        for command in nested.commands:
            command.via = label if not command.via else f"{label} > {command.via}"
            command.fed_by |= outer.fed_by
        self.commands += nested.commands
        self.problems += nested.problems
        return nested.commands

    def walk(self, text: str) -> None:
        tree = _parser().parse(text.encode("utf-8", errors="surrogateescape"))
        root = tree.root_node
        if root.has_error:
            self.problems.append("the command has a syntax error or a construct that cannot be read")
        self.statement(root)


# --- program knowledge ---

SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish", "ash", "busybox-sh"}
_SYSTEM_DIRS = {"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/usr/local/sbin"}
_VENV_BIN = re.compile(r"(^|/)(\.?venv|env|\.tox/[^/]+|node_modules/\.bin)/bin$|(^|/)node_modules/\.bin$")
_VERSIONED = re.compile(r"^(python|pip|pypy)(\d+(\.\d+)*)$")

# wrapper -> options that take a value (other options are flags); what follows is the command.
WRAPPERS: dict[str, set[str]] = {
    "sudo": {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "--user", "--group", "--host",
             "--prompt", "--close-from", "--chdir", "--role", "--type", "--other-user", "--command-timeout"},
    "doas": {"-u", "-C"},
    "pkexec": {"--user"},
    "command": set(),
    "builtin": set(),
    "exec": {"-a"},
    "nice": {"-n", "--adjustment"},
    "nohup": set(),
    "time": {"-f", "-o", "--format", "--output"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"},
    "stdbuf": {"-i", "-o", "-e", "--input", "--output", "--error"},
    "ionice": {"-c", "-n", "-p", "-P", "-u", "--class", "--classdata"},
    "xargs": {"-I", "-i", "-n", "-P", "-s", "-L", "-l", "-d", "-E", "-e", "-a", "--arg-file", "--delimiter",
              "--max-args", "--max-procs", "--max-chars", "--max-lines", "--replace", "--eof", "--process-slot-var"},
    "watch": {"-n", "-d", "--interval", "--differences"},
    "setsid": set(),
    "unbuffer": set(),
    "flock": {"-w", "-E", "--timeout", "--conflict-exit-code"},
    "taskset": set(),
    "chroot": {"--userspec", "--groups"},
    "strace": {"-e", "-o", "-p", "-s", "-u"},
    "ltrace": {"-e", "-o", "-p", "-s", "-u"},
    "gdb": set(),
    "valgrind": set(),
}


# interpreter -> options whose value is program text
INTERPRETERS: dict[str, tuple[str, ...]] = {
    "python": ("-c",), "python2": ("-c",), "python3": ("-c",), "pypy": ("-c",), "pypy3": ("-c",),
    "perl": ("-e", "-E"), "ruby": ("-e",), "node": ("-e", "--eval", "-p", "--print"), "nodejs": ("-e", "--eval"),
    "php": ("-r",), "lua": ("-e",), "Rscript": ("-e",), "osascript": ("-e",), "tclsh": (), "jshell": (),
    "bun": ("-e", "--eval", "-p", "--print"), "deno": ("eval",), "pwsh": ("-c", "-Command"),
    "powershell": ("-c", "-Command"), "irb": (), "guile": ("-c",), "racket": ("-e",),
}
INFORMATIONAL_FLAGS = {"--version", "-V", "-v", "--help", "-h", "version"}


def _has_flag(text: str, flag: str) -> bool:
    """`-c` also matches clustered short options (`-Ic`, `-ne`); longer flags match exactly or with =value."""
    if len(flag) == 2 and flag[0] == "-" and flag[1] != "-":
        return text.startswith("-") and not text.startswith("--") and flag[1] in text[1:]
    return text == flag or text.startswith(flag + "=")


def _interpreter_code(program: str, args: list[Word]) -> str | None:
    """Why this interpreter call runs code we cannot judge, or None when it runs a file or a module."""
    if args and all(w.static and w.text in INFORMATIONAL_FLAGS for w in args):
        return None  # `python3 --version` runs no code
    for word in args:
        text = word.text
        if not word.static:
            return f"{program} is given arguments only known at run time"
        if any(_has_flag(text, flag) for flag in INTERPRETERS[program]):
            return f"{program} {text} runs code given on the command line"
        if text == "-m" and program.startswith(("python", "pypy")):
            return None
        if text == "-":
            return f"{program} reads a program from its input"
        if not text.startswith("-"):
            return None  # a script file: judged by the rules like any program
    return f"{program} reads a program from its input"


# `uv run pytest`: project runners that run a command in the project's environment.
RUNNERS = {"uv", "poetry", "pipenv", "pdm", "hatch", "rye"}
RUNNER_OPTIONS = {"--with", "--python", "-p", "--extra", "--group", "--package", "--env-file", "--directory",
                  "--project", "--index", "--from"}


def normalize_program(name: str) -> str:
    """`/usr/bin/rm` -> `rm`, `.venv/bin/pytest` -> `pytest`, `python3.11` -> `python3`."""
    directory, _, base = name.rpartition("/")
    if directory and (directory in _SYSTEM_DIRS or _VENV_BIN.search(directory)):
        name = base
    match = _VERSIONED.match(name)
    if match:
        name = match.group(1) + match.group(2).split(".")[0]
    return name


def _skip_options(args: list[Word], with_value: set[str]) -> list[Word] | None:
    i = 0
    while i < len(args):
        word = args[i]
        if not word.static:
            return args[i:]
        text = word.text
        if text == "--":
            return args[i + 1 :]
        if not text.startswith("-") or text == "-":
            return args[i:]
        if text in with_value:
            i += 2
            continue
        i += 1
    return None


def _option_value(args: list[Word], names: tuple[str, ...]) -> Word | None:
    for i, word in enumerate(args):
        if word.text in names and i + 1 < len(args):
            return args[i + 1]
    return None


def _shell_script(args: list[Word]) -> tuple[Word | None, list[Word]]:
    """For `bash [opts] -c SCRIPT ...`: the script; else (None, the non-option args)."""
    i = 0
    while i < len(args):
        text = args[i].text
        if args[i].static and text.startswith("-") and text not in ("-", "--"):
            if "c" in text.lstrip("-") and not text.startswith("--"):
                return (args[i + 1] if i + 1 < len(args) else Word("")), []
            if text in ("-o", "+o", "--rcfile", "--init-file"):
                i += 2
                continue
            if text == "-s":
                return None, []
            i += 1
            continue
        return None, args[i:]
    return None, []


def _unwrap_env(args: list[Word], cmd: SimpleCommand) -> tuple[list[Word] | None, Word | None]:
    """`env [opts] [NAME=VALUE...] [CMD ARGS]`: the command, or the -S string; assignments and -C noted."""
    i = 0
    while i < len(args):
        word = args[i]
        text = word.text
        if not word.static:
            return args[i:], None
        if text == "--":
            i += 1
            continue
        if text.startswith("--"):
            name, eq, value = text.partition("=")
            if name == "--split-string":
                return None, (Word(value) if eq else (args[i + 1] if i + 1 < len(args) else Word("")))
            if name in ("--chdir", "--unset"):
                if not eq:
                    value = args[i + 1].text if i + 1 < len(args) else ""
                    i += 1
                if name == "--chdir":
                    cmd.chdir = Word(value)
            i += 1
            continue
        if text.startswith("-") and text != "-":
            # a cluster of short options: -i, -0, -v, then -u NAME, -C DIR, -S STRING take a value
            for j, letter in enumerate(text[1:], start=2):
                if letter in "uCS":
                    value = text[j:]
                    if not value:
                        value = args[i + 1].text if i + 1 < len(args) else ""
                        i += 1
                    if letter == "S":
                        return None, Word(value)
                    if letter == "C":
                        cmd.chdir = Word(value)
                    break
            i += 1
            continue
        if "=" in text and not text.startswith("="):
            name, _, value = text.partition("=")
            cmd.assignments.append((name, Word(value, word.static)))
            i += 1
            continue
        return args[i:], None
    return None, None


def _split_string(text: Word) -> list[Word]:
    """Split a string the way `env -S` does (GNU coreutils): quotes, backslash escapes
    (\\_ is a space, \\c ends the string), ${VAR} (only known at run time), # starts a comment."""
    words: list[Word] = []
    s = text.text
    current: list[str] = []
    started, static = False, True
    quote: str | None = None
    i = 0
    escapes = {"f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "_": " ", "\\": "\\", '"': '"',
               "'": "'", "#": "#", "$": "$"}

    def finish() -> None:
        nonlocal current, started, static
        if started:
            words.append(Word("".join(current), static))
        current, started, static = [], False, True

    while i < len(s):
        c = s[i]
        if quote == "'":
            if c == "'":
                quote = None
            else:
                current.append(c)
            i += 1
            continue
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "c":
                break
            if nxt == "_" and quote is None:
                finish()  # outside quotes \_ separates words
            else:
                current.append(escapes.get(nxt, nxt))
                started = True
            i += 2
            continue
        if c == "$" and s.startswith("${", i):
            end = s.find("}", i)
            current.append(s[i:end + 1 if end >= 0 else len(s)])
            started, static = True, False
            i = end + 1 if end >= 0 else len(s)
            continue
        if quote == '"':
            if c == '"':
                quote = None
            else:
                current.append(c)
            i += 1
            continue
        if c in "'\"":
            quote, started = c, True
        elif c in " \t\n":
            finish()
        elif c == "#" and not started:
            break
        else:
            current.append(c)
            started = True
        i += 1
    finish()
    return words or [Word("")]


def _variables_set(program: str, args: list[Word]) -> list[str]:
    """The shell variables `read A B`, `printf -v A`, `mapfile A`, `getopts s A` assign."""
    names = []
    positional = []
    i = 0
    while i < len(args):
        text = args[i].text
        if program == "printf" and text == "-v" and i + 1 < len(args):
            names.append(args[i + 1].text)
            i += 2
            continue
        if program == "printf":
            break  # the format and its arguments
        if text.startswith("-") and len(text) > 1:
            if program == "read" and text in ("-a",) and i + 1 < len(args):
                names.append(args[i + 1].text)
            if text[-1] in "adinNptuCcOsS" and len(text) == 2 and i + 1 < len(args):
                i += 1  # an option with a value
            i += 1
            continue
        positional.append(text)
        i += 1
    if program == "read":
        names += positional
    elif program in ("mapfile", "readarray"):
        names += positional[-1:] or ["MAPFILE"]
    elif program == "getopts":
        names += positional[1:2]
    return names


def _replace_string(args: list[Word], placeholder: str) -> list[Word]:
    """Arguments with `placeholder` (xargs -I {}, find's {}) hold text read at run time."""
    return [Word(w.text, False) if placeholder in w.text else w for w in args]


# xargs options whose value is the next argument (-i, -l, -e, --replace, --eof take theirs attached).
XARGS_VALUES = {"-n", "-P", "-s", "-L", "-d", "-E", "-a", "--arg-file", "--delimiter", "--max-args", "--max-procs",
                "--max-chars", "--max-lines", "--process-slot-var"}


def _unwrap_xargs(args: list[Word]) -> list[Word]:
    """The command xargs runs; what it reads from its input becomes arguments only known at run time."""
    replace: str | None = None
    i = 0
    while i < len(args):
        word = args[i]
        text = word.text
        if not word.static or text == "--" or not text.startswith("-") or text == "-":
            break
        if text == "-I":
            replace = args[i + 1].text if i + 1 < len(args) else "{}"
            i += 2
            continue
        if text.startswith("-I"):
            replace = text[2:]
        elif text == "--replace" or text.startswith("--replace="):
            replace = text.partition("=")[2] or "{}"  # --replace[=R]: the value is optional
        elif text.startswith("-i"):
            replace = text[2:] or "{}"  # -i[R]
        elif text in XARGS_VALUES:
            i += 1
        i += 1
    if i < len(args) and args[i].static and args[i].text == "--":
        i += 1
    inner = args[i:] or [Word("echo")]  # xargs runs echo when given no command
    if replace is not None:
        return _replace_string(inner, replace)
    return inner + [DYNAMIC]  # xargs appends arguments read from stdin


def _unwrap_watch(args: list[Word]) -> tuple[list[Word] | None, Word | None]:
    """watch joins its arguments and runs them with `sh -c`, unless -x/--exec."""
    direct = False
    i = 0
    while i < len(args) and args[i].static and args[i].text.startswith("-"):
        text = args[i].text
        if text in ("-x", "--exec"):
            direct = True
        if text in WRAPPERS["watch"]:
            i += 1
        i += 1
    rest = args[i:]
    if not rest:
        return None, None
    if direct:
        return rest, None
    return None, Word(" ".join(w.text for w in rest), all(w.static for w in rest))


def _unwrap_flock(args: list[Word]) -> tuple[list[Word] | None, Word | None]:
    """`flock [opts] FILE -c CMD` runs CMD with `sh -c`; `flock [opts] FILE PROG ARGS` runs PROG."""
    rest = _skip_options(args, WRAPPERS["flock"]) or []
    rest = rest[1:]  # the lock file or descriptor
    if rest and rest[0].text in ("-c", "--command"):
        return None, (rest[1] if len(rest) > 1 else Word(""))
    return (rest or None), None


def _fd_exec(args: list[Word]) -> list[list[Word]]:
    """`fd PATTERN -x CMD ARGS [;]`: CMD runs on every file found ({} and friends)."""
    chunks, i = [], 0
    while i < len(args):
        if args[i].text in ("-x", "--exec", "-X", "--exec-batch"):
            j = i + 1
            chunk: list[Word] = []
            while j < len(args) and args[j].text != ";":
                chunk.append(args[j])
                j += 1
            if chunk:
                chunks.append([Word(w.text, False) if "{" in w.text else w for w in chunk] + [DYNAMIC])
            i = j
        i += 1
    return chunks


def _find_exec(args: list[Word]) -> list[list[Word]]:
    """The commands of -exec/-ok; `{}` stands for what find finds: under its starting paths."""
    starts = []
    for word in args:
        if word.text.startswith(("-", "(", "!")):
            break
        starts.append(word)
    found = starts[0] if len(starts) == 1 else (DYNAMIC if starts else Word("."))
    chunks, i = [], 0
    while i < len(args):
        if args[i].text in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            chunk: list[Word] = []
            while j < len(args) and args[j].text not in (";", "+"):
                chunk.append(found if args[j].text == "{}" else args[j])
                j += 1
            if chunk:
                chunks.append(chunk)
            i = j
        i += 1
    return chunks


def parse(text: str) -> Parsed:
    walker = _Walker(depth=0)
    walker.walk(text)
    if not walker.commands and not walker.problems and text.strip():
        walker.problems.append("no command found")
    return Parsed(walker.commands, walker.problems)
