"""Functions that share rare words with a failure: the task's statement, the failing test's name
and source, the error lines. Static call resolution misses what a library calls through a table
(`for f in [group_a, group_b, ...]`) or by name; a test called `test_issue562_tzcasts` still names
`group_tzcasts`. Okapi BM25 over each function's name and the identifiers and strings in it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from agent_runtime.code.index import RepoIndex, Target

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b)|[A-Z]?[a-z]+|[A-Z]+|\d+")
STOP = frozenset("""self cls return none true false def class import from for while if elif else not and or in is
with as try except finally raise pass break continue lambda yield assert del global nonlocal async await
the this that test tests assert fails fail failing code library change changes fix should when what get set
args kwargs len str int list dict tuple isinstance print value values""".split())
NAME_WEIGHT = 3  # a word of the function's own name counts this many times
K1, B = 1.2, 0.75


def words(text: str) -> list[str]:
    """Identifiers split into words (`group_tzcasts` -> group, tzcasts; `TZCast` -> tz, cast, tzcast),
    lower-cased, short and common ones left out; a compound identifier also counts whole."""
    found: list[str] = []
    for ident in IDENT.findall(text):
        parts = [p.lower() for piece in ident.split("_") for p in CAMEL.findall(piece)]
        whole = ident.lower().strip("_")
        for part in parts + ([whole] if len(parts) > 1 else []):
            if len(part) >= 3 and part not in STOP and not part.isdigit():
                found.append(part)
    return found


def weighted(*parts: tuple[str, float]) -> dict[str, float]:
    """A query from texts of different weight (a word keeps the highest weight it is given)."""
    weights: dict[str, float] = {}
    for text, weight in parts:
        for word in words(text):
            weights[word] = max(weights.get(word, 0.0), weight)
    return weights


@dataclass(frozen=True)
class Scored:
    target: Target
    score: float


def related(index: RepoIndex, paths: list[str], query: dict[str, float] | str, limit: int = 5) -> list[Scored]:
    """The functions and methods of `paths` most like `query` (text, or word -> weight), best first
    (score > 0 only)."""
    docs: list[tuple[Target, Counter]] = []
    for path in paths:
        facts = index.facts(path)
        text = index.text(path)
        if facts is None or text is None:
            continue
        lines = text.splitlines()
        for symbol in facts.symbols:
            if symbol.kind == "class" or any(symbol.name.startswith(o.name + ".") and o.kind != "class"
                                             for o in facts.symbols if o is not symbol):
                continue  # classes are their methods; a nested function belongs to its parent
            body = "\n".join(lines[symbol.start - 1:symbol.end])
            counts = Counter(words(body))
            for word in words(symbol.short):
                counts[word] += NAME_WEIGHT
            docs.append((Target(path, symbol), counts))
    if not docs:
        return []
    weights = query if isinstance(query, dict) else {w: 1.0 for w in words(query)}
    wanted = set(weights)
    frequency = Counter(word for _, counts in docs for word in counts if word in wanted)
    average = sum(sum(c.values()) for _, c in docs) / len(docs)
    scored = []
    for target, counts in docs:
        length = sum(counts.values())
        score = 0.0
        for word in sorted(wanted & set(counts)):  # one order of summing: the same score in every process
            idf = math.log(1 + (len(docs) - frequency[word] + 0.5) / (frequency[word] + 0.5))
            tf = counts[word]
            score += weights[word] * idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
        if score > 0:
            scored.append(Scored(target, score))
    scored.sort(key=lambda s: -s.score)
    return scored[:limit]
