"""Programs that run a command given to them as an argument: `script -c`, GNU `parallel`,
`chrt`, `taskset`, `ionice`, `firejail`, `xvfb-run`, `dbus-run-session`, `busybox`, `cmake -E`,
moreutils' `ifne`/`chronic`, `numactl`, `setarch`, `faketime`, `bundle exec`, `conda run`, `perf stat`,
`git bisect run`, `git submodule foreach`, `git rebase -x`, a `git -c alias.x='!...'`, `source
/dev/stdin`. Programs that run many commands (GNU parallel, hyperfine, entr, pee) are in
programs/fanout.py; programs with a language of their own that can run a shell (sqlite3, vim, gdb,
ed, emacs) in programs/escapes.py.

`runs(program, args)` says what such a program runs: commands (argv), shell strings, or why it
cannot be known here (read from its input, a file, a variable): then it is never allowed without
a person. The parser (commandline.py) judges what it runs as commands of their own, so a wrapper
is allowed only when what it runs is; an option a launcher's parser does not know makes where the
command starts uncertain, which asks too, rather than judging a wrong word as the program.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Callable

from agent_runtime.safety.programs.base import Effects, Scanned, scan
from agent_runtime.safety.shellwords import Word


@dataclass
class Runs:
    argvs: list[list[Word]] = field(default_factory=list)  # commands run as given (no shell)
    scripts: list[Word] = field(default_factory=list)  # shell strings
    unknown: str | None = None  # what it runs cannot be known here: why
    label: str = ""
    from_input: bool = False  # the shell script it runs is its input: a heredoc or here-string is judged
    chdir: Word | None = None  # the directory what it runs starts in (`cmake -E chdir DIR CMD`)
    # only runs what it is given (a wrapper): judged by that alone. A program that also does things of its
    # own (sqlite3, vim, gdb, git, cmake, man) is judged as itself too, by the rules or the default.
    pure: bool = True


# A word that cannot be a program: a priority, a CPU mask or list, a duration. When a wrapper's parser
# lands on one, it has misread an option, and judging "10" as an unknown program would hide the command.
_NOT_A_PROGRAM = re.compile(r"[0-9][0-9a-fA-Fx,.:\-]*|[-+].*|")


def plausible(argv: list[Word]) -> bool:
    return not argv or not argv[0].static or not _NOT_A_PROGRAM.fullmatch(argv[0].text)


def strict_options(args: list[Word], flags: str, values: str, long_flags: set[str], long_values: set[str],
                   program: str) -> tuple[dict[str, Word | None], list[Word], str | None]:
    """Options up to the first operand (or `--`), every one known: (options, the rest, why not)."""
    found: dict[str, Word | None] = {}
    i = 0
    while i < len(args):
        word = args[i]
        text = word.text
        if not word.static:
            return found, args[i:], None
        if text == "--":
            return found, args[i + 1:], None
        if not text.startswith("-") or text == "-":
            return found, args[i:], None
        if text.startswith("--"):
            name, eq, value = text.partition("=")
            if name in long_values:
                if eq:
                    found[name] = Word(value)
                else:
                    found[name] = args[i + 1] if i + 1 < len(args) else Word("")
                    i += 1
            elif name in long_flags and not eq:
                found[name] = None
            else:
                return found, [], f"{program} {name}: an option not known here, so what it runs is uncertain"
            i += 1
            continue
        for j, letter in enumerate(text[1:], start=2):
            if letter in values:
                value = text[j:]
                if not value:
                    value_word = args[i + 1] if i + 1 < len(args) else Word("")
                    i += 1
                else:
                    value_word = Word(value)
                found[f"-{letter}"] = value_word
                break
            if letter not in flags:
                return found, [], f"{program} -{letter}: an option not known here, so what it runs is uncertain"
            found[f"-{letter}"] = None
        i += 1
    return found, [], None


def command_after(rest: list[Word], label: str, skip: int = 0, why: str = "") -> Runs:
    """The command after `skip` operands (a priority, a mask); none: the launcher runs nothing."""
    argv = rest[skip:]
    if not argv:
        return Runs(unknown=why or None, label=label)
    if not plausible(argv):
        return Runs(unknown=f"{label}: {argv[0].text!r} cannot be the program it runs, so its options were "
                            "misread", label=label)
    return Runs(argvs=[argv], label=label)


# --- util-linux and friends: scheduling, sandboxes, sessions ---


SCRIPT_SHORT_VALUES = "cEIOBTmo"
SCRIPT_LONG_VALUES = {"--command", "--echo", "--log-in", "--log-out", "--log-io", "--log-timing", "--logging-format",
                      "--output-limit"}


def _script_args(args: list[Word]) -> tuple[Scanned, list[Word]]:
    """script's options may follow its file (getopt permutes): (options and operands, the words after `--`)."""
    texts = [w.text if w.static else "" for w in args]
    cut = texts.index("--") if "--" in texts else len(args)
    return scan(args[:cut], SCRIPT_SHORT_VALUES, SCRIPT_LONG_VALUES), args[cut + 1:]


