"""`agent-runtime skills [list|show NAME|trust NAME|remove NAME]` and the REPL's /skills: the Agent Skills a
session would have (tools/skillset.py), and the one door by which a repository's skill is trusted."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

from agent_runtime.cli.commands import _parser
from agent_runtime.config import Settings
from agent_runtime.core import visible


def _state(skills: Any, skill: Any) -> str:
    if not skill.from_repository:
        return "enabled (your own)"
    if skills.is_enabled(skill):
        return "enabled (trusted)"
    if skill.name in skills.changed:
        return f"off: {changed_since(skills, skill)}"
    return f"off: not trusted (agent-runtime skills trust {skill.name})"


def changed_since(skills: Any, skill: Any) -> str:
    """A trusted skill edited since: say so, how to see the change, and how to trust this version."""
    saved = skills.changed.get(skill.name) or ""
    when = f" ({saved[:10]})" if saved else ""
    since = f"--since={saved} " if saved else ""
    folder = f"{skill.origin}/{skill.folder.name}"
    return (f"changed since you trusted it{when}; see what changed with `git log -p {since}-- {folder}` and "
            f"`git diff -- {folder}`, or the whole of it with `agent-runtime skills show {skill.name}`; "
            f"`agent-runtime skills trust {skill.name}` trusts this version")


def _where(skill: Any) -> str:
    return "user" if not skill.from_repository else f"repository {skill.origin}"


def list_lines(repo: Path) -> list[str]:
    """What `skills list` and /skills print: one skill a line and its description, then the problems."""
    from agent_runtime.tools.skillset import REPOSITORY_FOLDERS, discover, user_skills_dir

    skills = discover(repo)
    lines: list[str] = []
    for skill in skills.found:
        lines.append(f"{skill.name}  [{_where(skill)}]  {_state(skills, skill)}")
        lines.append(f"    {skill.description}")
    if not skills.found:
        lines.append(f"No skills. Put one in {user_skills_dir()}/NAME/SKILL.md, or in the repository's "
                     f"{', '.join(REPOSITORY_FOLDERS)} (see docs/skills.md).")
    lines += [f"not read: {problem}" for problem in skills.problems]
    return [visible(line) for line in lines]


def startup_notes(repo: Path, shown_by: str = "/skills") -> list[str]:
    """What a session says as it opens (the REPL, a single task): repository skills that are off until
    trusted, skills not read. shown_by: where the person sees them listed."""
    from agent_runtime.tools.skillset import discover

    skills = discover(repo)
    notes = []
    never = [skill for skill in skills.untrusted if skill.name not in skills.changed]
    if never:
        names = ", ".join(skill.name for skill in never)
        notes.append(f"The repository has skills you have not trusted (off until you do): {names}. "
                     f"{shown_by} shows them; agent-runtime skills trust NAME enables one.")
    for skill in skills.untrusted:
        if skill.name in skills.changed:
            notes.append(f"Skill {skill.name} is off: {changed_since(skills, skill)}.")
    if skills.problems:
        notes.append(f"{len(skills.problems)} skill(s) could not be read: {shown_by} says why.")
    return notes


def show_lines(repo: Path, name: str) -> list[str] | None:
    from agent_runtime.tools.skillset import discover

    skills = discover(repo)
    skill = skills.get(name)
    if skill is None:
        return None
    lines = [f"{skill.name}  [{_where(skill)}]  {_state(skills, skill)}", f"folder: {skill.folder}",
             f"description: {skill.description}", f"sha256: {skill.digest}"]
    lines += [f"{key}: {value}" for key, value in (("license", skill.license), ("compatibility", skill.compatibility),
                                                    ("allowed-tools (shown, not granted)", skill.allowed_tools))
              if value]
    lines += [f"metadata.{key}: {value}" for key, value in skill.metadata.items()]
    lines.append("files: " + ", ".join(skill.files))
    lines += ["", skill.body]
    return [visible(line) for line in lines]


def _row(skills: Any, skill: Any) -> dict[str, Any]:
    return {"name": skill.name, "description": skill.description, "origin": skill.origin,
            "folder": str(skill.folder), "enabled": skills.is_enabled(skill),
            "trusted": skills.is_enabled(skill) if skill.from_repository else None, "sha256": skill.digest,
            "files": list(skill.files)}


def trust(repo: Path, name: str, yes: bool, ask: Callable[[str], str] = input) -> int:
    """Record the user's agreement to a repository skill as its files are now."""
    from agent_runtime.tools.skillfiles import SkillError
    from agent_runtime.tools.skillset import TrustStore, discover

    skills = discover(repo)
    skill = skills.get(name)
    if skill is None:
        print(f"agent-runtime: error: no skill named {visible(name)!r} (agent-runtime skills list)", file=sys.stderr)
        return 1
    if not skill.from_repository:
        print(f"{skill.name} is in your own skills folder: it is trusted already.")
        return 0
    if skills.is_enabled(skill):
        print(f"{skill.name} is trusted already, as it is now (sha256 {skill.digest[:12]}).")
        return 0
    for line in show_lines(repo, name) or []:
        print(line)
    if not yes:
        if not sys.stdin.isatty():
            print("agent-runtime: error: nobody at a terminal to agree; read the skill above and run "
                  f"`agent-runtime skills trust --yes {skill.name}`", file=sys.stderr)
            return 1
        answer = ask(f"\nTrust {skill.name} as it is now? Its text goes into the model's prompt. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Not trusted.")
            return 1
    try:
        TrustStore().trust(Path(repo).resolve(), skill)
    except (SkillError, OSError) as exc:
        print(f"agent-runtime: error: {visible(str(exc))}", file=sys.stderr)
        return 1
    print(f"Trusted {skill.name} (sha256 {skill.digest[:12]}); any change to its files makes it untrusted again. "
          "New sessions load it.")
    return 0


