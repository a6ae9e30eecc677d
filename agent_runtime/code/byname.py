"""Definitions written back by name: a block of code that holds only what changes (a function, a
method under its class, a constant, an import it needs) put into the files that define those names.

What a person gets by pasting a failing test into a chat is "the corrected function": the model
writes the few lines that change, not the files around them, and tokens written are a small model's
time. Each definition of the block replaces the one definition of its name in the files given
(symbols.replace: re-indented to where it stands, every other line byte for byte); a name no file
defines is new and goes into the file of the first definition replaced; an import goes into each file
changed whose code uses the name it binds and does not bind it yet. Tests the block writes (`test_*`, `Test*`) and imports of the file's own
module are never put into code. Standard library only.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field

from agent_runtime.code.index import module_of
from agent_runtime.code.symbols import DEFINITIONS, SymbolError, index, parse, replace

FENCE = re.compile(r"^```[\w+-]*[ \t]*$", re.M)


@dataclass
class Placed:
    """What a block becomes: each changed file's new text, and the names put where (for the step)."""

    texts: dict[str, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # "path::name" of each definition replaced or added
    left_out: list[str] = field(default_factory=list)  # what the block held that is not code to place


def first_block(text: str) -> tuple[str, str | None]:
    """(what the reply says before its first fenced block, that block's code). A block whose closing
    fence is missing (the reply was stopped at it, or cut by max_tokens) runs to the reply's end."""
    opening = FENCE.search(text or "")
    if opening is None:
        return (text or "").strip(), None
    rest = text[opening.end() + 1:]
    closing = FENCE.search(rest)
    said = re.sub(r"(\n|^)#{1,6}[ \t][^\n]*\s*$", "", text[:opening.start()].rstrip())  # a heading over the block
    return said.strip(), rest[:closing.start()] if closing else rest


def place(block: str, files: dict[str, str]) -> Placed:
    """The files with the block's definitions in place. SymbolError when the block is not Python, names
    a definition two files hold, or places nothing at all."""
    code = textwrap.dedent(block).strip("\n") + "\n"
    tree = parse(code)
    if tree is None:
        try:
            ast.parse(code)
        except (SyntaxError, ValueError) as exc:
            where = f" on line {exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
            raise SymbolError(f"the code block is not valid Python: {getattr(exc, 'msg', exc)}{where}",
                              "Write each function you change whole, in one python code block.") from None
    assert tree is not None
    lines = code.splitlines()
    texts = dict(files)
    placed = Placed()
    new: list[str] = []
    imports: list[tuple[str, set[str]]] = []
    home: str | None = None
    for node in tree.body:
        piece = "\n".join(lines[_first_line(node) - 1:node.end_lineno])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append((piece, {(a.asname or a.name).split(".")[0] for a in node.names}))
            continue
        name = _name_of(node)
        if name is None or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            if not isinstance(node, ast.Expr):
                placed.left_out.append(piece.splitlines()[0])
            continue
        if name.startswith(("test_", "Test")):
            placed.left_out.append(f"{name} (a test: tests are not changed)")
            continue
        where = _defined_in(name, node, texts)
        if len(where) > 1:
            raise SymbolError(f"{name} is defined in {' and '.join(sorted(where))}",
                              "Write it under a heading that names its file.")
        if not where:
            new.append(piece)
            continue
        path, qualified = next(iter(where.items()))
        texts[path] = _put(texts[path], qualified, node, piece, path)
        placed.names.append(f"{path}::{qualified}")
        home = home or path
    if home is None and len([p for p in files if p.endswith(".py")]) == 1 and new:
        home = next(p for p in files if p.endswith(".py"))
    if home is None:
        raise SymbolError("the code block defines nothing the code has" + (
            f" (it holds {', '.join(placed.left_out[:3])})" if placed.left_out else ""),
            "Write the corrected function whole, with its def line and its name as the code has it.")
    for piece in new:
        texts[home] = texts[home].rstrip("\n") + "\n\n\n" + piece.rstrip() + "\n"
        placed.names.append(f"{home}::{_name_of(ast.parse(piece).body[0])}")
    for path in [p for p, t in texts.items() if t != files[p]]:
        texts[path] = _with_imports(texts[path], imports, path)
    placed.texts = {p: t for p, t in texts.items() if t != files[p]}
    return placed


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno] + [d.lineno for d in decorators])


