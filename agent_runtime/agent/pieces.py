"""A fix after the first asked for the functions it changes, not its files whole (the coaching
rule `function_retries`).

Where its files are shown whole (a small repository, short files a failure involves) a fix is
asked for them whole, and a 1.5B model re-types every line of them -- files it does not change
too -- at about 20 tokens a second on 2 cores: three attempts took twice one completion's time and
more. Here the request names each function and method of the files as a heading of its own
(`### shop/cart.py::Cart.total`), at most two a reply, written back alone as a diff
(agent/repair.py); a fix outside any function (an import, a constant) is not asked for here. The
files shown stay as they were; only what the reply writes gets shorter. A reply that writes a file
whole instead (a model without a grammar) is taken whole; one that writes it under a function's
heading, function by function (definitions_apart).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import re
import textwrap
from typing import Callable

from agent_runtime.agent.blocks import Edit, indent_of
from agent_runtime.agent.edits import EXPLAIN, EditRequest, EditTarget
from agent_runtime.code.symbols import SymbolError, index, replace, source
from agent_runtime.patches.apply import ELISION

FUNCTIONS_ASK = (
    f"Fix the code so that the tests pass. Do not change the tests. {EXPLAIN}reply with the complete new definition "
    "of each function you change, with its decorators, each as a heading with its file and name followed by a code "
    "block, like this:\n\n### path/to/file.py::function_name\n```python\ndef function_name(...):\n    ...\n```\n\n"
    "Name a method with its class (### path/to/file.py::Class.method). Write only the one or two functions you "
    "change."
)

def by_function(request: EditRequest) -> EditRequest:
    """The request with a heading for each function and method of its Python files (nested
    functions go with the one that holds them) in place of the files' own headings: offered a file's
    heading, the 1.5B wrote the files whole again, longer than before. A file with no function keeps
    its heading. A request that already names pieces (a big repository) is left as it is."""
    if request.form != "whole" or any(t.symbol or t.region for t in request.targets.values()):
        return request
    offered = [piece for target in request.targets.values() for piece in _functions(target) or [target]]
    if not any(t.symbol for t in offered):
        return request
    targets = {t.heading: t for t in offered}
    files = {t.path: t.text for t in request.targets.values()}  # a reply may still write them (EditRequest.read)
    # At most two, as in the changes form: told to write the functions it changes, the 1.5B wrote four
    # (three unchanged), as long as the files whole.
    return dataclasses.replace(request, paths=tuple(targets), targets=targets, ask=FUNCTIONS_ASK, written=[],
                               max_blocks=2, current=lambda heading: targets[heading].text if heading in targets
                               else files.get(heading), split=lambda edits: definitions_apart(edits, targets, files))


def definitions_apart(edits: list[Edit], targets: dict[str, EditTarget], files: dict[str, str]) -> list[Edit]:
    """A block that defines two or more of its file's functions (asked for one, the 1.5B often wrote
    its file whole under that function's heading, which replace_symbol refuses) as a piece for each of
    them, when the rest of it is as the file has it (an import no piece uses aside: the 1.5B garbles
    them). Anything else in it -- a changed constant, a new helper, a function offered under no
    heading -- keeps the block whole, for replace_symbol to say why. Each block's own function first,
    then the others (EditRequest.read keeps the first piece that changes a function)."""
    own: list[Edit] = []
    others: list[Edit] = []
    for edit in edits:
        for piece in _apart(edit, targets, files) or [edit]:
            (own if piece.heading == edit.heading else others).append(piece)
    return own + others


def _apart(edit: Edit, targets: dict[str, EditTarget], files: dict[str, str]) -> list[Edit] | None:
    target = targets.get(edit.heading)
    if target is None or not target.symbol or target.path not in files:
        return None
    text = textwrap.dedent(edit.content)
    tree = _tree(text)
    if tree is None:
        return None
    symbols = index(text, tree) or []
    headings = {t.symbol: heading for heading, t in targets.items() if t.path == target.path and t.symbol}
    found = [s for s in symbols if s.name in headings]
    names = [s.name for s in found]
    if len(found) < 2 or len(set(names)) < len(names) or any(
            a.start <= b.start <= a.end for a in found for b in found if a is not b):
        return None  # one function (_definition_only decides), one written twice, or one inside another
    pieces = [Edit(headings[s.name], source(text, s) + "\n") for s in found]
    used = {n.id for p in pieces for n in ast.walk(_tree(textwrap.dedent(p.content)) or ast.Module([], []))
            if isinstance(n, ast.Name)}
    unused_imports = {line for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                      and not {(a.asname or a.name).split(".")[0] for a in node.names} & used
                      for line in range(node.lineno, node.end_lineno + 1)}
    taken = {line for s in found for line in range(s.start, s.end + 1)} | unused_imports
    have = {line.strip() for line in files[target.path].splitlines()}
    rest = [line.strip() for number, line in enumerate(text.splitlines(), 1) if number not in taken]
    if any(line and not line.startswith("#") and line not in have for line in rest):
        return None
    return pieces


def _functions(target: EditTarget) -> list[EditTarget]:
    if not target.path.endswith(".py"):
        return []
    symbols = [s for s in index(target.text) or [] if s.kind in ("function", "method")]
    outer = [s for s in symbols if not any(o is not s and o.start <= s.start and s.end <= o.end for o in symbols)]
    once = [s for s in outer if sum(o.name == s.name for o in outer) == 1]  # a property's setter shares its name
    return [EditTarget.of_symbol(target.path, s.name, source(target.text, s)) for s in once]


def new_texts(pieces: list[Edit], targets: dict[str, EditTarget],
              file_text: Callable[[str], str | None]) -> dict[str, str] | None:
    """Each file the pieces (functions, lines) write, with them in place: a function found by its
    name, as replace_symbol finds it (one definition of that name, re-indented where it stands), lines
    by their text. None when a file cannot be read, no longer holds a piece, a function is not one
    definition of its name, or a piece elides code ("# ... rest unchanged"): replace_symbol and
    propose_patch then say why to the model."""
    texts: dict[str, str] = {}
    for edit in pieces:
        target = targets[edit.heading]
        now = texts.get(target.path) if target.path in texts else file_text(target.path)
        if now is None or _elides(edit.content, target.text):
            return None
        if target.symbol:
            try:
                piece = _decorated(_definition_only(edit.content, now), target.text)
                texts[target.path] = replace(now, target.symbol, piece, target.path)[0]
            except SymbolError:
                return None
            continue
        wrapped = "\n" + now
        old = "\n" + target.text.rstrip("\n") + "\n"
        if not now.endswith("\n") or wrapped.count(old) != 1:
            return None
        piece = _aligned(edit.content, target.text)
        new = "\n" + piece.rstrip("\n") + "\n" if piece.strip() else "\n"
        texts[target.path] = wrapped.replace(old, new, 1)[1:]
    return texts


def as_diff(pieces: list[Edit], targets: dict[str, EditTarget], file_text: Callable[[str], str | None]) -> str | None:
    """Pieces of files (functions, lines) as one unified diff of their files: the step shows what
    changes, not the function twice. None where new_texts is, or a file would not parse."""
    texts = new_texts(pieces, targets, file_text)
    if texts is None:
        return None
    parts = []
    for path, new in texts.items():
        if path.endswith(".py") and not _parses(new):
            return None  # replace_symbol and propose_patch say what the change would break
        before = file_text(path) or ""
        if not before.endswith("\n"):
            return None  # a diff's last line without its newline: replace_symbol writes it instead
        parts += difflib.unified_diff(before.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}")
    return "".join(parts) or None


def _definition_only(piece: str, now: str) -> str:
    """The piece without the imports and assignments it copied from the top of its file, as they are
    there: shown the files whole, the 1.5B wrote a function with its file's imports above it."""
    text = textwrap.dedent(piece)
    tree = _tree(text)
    definitions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] if tree else []
    if len(definitions) != 1 or len(tree.body) == 1:
        return piece
    lines, have = text.splitlines(), {line.strip() for line in now.splitlines()}
    copied = [n for n in tree.body if n is not definitions[0]]
    if not all(all(line.strip() in have for line in lines[n.lineno - 1:n.end_lineno]) for n in copied):
        return piece  # something new beside the function: replace_symbol says it must be the definition alone
    first = min([definitions[0].lineno] + [d.lineno for d in definitions[0].decorator_list])
    return "\n".join(lines[first - 1:definitions[0].end_lineno])


