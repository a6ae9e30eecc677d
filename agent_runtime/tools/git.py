"""git_status, git_diff, git_log. Read-only.

git runs through `safe_git` (the repository's configured programs switched off, see gitcmd); git_log
asks it through GitPython's command layer on the same door (gitrepo.DoorRepo).
What the policy forbids reading (deny_read, e.g. `.env`) never appears: not as a name in the
status, not as a hunk of the diff, not in the files a log entry lists. Each tool says how many
paths it left out, so the model knows the picture is partial.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent_runtime.core import Action, ToolError
from agent_runtime.gitcmd import NO_PROGRAMS, ForeignRepository, GitError, NotARepository, SafeGit, safe_git
from agent_runtime.gitrepo import DoorRepo
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import int_check, path_check

NOT_A_REPO_HINT = "This directory is not under git: use list_files, rg_search and read_file instead."
PATHSPEC_BATCH = 500  # paths per git call when a diff is limited to the shown files


def open_repo(root: Path) -> SafeGit:
    """The door for the repository holding `root`. Its git sees the work tree whole (covering a deny_read
    file there made git report it changed, or fail to hash it); the tools leave those paths out of what
    they show, and what could plant a program for git (config, attributes' drivers) is read-only to
    sandboxed commands (docs/safety.md)."""
    try:
        return safe_git(root)
    except ForeignRepository as exc:  # its git directory leads to another repository: not read
        raise ToolError(str(exc), NOT_A_REPO_HINT, kind="not_a_repository") from None
    except NotARepository:
        raise ToolError(f"{root} is not a git repository", NOT_A_REPO_HINT, kind="not_a_repository") from None


def run_git(repo: SafeGit, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
    try:
        return repo.run(*args, ok_codes=ok_codes)
    except NotARepository as exc:
        raise ToolError(f"not a git repository: {exc}", NOT_A_REPO_HINT, kind="not_a_repository") from None
    except GitError as exc:
        raise ToolError(str(exc), "git could not answer; use list_files, rg_search and read_file instead.",
                        kind="git_failed") from None


def run_git_bytes(repo: SafeGit, *args: str) -> bytes:
    try:
        return repo.run_bytes(*args)
    except NotARepository as exc:
        raise ToolError(f"not a git repository: {exc}", NOT_A_REPO_HINT, kind="not_a_repository") from None
    except GitError as exc:
        raise ToolError(str(exc), "git could not answer; use list_files, rg_search and read_file instead.",
                        kind="git_failed") from None


def has_commits(repo: SafeGit) -> bool:
    try:
        return repo.head() is not None
    except GitError:
        return False


def repo_relative(repo: SafeGit, path: Path | None) -> str | None:
    """A workspace path as git wants it: relative to the repository's top level."""
    if path is None:
        return None
    return str(Path(path).relative_to(repo.top)) or "."


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def left_out_note(count: int, what: str = "path") -> str:
    return (f"{count} changed {what}{'s' if count != 1 else ''} not shown: the policy forbids reading "
            f"{'them' if count != 1 else 'it'} (deny_read, e.g. .env); ask the user if it matters")


class GitTool(RuntimeTool):
    """What the git tools share: the policy's read check on the paths git names."""
    reads_only = True

    def hidden_git_path(self, repo: SafeGit, git_path: str) -> bool:
        """`git_path` is relative to the repository's top level, which may be above the workspace."""
        rel = os.path.relpath(repo.top / git_path, self.workspace.root).replace(os.sep, "/")
        return self.hidden(rel)


class GitStatusTool(GitTool):
    name = "git_status"
    description = "Show the current branch and which files are staged, modified or untracked."
    inputs: dict[str, Any] = {}

    def action(self) -> Action:
        return self.reads()  # the repository's state as a whole; hidden paths are left out below

    def run(self) -> dict[str, Any]:
        repo = open_repo(self.workspace.root)
        fields = run_git_bytes(repo, "status", "--porcelain=v1", "-z", "--branch", "--untracked-files=all",
                               "--ignore-submodules=all").split(b"\0")
        branch_line = ""
        staged, modified, untracked, conflicts = [], [], [], []
        left_out = 0
        i = 0
        while i < len(fields):
            entry = _decode(fields[i])
            i += 1
            if not entry:
                continue
            if entry.startswith("## "):
                branch_line = entry[3:]
                continue
            x, y, name = entry[0], entry[1], entry[3:]
            names = [name]
            if x in "RC":  # a rename or copy: the source path follows
                names.append(_decode(fields[i]) if i < len(fields) else "")
                i += 1
            if any(self.hidden_git_path(repo, n) for n in names if n):
                left_out += 1
                continue
            if x == "?":
                untracked.append(name)
            elif "U" in (x, y) or (x, y) in (("A", "A"), ("D", "D")):
                conflicts.append(name)
            else:
                shown = name if len(names) == 1 else f"{names[1]} -> {name}"
                if x != " ":
                    staged.append(f"{x} {shown}")
                if y != " ":
                    modified.append(f"{y} {shown}")
        result: dict[str, Any] = {
            "branch": branch_line or "(unknown)",
            "clean": not (staged or modified or untracked or conflicts or left_out),
            "staged": staged,
            "modified": modified,
            "untracked": untracked,
        }
        if conflicts:
            result["conflicts"] = conflicts
        if left_out:
            result["hidden"] = left_out_note(left_out, "path")
        if not has_commits(repo):
            result["note"] = "the repository has no commits yet"
        return result


def parse_numstat(raw: bytes) -> list[tuple[str, str, list[str]]]:
    """`git diff --numstat -z` -> [(added, removed, [paths])]; a rename has both paths."""
    fields = raw.split(b"\0")
    out = []
    i = 0
    while i < len(fields):
        record = _decode(fields[i])
        i += 1
        if not record:
            continue
        added, removed, name = record.split("\t", 2)
        if name:
            out.append((added, removed, [name]))
        else:  # rename / copy: source and destination follow as their own fields
            source, dest = _decode(fields[i]), _decode(fields[i + 1]) if i + 1 < len(fields) else ""
            i += 2
            out.append((added, removed, [source, dest]))
    return out


class GitDiffTool(GitTool):
    name = "git_diff"
    description = "Show uncommitted changes as a unified diff (working tree vs index, or staged vs HEAD)."
    inputs = {
        "path": {"type": "string", "description": "limit the diff to this file or directory", "nullable": True},
        "staged": {"type": "boolean", "description": "show staged changes instead of unstaged ones", "nullable": True},
    }
    checks = {"path": path_check("any", must_exist=False)}

    def action(self, path: Path | None = None, **_: Any) -> Action:
        return self.reads(path)

    def run(self, path: Path | None = None, staged: bool | None = None) -> dict[str, Any]:
        repo = open_repo(self.workspace.root)
        args = ["diff", "--no-color", *NO_PROGRAMS, "--ignore-submodules=all"]
        if staged:
            args.append("--cached")
        limit = ["--", repo_relative(repo, path) or "."] if path is not None else []
        entries = parse_numstat(run_git_bytes(repo, *args, "--numstat", "-z", *limit))
        shown = [e for e in entries if not any(self.hidden_git_path(repo, n) for n in e[2])]
        left_out = len(entries) - len(shown)
        if not left_out:
            diff = run_git(repo, *args, *limit)
        else:
            # Only the files that may be shown, by name (literal pathspecs; both ends of a rename).
            parts = []
            for start in range(0, len(shown), PATHSPEC_BATCH):
                names = [n for e in shown[start:start + PATHSPEC_BATCH] for n in e[2]]
                parts.append(run_git(repo, *args, "--", *names))
            diff = "".join(part if part.endswith("\n") or not part else part + "\n" for part in parts).rstrip("\n")
        files = [f"{' -> '.join(names)} (+{added} -{removed})" for added, removed, names in shown]
        result: dict[str, Any] = {"files": files, "diff": diff + "\n" if diff else ""}
        if left_out:
            result["hidden"] = left_out_note(left_out, "file")
        if not diff:
            result["note"] = "no staged changes" if staged else "no unstaged changes (untracked files are not shown; see git_status)"
        return result


class GitLogTool(GitTool):
    name = "git_log"
    description = "Show recent commits (newest first), optionally only those touching a path."
    inputs = {
        "max_count": {"type": "integer", "description": "how many commits (default 10)", "nullable": True},
        "path": {"type": "string", "description": "only commits touching this file or directory", "nullable": True},
    }
    checks = {"max_count": int_check("max_count", high=200), "path": path_check("any", must_exist=False)}

    def action(self, path: Path | None = None, **_: Any) -> Action:
        return self.reads(path)

    def run(self, max_count: int | None = None, path: Path | None = None) -> dict[str, Any]:
        repo = open_repo(self.workspace.root)
        if not has_commits(repo):
            return {"commits": [], "note": "the repository has no commits yet"}
        rel = repo_relative(repo, path)
        # Metadata only (no patches, so no file contents): sha, date, author, subject. git log reads the
        # commits (their encodings, any hash), not GitPython's objects: one process, nothing parsed in Python.
        try:
            out = DoorRepo(repo).git.log(*NO_PROGRAMS, "--no-color", f"--max-count={max_count or 10}",
                                         "--format=%H%x00%cI%x00%an%x00%s%x1e", *(["--", rel] if rel else []))
        except GitError as exc:
            raise ToolError(str(exc), "git could not answer; use list_files, rg_search and read_file instead.",
                            kind="git_failed") from None
        commits = []
        for record in out.split("\x1e"):
            record = record.strip("\n")
            if record:
                sha, date, author, subject = (record.split("\x00") + ["", "", ""])[:4]
                commits.append({"sha": sha[:10], "date": date[:10], "author": author, "subject": subject})
        result: dict[str, Any] = {"commits": commits}
        if not commits:
            result["note"] = "no commits touch that path"
        return result
