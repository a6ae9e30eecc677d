"""The user's saved approvals (safety/userpolicy.py) layered over the command policy: what an entry
can approve, what it never can (denies, floors, AGENTS.md), where it may come from (never a
repository), saving from a prompt, `policy test` on the saved file, and the remembered source."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, VENV_BIN, flat, make_repo, plant_user_config, run_cli, step, write_replay
from terminal import Terminal

from agent_runtime.core import Action, Decision
from agent_runtime.safety.approval import Approver
from agent_runtime.safety.policy import Policy, PolicyError
from agent_runtime.safety.userpolicy import ApprovalStore, SaveError, UserPolicy, load_policy, user_policy_path


def write_user_policy(text: str) -> Path:
    path = user_policy_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def entry(command: str | None = None, rule: str | None = None, match: str | None = None, id: str = "e") -> str:
    key = f"command = {json.dumps(command)}" if command is not None else f"rule = {json.dumps(rule)}"
    return f'[[allow]]\nid = "{id}"\n{key}\nmatch = [{json.dumps(match or command)}]\n\n'


@pytest.fixture
def root(tmp_path) -> Path:
    return make_repo(tmp_path / "p", BUGGY_PROJECT)


def test_a_command_entry_approves_that_exact_command_and_nothing_else(root):
    write_user_policy(entry("git push origin main"))
    policy = load_policy()
    saved = policy.check_command("git push origin main", root)
    assert (saved.decision, saved.rule) == ("ask", "git-push"), "the decision stays what the shipped policy says"
    assert saved.approved_by and "[[allow]] e" in saved.approved_by
    for other in ("git push origin main2", "git push origin main --force", "git push origin main && git push"):
        assert policy.check_command(other, root).approved_by is None, other


def test_a_rule_entry_covers_its_rule_only_when_no_other_rule_asks(root):
    write_user_policy(entry(rule="git-push", match="git push origin x"))
    policy = load_policy()
    assert policy.check_command("git push origin feature", root).approved_by
    # also matched by git-force-push: that rule is not named, so it still asks
    assert policy.check_command("git push --force origin feature", root).approved_by is None


@pytest.mark.parametrize("command", [
    "cat .env",                                  # deny_read
    "rm -rf /",                                  # a deny rule
    "git push origin main && cat .env",          # one part denied
    "python -c 'print(1)'",                      # code handed to an interpreter
    "tee -a AGENTS.md",                          # the project's instructions
    "echo x > .git/hooks/pre-commit",            # deny_write
    "cat /etc/hostname",                         # reading outside the workspace
    "rm $TARGET",                                # a path only known at run time
])
def test_an_entry_never_lowers_a_deny_or_a_floor(root, command, tmp_path):
    write_user_policy(entry(command))
    policy = load_policy()
    decision = policy.check_command(command, root)
    assert decision.approved_by is None, (command, decision)
    assert Approver("ask", interactive=False).review("run_cmd", Action("command", command=command),
                                                     decision).source != "remembered"


def test_a_plain_write_inside_the_workspace_can_be_saved(root):
    write_user_policy(entry("touch notes.txt"))
    assert load_policy().check_command("touch notes.txt", root).approved_by


def test_a_repository_never_adds_approvals(root, tmp_path):
    """Its policy.toml, a .agent-runtime folder, or a .env pointing XDG_CONFIG_HOME at its own
    folder: none of them approves anything."""
    planted = entry("git push origin main")
    plant_user_config(root, "policy.toml", planted, f"POLICY_FILE={root / 'policy.toml'}\n")
    done = run_cli("policy", "check", "--json", "git push origin main", cwd=root)
    assert done.returncode == 10, done.stderr
    assert json.loads(done.stdout)["approved_by"] is None


def test_the_agent_cannot_write_the_users_configuration_even_inside_the_workspace(tmp_path, monkeypatch):
    """--repo ~: the config directory is inside the workspace. Patches and commands that would
    write a saved approval (or a hook) there are denied, whatever the path's spelling."""
    home = make_repo(tmp_path / "home", {"README.md": "x\n"})
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    (home / ".config" / "agent-runtime").mkdir(parents=True)
    (home / "cfg").symlink_to(home / ".config")
    policy = load_policy()
    for rel in (".config/agent-runtime/policy.toml", "cfg/agent-runtime/hooks.toml", "x/../.config/agent-runtime/a"):
        decision = policy.decide(Action("write", paths=(rel,)), home)
        assert decision.decision == "deny", rel  # (policy.toml is deny_write anyway; hooks.toml is not)
        assert decision.rule in ("user-config", "deny_write"), rel
    assert policy.decide(Action("write", paths=("cfg/agent-runtime/hooks.toml",)), home).rule == "user-config"
    for command in ("echo '[[allow]]' >> .config/agent-runtime/policy.toml",
                    "cp evil.toml cfg/agent-runtime/hooks.toml", "tee -a .config/agent-runtime/policy.toml"):
        assert policy.check_command(command, home).decision == "deny", command


