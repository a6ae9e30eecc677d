"""Programs with a language of their own that can run a shell: sqlite3's `.shell` and
`.system`, vim's `:!` (also ex, vi, nvim, view), gdb's `!`/`shell`/`pipe`, dc's `!`, ed's commands
and emacs' Lisp. What they are told on the command line is read: a shell command inside is judged as
a command of its own (programs/launchers.py's Runs, which the parser walks); any other command of
their language that can run programs or change files, and commands they read from their input or a
file, cannot be judged here and ask. Plain uses (`sqlite3 app.db 'select 1'`, `gdb -batch -ex run
-ex bt ./prog`, `vim -es -c '%s/a/b/g' -c wq f`) are judged as they were.
"""

from __future__ import annotations

import re

from agent_runtime.safety.programs.base import Effects
from agent_runtime.safety.programs.launchers import Runs, strict_options
from agent_runtime.safety.shellwords import Word

# --- sqlite3 ---

SQLITE_VALUES = {"-cmd", "-init", "-separator", "-newline", "-nullvalue", "-mmap", "-lookaside", "-pagecache",
                 "-heap", "-maxsize", "-vfs", "-nonce", "-escape"}
# dot-commands whose argument `|CMD` runs CMD through the shell, and those that write their argument
SQLITE_PIPES = {".once", ".output", ".import", ".read", ".log", ".trace"}
SQLITE_WRITES = {".once", ".output", ".save", ".backup", ".log", ".trace", ".clone"}
SQLITE_CODE = {".load": "loads a library (native code)", ".read": "runs the commands of a file",
               ".excel": "opens another program", ".edit": "opens an editor", ".open": "opens another database",
               ".archive": "packs or unpacks files", ".ar": "packs or unpacks files",
               ".cd": "changes the directory the rest runs in", ".restore": "replaces the database"}
# SQL functions and tables of the sqlite3 shell that read or write files or run programs (fsdir() returns
# each file's content: `select data from fsdir('.env')` prints it)
SQLITE_FUNCTIONS = re.compile(r"\b(writefile|readfile|edit|load_extension|fts3_tokenizer|fsdir|zipfile|"
                              r"sqlar_uncompress)\s*\(", re.I)


def _sqlite(args: list[Word]) -> tuple[Runs, list[tuple[Word, str]]]:
    """What sqlite3 runs, and the files its dot-commands write ("... writes") or read ("... reads")."""
    out, writes = Runs(label="sqlite3 .shell"), []
    texts: list[Word] = []
    positionals = 0
    i = 0
    while i < len(args):
        word = args[i]
        name = "-" + word.text.lstrip("-") if word.static and word.text.startswith("-") else ""
        if name in SQLITE_VALUES:
            value = args[i + 1] if i + 1 < len(args) else Word("")
            if name == "-cmd":
                texts.append(value)
            elif name == "-init":
                out.unknown = "sqlite3 -init runs the commands of a file, where .shell runs programs"
            i += 2
            continue
        if name in ("-A", "-zip") or name.startswith("-A"):
            out.unknown = "sqlite3 -A packs or unpacks files the policy does not see"
        elif not name or word.text == "-":
            positionals += 1
            if positionals > 1:
                texts.append(word)  # after the database: SQL or dot-commands, run in order
        i += 1
    if not texts and not out.unknown:
        out.unknown = "sqlite3 reads its commands from its input, where .shell runs programs"
    for text in texts:
        if not text.static:
            out.unknown = "sqlite3 is given commands only known at run time"
            continue
        found = SQLITE_FUNCTIONS.search(text.text)
        if found:
            out.unknown = f"sqlite3's {found.group(1)}() reads or writes files, or runs programs, unseen here"
        if text.text.startswith("."):  # a dot-command: the whole argument, its lines joined by spaces
            _dot_command(text.text[1:], out, writes)
        for line in text.text.splitlines()[1:]:  # SQL; a line that looks like a dot-command is judged anyway
            if line.strip().startswith("."):
                _dot_command(line.strip()[1:], out, writes)
    return out, writes


def _sqlite_words(line: str) -> list[str] | None:
    """A dot-command's words as sqlite3 splits them (shell.c): spaces separate, a word that starts with a
    quote ends at the same quote. None: a backslash escape inside "..." (resolved by rules not followed here)."""
    words, i, n = [], 0, len(line)
    while i < n:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            break
        if line[i] in "'\"":
            delim, start = line[i], i + 1
            i += 1
            while i < n and line[i] != delim:
                i += 2 if line[i] == "\\" and delim == '"' and i + 1 < n else 1
            word = line[start:i]
            i += 1
            if delim == '"' and "\\" in word:
                return None
            words.append(word)
        else:
            start = i
            while i < n and not line[i].isspace():
                i += 1
            words.append(line[start:i])
    return words


