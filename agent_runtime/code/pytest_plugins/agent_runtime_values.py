"""`-p agent_runtime_values`: the values of the watched functions' locals, and what they returned or
raised, on their last call while the tests ran (code/values.py reads the report).

The spec comes in AGENT_RUNTIME_VALUES (JSON): {"watch": [[key, path, name, first, last], ...],
"chars": N, "calls": N, "marker": M}; the report goes out as one line on stderr, M then JSON, when
pytest ends (however it ends). Loaded by pytest alone, inside the sandbox; imports no pytest.
"""
import json
import os
import reprlib
import sys
import threading

_spec = json.loads(os.environ.get("AGENT_RUNTIME_VALUES") or "{}")
_chars = int(_spec.get("chars", 160))
_calls = int(_spec.get("calls", 500))
_marker = str(_spec.get("marker", "@@agent-runtime-values@@"))
_root = os.getcwd()
_wanted = {}
for _key, _path, _name, _first, _last in _spec.get("watch", []):
    _wanted.setdefault(os.path.realpath(os.path.join(_root, _path)), []).append((_key, _name, _first, _last))
_files, _found = {}, {}
_shorten = reprlib.Repr()
_shorten.maxstring, _shorten.maxother, _shorten.maxlist, _shorten.maxdict = 120, 120, 8, 8
_PLAIN = (str, bytes, int, float, complex, bool, type(None))


def _text(value):
    try:
        out = _shorten.repr(value)
    except Exception as exc:  # noqa: BLE001 (the project's repr may raise anything: the value is shown, not the error)
        out = "<%s; its repr raised %s>" % (type(value).__name__, type(exc).__name__)
    return out if len(out) <= _chars else out[:_chars - 3] + "..."


def _plain(value, depth=0):
    # a repr that runs none of the project's code (reprlib shows at most 8 items of a container)
    if type(value) in _PLAIN:
        return True
    if depth < 2 and type(value) in (list, tuple, set, frozenset):
        return all(_plain(v, depth + 1) for v in list(value)[:8])
    if depth < 2 and type(value) is dict:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in list(value.items())[:8])
    return False


class _Later:
    # An object's repr runs its code: a Statement's consumed the generator it held, and the test then
    # saw another result. So it is written when the test is over, not in the middle of it.
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _held(value):
    return _text(value) if _plain(value) else _Later(value)


def _written(value):
    return _text(value.value) if isinstance(value, _Later) else value


def _write_all():
    for record in _found.values():
        if "outcome" in record:
            how, what = record["outcome"]
            record["outcome"] = (how, _written(what))
        record["locals"] = [[name, _written(value)] for name, value in record.get("locals", [])]


def _watch(key):
    record = _found.setdefault(key, {"calls": 0})
    record["calls"] += 1
    if record["calls"] > _calls:
        return None
    pending = []

    def local(frame, event, arg):
        if event == "exception":
            pending[:] = ["%s: %s" % (arg[0].__name__, _text(arg[1])[:200])]
        elif event == "line":
            pending[:] = []
        elif event == "return":
            record["line"] = frame.f_lineno
            record["outcome"] = ("raised", pending[0]) if pending else ("returned", _held(arg))
            record["locals"] = [[name, _held(value)] for name, value in frame.f_locals.items()]
        return local
    return local


def _tracer(frame, event, arg):
    if event != "call":
        return None
    code = frame.f_code
    path = _files.get(code.co_filename)
    if path is None:
        path = _files[code.co_filename] = os.path.realpath(os.path.join(_root, code.co_filename))
    for key, name, first, last in _wanted.get(path, ()):
        if code.co_name == name and first <= code.co_firstlineno <= last:
            return _watch(key)
    return None


# Traced only while a test runs (its fixtures too): collection and start-up cost nothing.
def pytest_runtest_setup(item):
    threading.settrace(_tracer)
    sys.settrace(_tracer)


def pytest_runtest_logfinish(nodeid, location):
    sys.settrace(None)
    threading.settrace(None)
    _write_all()


def pytest_unconfigure(config):
    sys.settrace(None)
    _write_all()
    sys.stderr.flush()
    os.write(2, ("\n" + _marker + json.dumps(_found) + "\n").encode("utf-8", "replace"))
