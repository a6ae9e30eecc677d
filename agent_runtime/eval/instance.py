"""SWE-bench-shaped instances in a suite: a repository at a commit, a problem statement, a test
patch and the tests that must pass. A line with `instance_id` is one of these; a line with `id`
is one of the project's own tasks (suite.py). Everything is checked at load, so a bad field is
reported with its file and line before any model time is spent.

The reference fix (`patch`) is kept for reports and never reaches the agent: the agent gets
`problem_statement` as its task, nothing else of the instance.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

import agent_runtime.schema as schema
from agent_runtime.eval.task import SuiteError, Task

DEFAULT_TEST_CMD = "python -m pytest -q -p no:cacheprovider"
_GITHUB_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_KNOWN = {"instance_id", "repo", "base_commit", "problem_statement", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS",
          "test_cmd", "setup", "timeout_s", "patch", "tests_visible", "kind"}


@dataclass(frozen=True)
class Instance(Task):
    """A Task whose repository comes from `source` at `base_commit` (None: a plain directory,
    committed as it is) and that is judged by its tests, not by `check` (which only shows the
    command for reports)."""

    source: str = ""  # an absolute path (a git repository or a plain directory) or a git URL
    base_commit: str | None = None
    test_patch: str = ""
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    test_cmd: str = DEFAULT_TEST_CMD
    tests_visible: bool = False  # the test patch committed before the agent starts (our own suite)
    reference_patch: str | None = None


def patch_paths(diff: str) -> list[str]:
    """The files a unified diff touches (old and new names), in order, without a/ b/ prefixes."""
    found: list[str] = []
    for line in diff.splitlines():
        if line.startswith(("--- ", "+++ ")):
            name = line[4:].split("\t")[0].strip()
            if name == "/dev/null":
                continue
            if name.startswith(('"a/', '"b/')):
                name = '"' + name[3:]
            elif name.startswith(("a/", "b/")):
                name = name[2:]
            if name.startswith('"'):
                try:
                    name = json.loads(name)  # git quotes unusual names C-style; JSON covers the common escapes
                except ValueError:
                    pass
            if name not in found:
                found.append(name)
    return found


def _relative(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return bool(path.strip()) and not path.startswith("/") and ".." not in parts and ".git" not in parts


def _test_ids(value: Any) -> Any:
    if isinstance(value, str):  # SWE-bench ships these as JSON strings of lists
        try:
            value = json.loads(value)
        except ValueError:
            raise schema.Wrong("a list of test ids (or a JSON string of one)", "a string that is not a JSON list") from None
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() and "\n" not in t for t in value):
        raise schema.Wrong("a list of test ids (one line each)")
    for test in value:
        if not _relative(test.split("::")[0]):
            raise schema.Wrong("tests inside the repository", schema.shown(test))
    return list(dict.fromkeys(value))


# A list, or the JSON string of one (as SWE-bench ships them); one check for both.
TestIds = Annotated[Any, BeforeValidator(_test_ids), WithJsonSchema(
    {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]})]


class SweInstance(BaseModel):
    """One line of a suite with instance_id: a SWE-bench-shaped instance. Other keys are kept, for reports."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    instance_id: schema.Text
    repo: str  # a directory (relative to the suite file), a git URL, or owner/name on GitHub
    base_commit: Annotated[str, Field(pattern=r"^[0-9a-f]{7,40}$")] | None = None
    problem_statement: schema.Text  # the agent's task, and all it gets of the instance
    test_patch: str  # a unified diff of the tests, applied before judging
    FAIL_TO_PASS: TestIds
    PASS_TO_PASS: TestIds = []
    test_cmd: schema.Text = DEFAULT_TEST_CMD
    setup: str | None = None
    timeout_s: Annotated[int, Field(gt=0)] = 300
    patch: str | None = None  # the reference fix: for reports, never the agent
    tests_visible: bool = False  # the test patch committed before the agent starts
    kind: str | None = None

    @field_validator("test_patch")
    @classmethod
    def _diff(cls, value: str) -> str:
        touched = patch_paths(value)
        if value.strip() and not touched:
            raise schema.Wrong("a unified diff (---/+++ file lines)", "none of them")
        for path in touched:
            if not _relative(path):
                raise schema.Wrong("a diff of files inside the repository", f"it touches {schema.shown(path)}")
        return value

    @field_validator("FAIL_TO_PASS")
    @classmethod
    def _shows_the_fix(cls, value: list[str]) -> list[str]:
        if not value:
            raise schema.Wrong("at least one test (nothing else would show the fix)", "[]")
        return value


