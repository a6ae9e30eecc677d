"""Imports point one way (README, "Architecture"): each folder may import only the layers below
it. Every import counts — at module level, inside functions, and under TYPE_CHECKING — so a
cycle cannot hide. A new arrow the wrong way fails here, with the file and the line."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "agent_runtime"
BASE = {"core", "config", "procs", "gitcmd"}
# layer -> the layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "procs": set(),
    "gitcmd": set(),  # the agent's own git calls, with the repository's programs switched off
    "config": {"core"},
    "safety": BASE,
    "patches": BASE,
    "models": BASE,
    "telemetry": BASE,
    "tools": BASE | {"safety", "patches", "telemetry"},
    "agent": BASE | {"safety", "patches", "telemetry", "tools", "models"},
    "eval": BASE | {"safety", "patches", "telemetry", "tools", "models", "agent"},
    "cli": BASE | {"safety", "patches", "telemetry", "tools", "models", "agent", "eval", "package"},
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
        assert here in ALLOWED, f"{path}: a new folder needs its place in ALLOWED (and the README)"
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
