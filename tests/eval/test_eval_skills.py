"""The skill suite (evals/skills/) and `agent-runtime eval --skills off|trusted`.

Each task's repository ships a skill stating a procedure the task needs; its check fails the task
as given, passes the reference solution, and fails a plausible solution that ignores the skill.
The eval, with the replay model: --skills trusted enables a task repository's skills for that run
(load_skill gives the body) and leaves the user's trusted-skills.json as it was; --skills off
leaves them untrusted (load_skill refuses them)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli, step, write_replay

from agent_runtime.eval.repo import check_env, make_repo, python_bin_dir, restore_protected, run_shell
from agent_runtime.eval.suite import load_suite
from agent_runtime.tools.skillfiles import read_skill

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "evals" / "skills"
TASKS = [json.loads(line) for line in (SUITE / "tasks.jsonl").read_text().splitlines()]
SOLUTIONS = {entry["id"]: entry for entry in map(json.loads, (SUITE / "solutions.jsonl").read_text().splitlines())}
SKILL_MD = re.compile(r"^\.agent-runtime/skills/([a-z0-9-]+)/SKILL\.md$")


def skill_path(task: dict) -> str:
    [path] = [p for p in task["files"] if SKILL_MD.match(p)]
    return path


def test_the_suite_is_generated_and_loads():
    done = subprocess.run([sys.executable, str(ROOT / "evals" / "build.py"), "--check"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    loaded = load_suite(SUITE)
    assert [t.id for t in loaded] == [t["id"] for t in TASKS] and len(TASKS) >= 4
    assert {t.kind for t in loaded} == {"skill"} and set(SOLUTIONS) == {t["id"] for t in TASKS}
    assert not {t["id"] for t in TASKS} & {json.loads(line)["id"] for name in ("tasks.jsonl", "kinds/tasks.jsonl")
                                           for line in (ROOT / "evals" / name).read_text().splitlines()}


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_each_task_ships_a_valid_skill_the_prompt_does_not_restate(task, tmp_path):
    path = skill_path(task)
    folder = tmp_path / Path(path).parent
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(task["files"][path])
    skill = read_skill(folder, ".agent-runtime/skills")  # raises on a bad frontmatter or name
    assert skill.name == SKILL_MD.match(path).group(1) and skill.description and skill.body.strip()
    assert path in task["protected"], "the agent may not rewrite the skill"
    assert re.search(r"(?i)follow(ing)? the project's [a-z ]*(procedure|policy)", task["prompt"])
    # the procedure's particulars (the skill's code spans) are in the skill, not in the prompt
    spans = {s for s in re.findall(r"`([^`]+)`", skill.body) if len(s) > 4} - {"python -m pytest -q tests"}
    assert spans and not [s for s in spans if s in task["prompt"]]
    # small enough for a 1.5B model with a 4-8k context: a few files, a short skill
    assert len(task["files"]) <= 8 and sum(len(t) for t in task["files"].values()) < 6000
    assert len(task["files"][path]) < 1500


def prepared(task: dict, tmp_path: Path, files: dict[str, str] | None = None) -> tuple[Path, dict[str, str]]:
    """The task's repository as the runner makes it, `files` written over it as an agent would, the
    protected files put back as the runner does; and the check's environment."""
    from agent_runtime.eval.task import Task

    spec = Task(id=task["id"], prompt=task["prompt"], files=task["files"], check=task["check"],
                protected=tuple(task["protected"]), kind=task["kind"])
    repo = make_repo(spec, tmp_path)
    for rel, content in (files or {}).items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(content, encoding="utf-8")
    restore_protected(spec, repo)
    return repo, check_env(python_bin_dir(tmp_path))


