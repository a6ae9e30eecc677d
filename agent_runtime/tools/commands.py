"""run_cmd and run_tests: commands judged by the policy and run in the sandbox."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

from agent_runtime.code import spectrum, symbols
from agent_runtime.code.focus import is_test_path
from agent_runtime.code.values import (
    MAX_WATCHED,
    PLUGINS,
    ValuesError,
    Watched,
    is_python,
    pytest_argv,
    render,
    split_output,
    traced_command,
)
from agent_runtime.core import Action, ToolError, read_inside, read_regular
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import int_check, text_check
from agent_runtime.tools.rg import base_command, list_all, strip_dot

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
        with self.runtime.checkpoint(command) as mark:
            outcome = self.runtime.sandbox.run(command, timeout=timeout or 120)
        result: dict[str, Any] = {
            "exit_code": outcome.exit_code,
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "duration_s": outcome.duration_s,
            "sandbox": outcome.sandbox,
            **mark.facts(),
        }
        if outcome.timed_out:
            result["timed_out"] = True
            result["note"] = f"stopped after {timeout or 120}s; pass a larger timeout or run something shorter"
        return result


# Asks whether pytest is installed without importing it: `import pytest` would run a repository's
# own pytest.py (sys.path[0] is the current directory), on the host, before any approval.
_FINDS_PYTEST = "import importlib.util, sys; sys.exit(importlib.util.find_spec('pytest') is None)"
MARKER_MAX_BYTES = 1 << 20  # pyproject.toml, Makefile, package.json: read only this much
SOURCE_MAX_BYTES = 2_000_000  # a bigger .py is generated or data (code/index.py skips it too)
SOURCES_MAX_BYTES = 64 << 20  # all the Python a suspects run may name, read before it


@functools.lru_cache(maxsize=4)
def _python_with_pytest(path: str | None = None) -> str | None:
    """The first of python3, python on PATH that has pytest installed. Run on the host, so: from
    "/" (not the repository), only absolute PATH entries (`.` would pick the repository's python3),
    and pytest looked up, never imported."""
    absolute = os.pathsep.join(p for p in (path or "").split(os.pathsep) if os.path.isabs(p)) if path else path
    for name in ("python3", "python"):
        found = shutil.which(name, path=absolute)
        try:
            if found and subprocess.run([found, "-c", _FINDS_PYTEST], capture_output=True, timeout=30, cwd="/",
                                        stdin=subprocess.DEVNULL).returncode == 0:
                return name
        except (subprocess.TimeoutExpired, OSError):
            continue  # a shim that hangs or cannot run is not the one (it ended the task before)
    return None


def _marker_text(root: Path, name: str) -> str | None:
    """A small regular file's text; None for anything else. A repository's pyproject.toml can be
    a symlink to /dev/zero or a FIFO: reading it whole would hang or fill the agent's memory; or
    to a file outside the workspace, which is never read (core.read_inside)."""
    data = read_inside(root, name, MARKER_MAX_BYTES)
    return data[:MARKER_MAX_BYTES].decode("utf-8", "replace") if data is not None else None


def source_text(path: Path, limit: int = SOURCE_MAX_BYTES) -> str | None:
    """A regular file's text, if it has at most `limit` bytes; None for anything else: a symlink
    (not followed), a FIFO (never read), a device, a bigger file."""
    data = read_regular(path, limit, follow=False)
    return data.decode("utf-8", "replace") if data is not None and len(data) <= limit else None


def detect_test_command(root: Path) -> str | None:
    """The project's test command, from the files that say how it is tested."""
    # `python -m pytest` puts the repository on sys.path (bare `pytest` does not, and then a test's
    # `import mypkg` fails to import); -q leaves out the header a model would only trip over.
    python = root / ".venv" / "bin" / "python"
    interpreter = ".venv/bin/python" if python.exists() else _python_with_pytest(os.environ.get("PATH"))
    pytest = f"{interpreter} -m pytest -q" if interpreter else "pytest -q"
    markers = ("pytest.ini", "conftest.py", "tox.ini", "setup.cfg")
    if any((root / m).exists() for m in markers) or "pytest" in (_marker_text(root, "pyproject.toml") or ""):
        return pytest
    makefile = _marker_text(root, "Makefile")
    if makefile is not None and re.search(r"^test\s*:", makefile, re.M):
        return "make test"
    package = _marker_text(root, "package.json")
    if package is not None:
        try:
            if json.loads(package).get("scripts", {}).get("test"):
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


_SECTION = re.compile(r"^=+ (.+?) =+$")
_FAILURE_HEADER = re.compile(r"^_{3,} (.+?) _{3,}$")
FAILURES_SHOWN = 3  # failures shown in full; the rest by their summary line
FAILURE_LINES = 60  # of one failure's report


def condense(output: str) -> str:
    """pytest's output as the model should read it: the first failures in full (each cut to
    FAILURE_LINES), the rest by their line in the short summary; no warnings section (a plugin's
    deprecation warnings are pages of noise). Other output is returned as it is."""
    lines = output.splitlines()
    if not any(_SECTION.match(line) for line in lines):
        return output
    kept: list[str] = []
    section = None
    failures = 0
    in_failure: list[str] = []

    def close_failure() -> None:
        nonlocal in_failure
        if in_failure:
            if failures <= FAILURES_SHOWN:
                cut = len(in_failure) - FAILURE_LINES
                kept.extend(in_failure[:FAILURE_LINES] + ([f"[... {cut} more lines of this failure ...]"] if cut > 0 else []))
            in_failure = []

    skipped = 0
    for line in lines:
        header = _SECTION.match(line)
        if header:
            close_failure()
            section = header.group(1).lower()
            if "warnings summary" not in section:
                kept.append(line)
            continue
        if section in ("failures", "errors") and _FAILURE_HEADER.match(line):
            close_failure()
            failures += 1
            if failures > FAILURES_SHOWN:
                skipped += 1
            in_failure = [line]
            continue
        if section and "warnings summary" in section:
            continue
        if line.startswith("-- Docs: https://docs.pytest.org"):
            continue
        if in_failure:
            in_failure.append(line)
        else:
            kept.append(line)
    close_failure()
    if skipped:
        at = next((i for i, line in enumerate(kept) if "short test summary info" in line), len(kept))
        kept.insert(at, f"[... {skipped} more failures: see their lines below ...]")
    return "\n".join(kept) + ("\n" if output.endswith("\n") else "")


def summarize(output: str, exit_code: int | None) -> str:
    found = _PYTEST_SUMMARY.findall(output)
    if found:
        return found[-1][0]
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else f"exit code {exit_code}"


class RunTestsTool(RuntimeTool):
    reads_only = True  # the tests run in the sandbox; what they write is checkpointed, as any command's
    name = "run_tests"
    description = "Run the project's tests (detects pytest, make test, npm test, cargo test, go test) and summarize."
    inputs = {
        "command": {"type": "string", "description": "test command; detected when omitted", "nullable": True},
        "timeout": {"type": "integer", "description": "seconds before it is stopped (default 300)", "nullable": True},
        "values": {"type": "string", "nullable": True,
                   "description": "functions whose variables to report on their last call (pytest), "
                                  "e.g. \"pkg/mod.py::Class.method, tests/test_x.py::test_y\""},
        "suspects": {"type": "string", "nullable": True,
                     "description": "rank the functions the failing tests run and the passing ones do not (pytest): "
                                    "the failing tests' ids, comma-separated, or \"failing\" for every test that "
                                    "fails; run it on their whole test file"},
    }
    checks = {"command": text_check("command"), "timeout": int_check("timeout", high=MAX_TIMEOUT_S),
              "values": text_check("values"), "suspects": text_check("suspects")}
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

    def run(self, command: str | None = None, timeout: int | None = None, values: str | None = None,
            suspects: str | None = None) -> dict[str, Any]:
        chosen = self._command(command)
        # Everything a traced run's result shows of the workspace's files is read here, before the
        # tests run, through the workspace's checks (_watched, _sources). The tests are free to write
        # the workspace (swap a file for a symlink to a secret, a FIFO, /dev/zero) and to forge the
        # report: after the run, the host reads nothing of the workspace for the result.
        watched = self._watched(values) if values and values.strip() else []
        failing = self._failing(suspects) if suspects and suspects.strip() else None
        if watched and failing is not None:
            raise ToolError("values and suspects cannot be read in one run",
                            "Ask for the suspects first, then for the values of the leading ones.")
        limit = timeout or 300
        try:
            if watched:
                ran = traced_command(chosen, watched)
            elif failing is not None:
                # The tracer stops running further tests at 70% of the time: what it reached is counted.
                argv = pytest_argv(chosen, "suspects", 'suspects="tests/test_x.py::test_y"')
                ran = spectrum.traced_command(argv, failing, budget=max(5.0, 0.7 * limit))
            else:
                ran = chosen
        except ValuesError as exc:
            raise ToolError(exc.error, exc.suggestion) from None
        sources = self._sources() if failing is not None else {}
        with self.runtime.checkpoint(chosen) as mark:
            # a traced run loads our pytest plugin (code/pytest_plugins): the sandbox shows its folder
            outcome = self.runtime.sandbox.run(ran, timeout=limit, show=[PLUGINS] if ran != chosen else [])
        stderr, found, report = outcome.stderr, None, None
        if watched:
            stderr, found = split_output(stderr)
        elif failing is not None:
            stderr, report = spectrum.split_output(stderr)
        output = (outcome.stdout + ("\n" + stderr if stderr.strip() else "")).strip() + "\n"
        summary = summarize(output, outcome.exit_code)
        output = condense(output)
        result: dict[str, Any] = {
            "command": chosen,
            "passed": outcome.exit_code == 0 and not outcome.timed_out,
            "exit_code": outcome.exit_code,
            "summary": summary if not outcome.timed_out else f"timed out after {limit}s",
            "output": output,
            "sandbox": outcome.sandbox,
            **mark.facts(),
        }
        if outcome.exit_code == 5 and "pytest" in chosen:
            result["summary"] = "no tests were collected"
        if watched:
            if found is None:
                result["values"] = "the tests ended before the values could be reported\n"
            else:
                result["values"] = render(watched, found) + "\n"
                result["not_called"] = [w.key for w in watched if w.key not in found]
        if failing is not None:
            result.update(self._suspects(report, sources))
        return result

    def _failing(self, suspects: str) -> list[str] | None:
        """The test ids whose failures count (an empty list: every failing test)."""
        if suspects.strip().lower() == "failing":
            return []
        ids = [t.strip() for t in suspects.split(",") if t.strip()]
        bad = [t for t in ids if "::" not in t and not t.endswith(".py")]
        if bad:
            raise ToolError(f"suspects: {bad[0]!r} is not a test id",
                            'Name the failing tests as "tests/test_x.py::test_y", or pass "failing".')
        return ids

    def _suspects(self, report: dict | None, sources: dict[str, str]) -> dict[str, Any]:
        """The traced run's report as the functions to suspect, each a definition of a file the agent
        may read (keys come from the files as read before the run, never from the report, which the
        tests' code can write)."""
        found = spectrum.rank(report, self._definitions(sources)) if report is not None else None
        if found is None:
            why = ("the tests ended before the tracer reported" if report is None
                   else "none of the named tests failed")
            return {"suspects": [], "suspects_note": why}
        return {
            "suspects": [{"function": s.key, "failing": s.failed, "passing": s.passed, "score": round(s.score, 3)}
                         for s in found.suspects[:spectrum.MAX_SUSPECTS]],
            "suspects_counted": {"failing": found.failing, "passing": found.passing, "complete": found.complete,
                                 "ran_by_failing": len(found.suspects)},
            # Every function the failing tests ran, by name (what they did not run is not the cause).
            "ran_by_failing": sorted(s.key for s in found.suspects[spectrum.MAX_SUSPECTS:])[:spectrum.MAX_RAN],
            "other_failures": found.other_failures[:200],
            "other_failures_count": len(found.other_failures),
        }

    def _sources(self) -> dict[str, str]:
        """The Python files a suspects run may name (listed, not tests, not hidden by the policy), as
        read before the run through the workspace's checks: path -> text. Past SOURCES_MAX_BYTES the
        rest are left out (their functions cannot be suspects), not read."""
        listed, _, _ = list_all(base_command((), "*.py") + ["--files"], self.workspace.root)
        # The tracer counts no code under site-packages (a virtualenv in the workspace): not read.
        rels = [strip_dot(f) for f in listed if is_python(f) and "site-packages" not in f.split("/")]
        visible, _ = self.visible_paths(r for r in rels if not is_test_path(r))
        sources: dict[str, str] = {}
        total = 0
        for rel in sorted(visible):
            try:
                path = self.workspace.resolve(rel)
            except ToolError:
                continue  # a symlink out of the workspace, a FIFO: not a source
            if self.workspace.relative(path) != rel:
                continue  # a symlink within it: its target is listed (and checked) by its own name
            text = source_text(path)
            if text is None or total + len(text) > SOURCES_MAX_BYTES:
                continue
            sources[rel] = text
            total += len(text)
        return sources

    @staticmethod
    def _definitions(sources: dict[str, str]) -> Callable[[str, int], str | None]:
        """(path, line) -> `path::Name` of the function or method there, in the files as they were
        before the run (`sources`); None for any other path the report names."""
        parsed: dict[str, list | None] = {}

        def definition(path: str, line: int) -> str | None:
            if path not in sources:
                return None
            if path not in parsed:
                parsed[path] = symbols.index(sources[path])
            found = parsed[path]
            symbol = spectrum.definition_at(found, line) if found else None
            return f"{path}::{symbol.name}" if symbol is not None else None

        return definition

    def _watched(self, values: str) -> list[Watched]:
        """`path::Name, ...` -> the definitions to watch (each a Python file the model may read)."""
        watched = []
        for key in dict.fromkeys(k.strip() for k in values.split(",") if k.strip()):
            path, sep, name = key.partition("::")
            if not sep or not name or not is_python(path):
                raise ToolError(f"values: {key!r} is not `path.py::Name`",
                                'Name each function as "pkg/mod.py::Class.method" or "tests/test_x.py::test_y".')
            rel = self.workspace.relative(self.workspace.resolve(path))
            if self.hidden(rel):
                raise ToolError(f"values: {rel} may not be read (policy)", "Name functions in other files.",
                                kind="refused")
            # Read once, here, before the run: render() quotes the definition from these lines only.
            text = source_text(self.workspace.root / rel)
            if text is None:
                raise ToolError(f"values: {rel} is not a regular file of at most {SOURCE_MAX_BYTES:,} bytes",
                                "Name functions in another file.")
            found = symbols.index(text)
            if found is None:
                raise ToolError(f"values: {rel} does not parse as Python", "Name functions in another file.")
            try:
                symbol = symbols.find(found, name.split("[", 1)[0].replace("::", "."), rel)  # a test id: no [param]
            except symbols.SymbolError as exc:
                raise ToolError(f"values: {exc.error}", exc.suggestion, kind="not_found") from None
            lines = tuple(text.splitlines()[symbol.start - 1:symbol.end])
            watched.append(Watched(f"{rel}::{symbol.name}", rel, symbol.name, symbol.start, symbol.end, lines))
        return watched[:MAX_WATCHED]
