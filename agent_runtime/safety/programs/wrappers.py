"""Wrappers: programs that run another command (sudo, env, timeout, xargs, watch, flock, time,
...). What they run is judged as a command of its own (commandline.py unwraps it with these
functions); their own options are described here once, also the ones that write or read a file
(`time -o FILE`, `xargs -a FILE`)."""

from __future__ import annotations

from agent_runtime.safety.programs.base import Effects
from agent_runtime.safety.shellwords import DYNAMIC, SimpleCommand, Word

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
    "watch": {"-n", "-d", "--interval", "--differences"},
    "setsid": set(),
    "unbuffer": set(),
    "flock": {"-w", "-E", "--timeout", "--conflict-exit-code"},
    "chroot": {"--userspec", "--groups"},
    "valgrind": set(),
}


def skip_options(args: list[Word], with_value: set[str]) -> list[Word] | None:
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


def option_value(args: list[Word], names: tuple[str, ...]) -> Word | None:
    for i, word in enumerate(args):
        if word.text in names and i + 1 < len(args):
            return args[i + 1]
    return None


def unwrap_env(args: list[Word], cmd: SimpleCommand) -> tuple[list[Word] | None, Word | None]:
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


def split_string(text: Word) -> list[Word]:
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


def replace_string(args: list[Word], placeholder: str) -> list[Word]:
    """Arguments with `placeholder` (xargs -I {}, find's {}) hold text read at run time."""
    return [Word(w.text, False) if placeholder in w.text else w for w in args]


# xargs's options, for both what it runs (unwrap_xargs) and what it reads (xargs -a FILE).
XARGS_SHORT_VALUES = "adEILnPs"  # the value attached, or the next argument
XARGS_SHORT_OPTIONAL = "iel"  # -i[R], -l[N], -e[EOF]: a value only when attached
XARGS_LONG_VALUES = {"--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars", "--max-lines",
                     "--process-slot-var"}


def xargs_options(args: list[Word]) -> tuple[int, str | None, list[Word]]:
    """(where the command starts, the replace string of -I/-i/--replace or None, the files -a reads)."""
    replace: str | None = None
    files: list[Word] = []
    i = 0
    while i < len(args):
        word, text = args[i], args[i].text
        if not word.static or text == "--" or not text.startswith("-") or text == "-":
            break
        following = args[i + 1] if i + 1 < len(args) else None
        if text.startswith("--"):
            name, eq, value = text.partition("=")
            if name == "--replace":
                replace = value or "{}"  # --replace[=R]: the value is optional, and only attached
            elif name in XARGS_LONG_VALUES:
                value_word = Word(value) if eq else following
                i += 0 if eq else 1
                if name == "--arg-file" and value_word is not None:
                    files.append(value_word)
            i += 1
            continue
        for j, letter in enumerate(text[1:], start=2):
            if letter in XARGS_SHORT_VALUES:
                value = text[j:]
                value_word = Word(value) if value else following
                i += 0 if value else 1
                if letter == "a" and value_word is not None:
                    files.append(value_word)
                elif letter == "I":
                    replace = value_word.text if value_word is not None else "{}"
                break
            if letter in XARGS_SHORT_OPTIONAL:
                if letter == "i":
                    replace = text[j:] or "{}"  # -i[R]
                break
        i += 1
    return i, replace, files


def unwrap_xargs(args: list[Word]) -> list[Word]:
    """The command xargs runs; what it reads from its input becomes arguments only known at run time."""
    i, replace, _ = xargs_options(args)
    if i < len(args) and args[i].static and args[i].text == "--":
        i += 1
    inner = args[i:] or [Word("echo")]  # xargs runs echo when given no command
    if replace is not None:
        return replace_string(inner, replace)
    return inner + [DYNAMIC]  # xargs appends arguments read from stdin


def xargs(args: list[Word], eff: Effects) -> None:
    """-a FILE reads the arguments from FILE and hands them to the command, so `xargs -a.env echo`
    prints the file."""
    for word in xargs_options(args)[2]:
        eff.reads.append((word, "xargs -a reads the arguments from"))


def unwrap_watch(args: list[Word]) -> tuple[list[Word] | None, Word | None]:
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


def unwrap_flock(args: list[Word]) -> tuple[list[Word] | None, Word | None]:
    """`flock [opts] FILE -c CMD` runs CMD with `sh -c`; `flock [opts] FILE PROG ARGS` runs PROG."""
    rest = skip_options(args, WRAPPERS["flock"]) or []
    rest = rest[1:]  # the lock file or descriptor
    if rest and rest[0].text in ("-c", "--command"):
        return None, (rest[1] if len(rest) > 1 else Word(""))
    return (rest or None), None


def time_like(args: list[Word], eff: Effects, how: str) -> None:
    """time, strace, ltrace: `-o FILE` writes (only the wrapper's own options, before the command it runs)."""
    for i, word in enumerate(args):
        if not word.static or not word.text.startswith("-"):
            break
        if word.text in ("-o", "--output") and i + 1 < len(args):
            eff.writes.append((args[i + 1], f"{how} -o writes"))
        elif word.text.startswith("--output="):
            eff.writes.append((Word(word.text.split("=", 1)[1]), f"{how} -o writes"))


def flock(args: list[Word], eff: Effects) -> None:
    """`flock FILE ...` opens its lock file, creating it when missing; it never reads or prints it.
    `flock 9` locks a descriptor the shell opened."""
    rest = skip_options(args, WRAPPERS["flock"]) or []
    if rest and not (rest[0].static and rest[0].text.isdigit()):
        eff.writes.append((rest[0], "flock creates its lock file"))


HANDLERS = {"xargs": xargs, "flock": flock, "time": lambda a, e: time_like(a, e, "time"),
            "strace": lambda a, e: time_like(a, e, "strace"), "ltrace": lambda a, e: time_like(a, e, "ltrace")}