def check(task: dict, tmp_path: Path, files: dict[str, str] | None = None):
    repo, env = prepared(task, tmp_path, files)
    return run_shell(task["check"], repo, env, timeout=180)


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_each_task_fails_as_given_passes_solved_and_fails_without_the_skill(task, tmp_path):
    solution = SOLUTIONS[task["id"]]
    assert solution["files"] and solution["without_skill"]
    assert not set(solution["files"]) & set(task["protected"])

    given = check(task, tmp_path / "given")
    assert not given.passed, given.output
    # the procedure check ran and failed (not a broken command)
    assert re.search(r"\d+ failed", given.output) and "test_procedure.py" in given.output, given.output

    solved = check(task, tmp_path / "solved", solution["files"])
    assert solved.passed, solved.output
    assert "failed" not in solved.output and len(re.findall(r"\d+ passed", solved.output)) == 2, solved.output

    ignoring = check(task, tmp_path / "ignoring", solution["without_skill"])
    assert not ignoring.passed, ignoring.output
    assert re.search(r"FAILED \S*test_procedure\.py::", ignoring.output), ignoring.output
    # the skill-ignoring solution does the task's visible part: the project's own tests pass
    assert ignoring.output.count(" passed") >= 1


def test_the_release_check_names_what_ignoring_the_skill_misses(tmp_path):
    """A release that bumps only the versions a search for "1.3.2" finds: VERSION_INFO and the
    changelog's form are what the check fails on."""
    task = next(t for t in TASKS if t["id"] == "skill-release-version-files")
    ignoring = check(task, tmp_path, SOLUTIONS[task["id"]]["without_skill"])
    assert "test_the_three_versions_agree_on_1_4_0" in ignoring.output
    assert "test_the_changelog_has_the_release_under_a_fresh_unreleased_section" in ignoring.output


# -- the eval, with the replay model --------------------------------------------------------------

RELEASE = "skill-release-version-files"


def user_config() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "agent-runtime"


def config_snapshot() -> dict[str, bytes]:
    root = user_config()
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} \
        if root.is_dir() else {}


