"""Time for `agent-runtime --help` and to the REPL prompt. Target: --help under 1 s."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit

BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "agent-runtime"
REPEAT = 7


def help_time() -> float:
    start = time.perf_counter()
    subprocess.run([str(BIN), "--help"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def prompt_time(repo: Path) -> float:
    master, slave = pty.openpty()
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIN), "--model", "replay:/dev/null"], cwd=repo, stdin=slave, stdout=slave,
                            stderr=slave, env={**os.environ, "TERM": "dumb"})
    os.close(slave)
    seen = b""
    while "› ".encode() not in seen:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            raise RuntimeError("no prompt within 30 s")
        seen += os.read(master, 4096)
    elapsed = time.perf_counter() - start
    os.write(master, b"/exit\n")
    proc.wait(timeout=60)
    os.close(master)
    return elapsed


def main() -> None:
    repo = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    helps = sorted(help_time() for _ in range(REPEAT))
    prompts = sorted(prompt_time(repo) for _ in range(3))
    emit({
        "benchmark": "startup",
        "help_median_s": round(helps[len(helps) // 2], 3),
        "repl_prompt_median_s": round(prompts[len(prompts) // 2], 3),
        "target_help_s": 1.0,
        "meets_target": helps[len(helps) // 2] < 1.0,
    })


if __name__ == "__main__":
    main()
