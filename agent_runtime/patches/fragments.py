"""A Python file's "whole new content" that is only some of its functions.

Asked for a whole file, small models often write only the function they fixed. Written as
given, that deletes the rest of the file. When every definition in such a fragment names
exactly one definition of the file (a function, a method, a class), each replaces that one,
re-indented to where it stands, new imports go after the file's imports, and the rest of the
file is kept. Anything else is left to the caller: a fragment that cannot be placed is refused.
A whole file that left out imports it still uses gets them back (restore_imports).
"""

from __future__ import annotations

import ast
import textwrap

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _span(node: ast.AST) -> tuple[int, int]:
    """First and last line (1-based) of a definition, its decorators included."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno or node.lineno


def syntax_problem(before: str, after: str) -> str | None:
    """Why `after` is not Python while `before` was (as a file or as a fragment), or None."""
    if _parse(before) is None:
        return None
    try:
        ast.parse(textwrap.dedent(after))
    except SyntaxError as exc:
        return f"{exc.msg} on line {exc.lineno}"
    except ValueError as exc:
        return str(exc)
    return None


def dropped_names(before: str, after: str) -> list[str]:
    """Top-level definitions of `before` that `after` no longer has (both must parse)."""
    old, new = _parse(before), _parse(after)
    if old is None or new is None:
        return []
    kept = {n.name for n in new.body if isinstance(n, DEFINITIONS)}
    return [n.name for n in old.body if isinstance(n, DEFINITIONS) and n.name not in kept]


def place_fragment(before: str, fragment: str) -> tuple[str, list[str]] | None:
    """`before` with the fragment's definitions put in place of the ones they name, and the
    names replaced; None when the fragment cannot be placed unambiguously."""
    old, new = _parse(before), _parse(textwrap.dedent(fragment))
    if old is None or new is None:
        return None
    fragment_lines = textwrap.dedent(fragment).splitlines()
    lines = before.splitlines(keepends=True)
    everywhere: dict[str, list[ast.AST]] = {}
    for node in ast.walk(old):
        if isinstance(node, DEFINITIONS):
            everywhere.setdefault(node.name, []).append(node)
    old_text = {ast.get_source_segment(before, n) for n in old.body}
    replacements: list[tuple[int, int, list[str]]] = []
    imports: list[str] = []
    names: list[str] = []
    for node in new.body:
        source = "\n".join(fragment_lines[_span(node)[0] - 1:node.end_lineno])
        if isinstance(node, DEFINITIONS):
            targets = everywhere.get(node.name, [])
            if len(targets) != 1:
                return None
            first, last = _span(targets[0])
            indent = lines[first - 1][:len(lines[first - 1]) - len(lines[first - 1].lstrip())]
            replacements.append((first, last, [indent + line if line.strip() else line
                                               for line in textwrap.dedent(source).splitlines()]))
            names.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if source.strip() not in old_text:
                imports.append(source.strip())
        elif ast.get_source_segment(textwrap.dedent(fragment), node) not in old_text:
            return None  # a statement the file does not have: not a fragment we can place
    if not names:
        return None
    spans = sorted((first, last) for first, last, _ in replacements)
    if any(a[1] >= b[0] for a, b in zip(spans, spans[1:])):
        return None  # two definitions inside one another
    newline = "\r\n" if "\r\n" in before else "\n"
    for first, last, body in sorted(replacements, reverse=True):
        lines[first - 1:last] = [line + newline for line in body]
    if imports:
        top_imports = [n for n in old.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        at = (top_imports[-1].end_lineno or 0) if top_imports else 0
        if at == 0 and old.body and isinstance(old.body[0], ast.Expr) and isinstance(
                getattr(old.body[0], "value", None), ast.Constant):
            at = old.body[0].end_lineno or 0  # after the module docstring
        lines[at:at] = [line + newline for line in imports]
    return "".join(lines), names


def _bound_by_import(node: ast.AST) -> set[str]:
    return {(a.asname or a.name).split(".")[0] for a in getattr(node, "names", [])}


def restore_imports(before: str, after: str) -> tuple[str, list[str]]:
    """`after` (a whole file) with the imports of `before` it left out but still uses put back:
    small models rewrite the function they fixed and forget the file's imports above it."""
    old, new = _parse(before), _parse(after)
    if old is None or new is None:
        return after, []
    used = {n.id for n in ast.walk(new) if isinstance(n, ast.Name)}
    bound = set().union(*(_bound_by_import(n) for n in ast.walk(new) if isinstance(n, (ast.Import, ast.ImportFrom))))
    bound |= {n.name for n in ast.walk(new) if isinstance(n, DEFINITIONS)}
    bound |= {n.id for n in ast.walk(new) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    missing = [ast.get_source_segment(before, n) or "" for n in old.body if isinstance(n, (ast.Import, ast.ImportFrom))
               and (_bound_by_import(n) & used) - bound]
    missing = [m for m in missing if m]
    if not missing:
        return after, []
    lines = after.splitlines(keepends=True)
    at = 0
    if new.body and isinstance(new.body[0], ast.Expr) and isinstance(getattr(new.body[0], "value", None), ast.Constant):
        at = new.body[0].end_lineno or 0  # after the module docstring
    futures = [n for n in new.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    if futures:
        at = max(at, futures[-1].end_lineno or 0)
    newline = "\r\n" if "\r\n" in after else "\n"
    lines[at:at] = [m + newline for m in missing]
    return "".join(lines), missing
