"""The definitions of a Python file by name: `Class.method`, `function`, `Outer.Inner`.

What the agent reads and edits in a big file instead of the whole file or a range of lines:
one symbol's source (decorators included), found by its qualified name; replaced by new
source that must parse, re-indented to where the symbol stands, every other byte of the
file unchanged. Python's own parser (`ast`): exact positions, no dependency.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap
from dataclasses import dataclass

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class SymbolError(ValueError):
    """A symbol that cannot be read or replaced: what went wrong, and what to do instead."""

    def __init__(self, error: str, suggestion: str):
        super().__init__(error)
        self.error = error
        self.suggestion = suggestion


@dataclass(frozen=True)
class Symbol:
    name: str  # qualified: "Parser.parse", "helper", "Outer.Inner.method"
    kind: str  # "class", "function" or "method"
    start: int  # first line, 1-based, decorators included
    end: int  # last line, inclusive
    line: int  # the `def` / `class` line
    signature: str  # that line as written, up to its colon: "def parse(self, text, pos=0) -> Result"
    indent: str  # the whitespace before the `def` / `class`
    body: int = 0  # the first line of its body

    @property
    def short(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def lines(self) -> int:
        return self.end - self.start + 1


def parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _signature(node: ast.AST, lines: list[str]) -> str:
    """The definition's header as one line (a header spread over lines is joined)."""
    body_line = node.body[0].lineno if getattr(node, "body", None) else node.lineno  # type: ignore[attr-defined]
    header = lines[node.lineno - 1:max(node.lineno, body_line - 1)] or [lines[node.lineno - 1]]
    text = " ".join(part.strip() for part in header)
    # Up to the colon that ends the header (one-line bodies `def f(): return 1` are cut there too).
    depth = 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == ":" and depth == 0 and not text[i + 1:i + 2] == "=":
            return text[:i]
    return text.rstrip(":")


def index(text: str, tree: ast.Module | None = None) -> list[Symbol] | None:
    """Every class, function and method of the file in source order; None if it does not parse.
    tree: the file already parsed."""
    tree = tree or parse(text)
    if tree is None:
        return None
    lines = text.splitlines()
    found: list[Symbol] = []

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in body:
            if isinstance(node, DEFINITIONS):
                name = f"{prefix}{node.name}"
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                kind = "class" if isinstance(node, ast.ClassDef) else "method" if in_class else "function"
                line = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
                found.append(Symbol(name, kind, first, node.end_lineno or node.lineno, node.lineno,
                                    _signature(node, lines), line[:len(line) - len(line.lstrip())],
                                    node.body[0].lineno))
                visit(node.body, f"{name}.", isinstance(node, ast.ClassDef))
            elif isinstance(node, (ast.If, ast.Try, ast.With)) and not in_class:
                # `if TYPE_CHECKING:` / `try: ... except ImportError:` blocks define module names too.
                for part in (getattr(node, "body", []), getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                    visit(part, prefix, in_class)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body, prefix, in_class)

    visit(tree.body, "", False)
    return found


def enclosing(symbols: list[Symbol], line: int, kinds: tuple[str, ...] = ("function", "method")) -> Symbol | None:
    """The innermost symbol of these kinds that holds this line."""
    best = None
    for symbol in symbols:
        if symbol.kind in kinds and symbol.start <= line <= symbol.end:
            if best is None or symbol.lines <= best.lines:
                best = symbol
    return best


def find(symbols: list[Symbol], name: str, path: str = "the file") -> Symbol:
    """The symbol called `name`: its qualified name, or a short name that only one symbol has."""
    wanted = name.strip().removesuffix("()")
    wanted = re.sub(r"^(def|class|async def)\s+", "", wanted)
    parts = wanted.split("::")  # a pytest id: tests/test_x.py::TestY::test_z
    wanted = ".".join(parts[1:] if len(parts) > 1 and parts[0].endswith(".py") else parts)
    exact = [s for s in symbols if s.name == wanted]
    if len(exact) == 1:
        return exact[0]
    tail = [s for s in symbols if s.name.endswith("." + wanted) or s.name == wanted]
    if len(tail) == 1:
        return tail[0]
    if len(tail) > 1:
        names = ", ".join(s.name for s in tail[:8])
        raise SymbolError(f"{path} has {len(tail)} definitions called {wanted!r}: {names}",
                          "Give the qualified name, e.g. Class.method.")
    close = difflib.get_close_matches(wanted, [s.name for s in symbols], n=5, cutoff=0.5)
    close += [s.name for s in symbols if s.short.lower() == wanted.split(".")[-1].lower() and s.name not in close]
    hint = f"Names in {path} like it: {', '.join(close[:5])}." if close else "See the names with outline(path=...)."
    raise SymbolError(f"{path} has no class or function called {wanted!r}", hint)


