"""A map of a repository's Python code for the model: files, their classes and functions with
signatures, ranked toward what the task names -- in the spirit of Aider's repo map, on Python's
own parser (code/index.py) instead of tree-sitter tags.

Ranking: a file the task names, a definition whose name the task uses, and a module many other
files import (a core module) rank higher; tests rank lower. The map is cut to a character budget,
whole files at a time, so the model reads names it can then open with read_symbol.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from agent_runtime.code.focus import is_test_path
from agent_runtime.code.index import RepoIndex, module_of
from agent_runtime.code.symbols import Symbol

MAP_CHARS = 2500
MAX_FILES = 3000  # a repository with more Python files is mapped by its first (ranked by path) this many
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def _importers(index: RepoIndex, paths: list[str]) -> Counter:
    """How many files import each file (by module name, through `import x` and `from x import y`)."""
    counts: Counter = Counter()
    for path in paths:
        facts = index.facts(path)
        if facts is None:
            continue
        modules = {module for module, _ in facts.imports.values()} | set(facts.star)
        modules |= {f"{module}.{name}" for module, name in facts.imports.values() if name}
        for module in modules:
            target = index.module_path(module)
            if target and target != path:
                counts[target] += 1
    return counts


def rank_files(index: RepoIndex, task: str) -> list[tuple[str, float, set[str]]]:
    """(path, score, names of its definitions the task mentions), best first."""
    paths = index.files[:MAX_FILES]
    words = set(WORD.findall(task))
    lowered = {w.lower() for w in words}
    importers = _importers(index, paths)
    ranked = []
    for path in paths:
        facts = index.facts(path)
        if facts is None:
            continue
        mentioned = {s.name for s in facts.symbols if s.short in words or s.short.lower() in lowered}
        module = module_of(path) or ""
        score = 10.0 * bool(path in task or module and module in task) + 5.0 * len(mentioned)
        score += math.log1p(importers[path]) + 0.01 * len(facts.symbols)
        if is_test_path(path):
            score *= 0.3
        ranked.append((path, score, mentioned))
    ranked.sort(key=lambda item: (-item[1], item[0]))
    return ranked


def _lines_of(symbols: list[Symbol], mentioned: set[str]) -> list[str]:
    """A file's definitions for the map: top-level ones, and the methods of classes the task
    mentions (or of the class whose method it mentions)."""
    open_classes = {name.split(".")[0] for name in mentioned}
    lines = []
    for symbol in symbols:
        depth = symbol.name.count(".")
        if depth == 0 or (depth == 1 and symbol.name.split(".")[0] in open_classes):
            if symbol.short.startswith("_") and not symbol.short.startswith("__") and symbol.name not in mentioned:
                continue  # private helpers: only when named
            lines.append(f"{'    ' * depth}{symbol.signature}")
    return lines


def render_map(index: RepoIndex, task: str, budget: int = MAP_CHARS) -> str:
    """The map as text: `path:` then its definitions indented, best files first, within budget."""
    parts: list[str] = []
    used = 0
    for path, _score, mentioned in rank_files(index, task):
        facts = index.facts(path)
        if facts is None or not facts.symbols:
            continue
        lines = _lines_of(facts.symbols, mentioned)
        if not lines:
            continue
        block = "\n".join([f"{path}:"] + [f"  {line}" for line in lines[:25]]
                          + ([f"  ... {len(lines) - 25} more"] if len(lines) > 25 else []))
        if used + len(block) > budget:
            if parts:
                break
            block = block[:budget]
        parts.append(block)
        used += len(block) + 1
    return "\n".join(parts)