def _script_bsd(args: list[Word]) -> list[Word]:
    i = 0
    while i < len(args) and args[i].static and args[i].text.startswith("-") and args[i].text != "--":
        text = args[i].text
        first = next((k for k, c in enumerate(text) if k and c in SCRIPT_SHORT_VALUES), None)
        takes = text in SCRIPT_LONG_VALUES or (not text.startswith("--") and first == len(text) - 1)
        i += 2 if takes else 1  # a value letter last in its cluster takes the next word
    return args[i + 1:] if i < len(args) and args[i].text != "--" else []


def script(args: list[Word]) -> Runs:
    """util-linux `script [opts] [-c CMD] [FILE] [-- CMD ARGS]` (BSD: `script [FILE [CMD ARGS]]`):
    CMD runs through the shell; without it the shell reads its commands from the input."""
    found, after = _script_args(args)
    out = Runs(label="script -c")
    out.scripts += found.values("-c", "--command")
    if found.positionals[1:]:
        out.argvs.append(found.positionals[1:])
    bsd = _script_bsd(args)  # BSD script stops at its file: what follows is the command, options and all
    if bsd and bsd != found.positionals[1:]:
        out.argvs.append(bsd)
    if after:
        out.argvs.append(after)
    if not out.scripts and not out.argvs:
        out.unknown = "script runs a shell that reads its commands from its input"
    return out


def script_writes(args: list[Word], eff: Effects) -> None:
    found, _ = _script_args(args)
    for name in ("-I", "-O", "-B", "-T", "--log-in", "--log-out", "--log-io", "--log-timing"):
        for value in found.values(name):
            eff.writes.append((value, f"script {name} writes"))
    target = found.positionals[0] if found.positionals else Word("typescript")
    eff.writes.append((target, "script writes its log to"))


# Options (short flags, short with a value, long flags, long with a value) of the schedulers, which
# both say where the command starts and whether another process is changed.
OPTIONS: dict[str, tuple[str, str, set[str], set[str]]] = {
    "chrt": ("abdfioRrmvhVep", "TPD", {"--all-tasks", "--batch", "--deadline", "--fifo", "--idle", "--other", "--rr",
                                       "--reset-on-fork", "--max", "--verbose", "--help", "--version", "--ext",
                                       "--pid"}, {"--sched-runtime", "--sched-period", "--sched-deadline"}),
    "taskset": ("acphV", "", {"--all-tasks", "--cpu-list", "--help", "--version", "--pid"}, set()),
    "ionice": ("thV", "cnpPu", {"--ignore", "--help", "--version"}, {"--class", "--classdata", "--pid", "--pgid",
                                                                    "--uid"}),
}


def chrt(args: list[Word]) -> Runs:
    opts, rest, why = strict_options(args, *OPTIONS["chrt"], "chrt")
    if why:
        return Runs(unknown=why, label="chrt")
    if "-p" in opts or "--pid" in opts or "-m" in opts or "--max" in opts:
        return Runs(label="chrt")  # another process (processes_handler) or only the limits
    return command_after(rest, "chrt", skip=1)


def taskset(args: list[Word]) -> Runs:
    opts, rest, why = strict_options(args, *OPTIONS["taskset"], "taskset")
    if why:
        return Runs(unknown=why, label="taskset")
    if "-p" in opts or "--pid" in opts:
        return Runs(label="taskset")
    return command_after(rest, "taskset", skip=1)


