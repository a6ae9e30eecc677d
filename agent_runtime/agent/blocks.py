"""The edit form's blocks, as the model is shown code and writes it back: a file (or a piece of one)
under its heading in a fenced block, and, where a function is too long to write back whole,
SEARCH/REPLACE pairs under the heading (Aider's blocks, which coder models know), read from a
reply and applied to the code shown. agent/edits.py says what a fix request asks for."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent_runtime.patches.match import Match, by_lines

# The heading line, then the fence; the content ends at a line that is only a fence (or the reply's end:
# a reply cut off by max_tokens keeps its complete files and drops the one cut short).
_BLOCK = re.compile(r"^#{1,6}[ \t]+([^\n]+?)[ \t]*\n+```[\w+-]*[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Edit:
    heading: str  # a path, `path::Qualified.name` or `path lines A-B` (an EditTarget's heading)
    content: str

    @property
    def path(self) -> str:
        return re.split(r"::| lines \d", self.heading, maxsplit=1)[0]


def parse_edits(text: str, paths: tuple[str, ...] | None = None) -> tuple[str, list[Edit]]:
    """(explanation, pieces) of a reply in the edit form. Headings outside `paths` (when given) are
    left out; a heading given twice counts once, the last time. A Python block (a file or a piece of
    one) of comments alone writes no code: it is a remark ("# the rest of the file stays"), not the file."""
    found: dict[str, Edit] = {}
    first = None
    for match in _BLOCK.finditer(text or ""):
        path = match.group(1).strip("`*: \t").removeprefix("./")  # `### `a.py`:` and `### **a.py**` too
        first = match.start() if first is None else first
        if paths is not None and path not in paths:
            continue
        if Edit(path, "").path.endswith(".py") and not _has_code(match.group(2)):
            continue
        found[path] = Edit(path, match.group(2))
    explanation = (text or "")[:first].strip() if first is not None else (text or "").strip()
    return explanation, list(found.values())


def without_lead_in(said: str) -> str:
    """What a reply not asked to explain said before its code anyway, less a last sentence that only
    leads in to the code ("Here is the corrected code:")."""
    sentences = re.split(r"(?<=[.!?])\s+", said.strip())
    return " ".join(sentences[:-1] if sentences[-1].endswith(":") else sentences)


def thought_of(reply: str | None, code_tag: str = "<code>") -> str:
    """What a reply says before its code, as every screen, span and give-up answer shows it: the JSON
    reply format's thought, else the text before the first code tag, fence or heading, unlabelled."""
    text = (reply or "").strip()
    if text.startswith("{"):  # the JSON reply format: {"thought": ..., "code": ...}
        try:
            data = json.loads(text)
            return str(data.get("thought") or "").strip() if isinstance(data, dict) else ""
        except ValueError:
            pass
    # A heading is cut with its block (as parse_edits reads one); a heading with text under it is thought.
    head = re.split(rf"{re.escape(code_tag)}|^#{{1,6}}[ \t][^\n]*\n+```|```", text, maxsplit=1, flags=re.M)[0]
    return head.strip().removeprefix("Thought:").strip()


def _has_code(content: str) -> bool:
    """Not comments alone, nor an ellipsis standing for code ("...")."""
    return any(line.strip() and not line.lstrip().startswith("#") and line.strip() not in ("...", "…")
               for line in content.splitlines())


def fence_for(content: str) -> str:
    """A Markdown fence longer than any backtick run at a line start in `content`."""
    runs = [len(m.group(0)) for m in re.finditer(r"^`{3,}", content, re.M)]
    return "`" * max([3] + [n + 1 for n in runs])


LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust", ".rb": "ruby",
             ".java": "java", ".c": "c", ".h": "c", ".cpp": "cpp", ".sh": "bash", ".toml": "toml", ".json": "json",
             ".yaml": "yaml", ".yml": "yaml", ".md": "markdown", ".ini": "ini", ".cfg": "ini", ".txt": "text"}


def file_block(path: str, content: str, heading: str | None = None) -> str:
    """A file (or a piece of one, under its own heading) as the edit form writes it: heading, fence
    with the language, the text."""
    name = path.rsplit("/", 1)[-1]
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    fence = fence_for(content)
    return f"### {heading or path}\n{fence}{LANGUAGES.get(suffix, '')}\n{content.rstrip()}\n{fence}"