SQLITE_DOTS = ("shell", "system", *(name[1:] for name in SQLITE_PIPES | SQLITE_WRITES | set(SQLITE_CODE)))


def _dot_command(line: str, out: Runs, writes: list[tuple[Word, str]]) -> None:
    words = _sqlite_words(line)
    if words is None:
        out.unknown = "sqlite3 is given a dot-command with escapes this check does not follow"
        return
    if not words:
        return
    # sqlite3 takes any prefix of a dot-command's name (`.sh` is `.shell`): each command it may be is judged
    name, args = words[0].lower(), words[1:]
    meant = {f".{full}" for full in SQLITE_DOTS if full.startswith(name)}
    first = args[0] if args else ""
    if meant & {".shell", ".system"}:  # sqlite3 puts "..." around a word with a space, then runs system()
        out.scripts.append(Word(" ".join(f'"{a}"' if " " in a else a for a in args)))
    if meant & SQLITE_PIPES and first.startswith("|"):
        out.scripts.append(Word(first[1:]))
    for command in sorted(meant & set(SQLITE_CODE)):
        out.unknown = f"sqlite3 {command} {SQLITE_CODE[command]}"
    if meant & {".once", ".output"} and first in ("-x", "-e", "-w"):
        out.unknown = f"sqlite3 {words[0]} {first} opens another program"
    elif meant & SQLITE_WRITES and args and not args[-1].startswith(("-", "|")):
        writes.append((Word(args[-1]), f"sqlite3 .{name} writes"))
    if ".import" in meant:  # `.import FILE TABLE` reads FILE into the database, for a select to print
        named = [a for a in args if not a.startswith(("-", "|"))]
        if named:
            writes.append((Word(named[0]), "sqlite3 .import reads"))


def sqlite3(args: list[Word]) -> Runs:
    return _sqlite(args)[0]


def sqlite3_files(args: list[Word], eff: Effects) -> None:
    for word, how in _sqlite(args)[1]:
        (eff.reads if how.endswith(" reads") else eff.writes).append((word, how))


# --- vim, vi, ex, nvim, view ---

VIM_FLAGS = {"-b", "-C", "-d", "-D", "-E", "-e", "-es", "-Es", "-f", "-g", "-h", "-H", "-l", "-L", "-m", "-M",
             "-n", "-N", "-nb", "-R", "-r", "-v", "-V", "-x", "-X", "-y", "-Z", "-A", "-F", "--help", "--version",
             "--noplugin", "--clean", "--headless", "--not-a-term", "--ttyfail", "--nofork", "--literal",
             "--embed", "-"}
VIM_VALUES = {"-T", "-t", "-q", "-i", "-U", "-u", "--startuptime", "--servername", "--listen", "--log", "-W", "-w"}
VIM_SAFE_RC = {"NONE", "NORC", "DEFAULTS"}
_VIM_QUIT = re.compile(r"^(wq|wqa|wqall|x|xit|xa|xall|exit|q|quit|qa|qall|quitall|cq|cquit)!?$")
_VIM_SAFE = re.compile(
    r"^(w|write|wa|wall|up|update|wq|wqa|wqall|x|xit|xa|xall|exit|q|quit|qa|qall|quitall|cq|cquit|e|edit|"
    r"retab|syntax\s+(on|off)|filetype\s+(on|off|plugin\s+on|indent\s+on)|noh|nohlsearch)!?$"
    r"|^(set|se|setlocal|setl)\s+(no)?(expandtab|et|ff=(unix|dos|mac)|fileformat=(unix|dos|mac)|bomb|eol|fixeol|"
    r"binary|bin|(ts|sw|sts|tw|tabstop|shiftwidth|softtabstop|textwidth)=\d+|(ft|filetype)=\w+|"
    r"(fenc|fileencoding)=[\w-]+)(\s|$)"
    r"|^([%.$,\d'<>]*)\s*(s|substitute)/([^\\/]|\\[^=])*/([^\\/]|\\[^=])*/[gIice]*$"  # no \= expressions
    r"|^[%.$,\d'<>]*\s*(d|delete)$"
    r"|^[gv]!?/([^\\/]|\\.)*/\s*(d|delete)$"
    r"|^\d+$")
