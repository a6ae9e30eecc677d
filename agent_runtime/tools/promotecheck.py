"""Is a Python function fit to become a tool of its own (promote_tool, and each session that loads one)?

The rule, strict so it is simple to state and to check:
- a plain `def` at the module's top level, no decorators, no *args/**kwargs, no `global`/`nonlocal`;
- a docstring (its first paragraph becomes the tool's description);
- every parameter and the return annotated with one of HINTS (they become the JSON-schema types);
- it stands alone: every name it reads is a parameter, one of its own locals, a builtin, or a name a
  module-level `import` binds (that import is carried along into the tool's file). Another function,
  class or constant of the module is not: move it inside the function;
- every import (inside it, or carried) is of the standard library; never agent_runtime or smolagents.
It runs, if at all, in the sandbox, in a Python that sees the standard library only (tools/promoted.py).
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from dataclasses import dataclass
from typing import Any

# annotation as written -> (JSON-schema type, smolagents input type)
HINTS = {
    "str": "string", "int": "integer", "float": "number", "bool": "boolean",
    "list[str]": "array", "list[int]": "array", "list[float]": "array", "list[bool]": "array",
    "dict[str, str]": "object", "dict[str, int]": "object", "dict[str, float]": "object", "dict[str, bool]": "object",
}
FORBIDDEN_ROOTS = {"agent_runtime", "smolagents"}
TOOL_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")  # a Python name, and a skill's name once _ is -
MAX_NAME = 48


class PromoteError(Exception):
    """Why a function cannot be promoted: one line, with what to change."""


@dataclass(frozen=True)
class Checked:
    function: str
    description: str  # the docstring's first paragraph, on one line
    docstring: str
    params: dict[str, str]  # name -> annotation as written (a key of HINTS)
    optional: frozenset[str]  # parameters with a default
    returns: str
    source: str  # the tool's file: the carried imports, then the function

    def schema(self) -> dict[str, Any]:
        """The input schema: each parameter's JSON type; those without a default required."""
        properties = {name: {"type": HINTS[hint], "x-python": hint} for name, hint in self.params.items()}
        return {"type": "object", "properties": properties,
                "required": [name for name in self.params if name not in self.optional]}


def _hint(node: ast.expr | None, what: str) -> str:
    if node is None:
        raise PromoteError(f"{what} has no type hint; give it one of: {', '.join(HINTS)}")
    text = ast.unparse(node).replace(" ", "").replace(",", ", ")
    if text not in HINTS:
        raise PromoteError(f"{what} is hinted {text!r}; promoted tools take and return only: {', '.join(HINTS)}")
    return text


def _module_of(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        if node.level:
            raise PromoteError("a relative import (from . import ...) cannot travel with the tool")
        return [node.module or ""]
    return [alias.name for alias in node.names]


def _check_import(node: ast.Import | ast.ImportFrom) -> None:
    for module in _module_of(node):
        root = module.split(".")[0]
        if root in FORBIDDEN_ROOTS:
            raise PromoteError(f"it imports {module}: a promoted tool may not use agent_runtime or smolagents")
        if root not in sys.stdlib_module_names:
            raise PromoteError(f"it imports {module}, which is not in the standard library; promoted tools run "
                               "with the standard library only")


def _bound_by(node: ast.Import | ast.ImportFrom) -> dict[str, ast.alias]:
    return {(alias.asname or alias.name.split(".")[0]): alias for alias in node.names}


def _locals(function: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in function.args.args + function.args.kwonlyargs}
    for node in ast.walk(function):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            raise PromoteError("it uses global/nonlocal; a promoted tool keeps its state in its own locals")
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not function:
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            _check_import(node)
            if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
                raise PromoteError("it uses `from ... import *`; import the names it needs")
            names |= set(_bound_by(node))
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
    return names


HIDDEN_IMPORTS = frozenset({"__import__", "importlib", "exec", "eval", "compile"})


def check_source(text: str, function: str, where: str) -> Checked:
    """The checked function `function` of the module text; PromoteError says what breaks the rule."""
    try:
        tree = ast.parse(text, filename=where)
    except SyntaxError as exc:
        raise PromoteError(f"{where} does not parse: {exc.msg} (line {exc.lineno})") from None
    found = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == function]
    if not found:
        raise PromoteError(f"{where} has no function {function!r} at its top level")
    node = found[-1]
    if isinstance(node, ast.AsyncFunctionDef) or node.decorator_list:
        raise PromoteError(f"{function} must be a plain `def` without decorators")
    args = node.args
    if args.vararg or args.kwarg or args.posonlyargs or args.kwonlyargs:
        raise PromoteError(f"{function} may take only plain parameters (no *args, **kwargs, / or *)")
    docstring = ast.get_docstring(node)
    if not docstring or not docstring.strip():
        raise PromoteError(f"{function} has no docstring; its first paragraph becomes the tool's description")
    params = {a.arg: _hint(a.annotation, f"parameter {a.arg!r}") for a in args.args}
    optional = frozenset(a.arg for a in args.args[len(args.args) - len(args.defaults):])
    returns = _hint(node.returns, "the return value")
    mine = _locals(node)
    hidden = [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in HIDDEN_IMPORTS]
    if hidden:  # imports this check could not see (the sandbox's -I -S still holds them to the standard library)
        raise PromoteError(f"{function} uses {hidden[0].id} (line {hidden[0].lineno}); import the standard "
                           "library modules it needs with `import` lines")
    imports = {name: stmt for stmt in tree.body if isinstance(stmt, (ast.Import, ast.ImportFrom))
               for name in _bound_by(stmt) if name != "*"}
    carried: list[ast.stmt] = []
    for used in sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}):
        if used in mine or hasattr(builtins, used):
            continue
        stmt = imports.get(used)
        if stmt is None:
            raise PromoteError(f"{function} uses {used!r} from its module; a promoted tool stands alone: move it "
                               "inside the function (imports of the standard library may stay at the top)")
        _check_import(stmt)
        if isinstance(stmt, ast.ImportFrom):
            carried.append(ast.ImportFrom(module=stmt.module, names=[_bound_by(stmt)[used]], level=0))
        else:
            carried.append(ast.Import(names=[_bound_by(stmt)[used]]))
    body = ast.get_source_segment(text, node) or ast.unparse(node)
    header = "".join(ast.unparse(stmt) + "\n" for stmt in carried)
    source = f'"""A tool promoted with promote_tool; runs in the sandbox with the standard library only."""\n\n' \
             f"{header}\n\n{body}\n"
    description = " ".join(docstring.strip().split("\n\n")[0].split())
    return Checked(function, description[:1024], docstring, params, optional, returns, source)
