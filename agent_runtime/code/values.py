"""What a function's variables held when the failing tests ran it: the values of its locals and
what it returned or raised, on its last call.

A small model reading `get_type` next to `assert 'UNKNOWN' == 'SELECT'` guesses at the cause; the
same model told that `token` was `<Identifier 'foo AS ()'>` and `dml_keyword` was `<Token ','>`
when it returned sees it. The tests run once more (pytest only) under a trace function that
watches just the named functions: the tests' own tool, a pytest plugin that pytest loads inside
the sandbox (pytest_plugins/agent_runtime_values.py, `-p`), never this process; what it found
comes back as one marked JSON line on stderr.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MARKER = "@@agent-runtime-values@@"
MAX_CALLS_RECORDED = 500  # a function called more often keeps the values of this call: reprs cost
MAX_SHOWN_VARIABLES = 12
MAX_WATCHED = 8
MAX_VALUE_CHARS = 160
# A report line is the tests' stderr, which the project's code can write too: a real one is a few
# levels deep and holds counts and line numbers far below these.
MAX_REPORT_CHARS = 8 << 20  # a spectrum report of 20,000 functions is about 1 MB
MAX_REPORT_DEPTH = 8
MAX_REPORT_NUMBER = 10**12
PLUGINS = Path(__file__).resolve().parent / "pytest_plugins"  # shown to the sandbox for a traced run

_PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")  # any folder: a checkout may have spaces in its path
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")  # `<Token 'x' at 0x7f...>`: noise to a model


class ValuesError(ValueError):
    """The tests cannot be run for values: what is wrong, and what to do instead."""

    def __init__(self, error: str, suggestion: str):
        super().__init__(error)
        self.error, self.suggestion = error, suggestion


@dataclass(frozen=True)
class Watched:
    key: str  # as asked: "pkg/mod.py::Class.method"
    path: str
    name: str  # the qualified name; the code object's is its last part
    first: int  # the definition's lines (decorators included)
    last: int
    # Its text, read through the workspace's checks BEFORE the tests ran: the only text a report's
    # line number may quote (the tests can replace the file with anything while they run).
    lines: tuple[str, ...] = ()


def pytest_argv(command: str, what: str = "values", how: str = "values=...") -> list[str]:
    """The words of a `python -m pytest ...` command: the only form a tracer can be put in front of."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValuesError(f"the test command does not parse: {exc}", "Pass a plain `python -m pytest ...` command.") from None
    if len(argv) < 3 or not _PYTHON.match(argv[0]) or argv[1:3] != ["-m", "pytest"]:
        raise ValuesError(f"{what} can only be read from a `python -m pytest ...` command",
                          f'Run them with run_tests(command="python -m pytest -q tests/test_x.py::test_y", {how}).')
    return argv


def with_plugin(argv: list[str], plugin: str, spec: object) -> str:
    """`python -m pytest ...` (as pytest_argv checked it) with one of our plugins (pytest_plugins/
    PLUGIN.py) loaded by `-p`, its spec in the variable named as it is, upper case. Every word of the
    command is passed on quoted, so the traced command can do nothing the command itself could not."""
    path = shlex.quote(str(PLUGINS)) + "${PYTHONPATH:+:$PYTHONPATH}"  # the project's own PYTHONPATH kept after it
    return (f"{plugin.upper()}={shlex.quote(json.dumps(spec))} PYTHONPATH={path} "
            + shlex.join([argv[0], "-m", "pytest", "-p", plugin, *argv[3:]]))


def marked_report(stderr: str, marker: str) -> tuple[str, dict | None]:
    """stderr without a plugin's line, and the JSON object it reported (None: it never reported, or
    the line is not one a tracer writes). The last marked line counts: the plugin writes its own last."""
    at = stderr.rfind(marker)
    if at < 0:
        return stderr, None
    line, _, after = stderr[at + len(marker):].partition("\n")
    rest = stderr[:at].rstrip("\n") + ("\n" + after if after.strip() else "")
    return rest, parse_report(line)


