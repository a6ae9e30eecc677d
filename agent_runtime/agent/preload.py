"""The coaching rule `skill_preload`: a task that names what an enabled skill is for starts with that
skill loaded. Small models seldom call load_skill on their own, even when the catalogue in the system
prompt names the very procedure the task asks them to follow."""

from __future__ import annotations

import re
from typing import Any

# Words every task and description may hold; they say nothing of which skill a task needs.
COMMON = frozenset("""about after also anything asked before being change code does every file files follow
following from have into make need needs other project project's projects repository should that their them
then there these this those used uses using what when where which while with without your""".split())
MAX_SKILLS = 2
MAX_CHARS = 6000  # of instructions in the first message, all preloaded skills together


def _keys(text: str) -> set[str]:
    """Content words of five letters or more, cut to five so that `rename` meets `renaming`."""
    return {w[:5] for w in re.findall(r"[a-z][a-z']{4,}", text.lower()) if w not in COMMON}


def matching(task: str, skills: list[Any]) -> list[Any]:
    """The enabled skills whose name or description shares a content word with the task, best first."""
    wanted = _keys(task)
    scored = [(len(wanted & _keys(f"{s.name.replace('-', ' ').replace('_', ' ')} {s.description}")), s)
              for s in skills]
    return [s for n, s in sorted(scored, key=lambda pair: -pair[0]) if n > 0][:MAX_SKILLS]


def preloaded(task: str, skills: list[Any], load_skill: Any) -> str:
    """The matching skills' instructions, loaded through load_skill (the one tool path: judged, a
    span, in the record), as text for the task's first message; "" when none matches or loads."""
    parts: list[str] = []
    budget = MAX_CHARS
    for skill in matching(task, skills):
        result = load_skill(name=skill.name)
        instructions = result.get("instructions") if isinstance(result, dict) else None
        if not instructions or len(instructions) > budget:
            continue
        budget -= len(instructions)
        parts.append(f"The project's skill `{skill.name}` ({skill.description}), loaded for this task. "
                     f"Follow it:\n{instructions.strip()}")
    return "\n\n" + "\n\n".join(parts) if parts else ""
