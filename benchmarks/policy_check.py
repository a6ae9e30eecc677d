"""The command policy on the test corpus: sizes, results (allowed-dangerous and denied-everyday
must be 0) and the time one check takes (parse + judge), median µs."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, emit

from agent_runtime.safety.policy import Policy


def corpus(name: str) -> list[str]:
    text = (ROOT / "tests" / "data" / name).read_text()
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def main() -> None:
    policy = Policy.load()
    root = Path(tempfile.mkdtemp(prefix="bench-policy-"))
    dangerous, everyday = corpus("dangerous_commands.txt"), corpus("everyday_commands.txt")
    policy.check_command("ls", root)  # load the parser once
    timings = []
    results = {}
    for name, commands in (("dangerous", dangerous), ("everyday", everyday)):
        decisions = Counter()
        for command in commands:
            for _ in range(20):
                start = time.perf_counter()
                decision = policy.check_command(command, root).decision
                timings.append(time.perf_counter() - start)
            decisions[decision] += 1
        results[name] = dict(decisions)
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
