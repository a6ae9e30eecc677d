"""git_status, git_diff, git_log through gitpython. Read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_runtime.core import ToolError
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import int_check, path_check

NOT_A_REPO_HINT = "This directory is not under git: use list_files, rg_search and read_file instead."


def open_repo(root: Path):
    import git

    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ToolError(f"{root} is not a git repository", NOT_A_REPO_HINT, kind="not_a_repository") from None


def has_commits(repo) -> bool:
    try:
        repo.head.commit
        return True
    except ValueError:
        return False


def repo_relative(repo, path: Path | None) -> str | None:
    """A workspace path as git wants it: relative to the repository's top level."""
    if path is None:
        return None
    return str(Path(path).relative_to(Path(repo.working_tree_dir).resolve())) or "."


class GitStatusTool(RuntimeTool):
    name = "git_status"
    description = "Show the current branch and which files are staged, modified or untracked."
    inputs: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        repo = open_repo(self.workspace.root)
        out = repo.git.status("--porcelain=v1", "--branch", "--untracked-files=all")
        lines = out.splitlines()
        branch_line = lines[0][3:] if lines and lines[0].startswith("## ") else ""
        staged, modified, untracked, conflicts = [], [], [], []
        for line in lines[1:]:
            x, y, name = line[0], line[1], line[3:]
            if x == "?":
                untracked.append(name)
            elif "U" in (x, y) or (x, y) in (("A", "A"), ("D", "D")):
                conflicts.append(name)
            else:
                if x != " ":
                    staged.append(f"{x} {name}")
                if y != " ":
                    modified.append(f"{y} {name}")
        result: dict[str, Any] = {
            "branch": branch_line or "(unknown)",
            "clean": not (staged or modified or untracked or conflicts),
            "staged": staged,
            "modified": modified,
            "untracked": untracked,
        }
        if conflicts:
            result["conflicts"] = conflicts
        if not has_commits(repo):
            result["note"] = "the repository has no commits yet"
        return result


class GitDiffTool(RuntimeTool):
    name = "git_diff"
    description = "Show uncommitted changes as a unified diff (working tree vs index, or staged vs HEAD)."
    inputs = {
        "path": {"type": "string", "description": "limit the diff to this file or directory", "nullable": True},
        "staged": {"type": "boolean", "description": "show staged changes instead of unstaged ones", "nullable": True},
    }
    checks = {"path": path_check("any", must_exist=False)}

    def run(self, path: Path | None = None, staged: bool | None = None) -> dict[str, Any]:
        repo = open_repo(self.workspace.root)
        args = ["--no-color", "--no-ext-diff"]
        if staged:
            args.append("--cached")
        stat_args = args + ["--numstat"]
        if path is not None:
            rel = repo_relative(repo, path)
            args += ["--", rel]
            stat_args += ["--", rel]
        diff = repo.git.diff(*args)
        files = []
        for line in repo.git.diff(*stat_args).splitlines():
            added, removed, name = line.split("\t", 2)
            files.append(f"{name} (+{added} -{removed})")
        result: dict[str, Any] = {"files": files, "diff": diff + "\n" if diff else ""}
        if not diff:
            result["note"] = "no staged changes" if staged else "no unstaged changes (untracked files are not shown; see git_status)"
        return result


class GitLogTool(RuntimeTool):
    name = "git_log"
    description = "Show recent commits (newest first), optionally only those touching a path."
    inputs = {
        "max_count": {"type": "integer", "description": "how many commits (default 10)", "nullable": True},
        "path": {"type": "string", "description": "only commits touching this file or directory", "nullable": True},
    }
    checks = {"max_count": int_check("max_count", high=200), "path": path_check("any", must_exist=False)}

    def run(self, max_count: int | None = None, path: Path | None = None) -> dict[str, Any]:
        repo = open_repo(self.workspace.root)
        if not has_commits(repo):
            return {"commits": [], "note": "the repository has no commits yet"}
        rel = repo_relative(repo, path)
        commits = []
        only = {"paths": rel} if rel else {}
        for commit in repo.iter_commits(max_count=max_count or 10, **only):
            commits.append(
                {
                    "sha": commit.hexsha[:10],
                    "date": commit.committed_datetime.strftime("%Y-%m-%d"),
                    "author": commit.author.name,
                    "subject": commit.summary,
                }
            )
        result: dict[str, Any] = {"commits": commits}
        if not commits:
            result["note"] = "no commits touch that path"
        return result