def remove(repo: Path, name: str, yes: bool, ask: Callable[[str], str] = input) -> int:
    """Delete a skill of the user's own folder (a promoted tool goes with it); a repository's is not ours."""
    import shutil

    from agent_runtime.tools.skillset import discover, user_skills_dir

    skill = discover(repo).get(name)
    if skill is None:
        print(f"agent-runtime: error: no skill named {visible(name)!r} (agent-runtime skills list)", file=sys.stderr)
        return 1
    if skill.from_repository:
        print(f"agent-runtime: error: {skill.name} is the repository's ({skill.folder}); it is not removed from "
              "here: delete that folder in the repository if you mean to", file=sys.stderr)
        return 1
    if not yes:
        if not sys.stdin.isatty():
            print(f"agent-runtime: error: nobody at a terminal to agree; run `agent-runtime skills remove --yes "
                  f"{skill.name}`", file=sys.stderr)
            return 1
        if ask(f"Remove {skill.name} ({skill.folder})? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Not removed.")
            return 1
    folder = user_skills_dir() / skill.name
    # The entry in the user's folder goes, a link as a link: never what a link points at.
    if folder.is_symlink():
        folder.unlink()
    else:
        shutil.rmtree(folder)
    print(f"Removed {skill.name}; new sessions no longer have it.")
    return 0


def cmd_skills(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("skills", "The Agent Skills (SKILL.md folders) of your skills folder and of the repository. "
                               "A repository's skill is off until you trust it as it is (skills trust NAME). "
                               "skills remove NAME deletes one of your own, and a tool promote_tool made with it.")
    parser.add_argument("action", nargs="?", default="list", choices=("list", "show", "trust", "remove"))
    parser.add_argument("name", nargs="?", help="the skill (show, trust, remove)")
    parser.add_argument("--json", action="store_true", help="list: print JSON")
    parser.add_argument("--yes", action="store_true", help="trust, remove: agree without a prompt")
    args = parser.parse_intermixed_args(argv)  # `trust --yes NAME` as `trust NAME --yes`
    if args.action in ("show", "trust", "remove") and not args.name:
        parser.error(f"skills {args.action} needs the skill's NAME")
    if args.action == "trust":
        return trust(repo, args.name, args.yes)
    if args.action == "remove":
        return remove(repo, args.name, args.yes)
    if args.action == "show":
        lines = show_lines(repo, args.name)
        if lines is None:
            print(f"agent-runtime: error: no skill named {visible(args.name)!r} (agent-runtime skills list)",
                  file=sys.stderr)
            return 1
        print("\n".join(lines))
        return 0
    if args.json:
        from agent_runtime.tools.skillset import discover

        skills = discover(repo)
        print(visible(json.dumps({"skills": [_row(skills, s) for s in skills.found], "problems": skills.problems},
                                 indent=2)))
        return 0
    print("\n".join(list_lines(repo)))
    return 0