def ionice(args: list[Word]) -> Runs:
    opts, rest, why = strict_options(args, *OPTIONS["ionice"], "ionice")
    if why:
        return Runs(unknown=why, label="ionice")
    if any(name in opts for name in ("-p", "-P", "-u", "--pid", "--pgid", "--uid")):
        return Runs(label="ionice")
    return command_after(rest, "ionice")


def processes(program: str, names: tuple[str, ...]) -> Callable[[list[Word], Effects], None]:
    """`taskset -p`, `chrt -p`, `ionice -p`, `prlimit --pid`: they change another process."""
    def handler(args: list[Word], eff: Effects) -> None:
        spec = OPTIONS.get(program)
        if spec is not None:
            found = set(strict_options(args, *spec, program)[0])
        else:  # prlimit: resource options carry their values attached
            found = {w.text.split("=")[0] for w in args if w.static and w.text.startswith("-")}
        for name in names:
            if name in found:
                eff.ask("processes", f"{program} {name} changes another process")
                return
    return handler


def firejail(args: list[Word]) -> Runs:
    """firejail's options are `--name` or `--name=value`; the command follows them."""
    rest = list(args)
    while rest and rest[0].static and rest[0].text.startswith("--") and rest[0].text != "--":
        rest = rest[1:]
    if rest and rest[0].text == "--":
        rest = rest[1:]
    if rest and rest[0].static and rest[0].text.startswith("-"):
        return Runs(unknown=f"firejail {rest[0].text}: an option not known here, so what it runs is uncertain")
    return command_after(rest, "firejail")


def xvfb_run(args: list[Word]) -> Runs:
    _, rest, why = strict_options(args, "alh", "efnpsw", {"--auto-servernum", "--listen-tcp", "--help"}, {
        "--error-file", "--auth-file", "--server-num", "--xauth-protocol", "--server-args", "--wait"}, "xvfb-run")
    return Runs(unknown=why, label="xvfb-run") if why else command_after(rest, "xvfb-run")


def dbus_run_session(args: list[Word]) -> Runs:
    rest = list(args)
    while rest and rest[0].static and rest[0].text.startswith("--config-file="):
        rest = rest[1:]
    if rest and rest[0].static and rest[0].text.startswith("--dbus-daemon"):
        return Runs(unknown="dbus-run-session --dbus-daemon runs a program of its own choosing")
    if rest and rest[0].text == "--":
        rest = rest[1:]
    return command_after(rest, "dbus-run-session")


def busybox(args: list[Word]) -> Runs:
    """`busybox APPLET ARGS` (and toybox): the applet is the program."""
    if args and args[0].text == "--":
        args = args[1:]
    if not args or (args[0].static and args[0].text.startswith("-")):
        return Runs(label="busybox")  # --list, --help, --install
    return Runs(argvs=[args], label="busybox")


def prlimit(args: list[Word]) -> Runs:
    """`prlimit [--RESOURCE[=LIMITS]|-xLIMITS]... CMD`: the limits are attached to their option;
    `--pid PID` changes another process (HANDLERS)."""
    rest = list(args)
    while rest and rest[0].static and rest[0].text.startswith("-") and rest[0].text != "--":
        if rest[0].text in ("-p", "--pid", "-o", "--output"):
            if rest[0].text in ("-p", "--pid"):
                return Runs(label="prlimit")
            rest = rest[1:]
        rest = rest[1:]
    if rest and rest[0].text == "--":
        rest = rest[1:]
    return command_after(rest, "prlimit")


def setarch(program: str) -> Callable[[list[Word]], Runs]:
    """`setarch ARCH [opts] CMD`, and its names `linux32`, `linux64`, ... without ARCH."""
    def unwrap(args: list[Word]) -> Runs:
        rest = args[1:] if program == "setarch" and args and not args[0].text.startswith("-") else args
        _, rest, why = strict_options(rest, "vhV3BFILRSTXZ", "", {
            "--verbose", "--help", "--version", "--uname-2.6", "--3gb", "--4gb", "--addr-compat-layout",
            "--addr-no-randomize", "--fdpic-funcptrs", "--mmap-page-zero", "--read-implies-exec", "--short-inode",
            "--sticky-timeouts", "--whole-seconds", "--list", "--show"}, set(), program)
        return Runs(unknown=why, label=program) if why else command_after(rest, program)
    return unwrap