# `:!cmd`, `:r !cmd`, `:w !cmd`, `:%!filter` (with `silent`): the rest is a shell command
_VIM_SHELL = re.compile(r"^(?:sil(?:ent)?!?\s+)?(?:[%.$,\d'<>]*\s*!|r(?:ead)?\s*!|w(?:rite)?\s+!|sh(?:ell)?$|"
                        r"ter(?:minal)?\b)(.*)$", re.S)
VIM_PROGRAMS = ("vim", "vi", "nvim", "ex", "view", "vimdiff", "gvim", "gview", "evim", "exim", "vim.basic",
                "vim.tiny", "vim.nox", "vim.gtk3", "nvi")


def vim_command(text: str, out: Runs, program: str) -> None:
    command = text.strip().lstrip(":").strip()
    shell = _VIM_SHELL.match(command)
    if shell:
        out.scripts.append(Word(shell.group(1).strip() or "sh"))  # `:sh`, `:terminal`: an interactive shell
        return
    for part in command.split("|") if "|" in command and not command.startswith(("g", "v")) else [command]:
        part = part.strip()
        if _VIM_SHELL.match(part):
            vim_command(part, out, program)
        elif part and not _VIM_SAFE.match(part):
            out.unknown = (f"{program} runs the editor command {part[:60]!r}, and its commands can run programs "
                           "or change files in ways the policy cannot read")


def vim(program: str):
    def unwrap(args: list[Word]) -> Runs:
        out, commands, ex_mode, i = Runs(label=f"{program} :!"), [], program in ("ex", "exim"), 0
        while i < len(args):
            word = args[i]
            text = word.text
            if not word.static:
                if text.startswith(("-", "+")) or (i and args[i - 1].text in ("-c", "--cmd")):
                    out.unknown = f"{program} is given options only known at run time"
                i += 1
                continue
            if text in ("-c", "--cmd"):
                commands.append(args[i + 1] if i + 1 < len(args) else Word(""))
                i += 2
                continue
            if text.startswith("+") and not re.fullmatch(r"\+\d*|\+/.*|\+\?.*", text):
                commands.append(Word(text[1:]))
            elif text in ("-e", "-E", "-es", "-Es", "-s") and (text != "-s" or ex_mode):
                ex_mode = True
            elif text in ("-S", "-s") or (program == "nvim" and text in ("-l", "--remote", "--server")):
                out.unknown = f"{program} {text} runs editor commands from a file"
            elif text in VIM_VALUES:
                value = args[i + 1].text if i + 1 < len(args) else ""
                if text in ("-u", "-U") and value not in VIM_SAFE_RC:
                    out.unknown = f"{program} {text} {value} runs editor commands from a file"
                elif text in ("-w", "-W"):
                    out.unknown = f"{program} {text} writes what is typed to a file"
                i += 2
                continue
            elif text.startswith("-") and text not in VIM_FLAGS and not re.fullmatch(r"-[oOpV]\d*\S*", text):
                out.unknown = f"{program} {text}: an option not known here"
            i += 1
        for command in commands:
            if not command.static:
                out.unknown = f"{program} runs editor commands only known at run time"
            else:
                vim_command(command.text, out, program)
        if ex_mode and not any(_VIM_QUIT.match(c.text.strip().lstrip(":").strip()) for c in commands):
            out.unknown = f"{program} in ex mode reads editor commands from its input, and they can run programs"
        return out
    return unwrap


# --- gdb ---

GDB_FLAGS = {"batch", "batch-silent", "q", "quiet", "silent", "nx", "n", "nh", "tui", "readnow", "readnever",
             "statistics", "version", "help", "configuration", "return-child-result", "nw", "nowindows",
             "write", "dbx", "w", "windows", "args"}
GDB_VALUES = {"cd", "d", "directory", "s", "symbols", "e", "exec", "se", "c", "core", "tty", "b", "l",
              "D", "data-directory", "i", "interpreter", "ex", "eval-command", "iex", "init-eval-command"}
_GDB_SAFE = re.compile(
    r"^(bt|backtrace|where)(\s+(full|-?\d+|-full))*$|^info(\s+[\w-]+)*$|^i\s+\w+$|^(r|run|start|starti|c|continue|"
    r"n|next|s|step|ni|si|finish|fin|kill|k|q|quit|up|down|list|l|disassemble|disas)(\s+-?\d+)?$|"
    r"^(f|frame)\s+\d+$|^thread\s+apply\s+all\s+(bt|backtrace)(\s+full)?$|"
    r"^set\s+(pagination|confirm|print\s+pretty|print\s+elements|width|height|verbose)\s+(on|off|\d+)$|"
    r"^(p|print|output|display|x)(/\w+)?\s+[\w.\->\[\]*& ]+$|^(b|break|tbreak)\s+[\w.:]+$|^echo\s[^$`]*$")


