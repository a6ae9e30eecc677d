"""What the model reads of a test run: the first failures in full, the rest by their summary line,
no warnings section."""

from __future__ import annotations

from agent_runtime.tools.commands import FAILURE_LINES, FAILURES_SHOWN, condense


def pytest_output(failures: int, report_lines: int = 4) -> str:
    parts = ["F" * failures + "   [100%]", "=" * 10 + " FAILURES " + "=" * 10]
    for i in range(failures):
        parts.append("_" * 10 + f" test_{i} " + "_" * 10)
        parts += [f"    line {j} of failure {i}" for j in range(report_lines)]
        parts.append(f"E       assert {i} == -1")
    parts += ["=" * 10 + " warnings summary " + "=" * 10, "venv/ldap3/asn1.py:50",
              "  DeprecationWarning: tagMap is deprecated.", "",
              "-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html",
              "=" * 10 + " short test summary info " + "=" * 10]
    parts += [f"FAILED tests/test_x.py::test_{i} - assert {i} == -1" for i in range(failures)]
    parts.append(f"{failures} failed in 0.1s")
    return "\n".join(parts) + "\n"


def test_warnings_are_left_out_and_failures_kept():
    text = condense(pytest_output(2))
    assert "DeprecationWarning" not in text and "warnings summary" not in text and "-- Docs" not in text
    assert "E       assert 0 == -1" in text and "E       assert 1 == -1" in text
    assert text.endswith("FAILED tests/test_x.py::test_1 - assert 1 == -1\n2 failed in 0.1s\n")


def test_many_failures_show_the_first_in_full_and_the_rest_by_their_summary_line():
    text = condense(pytest_output(FAILURES_SHOWN + 4))
    assert f"E       assert {FAILURES_SHOWN - 1} == -1" in text
    assert f"E       assert {FAILURES_SHOWN} == -1" not in text
    assert "[... 4 more failures: see their lines below ...]" in text
    assert all(f"FAILED tests/test_x.py::test_{i} -" in text for i in range(FAILURES_SHOWN + 4))


def test_a_long_failure_report_is_cut():
    text = condense(pytest_output(1, report_lines=FAILURE_LINES + 50))
    assert "more lines of this failure ...]" in text and "E       assert 0 == -1" not in text
    assert "FAILED tests/test_x.py::test_0 - assert 0 == -1" in text, "its summary line stays"


def test_output_that_is_not_pytest_is_left_as_it_is():
    assert condense("ok\nno sections here\n") == "ok\nno sections here\n"
