"""A seeded random history of edits of every kind, for comparing apply_patch with `git apply`.

Lines come from a small vocabulary, so the same line repeats within a file and hunks could
be placed in more than one spot: the hard case for a patch tool.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

WORDS = ["alpha", "beta", "return x", "", "    pass", "}", "end", "gamma delta", "# note", "x = 1"]


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True).stdout.decode()


def _lines(rng: random.Random, n: int, eol: bytes, latin: bool) -> list[bytes]:
    out = []
    for _ in range(n):
        word = rng.choice(WORDS)
        if latin and rng.random() < 0.2:
            word += " caf\xe9"
        out.append(word.encode("latin-1") + eol)
    return out


def random_history(repo: Path, commits: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "core.autocrlf", "false")
    files: dict[str, tuple[bytes, bool]] = {}  # path -> (eol, latin)
    shas = []

    def create(name: str) -> None:
        eol = b"\r\n" if rng.random() < 0.25 else b"\n"
        latin = rng.random() < 0.25
        body = b"".join(_lines(rng, rng.randint(0, 60), eol, latin))
        if body and rng.random() < 0.2:
            body = body.rstrip(b"\r\n")
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        files[name] = (eol, latin)

    for i in range(6):
        create(f"dir{i % 3}/file{i}.txt")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    shas.append(_git(repo, "rev-parse", "HEAD").strip())

    for n in range(commits):
        for _ in range(rng.randint(1, 3)):
            op = rng.random()
            names = sorted(files)
            if op < 0.55 and names:  # modify: a few hunks of inserts, deletes, replacements
                name = rng.choice(names)
                eol, latin = files[name]
                lines = (repo / name).read_bytes().split(b"\n")
                lines = [line + b"\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
                for _ in range(rng.randint(1, 4)):
                    at = rng.randint(0, len(lines))
                    kind = rng.random()
                    if kind < 0.4:
                        lines[at:at] = _lines(rng, rng.randint(1, 5), eol, latin)
                    elif kind < 0.7 and lines:
                        del lines[at:at + rng.randint(1, 4)]
                    elif lines:
                        lines[at:at + 1] = _lines(rng, rng.randint(1, 3), eol, latin)
                body = b"".join(lines)
                if rng.random() < 0.15 and body:  # toggle the final newline
                    body = body.rstrip(b"\r\n") if body.endswith(b"\n") else body + eol
                (repo / name).write_bytes(body)
            elif op < 0.68:
                create(f"dir{rng.randint(0, 4)}/new{n}_{rng.randint(0, 999)}.txt")
            elif op < 0.76 and len(names) > 3:
                name = rng.choice(names)
                (repo / name).unlink()
                del files[name]
            elif op < 0.88 and names:
                name = rng.choice(names)
                new = f"moved{rng.randint(0, 3)}/r{n}_{Path(name).name}"
                (repo / new).parent.mkdir(parents=True, exist_ok=True)
                _git(repo, "mv", name, new)
                files[new] = files.pop(name)
            elif names:
                name = rng.choice(names)
                mode = (repo / name).stat().st_mode
                os.chmod(repo / name, mode ^ 0o111)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"edit {n}")
        shas.append(_git(repo, "rev-parse", "HEAD").strip())
    return shas
