"""Which Agent Skills a session has: found in the user's folder and the repository's, trusted or
not, and the catalogue of them that goes into the system prompt.

Where they are read from, first found wins a name (later ones are reported as duplicates):

    $XDG_CONFIG_HOME/agent-runtime/skills/NAME/SKILL.md   the user's: trusted
    .agent-runtime/skills/  .agents/skills/  .claude/skills/   the repository's: untrusted

A repository's skill is prompt text whoever wrote the repository chose, so it is enabled only once
the user has trusted that exact content (`agent-runtime skills trust NAME`): the trust names the
repository, the skill and the sha256 of its files, and is kept in the user's configuration folder,
which the agent may not write (like saved approvals). Any change to the skill's files makes it
untrusted again. A skill, trusted or not, changes no setting: it is text for the model, and every
call it leads to still passes the policy and the approval gate.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from agent_runtime.config import config_home, extra_trust_path
from agent_runtime.core import visible, within
from agent_runtime.tools.skillfiles import SKILL_FILE, Skill, SkillError, read_skill

REPOSITORY_FOLDERS = (".agent-runtime/skills", ".agents/skills", ".claude/skills")
TRUST_FILE = "trusted-skills.json"
CATALOGUE_BUDGET = 500  # tokens of the system prompt for the skills' names and descriptions
CATALOGUE_HEADING = "Skills (instructions for particular jobs; load_skill(name) gives one's instructions):"


def user_skills_dir() -> Path:
    return config_home() / "skills"


def trust_path() -> Path:
    return config_home() / TRUST_FILE


@dataclass
class Skills:
    """What discovery found: the usable skills (one per name) and a line for each that is not."""

    found: list[Skill] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    trusted: set[str] = field(default_factory=set)  # names of the repository skills the user trusts as they are
    # Repository skills the user trusted once whose content changed since: name -> when it was trusted.
    changed: dict[str, str] = field(default_factory=dict)

    def is_enabled(self, skill: Skill) -> bool:
        return not skill.from_repository or skill.name in self.trusted

    @property
    def enabled(self) -> list[Skill]:
        return [skill for skill in self.found if self.is_enabled(skill)]

    @property
    def untrusted(self) -> list[Skill]:
        return [skill for skill in self.found if not self.is_enabled(skill)]

    def get(self, name: str) -> Skill | None:
        return next((skill for skill in self.found if skill.name == name), None)


def _folders(root: Path, origin: str, limit: Path | None) -> tuple[list[tuple[Path, str]], list[str]]:
    """(skill folder resolved, origin) for each folder of `root` that holds a SKILL.md; `limit`: where
    the resolved folders must stay (the repository); the user's root may itself be a link."""
    if not root.is_dir():
        return [], []
    resolved_root = root.resolve()
    if limit is not None and not within(resolved_root, limit):
        return [], [f"{visible(str(root))}: leads outside the repository (to {visible(str(resolved_root))}); "
                    "its skills are not read"]
    folders, problems = [], []
    try:
        entries = sorted(os.listdir(resolved_root))
    except OSError as exc:
        return [], [f"{visible(str(root))}: cannot be listed ({exc.strerror})"]
    for name in entries:
        entry = resolved_root / name
        if not (entry / SKILL_FILE).exists() and not (entry / SKILL_FILE).is_symlink():
            continue
        target = entry.resolve()
        if not within(target, resolved_root) or target == resolved_root:
            problems.append(f"{visible(str(root / name))}: a link that leads outside {visible(str(root))} "
                            f"(to {visible(str(target))}); skills may not link out")
            continue
        folders.append((target, origin))
    return folders, problems