def run_eval(tmp_path: Path, skills: str, replies: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    replay = write_replay(tmp_path / "replay.json", replies)
    out = tmp_path / f"results-{skills}.jsonl"
    done = run_cli("eval", str(SUITE), "--only", RELEASE, "--skills", skills, "--model", f"replay:{replay}",
                   "--out", str(out), "--keep", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    [result] = [json.loads(line) for line in out.read_text().splitlines()]
    return done, result


def tool_events(result: dict, tmp_path: Path) -> list[dict]:
    """The TOOL spans of the task's recorded run."""
    runs = Path(os.environ["XDG_STATE_HOME"]) / "agent-runtime" / "runs" / result["run_id"]
    spans = [json.loads(line) for line in (runs / "trace.jsonl").read_text().splitlines()]
    return [s["attributes"] for s in spans if s["attributes"].get("openinference.span.kind") == "TOOL"]


LOAD = [step("The project has a release skill.", 'print(load_skill(name="release"))'),
        step("Done.", 'final_answer("read the release procedure")')]


def test_eval_skills_trusted_enables_the_repository_skill_for_the_run_only(tmp_path):
    # the user already trusts a skill of some other repository: that entry must stay exactly as it is
    user_config().mkdir(parents=True, exist_ok=True)
    (user_config() / "trusted-skills.json").write_text(json.dumps(
        {"trusted": [{"repo": "/somewhere/else", "name": "ship", "folder": ".agents/skills", "sha256": "0" * 64,
                      "saved": "2026-01-01T00:00:00Z"}]}) + "\n")
    before = config_snapshot()

    done, result = run_eval(tmp_path, "trusted", LOAD)
    assert result["skills"] == "trusted" and result["skills_trusted"] == ["release"]
    assert result["skills_loaded"] == ["release"] and result["load_skill_calls"] == 1
    assert "repository skills trusted for the run" in done.stdout + done.stderr
    [load] = [a for a in tool_events(result, tmp_path) if a["tool.name"] == "load_skill"]
    assert "VERSION_INFO = (X, Y, Z)" in load["output.value"], "load_skill returned the skill's body"
    # the trust was the run's own, beside the task's repository; the user's configuration is as it was
    trust = Path(result["repo"]).parent / "config" / "trusted-skills.json"
    [entry] = json.loads(trust.read_text())["trusted"]
    assert entry["name"] == "release" and entry["repo"] == str(Path(result["repo"]).resolve())
    assert config_snapshot() == before
    # nor does the user's own `skills list` in that repository see it trusted afterwards
    listed = run_cli("skills", "list", "--json", cwd=Path(result["repo"]))
    assert listed.returncode == 0, listed.stderr
    assert "release" in listed.stdout and not [s for s in json.loads(listed.stdout)["skills"]
                                               if s["name"] == "release" and s.get("enabled")]


def test_eval_skills_off_leaves_the_repository_skill_untrusted(tmp_path):
    # a skill of the user's own, so that load_skill is offered and the refusal is the tool's
    own = user_config() / "skills" / "notes"
    own.mkdir(parents=True)
    (own / "SKILL.md").write_text("---\nname: notes\ndescription: Take notes.\n---\nWrite them down.\n")
    before = config_snapshot()

    _, result = run_eval(tmp_path, "off", LOAD)
    assert result["skills"] == "off" and "skills_trusted" not in result
    assert result["skills_loaded"] == [] and result["load_skill_calls"] == 1
    [load] = [a for a in tool_events(result, tmp_path) if a["tool.name"] == "load_skill"]
    assert load["error.type"] == "refused" and "has not trusted it" in load["output.value"]
    assert "VERSION_INFO" not in load["output.value"]
    assert not (Path(result["repo"]).parent / "config").exists()
    assert config_snapshot() == before


def test_eval_help_names_the_skills_flag():
    done = run_cli("eval", "--help", cwd=ROOT)
    assert done.returncode == 0 and "--skills {off,trusted}" in done.stdout
    assert "trusted-skills.json" in " ".join(done.stdout.split())


def test_skills_worth_runs_the_three_arms_and_counts_the_skill_loads(tmp_path):
    """benchmarks/skills_worth.py end to end with the replay model, on one task: the arms with the
    skills trusted got the skill from load_skill, the arm without did not; with skill_preload on, the
    skill was loaded once before the model's own call."""
    replay = write_replay(tmp_path / "replay.json", LOAD)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "skills_worth.py"), "--model", f"replay:{replay}",
                           "--budget", "60", "--only", RELEASE, "--out-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["arms"]["off"] == {"solved": 0, "total": 1, "median_wall_s": report["arms"]["off"]["median_wall_s"],
                                     "called_load_skill": 0, "loaded_a_skill": 0}
    assert report["arms"]["trusted"]["loaded_a_skill"] == 1 and report["arms"]["trusted"]["total"] == 1
    [row] = report["tasks"]
    assert row["id"] == RELEASE and row["trusted"]["skills_loaded"] == ["release"] and row["off"]["skills_loaded"] == []
    assert row["trusted"]["load_skill_calls"] == 1 and row["preload"]["load_skill_calls"] == 2
    assert row["preload"]["skills_loaded"] == ["release"]
    assert report["solved_gain_trusted"] == 0 and report["solved_gain_preload"] == 0


def test_the_runs_trust_file_counts_only_from_the_environment_and_the_agent_may_not_write_it(tmp_path, monkeypatch):
    from conftest import make_repo as make_git_repo

    from agent_runtime.config import EXTRA_TRUST_ENV
    from agent_runtime.safety.userpolicy import load_policy
    from agent_runtime.tools.skillset import TrustStore, discover

    task = next(t for t in TASKS if t["id"] == RELEASE)
    repo = make_git_repo(tmp_path / "repo", task["files"])
    trust = tmp_path / "run" / "trusted-skills.json"
    [skill] = discover(repo).found
    TrustStore(trust).trust(repo.resolve(), skill)
    assert discover(repo).trusted == set()
    # a repository's .env cannot point the agent at a trust file of its choosing
    (repo / ".env").write_text(f"{EXTRA_TRUST_ENV}={trust}\n")
    listed = run_cli("skills", "list", "--json", cwd=repo)
    assert [s["enabled"] for s in json.loads(listed.stdout)["skills"]] == [False], listed.stdout + listed.stderr
    monkeypatch.setenv(EXTRA_TRUST_ENV, str(trust))
    assert discover(repo).trusted == {"release"}
    assert Path(os.path.realpath(trust.parent)) in load_policy().protected