def prefix(program: str, flags: str, values: str, long_flags: frozenset[str] = frozenset(),
           long_values: frozenset[str] = frozenset(), skip: int = 0,
           other: dict[str, str] | None = None) -> Callable[[list[Word]], Runs]:
    """A launcher whose options (all known) come first, then `skip` operands (a user, a time, a
    directory), then the command. `other`: options that make it run something else, or reach elsewhere."""
    def unwrap(args: list[Word]) -> Runs:
        opts, rest, why = strict_options(args, flags, values, set(long_flags), set(long_values) | set(other or {}),
                                         program)
        for name, what in (other or {}).items():
            if name in opts:
                return Runs(unknown=f"{program} {name} {what}", label=program)
        return Runs(unknown=why, label=program) if why else command_after(rest, program, skip=skip)
    return unwrap


def sem(args: list[Word]) -> Runs:
    """GNU parallel's `sem [opts] CMD ARGS`: the words joined, run through the shell."""
    _, rest, why = strict_options(args, "kquv", "jP", {"--fg", "--bg", "--wait", "--semaphore", "--will-cite"},
                                  {"--id", "--semaphorename", "--jobs", "--timeout", "--semaphoretimeout", "--st"},
                                  "sem")
    if why or not rest:
        return Runs(unknown=why or "sem is given no command", label="sem")
    return Runs(scripts=[Word(" ".join(w.text for w in rest), all(w.static for w in rest))], label="sem")


def man(args: list[Word]) -> Runs:
    """`man -P CMD` / `--pager=CMD` runs CMD through the shell; `-H[BROWSER]` / `--html[=BROWSER]` a browser."""
    out = Runs(label="man -P")
    for i, word in enumerate(args):
        text = word.text
        if text in ("-P", "--pager") and i + 1 < len(args):
            out.scripts.append(args[i + 1])
        elif text.startswith("--pager="):
            out.scripts.append(Word(text.split("=", 1)[1], word.static))
        elif text.startswith("-P") and not text.startswith("--") and len(text) > 2:
            out.scripts.append(Word(text[2:], word.static))
        elif text.startswith(("--html", "-H")) or not word.static:
            out.unknown = "man -H opens a browser of its choosing" if word.static else "man is given options " \
                                                                                       "only known at run time"
    return out


def subcommand(program: str, names: tuple[str, ...], inner: Callable[[list[Word]], Runs]) -> Callable[[list[Word]],
                                                                                                       Runs]:
    """`bundle exec CMD`, `conda run CMD`, `direnv exec DIR CMD`, `perf stat CMD`: only that subcommand runs one."""
    def unwrap(args: list[Word]) -> Runs:
        if args and args[0].static and args[0].text in names:
            found = inner(args[1:])
            found.label = f"{program} {args[0].text}"
            return found
        return Runs(label=program)
    return unwrap


PERF_VALUES = frozenset({"--event", "--output", "--repeat", "--field-separator", "--interval-print", "--cgroup",
                         "--cpu", "--freq", "--count", "--mmap-pages", "--call-graph", "--delay", "--branch-filter",
                         "--metrics", "--log-fd", "--switch-output", "--uid", "--tid", "--pid", "--pre", "--post",
                         "--exclude-perf", "--filter", "--clockid", "--aux-sample", "--user-regs", "--intr-regs"})
PERF_FLAGS = frozenset({"--all-cpus", "--verbose", "--quiet", "--no-inherit", "--scale", "--detailed", "--big-num",
                        "--no-big-num", "--null", "--per-socket", "--per-core", "--per-thread", "--per-node",
                        "--raw-samples", "--no-buildid", "--no-buildid-cache", "--timestamp", "--data", "--stat",
                        "--no-samples", "--sample-cpu", "--period", "--phys-data", "--all-user", "--all-kernel",
                        "--topdown", "--transaction", "--append", "--no-aggr", "--summary", "--realtime",
                        "--inherit", "--no-bpf-event", "--kcore", "--timestamp-filename", "--latency",
                        "--json-output", "--iostat", "--smi-cost", "--td-level"})
