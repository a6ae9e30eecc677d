"""What a run says before it starts, and says truly: which command policy answers (a repository's
policy.toml is named, and used only when the person points POLICY_FILE at it), a hosted model id with
neither an address nor a key (one line, before the tests run), the command that adds the embedded model."""

from __future__ import annotations

import json

from conftest import BUGGY_PROJECT, ROOT, make_repo, run_cli, step, write_replay

SHIPPED = ROOT / "agent_runtime" / "safety" / "policy.toml"
MISTYPED = '[[rules]]\nid = "x"\nmatch = ["ls"]\ndecision = "alow"\nreason = "typo"\n'


def test_policy_check_says_which_policy_file_answered_and_that_the_repositorys_is_not_used(tmp_path):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "policy.toml": MISTYPED})
    done = run_cli("policy", "check", "ls", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"policy file: {SHIPPED}", done.stdout
    assert done.stderr.strip() == (f"{repo / 'policy.toml'} is not used: a repository's files never set the command "
                                   "policy; the shipped policy answers. To use it, review it, then set "
                                   f"POLICY_FILE={repo / 'policy.toml'} in your environment or "
                                   "~/.config/agent-runtime/config.env."), done.stderr
    as_json = json.loads(run_cli("policy", "check", "--json", "ls", cwd=repo).stdout)
    assert as_json["policy_file"] == str(SHIPPED) and "is not used" in as_json["repository_policy"]


def test_a_repository_policy_the_person_names_in_policy_file_is_the_one_that_answers(tmp_path):
    own = SHIPPED.read_text()
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "policy.toml": own})
    done = run_cli("policy", "check", "ls", cwd=repo, env={"POLICY_FILE": str(repo / "policy.toml")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"policy file: {repo / 'policy.toml'}", done.stdout
    assert done.stderr.strip() == f"command policy: {repo / 'policy.toml'} (POLICY_FILE names it)"


def test_a_task_names_the_repositorys_policy_file_at_start(tmp_path):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "policy.toml": MISTYPED})
    replay = write_replay(tmp_path / "r.json", [step("Answer.", 'final_answer("a calculator")')])
    done = run_cli("--model", f"replay:{replay}", "what is this project?", cwd=repo,
                   env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    assert f"{repo / 'policy.toml'} is not used: a repository's files never set the command policy" in \
        " ".join(done.stderr.split()), done.stderr


def test_a_hosted_model_with_neither_address_nor_key_fails_in_one_line_before_the_run(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    done = run_cli("--model", "openai/local", "fix the failing test", cwd=repo,
                   env={"RUNS_DIR": str(tmp_path / "runs"), "OPENAI_API_KEY": ""})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "openai/local is a hosted provider's model and OPENAI_API_KEY is not set" in lines[0]
    assert "MODEL_API_BASE=http://HOST:PORT/v1" in lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "no run began, no test ran"


def test_the_embedded_install_command_is_the_checkouts_own_here():
    """In a checkout every message names make; the uv tool install's command is pinned by
    tests/test_install.py, where a real tool install gives it."""
    from agent_runtime.models import weights
    from agent_runtime.models.embedded import install_route, llama_missing
    from agent_runtime.models.install import embedded_command, kind

    assert kind() == "checkout" and embedded_command() == f"make -C {ROOT} install models"
    assert f"`make -C {ROOT} install models`" in llama_missing()
    assert weights.CATALOG["1.5b"].install == f"make -C {ROOT} models"
    assert "embedded (" in install_route() or f"`make -C {ROOT} install models`" in install_route()
