"""Random strings from a GBNF grammar (the subset agent_runtime generates), for testing the
grammars themselves: whatever the grammar admits must parse."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

NAME = re.compile(r"[a-zA-Z0-9_-]+")
ALPHABET = [chr(c) for c in range(32, 127)] + ["\n", "\t", "é", "→", "中"]


@dataclass
class Lit:
    text: str


@dataclass
class CharClass:
    chars: set[str]
    negated: bool

    def __post_init__(self) -> None:
        # what sampling picks from, built once (rebuilt per draw it was most of a fuzz test's time)
        self.pool = [c for c in ALPHABET if c not in self.chars] if self.negated else sorted(self.chars)


@dataclass
class Ref:
    name: str


@dataclass
class Seq:
    items: list


@dataclass
class Alt:
    options: list


@dataclass
class Repeat:
    item: object
    low: int
    high: int | None  # None: unbounded (`*`, `+`)


class Grammar:
    def __init__(self, text: str):
        self.rules: dict[str, object] = {}
        for line in text.splitlines():
            if "::=" not in line:
                continue
            name, _, body = line.partition("::=")
            self._src, self._pos = body.strip(), 0
            self.rules[name.strip()] = self._alt()

    # --- parsing ---
    def _peek(self) -> str:
        return self._src[self._pos] if self._pos < len(self._src) else ""

    def _skip(self) -> None:
        while self._peek() == " ":
            self._pos += 1

    def _alt(self):
        options = [self._seq()]
        self._skip()
        while self._peek() == "|":
            self._pos += 1
            options.append(self._seq())
            self._skip()
        return options[0] if len(options) == 1 else Alt(options)

    def _seq(self):
        items = []
        while True:
            self._skip()
            char = self._peek()
            if char in ("", "|", ")"):
                break
            item = self._atom()
            items.append(self._quantified(item))
        return Seq(items)

    def _quantified(self, item):
        char = self._peek()
        if char == "?":
            self._pos += 1
            return Repeat(item, 0, 1)
        if char == "*":  # unbounded (None) when matching; sampled up to four times
            self._pos += 1
            return Repeat(item, 0, None)
        if char == "+":
            self._pos += 1
            return Repeat(item, 1, None)
        if char == "{":
            end = self._src.index("}", self._pos)
            low, _, high = self._src[self._pos + 1:end].partition(",")
            self._pos = end + 1
            return Repeat(item, int(low), int(high) if high else int(low))
        return item

    def _atom(self):
        char = self._peek()
        if char == '"':
            self._pos += 1
            out = []
            while self._peek() != '"':
                if self._peek() == "\\":
                    self._pos += 1
                    out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"'}.get(self._peek(), self._peek()))
                else:
                    out.append(self._peek())
                self._pos += 1
            self._pos += 1
            return Lit("".join(out))
        if char == "[":
            self._pos += 1
            negated = self._peek() == "^"
            if negated:
                self._pos += 1
            chars: set[str] = set()
            while self._peek() != "]":
                c = self._peek()
                if c == "\\":
                    self._pos += 1
                    c = {"n": "\n", "t": "\t"}.get(self._peek(), self._peek())
                self._pos += 1
                if self._peek() == "-" and self._src[self._pos + 1] != "]":
                    end = self._src[self._pos + 1]
                    self._pos += 2
                    chars |= {chr(x) for x in range(ord(c), ord(end) + 1)}
                else:
                    chars.add(c)
            self._pos += 1
            return CharClass(chars, negated)
        if char == "(":
            self._pos += 1
            inner = self._alt()
            self._skip()
            self._pos += 1
            return inner
        match = NAME.match(self._src, self._pos)
        self._pos = match.end()
        return Ref(match.group(0))

    # --- sampling ---
    def sample(self, rng: random.Random, rule: str = "root", depth: int = 0) -> str:
        if not hasattr(self, "_compiled"):
            self._compiled = {}
            self._compiled.update({name: self._compile(node) for name, node in self.rules.items()})
        return self._compiled[rule](rng, depth)

    def _compile(self, node):
        """The node as a function of (rng, depth): the fuzz tests draw millions of nodes, and a
        closure per node is several times faster than dispatching on the node's type each time."""
        if isinstance(node, Lit):
            text = node.text
            return lambda rng, depth: text
        if isinstance(node, CharClass):
            pool = node.pool
            return lambda rng, depth: rng.choice(pool)
        if isinstance(node, Ref):
            compiled, name = self._compiled, node.name
            return lambda rng, depth: compiled[name](rng, depth + 1)
        if isinstance(node, Seq):
            items = [self._compile(item) for item in node.items]
            return lambda rng, depth: "".join([item(rng, depth) for item in items])
        if isinstance(node, Alt):
            options = [self._compile(option) for option in node.options]
            # Deep in the tree, prefer the first (shortest, non-recursive) options so samples end.
            return lambda rng, depth: rng.choice(options[:2] if depth > 12 else options)(rng, depth)
        if isinstance(node, Repeat):
            item, low, high_given = self._compile(node.item), node.low, node.high

            def repeat(rng: random.Random, depth: int) -> str:
                high = low if depth > 12 else (max(low, 4) if high_given is None else high_given)
                count = rng.randint(low, max(low, min(high, low + 3 if high > 6 else high)))
                if rng.random() < 0.04:
                    count = high  # sometimes the longest
                return "".join([item(rng, depth) for _ in range(count)])
            return repeat
        raise TypeError(node)

    # --- matching ---
    def accepts(self, text: str, rule: str = "root") -> bool:
        """Whether the grammar admits exactly `text` (every parse followed, as end positions)."""
        return len(text) in self._match(self.rules[rule], text, 0)

    def _match(self, node, text: str, pos: int) -> set[int]:
        if isinstance(node, Lit):
            return {pos + len(node.text)} if text.startswith(node.text, pos) else set()
        if isinstance(node, CharClass):
            if pos < len(text) and (text[pos] in node.chars) != node.negated:
                return {pos + 1}
            return set()
        if isinstance(node, Ref):
            return self._match(self.rules[node.name], text, pos)
        if isinstance(node, Seq):
            ends = {pos}
            for item in node.items:
                ends = {e for p in ends for e in self._match(item, text, p)}
            return ends
        if isinstance(node, Alt):
            return {e for option in node.options for e in self._match(option, text, pos)}
        if isinstance(node, Repeat):
            found, current = ({pos} if node.low == 0 else set()), {pos}
            # Unbounded: at most one repetition per character left (each takes at least one).
            for count in range(1, (len(text) - pos + 1 if node.high is None else node.high) + 1):
                current = {e for p in current for e in self._match(node.item, text, p)}
                if not current:
                    break
                if count >= node.low:
                    found |= current
            return found
        raise TypeError(node)