def parse_report(line: str) -> dict | None:
    """A report line as a JSON object, or None. The tests can write the line themselves: one too long,
    too deeply nested (json's RecursionError) or holding Infinity/NaN/1e999 (OverflowError once made
    a count) is refused here, so no reader of the report meets it."""
    if len(line) > MAX_REPORT_CHARS or _depth_over(line, MAX_REPORT_DEPTH):
        return None
    try:
        found = json.loads(line, parse_constant=_not_a_number, parse_float=_finite)
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) else None


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")


def _depth_over(line: str, limit: int) -> bool:
    """Are brackets (outside strings) nested deeper than `limit`? Innermost pairs are taken away
    `limit` times, each pass in C: a Python loop over a long line would cost seconds."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", line))
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _EMPTY_PAIR.sub("", brackets)
    return bool(brackets)


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a number a tracer writes")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def report_number(value: object) -> int:
    """A report's count or line number as an int: ValueError for one no tracer writes (negative or
    huge: its arithmetic would overflow a float)."""
    number = int(value)  # type: ignore[call-overload]
    if not 0 <= number <= MAX_REPORT_NUMBER:
        raise ValueError(f"{number} is out of range")
    return number


def traced_command(command: str, watched: list[Watched]) -> str:
    """The test command with the values plugin loaded. Only `python -m pytest ...`."""
    spec = {"watch": [[w.key, w.path, w.name.rsplit(".", 1)[-1], w.first, w.last] for w in watched],
            "chars": MAX_VALUE_CHARS, "calls": MAX_CALLS_RECORDED, "marker": MARKER}
    return with_plugin(pytest_argv(command), "agent_runtime_values", spec)


def split_output(stderr: str) -> tuple[str, dict | None]:
    """stderr without the tracer's line, and what the tracer found (None: it never reported)."""
    rest, found = marked_report(stderr, MARKER)
    return rest, (_records(found) if found is not None else None)


def _records(found: dict) -> dict:
    """Only well-formed records: the line is the tests' stderr, which the project's code can write too."""
    kept = {}
    for key, record in found.items():
        try:
            # A call that never returned (a hang, the tests killed, os._exit) was called all the same.
            how, what = record["outcome"] if "outcome" in record else ("was still running when the tests ended", "")
            kept[str(key)] = {"calls": report_number(record.get("calls", 1)), "line": report_number(record.get("line", 0)),
                              "outcome": (str(how), str(what)),
                              "locals": [(str(n), str(v)) for n, v in record.get("locals", [])]}
        except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError):
            continue
    return kept


def render(watched: list[Watched], found: dict) -> str:
    """One paragraph a function the tests called: its last call's outcome, at which line, and its
    variables then. The line it returned or raised at is quoted from the watched definition's own
    lines as read before the run, never from the file after it: the tests may have replaced that
    file (a symlink to a secret, a FIFO) and forged the report to pick the line."""
    parts = []
    for w in watched:
        record = found.get(w.key)
        if record is None:
            continue  # never called (the caller lists those)
        calls, line, (how, what) = record["calls"], record["line"], record["outcome"]
        at = line - w.first  # a line outside the definition is not quoted
        quoted = f" `{w.lines[at].strip()}`" if w.first <= line <= w.last and at < len(w.lines) else ""
        when = "its only call" if calls == 1 else (
            f"the last of {calls} calls" if calls <= MAX_CALLS_RECORDED else f"call {MAX_CALLS_RECORDED} of {calls}")
        head = f"{w.key} ({when}): {how} {_clean(what)}".rstrip() + (f" at line {line}{quoted}" if line else "")
        variables = [(n, v) for n, v in record["locals"] if not n.startswith("@")]
        shown = [f"    {n} = {_clean(v)}" for n, v in variables[:MAX_SHOWN_VARIABLES]]
        if len(variables) > MAX_SHOWN_VARIABLES:
            shown.append(f"    ... {len(variables) - MAX_SHOWN_VARIABLES} more")
        parts.append("\n".join([head, *shown]))
    return "\n".join(parts)


def _clean(value: str) -> str:
    return _ADDRESS.sub(">", str(value))


def is_python(path: str) -> bool:
    return PurePosixPath(path).suffix == ".py"
