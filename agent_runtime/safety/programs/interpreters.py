"""Shells and language interpreters: when their code is given on the command line or on their
input (which the policy cannot judge), and where a shell's `-c` script is."""

from __future__ import annotations

from agent_runtime.safety.programs.base import has_flag
from agent_runtime.safety.shellwords import Word

SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish", "ash", "busybox-sh"}


# interpreter -> options whose value is program text
INTERPRETERS: dict[str, tuple[str, ...]] = {
    "python": ("-c",), "python2": ("-c",), "python3": ("-c",), "pypy": ("-c",), "pypy3": ("-c",),
    "perl": ("-e", "-E"), "ruby": ("-e",), "node": ("-e", "--eval", "-p", "--print"), "nodejs": ("-e", "--eval"),
    "php": ("-r",), "lua": ("-e",), "Rscript": ("-e",), "osascript": ("-e",), "tclsh": (), "jshell": (),
    "bun": ("-e", "--eval", "-p", "--print"), "deno": ("eval",), "pwsh": ("-c", "-Command"),
    "powershell": ("-c", "-Command"), "irb": (), "guile": ("-c",), "racket": ("-e",), "expect": ("-c",),
}
INFORMATIONAL_FLAGS = {"--version", "-V", "-v", "--help", "-h", "version"}


def interpreter_code(program: str, args: list[Word]) -> str | None:
    """Why this interpreter call runs code we cannot judge, or None when it runs a file or a module."""
    if args and all(w.static and w.text in INFORMATIONAL_FLAGS for w in args):
        return None  # `python3 --version` runs no code
    for word in args:
        text = word.text
        if not word.static:
            return f"{program} is given arguments only known at run time"
        if any(has_flag(text, flag) for flag in INTERPRETERS[program]):
            return f"{program} {text} runs code given on the command line"
        if text == "-m" and program.startswith(("python", "pypy")):
            return None
        if text == "-":
            return f"{program} reads a program from its input"
        if not text.startswith("-"):
            return None  # a script file: judged by the rules like any program
    return f"{program} reads a program from its input"


def shell_script(args: list[Word]) -> tuple[Word | None, list[Word]]:
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
