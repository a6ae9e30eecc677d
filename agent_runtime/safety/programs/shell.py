"""The shell's own commands and the system's small ones: which take no file arguments, which
set variables (and which variables change what later commands run), aliases and shell options."""

from __future__ import annotations

import re

from agent_runtime.safety.programs.base import Effects, scan
from agent_runtime.safety.programs.launchers import Runs
from agent_runtime.safety.shellwords import Word

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


def risky_variable(name: str) -> bool:
    """A shell variable whose new value can change what later commands run (PATH, IFS, LD_PRELOAD).
    Lower-case names are the script's own (`for f in ...`, `read line`)."""
    if SAFE_ASSIGNMENTS.match(name):
        return False
    return name in ENVIRONMENT_LOWERCASE or not re.fullmatch(r"[a-z][a-z0-9_]*", name)


def variables_set(program: str, args: list[Word]) -> list[str]:
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


def date(args: list[Word], eff: Effects) -> None:
    found = scan(args, "dfrsI", {"--date", "--file", "--reference", "--set"})
    if found.has("-s", "--set"):
        eff.ask("system-clock", "date -s sets the system clock")
    for value in found.values("-f", "--file"):
        eff.reads.append((value, "date -f reads"))  # and prints the lines it cannot parse


def ps(args: list[Word], eff: Effects) -> None:
    for word in args:
        if word.static and not word.text.startswith("-") and "e" in word.text:
            eff.ask("process-environment", "ps e shows the environment of processes, which can hold API keys")
            return


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


SHOPT_RISKY = {"dotglob", "globstar", "nocaseglob", "extglob", "expand_aliases", "nocasematch", "sourcepath",
               "cdable_vars", "lastpipe"}  # cdable_vars: `cd name` goes to $name when there is no folder `name`;
# lastpipe: a pipeline's last stage (`true | cd /root`) runs in the shell itself


def shopt(args: list[Word], eff: Effects) -> None:
    if any(w.text in SHOPT_RISKY or not w.static for w in args):
        eff.ask("shell-options", "this shell option changes which files a pattern or a name stands for")


HANDLERS = {"date": date, "hostname": hostname, "alias": alias, "shopt": shopt, "declare": declare,
            "typeset": declare, "local": declare, "ps": ps}


# --- builtins that run a command or a string given to them ---


def trap(args: list[Word]) -> Runs:
    """`trap 'CMD' EXIT`: CMD runs when the shell gets the signal or exits; `trap - SIG` / `trap SIG` resets."""
    rest = [w for w in args if not (w.static and w.text in ("-p", "-l", "-P", "--"))]
    if len(rest) >= 2 and not (rest[0].static and rest[0].text in ("-", "")):
        return Runs(scripts=[rest[0]], label="trap")
    return Runs(label="trap")


def coproc(args: list[Word]) -> Runs:
    """`coproc CMD ARGS` runs CMD in the background; the parser does not read `coproc NAME { ...; }`."""
    if not args or any(w.text in ("{", "(", "}") or w.text.startswith("(") for w in args):
        return Runs(unknown="coproc runs a compound command this check does not read", label="coproc")
    return Runs(argvs=[args], label="coproc")


def compgen(args: list[Word]) -> Runs:
    """`compgen -C CMD` runs CMD to list completions (also in a script); -F calls a function."""
    out = Runs(label="compgen -C")
    for i, word in enumerate(args):
        if word.text == "-C" and i + 1 < len(args):
            out.scripts.append(args[i + 1])
        elif word.text == "-F":
            out.unknown = "compgen -F calls a shell function"
    return out


def fc(args: list[Word]) -> Runs:
    if args and all(w.static and w.text in ("-l", "-n", "-r", "-ln", "-nl", "-lr", "-rl") for w in args):
        return Runs(label="fc")  # only lists the history
    return Runs(unknown="fc runs commands from the shell's history (or an editor), which this check does not see",
                label="fc")


def let(args: list[Word]) -> Runs:
    """Arithmetic evaluates `$(...)` in an array subscript: `let 'a[$(rm -rf src)]=1'` runs rm."""
    for word in args:
        if not word.static or "$(" in word.text or "`" in word.text:
            return Runs(unknown="let evaluates arithmetic whose array subscripts can run commands", label="let")
    return Runs(label="let")


UNWRAP = {"trap": trap, "coproc": coproc, "compgen": compgen, "fc": fc, "let": let}