def _tree(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _decorated(piece: str, now: str) -> str:
    """The piece with the function's decorators as they are now, when it writes none: a small model
    asked for a function drops them more often than it means to."""
    if re.match(r"\s*@", piece):
        return piece
    old = textwrap.dedent(now)
    symbol = next(iter(index(old) or []), None)
    if symbol is None or symbol.line == symbol.start:
        return piece
    return "\n".join(old.splitlines()[:symbol.line - symbol.start]) + "\n" + textwrap.dedent(piece)


def _elides(piece: str, now: str) -> bool:
    """The piece stands in for code with an ellipsis comment the code did not have."""
    return bool(ELISION.search(piece.encode())) and not ELISION.search(now.encode())


def _aligned(content: str, now: str) -> str:
    """`content` indented as `now` is (by its first line): a method written without its class's
    indentation would otherwise become a function that swallows the methods after it, and parse."""
    first_new = next((line for line in content.splitlines() if line.strip()), "")
    first_now = next((line for line in now.splitlines() if line.strip()), "")
    theirs, ours = indent_of(first_now), indent_of(first_new)
    if theirs == ours:
        return content
    return "\n".join(theirs + line[len(ours):] if line.startswith(ours) and line.strip() else line
                     for line in content.splitlines()) + ("\n" if content.endswith("\n") else "")


def _parses(source: str) -> bool:
    return _tree(source) is not None
