"""What a shell command string would run, read with a real parser (tree-sitter-bash).

`parse(text)` returns every simple command that could run: inside lists, pipelines,
subshells, groups, if/for/while/case, command and process substitutions, and inside
wrappers (sudo, env, timeout, xargs, find -exec, fd -x, watch, flock -c, script -c, parallel,
chrt, git bisect run, ...), shell escapes (sqlite3 .shell, vim :!, gdb !), `sh -c` / `eval`
strings, here-strings and heredocs a shell or `. /dev/stdin` reads, and `env -S` strings
(split by env's own rules). Quoting and escaping are
resolved (`r''m`, `\\rm`, `/bin/rm` are all `rm`). Words whose value is only known at run
time ($VAR, $(...), what xargs -I puts in place of {}) are marked dynamic; `$(echo WORD)` is
WORD. Unquoted patterns ({a,b}, *) are marked so the policy can expand them. Shell variables a
command sets (x=1, export, read, for, printf -v) are recorded: PATH or IFS change what runs
next. Anything the parser cannot read is reported in `problems`, so the policy can refuse to
allow it. What each program does with its arguments (sed scripts, output files), and which programs
are wrappers, shells or interpreters, is in programs/.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache
from pathlib import Path

from agent_runtime.safety.programs import RUNS, runs
from agent_runtime.safety.programs.base import normalize_program
from agent_runtime.safety.programs.files import find_exec
from agent_runtime.safety.programs.interpreters import INTERPRETERS, SHELLS, interpreter_code, shell_script
from agent_runtime.safety.programs.launchers import plausible
from agent_runtime.safety.programs.runners import RUNNER_OPTIONS, RUNNERS
from agent_runtime.safety.programs.search import fd_exec
from agent_runtime.safety.programs.shell import variables_set
from agent_runtime.safety.programs.wrappers import (
    WRAPPERS,
    option_value,
    skip_options,
    split_string,
    unwrap_env,
    unwrap_flock,
    unwrap_watch,
    unwrap_xargs,
)
from agent_runtime.safety.shellwords import DYNAMIC, Parsed, Redirect, SimpleCommand, Word

__all__ = ["DYNAMIC", "Parsed", "Redirect", "SimpleCommand", "Word", "parse"]

MAX_DEPTH = 6  # nested sh -c / eval strings


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
    if name == "PWD":
        return "."
    if name == "OLDPWD":
        return "~-"  # the previous directory, only known at run time: the policy expands `~-` (policy/tilde.py)
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
            for cmd in made:  # each stage runs in a subshell (`shopt -s lastpipe` asks: see shell.py)
                cmd.subshell = True
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
            made_here = self.statement(child, via, fed_by)
            following = child.next_sibling
            if kind == "subshell" or (following is not None and following.type == "&"):
                for cmd in made_here:  # `( ... )`, or `... &`: a subshell of its own
                    cmd.subshell = True
            made += made_here
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
                if body_text is not None and command.input_script:
                    command.opaque_code, command.input_script = None, False  # the heredoc is the script: judge it
                    self._run_script(Word(body_text), command, f"{command.program} <<heredoc")
            return out
        if node.type == "herestring_redirect":
            self.herestring(node, made)
            return []
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
        herestrings = []
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
            elif child.type == "file_redirect":
                redirects += self.redirect(child)
            elif child.type == "herestring_redirect":
                herestrings.append(child)
            else:
                before = len(self.commands)
                argv.append(self.word(child))
                subs |= {c.program for c in self.commands[before:] if c.program}
        cmd = SimpleCommand(argv, assignments, redirects, via, set(fed_by) | subs)
        made = self.effective(cmd)
        for child in herestrings:
            made += self.herestring(child, [cmd])
        return made

    def herestring(self, node, made: list[SimpleCommand]) -> list[SimpleCommand]:
        """`bash <<< 'CMD'`, `. /dev/stdin <<< 'CMD'`: the here-string is the script, judged as one."""
        self.substitutions_in(node)
        named = node.named_children
        if not named:
            return []
        text = _Walker(self.depth).word(named[-1])  # its substitutions were walked just above
        ran: list[SimpleCommand] = []
        for command in list(made):
            if command.input_script:
                command.opaque_code, command.input_script = None, False
                ran += self._run_script(Word(text.text + "\n", text.static), command, f"{command.program} <<<")
        return ran

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
            script, rest = shell_script(args)
            cmd.input_script = script is None  # a heredoc or here-string is judged (a script file may read it)
            if script is None and (not rest or rest[0].text == "-"):
                cmd.opaque_code = f"{program} runs commands read from its input"
        elif program in INTERPRETERS:
            cmd.opaque_code = interpreter_code(program, args)
        elif program == "eval":
            script = Word(" ".join(w.text for w in args), all(w.static for w in args))
        elif program == "su":
            script = option_value(args, ("-c", "--command"))
        elif program == "env":
            inner, script = unwrap_env(args, cmd)
            if script is not None:
                # `env -S STRING` splits by its own rules (\_ is a space, ${VAR} expands), not the shell's:
                # what it runs is judged as split that way, and it is never allowed on its own.
                cmd.opaque_code = "env -S splits a string into a command by rules of its own"
                inner = split_string(script) if script.static else [DYNAMIC]
                script = None
        elif program in ("read", "printf", "mapfile", "readarray", "getopts"):
            cmd.variables += variables_set(program, args)
        elif program == "find":
            for chunk in find_exec(args):
                made += self._run_inner(chunk, cmd, "find -exec")
        elif program in ("fd", "fdfind"):
            for chunk in fd_exec(args):
                made += self._run_inner(chunk, cmd, f"{program} --exec")
        elif program == "watch":
            inner, script = unwrap_watch(args)
        elif program == "flock":
            inner, script = unwrap_flock(args)
        elif program == "xargs":
            inner = unwrap_xargs(args)
        elif program in RUNS:
            found = runs(program, args)
            assert found is not None
            if found.chdir is not None:
                cmd.chdir = found.chdir
            ran: list[SimpleCommand] = []
            for argv in found.argvs:
                ran += self._run_inner(argv, cmd, found.label or program)
            for text in found.scripts:
                ran += self._run_script(text, cmd, found.label or program)
            made += ran
            cmd.input_script = found.from_input
            if found.unknown:  # what it runs cannot be read here: never allowed without a person
                cmd.opaque_code = found.unknown
            cmd.transparent = found.pure and bool(found.argvs or found.scripts) and not found.unknown and all(
                text.static for text in found.scripts)
        elif program in RUNNERS and args and args[0].text == "run":
            inner = skip_options(args[1:], RUNNER_OPTIONS)
            label = f"{program} run"
        elif program in WRAPPERS:
            inner = skip_options(args, WRAPPERS[program])
            if program in ("timeout",) and inner:
                inner = inner[1:]  # the duration
            if program in ("taskset", "chroot") and inner:
                inner = inner[1:]
            if inner and not plausible(inner):  # an option misread: "10" is not what it runs
                cmd.opaque_code = f"{program}: {inner[0].text!r} cannot be the program it runs"
                inner = None
        if inner:
            made += self._run_inner(inner, cmd, label)
            cmd.transparent = True
        if script is not None:
            made += self._run_script(script, cmd, f"{label} -c")
            cmd.transparent = script.static
        return made

    def _run_inner(self, argv: list[Word], outer: SimpleCommand, label: str) -> list[SimpleCommand]:
        inner = SimpleCommand(list(argv), [], [], label, set(outer.fed_by), chdir=outer.chdir)
        made = self.effective(inner)
        for command in made:
            command.through = command.through or label
        return made

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
            command.through = command.through or label
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


def parse(text: str) -> Parsed:
    walker = _Walker(depth=0)
    walker.walk(text)
    if not walker.commands and not walker.problems and text.strip():
        walker.problems.append("no command found")
    return Parsed(walker.commands, walker.problems)
