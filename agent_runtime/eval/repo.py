"""One task's repository: made fresh (files committed), set up, its protected files put back
after the agent, and its check run in a clean, sandboxed process.

The check runs against code the model wrote, so it runs in the same OS sandbox as the agent's
commands (no network, nothing outside the repository writable), with a clean environment.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from agent_runtime.eval.task import Task

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "eval", "GIT_AUTHOR_EMAIL": "eval@agent-runtime.invalid",
                "GIT_COMMITTER_NAME": "eval", "GIT_COMMITTER_EMAIL": "eval@agent-runtime.invalid",
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


SANDBOX_BIN = "/tmp/.agent-runtime-eval-bin"  # in the sandbox's own /tmp


def _git(repo: Path, *args: str) -> None:
    from agent_runtime.gitcmd import run_git  # git only through the door

    done = run_git(args, repo, env={"HOME": str(repo), **GIT_IDENTITY})
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, list(args), done.stdout, done.stderr)


def check_env(bin_dir: Path) -> dict[str, str]:
    """`python` is the runner's Python (which has pytest); no plugins, no stale bytecode."""
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",  # an edit within the same second must not run the old .pyc
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def python_bin_dir(root: Path) -> Path:
    """A directory whose `python` and `python3` are this interpreter (tasks say `python -m pytest`;
    the agent detects `python3 -m pytest`, and the system's python3 may have no pytest)."""
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        wrapper = bin_dir / name
        if not wrapper.exists():
            wrapper.write_text(PYTHON_WRAPPER.format(python=shlex.quote(sys.executable)))
            wrapper.chmod(0o755)
    return bin_dir


# A script, not a symlink: a venv's python knows it is one only when started by its own path.
PYTHON_WRAPPER = '#!/bin/sh\nexec {python} "$@"\n'


def make_repo(task: Task, where: Path) -> Path:
    repo = where / "repo"
    repo.mkdir(parents=True)
    for rel, content in task.files.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", f"task {task.id}")
    return repo


@dataclass
class CheckResult:
    passed: bool
    exit_code: int | None
    output: str
    timed_out: bool = False


def run_shell(command: str, repo: Path, env: dict[str, str], timeout: float, sandboxed: bool = True,
              tail_chars: int | None = 4000) -> CheckResult:
    """A trusted command (setup, check) over untrusted files: inside the command sandbox when
    bubblewrap works here. The output keeps its last `tail_chars` (None: all the sandbox kept)."""
    from agent_runtime.safety.sandbox import Sandbox

    if sandboxed:
        box = Sandbox(repo)
        if box.kind == "bwrap":
            # The sandbox builds its own environment; the check's variables go in front of it.
            exports = "".join(f"export {name}={shlex.quote(value)}; " for name, value in env.items())
            # `python` is this interpreter: python_bin_dir's wrapper lies outside the repository, which
            # the sandbox's private /tmp hides, so the sandbox gets a wrapper of its own.
            wrapper = shlex.quote(PYTHON_WRAPPER.format(python=shlex.quote(sys.executable)))
            exports += (f"mkdir -p {SANDBOX_BIN} && printf %s {wrapper} > {SANDBOX_BIN}/python && "
                        f"chmod +x {SANDBOX_BIN}/python && export PATH={SANDBOX_BIN}:\"$PATH\"; ")
            result = box.run(exports + command, timeout=timeout)
            output = _tail(result.stdout + result.stderr, tail_chars)
            return CheckResult(result.exit_code == 0 and not result.timed_out, result.exit_code, output,
                               result.timed_out)
    try:
        done = subprocess.run(["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else str(exc.stdout or "")
        return CheckResult(False, None, _tail(out, tail_chars), timed_out=True)
    return CheckResult(done.returncode == 0, done.returncode, _tail(done.stdout + done.stderr, tail_chars))


def _tail(text: str, chars: int | None) -> str:
    return text if chars is None else text[-chars:]


def restore_protected(task: Task, repo: Path) -> list[str]:
    """Put protected files back as the task gave them; returns those the agent had changed."""
    changed: list[str] = []
    for rel in task.protected:
        target = repo / rel
        original = task.files.get(rel)
        current = target.read_bytes() if target.is_file() and not target.is_symlink() else None
        if original is None:
            if target.exists() or target.is_symlink():
                changed.append(rel)
                target.unlink()
            continue
        if current != original.encode("utf-8"):
            changed.append(rel)
            if target.is_symlink() or target.is_dir():
                target.unlink() if target.is_symlink() else _rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(original, encoding="utf-8")
    return changed


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)
