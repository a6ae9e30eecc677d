"""ripgrep for the tools: the binary, the base command (deny_read files excluded), running it.

Below tools/checks.py and tools/search.py alike: the path check's near-miss names (checks.py),
list_files and rg_search (search.py), the symbol and repository tools all run rg through here.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable

from agent_runtime.core import ToolError
from agent_runtime.procs import host_program

RG_TIMEOUT_S = 60
MAX_MATCH_COLUMNS = 300


def rg_binary() -> str:
    found = host_program("rg")
    if not found:
        raise ToolError(
            "ripgrep (rg) is not installed on this machine",
            "Tell the user to install it (Debian/Ubuntu: apt-get install ripgrep; macOS: brew install ripgrep).",
            kind="missing_dependency",
        )
    return found


def base_command(hidden_globs: tuple[str, ...], user_glob: str | None = None) -> list[str]:
    """rg with dotfiles shown (.github/...), .git never, deny_read files excluded. The user's glob
    comes first: ripgrep lets the last matching glob win, so the exclusions must come after it."""
    command = [rg_binary(), "--hidden", "--no-config", "--no-ignore-parent", "--color", "never"]
    if user_glob:
        command += ["--glob", user_glob]
    command += ["--glob", "!.git"]
    for pattern in hidden_globs:
        command += ["--glob", "!" + pattern]
    return command


# What rg is shown besides the workspace: the system's programs and libraries, not /etc, no home.
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/nix")


def confined(command: list[str], cwd: Path) -> list[str]:
    """`command` as run: in bubblewrap, shown the workspace (read-only) and the system's folders only.
    rg reads every walked folder's .gitignore, .ignore and .rgignore, following symlinks: one of the
    repository's leading out (~/.aws/credentials, /proc/self/environ) would be read on the host and its
    lines quoted in rg's errors. Here it leads to nothing. Without bubblewrap: rg as it is."""
    from agent_runtime.safety.isolation import isolation

    found = isolation()
    if found.bwrap is None:
        return command
    root = os.path.realpath(cwd)
    binary = os.path.realpath(command[0])
    shown: list[str] = []
    for name in _SYSTEM:
        if os.path.islink(name):
            shown += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            shown += ["--ro-bind", name, name]
    if not any(binary.startswith(name + "/") for name in _SYSTEM):
        shown += ["--ro-bind", binary, binary]  # ~/.cargo/bin/rg: that file alone
    return [found.bwrap, *found.flags, "--unshare-net", *shown, "--ro-bind", root, root, "--chdir", root,
            "--", binary, *command[1:]]


def _timed_out() -> ToolError:
    return ToolError(f"ripgrep took longer than {RG_TIMEOUT_S} s and was stopped (a FIFO or a very large tree?)",
                     "Narrow the path or the glob.", kind="timeout")


def strip_dot(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def run_rg(command: list[str], cwd: Path, limit: int,
           keep: Callable[[str], bool] | None = None) -> tuple[list[str], bool, str, int]:
    """Run rg and read at most `limit` output lines, then stop it: (lines, more, stderr, exit code).
    `keep`: lines it rejects are dropped as they come and take no place in the limit (nor count as
    "more"), so what is shown does not depend on anything left out."""
    proc = subprocess.Popen(confined(command, cwd), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    lines: list[str] = []
    more = False
    # A FIFO named .gitignore blocks rg before it prints anything: the reading below must not wait for ever.
    watchdog = threading.Timer(RG_TIMEOUT_S, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if keep is not None and not keep(line):
                continue
            if len(lines) >= limit:
                more = True
                break
            lines.append(line)
    finally:
        if more:
            proc.kill()
        try:
            _, err = proc.communicate(timeout=RG_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        watchdog.cancel()
    if proc.returncode == -9 and not more:
        raise _timed_out()
    return lines, more, err.decode("utf-8", errors="replace"), proc.returncode


def list_all(command: list[str], cwd: Path) -> tuple[list[str], str, int]:
    """Every line rg prints. Through a file, not a pipe: on 100,000 files the pipe alone costs
    a third of rg's own time."""
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.run(confined(command, cwd), cwd=cwd, stdout=out, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, timeout=RG_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise _timed_out() from None
        out.seek(0)
        lines = out.read().decode("utf-8", errors="replace").splitlines()
    return lines, proc.stderr.decode("utf-8", errors="replace"), proc.returncode
