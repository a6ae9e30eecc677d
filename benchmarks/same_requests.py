"""Do two arms send the model the same requests? Each task's recorded replies (from an earlier
coaching_worth.py run) are played back to both arms (`--model replay:`), and the requests each
sends are compared, message by message. Fed the same replies, two builds that send the same
requests behave alike on that path; where they differ, the first request that differs says how.

    python benchmarks/same_requests.py --from DIR [--source ARM] [--arms @ee7d811,profile]
                                       [--suite FILE] [--only ID ...] [--sampling] [--out-dir DIR2]

DIR: a coaching_worth.py --out-dir (its coaching-ARM.jsonl results and runs-coaching-ARM/ traces);
--source: whose replies are played back (default: every arm there, each in turn). Requests are
compared (with --sampling, what each was sampled at too: how temperature_bumps acts) after what
varies from run to run is taken out: test durations, object addresses, the
temporary repository's path, and the order of lines (a dict diff's lines follow the hash seed).
Prints one JSON object: per replay the requests made and equal, the first that differs, each
arm's outcome; and the totals. No model runs: a replay takes seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, coder_requests, emit, run_spans

SCRIPT = ROOT / "benchmarks" / "coaching_worth.py"


def arm_file_name(arm: str) -> str:
    from coaching_worth import arm_file

    return arm_file(Path("."), arm).name


def llm_spans(runs_dir: Path, run_id: str) -> list[dict]:
    return coder_requests(run_spans(runs_dir, run_id))


def normalized(text: str) -> str:
    text = re.sub(r"\bin [0-9.]+s\b", "in Xs", text)
    text = re.sub(r"0x[0-9a-f]+", "0xADDR", text)
    text = re.sub(r"/tmp/[^\s'\"]*?/repo\b", "REPO", text)
    text = re.sub(r"/tmp/agent-runtime-[^\s'\"]*", "TMP", text)
    return "\n".join(sorted(text.splitlines()))


def requests(span: dict, sampling: bool = False) -> list[str]:
    """The request's messages, normalized; with `sampling`, what it was sampled at first (builds
    from 62e6862 on record a call's own temperature; older ones the model's setting)."""
    attributes, found, index = span["attributes"], [], 0
    if sampling:
        parameters = json.loads(attributes.get("llm.invocation_parameters") or "{}")
        found.append("sampled: " + json.dumps({k: parameters.get(k) for k in ("temperature", "top_p", "max_tokens")}))
    while f"llm.input_messages.{index}.message.role" in attributes:
        content = attributes.get(f"llm.input_messages.{index}.message.content") or ""
        found.append(f"{attributes[f'llm.input_messages.{index}.message.role']}: {normalized(content)}")
        index += 1
    return found


def results(out_dir: Path, arm: str) -> list[dict]:
    path = out_dir / arm_file_name(arm)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def replay_one(source_dir: Path, source: str, result: dict, arms: list[str], work: Path,
               sampling: bool = False, suite: Path | None = None) -> dict:
    spans = llm_spans(source_dir / f"runs-{Path(arm_file_name(source)).stem}", str(result.get("run_id")))
    replies = [s["attributes"].get("output.value") or "" for s in spans]
    safe = re.sub(r"[^\w.-]", "_", source)
    tag = f"{safe}-{result['id']}"
    replay = work / f"{tag}.json"
    replay.write_text(json.dumps(replies))
    out = work / tag
    done = subprocess.run([sys.executable, str(SCRIPT), "--model", f"replay:{replay}", "--arms", ",".join(arms),
                           "--only", result["id"], "--budget", "300", "--out-dir", str(out),
                           *(["--suite", str(suite)] if suite else [])],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    row: dict = {"id": result["id"], "source": source, "replies": len(replies)}
    if done.returncode not in (0, 1):
        return {**row, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    sent = {}
    for arm in arms:
        if not results(out, arm):
            return {**row, "error": f"{arm} has no result (is {result['id']} in the suite? --suite)"}
        [ran] = results(out, arm)
        sent[arm] = [requests(s, sampling) for s in llm_spans(out / f"runs-{Path(arm_file_name(arm)).stem}",
                                                     str(ran.get("run_id")))]
        row[arm] = {"status": ran.get("status"), "solved": bool(ran.get("solved")), "requests": len(sent[arm])}
    first, second = (sent[arm] for arm in arms)
    equal = [a == b for a, b in zip(first, second)]
    row["requests_equal"] = sum(equal) if len(first) == len(second) else sum(equal[:min(len(first), len(second))])
    different = next((i for i, same in enumerate(equal) if not same),
                     None if len(first) == len(second) else min(len(first), len(second)))
    row["first_different"] = different
    if different is not None and different < min(len(first), len(second)):
        a, b = first[different], second[different]
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        row["differs_at_message"] = at
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source_dir", type=Path, required=True, metavar="DIR",
                        help="a coaching_worth.py --out-dir whose runs give the replies")
    parser.add_argument("--source", action="append", default=[], metavar="ARM",
                        help="whose replies (repeatable; default: every arm in DIR)")
    parser.add_argument("--arms", default="@ee7d811,profile", help="the two arms compared (default @ee7d811,profile)")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="these tasks (repeatable)")
    parser.add_argument("--suite", type=Path, help="the suite the run was of (default: coaching_worth.py's)")
    parser.add_argument("--out-dir", type=Path, metavar="DIR2", help="where the replays go (default: a new folder)")
    parser.add_argument("--sampling", action="store_true",
                        help="compare what each request was sampled at too (temperature: how temperature_bumps "
                             "acts); only for arms of builds that record it")
    args = parser.parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if len(arms) != 2 or arms[0] == arms[1]:
        parser.error("--arms: two distinct arms, comma-separated")
    found = sorted(p.name.removeprefix("coaching-").removesuffix(".jsonl")
                   for p in args.source_dir.glob("coaching-*.jsonl")) if args.source_dir.is_dir() else []
    if not found:
        parser.error(f"no coaching-ARM.jsonl results in {args.source_dir}")
    sources = args.source or found  # (a file's stem names its arm as well: coaching_worth.arm_file)
    unknown = [s for s in sources if not (args.source_dir / arm_file_name(s)).exists()]
    if unknown:
        parser.error(f"--source {unknown[0]}: no results for it in {args.source_dir} (there: {', '.join(found)})")
    work = args.out_dir or Path(tempfile.mkdtemp(prefix="same-requests-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for source in sources:
        for result in results(args.source_dir, source):
            if not args.only or result.get("id") in args.only:
                rows.append(replay_one(args.source_dir, source, result, arms, work, args.sampling, args.suite))
                said = rows[-1].get("error") or (f"{rows[-1]['requests_equal']} of "
                                                 f"{rows[-1][arms[0]]['requests']} requests equal")
                print(f"{source} {result['id']}: {said}", file=sys.stderr, flush=True)
    compared = [r for r in rows if "error" not in r]
    emit({"arms": arms, "from": str(args.source_dir), "sampling": args.sampling, "replays": len(rows), "errors": len(rows) - len(compared),
          "identical": sum(1 for r in compared if r["first_different"] is None),
          "same_outcome": sum(1 for r in compared if all(r[a]["status"] == r[arms[0]]["status"]
                                                        and r[a]["solved"] == r[arms[0]]["solved"] for a in arms)),
          "requests": sum(r[arms[0]]["requests"] for r in compared),
          "requests_equal": sum(r["requests_equal"] for r in compared), "out_dir": str(work), "tasks": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
