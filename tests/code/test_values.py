"""What the failing tests' functions held (code/values.py, run_tests' `values`): read from a real
pytest run in the sandbox, the functions the tests never called left out of the failure's code,
and nothing the project's code prints or the model passes can make the traced command do more."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from conftest import make_repo

from agent_runtime.agent.focus import Seen, focus_view
from agent_runtime.code.values import (
    MARKER,
    MAX_REPORT_CHARS,
    Watched,
    parse_report,
    render,
    split_output,
    traced_command,
)

LIBRARY = '''\
def parse_price(text):
    parts = text.split(".")
    cents = int(parts[1]) if len(parts) > 1 else 0
    return int(parts[0]) * 100 + cents


def price_label(text):
    return "EUR " + format_cents(parse_price(text))


def format_cents(total):
    return f"{total // 100}.{total % 100:02d}"


def unused_price_helper(text):
    return text.strip()
'''
TEST = '''\
from shop.prices import parse_price, price_label


def test_label():
    label = price_label("3.5")
    assert label == "EUR 3.50"
'''


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"shop/__init__.py": "", "shop/prices.py": LIBRARY,
                                         "tests/test_prices.py": TEST, "pytest.ini": "[pytest]\n"})


COMMAND = f"{shlex.quote(sys.executable)} -m pytest -q tests/test_prices.py::test_label"


def test_the_values_of_the_last_call_come_from_a_real_run_in_the_sandbox(tmp_path, tools_for):
    runtime, tools = tools_for(_repo(tmp_path))
    result = tools["run_tests"](command=COMMAND, values="shop/prices.py::parse_price, shop/prices.py::format_cents, "
                                                       "tests/test_prices.py::test_label, shop/prices.py::unused_price_helper")
    assert result["passed"] is False and result["sandbox"] == "bwrap"
    assert result["command"] == COMMAND, "the model's command is what it sees, not the tracer"
    values = result["values"]
    assert "shop/prices.py::parse_price (its only call): returned 305 at line 4" in values
    assert "    cents = 5" in values and "    parts = ['3', '5']" in values
    assert "shop/prices.py::format_cents (its only call): returned '3.05'" in values
    assert "tests/test_prices.py::test_label (its only call): raised AssertionError" in values
    assert "    label = 'EUR 3.05'" in values and "@py_assert" not in values
    assert result["not_called"] == ["shop/prices.py::unused_price_helper"]
    assert MARKER not in result["output"] and "1 failed" in result["output"]
    runtime.close()


def test_values_are_refused_clearly_where_they_cannot_be_read(tmp_path, tools_for):
    repo = _repo(tmp_path)
    (repo / ".env").write_text("TOKEN=abc\n")
    (repo / "notes.txt").write_text("x\n")
    runtime, tools = tools_for(repo)
    cases = {
        "shop/prices.py::no_such_function": "no_such_function",
        "notes.txt::x": "is not `path.py::Name`",
        "shop/prices.py": "is not `path.py::Name`",
        "../outside.py::f": "outside the workspace",
    }
    for values, expected in cases.items():
        result = tools["run_tests"](command=COMMAND, values=values)
        assert expected in result["error"], (values, result)
        assert "recovery_suggestion" in result
    not_pytest = tools["run_tests"](command="make test", values="shop/prices.py::parse_price")
    assert "python -m pytest" in not_pytest["error"]
    runtime.close()


def test_the_traced_command_quotes_every_word_so_it_can_do_nothing_more(tmp_path):
    """The policy judged the model's command; the traced one must not run anything it did not."""
    repo = _repo(tmp_path)
    import subprocess

    watched = [Watched("shop/prices.py::parse_price", "shop/prices.py", "parse_price", 1, 4)]
    for trick in ("tests/test_prices.py; touch pwned", "tests/test_prices.py $(touch pwned)",
                  "tests/test_prices.py `touch pwned`", "'tests/test_prices.py' && touch pwned"):
        try:
            command = traced_command(f"{shlex.quote(sys.executable)} -m pytest -q {trick}", watched)
        except ValueError:
            continue  # refused outright: as good
        subprocess.run(["bash", "-c", command], cwd=repo, capture_output=True, timeout=120)
        assert not (repo / "pwned").exists(), trick
    for other in ("bash -c 'python -m pytest'", "pytest -q", "python -c 'print(1)' -m pytest", "python -m pip install x"):
        try:
            traced_command(other, watched)
        except ValueError as exc:
            assert "python -m pytest" in str(exc)
        else:
            raise AssertionError(f"{other!r} was traced")


def test_what_the_tests_print_cannot_break_or_forge_the_report():
    watched = [Watched("a.py::f", "a.py", "f", 1, 3, ("def f():", "    return 1")), Watched("a.py::g", "a.py", "g", 4, 6)]
    forged = MARKER + json.dumps({"a.py::f": {"calls": "many", "outcome": 3}, "a.py::g": ["x"]})
    for stderr in (MARKER + "{not json", MARKER + "[1, 2]", forged, "no marker at all"):
        rest, found = split_output("before\n" + stderr + "\nafter\n")
        assert "before" in rest and MARKER not in rest
        if found is not None:
            assert render(watched, found) == "", "malformed records are dropped, not rendered"
    # The tracer's own line is written last: an earlier forged one is ignored.
    real = MARKER + json.dumps({"a.py::f": {"calls": 1, "line": 2, "outcome": ["returned", "1"], "locals": []}})
    rest, found = split_output(f"{forged}\n{real}\n")
    assert render(watched, found) == "a.py::f (its only call): returned 1 at line 2 `return 1`"