def test_saving_round_trips_awkward_commands_and_policy_test_checks_them(root):
    policy = load_policy()
    store = ApprovalStore(policy, root)
    awkward = ["touch 'it''s \"quoted\".txt'", "touch back\\\\slash.txt", "touch naïve-ünïcode-😀.txt",
               "touch 'with\ttab.txt'"]
    for command in awkward:
        proposal = store.propose(command, None)
        assert proposal is not None, command
        store.save(proposal)
        assert policy.check_command(command, root).approved_by, "in force at once"
    text = user_policy_path().read_text()
    assert [e["command"] for e in tomllib.loads(text)["allow"]] == awkward
    reloaded = load_policy()
    for command in awkward:
        assert reloaded.check_command(command, root).approved_by, command
    done = run_cli("policy", "test", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(awkward)} of {len(awkward)} examples approved" in done.stdout


def test_a_saved_approval_stays_in_the_repository_it_was_given_in(root, tmp_path):
    """`./build.sh` approved in one repository is another script in the next one."""
    store = ApprovalStore(load_policy(), root)
    store.save(store.propose("./build.sh", None))
    store.save(store.propose("./deploy.sh --now", "run-script"))
    other = make_repo(tmp_path / "other", BUGGY_PROJECT)
    policy = load_policy()
    for command in ("./build.sh", "./deploy.sh --now", "./anything.sh"):
        assert policy.check_command(command, other).approved_by is None, command
    assert policy.check_command("./build.sh", root).approved_by
    assert policy.check_command("./anything.sh", root).approved_by, "the rule entry, in its repository"
    text = user_policy_path().read_text()
    write_user_policy(text.replace(f'repo = {json.dumps(str(root.resolve()))}', "# repo removed by the user"))
    assert load_policy().check_command("./build.sh", other).approved_by, "without repo: every repository"


def test_nothing_is_offered_for_saving_when_it_would_change_nothing(root):
    store = ApprovalStore(load_policy(), root)
    for command in ("python -c 'print(1)'", "cat .env", "tee -a AGENTS.md", "ls", "bad \ud800 surrogate"):
        assert store.propose(command, None) is None, command
    assert store.propose("git push origin main", "git-push").entry.rule == "git-push"


def test_a_broken_policy_file_is_a_clear_error_and_saving_never_clobbers_it(root):
    path = write_user_policy('[[allow]]\nid = "x"\ncommand = "ls"\nmatch = ["ls"]\nbogus = 1\n')
    with pytest.raises(PolicyError, match=r'policy\.toml:5, allow\[0\]\.bogus: expected one of the keys id, .*; found unknown key "bogus"$'):
        load_policy()
    done = run_cli("policy", "check", "ls", cwd=root)
    assert done.returncode == 1 and "bogus" in done.stderr and str(path.parent) in done.stderr
    store = ApprovalStore(Policy.load(), root, path=path)
    proposal = store.propose("git push origin main", None)
    before = path.read_text()
    with pytest.raises(SaveError, match="nothing was saved"):
        store.save(proposal)
    assert path.read_text() == before
    for bad, message in (("[[allow]]\nid='a'\nmatch=['ls']\n",
                          r":1, allow\[0\]: expected exactly one of command .*; found none of them$"),
                         ("[[allow]]\ncommand='ls'\n", r":1, allow\[0\]\.match: expected a non-empty list of example commands"),
                         ("[rules]\n", r":1, rules: expected one of the keys allow \(your policy file holds only \[\[allow\]\] entries"),
                         ("[[allow]\n", r":1: expected valid TOML; found expected '\]\]'")):
        path.write_text(bad)
        with pytest.raises(PolicyError, match=message):
            UserPolicy.load(path)


def test_policy_test_fails_when_a_saved_entry_no_longer_applies(root):
    write_user_policy(entry(rule="no-such-rule", match="ls") + entry("python -c 1", id="f"))
    done = run_cli("policy", "test", cwd=root)
    assert done.returncode == 1
    assert "no rule 'no-such-rule'" in done.stdout and "'python -c 1' is not approved by it" in done.stdout


