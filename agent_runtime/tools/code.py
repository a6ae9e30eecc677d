"""Tools that see Python code by its structure: a file's outline, one symbol's source, where a
name is defined and used, and a symbol replaced by name (a patch, applied with apply_patch).

In a file of thousands of lines a small model pages and gets lost; by name it reads the one
function it needs and writes only that function back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_runtime.code import symbols
from agent_runtime.core import Action, ToolError
from agent_runtime.patches.apply import plan_symbol
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import patch_text_check, path_check, text_check
from agent_runtime.tools.files import ensure_text
from agent_runtime.tools.patch import propose_one

# A class longer than this is shown as its outline: its methods are read one by one.
CLASS_WHOLE_LINES = 120
MAX_DEFINITIONS, MAX_USES = 12, 20


def _symbols(tool: RuntimeTool, path: Path) -> tuple[str, str, list[symbols.Symbol]]:
    shown = tool.workspace.relative(path)
    ensure_text(path, shown)
    if not shown.endswith(".py"):
        raise ToolError(f"{shown} is not a Python file", "Symbols are found in .py files; use read_file for others.")
    text = path.read_text(encoding="utf-8", errors="replace")
    found = symbols.index(text)
    if found is None:
        raise ToolError(f"{shown} does not parse as Python", "Read it with read_file instead.", kind="not_parsable")
    return shown, text, found


class OutlineTool(RuntimeTool):
    reads_only = True
    name = "outline"
    description = "List the classes, functions and methods of a Python file, with their lines and signatures."
    inputs = {"path": {"type": "string", "description": "Python file path relative to the repository root"}}
    checks = {"path": path_check("file")}

    def action(self, path: Path) -> Action:
        return self.reads(path)

    def run(self, path: Path) -> dict[str, Any]:
        shown, text, found = _symbols(self, path)
        return {"path": shown, "lines": text.count("\n") + (not text.endswith("\n") and bool(text)),
                "symbols": len(found), "outline": "\n".join(symbols.outline(text, found)) + "\n",
                "next": f'read one with read_symbol(path="{shown}", name="...")'}


class ReadSymbolTool(RuntimeTool):
    reads_only = True
    name = "read_symbol"
    description = ("Read one class, function or method of a Python file by name (\"Class.method\" or \"function\"), "
                   "decorators included.")
    inputs = {
        "path": {"type": "string", "description": "Python file path relative to the repository root"},
        "name": {"type": "string", "description": "qualified name: Class.method, function, Outer.Inner"},
    }
    checks = {"path": path_check("file"), "name": text_check("name", allow_empty=False)}

    def action(self, path: Path, **_: Any) -> Action:
        return self.reads(path)

    def run(self, path: Path, name: str) -> dict[str, Any]:
        shown, text, found = _symbols(self, path)
        try:
            symbol = symbols.find(found, name, shown)
        except symbols.SymbolError as exc:
            raise ToolError(exc.error, exc.suggestion, kind="not_found") from None
        total = text.count("\n") + (not text.endswith("\n") and bool(text))
        result: dict[str, Any] = {"path": shown, "name": symbol.name, "lines": f"{symbol.start}-{symbol.end} of {total}"}
        if symbol.kind == "class" and symbol.lines > CLASS_WHOLE_LINES:
            inner = [s for s in found if s.name.startswith(symbol.name + ".") and s.name.count(".") == symbol.name.count(".") + 1]
            header = text.splitlines()[symbol.start - 1:max(symbol.start, (inner[0].start - 1) if inner else symbol.body)]
            result["source"] = "\n".join(header) + "\n"
            result["methods"] = "\n".join(symbols.outline(text, inner)) + "\n"
            result["next"] = f'the class is long: read a method with read_symbol(path="{shown}", name="{symbol.name}.method")'
        else:
            result["source"] = symbols.source(text, symbol) + "\n"
        return result


class FindSymbolTool(RuntimeTool):
    reads_only = True
    name = "find_symbol"
    description = ("Find where a name is defined (classes, functions, methods of the Python files) and where it is "
                   "used (lines that mention it).")
    inputs = {
        "name": {"type": "string", "description": "a name: function, Class, Class.method or method"},
        "path": {"type": "string", "description": "only in this file or folder", "nullable": True},
    }
    checks = {"name": text_check("name", allow_empty=False), "path": path_check("any")}

    def action(self, path: Path | None = None, **_: Any) -> Action:
        return self.reads(path)  # none given: the whole workspace, hidden files left out below

    def run(self, name: str, path: Path | None = None) -> dict[str, Any]:
        from agent_runtime.tools.rg import base_command, run_rg, strip_dot

        wanted = name.strip().removesuffix("()").split("::")[-1]
        short = wanted.rsplit(".", 1)[-1]
        if not short.isidentifier():
            raise ToolError(f"{name!r} is not a name", "Pass a function, class or method name, e.g. Parser.parse.")
        root = self.workspace.root
        where = self.workspace.relative(path) if path is not None else None
        # Definitions: files whose text has `def name` / `class name`, then parsed for the exact place.
        command = base_command(self.workspace.hidden, "*.py") + ["-l", "-e", rf"(def|class)\s+{short}\b", "--",
                                                                 where or "."]
        files, _, _, _ = run_rg(command, root, 500)
        files, _ = self.visible_paths(strip_dot(f) for f in files)
        definitions = []
        for rel in files:
            try:
                found = symbols.index((root / rel).read_text(encoding="utf-8", errors="replace")) or []
            except OSError:
                continue
            for symbol in found:
                if symbol.short == short and (symbol.name == wanted or symbol.name.endswith("." + wanted)
                                              or "." not in wanted):
                    definitions.append(f"{rel}:{symbol.line}: {symbol.name}: {symbol.signature}")
        command = base_command(self.workspace.hidden) + ["-n", "-w", "--max-columns", "200", "-e", short, "--",
                                                         where or "."]
        lines, more, _, _ = run_rg(command, root, 400)
        uses = []
        for line in lines:
            rel, _, rest = strip_dot(line).partition(":")
            number, _, code = rest.partition(":")
            if self.hidden(rel) or f"def {short}" in code or f"class {short}" in code:
                continue
            uses.append(f"{rel}:{number}: {code.strip()[:160]}")
        result: dict[str, Any] = {"name": wanted, "definitions": definitions[:MAX_DEFINITIONS] or "none found",
                                  "uses": uses[:MAX_USES] or "none found"}
        if len(definitions) > MAX_DEFINITIONS or len(uses) > MAX_USES or more:
            result["note"] = "more than shown: pass path= to look in one file or folder"
        if definitions:
            first = definitions[0].split(":")
            result["next"] = f'read it with read_symbol(path="{first[0]}", name="{first[2].strip()}")'
        return result


class ReplaceSymbolTool(RuntimeTool):
    name = "replace_symbol"
    description = ("Propose replacing one class, function or method of a Python file, by name, with its whole new "
                   "source (the rest of the file is kept as it is). Changes nothing. Returns patch_id for apply_patch.")
    inputs = {
        "path": {"type": "string", "description": "Python file path relative to the repository root"},
        "name": {"type": "string", "description": "qualified name: Class.method, function"},
        "source": {"type": "string", "description": "the whole new definition: decorators, def line and body"},
    }
    checks = {"path": path_check("file"), "name": text_check("name", allow_empty=False),
              "source": patch_text_check("source", allow_empty=False)}

    def action(self, path: Path, **_: Any) -> Action:
        return self.reads(path)

    def run(self, path: Path, name: str, source: str) -> dict[str, Any]:
        return propose_one(self, path, lambda rel: plan_symbol(self.workspace, rel, name, source))

