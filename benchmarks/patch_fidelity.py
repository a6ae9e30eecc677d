"""Patches applied byte-identical to `git apply`, out of how many: a seeded random history of
edits of every kind (modify, create, delete, rename, mode, CRLF, non-UTF-8, final newline)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit

sys.path.insert(0, str(ROOT / "tests"))
from patch_corpus import random_history  # noqa: E402

from agent_runtime.config import load_settings  # noqa: E402
from agent_runtime.safety.approval import Approver  # noqa: E402
from agent_runtime.tools import build_tools  # noqa: E402
from agent_runtime.tools.runtime import Runtime  # noqa: E402

COMMITS = 200
LIMITS = {"VALIDATION_MAX_CHARS": "1000000", "VALIDATION_MAX_LINES": "100000"}


def tree(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode & 0o111)
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.relative_to(root).parts}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-patches-"))
    source = work / "source"
    source.mkdir()
    shas = random_history(source, COMMITS, seed=2026)
    identical, failed, apply_seconds = 0, [], []
    for parent, child in zip(shas, shas[1:]):
        diff = subprocess.run(["git", "diff", parent, child], cwd=source, capture_output=True, check=True).stdout
        ours, theirs = work / "ours", work / "theirs"
        for target in (ours, theirs):
            shutil.rmtree(target, ignore_errors=True)
            subprocess.run(["git", "clone", "-q", str(source), str(target)], check=True)
            subprocess.run(["git", "checkout", "-q", parent], cwd=target, check=True)
        subprocess.run(["git", "apply", "-"], cwd=theirs, input=diff, check=True, stderr=subprocess.DEVNULL)
        runtime = Runtime.create(load_settings(LIMITS), ours, Approver("auto", interactive=False))
        tools = {t.name: t for t in build_tools(runtime)}
        start = time.perf_counter()
        proposed = tools["propose_patch_unified"](diff=diff.decode("utf-8", "surrogateescape"))
        applied = tools["apply_patch"](patch_id=proposed["patch_id"]) if "patch_id" in proposed else proposed
        apply_seconds.append(time.perf_counter() - start)
        if applied.get("applied") and tree(ours) == tree(theirs):
            identical += 1
        else:
            failed.append(child[:10])
    emit({
        "benchmark": "patch_fidelity",
        "commits": COMMITS,
        "byte_identical_to_git_apply": identical,
        "failed": failed,
        "propose_and_apply_median_ms": round(sorted(apply_seconds)[len(apply_seconds) // 2] * 1000, 2),
    })


if __name__ == "__main__":
    main()
