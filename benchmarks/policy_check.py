"""The command policy on the test corpus: sizes, results (allowed-dangerous and denied-everyday
must be 0) and the time one check takes (parse + judge), median and p95 µs.

The dangerous commands are judged where they would do harm, as the test does: a repository whose
history holds a deleted .env.production, with a .env, a symlink g -> .git and a symlink
notes-link -> .env. The everyday commands are judged in a plain repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, emit

from agent_runtime.safety.policy import Policy

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.com"}


def corpus(name: str) -> list[str]:
    text = (ROOT / "tests" / "data" / name).read_text()
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env=GIT_ENV, check=True, capture_output=True)


def repository(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


def planted(root: Path) -> Path:
    repository(root, {"src/app.py": "x = 1\n", "app.py": "x = 1\n", ".env.production": "TOKEN=leaked\n"})
    git(root, "rm", "-q", ".env.production")
    git(root, "commit", "-qm", "remove the secret")
    (root / ".env").write_text("TOKEN=secret\n")
    (root / "g").symlink_to(".git")
    (root / "notes-link").symlink_to(".env")
    (root / "hk").mkdir()
    (root / "names.txt").write_text("b\na\n")
    return root


def main() -> None:
    policy = Policy.load()
    base = Path(tempfile.mkdtemp(prefix="bench-policy-"))
    try:
        workspaces = {"dangerous": planted(base / "planted"),
                      "everyday": repository(base / "plain", {"src/app.py": "x = 1\n", "README.md": "# x\n"})}
        dangerous, everyday = corpus("dangerous_commands.txt"), corpus("everyday_commands.txt")
        for root in workspaces.values():
            policy.check_command("git log -p", root)  # load the parser, read each history once
        timings = []
        results = {}
        for name, commands in (("dangerous", dangerous), ("everyday", everyday)):
            decisions = Counter()
            for command in commands:
                for _ in range(20):
                    start = time.perf_counter()
                    decision = policy.check_command(command, workspaces[name]).decision
                    timings.append(time.perf_counter() - start)
                decisions[decision] += 1
            results[name] = dict(decisions)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    timings.sort()
    emit({
        "benchmark": "policy_check",
        "rules": len(policy.rules),
        "dangerous_commands": len(dangerous),
        "everyday_commands": len(everyday),
        "dangerous_decisions": results["dangerous"],
        "everyday_decisions": results["everyday"],
        "allowed_dangerous": results["dangerous"].get("allow", 0),
        "denied_everyday": results["everyday"].get("deny", 0),
        "check_median_us": round(timings[len(timings) // 2] * 1e6, 1),
        "check_p95_us": round(timings[int(len(timings) * 0.95)] * 1e6, 1),
    })


if __name__ == "__main__":
    main()
