"""What the model is told about the repository with each task: its files (or top-level entries
when there are many) and how its tests run. Small models otherwise spend their first steps
(and often all of them) finding out, and copy the exploring call over and over."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path
from typing import Callable

from agent_runtime.agent.blocks import file_block
from agent_runtime.agent.tasks import TEST_FILE
from agent_runtime.core import read_inside
from agent_runtime.tools.commands import detect_test_command
from agent_runtime.tools.rg import base_command, run_rg

MAX_LISTED_FILES = 40
# A repository this small is shown whole with the task: the model starts where a person reading
# it would, instead of spending steps (and often the whole budget) opening files one by one.
SMALL_REPO_FILES, SMALL_REPO_CHARS = 12, 9000
# Files are read through core.read_inside, asking the policy when read: the tests run before the
# files are shown and may leave a link to a file outside the workspace (or to .env) where one was.
TEXT_MAX_BYTES = 2_000_000


def workspace_text(root: Path, rel: str, readable: Callable[[str], bool] | None = None,
                   limit: int = TEXT_MAX_BYTES, errors: str = "replace") -> str | None:
    """A workspace file's text, None when it cannot be shown: not a regular file inside the
    workspace, not readable by the policy, over `limit` bytes, or (errors="strict") not UTF-8."""
    data = read_inside(root, rel, limit, readable)
    if data is None or len(data) > limit:
        return None
    try:
        return data.decode("utf-8", errors)
    except UnicodeDecodeError:
        return None


def repository_files(root: Path, limit: int = 5000, hidden: tuple[str, ...] = ()) -> tuple[list[str], bool]:
    """The repository's files (respecting .gitignore, without the policy's deny_read ones, as
    list_files shows them), sorted, and whether there are more."""
    try:
        files, more, _, _ = run_rg(base_command(hidden) + ["--files"], root, limit)
    except Exception:  # no ripgrep, an unreadable tree: the task goes without the overview  # noqa: BLE001
        return [], False
    return sorted(files), more


def _size(root: Path, name: str, readable: Callable[[str], bool] | None) -> str:
    """' (12 lines)', ' (empty)': which files hold the code, at a glance."""
    data = read_inside(root, name, 200_000, readable)
    if data is None:
        return ""
    if not data.strip():
        return " (empty)"
    if b"\0" in data[:8000]:
        return " (binary)"
    count = data.count(b"\n") + (not data.endswith(b"\n"))
    return f" ({count} line{'s' if count != 1 else ''}{'+' if len(data) == 200_000 else ''})"


def repository_overview(root: Path, listing: tuple[list[str], bool] | None = None,
                        readable: Callable[[str], bool] | None = None) -> str:
    """The listing (and for a small repository, its files), for the task's first message.
    `readable(rel)`: may the model read that file (the policy's answer)."""
    files, more = listing or repository_files(root)
    lines = []
    if files and len(files) <= MAX_LISTED_FILES and not more:
        lines.append(f"The repository's files ({len(files)}):")
        lines += [f"  {name}{_size(root, name, readable)}" for name in files]
    elif files:
        tops = Counter(name.split("/", 1)[0] + ("/" if "/" in name else "") for name in files)
        lines.append(f"The repository has {len(files):,}{'+' if more else ''} files; at the top level:")
        lines += [f"  {name}" + (f" ({count} files)" if name.endswith("/") else "")
                  for name, count in sorted(tops.items())[:MAX_LISTED_FILES]]
    test_command = detect_test_command(root) if files else None
    if test_command:
        lines.append(f"Tests run with: {test_command} (run_tests() runs them)")
    if readable is not None and files and not more:
        shown = small_repository(root, files, readable)[0]
        if shown:
            lines.append("")
            lines.append("The repository is small; here are its files (no need to read them again):")
            lines.append(shown)
    return "\n".join(lines)


def small_repository(root: Path, files: list[str], readable: Callable[[str], bool]) -> tuple[str | None, list[str]]:
    """Every readable file's text and their names, when there are few and they are short."""
    if len(files) > SMALL_REPO_FILES:
        return None, []
    parts, total, names = [], 0, []
    for name in files:
        if not readable(name):
            parts.append(f"### {name}\n(not shown: the policy keeps it from you)")
            continue
        data = read_inside(root, name, SMALL_REPO_CHARS * 4, readable)
        if data is None or len(data) > SMALL_REPO_CHARS * 4:
            return None, []
        if b"\0" in data[:8000]:
            continue
        text = data.decode("utf-8", "replace")
        total += len(text)
        if total > SMALL_REPO_CHARS:
            return None, []
        names.append(name)
        if text.strip():
            parts.append(file_block(name, text))  # the form a fix is asked in (agent/edits.py)
    return ("\n\n".join(parts) or None), names


# A repository too big to show whole: the files a failure involves, shown instead (up to this much).
FAILURE_FILES_CHARS = 12000
_MENTION = re.compile(r"[\w./-]+\.\w+")


def named_files(text: str, files: list[str]) -> list[str]:
    """Repository files a text names (`tests/test_cart.py:12`, `File "/home/x/repo/shop/cart.py"`), in order."""
    known, found = set(files), []
    for word in _MENTION.findall(text):
        for candidate in (word, *(word.split("/", i)[-1] for i in range(1, word.count("/") + 1))):
            if candidate in known and candidate not in found:
                found.append(candidate)
                break
    return found


def imported_files(root: Path, path: str, files: list[str]) -> list[str]:
    """Repository files a Python file imports (absolute imports, plain or src/ layout; relative ones
    from its folder)."""
    try:
        tree = ast.parse(workspace_text(root, path) or "")  # not a file inside: nothing imported
    except (SyntaxError, ValueError):
        return []
    known, folder, found = set(files), str(Path(path).parent), []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (node.module or "")
            if node.level:
                parts = [p for p in folder.split("/") if p and p != "."]
                parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts + ([base] if base else []))
            modules = [base] + [f"{base}.{a.name}" if base else a.name for a in node.names]
        for module in modules:
            stem = module.replace(".", "/")
            for prefix in ("", "src/"):
                for candidate in (f"{prefix}{stem}.py", f"{prefix}{stem}/__init__.py"):
                    if candidate in known and candidate not in found and candidate != path:
                        found.append(candidate)
    return found


