"""A failure as the agent starts from it: which tests failed, the frames of their tracebacks
(repository file, line), and the error lines.

Reads pytest's output (long, short and line tracebacks, the `FAILED id - message` summary)
and plain Python tracebacks (`File "x.py", line 3, in f`). Paths are matched to the
repository's files however they were printed: relative, absolute, or under another root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# `  File "/abs/pkg/mod.py", line 12, in parse`
_PY_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)(?:, in (\S+))?', re.M)
# pytest: `pkg/mod.py:12: in parse` (short), `pkg/mod.py:12: ValueError` or `pkg/mod.py:12: ` (long)
_PYTEST_FRAME = re.compile(r"^([^\s:\"'][^:\n]*?\.py):(\d+):(?: in (\S+)| (\w[\w.]*)?)?\s*$", re.M)
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+?\.py(?:::\S+)?)(?: - (.*))?$", re.M)
_TEST_ID = re.compile(r"(?<![\w/.-])([\w./-]+\.py)::([\w:\[\]-]+(?:\[[^\]\n]*\])?)")
_E_LINE = re.compile(r"^E {2,}(.*)$", re.M)
_E_LINE_AS_PRINTED = re.compile(r"^E\s.*$", re.M)


@dataclass(frozen=True)
class Frame:
    path: str  # a repository file
    line: int
    function: str | None = None  # as printed, if printed


@dataclass
class Failure:
    tests: list[str] = field(default_factory=list)  # failing test ids, `tests/test_x.py::test_y`
    frames: list[Frame] = field(default_factory=list)  # outermost first, repository files only
    errors: list[str] = field(default_factory=list)  # the `E   ...` lines / the exception line

    @property
    def message(self) -> str:
        return "\n".join(self.errors[:12])


def repository_path(printed: str, files: set[str]) -> str | None:
    """The repository file a printed path names: as written, or its longest tail that is one."""
    printed = printed.strip().removeprefix("./")
    if printed in files:
        return printed
    parts = printed.replace("\\", "/").split("/")
    for i in range(1, len(parts)):
        tail = "/".join(parts[i:])
        if tail in files:
            return tail
    return None


def error_lines(output: str, limit: int = 8) -> list[str]:
    """pytest's `E   ...` lines of a test run's output, as printed (what a failed fix is told of it)."""
    return [line.rstrip() for line in _E_LINE_AS_PRINTED.findall(output)][:limit]


def parse_failure(output: str, files: list[str] | set[str]) -> Failure:
    """The failing tests, the traceback frames in repository files (in the order printed: the
    test first, the innermost call last, per failure) and the error lines."""
    known = set(files)
    failure = Failure()
    for match in _FAILED.finditer(output):
        if match.group(1) not in failure.tests:
            failure.tests.append(match.group(1))
        if match.group(2) and not _E_LINE.search(output):
            failure.errors.append(match.group(2).strip())
    if not failure.tests:
        for match in _TEST_ID.finditer(output):
            test = f"{match.group(1)}::{match.group(2)}"
            if match.group(1) in known and test not in failure.tests:
                failure.tests.append(test)
    found: list[tuple[int, Frame]] = []
    for match in _PY_FRAME.finditer(output):
        path = repository_path(match.group(1), known)
        if path:
            found.append((match.start(), Frame(path, int(match.group(2)), match.group(3))))
    for match in _PYTEST_FRAME.finditer(output):
        path = repository_path(match.group(1), known)
        if path:
            found.append((match.start(), Frame(path, int(match.group(2)), match.group(3))))
    seen: set[tuple[str, int]] = set()
    for _, frame in sorted(found, key=lambda item: item[0]):
        if (frame.path, frame.line) not in seen:
            seen.add((frame.path, frame.line))
            failure.frames.append(frame)
    failure.errors += [line.rstrip() for line in _E_LINE.findall(output) if line.strip()]
    if not failure.errors:
        # A plain traceback: its last line says what was raised.
        tail = [line for line in output.strip().splitlines() if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Warning)\b", line)]
        failure.errors += tail[-1:]
    return failure
