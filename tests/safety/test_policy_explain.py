"""`agent-runtime policy check` explains truly (issue 41, item 4): each reason a user reads is true
of the command and names the rule that decided; the decisions themselves are unchanged."""

from __future__ import annotations

import json

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli

from agent_runtime.safety.userpolicy import user_policy_path


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "p", BUGGY_PROJECT)


def check(repo, command: str, *extra: str):
    done = run_cli("policy", "check", "--sandbox", "on", *extra, command, cwd=repo)
    assert "Traceback" not in done.stderr, done.stderr
    return done, done.stdout.splitlines()


def test_sleep_is_not_said_to_read_files(repo):
    done, lines = check(repo, "sleep 60")
    assert done.returncode == 0
    assert lines[0].startswith("allow (rule read-only): ") and "waits" in lines[0]
    assert "reads files or prints text" not in done.stdout


def test_a_fork_bomb_asks_and_says_why_its_parts_are_listed_once(repo):
    done, lines = check(repo, ":(){ :|:& };:")
    assert done.returncode == 10
    assert lines[0].startswith("ask (rule parse): cannot be fully read (it defines a shell function)")
    assert "each judged alone" in done.stdout
    assert [line for line in lines if line.strip().startswith("allow")] == ["  allow  :  (3 times)"]


def test_the_breakdown_keeps_the_quotes(repo):
    done, lines = check(repo, "find . -name '*.pyc' -delete")
    assert done.returncode == 10 and "  ask    find . -name '*.pyc' -delete" in lines
    done, lines = check(repo, "python -c 'print(1)'")
    assert done.returncode == 0 and "  allow  python -c 'print(1)'" in lines
    done, lines = check(repo, 'echo "a b" $(date)')
    assert "  allow  echo 'a b' '$(date)'" not in lines and "  allow  echo 'a b' $(date)" in lines


def test_git_push_says_the_sandbox_has_no_network_once(repo):
    done, lines = check(repo, "git push")
    assert done.returncode == 10 and lines[0] == "ask (rule git-push): publishes commits to a remote repository"
    assert done.stdout.count("no network") == 1
    assert lines[1] == "  sandbox: asked even in the sandbox: the sandbox has no network (a person decides)"


def test_a_declared_change_asks_for_a_true_reason_and_one_the_sandbox_contains_says_undo_restores_it(repo):
    done, lines = check(repo, "rm -rf build")
    assert done.returncode == 10 and lines[0].startswith("ask (rule change-files): ")
    assert "does not undo" not in done.stdout and "a person sees such a change first, as a patch" in done.stdout
    assert "`agent-runtime undo` can put it back" in done.stdout
    done, lines = check(repo, "make clean")
    assert done.returncode == 0 and lines[0].startswith("allow (no rule; the sandbox contains it): ")
    assert "`agent-runtime undo` can put back" in lines[0]
    # the JSON keeps the engine's whole reason and decisions
    out = json.loads(run_cli("policy", "check", "--sandbox", "on", "--json", "rm -rf build", cwd=repo).stdout)
    assert (out["decision"], out["rule"], out["sandbox"]) == ("ask", "change-files", "review")


def test_a_saved_approval_shows_the_effective_decision(repo):
    before, _ = check(repo, "git push origin main")
    assert before.returncode == 10
    path = user_policy_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[[allow]]\nid = "push"\ncommand = "git push origin main"\nmatch = ["git push origin main"]\n')
    done, lines = check(repo, "git push origin main")
    assert done.returncode == 0, done.stdout
    assert lines[0].startswith(f"allow (your saved approval in {path} ([[allow]] push)): the policy alone would "
                               "ask (rule git-push: publishes commits")
    assert "with --approval never it is refused" in lines[0]
    assert lines[1] == "  sandbox: runs without asking, in the sandbox or not: your saved approval covers it"
    out = json.loads(run_cli("policy", "check", "--json", "git push origin main", cwd=repo).stdout)
    assert out["decision"] == "ask" and out["approved_by"]  # the policy's own decision, as spans record it
