"""code/lexical.py: the functions most like a failure, ranked the same in every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

RANK = r"""
import json, sys
from pathlib import Path
from agent_runtime.code.index import RepoIndex
from agent_runtime.code.lexical import related
root = Path(sys.argv[1])
files = sorted(str(p.relative_to(root)) for p in root.rglob("*.py"))
index = RepoIndex(root, files)
query = {w: 1.0 + i / 7 for i, w in enumerate(sys.argv[2].split())}
print(json.dumps([[s.target.path, s.target.symbol.name, repr(s.score)] for s in related(index, files, query, limit=20)]))
"""


def test_scores_and_their_order_do_not_depend_on_the_hash_seed(tmp_path):
    """The scores summed over a set of words: in set order they differ in the last digits from one
    process to the next (PYTHONHASHSEED), and near ties swap, so the first message would too."""
    words = ["token", "parse", "stream", "value", "name", "group", "match", "result", "string", "index",
             "offset", "expression", "element", "default", "length", "chars", "whitespace", "literal"]
    for n in range(12):
        body = "\n".join(f"    {words[(n * 5 + k) % len(words)]}_{k} = {words[(n + k * 3) % len(words)]} + {k}"
                         for k in range(9))
        (tmp_path / f"m{n}.py").write_text(f"def f{n}({words[n]}, {words[n + 3]}):\n{body}\n    return 0\n")
    query = " ".join(words)
    ranked = set()
    for seed in ("1", "2", "3", "4", "5", "6"):
        done = subprocess.run([sys.executable, "-c", RANK, str(tmp_path), query], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        ranked.add(done.stdout)
    assert len(json.loads(next(iter(ranked)))) > 5
    assert len(ranked) == 1, "the same ranking, to the last digit, whatever the hash seed"
