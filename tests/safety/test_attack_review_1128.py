"""scratch (will be rewritten)"""
from __future__ import annotations
import subprocess, time
from pathlib import Path
import pytest
from conftest import git, make_repo

def raw_commit(repo: Path, body: bytes) -> str:
    return subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"], cwd=repo,
                          input=body, capture_output=True, check=True).stdout.decode().strip()

def hostile_head(tmp_path, headers: bytes, message: bytes, parent=True):
    repo = make_repo(tmp_path / "ws", {"a.txt": "a\n"})
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    head = git(repo, "rev-parse", "HEAD").strip()
    body = b"tree " + tree.encode() + b"\n" + (b"parent " + head.encode() + b"\n" if parent else b"") + headers + b"\n" + message
    sha = raw_commit(repo, body)
    git(repo, "update-ref", "refs/heads/main", sha)
    return repo

CASES = {
 "utf16": (b"author a <a@x> 1 +0000\ncommitter a <a@x> 1 +0000\nencoding UTF-16\n", b"hello there\n!"),
 "utf16b": (b"author a <a@x> 1 +0000\ncommitter a <a@x> 1 +0000\nencoding UTF-16\n", b"hello there\n"),
 "bigdate": (b"author a <a@x> 300000000000 +0000\ncommitter a <a@x> 300000000000 +0000\n", b"x\n"),
 "hugedate": (b"author a <a@x> 99999999999999999999 +0000\ncommitter a <a@x> 99999999999999999999 +0000\n", b"x\n"),
 "tz": (b"author a <a@x> 1 +9999\ncommitter a <a@x> 1 +9999\n", b"x\n"),
 "tzlong": (b"author a <a@x> 1 +99999999\ncommitter a <a@x> 1 +99999999\n", b"x\n"),
 "noauthor": (b"", b"x\n"),
 "parentage": (b"parentage zz\ncommitter a <a@x> 1 +0000\n", b"x\n"),
 "nul": (b"author a\0b <a@x> 1 +0000\ncommitter a <a@x> 1 +0000\n", b"x\0y\n"),
 "unicode_escape": (b"author a <a@x> 1 +0000\ncommitter a <a@x> 1 +0000\nencoding unicode_escape\n", b"x\\\n"),
}

@pytest.mark.parametrize("case", list(CASES))
def test_probe(case, tmp_path, tools_for):
    repo = hostile_head(tmp_path, *CASES[case])
    print(case, subprocess.run(["git", "log", "-1", "--format=%H %an %cd %s"], cwd=repo, capture_output=True).stdout[:200])
    runtime, tools = tools_for(repo)
    t = time.time()
    out = tools["git_log"](max_count=2)
    print(case, round(time.time()-t, 2), str(out)[:400])

@pytest.mark.parametrize("n", [100_000, 300_000])
def test_puny(n, tmp_path, tools_for):
    repo = hostile_head(tmp_path, b"author a <a@x> 1 +0000\ncommitter a <a@x> 1 +0000\nencoding punycode\n", b"subject -" + b"a" * n + b"\n")
    t = time.time()
    print(subprocess.run(["git", "log", "-1", "--format=%s"], cwd=repo, capture_output=True).stdout[:50], time.time()-t)
    runtime, tools = tools_for(repo)
    t = time.time()
    out = tools["git_log"](max_count=2)
    print(n, round(time.time()-t, 2), str(out)[:300])

def test_sha256(tmp_path, tools_for):
    repo = tmp_path / "ws"; repo.mkdir()
    git(repo, "init", "-q", "--object-format=sha256", "-b", "main")
    (repo / "a.txt").write_text("a\n"); git(repo, "add", "-A"); git(repo, "commit", "-q", "-m", "first")
    runtime, tools = tools_for(repo)
    print(tools["git_log"](max_count=2))
    print(tools["git_status"]())

import os, signal
@pytest.mark.parametrize("where", ["objects/info/alternates", "info/alternates", "commondir", "HEAD"])
def test_fifo(where, tmp_path, tools_for):
    repo = make_repo(tmp_path / "ws", {"a.txt": "a\n"})
    t = time.time()
    runtime, tools = tools_for(repo)
    print("runtime", time.time()-t)
    p = repo / ".git" / where
    if p.exists(): p.unlink()
    os.mkfifo(p)
    import faulthandler, sys
    faulthandler.dump_traceback_later(8, exit=False, file=sys.__stderr__)
    class Alarm(BaseException): pass
    def boom(*a): raise Alarm("alarm")
    signal.signal(signal.SIGALRM, boom); signal.alarm(10)
    t = time.time()
    try:
        out = tools["git_log"](max_count=2)
    except Alarm:
        out = "ALARM"
    finally:
        signal.alarm(0); faulthandler.cancel_dump_traceback_later()
    print(where, round(time.time()-t, 2), str(out)[:300])

import shlex, sys
def test_values_swap(tmp_path, tools_for):
    secret = tmp_path / "outside" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("line one\nTOPSECRET-line-two\nline three\n")
    test = (f"import os\nfrom shop.prices import parse\n\n\ndef test_p():\n    assert parse('x') == 2\n"
            f"    os.remove('shop/prices.py')\n    os.symlink({str(secret)!r}, 'shop/prices.py')\n")
    repo = make_repo(tmp_path / "repo", {"shop/__init__.py": "", "shop/prices.py": "def parse(text):\n    return 1\n",
                                         "tests/test_p.py": test, "pytest.ini": "[pytest]\n"})
    runtime, tools = tools_for(repo)
    cmd = f"{shlex.quote(sys.executable)} -m pytest -q tests/test_p.py"
    out = tools["run_tests"](command=cmd, values="shop/prices.py::parse")
    print(out.get("values"), out.get("sandbox"), out.get("error"), out["output"][-500:])
    print(tools["read_file"](path="shop/prices.py"))