def test_a_report_line_no_tracer_writes_is_refused():
    """What would raise further on (OverflowError, RecursionError) or cost too much is no report."""
    real = {"a.py::f": {"calls": 2, "line": 2, "outcome": ["raised", "ValueError: x"], "locals": [["t", "'a'"]]}}
    assert parse_report(json.dumps(real)) == real
    assert parse_report('{"a": "[[[[[[[[[[[[ {{{{{{{{{{ not brackets"}') is not None, "brackets in strings do not count"
    for line in ('{"calls": Infinity}', '{"calls": -Infinity}', '{"calls": NaN}', '{"calls": 1e999}',
                 '{"a": ' + "[" * 5000 + "]" * 5000 + "}", '{"a": ' + "[" * 9 + "]" * 9 + "}",
                 '{"a": "' + "x" * MAX_REPORT_CHARS + '"}'):
        assert parse_report(line) is None, line[:40]
    forged = {"a.py::f": {"calls": 10**300, "line": 1e300, "outcome": ["returned", "1"], "locals": []}}
    rest, found = split_output("out\n" + MARKER + json.dumps(forged) + "\n")
    assert rest == "out" and found == {}, "counts no tracer writes: the record is dropped"


def test_a_call_the_tests_killed_still_counts_as_called(tmp_path, tools_for):
    repo = make_repo(tmp_path / "repo", {
        "slow.py": "import time\n\n\ndef wait():\n    time.sleep(60)\n",
        "tests/test_slow.py": "from slow import wait\n\n\ndef test_wait():\n    wait()\n",
        "pytest.ini": "[pytest]\n",
    })
    runtime, tools = tools_for(repo)
    result = tools["run_tests"](command=f"{shlex.quote(sys.executable)} -m pytest -q tests/test_slow.py", timeout=5,
                                values="slow.py::wait")
    assert result["passed"] is False
    # Killed before it could report: no values, and no function is called "not called".
    assert result["values"].startswith("the tests ended before") and "not_called" not in result
    runtime.close()


def test_the_failures_code_leaves_out_what_the_tests_never_called(tmp_path, tools_for):
    repo = _repo(tmp_path)
    runtime, tools = tools_for(repo)
    run = tools["run_tests"](command=COMMAND)
    files = ["pytest.ini", "shop/__init__.py", "shop/prices.py", "tests/test_prices.py"]
    task = "tests/test_prices.py::test_label fails: a price label shows the wrong cents (unused_price_helper?)"

    def observe(keys: list[str]) -> Seen | None:
        result = tools["run_tests"](command=COMMAND, values=", ".join(keys))
        return Seen(result["values"].strip(), set(result["not_called"]))

    plain = focus_view(repo, files, run["output"], task, lambda path: True)
    seen = focus_view(repo, files, run["output"], task, lambda path: True, observe=observe)
    assert plain is not None and seen is not None
    assert "unused_price_helper" in plain.text, "the task's words rank it without the run"
    assert "### shop/prices.py::unused_price_helper" not in seen.text
    assert "### shop/prices.py::parse_price" in seen.text
    assert "What their variables held when the failing tests ran them" in seen.text
    assert "cents = 5" in seen.text
    assert all(t.symbol != "unused_price_helper" for t in seen.targets)
    runtime.close()


def test_reading_the_values_runs_none_of_the_projects_code_while_the_test_runs(tmp_path, tools_for):
    """A repr runs the project's code: sqlparse's Statement consumed the token generator it held, so
    the traced run saw another result and its generator was "never called". Objects are written
    when the test is over; plain values (strings, numbers, their lists) as they were at the return."""
    repo = make_repo(tmp_path / "repo", {
        "stmt.py": ("class Statement:\n    def __init__(self, tokens):\n        self.tokens = tokens\n\n"
                    "    def __repr__(self):\n        return '<Statement %s>' % ''.join(self.tokens)\n\n\n"
                    "def words(text):\n    for word in text.split():\n        yield word.upper()\n\n\n"
                    "def parse(text):\n    stmt = Statement(words(text))\n    count = len(text)\n    return stmt\n"),
        "tests/test_stmt.py": ("from stmt import parse\n\n\ndef test_parse():\n    stmt = parse('a b')\n"
                               "    assert ''.join(stmt.tokens) == 'AB'\n    assert False, 'so that it fails'\n"),
        "pytest.ini": "[pytest]\n",
    })
    runtime, tools = tools_for(repo)
    command = f"{shlex.quote(sys.executable)} -m pytest -q tests/test_stmt.py"
    plain = tools["run_tests"](command=command)
    traced = tools["run_tests"](command=command, values="stmt.py::parse, stmt.py::words")
    assert "so that it fails" in plain["output"] and "so that it fails" in traced["output"], traced["output"]
    assert traced["not_called"] == [], "the generator ran in the test, under the trace"
    assert "    count = 3" in traced["values"], "a plain value as it was"
    assert "stmt.py::words (" in traced["values"]
    runtime.close()


def test_only_the_values_of_the_code_shown_are_shown():
    from agent_runtime.agent.focus import _values_of

    text = ("a.py::shown (its only call): returned 1 at line 2\n    x = 1\n"
            "a.py::listed (the last of 9 calls): returned {'k': 1, ...} at line 90\n    options = {...}\n    y = 2\n"
            "tests/test_a.py::test_it (its only call): raised AssertionError\n    got = 1\n")
    assert _values_of(text, {"a.py::shown", "tests/test_a.py::test_it"}) == (
        "a.py::shown (its only call): returned 1 at line 2\n    x = 1\n"
        "tests/test_a.py::test_it (its only call): raised AssertionError\n    got = 1")
