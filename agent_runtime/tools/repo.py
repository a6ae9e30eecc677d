"""repo_info: a first look at the repository, in one call."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from agent_runtime.core import ToolError
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.commands import detect_test_command
from agent_runtime.tools.search import base_command, run_rg

MAX_SCANNED_FILES = 200_000


class RepoInfoTool(RuntimeTool):
    name = "repo_info"
    description = "Summarize the repository: git branch and state, languages, top-level entries, how to run tests."
    inputs: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        root = self.workspace.root
        files, more, _, _ = run_rg(base_command(()) + ["--files"], root, MAX_SCANNED_FILES)  # stops early
        languages = Counter(Path(f).suffix.lower() for f in files if Path(f).suffix)
        result: dict[str, Any] = {
            "root": str(root),
            "files": f"{len(files):,}{'+' if more else ''} (respecting .gitignore)",
            "languages": ", ".join(f"{ext} {n}" for ext, n in languages.most_common(8)) or "none",
            "top_level": sorted(
                (p.name + ("/" if p.is_dir() else "")) for p in root.iterdir() if p.name != ".git"
            )[:60],
            "test_command": detect_test_command(root) or "none detected",
        }
        result.update(self._git(root))
        if (root / "AGENTS.md").is_file():
            result["instructions"] = "AGENTS.md (already in your instructions)"
        return result

    @staticmethod
    def _git(root: Path) -> dict[str, Any]:
        from agent_runtime.tools.git import has_commits, open_repo

        try:
            repo = open_repo(root)
        except ToolError:
            return {"git": "not a git repository"}
        info: dict[str, Any] = {}
        try:
            info["branch"] = repo.active_branch.name
        except TypeError:
            info["branch"] = "(detached HEAD)"
        if has_commits(repo):
            head = repo.head.commit
            info["head"] = f"{head.hexsha[:10]} {head.summary}"
        else:
            info["head"] = "(no commits yet)"
        info["dirty"] = repo.is_dirty(untracked_files=True)
        return info
