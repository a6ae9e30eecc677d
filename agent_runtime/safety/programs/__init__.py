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

Each program is described once, in the module of its kind: sed, awk, git, files (file tools
and find), search (grep, rg, jq, fd), network (curl, wget), runners (test runners, builds,
`uv run`), shell (builtins, variables), interpreters (shells, python -c, ...) and wrappers
(sudo, env, timeout, xargs, watch, flock, time); launchers (script -c, parallel, chrt, git bisect
run, ...) and escapes (sqlite3 .shell, vim :!, gdb !, ...) say what a program given a command runs
(`runs`). The parser (commandline.py) uses the last four to see what a wrapper or a shell runs.
"""

from __future__ import annotations

from typing import Callable

from agent_runtime.safety.programs import (
    awk,
    escapes,
    fanout,
    files,
    git,
    launchers,
    network,
    runners,
    search,
    sed,
    shell,
    wrappers,
)
from agent_runtime.safety.programs.awk import awk_program
from agent_runtime.safety.programs.base import Effects, HistoryRead, Unreadable, scan
from agent_runtime.safety.programs.launchers import Runs
from agent_runtime.safety.programs.sed import sed_script
from agent_runtime.safety.shellwords import SimpleCommand, Word

MODULES = (sed, awk, files, search, network, runners, git, shell, wrappers, launchers, fanout, escapes)
HANDLERS: dict[str, Callable[[list[Word], Effects], None]] = {
    name: handler for module in MODULES for name, handler in module.HANDLERS.items()}
NAMES_ONLY = files.NAMES_ONLY


RUNS = {**launchers.UNWRAP, **fanout.UNWRAP, **escapes.UNWRAP, **shell.UNWRAP}


def runs(program: str, args: list[Word]) -> Runs | None:
    """What a program that runs commands given to it runs (programs/launchers.py), or None."""
    unwrap = RUNS.get(program)
    if unwrap is None:
        return None
    found = unwrap(args)
    found.pure = found.pure and program not in escapes.UNWRAP and program not in launchers.NOT_PURE
    for argv in found.argvs:
        if not launchers.plausible(argv):  # its options were misread: never judge "10" as the program
            found.unknown = f"{found.label or program}: {argv[0].text!r} cannot be the program it runs"
    found.argvs = [argv for argv in found.argvs if launchers.plausible(argv)]
    return found


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


__all__ = ["Effects", "HistoryRead", "Runs", "Unreadable", "effects", "runs", "sed_script", "awk_program", "scan"]