def source(text: str, symbol: Symbol) -> str:
    """The symbol's lines as they are in the file (decorators included), without the final newline."""
    lines = text.splitlines()
    return "\n".join(lines[symbol.start - 1:symbol.end])


def _indent_of(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def _normalized(new: str, symbol: Symbol, body_step: int) -> str:
    """The new source moved to column 0 however the model indented it: as the file has it (the
    method indented under its class), at column 0, or with only its header pulled left and the
    body still at the file's depth (`def m(self):` then `        return 1`). body_step: how much
    deeper than its header the file indents the symbol's body."""
    lines = new.expandtabs(8).splitlines() if "\t" in new and "\t" not in symbol.indent else new.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ""
    text = textwrap.dedent("\n".join(lines))
    if not symbol.indent:
        return text
    dedented = text.splitlines()
    head = next((i for i, line in enumerate(dedented) if re.match(r"\s*(async\s+def|def|class)\b", line)), None)
    if head is None or _indent_of(dedented[head]):
        return text
    body = [line for line in dedented[head + 1:] if line.strip()]
    if body and min(len(_indent_of(line)) for line in body) == len(symbol.indent) + body_step:
        shifted = dedented[:head + 1] + [line[len(symbol.indent):] if line.strip() else line
                                         for line in dedented[head + 1:]]
        candidate = "\n".join(shifted)
        if parse(candidate) is not None:
            return candidate
    return text


def _body_step(text: str, symbol: Symbol) -> int:
    """How much deeper than its header the file indents the symbol's body (4 as a rule)."""
    lines = text.splitlines()
    if symbol.line < symbol.body <= len(lines):
        return max(1, len(_indent_of(lines[symbol.body - 1])) - len(symbol.indent))
    return 4


def replace(text: str, name: str, new: str, path: str = "the file") -> tuple[str, Symbol]:
    """`text` with the symbol `name` replaced by `new` (its whole new source: decorators, header,
    body). `new` must be one definition of the same name that parses; it is re-indented to where
    the symbol stands. Every line outside the symbol is kept byte for byte. Returns the new text
    and the symbol replaced."""
    symbols = index(text)
    if symbols is None:
        raise SymbolError(f"{path} does not parse as Python now", "Fix it with propose_patch (old/new) instead.")
    symbol = find(symbols, name, path)
    normalized = _normalized(new, symbol, _body_step(text, symbol))
    if not normalized.strip():
        raise SymbolError(f"the new source of {symbol.name} is empty",
                          "Pass the whole new definition: decorators, the def line and the body.")
    tree = parse(normalized)
    if tree is None:
        try:
            ast.parse(normalized)
        except SyntaxError as exc:
            raise SymbolError(f"the new source of {symbol.name} is not valid Python: {exc.msg} on line {exc.lineno}",
                              "Write the whole definition again, every line indented consistently.") from None
        except ValueError as exc:
            raise SymbolError(f"the new source of {symbol.name} is not valid Python: {exc}",
                              "Write the whole definition again.") from None
    assert tree is not None
    definitions = [n for n in tree.body if isinstance(n, DEFINITIONS)]
    others = [n for n in tree.body if not isinstance(n, DEFINITIONS)
              and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    if len(definitions) != 1 or others:
        what = ", ".join(getattr(n, "name", type(n).__name__) for n in tree.body)
        raise SymbolError(f"the new source of {symbol.name} must be that one definition; it has: {what}",
                          f"Pass only the new `{symbol.signature.split('(')[0]}` with its body; change other code "
                          "with its own replace_symbol or propose_patch.")
    if definitions[0].name != symbol.short:
        raise SymbolError(f"the new source defines {definitions[0].name!r}, not {symbol.short!r}",
                          f"Keep the name {symbol.short}; to add a new function, use propose_patch.")
    newline = "\r\n" if "\r\n" in text else "\n"
    body = [symbol.indent + line if line.strip() else "" for line in normalized.splitlines()]
    lines = text.splitlines(keepends=True)
    last = lines[symbol.end - 1] if symbol.end <= len(lines) else ""
    ending = newline if last.endswith(("\n", "\r")) else ""
    replacement = newline.join(body) + ending
    after = "".join(lines[:symbol.start - 1]) + replacement + "".join(lines[symbol.end:])
    if parse(after) is None:
        try:
            ast.parse(after)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            raise SymbolError(f"with the new {symbol.name} in place, {path} does not parse"
                              + (f" (line {line})" if line else ""),
                              "Check the new definition's indentation and brackets.") from None
    return after, symbol


def outline(text: str, symbols: list[Symbol] | None = None) -> list[str]:
    """One line per symbol: lines, and its header, indented by nesting."""
    symbols = index(text) if symbols is None else symbols
    if symbols is None:
        return []
    return [f"{s.start}-{s.end}: {'  ' * s.name.count('.')}{s.signature}" for s in symbols]

