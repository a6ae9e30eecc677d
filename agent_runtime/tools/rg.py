"""ripgrep for the tools: the binary, the base command (deny_read files excluded), running it.

Below tools/checks.py and tools/search.py alike: the path check's near-miss names (checks.py),
list_files and rg_search (search.py), the symbol and repository tools all run rg through here.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from agent_runtime.core import ToolError

RG_TIMEOUT_S = 60
MAX_MATCH_COLUMNS = 300


def rg_binary() -> str:
    found = shutil.which("rg")
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
    command = [rg_binary(), "--hidden", "--no-config", "--color", "never"]
    if user_glob:
        command += ["--glob", user_glob]
    command += ["--glob", "!.git"]
    for pattern in hidden_globs:
        command += ["--glob", "!" + pattern]
    return command


def strip_dot(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def run_rg(command: list[str], cwd: Path, limit: int,
           keep: Callable[[str], bool] | None = None) -> tuple[list[str], bool, str, int]:
    """Run rg and read at most `limit` output lines, then stop it: (lines, more, stderr, exit code).
    `keep`: lines it rejects are dropped as they come and take no place in the limit (nor count as
    "more"), so what is shown does not depend on anything left out."""
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    lines: list[str] = []
    more = False
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
    return lines, more, err.decode("utf-8", errors="replace"), proc.returncode


def list_all(command: list[str], cwd: Path) -> tuple[list[str], str, int]:
    """Every line rg prints. Through a file, not a pipe: on 100,000 files the pipe alone costs
    a third of rg's own time."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              timeout=RG_TIMEOUT_S)
        out.seek(0)
        lines = out.read().decode("utf-8", errors="replace").splitlines()
    return lines, proc.stderr.decode("utf-8", errors="replace"), proc.returncode