PERF_OTHER = {"-p": "watches another process", "--pid": "watches another process", "-t": "watches another thread",
              "--tid": "watches another thread", "-a": "watches every process", "--all-cpus": "watches every process",
              "--pre": "runs a command of its own", "--post": "runs a command of its own",
              "-u": "watches another user's processes", "--uid": "watches another user's processes"}


# --- project tools ---


def cmake(args: list[Word]) -> Runs:
    """`cmake -E env|chdir|time ... CMD` runs CMD; `cmake -E rm|remove|...` changes files (judged as rm
    and friends would be); `cmake -P FILE` runs a script of the workspace, as a build does."""
    if len(args) < 2 or args[0].text != "-E" or not args[1].static:
        return Runs(label="cmake")
    tool, rest = args[1].text, args[2:]
    if tool == "env":
        while rest and rest[0].static and ("=" in rest[0].text or rest[0].text.startswith("--unset")):
            rest = rest[1:]
        if rest and rest[0].text == "--":
            rest = rest[1:]
        return command_after(rest, "cmake -E env")
    if tool == "time":
        return command_after(rest, "cmake -E time")
    if tool == "chdir":
        found = command_after(rest, "cmake -E chdir", skip=1)
        found.chdir = rest[0] if rest else None
        return found
    twin = {"rm": "rm", "remove": "rm", "remove_directory": "rm", "rename": "mv", "copy": "cp",
            "copy_directory": "cp", "copy_if_different": "cp", "make_directory": "mkdir", "touch": "touch",
            "touch_nocreate": "touch", "create_symlink": "ln", "create_hardlink": "ln", "tar": "tar"}.get(tool)
    if twin is None:
        return Runs(label="cmake -E")
    operands = [w for w in rest if not (w.static and w.text.startswith("-"))]
    if tool in ("remove_directory", "rm", "remove"):
        return Runs(argvs=[[Word("rm"), Word("-rf"), *operands]], label=f"cmake -E {tool}")
    if tool == "tar":
        return Runs(argvs=[[Word("tar"), *rest]], label="cmake -E tar")
    if twin == "ln":
        return Runs(argvs=[[Word("ln"), Word("-s"), *operands]], label=f"cmake -E {tool}")
    return Runs(argvs=[[Word(twin), *operands]], label=f"cmake -E {tool}")


def moreutils_wrapper(program: str, flags: str) -> Callable[[list[Word]], Runs]:
    def unwrap(args: list[Word]) -> Runs:
        _, rest, why = strict_options(args, flags, "", set(), set(), program)
        return Runs(unknown=why, label=program) if why else command_after(rest, program)
    return unwrap


# --- the shell: `source /dev/stdin` ---

# A descriptor, not a file of the workspace: the commands come from the input (or another descriptor).
_DESCRIPTOR = re.compile(r"/dev/(stdin|tty|fd/\d+)|/proc/[^/]+/(task/[^/]+/)?fd/\d+")


def source(args: list[Word]) -> Runs:
    """`. /dev/stdin` runs what its input holds: a heredoc or here-string is judged as the script it is
    (commandline.py; also for any file sourced, which may be a link to the input), anything else cannot
    be read here."""
    if args and args[0].static and args[0].text == "--":
        args = args[1:]
    if args and args[0].static and _DESCRIPTOR.fullmatch(posixpath.normpath(args[0].text)):
        return Runs(unknown="source reads the commands it runs from its input", label="source", from_input=True)
    return Runs(label="source", from_input=True)


# --- git: the subcommands that run a command given to them ---

GIT_GLOBAL_VALUES = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env",
                     "--list-cmds", "--attr-source", "--exec-path"}
GIT_FILTERS = ("--env-filter", "--tree-filter", "--index-filter", "--parent-filter", "--msg-filter",
               "--commit-filter", "--tag-name-filter")


