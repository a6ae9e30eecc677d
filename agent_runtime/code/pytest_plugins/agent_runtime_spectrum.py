"""`-p agent_runtime_spectrum`: which of the project's functions each test runs, counted over the
failing tests that count and the passing ones (code/spectrum.py ranks them).

The spec comes in AGENT_RUNTIME_SPECTRUM (JSON): {"first": [test ids] or null (every failing test
counts), "budget": seconds, "marker": M}; the report goes out as one line on stderr, M then JSON,
when pytest ends (however it ends). The named tests run early, after one other (which takes what
runs once per process); after the budget no further test starts (the ones reached are counted).
Loaded by pytest alone, inside the sandbox; imports no pytest.
"""
import json
import os
import sys
import threading
import time

_spec = json.loads(os.environ.get("AGENT_RUNTIME_SPECTRUM") or "{}")
_root = os.path.realpath(os.getcwd())
_first = [str(t) for t in _spec.get("first") or []]
_every = _spec.get("first") is None
_budget = float(_spec.get("budget", 30))
_marker = str(_spec.get("marker", "@@agent-runtime-spectrum@@"))
_codes, _names, _current = {}, [], set()
_failed, _passed, _others, _outcome = {}, {}, {}, {}
_counts = {"failed": 0, "passed": 0}
_state = {"started": time.monotonic(), "stopped": False}


def _named(nodeid):
    return _every or any(nodeid == t or nodeid.startswith(t + "[") for t in _first)


def _explaining(frame):
    # pytest explaining a failure (an assertion's reprs) is not what the test ran
    back = frame.f_back
    while back is not None:
        name = back.f_code.co_filename
        if "_pytest" in name and ("assertion" in name or "_io" in name or "_code" in name or "reports" in name):
            return True
        back = back.f_back
    return False


def _tracer(frame, event, arg):
    code = frame.f_code
    index = _codes.get(code)
    if index is None:
        path = os.path.realpath(code.co_filename)
        if path.startswith(_root + os.sep) and os.sep + "site-packages" + os.sep not in path:
            index = len(_names)
            _names.append([os.path.relpath(path, _root), code.co_firstlineno])
        else:
            index = -1
        _codes[code] = index
    if index >= 0 and index not in _current and not _explaining(frame):
        _current.add(index)
    return None


def pytest_collection_modifyitems(session, config, items):
    # One other test first, then the named ones: what runs once per process (a lexer built on first
    # use, a cache filled) is then the first test's, not the failing tests'.
    failing = [item for item in items if _named(item.nodeid)]
    rest = [item for item in items if not _named(item.nodeid)]
    items[:] = rest[:1] + failing + rest[1:]


def pytest_runtest_protocol(item, nextitem):
    if time.monotonic() - _state["started"] > _budget and not _named(item.nodeid):
        _state["stopped"] = True
        item.session.shouldstop = "the traced run's time is up"
    return None


def pytest_runtest_setup(item):
    _current.clear()
    threading.settrace(_tracer)
    sys.settrace(_tracer)


def pytest_runtest_logreport(report):
    if report.failed:
        _outcome[report.nodeid] = "failed"
    elif report.skipped:
        _outcome.setdefault(report.nodeid, "skipped")
    elif report.when == "call":
        _outcome.setdefault(report.nodeid, "passed")


def pytest_runtest_logfinish(nodeid, location):
    sys.settrace(None)
    threading.settrace(None)
    outcome = _outcome.get(nodeid, "skipped")
    if outcome == "failed" and _named(nodeid):
        _counts["failed"] += 1
        for index in _current:
            _failed[index] = _failed.get(index, 0) + 1
    elif outcome == "passed":
        _counts["passed"] += 1
        for index in _current:
            _passed[index] = _passed.get(index, 0) + 1
    elif outcome == "failed":
        _others[nodeid] = outcome
    _current.clear()


def pytest_unconfigure(config):
    sys.settrace(None)
    report = {"functions": _names, "failed": _failed, "passed": _passed, "counts": _counts,
              "other_failures": sorted(_others), "stopped": _state["stopped"]}
    sys.stderr.flush()
    os.write(2, ("\n" + _marker + json.dumps(report) + "\n").encode("utf-8", "replace"))
