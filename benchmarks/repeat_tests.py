"""Finds flaky tests by repetition: runs `make test`'s two passes (the xdist pass without the
real-model tests, then the real-model tests one at a time) several times in a checkout, with or
without a load of busy processes beside them, and prints one JSON object: each pass's wall time,
counts and failed tests, and how often each test failed.

    python benchmarks/repeat_tests.py --model-passes 5 --xdist-passes 3 [--load 2] [--repo DIR]
    python benchmarks/repeat_tests.py --fresh-clone ...   # a clone of HEAD, installed as `make test` does

A test that fails in one pass and passes in another rides on luck: fix its cause (an ordering, a
timeout, a shared server, an assertion on what a model wrote), never by retrying it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSES = {"xdist": ["-n", "2", "--dist", "loadfile", "-m", "not model"], "model": ["-m", "model"]}


def _busy() -> None:
    while True:
        pass


@contextlib.contextmanager
def load(processes: int):
    """`processes` processes spinning on a core each, for as long as the block runs."""
    workers = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()
            worker.join()


def failures(junit: Path) -> list[dict]:
    """The tests a JUnit file records as failed or in error, with the first line of why."""
    if not junit.is_file():
        return [{"test": "(no report: pytest did not finish)", "why": ""}]
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            for node in case.findall(kind):
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                found.append({"test": name, "kind": kind, "why": (node.get("message") or "").splitlines()[:1]})
    return found


def counts(junit: Path) -> dict:
    if not junit.is_file():
        return {}
    suites = ET.parse(junit).getroot()
    suite = suites if suites.tag == "testsuite" else suites.find("testsuite")
    return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}


def run_pass(repo: Path, kind: str, number: int, out: Path, timeout: int) -> dict:
    junit = out / f"{kind}-{number}.xml"
    log = out / f"{kind}-{number}.log"
    started = time.monotonic()
    with log.open("w") as handle:
        try:
            code = subprocess.run([str(repo / ".venv" / "bin" / "python"), "-m", "pytest", "-q",
                                   f"--junitxml={junit}", *PASSES[kind]], cwd=repo, stdout=handle,
                                  stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    return {"pass": kind, "number": number, "exit_code": code, "seconds": round(time.monotonic() - started),
            **counts(junit), "failed": failures(junit) if code != 0 else [], "log": str(log)}


def fresh_clone(source: Path) -> Path:
    """A clone of the checkout's HEAD, installed as `make test` installs it (the venv, the models)."""
    target = Path(tempfile.mkdtemp(prefix="agent-runtime-clone-")) / "main"
    subprocess.run(["git", "clone", "-q", str(source), str(target)], check=True)
    subprocess.run(["make", "install-dev", "models"], cwd=target, check=True, stdout=subprocess.DEVNULL)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-passes", type=int, default=5)
    parser.add_argument("--xdist-passes", type=int, default=3)
    parser.add_argument("--load", type=int, default=0, help="busy processes beside the tests (2: one per core)")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to test (default: this one)")
    parser.add_argument("--fresh-clone", action="store_true", help="test a fresh clone of the checkout's HEAD")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds for one pass")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args()
    repo = fresh_clone(args.repo) if args.fresh_clone else args.repo.resolve()
    out = args.out_dir or Path(tempfile.mkdtemp(prefix="test-repetition-"))
    out.mkdir(parents=True, exist_ok=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    passes = []
    # Interleaved (x m x m ...): a failure of either kind shows early.
    xs, ms = args.xdist_passes, args.model_passes
    order = [k for i in range(max(xs, ms)) for k in (["xdist"] if i < xs else []) + (["model"] if i < ms else [])]
    with load(args.load):
        for kind in order:
            number = sum(1 for p in passes if p["pass"] == kind) + 1
            passes.append(run_pass(repo, kind, number, out, args.timeout))
            print(json.dumps({k: passes[-1][k] for k in ("pass", "number", "exit_code", "seconds")}),
                  file=sys.stderr, flush=True)
    flaky = Counter(f["test"] for p in passes for f in p["failed"])
    print(json.dumps({"commit": head, "repo": str(repo), "load": args.load, "cores": os.cpu_count(),
                      "passes": passes, "failed_passes": sum(1 for p in passes if p["exit_code"] != 0),
                      "failures_by_test": dict(flaky.most_common())}, indent=1))


if __name__ == "__main__":
    main()
