"""Moving functions between two releases of a file, located by their qualified names with `ast`:
the newer release's test functions into the older test file (the test patch), the newer
release's fixed functions into the older source (the reference fix). Text is moved as it is
written (comments, decorators included), re-indented when the nesting differs."""

from __future__ import annotations

import ast
from dataclasses import dataclass


class TransplantError(ValueError):
    """A named symbol is missing, or has nowhere to go in the older file."""


@dataclass(frozen=True)
class Span:
    start: int  # first line (its first decorator), 1-based
    end: int  # last line
    indent: int


def spans(text: str) -> dict[str, Span]:
    """Every function and class by qualified name (`Class.method`). A name defined more than once
    (typing overloads before the implementation, a property's setter) is also listed as `name#1`,
    `name#2`, ... and `name#last`; the plain name is its first definition."""
    found: dict[str, Span] = {}
    counts: dict[str, int] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + node.name
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                span = Span(start, node.end_lineno or node.lineno, node.col_offset)
                counts[name] = counts.get(name, 0) + 1
                found.setdefault(name, span)
                found[f"{name}#{counts[name]}"] = span
                found[f"{name}#last"] = span
                if isinstance(node, ast.ClassDef):
                    visit(node.body, name + ".")

    visit(ast.parse(text).body, "")
    return found


def _reindent(lines: list[str], old: int, new: int) -> list[str]:
    if old == new:
        return lines
    return [(" " * new + line[old:]) if line.strip() else line for line in lines]


def transplant(old_text: str, new_text: str, names: list[str]) -> str:
    """`old_text` with each named function or class as `new_text` has it: replaced where the
    old text has it, else added at the end of its class (which the old text must have) or of
    the module."""
    new_spans = spans(new_text)
    new_lines = new_text.splitlines(keepends=True)
    text = old_text if old_text.endswith("\n") or not old_text else old_text + "\n"
    for name in names:
        if name not in new_spans:
            raise TransplantError(f"{name} is not in the newer file")
        src = new_spans[name]
        body = new_lines[src.start - 1:src.end]
        if body and not body[-1].endswith("\n"):
            body[-1] += "\n"
        old_spans = spans(text)
        lines = text.splitlines(keepends=True)
        if name in old_spans:
            dst = old_spans[name]
            lines[dst.start - 1:dst.end] = _reindent(body, src.indent, dst.indent)
        elif "." in name:
            owner = name.rsplit(".", 1)[0]
            if owner not in old_spans:
                raise TransplantError(f"{name}: the older file has no {owner}")
            cls = old_spans[owner]
            indent = _member_indent(lines, cls)
            lines[cls.end:cls.end] = ["\n", *_reindent(body, src.indent, indent)]
        else:
            lines += ["\n", "\n", *_reindent(body, src.indent, 0)]
        text = "".join(lines)
        ast.parse(text)  # the result must still be Python
    return text


def _member_indent(lines: list[str], cls: Span) -> int:
    for line in lines[cls.start:cls.end]:
        stripped = line.lstrip()
        if stripped and not stripped.startswith(("#", "@", "class ")) and len(line) - len(stripped) > cls.indent:
            return len(line) - len(stripped)
    return cls.indent + 4


def add_imports(text: str, imports: list[str]) -> str:
    """`text` with each import statement (`import json`) it lacks, after its last top-level import."""
    missing = [line for line in imports if line not in text.splitlines()]
    if not missing:
        return text
    tree = ast.parse(text)
    ends = [node.end_lineno or node.lineno for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    lines = text.splitlines(keepends=True)
    at = max(ends) if ends else 0
    lines[at:at] = [line + "\n" for line in missing]
    out = "".join(lines)
    ast.parse(out)
    return out
