"""repo_info: a first look at the repository, in one call."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from agent_runtime.core import Action, ToolError
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.commands import detect_test_command
from agent_runtime.tools.rg import base_command, run_rg

MAX_SCANNED_FILES = 200_000


class RepoInfoTool(RuntimeTool):
    reads_only = True
    name = "repo_info"
    description = "Summarize the repository: git branch and state, languages, top-level entries, how to run tests."
    inputs: dict[str, Any] = {}

    def action(self) -> Action:
        return self.reads()  # the listing and git state of the workspace; hidden names are left out

    def run(self) -> dict[str, Any]:
        root = self.workspace.root
        files, more, _, _ = run_rg(base_command(()) + ["--files"], root, MAX_SCANNED_FILES)  # stops early
        files, _ = self.visible_paths(f[2:] if f.startswith("./") else f for f in files)
        languages = Counter(Path(f).suffix.lower() for f in files if Path(f).suffix)
        result: dict[str, Any] = {
            "root": str(root),
            "files": f"{len(files):,}{'+' if more else ''} (respecting .gitignore)",
            "languages": ", ".join(f"{ext} {n}" for ext, n in languages.most_common(8)) or "none",
            "top_level": sorted(
                (p.name + ("/" if p.is_dir() else "")) for p in root.iterdir()
                if p.name != ".git" and not self.hidden(p.name)
            )[:60],
            "test_command": detect_test_command(root) or "none detected",
        }
        result.update(self._git(root))
        if (root / "AGENTS.md").is_file():
            result["instructions"] = "AGENTS.md (already in your instructions)"
        return result

    @staticmethod
    def _git(root: Path) -> dict[str, Any]:
        from agent_runtime.gitcmd import GitError
        from agent_runtime.tools.git import has_commits, open_repo

        try:
            repo = open_repo(root)
        except ToolError:
            return {"git": "not a git repository"}
        info: dict[str, Any] = {}
        try:
            info["branch"] = repo.branch() or "(detached HEAD)"
            if has_commits(repo):
                info["head"] = repo.run("log", "-1", "--no-color", "--format=%h %s").strip()
            else:
                info["head"] = "(no commits yet)"
            info["dirty"] = bool(repo.status_z().split(b"\0", 1)[-1].strip(b"\0"))
        except GitError as exc:
            info["git"] = f"git could not read the repository: {exc}"
        return info