def discover(repo: Path | None, user_dir: Path | None = None, trust_file: Path | None = None) -> Skills:
    """The skills of the user's folder and of the repository `repo` (None: the user's only)."""
    places: list[tuple[Path, str, Path | None]] = [(user_dir or user_skills_dir(), "user", None)]
    if repo is not None:
        root = Path(repo).resolve()
        places += [(root / folder, folder, root) for folder in REPOSITORY_FOLDERS]
    skills = Skills()
    seen: dict[str, Skill] = {}
    for root, origin, limit in places:
        folders, problems = _folders(root, origin, limit)
        skills.problems += problems
        for folder, origin in folders:
            try:
                skill = read_skill(folder, origin)
            except SkillError as exc:
                skills.problems.append(str(exc))
                continue
            first = seen.get(skill.name)
            if first is not None:
                skills.problems.append(f"{visible(str(folder / SKILL_FILE))}: a second skill named {skill.name!r} "
                                       f"(the one in {visible(str(first.folder))} is used); rename one")
                continue
            seen[skill.name] = skill
            skills.found.append(skill)
    if repo is not None:
        extra = extra_trust_path() if trust_file is None else None
        stores = [TrustStore(trust_file)] + ([TrustStore(extra)] if extra is not None else [])
        skills.trusted = {s.name for s in skills.found if s.from_repository
                          and any(store.is_trusted(Path(repo).resolve(), s) for store in stores)}
        for skill in skills.untrusted:  # trusted once, edited since: not the same as never trusted
            saved = next((when for store in stores if (when := store.trusted_before(Path(repo).resolve(), skill))), None)
            if saved is not None:
                skills.changed[skill.name] = saved
    return skills


class TrustStore:
    """The user's agreements to repository skills: {"trusted": [{repo, name, sha256, saved}]}."""

    def __init__(self, path: Path | None = None):
        self.path = path or trust_path()

    def entries(self) -> list[dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise SkillError(f"{visible(str(self.path))}: cannot be read ({exc}); fix or delete it") from None
        entries = data.get("trusted") if isinstance(data, dict) else None
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    def is_trusted(self, repo: Path, skill: Skill) -> bool:
        try:
            entries = self.entries()
        except SkillError:
            return False  # an unreadable file trusts nothing
        return any(e.get("repo") == str(repo) and e.get("name") == skill.name and e.get("sha256") == skill.digest
                   for e in entries)

    def trusted_before(self, repo: Path, skill: Skill) -> str | None:
        """When another content of this skill was trusted here (its `saved` time, "" if unknown)."""
        try:
            entries = self.entries()
        except SkillError:
            return None
        found = [e for e in entries if e.get("repo") == str(repo) and e.get("name") == skill.name
                 and e.get("sha256") != skill.digest]
        return str(found[-1].get("saved") or "") if found else None

    def trust(self, repo: Path, skill: Skill) -> None:
        """Trust this content of the skill in this repository (older agreements to it are replaced)."""
        kept = [e for e in self.entries() if not (e.get("repo") == str(repo) and e.get("name") == skill.name)]
        kept.append({"repo": str(repo), "name": skill.name, "folder": skill.origin, "sha256": skill.digest,
                     "saved": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps({"trusted": kept}, indent=2) + "\n", encoding="utf-8")
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)  # a reader sees the old file or the new one, never half of one


def catalogue(skills: list[Skill], count: Callable[[str], int], budget: int = CATALOGUE_BUDGET) -> str | None:
    """The enabled skills' names and descriptions for the system prompt, within `budget` tokens as
    `count` counts them (models/tokens.py); beyond it, how many more there are (load_skill() lists
    them all). None when there is none."""
    if not skills:
        return None
    lines: list[str] = []
    used = count(CATALOGUE_HEADING)
    for index, skill in enumerate(skills):
        line = visible(f"- {skill.name}: {skill.description}")
        left = len(skills) - index
        note = f"- ... {left} more skills: load_skill() lists them all"
        if used + count(line + "\n") + count(note) > budget and (index < len(skills) - 1
                                                               or used + count(line) > budget):
            lines.append(note)
            break
        lines.append(line)
        used += count(line + "\n")
    return "\n".join([CATALOGUE_HEADING, *lines])
