"""The coaching rule `skill_preload` (agent/preload.py): a task that names what an enabled skill is for
starts with the skill loaded through load_skill; off (every built-in profile until measured), nothing is."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, ROOT, make_repo, run_cli, step, write_replay

from agent_runtime.agent.preload import matching

SKILL_TASKS = [json.loads(line) for line in (ROOT / "evals" / "skills" / "tasks.jsonl").read_text().splitlines()]


@dataclass
class FakeSkill:  # what matching reads of a Skill: its name and description
    name: str
    description: str


def _skill_of(task: dict) -> FakeSkill:
    text = next(v for k, v in task["files"].items() if k.endswith("SKILL.md"))
    head = dict(line.split(": ", 1) for line in text.split("---")[1].strip().splitlines())
    return FakeSkill(head["name"], head["description"])


def test_each_skill_task_matches_its_own_skill_first_and_an_unrelated_task_none():
    skills = [_skill_of(task) for task in SKILL_TASKS]
    assert len(skills) == 4
    for task, skill in zip(SKILL_TASKS, skills):
        assert matching(task["prompt"], skills)[0] is skill, task["id"]
    assert matching("What does the parser do with an empty line?", skills) == []
    assert matching("Fix the bug in calc.py", [FakeSkill("lint", "How to lint the code.")]) == []


@pytest.mark.parametrize("rule", ["on", "off"])
def test_with_the_rule_on_the_first_request_holds_the_skill_loaded_through_the_tool_path(tmp_path, rule):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    folder = repo / ".agent-runtime" / "skills" / "release"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: release\ndescription: How to cut a release (version, changelog)."
                                     "\n---\nBump the version in VERSION and add a line to CHANGES.md.\n")
    assert run_cli("skills", "trust", "release", "--yes", cwd=repo).returncode == 0
    replay = write_replay(tmp_path / "r.json", [step("Done.", 'final_answer("ok")')])
    runs = tmp_path / "runs"
    done = run_cli("--approval", "never", "--model", f"replay:{replay}", "Prepare release 2.0 of calc.", cwd=repo,
                   env={"RUNS_DIR": str(runs), "AGENT_COACHING": "+skill_preload" if rule == "on" else "-skill_preload"})
    assert done.returncode == 0, done.stderr
    [run] = list(Path(runs).iterdir())
    spans = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
    llm = [s for s in spans if s["attributes"].get("openinference.span.kind") == "LLM"]
    loads = [s for s in spans if s["attributes"].get("tool.name") == "load_skill"]
    first_request = llm[0]["attributes"]["input.value"]
    if rule == "off":  # (the repository is small enough to be shown whole: SKILL.md too, as a file of it)
        assert loads == [] and "The project's skill `release`" not in first_request
        return
    [load] = loads
    assert load["attributes"]["policy.decision"] == "allow" and load["start_time"] < llm[0]["start_time"]
    assert "The project's skill `release`" in first_request and "Bump the version in VERSION" in first_request
    assert "skill_preload" in llm[0]["attributes"]["llm.coaching_rules"]
