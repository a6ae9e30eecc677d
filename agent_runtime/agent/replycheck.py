"""What a CodeAgent reply's code would do, read before it runs (agent/replies.py acts on it): whether
it parses as smolagents will parse it, names it reads that nothing set, items read of a number, and
its form with the names it assigns made uniform (a repeated step)."""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections import Counter


def reply_code(text: str | None, reply_format: str, code_tags: tuple[str, str]) -> str:
    """The code of a reply as smolagents will parse it; ValueError/KeyError/TypeError if none."""
    from smolagents.utils import extract_code_from_text, parse_code_blobs

    if not text or not text.strip():
        raise ValueError("it was empty")
    if reply_format == "json":
        code = json.loads(text)["code"]
        return extract_code_from_text(code, code_tags) or code
    closed = text if text.rstrip().endswith(code_tags[1]) else text + code_tags[1]
    return parse_code_blobs(closed, code_tags)


def reply_problem(text: str | None, reply_format: str, code_tags: tuple[str, str]) -> str | None:
    """Why a reply cannot be run, or None: the same parsing smolagents does, plus Python's."""
    try:
        ast.parse(reply_code(text, reply_format, code_tags))
    except (ValueError, KeyError, TypeError) as exc:
        return f"no code block: {str(exc).splitlines()[0][:120]}"
    except SyntaxError as exc:
        return f"the code is not valid Python: {exc.msg} on line {exc.lineno}"
    return None


def unbound_reads(code: str, known: set[str]) -> list[str]:
    """Names the code reads that nothing binds: not a builtin, not in `known` (tools, earlier
    variables), not bound anywhere in the code (assignment, loop, import, def, argument). Where
    in the code a name is bound does not matter: this catches made-up names, not order."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    bound = set(known) | set(dir(builtins))
    augmented = {id(n.target) for n in ast.walk(tree) if isinstance(n, ast.AugAssign)}  # `x += 1` reads x
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and id(node) not in augmented:
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            bound.update(node.names)
    reads = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and (isinstance(n.ctx, ast.Load) or id(n) in augmented)]
    return list(dict.fromkeys(name for name in reads if name not in bound))


def subscripted_numbers(code: str) -> list[tuple[str, str]]:
    """(name, the subscript as written) where the code sets a name only ever to a number, True,
    False or None and reads an item of it: `E = -1` then `apply_patch(patch_id=E["patch_id"])`
    (the 0.5B model copying pytest's `E   assert -1 == 5`), a TypeError every time it runs."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []

    def scalar(value: ast.AST) -> bool:
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd)):
            value = value.operand
        return isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, (bool, int, float)))

    assigned: dict[str, list[bool]] = {}  # name -> for each `name = value`: is the value a number
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(scalar(node.value))
    bindings = Counter(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    # Bound another way too (a loop, `+=`, a tuple): not judged.
    numbers = {name for name, kinds in assigned.items() if all(kinds) and bindings[name] == len(kinds)}
    return list(dict.fromkeys((n.value.id, ast.unparse(n)) for n in ast.walk(tree)
                              if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
                              and n.value.id in numbers))


def normalized(code: str) -> str:
    """The code with its layout and the names it assigns made uniform: `p3 = propose_file(…)` is a
    repeat of `p1 = propose_file(…)`: a small model repeats a step with its names renumbered."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return re.sub(r"\s+", " ", code).strip()
    assigned: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            assigned.setdefault(node.id, f"_v{len(assigned)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in assigned:
            node.id = assigned[node.id]
    return ast.unparse(tree)
