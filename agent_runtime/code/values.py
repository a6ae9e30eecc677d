"""What a function's variables held when the failing tests ran it: the values of its locals and
what it returned or raised, on its last call.

A small model reading `get_type` next to `assert 'UNKNOWN' == 'SELECT'` guesses at the cause; the
same model told that `token` was `<Identifier 'foo AS ()'>` and `dml_keyword` was `<Token ','>`
when it returned sees it. The tests run once more (pytest only) under a trace function that
watches just the named functions; the tracer is the fixed source below, handed to the project's
own interpreter with `-c`, and what it found comes back as one marked JSON line on stderr.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

MARKER = "@@agent-runtime-values@@"
MAX_CALLS_RECORDED = 500  # a function called more often keeps the values of this call: reprs cost
MAX_SHOWN_VARIABLES = 12
MAX_WATCHED = 8
MAX_VALUE_CHARS = 160

# Runs inside the sandbox under the project's Python (3.7+): argv = [-c, SPEC, -m, pytest, ...].
TRACER = r'''
import json, os, reprlib, sys, threading
spec, rest = json.loads(sys.argv[1]), sys.argv[2:]
root = os.getcwd()
wanted = {}
for key, path, name, first, last in spec:
    wanted.setdefault(os.path.realpath(os.path.join(root, path)), []).append((key, name, first, last))
files, found = {}, {}
shorten = reprlib.Repr()
shorten.maxstring, shorten.maxother, shorten.maxlist, shorten.maxdict = 120, 120, 8, 8
def text(value):
    try:
        out = shorten.repr(value)
    except Exception as exc:
        out = "<%s; its repr raised %s>" % (type(value).__name__, type(exc).__name__)
    return out if len(out) <= __CHARS__ else out[:__CHARS__ - 3] + "..."
PLAIN = (str, bytes, int, float, complex, bool, type(None))
def plain(value, depth=0):
    # a repr that runs none of the project's code (reprlib shows at most 8 items of a container)
    if type(value) in PLAIN:
        return True
    if depth < 2 and type(value) in (list, tuple, set, frozenset):
        return all(plain(v, depth + 1) for v in list(value)[:8])
    if depth < 2 and type(value) is dict:
        return all(plain(k, depth + 1) and plain(v, depth + 1) for k, v in list(value.items())[:8])
    return False
class Later:
    # An object's repr runs its code: a Statement's consumed the generator it held, and the test then
    # saw another result. So it is written when the test is over, not in the middle of it.
    __slots__ = ("value",)
    def __init__(self, value):
        self.value = value
def held(value):
    return text(value) if plain(value) else Later(value)
def written(value):
    return text(value.value) if isinstance(value, Later) else value
def write_all():
    for record in found.values():
        if "outcome" in record:
            how, what = record["outcome"]
            record["outcome"] = (how, written(what))
        record["locals"] = [[name, written(value)] for name, value in record.get("locals", [])]
def watch(key):
    record = found.setdefault(key, {"calls": 0})
    record["calls"] += 1
    if record["calls"] > __CALLS__:
        return None
    pending = []
    def local(frame, event, arg):
        if event == "exception":
            pending[:] = ["%s: %s" % (arg[0].__name__, text(arg[1])[:200])]
        elif event == "line":
            pending[:] = []
        elif event == "return":
            record["line"] = frame.f_lineno
            record["outcome"] = ("raised", pending[0]) if pending else ("returned", held(arg))
            record["locals"] = [[name, held(value)] for name, value in frame.f_locals.items()]
        return local
    return local
def tracer(frame, event, arg):
    if event != "call":
        return None
    code = frame.f_code
    path = files.get(code.co_filename)
    if path is None:
        path = files[code.co_filename] = os.path.realpath(os.path.join(root, code.co_filename))
    for key, name, first, last in wanted.get(path, ()):
        if code.co_name == name and first <= code.co_firstlineno <= last:
            return watch(key)
    return None
class Watching:
    """Trace only while a test runs (its fixtures too): collection and start-up cost nothing."""
    def pytest_runtest_setup(self, item):
        threading.settrace(tracer)
        sys.settrace(tracer)
    def pytest_runtest_logfinish(self, nodeid, location):
        sys.settrace(None)
        threading.settrace(None)
        write_all()
sys.argv = ["pytest"] + rest[2:]
code = 3
try:
    import pytest
    code = pytest.main(rest[2:], plugins=[Watching()])
finally:
    sys.settrace(None)
    write_all()
    sys.stderr.flush()
    os.write(2, ("\n__MARKER__" + json.dumps(found) + "\n").encode("utf-8", "replace"))
sys.exit(int(code))
'''.replace("__CHARS__", str(MAX_VALUE_CHARS)).replace("__CALLS__", str(MAX_CALLS_RECORDED)).replace("__MARKER__", MARKER)

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


def with_tracer(argv: list[str], tracer: str, spec: object) -> str:
    """`python -m pytest ...` (as pytest_argv checked it) with a tracer's source in front: every word
    of the command is passed on quoted, so the traced command can do nothing the command itself could not."""
    return shlex.join([argv[0], "-c", tracer, json.dumps(spec), *argv[1:]])


def marked_report(stderr: str, marker: str) -> tuple[str, dict | None]:
    """stderr without a tracer's line, and the JSON object it reported (None: it never reported).
    The last marked line counts: the tracer writes its own last."""
    at = stderr.rfind(marker)
    if at < 0:
        return stderr, None
    line, _, after = stderr[at + len(marker):].partition("\n")
    try:
        found = json.loads(line)
    except ValueError:
        found = None
    rest = stderr[:at].rstrip("\n") + ("\n" + after if after.strip() else "")
    return rest, found if isinstance(found, dict) else None


def traced_command(command: str, watched: list[Watched]) -> str:
    """The test command with the values tracer in front. Only `python -m pytest ...`."""
    spec = [[w.key, w.path, w.name.rsplit(".", 1)[-1], w.first, w.last] for w in watched]
    return with_tracer(pytest_argv(command), TRACER, spec)


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
            kept[str(key)] = {"calls": int(record.get("calls", 1)), "line": int(record.get("line", 0)),
                              "outcome": (str(how), str(what)),
                              "locals": [(str(n), str(v)) for n, v in record.get("locals", [])]}
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
    return kept


def render(watched: list[Watched], found: dict, source: dict[str, list[str]]) -> str:
    """One paragraph a function the tests called: its last call's outcome, at which line, and its
    variables then. source: path -> the file's lines (to quote the line it returned or raised at)."""
    parts = []
    for w in watched:
        record = found.get(w.key)
        if record is None:
            continue  # never called (the caller lists those)
        calls, line, (how, what) = record["calls"], record["line"], record["outcome"]
        lines = source.get(w.path, [])
        quoted = f" `{lines[line - 1].strip()}`" if 0 < line <= len(lines) else ""
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
