"""The command policy: the shipped rules, the corpus, every parser feature, the floors,
policy files that are wrong, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_repo, run_cli

from agent_runtime.safety.policy import Policy, PolicyError, glob_match

DATA = Path(__file__).parents[1] / "data"


def corpus(name: str) -> list[str]:
    return [line for line in (DATA / name).read_text().splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


@pytest.fixture
def root(tmp_path) -> Path:
    return make_repo(tmp_path / "ws", {"app.py": "x = 1\n", ".env": "TOKEN=secret\n"}, commit=False)


def decide(policy: Policy, root: Path, command: str) -> str:
    return policy.check_command(command, root).decision


# --- the corpus: none of the dangerous allowed, none of the everyday denied ---


def test_corpus_sizes():
    assert len(corpus("dangerous_commands.txt")) >= 100
    assert len(corpus("everyday_commands.txt")) >= 100


def test_no_dangerous_command_is_allowed(policy, root):
    allowed = [c for c in corpus("dangerous_commands.txt") if decide(policy, root, c) == "allow"]
    assert allowed == []


def test_no_everyday_command_is_denied(policy, root):
    denied = [c for c in corpus("everyday_commands.txt") if decide(policy, root, c) == "deny"]
    assert denied == []


# --- every parser feature, used to hide `rm -rf /` ---


@pytest.mark.parametrize(
    "command",
    [
        # compound commands
        "ls; rm -rf /", "ls && rm -rf /", "false || rm -rf /", "ls | rm -rf /", "ls & rm -rf /",
        "(rm -rf /)", "{ rm -rf /; }", "if true; then rm -rf /; fi", "if false; then :; else rm -rf /; fi",
        "for x in 1; do rm -rf /; done", "while true; do rm -rf /; done", "until false; do rm -rf /; done",
        "case x in x) rm -rf /;; esac", "! rm -rf /",
        # substitutions
        "echo $(rm -rf /)", "echo `rm -rf /`", "cat <(rm -rf /)", "diff <(ls) >(rm -rf /)",
        "x=$(rm -rf /)", "echo \"$(rm -rf /)\"", "for f in $(rm -rf /); do :; done",
        # redirections carry commands too
        "ls > $(rm -rf /)",
        # wrappers
        "sudo rm -rf /", "env rm -rf /", "env -i FOO=1 rm -rf /", "command rm -rf /", "nice -n 5 rm -rf /",
        "timeout -s KILL 5 rm -rf /", "nohup rm -rf /", "exec rm -rf /", "xargs rm -rf / < /dev/null",
        "find . -exec rm -rf / \\;", "find / -exec rm -rf {} +", "stdbuf -oL rm -rf /", "time rm -rf /",
        "uv run rm -rf /", "timeout 5 nice sudo env rm -rf /",
        # strings that are code
        "sh -c 'rm -rf /'", "bash -c \"rm -rf /\"", "bash -lc 'rm -rf /'", "bash -x -c 'rm -rf /'",
        "eval 'rm -rf /'", "eval rm -rf /", "sh -c \"bash -c 'eval \\\"rm -rf /\\\"'\"", "su -c 'rm -rf /'",
        "env -S 'rm -rf /'", "bash <<'EOF'\nrm -rf /\nEOF", "cat <<EOF | sh\nrm -rf /\nEOF",
        # quoting and escaping
        "r''m -rf /", "r\"\"m -rf /", "\\rm -rf /", "/bin/rm -rf /", "/usr/bin/rm -rf /", "'rm' -rf /",
        "\"rm\" -rf /", "$'rm' -rf /", "$'\\x72m' -rf /", "rm -rf '/'", "rm -r\"f\" /", "rm -rf \\/",
        # known variables
        "rm -rf $HOME", "rm -rf ${HOME}", "rm -rf \"$HOME/\"", "rm -rf ~", "rm -rf ~/",
    ],
)
def test_hidden_destruction_is_denied(policy, root, command):
    assert decide(policy, root, command) == "deny", policy.check_command(command, root).as_dict()


@pytest.mark.parametrize(
    "command",
    [
        "python -c 'print(1)'", "python3 -c 'import os'", "python3 -Ic 'print(1)'", "perl -e 'print 1'",
        "perl -ne 'print' f", "node -e 'console.log(1)'", "node --eval 'x'", "ruby -e 'p 1'", "php -r 'echo 1;'",
        "echo 'print(1)' | python3", "echo ls | sh", "cat script | bash", "bash < script.sh", "python3 - < x.py",
        "sh", "bash -s", "python3", "sh -c \"$CMD\"", "eval \"$X\"", "bash -c \"$(cat cmd.txt)\"",
    ],
)
def test_code_handed_to_an_interpreter_is_never_allowed(policy, root, command):
    assert decide(policy, root, command) != "allow"


def test_even_a_policy_that_allows_python_cannot_allow_inline_code(tmp_path, root):
    path = tmp_path / "p.toml"
    path.write_text('[[rules]]\nid = "python"\ndecision = "allow"\nreason = "trust python"\n'
                    'pattern = [["python", "python3", "sh"]]\nmatch = ["python x.py"]\n')
    loose = Policy.load(path)
    assert decide(loose, root, "python x.py") == "allow"
    assert decide(loose, root, "python -c 'import os'") == "ask"
    assert decide(loose, root, "curl x | sh") == "ask"


@pytest.mark.parametrize("command", ["ls ((", "echo 'unterminated", "ls )(", "if then fi", "f(){ ls; }; f"])
def test_what_the_parser_cannot_read_is_ask(policy, root, command):
    result = policy.check_command(command, root)
    assert result.decision in ("ask", "deny") and result.decision != "allow"
    assert result.rule == "parse" or result.decision == "deny"


@pytest.mark.parametrize("command", ["$CMD -rf /", "$(echo rm) -rf /", "`echo ls`", "\"$PROG\" x"])
def test_dynamic_programs_are_not_allowed(policy, root, command):
    assert decide(policy, root, command) != "allow"


# --- redirections and paths ---


def test_redirections(policy, root):
    assert decide(policy, root, "echo x > /etc/passwd") == "deny"
    assert decide(policy, root, "echo x >> ~/.bashrc") == "deny"
    assert decide(policy, root, "ls &> ../log.txt") == "deny"
    assert decide(policy, root, "echo x > notes.txt") == "ask"  # a write the user did not review
    assert decide(policy, root, "echo x > .git/config") == "deny"  # deny_write
    assert decide(policy, root, "pytest > /dev/null 2>&1") == "allow"
    assert decide(policy, root, "ls > /tmp/listing.txt") == "allow"  # the sandbox's private /tmp
    assert decide(policy, root, "echo x >&2") == "allow"
    assert decide(policy, root, "cat < .env") == "deny"
    assert decide(policy, root, "ls > \"$OUT\"") == "ask"


def test_reading_secrets_is_denied_everywhere(policy, root):
    for command in ("cat .env", "cat ./.env", "head config/.env.local", "grep K .env", "cat ~/.ssh/id_rsa",
                    "cat ~/.aws/credentials", "cat key.pem", "cp ~/.netrc .", "rg token .env"):
        assert decide(policy, root, command) == "deny", command
    assert decide(policy, root, "cat .env.example") == "allow"  # allow_read exception


def test_cd_moves_where_relative_paths_point(policy, root):
    assert decide(policy, root, "cd / && rm -rf *") == "deny"
    assert decide(policy, root, "cd src && rm -rf build") == "ask"
    assert decide(policy, root, "cd .. && rm -rf x") == "deny"


def test_glob_matching():
    assert glob_match(".env*", ".env") and glob_match(".env*", "config/.env.local")
    assert glob_match("**/.ssh/**", "root/.ssh/id_rsa") and glob_match("**/.ssh/**", ".ssh/config")
    assert glob_match("*.pem", "a/b/key.pem") and not glob_match("*.pem", "a/pem.txt")
    assert glob_match(".git/**", ".git/config") and glob_match(".git/**", ".git")
    assert not glob_match(".git/**", "src/.github/workflow.yml")


# --- tools use the same path rules ---


def test_deny_read_is_enforced_by_file_tools(root, tools_for):
    runtime, tools = tools_for(root)
    result = tools["read_file"](path=".env")
    assert "deny_read" in result["error"] and runtime.state.history[-1].outcome == "refused"
    search = tools["rg_search"](pattern="TOKEN")
    assert search["count"] == 0 and "secret" not in str(search)
    assert "deny_read" in tools["read_file_snippet"](path=".env", pattern="T")["error"]


def test_deny_write_is_enforced_by_apply_patch(root, tools_for):
    from conftest import git

    git(root, "add", "app.py")
    git(root, "commit", "-qm", "x")
    _, tools = tools_for(root)
    proposed = tools["propose_patch"](path=".git/description", old="", new="pwned\n")
    if "patch_id" in proposed:  # .git/description may exist; either way applying must be denied
        result = tools["apply_patch"](patch_id=proposed["patch_id"])
        assert "deny_write" in result["error"]
    diff = "--- a/.git/HEAD\n+++ b/.git/HEAD\n@@ -1 +1 @@\n-ref: refs/heads/main\n+ref: refs/heads/evil\n"
    proposed = tools["propose_patch_unified"](diff=diff)
    result = tools["apply_patch"](patch_id=proposed["patch_id"])
    assert "refused by the command policy (rule deny_write)" in result["error"]
    assert (root / ".git" / "HEAD").read_text().strip() == "ref: refs/heads/main"


# --- policy files ---


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_a_rule_whose_examples_fail_stops_loading_with_its_id(tmp_path):
    path = write_policy(tmp_path, '[[rules]]\nid = "my-rule"\ndecision = "allow"\nreason = "r"\n'
                                  'pattern = ["ls"]\nmatch = ["cat x"]\n')
    with pytest.raises(PolicyError, match="rule 'my-rule': its match example 'cat x' does not match it"):
        Policy.load(path)
    path = write_policy(tmp_path, '[[rules]]\nid = "other"\ndecision = "deny"\nreason = "r"\n'
                                  'pattern = ["rm"]\nnot_match = ["rm x"]\n')
    with pytest.raises(PolicyError, match="rule 'other': its not_match example 'rm x' matches it"):
        Policy.load(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[rules]]\nid = "a"\ndecision = "maybe"\nreason = "r"\npattern = ["ls"]\n', "decision must be"),
        ('[[rules]]\nid = "a"\ndecision = "allow"\npattern = ["ls"]\n', "a reason is required"),
        ('[[rules]]\nid = "a"\ndecision = "allow"\nreason = "r"\npattern = ["ls"]\ncolour = "x"\n', "unknown field"),
        ('[[rules]]\nid = "a"\ndecision = "allow"\nreason = "r"\npattern = ["ls"]\n'
         '[[rules]]\nid = "a"\ndecision = "deny"\nreason = "r"\npattern = ["rm"]\n', "used twice"),
        ("default = 'perhaps'\n", "default must be"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_invalid_policy_files(tmp_path, text, message):
    with pytest.raises(PolicyError, match=message):
        Policy.load(write_policy(tmp_path, text))


def test_default_decision_is_configurable(tmp_path, root):
    strict = Policy.load(write_policy(tmp_path, 'default = "deny"\n'))
    assert strict.check_command("frobnicate --now", root).decision == "deny"
    assert Policy.load().check_command("frobnicate --now", root).decision == "ask"


def test_shipped_policy_examples_all_pass(policy, root):
    assert policy.example_failures(root) == []
    assert len(policy.rules) >= 25 and len(policy.examples) >= 15


# --- CLI ---


def test_policy_check_json(tmp_path):
    result = run_cli("policy", "check", "--json", "ls && sudo rm -rf /", cwd=tmp_path)
    assert result.returncode == 0
    out = json.loads(result.stdout)
    assert set(out) == {"decision", "rule", "reason", "commands"}
    assert out["decision"] == "deny" and out["rule"] == "privilege"
    assert [c["argv"] for c in out["commands"]] == [["ls"], ["sudo", "rm", "-rf", "/"], ["rm", "-rf", "/"]]
    assert [c["decision"] for c in out["commands"]] == ["allow", "deny", "deny"]
    text = run_cli("policy", "check", "git status", cwd=tmp_path)
    assert text.stdout.startswith("allow (rule git-read): reads the repository's history and state")


def test_policy_test_cli(tmp_path):
    ok = run_cli("policy", "test", cwd=tmp_path)
    assert ok.returncode == 0 and "examples pass" in ok.stdout
    bad = write_policy(tmp_path, 'default = "ask"\n[[examples]]\ncommand = "ls"\ndecision = "allow"\n')
    failing = run_cli("policy", "test", cwd=tmp_path, env={"POLICY_FILE": str(bad)})
    assert failing.returncode == 1 and "FAIL example 'ls': expected allow, got ask" in failing.stdout


def test_bad_policy_file_stops_start_up_with_the_rule_id(tmp_path):
    bad = write_policy(tmp_path, '[[rules]]\nid = "broken-rule"\ndecision = "allow"\nreason = "r"\n'
                                 'pattern = ["ls"]\nmatch = ["pwd"]\n')
    result = run_cli("tool", "list_files", cwd=tmp_path, env={"POLICY_FILE": str(bad)})
    assert result.returncode == 1 and "broken-rule" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("--model", "replay:/dev/null", "task", cwd=tmp_path, env={"POLICY_FILE": str(bad)})
    assert result.returncode == 1 and "broken-rule" in result.stderr
