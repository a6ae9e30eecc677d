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


def repo_policy_note(repo: Path, policy_file: Path | None) -> str | None:
    """A policy.toml at the repository's root (or the folder's): whether it is the command policy in use,
    and why. It is used only when the person named it in POLICY_FILE (their environment or config file):
    a repository's files never set the policy, which could otherwise allow what it asks about."""
    top = find_top(repo)
    found = [p for p in dict.fromkeys((repo / "policy.toml", *((top / "policy.toml",) if top else ())))
             if p.is_file()]
    if not found:
        return None
    here = found[0]
    if policy_file is not None and Path(policy_file).resolve() == here.resolve():
        return f"command policy: {here} (POLICY_FILE names it)"
    in_use = f"POLICY_FILE's {policy_file}" if policy_file is not None else "the shipped policy"
    return (f"{here} is not used: a repository's files never set the command policy; {in_use} answers. "
            f"To use it, review it, then set POLICY_FILE={here} in your environment or "
            "~/.config/agent-runtime/config.env.")