def gdb_command(text: str, out: Runs) -> None:
    command = text.strip()
    shell = re.match(r"^(?:!|shell\b)(.*)$", command, re.S)
    if shell:
        out.scripts.append(Word(shell.group(1).strip() or "sh"))
        return
    piped = re.match(r"^(?:pipe\s+|\|)[^|]*\|(.*)$", command, re.S)
    if piped and not command.startswith(("pipe -d", "| -d")):
        out.scripts.append(Word(piped.group(1).strip()))
        return
    ran = re.match(r"^(r|run|start|starti)\s+(.+)$", command, re.S)
    if ran:  # gdb starts the program through a shell, with these arguments
        out.scripts.append(Word(": " + ran.group(2)))
        return
    if not _GDB_SAFE.match(command):
        out.unknown = (f"gdb runs the command {command[:60]!r}, and gdb's commands can run programs, code or "
                       "change files in ways the policy cannot read")


def gdb(args: list[Word]) -> Runs:
    out, commands, i = Runs(label="gdb !"), [], 0
    program: list[Word] = []
    while i < len(args):
        word = args[i]
        if not word.static:
            out.unknown = "gdb is given arguments only known at run time"
            i += 1
            continue
        name, eq, value = word.text.lstrip("-").partition("=")
        if not word.text.startswith("-") or word.text == "-":
            if program and re.fullmatch(r"\d+", word.text):
                out.unknown = f"gdb {program[0].text} {word.text} attaches to another process"
            program = program or [word]
            i += 1
            continue
        if name == "args":
            program = args[i + 1:]
            break
        if name in ("x", "command", "ix", "init-command"):
            out.unknown = f"gdb {word.text} runs the commands of a file"
        elif name in ("p", "pid"):
            out.unknown = f"gdb {word.text} attaches to another process"
            i += 1 if eq else 2
            continue
        elif name in GDB_VALUES:
            given = Word(value) if eq else (args[i + 1] if i + 1 < len(args) else Word(""))
            if name in ("ex", "eval-command", "iex", "init-eval-command"):
                commands.append(given)
            i += 1 if eq else 2
            continue
        elif name not in GDB_FLAGS:
            out.unknown = f"gdb {word.text}: an option not known here"
        i += 1
    for command in commands:
        if command.static:
            gdb_command(command.text, out)
        else:
            out.unknown = "gdb runs commands only known at run time"
    if program:
        out.argvs.append(program)  # what it debugs runs when told to `run`
    return out


# --- ed, dc, emacs ---


def ed(args: list[Word]) -> Runs:
    if args and all(w.static and w.text in ("--version", "-V", "--help", "-h") for w in args):
        return Runs(label="ed")
    return Runs(unknown="ed reads its commands from its input, and `!` among them runs programs", label="ed")


def dc(args: list[Word]) -> Runs:
    out = Runs(label="dc !")
    opts, rest, why = strict_options(args, "hV", "ef", {"--help", "--version"}, {"--expression", "--file"}, "dc")
    if why:
        return Runs(unknown=why, label="dc")
    for name in ("-e", "--expression"):
        code = opts.get(name)
        if code is not None and "!" in code.text:
            out.unknown = "dc's `!` runs a shell command the policy cannot separate from dc's own code"
    if not rest and not any(n in opts for n in ("-e", "--expression", "-f", "--file", "-h", "-V", "--help",
                                                "--version")):
        out.unknown = "dc reads its program from its input, and `!` in it runs programs"
    return out


EMACS_CODE = ("--eval", "-eval", "--execute", "-execute", "-l", "--load", "-load", "-f", "--funcall", "-funcall",
              "--script", "-script", "-x", "-u", "--user", "-L", "--directory", "--init-directory")


def emacs(args: list[Word]) -> Runs:
    for word in args:
        if not word.static or word.text.split("=")[0] in EMACS_CODE:
            return Runs(unknown=f"emacs {word.text.split('=')[0]} runs Lisp code, which can run programs",
                        label="emacs")
    return Runs(label="emacs")


UNWRAP = {"sqlite3": sqlite3, "gdb": gdb, "ed": ed, "dc": dc, "emacs": emacs,
          **{name: vim(name) for name in VIM_PROGRAMS}}
HANDLERS = {"sqlite3": sqlite3_files}
