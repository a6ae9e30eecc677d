"""`agent-runtime policy check` in words: the effective decision and which rule made it, the reason
once (the sandbox's part on a line of its own), and each command of the line as it was quoted.

What the policy decides is never changed here; a saved approval is shown as what it does: the
command runs without asking (unless `--approval never`), so the headline and the exit status say allow.
"""

from __future__ import annotations

import shlex
from collections import Counter
from typing import Any

from agent_runtime.safety.policy.containment import (
    CONTAINED,
    ESCAPES,
    REVIEW,
    REVIEW_BECAUSE,
    UNAVAILABLE,
    escapes_because,
)

STATUS = {"allow": 0, "ask": 10, "deny": 20}  # scripts branch on the decision


def effective(decision: Any) -> str:
    """What happens when run_cmd meets it: an ask a saved approval covers runs without asking."""
    return "allow" if decision.decision == "ask" and decision.approved_by else decision.decision


def who_decided(decision: Any) -> str:
    if decision.rule:
        return f"rule {decision.rule}"
    if decision.sandbox == CONTAINED:
        return "no rule; the sandbox contains it"
    return "no rule: the policy's default"


def reason_alone(decision: Any) -> str:
    """The reason without the sandbox note the engine appends to an ask (shown on its own line)."""
    reason = decision.reason
    for note in (f" (the sandbox would contain it, but {REVIEW_BECAUSE})",
                 f" (asked in the sandbox too: {escapes_because(decision.rule)})"):
        if reason.endswith(note):
            return reason[: -len(note)]
    cut = reason.find(" (asked because commands run without the sandbox here:")
    return reason[:cut] if decision.sandbox == UNAVAILABLE and cut > 0 else reason


def sandbox_line(decision: Any, state: Any) -> str:
    """What the sandbox has to do with a decision, in a line."""
    if decision.decision == "deny":
        return "refused, in the sandbox or not"
    if effective(decision) != decision.decision:
        return "runs without asking, in the sandbox or not: your saved approval covers it"
    kind = decision.sandbox
    if kind == CONTAINED:
        return "runs in the sandbox without asking (without the sandbox it would ask)"
    if kind == UNAVAILABLE:
        return f"commands run without the sandbox here ({state.note}); in it, this would run without asking"
    if kind in (REVIEW, ESCAPES) and not state.contains:
        return f"commands run without the sandbox here ({state.note}); in it, this would be asked too"
    if kind == REVIEW:
        return (f"asked even in the sandbox: {REVIEW_BECAUSE} (a person decides; with --approval judge, "
                "the judge may approve it)")
    if kind == ESCAPES:
        return f"asked even in the sandbox: {escapes_because(decision.rule)} (a person decides)"
    return "allowed, in the sandbox or not"


def shown(argv: list[str]) -> str:
    """The words as a shell would read them back: `find . -name '*.pyc'`, `python -c 'print(1)'`.
    A word bash expands at run time (`$(date)`) is left as written, in double quotes if it has spaces."""
    words = []
    for word in argv:
        if "$" in word:
            words.append(f'"{word}"' if any(c.isspace() for c in word) else word)
        else:
            words.append(shlex.quote(word))
    return " ".join(words)


def lines(decision: Any, state: Any) -> list[str]:
    decided = effective(decision)
    if decided != decision.decision:  # a saved approval: the policy's own decision follows
        out = [f"{decided} (your saved approval in {decision.approved_by}): the policy alone would ask "
               f"({who_decided(decision)}: {reason_alone(decision)}); with --approval never it is refused"]
    else:
        out = [f"{decided} ({who_decided(decision)}): {reason_alone(decision)}"]
    out.append(f"  sandbox: {sandbox_line(decision, state)}")
    if decision.rule == "parse" and decision.commands:
        out.append("  the commands it holds, each judged alone (the whole line is asked: it cannot be fully read):")
    counted = Counter((item["decision"], shown(item["argv"]), item["via"]) for item in decision.commands)
    for (said, text, via), times in counted.items():  # in order of first appearance
        extra = (f"  [via {via}]" if via else "") + (f"  ({times} times)" if times > 1 else "")
        out.append(f"  {said:5}  {text}{extra}")
    return out
