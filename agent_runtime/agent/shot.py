"""The first fix, asked as a person asks a chat: the strong one completion.

The code the fix may change and, read-only beside it, the tests and the other files shown; the
failing tests' output; "reply with the corrected function(s) only, in one python code block". The
reply is written back by name (code/byname.py), so the model writes what changes and nothing else --
not the tests, not `.gitignore`, not the functions it leaves alone -- and its request stops at the end
of that block (agent/replies.py). benchmarks/baselines.py `single_shot` sends the same text: the
agent's first attempt is never poorer, nor costlier in tokens written, than one completion of the same
model. Where the code is not Python the files that may change are asked for whole, still only those.

Later attempts start from the same words (the server finds that prefix in its cache), then the notes
of what failed and the agent's own ask (agent/attempts.py).
"""

from __future__ import annotations

CONTEXT = """\
{prompt}

The code (the fix goes here):

{code}

{context}Running `{check}` gives:

{output}

"""
READ_ONLY = "The tests and the other files (read-only: do not change them):\n\n{files}\n\n"
ASK = """\
Fix the code so that the tests pass. Say in one sentence what is wrong, then reply with the corrected \
function(s) only: each function you change, complete, in one python code block (a method inside its \
`class` line). Do not write the tests or the code you do not change.
"""
ASK_FILES = """\
Fix the code so that the tests pass. Do not change the tests. Reply with the complete new content of \
each file you change (only the code above), each as a heading with its path followed by a code block:

### path/to/file
```
...the whole file...
```
"""
OUTPUT_CHARS = 3000  # the end of the output, where pytest puts the failures
# Where the asked block ends: the reply stops there (a fence that opens a block has its language).
STOP = "\n```\n"


def _shown(files: dict[str, str]) -> str:
    return "\n\n".join(f"### {path}\n```{_language(path)}\n{text.rstrip()}\n```" for path, text in sorted(files.items()))


def _language(path: str) -> str:
    return "python" if path.endswith(".py") else ""


def by_name(code: dict[str, str]) -> bool:
    """Whether a fix of these files is asked for its functions (Python) or the files whole."""
    return bool(code) and all(path.endswith(".py") for path in code)


def shot_message(task: str, code: dict[str, str], context: dict[str, str], command: str, output: str) -> str:
    """The request: the code that may change, the read-only files, the tests' output, the ask."""
    shown = READ_ONLY.format(files=_shown(context)) if context else ""
    return CONTEXT.format(prompt=task, code=_shown(code), context=shown, check=command,
                          output=output[-OUTPUT_CHARS:].rstrip()) + (ASK if by_name(code) else ASK_FILES)


def shot_context(shot: str) -> str:
    """The shot without its ask: what a later fix starts from (the server has it cached)."""
    return shot.removesuffix(ASK).removesuffix(ASK_FILES)
