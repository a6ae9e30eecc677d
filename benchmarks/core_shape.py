"""The agent core's shape, read from its source: what a newcomer must learn to change how a fix is
attempted, and how big the pieces are (issue 31's goals).

    python benchmarks/core_shape.py [--root DIR]   (DIR: a source tree, default this one; e.g. a
                                                    build extracted by coaching_worth.py --arms @REV)

Prints one JSON object:
- `repair_loop`: the file that runs a fix task's attempts (agent/repair.py; agent/attempts.py in builds
  before issue 44), its lines, and
  its `concepts`: the classes it defines plus the classes it names from elsewhere (in imports,
  type-checking imports included, so a duck-typed argument counts once it is named), each with
  the module it comes from. Functions and constants are not concepts: they are read where used.
- `callables_taken`: the repair loop's fields typed Callable (what it calls back into).
- `fix_path`: the same count over every module one fix attempt passes through (FIX_PATH: the
  session and task loop that drive it, the first message, the edit form, the model wrapper), the
  whole of what a newcomer may meet when changing how a fix is attempted.
- `session`: agent/session.py's lines and its function-level imports.
- `agent_lines`: every module of agent/, and the total.
Only the source is read (ast); nothing of the tree is imported, so an old build is read alike.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
from pathlib import Path

from _common import ROOT, emit

# The repair loop: the harness's own since issue 44 (agent/repair.py), the attempts' file before it.
LOOPS = ("agent_runtime/agent/repair.py", "agent_runtime/agent/attempts.py")
SESSION = "agent_runtime/agent/session.py"
FIX_PATH = ("repair.py", "attempts.py", "outcomes.py", "taskloop.py", "session.py", "start.py", "testplan.py", "edits.py",
            "blocks.py", "pieces.py", "replies.py")


def module_file(root: Path, module: str) -> Path | None:
    base = root / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def is_class(root: Path, module: str, name: str) -> bool:
    """Whether `module.name` is a class: read from the tree for the project, imported otherwise."""
    if module.split(".")[0] == "agent_runtime":
        path = module_file(root, module)
        if path is None:
            return False
        tree = ast.parse(path.read_text())
        if any(isinstance(node, ast.ClassDef) and node.name == name for node in tree.body):
            return True
        for node in tree.body:  # re-exported: follow the import
            if isinstance(node, ast.ImportFrom) and node.module and any(a.name == name for a in node.names):
                return is_class(root, node.module, name)
        return False
    try:
        return isinstance(getattr(importlib.import_module(module), name), type)
    except (ImportError, AttributeError):
        return False


def imported_names(tree: ast.Module) -> list[tuple[str, str]]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [(node.module, alias.name) for alias in node.names]
    return names


def classes(root: Path, tree: ast.Module) -> tuple[list[str], list[tuple[str, str]]]:
    """The classes a module defines, and the (module, class) pairs it names from elsewhere."""
    own = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    named = sorted({(module, name) for module, name in imported_names(tree)
                    if module.split(".")[0] in ("agent_runtime", "smolagents") and is_class(root, module, name)})
    return own, named


def path_shape(root: Path) -> dict:
    found: set[str] = set()
    modules = []
    for name in FIX_PATH:
        path = root / "agent_runtime" / "agent" / name
        if path.exists():
            own, named = classes(root, ast.parse(path.read_text()))
            found |= set(own) | {name for _, name in named}
            modules.append(name)
    return {"modules": modules, "concepts": len(found), "concept_names": sorted(found)}


def loop_file(root: Path) -> str | None:
    return next((loop for loop in LOOPS if (root / loop).exists()), None)


def loop_shape(root: Path, loop: str) -> dict:
    path = root / loop
    tree = ast.parse(path.read_text())
    own, named = classes(root, tree)
    callables = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and "Callable" in ast.unparse(node.annotation):
            callables.append(node.target.id)
    return {"file": loop, "lines": len(path.read_text().splitlines()),
            "concepts": len(own) + len(named),
            "concept_names": own + [f"{name} ({module})" for module, name in named],
            "callables_taken": callables}


def session_shape(root: Path) -> dict:
    path = root / SESSION
    tree = ast.parse(path.read_text())
    inner = sum(1 for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom)))
    return {"file": SESSION, "lines": len(path.read_text().splitlines()), "function_level_imports": inner}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the source tree (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    loop = loop_file(root)
    if loop is None:
        parser.error(f"no {' or '.join(LOOPS)} under {root}")
    modules = {p.name: len(p.read_text().splitlines()) for p in sorted((root / "agent_runtime/agent").glob("*.py"))}
    emit({"root": str(root), "repair_loop": loop_shape(root, loop), "fix_path": path_shape(root), "session": session_shape(root),
          "agent_lines": {"total": sum(modules.values()), "modules": modules}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