def failure_files(root: Path, files: list[str], failure: str, task: str,
                  readable: Callable[[str], bool]) -> list[str]:
    """The files a failure involves, for a repository too big to show whole: those the task and the
    test output name, and what the named test files import; [] unless there is code among them and
    they fit in FAILURE_FILES_CHARS."""
    named = named_files(task + "\n" + failure, files)
    chosen = list(named)
    for path in named:
        if path.endswith(".py") and TEST_FILE.search(path):
            chosen += [f for f in imported_files(root, path, files) if f not in chosen]
    chosen = [f for f in chosen if readable(f)]
    total = 0
    for path in chosen:
        data = read_inside(root, path, FAILURE_FILES_CHARS, readable)
        if data is None:
            return []
        total += len(data)
    if total > FAILURE_FILES_CHARS or not any(not TEST_FILE.search(f) for f in chosen):
        return []
    return chosen


def show_files(root: Path, names: list[str], readable: Callable[[str], bool]) -> str:
    texts = {name: workspace_text(root, name, readable) for name in names}
    return "\n\n".join(file_block(name, text) for name, text in texts.items() if text is not None)


# A question that names files ("Read README.md, then say what this project is for"): their
# beginnings come with the task, so the model's first reply is written knowing them. (A 1.5B
# model otherwise wrote "the README gives an overview" before reading it, and answered with that.)
NAMED_HEAD_CHARS = 4000


def named_heads(root: Path, files: list[str], task: str, readable: Callable[[str], bool]) -> tuple[str, list[str]]:
    """The beginning of each readable text file the task names (up to three), NAMED_HEAD_CHARS
    shared between them (a short file leaves its share to the others), and the names of those
    shown whole; a file cut short says how much of it is shown."""
    texts: dict[str, list[str]] = {}
    for name in named_files(task, files)[:3]:
        data = read_inside(root, name, TEXT_MAX_BYTES, readable)
        if data is None or len(data) > TEXT_MAX_BYTES:
            continue
        if b"\0" not in data[:8000] and data.strip():
            texts[name] = data.decode("utf-8", "replace").splitlines()
    room, heads = NAMED_HEAD_CHARS, {}
    for count, name in enumerate(sorted(texts, key=lambda n: sum(map(len, texts[n]))), start=1):
        share, used, head = room // (len(texts) - count + 1), 0, []
        for line in texts[name]:
            if used + len(line) + 1 > share:
                break
            head.append(line)
            used += len(line) + 1
        room -= used
        heads[name] = head
    parts = []
    for name, lines in texts.items():
        head = heads[name]
        if not head:
            continue  # a first line longer than its share (minified, generated): read_file is the way
        parts.append(file_block(name, "\n".join(head)))
        if len(head) < len(lines):
            # Not the call that reads on: a 1.5B model took it as the next step and paged to the end.
            parts.append(f"(lines 1-{len(head)} of {len(lines)} shown)")
    return "\n\n".join(parts), [n for n in texts if len(heads[n]) == len(texts[n])]