_CHANGE = re.compile(r"^<{5,9}[ \t]*SEARCH[ \t]*\n(.*?)^={5,9}[ \t]*\n(.*?)^>{5,9}[ \t]*REPLACE[ \t]*$", re.M | re.S)
_HEADING = re.compile(r"^#{1,6}[ \t]+([^\n]+?)[ \t]*$", re.M)


def parse_changes(text: str, headings: tuple[str, ...]) -> tuple[str, dict[str, list[tuple[str, str]]]]:
    """(explanation, heading -> its (search, replace) pairs) of a reply in the changes form. A pair
    belongs to the heading before it (a `# comment` inside a pair is not a heading); headings
    outside `headings` are left out, and a heading given twice counts the last time."""
    text = text or ""
    changes = list(_CHANGE.finditer(text))
    inside = [(c.start(), c.end()) for c in changes]
    marks = [m for m in _HEADING.finditer(text) if not any(a <= m.start() < b for a, b in inside)]
    found: dict[str, list[tuple[str, str]]] = {}
    first = None
    for mark in marks:
        later = [m.start() for m in marks if m.start() > mark.start()]
        end = later[0] if later else len(text)
        pairs = [(c.group(1), c.group(2)) for c in changes if mark.end() <= c.start() < end]
        if not pairs:
            continue
        first = mark.start() if first is None else first
        heading = mark.group(1).strip("`*: \t").removeprefix("./")
        if heading in headings:
            found[heading] = pairs
    explanation = text[:first].strip() if first is not None else text.strip()
    return explanation, found


def indent_of(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t"))]


def apply_changes(text: str, pairs: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """`text` with each (search, replace) applied where the search first stands as whole lines
    (patches/match.py: exactly, else forgiving trailing whitespace, else an indentation shifted by
    one amount, the replace re-indented the same way), and the first line of each search that was
    not found (left out). Each search is found in the text as it was; one that overlaps an earlier
    pair's lines is left out too (the first says what those lines become)."""
    def encoded(s: str) -> bytes:  # a lone surrogate (half an emoji in a model's JSON) passes through
        return s.encode("utf-8", "surrogatepass")

    data = encoded(text)
    size, file_lines = len(data), data.splitlines(keepends=True)
    missing, spans = [], []
    for search, replace in pairs:
        found = by_lines(file_lines, encoded(search).splitlines(keepends=True), encoded(replace), first=True)
        if not isinstance(found, Match):
            missing.append(next((line.strip() for line in search.splitlines() if line.strip()), "(nothing under SEARCH)"))
            continue
        if any(found.start < end and start < found.end for start, end, _ in spans):
            continue
        old, new = (b.decode("utf-8", "surrogatepass").splitlines(keepends=True) for b in (data[found.start:found.end], found.new))
        spans.append((found.start, found.end, encoded("".join(_keep_definition(old, new)))))
    for start, end, new in sorted(spans, reverse=True):
        data = data[:start] + new + data[end:]
    if not text.endswith(("\n", "\r")) and any(end == size and not new for _, end, new in spans):
        data = data.removesuffix(b"\n").removesuffix(b"\r")  # the last lines deleted: no line ending after them
    return data.decode("utf-8", "surrogatepass"), missing


_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s")


def _keep_definition(old: list[str], new: list[str]) -> list[str]:
    """A SEARCH from a `def` line whose REPLACE has no `def` at all is the function's new body, as
    small models write it: the `def` line stays and the body goes under it, rather than a body left
    at class level that breaks the module at import."""
    start = next((i for i, line in enumerate(old) if line.strip()), None)
    head = _DEF.match(old[start]) if start is not None else None
    if head is None or not old[start].rstrip().endswith(":") or any(_DEF.match(line) for line in new):
        return new
    if not any(line.strip() for line in new):
        return new  # the function deleted on purpose (nothing in its place)
    indent = head.group(1)
    body = [line for line in new if line.strip()]
    unit = "\t" if any(indent_of(line).startswith("\t") for line in old) else "    "
    shift = unit if min(len(line) - len(line.lstrip()) for line in body) <= len(indent) else ""
    return old[:start + 1] + [shift + line if line.strip() else line for line in new]