def git(args: list[Word]) -> Runs:
    out, i = Runs(label="git"), 0
    aliases: dict[str, Word] = {}
    chdir: Word | None = None
    while i < len(args) and args[i].static and args[i].text.startswith("-"):
        text = args[i].text
        if text == "-C" and i + 1 < len(args):
            chdir = args[i + 1]
        if text == "-c" and i + 1 < len(args):
            key, eq, value = args[i + 1].text.partition("=")
            if key.lower().startswith("alias.") and value.startswith("!"):
                aliases[key[6:].lower()] = Word(value[1:], args[i + 1].static)
        if text in GIT_GLOBAL_VALUES:
            i += 1
        i += 1
    if i >= len(args) or not args[i].static:
        return out
    sub, rest = args[i].text, args[i + 1:]
    if sub.lower() in aliases:  # `git -c alias.x='!CMD' x ARGS` runs `CMD ARGS` through the shell
        script = aliases[sub.lower()]
        words = " ".join(shlex.quote(w.text) for w in rest)
        return Runs(scripts=[Word(f"{script.text} {words}".strip(), script.static and all(w.static for w in rest))],
                    label="git alias")
    if sub == "bisect" and rest and rest[0].text == "run":
        found = command_after(rest[1:], "git bisect run", why="git bisect run is given no command")
        found.chdir = chdir  # git -C DIR: the command runs there
        return found
    if sub == "submodule" and rest and rest[0].text == "foreach":
        words = [w for w in rest[1:] if not (w.static and w.text in ("--recursive", "-q", "--quiet"))]
        if words:
            return Runs(scripts=[Word(" ".join(w.text for w in words), all(w.static for w in words))],
                        label="git submodule foreach")
        return out
    for j, word in enumerate(rest):
        name, eq, value = word.text.partition("=")
        takes = (sub == "rebase" and name in ("-x", "--exec")) or (sub == "difftool" and name in ("-x", "--extcmd")) \
            or (sub == "filter-branch" and name in GIT_FILTERS)
        if word.static and takes:
            out.scripts.append(Word(value, word.static) if eq else (rest[j + 1] if j + 1 < len(rest) else Word("")))
            out.label = f"git {sub} {name}"
    return out


