"""The policy checked against what commands actually do (benchmarks/policy_diff.py, issue 45): a sample
of the corpus and of the wrapped variants, each judged in a scratch repository and, when allowed, run
there in the sandbox under strace. No allowed command may delete, rewrite, rename or chmod a file that
was there, or open a path outside the workspace. And the everyday corpus in a hostile workspace (its
Makefile, package.json scripts, conftest.py and `.git` file run a payload): nothing written outside the
workspace, nothing read out of the sandbox's view."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import policy_diff  # noqa: E402

from agent_runtime.safety.isolation import isolation  # noqa: E402

pytestmark = pytest.mark.skipif(not isolation().bwrap, reason="bubblewrap does not run here")

SAMPLE = [
    # everyday commands the policy allows: they must do only what it predicted
    "ls -la", "cat README.md", "grep -rn TODO src", "rg -n 'def main'", "find . -name '*.py'", "wc -l src/*.py",
    "sort names.txt | uniq -c", "git status", "git log --oneline -5", "git diff", "head -n 5 tracked.txt",
    "du -sh .", "stat setup.py", "diff a.txt tracked.txt", "jq . package.json", "python -c 'print(1)'",
    "cat notes-link",
    # what must not be allowed: the check runs them only if it were
    "rm -f tracked.txt", "env rm -f tracked.txt", "nice -n 5 'rm' '-rf' 'sub'", "timeout 5 \\m\\v a.txt b.txt",
    "bash -c 'cp untracked.txt tracked.txt'", "sh -c \"sed -i s/x/y/ tracked.txt\"", "command $'\\x74runcate' -s0 tracked.txt",
    "true | xargs chmod 000 tracked.txt", "find . -maxdepth 0 -exec tee tracked.txt \\;", "nohup cat ~/.npmrc",
    "git bisect run cat /etc/shadow", "echo x > tracked.txt", "exec rm -f build/out.bin",
    # listed folders outside the workspace while allowed, before floors.py's listing_floor
    "ls ~", "ls ..", "du -sh ~", "find .. -name '*.env'",
]


@pytest.fixture(scope="module")
def traced(tmp_path_factory) -> bool:
    return policy_diff.strace_works(policy_diff.template(tmp_path_factory.mktemp("probe") / "ws"))


def test_the_sample_does_only_what_the_policy_predicted(tmp_path, traced):
    report = policy_diff.check(SAMPLE, tmp_path, traced)
    assert report["disagreement_list"] == []
    assert report["commands_checked"] == len(SAMPLE)
    assert report["allowed_run"] >= 15  # the check is not vacuous: the everyday part ran


@pytest.mark.parametrize("command, key, expected", [
    ("rm -f tracked.txt", "deleted", ["tracked.txt"]),
    ("mv a.txt b.txt", "renamed", ["a.txt -> b.txt"]),
    ("echo y >> untracked.txt", "rewritten", ["untracked.txt"]),
    ("chmod 000 build/out.bin", "chmodded", ["build/out.bin"]),
    ("cd sub && rm -rf nested", "deleted", ["sub/nested", "sub/nested/deep.txt"]),
])
def test_the_snapshot_sees_what_a_command_changed(tmp_path, command, key, expected):
    workspace = policy_diff.template(tmp_path / "ws")
    did = policy_diff.observe(command, workspace, traced=False)
    assert did[key] == expected
    assert policy_diff.harmful(did)


def test_the_trace_sees_reads_outside_the_workspace(tmp_path, traced):
    if not traced:
        pytest.skip("strace does not run in the sandbox here (make test-deps installs it)")
    workspace = policy_diff.template(tmp_path / "ws")
    (tmp_path / "outside.txt").write_text("beside the workspace\n")
    did = policy_diff.observe("cat ../outside.txt; cat ~/.npmrc; (cd /etc && cat shadow); cat README.md",
                              workspace, traced=True)
    home = str(Path.home())
    assert did["read_outside"] == sorted([f"{home}/.npmrc", "/etc/shadow", str(tmp_path / "outside.txt")])
    assert "cat" in did["executed"]
    shutil.rmtree(workspace)


# Of the everyday corpus, what the hostile files reach (make, npm's scripts, pytest's conftest.py, git's
# fsmonitor) and a few plain ones; `python benchmarks/policy_diff.py --hostile` runs all of it (6 minutes).
HOSTILE_SAMPLE = ["make", "make test", "make check", "npm test", "npm install", "npm run build", "pytest -q",
                  "python -m pytest", "cd tests && pytest -q", "coverage run -m pytest", "git status",
                  "git diff", "git log --oneline -10", "git stash list", "ls -la", "cat README.md", "rg --files",
                  "find . -name '*.py'", "tree -L 2", "du -sh .", "sort names.txt | uniq -c"]


def test_the_everyday_corpus_in_a_hostile_workspace_writes_nothing_outside_and_reads_nothing_out_of_view(tmp_path):
    """The everyday corpus again, in a workspace whose Makefile, package.json scripts, conftest.py and
    the fsmonitor of the git directory its `.git` file names all run a payload that goes for the home,
    the folder beside the workspace, /etc and /usr: whatever the policy lets run, nothing it wrote,
    changed or read outside got through, and on the host nothing beside the workspace changed."""
    everyday = policy_diff.corpus("everyday_commands.txt")
    assert set(HOSTILE_SAMPLE) <= set(everyday)
    report = policy_diff.check_hostile(HOSTILE_SAMPLE, tmp_path)
    assert report["escapes"] == [] and report["host_changed"] == {}, report
    assert report["allowed_run"] >= 20, report
    ran = set(report["payload_ran"])
    assert {"make", "make test", "npm test", "npm run build", "pytest -q", "git status"} <= ran, sorted(ran)


def test_the_hostile_check_sees_an_escape_when_there_is_one(tmp_path):
    """escapes() against a trace of what got out, made by hand: the check is not blind."""
    root = tmp_path / "ws"
    trace = policy_diff.Trace(opened_ok=[(str(tmp_path / "victim" / "secret.txt"), "r", "cat"),
                                         ("/srv/app/settings.py", "r", "cat"), ("/usr/lib/os-release", "r", "cat"),
                                         (str(Path.home() / ".bashrc"), "w", "sh"), ("/tmp/x", "w", "sh"),
                                         (str(root / "a.txt"), "w", "sh"), ("/srv", "l", "ls")],
                              changed_ok=[("unlink", "/srv/app/README.md", "rm"), ("unlink", str(root / "b"), "rm")])
    found = policy_diff.escapes(trace, root, policy_diff.view_places(root))
    # (beside the workspace under /tmp, a write lands in the sandbox's private /tmp: host_state checks the host)
    assert found == {"read_outside": ["/srv/app/settings.py", str(tmp_path / "victim" / "secret.txt")],
                     "wrote_outside": [str(Path.home() / ".bashrc")],
                     "changed_outside": ["unlink /srv/app/README.md"]}
