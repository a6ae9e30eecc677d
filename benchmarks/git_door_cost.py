"""What one git call through the door costs: the median of 50, for this checkout and, with --before, for
another checkout of the project (the door before it ran git contained, e.g. `git worktree add /tmp/old
a42a813`), measured the same way on the same repository.

Prints, for each checkout, in milliseconds: `call`, one `git status` through a SafeGit whose checks ran
already; `open_and_call`, what a git tool pays (a fresh SafeGit: the git directory checked, the
configuration read, then `git status`); and `contained`, whether bubblewrap held the call.

    python benchmarks/git_door_cost.py [--before /tmp/old] [--rounds 50] [--files 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, emit

MEASURE = r"""
import json, statistics, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from agent_runtime import gitcmd
repo, rounds = Path(sys.argv[2]), int(sys.argv[3])
door = gitcmd.safe_git(repo)
door.ready()
door.call("status")  # warm: the probe, the version check, the user's settings
call, opened = [], []
for _ in range(rounds):
    started = time.perf_counter()
    door.call("status", "--porcelain")
    call.append(time.perf_counter() - started)
    started = time.perf_counter()
    fresh = gitcmd.safe_git(repo)
    fresh.call("status", "--porcelain")
    opened.append(time.perf_counter() - started)
way = getattr(gitcmd, "containment", None)
print(json.dumps({"call": round(statistics.median(call) * 1000, 1),
                  "open_and_call": round(statistics.median(opened) * 1000, 1),
                  "contained": bool(way and way().bwrap)}))
"""


def make_repo(root: Path, files: int) -> Path:
    for i in range(files):
        path = root / f"pkg{i % 20}" / f"m{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE = {i}\n")
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.com", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "files"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    (root / "pkg0" / "m0.py").write_text("VALUE = 'changed'\n")
    return root


def measure(checkout: Path, repo: Path, rounds: int) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(checkout), str(repo), str(rounds)],
                          capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, help="another checkout of the project, measured the same way")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="git-door-cost-") as scratch:
        repo = make_repo(Path(scratch) / "repo", args.files)
        result = {"rounds": args.rounds, "files": args.files, "after": measure(ROOT, repo, args.rounds)}
        if args.before is not None:
            result["before"] = measure(args.before.resolve(), repo, args.rounds)
    emit(result)


if __name__ == "__main__":
    main()