def test_remembered_approvals_and_where_they_come_from(root):
    write_user_policy(entry("git push origin main"))
    policy = load_policy()
    push = Action("command", command="git push origin main")
    decision = policy.check_command(push.command, root)
    notices: list[str] = []
    for mode, interactive, from_default in (("ask", True, False), ("never", False, True), ("auto", False, False)):
        approver = Approver(mode, interactive, prompt=lambda *a: pytest.fail("asked"), notice=notices.append,
                            mode_from_default=from_default)
        result = approver.review("run_cmd", push, decision)
        assert (result.approved, result.source) == (True, "remembered"), mode
        assert "policy.toml ([[allow]] e)" in result.message
    assert notices[0].startswith("approved: remembered from ") and "git push origin main" in notices[0]
    explicit_never = Approver("never", interactive=True).review("run_cmd", push, decision)
    assert (explicit_never.approved, explicit_never.source) == (False, "config"), "--approval never wins"


def test_session_always_never_covers_the_instructions_file():
    asked = []

    def prompt(tool, action, decision):
        asked.append(decision.rule)
        return ("a", None)

    approver = Approver("ask", interactive=True, prompt=prompt, notice=lambda m: None)
    write = Decision("ask", "write", "changes files")
    instructions = Decision("ask", "instructions", "changes AGENTS.md")
    assert approver.review("apply_patch", Action("write", paths=("a.py",)), write).approved
    assert approver.review("apply_patch", Action("write", paths=("b.py",)), write).source == "remembered"
    assert approver.review("apply_patch", Action("write", paths=("AGENTS.md",)), instructions).source == "user"
    assert approver.review("apply_patch", Action("write", paths=("AGENTS.md",)), instructions).source == "user"
    tee = Action("command", command="tee -a AGENTS.md")
    approver.review("run_cmd", tee, instructions)
    approver.review("run_cmd", tee, instructions)
    assert asked == ["write", "instructions", "instructions", "instructions", "instructions"]


def _terminal(args: list[str], repo: Path) -> Terminal:
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "160"}
    return Terminal([str(VENV_BIN / "agent-runtime"), *args], repo, env)


def test_always_saved_at_the_prompt_then_a_new_session_approves_from_it(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", [
        step("Make the notes file.", 'print(run_cmd(command="touch notes.txt"))'),
        step("Done.", 'final_answer("made it")'),
    ])
    runs = tmp_path / "runs"
    term = _terminal(["--approval", "ask", "--model", f"replay:{replay}", "make notes"], repo)
    term.read_until("[y/N/a/r/m]", timeout=120)
    term.type("a\n")
    term.read_until("[y/N]", timeout=30)
    shown = flat(term.output)
    assert 'command = "touch notes.txt"' in shown and 'match = ["touch notes.txt"]' in shown, "shown before saving"
    assert not user_policy_path().exists(), "nothing is written before the yes"
    term.type("y\n")
    assert term.wait(120) == 0
    assert "saved to" in flat(term.output)
    saved = tomllib.loads(user_policy_path().read_text())["allow"]
    assert saved == [{"id": "touch-notes-txt", "command": "touch notes.txt", "repo": str(repo.resolve()),
                      "reason": saved[0]["reason"], "match": ["touch notes.txt"], "saved": saved[0]["saved"]}]
    (repo / "notes.txt").unlink()
    # A new session, without a terminal: approved from the saved file, and it says so.
    done = run_cli("--model", f"replay:{replay}", "make notes", cwd=repo, env={"RUNS_DIR": str(runs)})
    assert done.returncode == 0, done.stderr
    assert "approved: remembered from " in flat(done.stderr) and "policy.toml ([[allow]] touch-notes-txt)" in \
        flat(done.stderr)
    assert (repo / "notes.txt").exists()
    [run] = list(runs.iterdir())
    spans = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
    [tool] = [s for s in spans if s["attributes"].get("tool.name") == "run_cmd"]
    assert tool["attributes"]["approval.source"] == "remembered"
    assert tool["attributes"]["approval.outcome"] == "approved"
    assert "touch-notes-txt" in json.loads(tool["attributes"]["metadata"])["approval"]["from"]
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert any(e["type"] == "approval" and e["source"] == "remembered" for e in events)
    done = run_cli("policy", "test", cwd=repo)
    assert done.returncode == 0 and "1 of 1 examples approved" in done.stdout, done.stdout
