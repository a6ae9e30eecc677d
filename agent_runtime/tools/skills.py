"""load_skill and read_skill_file: the model reads an enabled skill's instructions, then its files.

Progressive disclosure, as the Agent Skills format intends: the system prompt carries each skill's
name and description (tools/skillset.py), load_skill the body of one, read_skill_file one of its
files. Nothing here runs a skill's scripts: they run, if at all, through run_cmd, under the policy
and the sandbox. Only enabled skills are reachable (the user's, and the repository's the user
trusted as they are now).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from agent_runtime.core import Action, ToolError, visible, within
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import encodable
from agent_runtime.tools.skillfiles import SKILL_FILE, Skill

MAX_SKILL_FILE = 256 * 1024  # a reference file the model reads whole; longer ones are cut by result shaping


def _enabled(runtime: Any, name: Any) -> Skill:
    if not isinstance(name, str) or not name.strip():
        raise ToolError("name must be a skill's name", "Call load_skill() without a name to list the skills.")
    skills = runtime.skill_set()
    skill = skills.get(name.strip())
    names = ", ".join(s.name for s in skills.enabled) or "(none)"
    if skill is None:
        raise ToolError(f"no skill named {visible(name)!r}", f"The skills are: {names}.", kind="not_found")
    if not skills.is_enabled(skill):
        raise ToolError(f"the skill {skill.name!r} is in the repository but the user has not trusted it",
                        f"Work without it, or ask the user to run `agent-runtime skills trust {skill.name}`. "
                        f"Enabled skills: {names}.", kind="refused")
    return skill


def skill_name_check(value: Any, runtime: Any) -> Skill | None:
    """A name of an enabled skill; None lists them."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _enabled(runtime, value)


def skill_check(value: Any, runtime: Any) -> Skill:
    return _enabled(runtime, value)


def relative_path_check(value: Any, runtime: Any) -> str:
    """A path inside the skill's folder, as written: no absolute path, no `..`."""
    if not isinstance(value, str) or not value.strip():
        raise ToolError("path must be a file of the skill, relative to its folder",
                        'Pass a path load_skill listed, e.g. path="references/guide.md".')
    encodable("path", value)
    path = PurePosixPath(value.strip().replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or "\x00" in value:
        raise ToolError(f"path {visible(value)!r} leads outside the skill's folder",
                        "Pass a path relative to the skill's folder, as load_skill listed it.", kind="refused")
    return path.as_posix()


def skill_action(tool: RuntimeTool, skill: Skill, rel: str) -> Action:
    """What the policy judges: a repository skill's file is a read in the workspace (its floors hold:
    a `.env` in a skill is not read); a user's skill's file is a `skill` read, outside the workspace."""
    if not skill.from_repository:  # by origin, not place: with `--repo ~` your folder is in the workspace too
        return Action("skill", paths=(rel,))
    root = tool.workspace.root
    if not within(skill.folder, root):  # discovery keeps them inside; fail closed if that ever changes
        raise ToolError(f"the skill {skill.name!r} is not inside the repository", "Work without it.", kind="refused")
    return tool.reads(f"{skill.folder.relative_to(root).as_posix()}/{rel}")


class LoadSkillTool(RuntimeTool):
    reads_only = True
    name = "load_skill"
    description = ("Read a skill's instructions (the skills are listed in the system prompt) and the list of its "
                   "files; without a name, list the skills.")
    inputs = {"name": {"type": "string", "description": "the skill's name", "nullable": True}}
    checks = {"name": skill_name_check}

    def action(self, name: Skill | None = None) -> Action:
        if name is None:
            return Action("skill", paths=())
        return skill_action(self, name, SKILL_FILE)

    def run(self, name: Skill | None = None) -> dict[str, Any]:
        skills = self.runtime.skill_set()
        if name is None:
            return {"skills": [{"name": s.name, "description": s.description} for s in skills.enabled],
                    "next": 'load_skill(name="...") for one skill\'s instructions'}
        root = self.runtime.workspace.root
        folder = name.folder.relative_to(root).as_posix() if within(name.folder, root) else str(name.folder)
        result: dict[str, Any] = {"name": name.name, "folder": folder, "instructions": name.body,
                                  "files": [f for f in name.files if f != SKILL_FILE]}
        if result["files"]:
            result["next"] = ('read_skill_file(name="...", path="...") reads one of the files; scripts run only '
                              "through run_cmd, from the skill's folder")
        return result


class ReadSkillFileTool(RuntimeTool):
    reads_only = True
    name = "read_skill_file"
    description = "Read one file of a skill (path relative to the skill's folder, as load_skill lists them)."
    inputs = {
        "name": {"type": "string", "description": "the skill's name"},
        "path": {"type": "string", "description": "a file of the skill, relative to its folder"},
    }
    checks = {"name": skill_check, "path": relative_path_check}

    def action(self, name: Skill, path: str) -> Action:
        return skill_action(self, name, path)

    def run(self, name: Skill, path: str) -> dict[str, Any]:
        target = (name.folder / path).resolve()
        if not within(target, name.folder):  # a link that now leads out (changed since the skill was read)
            raise ToolError(f"{path} leads outside the skill's folder", "Read the files load_skill listed.",
                            kind="refused")
        if path not in name.files or not target.is_file():
            listed = ", ".join(f for f in name.files if f != SKILL_FILE) or "(only SKILL.md)"
            raise ToolError(f"the skill {name.name!r} has no file {visible(path)!r}", f"Its files: {listed}.",
                            kind="not_found")
        size = target.stat().st_size
        if size > MAX_SKILL_FILE:
            raise ToolError(f"{path} is {size:,} bytes; at most {MAX_SKILL_FILE:,} are read",
                            "Look for a shorter reference among the skill's files.")
        data = target.read_bytes()
        if b"\x00" in data[:8192]:
            raise ToolError(f"{path} is a binary file ({size:,} bytes)", "Only text files of a skill can be read.",
                            kind="binary_file")
        return {"name": name.name, "path": path, "content": data.decode("utf-8", errors="replace")}


def skill_tool_classes() -> tuple[type[RuntimeTool], ...]:
    return (LoadSkillTool, ReadSkillFileTool)