assert set(SweInstance.model_fields) == _KNOWN


def is_git_repository(path: Path) -> bool:
    """A work tree with its own .git, or a bare repository (not a folder inside someone's work tree)."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def _resolve_commit(repo: Path, commit: str, where: str) -> str:
    from agent_runtime.gitcmd import GitError, run_git  # git only through the door

    try:
        done = run_git(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], repo)
    except GitError as exc:
        raise SuiteError(schema.message(where, "base_commit", f"a commit of {repo}",
                                        f"git could not read it ({exc})")) from None
    if done.returncode != 0:
        raise SuiteError(schema.message(where, "base_commit", f"a commit of {repo}", f"{commit}, which is not one"))
    return done.stdout.decode("utf-8", "replace").strip()  # the full sha: a fetch needs it


def _source(repo: str, commit: str | None, base_dir: Path, where: str) -> tuple[str, str | None]:
    """(where the repository comes from, its full base commit or None for a plain directory)."""
    local = (base_dir / os.path.expanduser(repo)).resolve()
    if local.is_dir():
        if is_git_repository(local):
            if commit is None:
                raise SuiteError(schema.message(where, "base_commit", f"a commit: {local} is a git repository", "none"))
            return str(local), _resolve_commit(local, commit, where)
        if commit is not None:
            raise SuiteError(schema.message(where, "base_commit", f"none: {local} is a plain directory, not a git "
                                            "repository", schema.shown(commit)))
        return str(local), None
    if "://" in repo or repo.startswith("git@"):
        url = repo
    elif _GITHUB_NAME.fullmatch(repo) and not repo.startswith("."):
        url = f"https://github.com/{repo}.git"  # SWE-bench names repositories owner/name
    else:
        raise SuiteError(schema.message(where, "repo", "a directory, a git URL or owner/name",
                                        f"{schema.shown(repo)}: no such directory"))
    if commit is None or len(commit) != 40:
        raise SuiteError(schema.message(where, "base_commit", "a full 40-character commit id for a remote repository",
                                        schema.shown(commit) if commit else "none"))
    return url, commit


def parse_instance(raw: dict[str, Any], where: str, base_dir: Path) -> Instance:
    """One instance line; `base_dir` is where relative repository paths start (the suite file's folder)."""
    one = schema.validate(SweInstance, raw, where, SuiteError, table="a JSON object")
    fail_to_pass = tuple(one.FAIL_TO_PASS)
    pass_to_pass = tuple(t for t in one.PASS_TO_PASS if t not in fail_to_pass)
    source, commit = _source(one.repo, one.base_commit, base_dir, where)
    test_cmd = one.test_cmd.strip()
    test_files = [t.split("::")[0] for t in fail_to_pass + pass_to_pass]
    return Instance(
        id=one.instance_id, prompt=one.problem_statement, files={},
        check=f"{test_cmd} <{len(fail_to_pass)} FAIL_TO_PASS + {len(pass_to_pass)} PASS_TO_PASS tests>",
        setup=one.setup, timeout_s=one.timeout_s,
        protected=tuple(dict.fromkeys(patch_paths(one.test_patch) + test_files)), kind=one.kind or "instance",
        extra={k: v for k, v in raw.items() if k not in _KNOWN},
        source=source, base_commit=commit, test_patch=one.test_patch, fail_to_pass=fail_to_pass,
        pass_to_pass=pass_to_pass, test_cmd=test_cmd, tests_visible=one.tests_visible,
        reference_patch=one.patch)
