"""What a session says as it opens about the folder it works in (skills have their own notes:
cli/skillscmd.py startup_notes)."""

from __future__ import annotations

from pathlib import Path

from agent_runtime.gitcmd import find_top


def not_git_note(repo: Path) -> str | None:
    """A folder outside git: what undo and the diffs will and will not do there; None inside git."""
    if find_top(repo) is not None:
        return None
    return (f"{repo} is not a git repository. The agent's patches and what its commands change can still "
            "be undone (agent-runtime undo keeps its own history), and /diff shows its patches; but the git "
            "tools (git_diff, git_status, git_log) do not work here, and nothing puts back a file you change "
            "yourself. `git init && git add -A && git commit -m start` first gives you both.")
