"""pytest is the tests' tool, not the product's (issue 42): nothing in agent_runtime/ imports it, nor
hands a Python process source that does (`python -c "... import pytest ..."`). The traced test runs
(code/values.py, code/spectrum.py) load their tracer as a pytest plugin that pytest itself loads inside
the sandbox (`-p`, from code/pytest_plugins/: the one place allowed to import pytest), and no module of
the product imports those plugins."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "agent_runtime"
PLUGINS = PACKAGE / "code" / "pytest_plugins"  # loaded by pytest alone, in the sandbox
PYTEST = {"pytest", "_pytest"}
SOURCE_IMPORTING_PYTEST = re.compile(r"^\s*(?:import|from)\s+_?pytest\b", re.M)


def pytest_uses(source: str) -> list[str]:
    """`line: what` for each way the source brings pytest into the process that runs it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in PYTEST]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PYTEST and not node.level:
            found.append(f"{node.lineno}: from {node.module} import")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                and str(node.args[0].value).split(".")[0] in PYTEST:
            found.append(f"{node.lineno}: imports {node.args[0].value!r} by name")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and SOURCE_IMPORTING_PYTEST.search(node.value):
            found.append(f"{node.lineno}: source in a string imports pytest (run with -c)")
    return found


def imports_plugins(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        found += [f"{node.lineno}: {n}" for n in names if "pytest_plugins" in n or n.startswith("agent_runtime_")]
    return found


def test_the_product_never_imports_pytest():
    bad = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if PLUGINS in path.parents:
            continue
        source = path.read_text()
        found = pytest_uses(source) + [f"{u} (a plugin only pytest loads)" for u in imports_plugins(source)]
        if found:
            bad[str(path.relative_to(PACKAGE.parent))] = found
    assert not bad, bad
    assert sorted(p.name for p in PLUGINS.glob("*.py")) == [
        "__init__.py", "agent_runtime_spectrum.py", "agent_runtime_values.py"]


def test_the_check_finds_pytest_however_it_is_brought_in():
    cases = {
        "def f():\n    import pytest\n": "2: import pytest",
        "from _pytest.config import Config\n": "1: from _pytest.config import",
        "import importlib\nimportlib.import_module('pytest')\n": "2: imports 'pytest' by name",
        "TRACER = r'''\nimport sys\ntry:\n    import pytest\nfinally:\n    pass\n'''\n":
            "1: source in a string imports pytest (run with -c)",
    }
    for source, expected in cases.items():
        assert pytest_uses(source) == [expected], source
    # words about pytest are not an import of it
    assert pytest_uses("# `import pytest` would run a repository's own pytest.py\nX = 'python -m pytest -q'\n") == []
    assert imports_plugins("from agent_runtime.code.pytest_plugins import agent_runtime_values\n") != []
