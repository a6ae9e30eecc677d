"""run_cmd and run_tests: commands judged by the policy and run in the sandbox."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from agent_runtime.core import Action, ToolError
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import int_check, text_check

MAX_TIMEOUT_S = 3600
_PYTEST_SUMMARY = re.compile(r"^=+ (.*\b(passed|failed|error|errors|skipped|no tests ran|deselected)\b.*) =+$", re.M)


class RunCmdTool(RuntimeTool):
    name = "run_cmd"
    description = (
        "Run a shell command in the repository (sandboxed: no network, files outside the repo read-only). "
        "Risky commands need the user's approval; some are refused."
    )
    inputs = {
        "command": {"type": "string", "description": "shell command, e.g. 'ls -la src'"},
        "timeout": {"type": "integer", "description": "seconds before it is stopped (default 120)", "nullable": True},
    }
    checks = {"command": text_check("command", allow_empty=False), "timeout": int_check("timeout", high=MAX_TIMEOUT_S)}
    keep_tail = frozenset({"stdout", "stderr"})
    approval = "policy"

    def action(self, command: str, **_: Any) -> Action:
        return Action("command", command=command)

    def run(self, command: str, timeout: int | None = None) -> dict[str, Any]:
        outcome = self.runtime.sandbox.run(command, timeout=timeout or 120)
        result: dict[str, Any] = {
            "exit_code": outcome.exit_code,
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "duration_s": outcome.duration_s,
            "sandbox": outcome.sandbox,
        }
        if outcome.timed_out:
            result["timed_out"] = True
            result["note"] = f"stopped after {timeout or 120}s; pass a larger timeout or run something shorter"
        return result


def detect_test_command(root: Path) -> str | None:
    """The project's test command, from the files that say how it is tested."""
    python = root / ".venv" / "bin" / "python"
    pytest = f"{'.venv/bin/python' if python.exists() else 'python3'} -m pytest"
    if not python.exists() and shutil.which("pytest"):
        pytest = "pytest"
    markers = ("pytest.ini", "conftest.py", "tox.ini", "setup.cfg")
    pyproject = root / "pyproject.toml"
    if any((root / m).exists() for m in markers) or (pyproject.exists() and "pytest" in pyproject.read_text(errors="replace")):
        return pytest
    makefile = root / "Makefile"
    if makefile.exists() and re.search(r"^test\s*:", makefile.read_text(errors="replace"), re.M):
        return "make test"
    package = root / "package.json"
    if package.exists():
        try:
            if json.loads(package.read_text()).get("scripts", {}).get("test"):
                return "npm test"
        except (ValueError, AttributeError):
            pass
    if (root / "Cargo.toml").exists():
        return "cargo test"
    if (root / "go.mod").exists():
        return "go test ./..."
    for pattern in ("test_*.py", "*_test.py"):
        if next(root.rglob(pattern), None) is not None:
            return pytest
    return None


def summarize(output: str, exit_code: int | None) -> str:
    found = _PYTEST_SUMMARY.findall(output)
    if found:
        return found[-1][0]
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else f"exit code {exit_code}"


class RunTestsTool(RuntimeTool):
    name = "run_tests"
    description = "Run the project's tests (detects pytest, make test, npm test, cargo test, go test) and summarize."
    inputs = {
        "command": {"type": "string", "description": "test command; detected when omitted", "nullable": True},
        "timeout": {"type": "integer", "description": "seconds before it is stopped (default 300)", "nullable": True},
    }
    checks = {"command": text_check("command"), "timeout": int_check("timeout", high=MAX_TIMEOUT_S)}
    keep_tail = frozenset({"output"})
    approval = "policy"

    def _command(self, command: str | None) -> str:
        if command and command.strip():
            return command.strip()
        detected = detect_test_command(self.workspace.root)
        if detected is None:
            raise ToolError(
                "no test setup found (no pytest config or test_*.py, Makefile test target, package.json test script, "
                "Cargo.toml or go.mod)",
                "Pass the test command explicitly, e.g. run_tests(command=\"python -m pytest tests\").",
                kind="not_found",
            )
        return detected

    def action(self, command: str | None = None, **_: Any) -> Action:
        chosen = self._command(command)
        return Action("command", command=chosen)

    def run(self, command: str | None = None, timeout: int | None = None) -> dict[str, Any]:
        chosen = self._command(command)
        outcome = self.runtime.sandbox.run(chosen, timeout=timeout or 300)
        output = (outcome.stdout + ("\n" + outcome.stderr if outcome.stderr.strip() else "")).strip() + "\n"
        result: dict[str, Any] = {
            "command": chosen,
            "passed": outcome.exit_code == 0 and not outcome.timed_out,
            "exit_code": outcome.exit_code,
            "summary": summarize(output, outcome.exit_code) if not outcome.timed_out else f"timed out after {timeout or 300}s",
            "output": output,
            "sandbox": outcome.sandbox,
        }
        if outcome.exit_code == 5 and "pytest" in chosen:
            result["summary"] = "no tests were collected"
        return result