def _name_of(node: ast.stmt) -> str | None:
    if isinstance(node, DEFINITIONS):
        return node.name
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    return names[0] if len(names) == 1 == len(targets) else None


def _defined_in(name: str, node: ast.stmt, texts: dict[str, str]) -> dict[str, str]:
    """Where the block's top-level `name` goes: {path: qualified name} of each file that defines it once
    at its top (a function, class or assignment), else where one method of that name is (a method
    written alone, out of its class)."""
    top: dict[str, str] = {}
    methods: dict[str, str] = {}
    for path, text in texts.items():
        if not path.endswith(".py"):
            continue
        tree = parse(text)
        if tree is None:
            continue
        if any(_name_of(n) == name for n in tree.body):
            top[path] = name
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found = [s.name for s in index(text, tree) or [] if s.kind == "method" and s.short == name]
            if len(found) == 1:
                methods[path] = found[0]
    return top or methods


def _put(text: str, qualified: str, node: ast.stmt, piece: str, path: str) -> str:
    """The file with one definition (or assignment) replaced; a class written with only some of its
    methods has those methods replaced (and new ones added at its end), the rest kept."""
    if isinstance(node, DEFINITIONS):
        if isinstance(node, ast.ClassDef):
            return _put_class(text, qualified, node, piece, path)
        return replace(text, qualified, piece, path)[0]
    tree = parse(text)
    assert tree is not None
    old = next(n for n in tree.body if _name_of(n) == qualified)
    lines = text.splitlines(keepends=True)
    ending = "\n" if lines[old.end_lineno - 1].endswith("\n") else ""
    return "".join(lines[:old.lineno - 1]) + piece.rstrip() + ending + "".join(lines[old.end_lineno:])


def _put_class(text: str, name: str, node: ast.ClassDef, piece: str, path: str) -> str:
    methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    symbols = index(text) or []
    have = {s.short for s in symbols if s.kind == "method" and s.name.rsplit(".", 1)[0] == name}
    if {m.name for m in methods} >= have:  # the class written whole
        return replace(text, name, piece, path)[0]
    block = piece.splitlines()
    offset = _first_line(node) - 1
    for method in methods:
        source = "\n".join(block[_first_line(method) - 1 - offset:method.end_lineno - offset])
        if method.name in have:
            text = replace(text, f"{name}.{method.name}", source, path)[0]
        else:
            text = _append_method(text, name, source)
    return text


def _append_method(text: str, name: str, source: str) -> str:
    cls = next(s for s in index(text) or [] if s.name == name)
    members = [s for s in index(text) or [] if s.kind == "method" and s.name.rsplit(".", 1)[0] == name]
    indent = members[0].indent if members else cls.indent + "    "
    lines = text.splitlines(keepends=True)
    body = "".join(indent + line + "\n" if line.strip() else "\n" for line in textwrap.dedent(source).splitlines())
    return "".join(lines[:cls.end]) + "\n" + body + "".join(lines[cls.end:])


def _with_imports(text: str, imports: list[tuple[str, set[str]]], path: str) -> str:
    """The imports the placed code needs that the file lacks, after its last top-level import."""
    tree = parse(text)
    if tree is None or not imports:
        return text
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    have = {line.strip() for line in text.splitlines()}
    bound = {(a.asname or a.name).split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
             for a in n.names}
    own = module_of(path) or ""
    wanted = [line for line, names in imports if line.strip() not in have and names & used and not names <= bound
              and not re.match(rf"\s*from\s+\.?{re.escape(own)}\s+import\b", line)]
    if not wanted:
        return text
    last = max((n.end_lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))), default=0)
    if not last and tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant):
        last = tree.body[0].end_lineno  # after the module's docstring
    lines = text.splitlines(keepends=True)
    gap = "\n" if last < len(lines) and lines[last].strip() and not any(
        isinstance(n, (ast.Import, ast.ImportFrom)) and n.lineno == last + 1 for n in tree.body) else ""
    return "".join(lines[:last]) + "".join(w.rstrip() + "\n" for w in wanted) + gap + "".join(lines[last:])
