"""Does the first message show the function at fault? For each task of the real-repository suite,
the agent's start (agent/start.py: the failing tests run, the failure's code ranked and shown) is
made exactly as a task would make it, without a model, and the reference fix's functions are
looked for among what a fix may write back.

    python evals/real/build.py --out /tmp/real
    python benchmarks/localization.py /tmp/real/instances.jsonl [--only ID ...]

Prints one JSON object: per task the edit targets shown, the rank of the fix's function in them
(1 = first; null = not shown), the seconds the start took; and the totals: found in the targets,
found first, found in the top 3.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit  # noqa: F401  (puts the checkout on sys.path)

BASE_PATH = os.environ.get("PATH", "/usr/bin:/bin")


def _matches(target, fixed: str) -> bool:
    """The target is the fixed function (a method of it, or lines of it), or the whole file it is in."""
    path, _, name = fixed.partition("::")
    if target.path != path:
        return False
    if "::" not in target.heading:
        return True  # the whole file, or lines of it not within a definition
    own = target.heading.split("::", 1)[1].split(" lines ")[0]
    return own == name or own.startswith(name + ".") or name.startswith(own + ".")


def locate(raw: dict, work: Path) -> dict:
    from agent_runtime.agent.overview import repository_files, small_repository
    from agent_runtime.agent.start import prepare
    from agent_runtime.config import load_settings
    from agent_runtime.core import Action
    from agent_runtime.eval.instance import parse_instance
    from agent_runtime.eval.judge import prepare_instance
    from agent_runtime.eval.repo import python_bin_dir
    from agent_runtime.safety.approval import Approver
    from agent_runtime.tools import build_tools
    from agent_runtime.tools.runtime import Runtime

    instance = parse_instance(raw, raw["instance_id"], Path(raw["_base"]))
    where = work / instance.id
    prepared = prepare_instance(instance, where)
    # As the eval's agent runs (eval/runner.py): the runner's python and python3, no pytest plugins.
    os.environ["PATH"] = f"{python_bin_dir(where)}{os.pathsep}{BASE_PATH}"
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    settings = load_settings({**os.environ, "APPROVAL_MODE": "auto"})
    runtime = Runtime.create(settings, prepared.repo, Approver("auto", interactive=False))
    started = time.monotonic()
    try:
        tools = {tool.name: tool for tool in build_tools(runtime)}

        def may_read(rel: str) -> bool:
            return runtime.decide(Action("read", paths=(rel,))).decision == "allow"

        listing = repository_files(prepared.repo, hidden=runtime.workspace.hidden)
        small = small_repository(prepared.repo, listing[0], may_read)[1] if not listing[1] else []
        start = prepare(instance.prompt, prepared.repo, listing, tools["run_tests"], may_read, small, fresh=True,
                        attached=False, max_tokens=settings.model_max_tokens, window=16384,
                        cache_dir=where / "index")
    finally:
        runtime.close()
    targets = list(start.request.targets.values()) if start.request is not None else []
    headings = [t.heading for t in targets]
    fixed = raw.get("fixed_symbols") or []
    rank = next((i + 1 for i, t in enumerate(targets) if any(_matches(t, f) for f in fixed)), None)
    if os.environ.get("LOCALIZATION_SHOW"):
        print(start.overview, file=sys.stderr)
    return {"id": instance.id, "fixed": fixed, "targets": headings, "rank": rank,
            "chars": len(start.overview), "seconds": round(time.monotonic() - started, 1),
            "judged_by": start.tests.wider or start.tests.first}  # the tests a fix must pass


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instances", type=Path)
    parser.add_argument("--only", action="append", default=[])
    args = parser.parse_args(argv)
    lines = [json.loads(line) for line in args.instances.read_text().splitlines() if line.strip()]
    for line in lines:
        line["_base"] = str(args.instances.resolve().parent)
    if args.only:
        lines = [line for line in lines if line["instance_id"] in args.only]
    work = Path(tempfile.mkdtemp(prefix="localization-"))
    rows = []
    try:
        for line in lines:
            try:
                row = locate(line, work)
            except Exception as exc:  # noqa: BLE001  (one task's failure is a row, not the end)
                row = {"id": line["instance_id"], "error": f"{type(exc).__name__}: {exc}", "rank": None}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ranks = [r["rank"] for r in rows]
    emit({"tasks": len(rows), "found": sum(r is not None for r in ranks), "first": sum(r == 1 for r in ranks),
          "top3": sum(r is not None and r <= 3 for r in ranks),
          "median_s": sorted(r.get("seconds", 0) for r in rows)[len(rows) // 2] if rows else None,
          "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
