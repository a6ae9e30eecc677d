"""Regenerate evals/tasks.jsonl and evals/solutions.jsonl from evals/sources/ (and the suites of
other kinds, evals/kinds/, of skill tasks, evals/skills/, and of single-function bugs,
evals/single/, the same way).

    python evals/build.py            # write the JSONL files
    python evals/build.py --check    # exit 1 if they are out of date
    python evals/build.py --table    # print id, kind, difficulty (and a single-function task's bug)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep evals/sources/ free of __pycache__
sys.path.insert(0, str(HERE / "sources"))

import changes  # noqa: E402
import edge_cases  # noqa: E402
import features  # noqa: E402
import multi_module  # noqa: E402
import questions  # noqa: E402
import renamed_api  # noqa: E402
import single_function  # noqa: E402
import skills  # noqa: E402
import tracebacks  # noqa: E402

MODULES = (multi_module, tracebacks, features, edge_cases, renamed_api)
# Kinds beyond fixing code, in a suite of their own (evals/kinds/): `eval evals/` stays the bug-fixing suite.
KIND_MODULES = (changes, questions)
# Tasks a repository's skill matters for (evals/skills/): `eval evals/skills/ --skills off|trusted`.
SKILL_MODULES = (skills,)
# Single-function bugs (evals/single/): one module, one wrong function, each task's `bug` kept in sources.
SINGLE_MODULES = (single_function,)


def all_tasks(modules: tuple = MODULES) -> list[dict]:
    return [entry for module in modules for entry in module.TASKS]


def render(modules: tuple = MODULES) -> tuple[str, str]:
    entries = all_tasks(modules)
    tasks = "".join(json.dumps(e["task"], ensure_ascii=False) + "\n" for e in entries)
    solutions = "".join(json.dumps(e["solution"], ensure_ascii=False) + "\n" for e in entries)
    return tasks, solutions


def main(argv: list[str]) -> int:
    tasks, solutions = render()
    targets = {HERE / "tasks.jsonl": tasks, HERE / "solutions.jsonl": solutions}
    targets.update(zip((HERE / "kinds" / "tasks.jsonl", HERE / "kinds" / "solutions.jsonl"), render(KIND_MODULES)))
    targets.update(zip((HERE / "skills" / "tasks.jsonl", HERE / "skills" / "solutions.jsonl"), render(SKILL_MODULES)))
    targets.update(zip((HERE / "single" / "tasks.jsonl", HERE / "single" / "solutions.jsonl"), render(SINGLE_MODULES)))
    if "--table" in argv:
        for e in all_tasks() + all_tasks(KIND_MODULES) + all_tasks(SKILL_MODULES) + all_tasks(SINGLE_MODULES):
            print(f"{e['task']['id']:<32} {e['task']['kind']:<15} {e['difficulty']:<6} {e.get('bug', '')}".rstrip())
        return 0
    if "--check" in argv:
        stale = [str(p.relative_to(HERE)) for p, text in targets.items() if not p.exists() or p.read_text() != text]
        if stale:
            print("out of date:", ", ".join(stale), "(run python evals/build.py)")
            return 1
        return 0
    for path, text in targets.items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(all_tasks())} tasks, {len(all_tasks(KIND_MODULES))} in kinds/, "
          f"{len(all_tasks(SKILL_MODULES))} in skills/ and {len(all_tasks(SINGLE_MODULES))} in single/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
