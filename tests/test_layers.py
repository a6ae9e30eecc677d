"""Imports point one way (docs/architecture.md, "Layers"): each folder may import only the layers below
it. Every import counts — at module level, inside functions, and under TYPE_CHECKING — so a
cycle cannot hide. A new arrow the wrong way fails here, with the file and the line."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "agent_runtime"
BASE = {"core", "config", "procs", "gitcmd", "gitbox", "gitdir", "gitrepo", "smol", "redact", "schema"}
# layer -> the layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "smol": set(),  # the one adapter for what smolagents does not promise (standard library only at import)
    "procs": set(),
    "redact": {"core", "config"},  # secrets out of text: traces, the terminal, run records, a note a tool would save
    "gitcmd": {"core", "gitbox", "gitdir", "procs"},  # the agent's own git calls, with the repository's programs switched off
    "gitbox": {"core", "procs"},  # where those calls run: a bubblewrap showing git the work tree and nothing else
    "gitdir": {"core", "config"},  # does a git directory lead outside its work tree (files only, no git run)
    "gitrepo": {"gitcmd"},  # GitPython's Repo, every git command of it through gitcmd's door
    "config": {"core", "schema"},
    "schema": set(),  # the files users write: one error shape, pydantic's errors rendered in it
    "code": {"core"},  # Python code by name: symbols, the repository index, failures (standard library only)
    "safety": BASE,
    "patches": BASE | {"code"},
    "models": BASE,
    "telemetry": BASE,
    "tools": BASE | {"safety", "patches", "telemetry", "code", "package"},  # package: the user's dotenv switch (hooks)
    "agent": BASE | {"safety", "patches", "telemetry", "tools", "models", "code"},
    "eval": BASE | {"safety", "patches", "telemetry", "tools", "models", "agent", "code"},
    "cli": BASE | {"safety", "patches", "telemetry", "tools", "models", "agent", "eval", "package", "code"},
    "run": {"cli"},
    "__main__": {"cli"},
    "package": set(),  # agent_runtime/__init__.py
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return "package" if len(parts) == 1 else parts[1]


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports are not used: they hide the layer
                found.append((node.lineno, "<relative import>"))
            elif node.module and node.module.split(".")[0] == "agent_runtime":
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "agent_runtime"]
    return found


def test_every_import_points_down():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "agent_runtime." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        here = layer_of(module)
        assert here in ALLOWED, f"{path}: a new folder needs its place in ALLOWED (and docs/architecture.md)"
        for line, target in imports(path):
            if target == "<relative import>":
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: relative import")
                continue
            there = layer_of(target)
            if there != here and there not in ALLOWED[here]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {here} imports {there} ({target})")
    assert wrong == [], "\n".join(wrong)


def test_the_checker_sees_imports_inside_functions_and_type_checking(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from agent_runtime.cli import x\n"
                      "def f():\n    import agent_runtime.agent.session\n")
    assert imports(sample) == [(3, "agent_runtime.cli"), (5, "agent_runtime.agent.session")]


def test_policy_check_does_not_load_the_agent_stack():
    """`agent-runtime policy check` is fast because the safety layer imports no smolagents/LiteLLM."""
    import subprocess
    import sys

    code = ("import sys; from agent_runtime.safety.policy import Policy; Policy.load(None); "
            "print(','.join(m for m in ('smolagents', 'litellm', 'opentelemetry') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


# --- cycles inside a layer ---
#
# The layer rule cannot see modules of one folder importing each other. A cycle there is the same
# tangle one level down (issue 13: "no import cycle remains, also none hidden inside functions").
# Every import counts here as above. The cycles that remain are broken by the edges listed below,
# each with what it is for: a new cycle fails, and so does an entry whose import is gone or that
# closes no cycle any more (delete it).
KNOWN_BACK_EDGES: dict[tuple[str, str], str] = {
    # The runtime owns the one path (Runtime.invoke -> tools/wrapper.py) and holds the patch tools'
    # store, so it sits above base.py; a tool's `runtime` attribute is only annotated.
    ("tools.base", "tools.runtime"): "TYPE_CHECKING: the Runtime annotation",
    ("tools.checks", "tools.runtime"): "TYPE_CHECKING: the Runtime annotation",
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        found[module or "__init__"] = path
    return found


def module_graph() -> dict[str, set[str]]:
    """module (without the `agent_runtime.` prefix) -> the package modules it imports, anywhere in it."""
    modules = _modules()

    def known(name: str) -> str | None:
        name = name.removeprefix("agent_runtime").removeprefix(".")
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "agent_runtime":
                for alias in node.names:  # `from agent_runtime.cli import main` imports the module cli.main
                    targets.add(known(f"{node.module}.{alias.name}"))
            elif isinstance(node, ast.Import):
                targets |= {known(a.name) for a in node.names if a.name.split(".")[0] == "agent_runtime"}
        graph[module] = {t for t in targets if t and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_inside_a_layer_beyond_the_known_ones():
    graph = module_graph()
    gone = [f"{a} -> {b}" for a, b in KNOWN_BACK_EDGES if b not in graph.get(a, set())]
    assert gone == [], f"these imports are gone: delete them from KNOWN_BACK_EDGES: {gone}"
    pruned = {module: {t for t in targets if (module, t) not in KNOWN_BACK_EDGES} for module, targets in graph.items()}
    found = cycles(pruned)
    assert found == [], "modules that import each other (directly or round a loop): " + "; ".join(
        " <-> ".join(component) for component in found)
    # An entry is a back edge only while its target still reaches its source the other way.
    stale = [f"{a} -> {b}" for a, b in KNOWN_BACK_EDGES if not reaches(pruned, b, a)]
    assert stale == [], f"these imports close no cycle any more: delete them from KNOWN_BACK_EDGES: {stale}"


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        todo += [nxt for nxt in graph.get(node, ()) if nxt not in seen]
        seen.update(graph.get(node, ()))
    return False


def test_the_cycle_check_finds_a_cycle_hidden_inside_a_function():
    graph = {"tools.base": {"tools.wrapper"}, "tools.wrapper": {"tools.checks"}, "tools.checks": {"tools.base"},
             "core": set()}
    assert cycles(graph) == [["tools.base", "tools.checks", "tools.wrapper"]]
    assert reaches(graph, "tools.wrapper", "tools.base") and not reaches(graph, "core", "tools.base")
    graph = module_graph()
    assert "tools.rg" in graph["tools.checks"], "an import inside a function is seen"
    assert "tools.runtime" in graph["tools.checks"], "an import under TYPE_CHECKING is seen"


MAX_MODULE_LINES = 600  # a module a newcomer reads in one sitting


def test_no_module_is_longer_than_a_newcomer_reads_at_once():
    long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these by what they do (docs/architecture.md): {long}"


ISSUE_NUMBER = r"\b[Ii]ssues?\s+#?\d+|\(#\d+\)"


def test_the_product_names_no_issue_number():
    """Comments and texts say why in the present tense; a tracker the repository does not hold means
    nothing to a reader (git keeps the history)."""
    import re

    found = [f"{path.relative_to(PACKAGE)}:{number}" for path in sorted(PACKAGE.rglob("*"))
             if path.suffix in (".py", ".toml", ".md", ".json") and path.is_file()
             for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if re.search(ISSUE_NUMBER, line)]
    assert found == [], f"say why instead: {found}"


def test_the_issue_number_check_sees_one(tmp_path):
    import re

    assert re.search(ISSUE_NUMBER, "# kept for issue 31") and re.search(ISSUE_NUMBER, "fixed (#12)")
    assert not re.search(ISSUE_NUMBER, "# the issue is that 3 files differ")
