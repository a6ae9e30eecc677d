"""The real-repository suite's builder (evals/real/build.py): on a tiny two-release project made
here (fast), and on the real spec, downloading from the package index (slow: every task proven
to fail as given and pass with its reference fix)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT, git, run_cli, write_replay

sys.path.insert(0, str(ROOT / "evals" / "real"))
from transplant import TransplantError, transplant  # noqa: E402

BUILD = ROOT / "evals" / "real" / "build.py"

OLD = {
    "toycalc/__init__.py": "from toycalc.money import cents\n",
    "toycalc/money.py": '"""Money helpers."""\n\n\ndef cents(amount):\n    """Whole cents, half up."""\n'
                        "    return int(amount * 100)\n\n\ndef euros(cents):\n    return cents / 100\n",
    "tests/test_money.py": "from toycalc.money import cents, euros\n\n\ndef test_euros():\n    assert euros(250) == 2.5\n\n\n"
                           "class TestCents:\n    def test_whole(self):\n        assert cents(2) == 200\n",
    ".gitignore": "tests/\n",  # the release's own ignore file must not drop files from the snapshot
}
NEW = {
    **OLD,
    "toycalc/money.py": '"""Money helpers."""\n\n\ndef cents(amount):\n    """Whole cents, half up."""\n'
                        "    return int(amount * 100 + 0.5)\n\n\ndef euros(cents):\n    return cents / 100.0\n\n\n"
                        "def new_feature():\n    return 1\n",
    "tests/test_money.py": "import json\n\nfrom toycalc.money import cents, euros, new_feature\n\n\ndef load(name):\n"
                           "    with open(f'tests/data/{name}') as f:\n        return json.load(f)\n\n\n"
                           "def test_euros():\n    assert euros(250) == 2.5\n\n\ndef test_feature():\n    assert new_feature() == 1\n\n\n"
                           "class TestCents:\n    def test_whole(self):\n        assert cents(2) == 200\n\n"
                           "    def test_rounds_half_up(self):\n        for amount, want in load('cases.json'):\n"
                           "            assert cents(amount) == want\n",
    "tests/data/cases.json": "[[0.29, 29], [1.15, 115]]\n",
}


def sdist(where: Path, version: str, files: dict[str, str]) -> tuple[Path, str]:
    path = where / f"toycalc-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for rel, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"toycalc-{version}/{rel}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def spec(where: Path, old_sha: str, new_sha: str, **task) -> Path:
    entry = {"id": "toycalc-cents-half-up", "project": "toycalc", "old": "1.0", "new": "1.1",
             "tests": ["tests/test_money.py::TestCents::test_rounds_half_up"], "fix": ["toycalc/money.py::cents"],
             "test_helpers": ["tests/test_money.py::load"], "test_data": ["tests/data/cases.json"],
             "test_imports": ["import json"],
             "pass_to_pass": ["tests/test_money.py"],
             "statement": "tests/test_money.py::TestCents::test_rounds_half_up fails: cents(0.29) gives 28. "
                          "Fix the library code; do not change the tests.", **task}
    lines = ["[projects.toycalc.sdists]", f'"1.0" = "{old_sha}"', f'"1.1" = "{new_sha}"', "", "[[tasks]]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in entry.items()]
    path = where / "tasks.toml"
    path.write_text("\n".join(lines) + "\n")
    tomllib.loads(path.read_text())
    return path


def build(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BUILD), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYPI_JSON_URL": "http://127.0.0.1:9/pypi", **(env or {})})


@pytest.fixture
def toy(tmp_path) -> tuple[Path, Path]:
    cache = tmp_path / "cache"
    cache.mkdir()
    _, old_sha = sdist(cache, "1.0", OLD)
    _, new_sha = sdist(cache, "1.1", NEW)
    return spec(tmp_path, old_sha, new_sha), cache


def test_a_tiny_release_pair_builds_into_an_instance_that_fails_then_passes(tmp_path, toy):
    spec_path, cache = toy
    done = build("--spec", str(spec_path), "--out", str(tmp_path / "out"), "--cache", str(cache), "--check", "--table")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1/1 tasks fail as given and pass with their fix" in done.stdout
    (line,) = map(json.loads, (tmp_path / "out" / "instances.jsonl").read_text().splitlines())
    assert line["repo"] == "repos/toycalc-1.0" and line["tests_visible"] is True
    assert line["FAIL_TO_PASS"] == ["tests/test_money.py::TestCents::test_rounds_half_up"]
    assert line["PASS_TO_PASS"] == ["tests/test_money.py::test_euros", "tests/test_money.py::TestCents::test_whole"]
    # the test patch: the new test, its helper and data, not the rest of the newer test file
    assert "+    def test_rounds_half_up(self):" in line["test_patch"] and "+def load(name):" in line["test_patch"]
    assert "tests/data/cases.json" in line["test_patch"] and "+import json" in line["test_patch"]
    assert "test_feature" not in line["test_patch"] and "new_feature" not in line["test_patch"]
    # the reference fix: the fixed function only, never the newer release's other changes
    assert "+    return int(amount * 100 + 0.5)" in line["patch"] and "new_feature" not in line["patch"]
    assert (line["fix_added"], line["fix_removed"], line["fixed_file_lines"]) == (1, 1, {"toycalc/money.py": 10})
    assert "the fix" not in line["problem_statement"] and "0.5" not in line["problem_statement"]
    snapshot = tmp_path / "out" / "repos" / "toycalc-1.0"
    assert git(snapshot, "ls-files").split() == sorted([".gitignore", "tests/test_money.py", "toycalc/__init__.py",
                                                         "toycalc/money.py"])
    figures = json.loads(done.stdout[:done.stdout.index("\n}\n") + 2])
    assert figures["tasks_per_project"] == {"toycalc": 1} and figures["per_task"][0]["fix_added"] == 1


def test_base_commit_is_the_same_in_every_build(tmp_path, toy):
    spec_path, cache = toy
    commits = []
    for name in ("one", "two"):
        done = build("--spec", str(spec_path), "--out", str(tmp_path / name), "--cache", str(cache))
        assert done.returncode == 0, done.stderr
        commits.append(json.loads((tmp_path / name / "instances.jsonl").read_text())["base_commit"])
        time.sleep(1.1)  # a commit made with the clock's date would differ now
    assert commits[0] == commits[1]
    text = spec_path.read_text().replace('[[tasks]]', f'[projects.toycalc.snapshots]\n"1.0" = "{"0" * 40}"\n\n[[tasks]]')
    spec_path.write_text(text)
    done = build("--spec", str(spec_path), "--out", str(tmp_path / "one"), "--cache", str(cache))
    assert done.returncode == 1 and f"toycalc 1.0: snapshot commit {commits[0]}, the spec says {'0' * 40}" in done.stderr


def test_a_fix_that_does_not_fix_fails_the_check(tmp_path, toy):
    spec_path, cache = toy
    spec_path.write_text(spec_path.read_text().replace('"toycalc/money.py::cents"', '"toycalc/money.py::euros"'))
    done = build("--spec", str(spec_path), "--out", str(tmp_path / "out"), "--cache", str(cache), "--check")
    assert done.returncode == 1
    assert "FAIL toycalc-cents-half-up" in done.stdout and "with the fix: 0/1 FAIL_TO_PASS" in done.stdout
    assert "0/1 tasks fail as given" in done.stdout


@pytest.mark.parametrize("change, message", [
    ({"tests": ["tests/test_money.py::TestCents::test_missing"]}, "TestCents.test_missing is not in the newer file"),
    ({"fix": ["toycalc/money.py"]}, "fix 'toycalc/money.py' must be path::Name"),
    ({"old": "0.9"}, "has no sha256 for 0.9"),
    ({"fix": ["tests/test_money.py::test_euros"]}, "the fix's functions in tests/test_money.py are the same in both"),
])
def test_a_bad_spec_is_one_clear_line(tmp_path, toy, change, message):
    spec_path, cache = toy
    text = spec_path.read_text()
    for key, value in change.items():
        text = "\n".join(f"{key} = {json.dumps(value)}" if line.startswith(f"{key} = ") else line
                         for line in text.splitlines())
    spec_path.write_text(text)
    done = build("--spec", str(spec_path), "--out", str(tmp_path / "out"), "--cache", str(cache))
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_source_not_in_the_cache_and_no_index_is_a_clear_error(tmp_path, toy):
    spec_path, cache = toy
    (cache / "toycalc-1.1.tar.gz").write_bytes(b"tampered")  # a cached file with the wrong hash is not used
    done = build("--spec", str(spec_path), "--out", str(tmp_path / "out"), "--cache", str(cache))
    assert done.returncode == 1 and "toycalc 1.1: the index did not answer" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_built_instance_runs_in_the_eval_with_the_replay_model(tmp_path, toy):
    spec_path, cache = toy
    assert build("--spec", str(spec_path), "--out", str(tmp_path / "out"), "--cache", str(cache)).returncode == 0
    # its FAIL_TO_PASS test fails in front of the model: a fix task of the repair loop (agent/repair.py),
    # the reply the fixed file whole in the edit form
    fixed = OLD["toycalc/money.py"].replace("int(amount * 100)", "round(amount * 100)")
    fix = [f"cents truncates; it must round.\n\n### toycalc/money.py\n```python\n{fixed}```\n"]
    replay = write_replay(tmp_path / "replay.json", fix)
    out = tmp_path / "results.jsonl"
    done = run_cli("eval", str(tmp_path / "out" / "instances.jsonl"), "--model", f"replay:{replay}", "--out", str(out),
                   cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr
    (result,) = map(json.loads, out.read_text().splitlines())
    assert result["solved"] is True and (result["f2p_passed"], result["p2p_passed"], result["p2p_total"]) == (1, 2, 2)
    assert result["attempts"] == 1, result
    assert (result["diff_added"], result["diff_removed"]) == (1, 1)


def test_transplant_replaces_and_adds_with_decorators_and_comments():
    old = "import x\n\n\nclass A:\n    def keep(self):\n        return 1\n\n    def fix(self):\n        return 2\n"
    new = ("class A:\n    def fix(self):\n        # fixed\n        return 3\n\n    @property\n    def added(self):\n"
           "        return 4\n\n\ndef helper():\n    return 5\n")
    out = transplant(old, new, ["A.fix", "A.added", "helper"])
    assert out == ("import x\n\n\nclass A:\n    def keep(self):\n        return 1\n\n    def fix(self):\n        # fixed\n"
                   "        return 3\n\n    @property\n    def added(self):\n        return 4\n\n\ndef helper():\n    return 5\n")
    with pytest.raises(TransplantError, match="the older file has no B"):
        transplant(old, "class B:\n    def f(self):\n        pass\n", ["B.f"])


@pytest.mark.slow
@pytest.mark.timeout(3700)  # its 32 tasks, each tested twice in the sandbox: 7 minutes alone, more beside other tests
def test_the_real_suite_builds_and_every_task_fails_then_passes(tmp_path):
    """Downloads each release once (cached under ~/.cache/agent-runtime/evals/sdists), then proves
    every task: its FAIL_TO_PASS fail and PASS_TO_PASS pass as given; all pass with the fix."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(BUILD), "--out", str(tmp_path / "real"), "--check", "--table"],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    lines = [json.loads(line) for line in (tmp_path / "real" / "instances.jsonl").read_text().splitlines()]
    projects = {line["project"] for line in lines}
    assert len(lines) >= 30 and len(projects) >= 5, (len(lines), projects)
    forbidden = {"more-itertools", "tabulate", "boltons", "parse", "toolz", "sortedcontainers", "marshmallow"}
    assert not projects & forbidden
    print(f"built and checked {len(lines)} tasks of {len(projects)} projects in {time.monotonic() - started:.0f} s")


def test_transplant_picks_one_definition_of_a_name_defined_twice():
    overloads = ("from typing import overload\n\n\n@overload\ndef item(x: int) -> int: ...\n\n\n"
                 "def item(x):\n    return {body}\n")
    out = transplant(overloads.format(body="x"), overloads.format(body="x + 1"), ["item#last"])
    assert out == overloads.format(body="x + 1")
    assert transplant(overloads.format(body="x"), overloads.format(body="x + 1"), ["item"]) == overloads.format(body="x")
