"""A repository's Python code by name: which file defines what, what each file imports, and
what a function calls -- enough to go from a failing test to the functions it runs.

Files are parsed when first needed (a failure touches a handful of a repository's files) and
their facts kept on disk by size and modification time, so a session in a repository of
thousands of files does not parse them all again (agent_runtime's state directory, one file
per repository). Resolution is static and deliberately modest: names a module defines or
imports (following re-exports through packages' __init__), `self.method`, `module.name`,
`variable.method` for a variable assigned from a known class, and otherwise a method name that
only a few classes define.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from agent_runtime.code.symbols import Symbol, index
from agent_runtime.core import read_inside

CACHE_VERSION = 1
MAX_FILE_BYTES = 2_000_000  # bigger files are generated or data: not indexed
ROOTS = ("", "src/", "lib/")
MAX_HOPS = 4  # re-exports followed before giving up


@dataclass
class FileFacts:
    symbols: list[Symbol]
    imports: dict[str, tuple[str, str | None]]  # local name -> (module, attribute or None for the module)
    star: list[str] = field(default_factory=list)  # modules imported with *
    names: list[str] = field(default_factory=list)  # other top-level names (assignments)
    bases: dict[str, list[str]] = field(default_factory=dict)  # class -> base names as written


def module_of(path: str) -> str | None:
    """`src/pkg/mod.py` -> `pkg.mod`; `pkg/__init__.py` -> `pkg`."""
    if not path.endswith(".py"):
        return None
    for root in ROOTS[1:]:
        if path.startswith(root):
            path = path[len(root):]
            break
    module = path[:-3].replace("/", ".")
    return module.removesuffix(".__init__")


def _absolute(module: str | None, level: int, path: str) -> str:
    """A relative import's module made absolute from the importing file's package."""
    if not level:
        return module or ""
    package = (module_of(path) or "").split(".")
    if not path.endswith("__init__.py"):
        package = package[:-1]
    package = package[:len(package) - (level - 1)] if level > 1 else package
    return ".".join([p for p in package if p] + ([module] if module else []))


def file_facts(text: str, path: str) -> FileFacts | None:
    tree = None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    symbols = index(text, tree) or []
    imports: dict[str, tuple[str, str | None]] = {}
    star: list[str] = []
    names: list[str] = []
    bases: dict[str, list[str]] = {}

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        imports[alias.asname] = (alias.name, None)
                    else:
                        imports[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
            elif isinstance(node, ast.ImportFrom):
                module = _absolute(node.module, node.level, path)
                for alias in node.names:
                    if alias.name == "*":
                        star.append(module)
                    else:
                        imports[alias.asname or alias.name] = (module, alias.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.extend(t.id for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.ClassDef):
                bases[node.name] = [ast.unparse(b) for b in node.bases]
            elif isinstance(node, (ast.If, ast.Try)):
                for part in (node.body, node.orelse, getattr(node, "finalbody", [])):
                    visit(part)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return FileFacts(symbols, imports, star, names, bases)


@dataclass(frozen=True)
class Target:
    """A definition found by resolution."""

    path: str
    symbol: Symbol


class RepoIndex:
    """The repository's Python files (`files`: what list_files would show; the caller leaves out
    what the policy hides), parsed on demand. `readable(path)`: may the agent read it."""

    def __init__(self, root: Path, files: Iterable[str], cache_dir: Path | None = None,
                 readable: Callable[[str], bool] = lambda path: True):
        self.root = root
        self.files = sorted(f for f in files if f.endswith(".py"))
        self.known = set(self.files)
        self.readable = readable
        self._facts: dict[str, FileFacts | None] = {}
        self._texts: dict[str, str] = {}
        self._cache_path = None
        self._disk: dict[str, dict] = {}
        self._dirty = False
        if cache_dir is not None:
            key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
            self._cache_path = cache_dir / f"{key}.json"
            try:
                data = json.loads(self._cache_path.read_text(encoding="utf-8"))
                if data.get("version") == CACHE_VERSION:
                    self._disk = data.get("files", {})
            except (OSError, ValueError):
                self._disk = {}
        self._modules: dict[str, str] = {}
        for path in self.files:
            module = module_of(path)
            if module and module not in self._modules:
                self._modules[module] = path

    # --- files ---

    def text(self, path: str) -> str | None:
        if path not in self._texts:
            if path not in self.known:
                return None
            # The policy asked as it is read: the tests may have swapped the file for a link out since.
            data = read_inside(self.root, path, MAX_FILE_BYTES, self.readable)
            if data is None or len(data) > MAX_FILE_BYTES:
                return None
            self._texts[path] = data.decode("utf-8", errors="replace")
        return self._texts[path]

    def facts(self, path: str) -> FileFacts | None:
        if path in self._facts:
            return self._facts[path]
        facts = None
        stamp = self._stamp(path)
        cached = self._disk.get(path)
        if stamp is not None and cached is not None and cached.get("stamp") == stamp:
            facts = _from_json(cached["facts"]) if cached.get("facts") else None
        elif stamp is not None:
            text = self.text(path)
            facts = file_facts(text, path) if text is not None else None
            self._disk[path] = {"stamp": stamp, "facts": _to_json(facts) if facts else None}
            self._dirty = True
        self._facts[path] = facts
        return facts

    def _stamp(self, path: str) -> list[int] | None:
        if path not in self.known or not self.readable(path):
            return None
        try:
            info = os.stat(self.root / path)
        except OSError:
            return None
        return [info.st_size, info.st_mtime_ns]

    def forget(self, path: str) -> None:
        """A file changed (an edit was applied): read it again when next needed."""
        self._facts.pop(path, None)
        self._texts.pop(path, None)

    def save(self) -> None:
        if self._cache_path is None or not self._dirty:
            return
        try:
            self._cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._cache_path.with_suffix(f".{os.getpid()}.tmp")
            known = {k: v for k, v in self._disk.items() if k in self.known}
            tmp.write_text(json.dumps({"version": CACHE_VERSION, "files": known}), encoding="utf-8")
            os.replace(tmp, self._cache_path)
            self._dirty = False
        except OSError:
            pass  # a cache that cannot be written is only slower next time

    # --- names ---

    def module_path(self, module: str) -> str | None:
        return self._modules.get(module)

    def symbol(self, path: str, name: str) -> Symbol | None:
        facts = self.facts(path)
        if facts is None:
            return None
        return next((s for s in facts.symbols if s.name == name), None)

    def resolve(self, path: str, name: str, hops: int = 0) -> Target | str | None:
        """What `name` means at the top level of `path`: a definition (Target), a module (its path),
        or None."""
        facts = self.facts(path)
        if facts is None or hops > MAX_HOPS:
            return None
        symbol = next((s for s in facts.symbols if s.name == name), None)
        if symbol is not None:
            return Target(path, symbol)
        if name in facts.imports:
            module, attribute = facts.imports[name]
            if attribute is None:
                return self.module_path(module)
            nested = self.module_path(f"{module}.{attribute}")
            if nested is not None:
                return nested  # `from pkg import submodule`
            source = self.module_path(module)
            return self.resolve(source, attribute, hops + 1) if source else None
        for module in facts.star:
            source = self.module_path(module)
            if source:
                found = self.resolve(source, name, hops + 1)
                if found is not None:
                    return found
        return None

    def member(self, target: Target | str, attribute: str, hops: int = 0) -> Target | str | None:
        """`target.attribute`: a module's name, or a class's method (its bases' too, if found)."""
        if isinstance(target, str):
            return self.resolve(target, attribute)
        if target.symbol.kind != "class" or hops > MAX_HOPS:
            return None
        method = self.symbol(target.path, f"{target.symbol.name}.{attribute}")
        if method is not None:
            return Target(target.path, method)
        facts = self.facts(target.path)
        for base in (facts.bases.get(target.symbol.name, []) if facts else []):
            found = self.resolve(target.path, base.split(".")[-1]) if "." not in base else None
            if isinstance(found, Target):
                inherited = self.member(found, attribute, hops + 1)
                if inherited is not None:
                    return inherited
        return None

    def defined_as(self, short: str, paths: Iterable[str] | None = None) -> list[Target]:
        """Every definition whose last name part is `short` (in `paths`, or every file)."""
        found = []
        for path in paths if paths is not None else self.files:
            facts = self.facts(path)
            if facts is not None:
                found += [Target(path, s) for s in facts.symbols if s.short == short]
        return found

    def node(self, target: Target) -> ast.AST | None:
        """The definition's AST (parsed from its source alone)."""
        text = self.text(target.path)
        if text is None:
            return None
        lines = text.splitlines()[target.symbol.start - 1:target.symbol.end]
        try:
            tree = ast.parse(textwrap.dedent("\n".join(lines)))
        except (SyntaxError, ValueError):
            return None
        return next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))), None)

    def calls(self, target: Target, wide: Iterable[str] | None = None, max_wide: int = 2) -> list[Target]:
        """The definitions a function calls, in order of first call (calls_at has their lines)."""
        return [callee for callee, _ in self.calls_at(target, wide, max_wide)]

    def calls_at(self, target: Target, wide: Iterable[str] | None = None,
                 max_wide: int = 2) -> list[tuple[Target, int]]:
        """The definitions a function calls and the file line of the first call to each, in order:
        local and imported names, `self.method()`, `module.name()`, `variable.method()` for a
        variable set from a known class, and a method name defined by at most `max_wide` classes
        in `wide` (the library)."""
        node = self.node(target)
        if node is None:
            return []
        owner = target.symbol.name.rsplit(".", 1)[0] if "." in target.symbol.name else None
        owner_target = None
        if owner is not None:
            owner_symbol = self.symbol(target.path, owner)
            owner_target = Target(target.path, owner_symbol) if owner_symbol and owner_symbol.kind == "class" else None
        variables: dict[str, Target] = {}
        found: dict[Target, int] = {}
        wide_paths = list(wide) if wide is not None else None
        line = 0  # the file line of the call being resolved

        def add(item: Target | str | None) -> None:
            if isinstance(item, Target):
                if item.symbol.kind == "class":
                    init = self.member(item, "__init__")
                    item = init if isinstance(init, Target) else item
                if item not in found and item != target:
                    found[item] = line

        calls = sorted((n for n in ast.walk(node) if isinstance(n, ast.Call)),
                       key=lambda n: (n.lineno, n.col_offset))
        for assign in (n for n in ast.walk(node) if isinstance(n, ast.Assign)):
            if isinstance(assign.value, ast.Call) and isinstance(assign.value.func, ast.Name):
                made = self.resolve(target.path, assign.value.func.id)
                if isinstance(made, Target) and made.symbol.kind == "class":
                    for name in assign.targets:
                        if isinstance(name, ast.Name):
                            variables[name.id] = made
        def by_name(attribute: str) -> None:
            if wide_paths is not None and not attribute.startswith("__"):
                candidates = self.defined_as(attribute, wide_paths)
                if 0 < len(candidates) <= max_wide:
                    for candidate in candidates:
                        add(candidate)

        for call in calls:
            func = call.func
            line = target.symbol.start - 1 + call.lineno
            if isinstance(func, ast.Name):
                local = self.symbol(target.path, f"{target.symbol.name}.{func.id}")  # a nested helper
                add(Target(target.path, local) if local else self.resolve(target.path, func.id))
                continue
            if not isinstance(func, ast.Attribute):
                continue
            base = func.value
            found_here: Target | str | None = None
            if isinstance(base, ast.Name) and base.id in ("self", "cls") and owner_target is not None:
                found_here = self.member(owner_target, func.attr)
            elif isinstance(base, ast.Name) and base.id in variables:
                found_here = self.member(variables[base.id], func.attr)
            elif isinstance(base, ast.Name):
                resolved = self.resolve(target.path, base.id)
                found_here = self.member(resolved, func.attr) if resolved is not None else None
            if found_here is not None:
                add(found_here)
            else:
                # An object whose class static resolution cannot see (or a mixin's self): the
                # method by its name, if only a few classes define it.
                by_name(func.attr)
        return list(found.items())


def _to_json(facts: FileFacts) -> dict:
    return {"symbols": [asdict(s) for s in facts.symbols], "imports": {k: list(v) for k, v in facts.imports.items()},
            "star": facts.star, "names": facts.names, "bases": facts.bases}


def _from_json(data: dict) -> FileFacts:
    return FileFacts([Symbol(**s) for s in data["symbols"]], {k: (v[0], v[1]) for k, v in data["imports"].items()},
                     data.get("star", []), data.get("names", []), data.get("bases", {}))
