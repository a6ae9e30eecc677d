"""A fix after the first asked for the functions it changes, not its files whole (the coaching
rule `function_retries`).

In a repository shown whole a fix is asked for whole files, and a 1.5B model re-types every line
of them -- files it does not change too -- at about 20 tokens a second on 2 cores: three attempts
took twice one completion's time and more. Here the request names each function and method of the
files as a heading of its own (`### shop/cart.py::Cart.total`), written back alone as a diff
(agent/repair.py), with the files whole still there for what no function holds (an import, a
constant). The files shown stay as they were; only what the reply writes gets shorter.
"""

from __future__ import annotations

import dataclasses

from agent_runtime.agent.edits import EXPLAIN, EditRequest, EditTarget
from agent_runtime.code.symbols import index, source

FUNCTIONS_ASK = (
    f"Fix the code so that the tests pass. Do not change the tests. {EXPLAIN}reply with the complete new definition "
    "of each function you change, each as a heading with its file and name followed by a code block, like this:"
    "\n\n### path/to/file.py::function_name\n```python\ndef function_name(...):\n    ...\n```\n\n"
    "Name a method with its class (### path/to/file.py::Class.method). Write only the functions you change; "
    "to change code outside any function, write that file whole under ### path/to/file.py."
)


def by_function(request: EditRequest) -> EditRequest:
    """The request with a heading for each function and method of its Python files (nested
    functions go with the one that holds them), before the files' own headings. A request that
    already names pieces (a big repository), or whose files hold no function, is left as it is."""
    if request.form != "whole" or any(t.symbol or t.region for t in request.targets.values()):
        return request
    pieces = [piece for target in request.targets.values() for piece in _functions(target)]
    if not pieces:
        return request
    targets = {t.heading: t for t in pieces + list(request.targets.values())}
    return dataclasses.replace(request, paths=tuple(targets), targets=targets, ask=FUNCTIONS_ASK, written=[],
                               current=lambda heading: targets[heading].text if heading in targets else None)


def _functions(target: EditTarget) -> list[EditTarget]:
    if not target.path.endswith(".py"):
        return []
    symbols = [s for s in index(target.text) or [] if s.kind in ("function", "method")]
    outer = [s for s in symbols if not any(o is not s and o.start <= s.start and s.end <= o.end for o in symbols)]
    once = [s for s in outer if sum(o.name == s.name for o in outer) == 1]  # a property's setter shares its name
    return [EditTarget.of_symbol(target.path, s.name, source(target.text, s)) for s in once]