# Programs that do things of their own besides running what they are given.
NOT_PURE = frozenset({"git", "cmake", "man", "source", "."})
UNWRAP: dict[str, Callable[[list[Word]], Runs]] = {
    "script": script, "chrt": chrt, "taskset": taskset, "ionice": ionice, "firejail": firejail,
    "xvfb-run": xvfb_run, "dbus-run-session": dbus_run_session, "busybox": busybox, "toybox": busybox,
    "cmake": cmake,
    "ifne": moreutils_wrapper("ifne", "n"), "chronic": moreutils_wrapper("chronic", "ev"),
    "eatmydata": moreutils_wrapper("eatmydata", ""), "catchsegv": moreutils_wrapper("catchsegv", ""),
    "source": source, ".": source, "git": git, "prlimit": prlimit,
    **{name: setarch(name) for name in ("setarch", "linux32", "linux64", "i386", "x86_64", "uname26")},
    "numactl": prefix("numactl", "alsHbS", "ipmNCwPfLoT", frozenset({
        "--all", "--localalloc", "--show", "--hardware", "--balancing"}), frozenset({
        "--interleave", "--preferred", "--membind", "--cpunodebind", "--physcpubind", "--weighted-interleave",
        "--preferred-many", "--shm", "--file", "--length", "--offset", "--shmmode", "--huge"})),
    "faketime": prefix("faketime", "fm", "", frozenset({"--exclude-monotonic"}), skip=1,
                       other={"--date-prog": "runs a program of its choosing", "-p": "changes another process"}),
    "fakeroot": prefix("fakeroot", "uhv", "lsib", frozenset({"--unknown-is-real", "--help", "--version"}),
                       frozenset({"--lib", "--fd-base"}), other={"--faked": "runs a program of its choosing"}),
    "tini": prefix("tini", "hsvwgl", "pe"), "dumb-init": prefix("dumb-init", "cvhV", "r", frozenset({
        "--single-child", "--verbose", "--help", "--version"}), frozenset({"--rewrite"})),
    "gosu": prefix("gosu", "", "", skip=1), "su-exec": prefix("su-exec", "", "", skip=1),
    "nocache": prefix("nocache", "", "n"), "caffeinate": prefix("caffeinate", "dimsu", "t",
                                                                other={"-w": "waits on another process"}),
    "systemd-inhibit": prefix("systemd-inhibit", "h", "", frozenset({"--help", "--version", "--no-pager",
                                                                      "--no-legend"}),
                              frozenset({"--what", "--who", "--why", "--mode"})),
    "cpulimit": prefix("cpulimit", "zikvh", "l", frozenset({"--lazy", "--include-children", "--kill", "--verbose",
                                                             "--help"}), frozenset({"--limit", "--cpu"}),
                       other={"-p": "changes another process", "--pid": "changes another process",
                              "-e": "changes another process", "--exe": "changes another process"}),
    "trickle": prefix("trickle", "sVvh", "udwtlLn"), "torsocks": prefix("torsocks", "idq", "uapP", frozenset({
        "--shell", "--isolate", "--quiet", "--debug"}), frozenset({"--user", "--pass", "--address", "--port"})),
    "proxychains": prefix("proxychains", "q", "f"), "proxychains4": prefix("proxychains4", "q", "f"),
    "ssh-agent": prefix("ssh-agent", "csdDk", "aEPOt"),
    "dbus-launch": prefix("dbus-launch", "", "", frozenset({
        "--exit-with-session", "--sh-syntax", "--csh-syntax", "--binary-syntax", "--close-stderr", "--version",
        "--help"}), frozenset({"--autolaunch", "--config-file"})),
    "direnv": subcommand("direnv", ("exec",), prefix("direnv exec", "", "", skip=1)),
    "bundle": subcommand("bundle", ("exec",), prefix("bundle exec", "", "", frozenset({"--keep-file-descriptors"}))),
    **{name: subcommand(name, ("run",), prefix(f"{name} run", "v", "np", frozenset({
        "--live-stream", "--no-capture-output", "--debug", "--verbose", "--no-banner"}),
        frozenset({"--name", "--prefix", "--cwd"}))) for name in ("conda", "mamba", "micromamba")},
    "perf": subcommand("perf", ("stat", "record", "trace", "ftrace", "mem", "c2c", "kmem", "sched", "lock"), prefix(
        "perf", "gdqvnsBA", "eorxIGCFcmjMD", PERF_FLAGS, PERF_VALUES, other=PERF_OTHER)),
    # strace -o FILE writes (HANDLERS in wrappers.py); -p attaches to another process
    "strace": prefix("strace", "cCdDfFhiknqrtTvVwxyYzZ", "abeEIoOpPsSuUX", frozenset({
        "--follow-forks", "--output-separately", "--summary-only", "--summary", "--no-abbrev", "--verbose",
        "--quiet", "--help", "--version", "--seccomp-bpf", "--daemonize", "--kill-on-exit", "--instruction-pointer",
        "--stack-trace", "--relative-timestamps", "--absolute-timestamps", "--syscall-times", "--string-limit"}),
        frozenset({"--expr", "--output", "--trace", "--signal", "--status", "--trace-path", "--env", "--user",
                   "--columns", "--string-limit", "--summary-sort-by", "--const-print-style", "--decode-fds",
                   "--attach"}),
        other={"-p": "attaches to another process", "--attach": "attaches to another process"}),
    "ltrace": prefix("ltrace", "bcCfhiLrStTV", "aADeFlnopsuwx", frozenset({"--help", "--version", "--demangle"}),
                     frozenset({"--align", "--output", "--library"}), other={"-p": "attaches to another process"}),
    # GNU parallel's sem runs its command through the shell; these run theirs later or detached from here
    "sem": sem, "man": man,
    **{name: (lambda n: lambda args: Runs(unknown=f"{n} runs the command later or detached from this one, "
                                                   "which the check does not follow", label=n))(name)
       for name in ("tsp", "nq", "dtach", "abduco", "batch", "niceload", "daemonize", "start-stop-daemon")},
    "systemd-run": lambda args: Runs(unknown="systemd-run hands the command to the system's service manager, "
                                             "outside the sandbox", label="systemd-run"),
}
HANDLERS = {
    "script": script_writes,
    "chrt": processes("chrt", ("-p", "--pid")),
    "taskset": processes("taskset", ("-p", "--pid")),
    "ionice": processes("ionice", ("-p", "-P", "-u", "--pid", "--pgid", "--uid")),
    "prlimit": processes("prlimit", ("-p", "--pid")),
}
