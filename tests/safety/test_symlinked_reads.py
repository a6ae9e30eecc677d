"""Nothing outside the workspace is read by the host: a repository's tests, run sandboxed before the first
request and after each attempt, may leave a symlink where a source file or a folder of them was (to the
user's key, to another repository beside this one). The host reads the workspace's files again after they
ran (the failure's files, the fix's targets, the index, the overview); what it reads through such a link
must reach no model request, no run record, no terminal. Whole runs with a replay model, real pytest in
real bubblewrap, no mocks; a hang is cut by an alarm."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from conftest import make_repo, write_replay
from deadline import deadline
from rich.console import Console

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.core import read_inside
from agent_runtime.safety.approval import Approver

SECRET = "TOPSECRET-links-5eed"
# What lies outside: Python, so that every reader of source (the index, the overview's counts, ast) takes it.
OUTSIDE_CODE = f'KEY = "{SECRET}"\n\n\ndef add(a, b):\n    return "{SECRET}"\n'
CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIX = "add must add.\n\n### {path}\n```python\n" + CALC.replace("a - b", "a + b") + "```\n"


def text_of(message) -> str:
    content = message.content if not isinstance(message, dict) else message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def swap_test(module: str, remove: str, link: str) -> str:
    """A failing test that, once it ran, puts a symlink to `link` where `remove` was (a file or a folder)."""
    return (f"import os, shutil\n\nfrom {module} import add\n\nHERE = os.path.dirname(os.path.abspath(__file__))\n\n\n"
            f"def test_add():\n    got = add(2, 3)\n    where = os.path.join(HERE, {remove!r})\n"
            f"    shutil.rmtree(where) if os.path.isdir(where) and not os.path.islink(where) else os.remove(where)\n"
            f"    os.symlink({link!r}, where)\n    assert got == 5\n")


def attack_repo(tmp_path: Path, case: str) -> tuple[Path, str]:
    """The repository and the path of the code the fix goes to. small: shown whole with the task;
    big: too big for that (the failure's files, the focus view, the index). The link: to a file
    outside (absolute or relative), the code's folder to a folder outside, to the workspace's .env."""
    outside = tmp_path / "outside"
    (outside / "pkg").mkdir(parents=True)
    (outside / "id_rsa.py").write_text(OUTSIDE_CODE)
    (outside / "pkg" / "__init__.py").write_text("")
    (outside / "pkg" / "calc.py").write_text(OUTSIDE_CODE)
    repo_dir = tmp_path / "repo"
    files = {"README.md": "# calc\n", "pytest.ini": "[pytest]\n"}
    if case.startswith("big"):
        files |= {f"tools/util_{i}.py": f"def util_{i}():\n    return {i}\n" for i in range(14)}
    if case.endswith("file-absolute"):
        files |= {"calc.py": CALC, "test_calc.py": swap_test("calc", "calc.py", str(outside / "id_rsa.py"))}
        return make_repo(repo_dir, files), "calc.py"
    if case.endswith("dotenv"):  # inside, but hidden by deny_read (and by the sandbox, not the link to it)
        files |= {".env": OUTSIDE_CODE, "calc.py": CALC, "test_calc.py": swap_test("calc", "calc.py", ".env")}
        return make_repo(repo_dir, files), "calc.py"
    if case.endswith("file-relative"):
        files |= {"calc.py": CALC, "test_calc.py": swap_test("calc", "calc.py", "../outside/id_rsa.py")}
        return make_repo(repo_dir, files), "calc.py"
    # A folder of the path: pkg/ itself becomes a link to a folder outside with the same names in it.
    files |= {"pkg/__init__.py": "", "pkg/calc.py": CALC,
              "test_calc.py": swap_test("pkg.calc", "pkg", str(outside / "pkg"))}
    return make_repo(repo_dir, files), "pkg/calc.py"


def everything_written(*folders: Path) -> str:
    parts = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


CASES = ["small-file-absolute", "small-file-relative", "small-folder", "small-dotenv", "big-file-absolute", "big-folder",
         "big-dotenv"]


@pytest.mark.parametrize("case", CASES)
def test_a_file_the_tests_swapped_for_a_symlink_out_reaches_no_request_record_or_terminal(case, tmp_path):
    repo, target = attack_repo(tmp_path, case)
    runs = tmp_path / "runs"
    env = {"MODEL_ID": f"replay:{write_replay(tmp_path / 'coder.json', [FIX.format(path=target)] * 4)}",
           "RUNS_DIR": str(runs), "AGENT_MAX_ATTEMPTS": "2"}
    console, out = io.StringIO(), io.StringIO()
    display = Display(console=Console(file=console, width=300), out=out)
    with deadline(600, "a run on a repository whose tests leave a symlink"):
        with Session(load_settings(env), repo, Approver("auto", interactive=False), display) as session:
            session.run("Fix the failing test.")
    assert (repo / target).is_symlink() or (repo / "pkg").is_symlink(), "the sandboxed test left its link"
    requests = session.model.requests
    assert requests, "the run reached the model"
    sent = "\n".join(text_of(m) for request in requests for m in request)
    assert "The tests, run for you just now" in sent and "assert" in sent, "the first request holds the failure"
    assert SECRET not in sent, "a model request carried a file outside the workspace"
    assert SECRET not in console.getvalue() + out.getvalue(), "the terminal showed a file outside the workspace"
    assert SECRET not in everything_written(runs, Path(os.environ["XDG_STATE_HOME"])), \
        "a run record, trace or cache holds a file outside the workspace"
    assert (tmp_path / "outside" / "id_rsa.py").read_text() == OUTSIDE_CODE, "nothing wrote through the link"
    assert (tmp_path / "outside" / "pkg" / "calc.py").read_text() == OUTSIDE_CODE


def test_the_workspace_reader_follows_no_link_out_and_blocks_on_nothing(tmp_path):
    """core.read_inside, the one reader of workspace files' content: a link inside the workspace to another
    of its files is read; a link out (absolute, relative, through a linked folder, a loop), a FIFO, a
    device, a folder, a path with `..` out, an absolute path elsewhere are None, at once."""
    root, outside = tmp_path / "ws", tmp_path / "out"
    (root / "pkg").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.py").write_text(SECRET)
    (root / "pkg" / "a.py").write_text("x = 1\n")
    (root / "inner.py").symlink_to("pkg/a.py")
    (root / "pkg" / "up.py").symlink_to("../pkg/a.py")
    (root / "abs.py").symlink_to(outside / "secret.py")
    (root / "rel.py").symlink_to("../out/secret.py")
    (root / "dir").symlink_to(outside)
    (root / "loop.py").symlink_to("loop.py")
    (root / "inner_dir").symlink_to("pkg")
    os.mkfifo(root / "fifo.py")
    (root / "dev").symlink_to("/dev/zero")
    with deadline(10, "read_inside on a FIFO"):
        assert read_inside(root, "pkg/a.py", 100) == b"x = 1\n"
        assert read_inside(root, root / "pkg" / "a.py", 3) == b"x = "
        assert read_inside(root, "inner.py", 100) == b"x = 1\n"
        assert read_inside(root, "pkg/up.py", 100) == b"x = 1\n"
        assert read_inside(root, "inner_dir/a.py", 100) == b"x = 1\n"
        for rel in ("abs.py", "rel.py", "dir/secret.py", "loop.py", "fifo.py", "dev", "pkg", "../out/secret.py",
                    str(outside / "secret.py"), "missing.py", "pkg/a.py/x"):
            assert read_inside(root, rel, 100) is None, rel
    # A workspace given through a symlinked path (a checkout under a linked home) is still itself.
    (tmp_path / "ws-link").symlink_to(root)
    assert read_inside(tmp_path / "ws-link", "pkg/a.py", 100) == b"x = 1\n"
    assert read_inside(tmp_path / "ws-link", "abs.py", 100) is None
