"""The first fix asked as one completion asks it (the coaching rule `shot_first`).

One plain completion -- the task, the repository's files, the failing tests' output, "reply with
the complete new content of every file you change", one user message and no grammar -- is what
the agent is measured against (benchmarks/baselines.py single_shot sends this text). Asked this way
first, in a repository small enough to show whole, the agent's first attempt starts where one
completion is; its later attempts (agent/attempts.py) can only add. They start from the same words
(the failed attempts' notes and the agent's own ask after them): the server finds that prefix in its
cache, where the agent's own first message (other words for the same files) cost a 1.5B model on 2
cores 15-20 s to read again. What differs is the test run:
the agent shows the command it ran and the output as run_tests gives it (failures kept, noise cut),
the baseline the eval's own check and the end of its raw output.
"""

from __future__ import annotations

CONTEXT = """\
{prompt}

Here are the repository's files.

{files}

Running `{check}` gives:

{output}

"""
ASK = """\
Fix the code so that the tests pass. Do not change the tests. Reply with the complete new content of \
every file you change, each as a heading with its path followed by a python code block, like this:

### path/to/file.py
```python
...the whole file...
```
"""
OUTPUT_CHARS = 3000  # the end of the output, where pytest puts the failures


def shot_message(task: str, files: dict[str, str], command: str, output: str) -> str:
    """The request: every file whole under its heading, in path order, then the tests' output."""
    shown = "\n\n".join(f"### {path}\n```python\n{text.rstrip()}\n```" for path, text in sorted(files.items()))
    return CONTEXT.format(prompt=task, files=shown, check=command, output=output[-OUTPUT_CHARS:]) + ASK


def shot_context(shot: str) -> str:
    """The shot without its ask: what a later fix starts from (the server has it cached)."""
    return shot.removesuffix(ASK)
