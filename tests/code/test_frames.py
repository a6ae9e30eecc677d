"""A failure read from pytest's and Python's output: the failing tests, the frames in repository
files, the error lines."""

from __future__ import annotations

from agent_runtime.code.frames import parse_failure, repository_path

FILES = ["pkg/__init__.py", "pkg/core.py", "pkg/util.py", "tests/test_core.py"]

LONG = """\
=================================== FAILURES ===================================
________________________________ test_total ________________________________

    def test_total():
>       assert total([1, 2]) == 3

tests/test_core.py:12: 
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

    def total(items):
>       return add(items) + 1

/home/user/checkout/pkg/core.py:40: 
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

    def add(items):
>       raise ValueError("no")
E       ValueError: no

pkg/util.py:7: ValueError
=========================== short test summary info ============================
FAILED tests/test_core.py::test_total - ValueError: no
FAILED tests/test_core.py::TestCore::test_x[a-1] - assert 1 == 2
1 failed in 0.12s
"""

SHORT = """\
tests/test_core.py:12: in test_total
    assert total([1, 2]) == 3
pkg/core.py:40: in total
    return add(items) + 1
/usr/lib/python3.11/json/__init__.py:346: in loads
    return _default_decoder.decode(s)
E   ValueError: no
"""

PLAIN = """\
Traceback (most recent call last):
  File "/srv/app/tests/test_core.py", line 12, in test_total
    assert total([1, 2]) == 3
  File "/srv/app/pkg/core.py", line 40, in total
    return add(items) + 1
  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
KeyError: 'price'
"""


def test_pytest_long_tracebacks_give_tests_frames_and_errors():
    failure = parse_failure(LONG, FILES)
    assert failure.tests == ["tests/test_core.py::test_total", "tests/test_core.py::TestCore::test_x[a-1]"]
    assert [(f.path, f.line) for f in failure.frames] == [("tests/test_core.py", 12), ("pkg/core.py", 40),
                                                          ("pkg/util.py", 7)], "an absolute path matched by its tail"
    assert failure.errors == ["ValueError: no"]


def test_short_tracebacks_name_the_function_and_leave_out_files_outside_the_repository():
    failure = parse_failure(SHORT, FILES)
    assert [(f.path, f.line, f.function) for f in failure.frames] == [
        ("tests/test_core.py", 12, "test_total"), ("pkg/core.py", 40, "total")]
    assert failure.errors == ["ValueError: no"]


def test_a_plain_python_traceback_and_its_exception_line():
    failure = parse_failure(PLAIN, FILES)
    assert [(f.path, f.line, f.function) for f in failure.frames] == [
        ("tests/test_core.py", 12, "test_total"), ("pkg/core.py", 40, "total")]
    assert failure.errors == ["KeyError: 'price'"]
    assert failure.tests == []


def test_test_ids_are_found_in_text_without_a_summary():
    failure = parse_failure("see tests/test_core.py::test_total and tests/missing.py::test_x", FILES)
    assert failure.tests == ["tests/test_core.py::test_total"], "only files of the repository"


def test_printed_paths_map_to_repository_files_by_their_longest_tail():
    assert repository_path("./pkg/core.py", set(FILES)) == "pkg/core.py"
    assert repository_path("/a/b/pkg/core.py", set(FILES)) == "pkg/core.py"
    assert repository_path("/a/b/other/core.py", set(FILES)) is None
    assert repository_path("C:\\x\\pkg\\util.py", set(FILES)) == "pkg/util.py"


def test_nothing_found_in_output_that_is_not_a_failure():
    failure = parse_failure("3 passed in 0.1s\n", FILES)
    assert failure.tests == [] and failure.frames == [] and failure.errors == []
