"""One Agent Skill read from its folder: SKILL.md (YAML frontmatter + Markdown body) as the open
format defines it (agentskills.io/specification), its files, and a hash of its content.

    my-skill/
      SKILL.md        ---\\nname: my-skill\\ndescription: what it does and when to use it\\n---\\nbody
      scripts/ references/ assets/   (optional)

A skill that breaks a rule is not read: SkillError says why in one line that names the file. A
skill is text someone else may have written, so every read is bounded and no symlink may lead
out of the skill's folder (a link to ~/.ssh would otherwise be read into a prompt).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_runtime.core import visible, within

SKILL_FILE = "SKILL.md"
NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # lowercase letters, digits, single inner hyphens
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
MAX_SKILL_MD = 64 * 1024  # the body goes into the conversation whole when the skill is loaded
MAX_FILES = 200  # files of one skill, listed and hashed
MAX_TOTAL_BYTES = 20 * 1024 * 1024  # what one skill's files may weigh, all together
SKIPPED_DIRS = {".git"}
# Hashed, not listed to the model: Python runs a .pyc there in place of its source when the source's
# recorded size and time match, so a changed .pyc of a trusted skill is a changed skill.
BYTECODE_DIR = "__pycache__"


class SkillError(Exception):
    """A skill that cannot be used; str() is one line naming the file and what to fix."""


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    body: str
    folder: Path  # resolved
    origin: str  # "user", or the repository folder it was found in (".agents/skills")
    digest: str  # sha256 over the folder's files: what a person trusts
    files: tuple[str, ...]  # relative to the folder, "/"-separated
    license: str | None = None
    compatibility: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    allowed_tools: str | None = None  # shown, never granted: the policy decides what runs

    @property
    def from_repository(self) -> bool:
        return self.origin != "user"


def _shown(path: Path) -> str:
    return visible(str(path))


def split_frontmatter(text: str, where: str) -> tuple[str, str]:
    """(the YAML between the opening and closing `---` lines, the Markdown body)."""
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise SkillError(f"{where}: SKILL.md must start with a '---' line, then the YAML frontmatter "
                         "(name, description), then '---'")
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1:]).strip("\n")
    raise SkillError(f"{where}: the frontmatter has no closing '---' line")


def _text_field(fields: dict[str, Any], key: str, where: str, limit: int, required: bool) -> str | None:
    value = fields.get(key)
    if value is None:
        if required:
            raise SkillError(f"{where}: the frontmatter has no '{key}' (required)")
        return None
    if not isinstance(value, str) or not value.strip():
        raise SkillError(f"{where}: '{key}' must be non-empty text")
    if len(value) > limit:
        raise SkillError(f"{where}: '{key}' is {len(value)} characters; at most {limit}")
    return value.strip()


def parse_skill(text: str, where: str, folder_name: str) -> dict[str, Any]:
    """The checked fields of a SKILL.md's text, and its body under "body"."""
    import yaml

    front, body = split_frontmatter(text, where)
    try:
        fields = yaml.safe_load(front) if front.strip() else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 2}" if mark is not None else ""  # +1 for 1-based, +1 for the '---' line
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise SkillError(f"{where}: the frontmatter is not valid YAML ({problem}{at})") from None
    if not isinstance(fields, dict):
        raise SkillError(f"{where}: the frontmatter must be a YAML mapping with name and description")
    name = _text_field(fields, "name", where, MAX_NAME, True)
    assert name is not None
    if not NAME.fullmatch(name):
        raise SkillError(f"{where}: name {visible(name)!r} must be 1-{MAX_NAME} lowercase letters, digits and "
                         "single hyphens, not starting or ending with one")
    if name != folder_name:
        raise SkillError(f"{where}: name {name!r} must match its folder's name {visible(folder_name)!r}")
    description = _text_field(fields, "description", where, MAX_DESCRIPTION, True)
    metadata = fields.get("metadata") or {}
    # A flat map of text: nested YAML (or an alias bomb) is refused before anything walks it.
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float, bool))
                                                 for k, v in metadata.items()):
        raise SkillError(f"{where}: 'metadata' must map names to text (key: value lines)")
    tools = fields.get("allowed-tools")
    if tools is not None and not isinstance(tools, str):
        raise SkillError(f"{where}: 'allowed-tools' must be text (tool names separated by spaces)")
    return {
        "name": name,
        "description": " ".join(str(description).split()),
        "license": _text_field(fields, "license", where, MAX_DESCRIPTION, False),
        "compatibility": _text_field(fields, "compatibility", where, MAX_COMPATIBILITY, False),
        "metadata": {str(k): str(v) for k, v in metadata.items()},
        "allowed_tools": tools,
        "body": body,
    }


def skill_files(folder: Path) -> list[tuple[str, Path]]:
    """(relative path, resolved path) of every regular file of a skill's folder. Symlinks are followed
    only while they stay inside the folder; one that leads out makes the whole skill unusable. A link to
    a folder is walked as a folder of its own, its files listed (and hashed) under the link's path:
    `scripts -> .git/payload` runs what lies where `.git` is not walked, and a link that points
    elsewhere later is another skill. `.git` itself is not walked."""
    found: list[tuple[str, Path]] = []
    total = 0

    def walk(directory: Path, prefix: str, chain: frozenset[Path]) -> None:
        nonlocal total
        folders: list[tuple[str, Path]] = []
        for name in sorted(os.listdir(directory)):
            path = directory / name
            rel = prefix + name
            resolved = path.resolve()
            if path.is_symlink() and not within(resolved, folder):
                raise SkillError(f"{_shown(folder / rel)}: a link that leads outside the skill's folder "
                                 f"(to {_shown(resolved)}); skills may not link out")
            if name in SKIPPED_DIRS and path.is_dir():
                continue
            try:
                info = resolved.stat()
            except FileNotFoundError:
                continue  # a dangling link inside the folder: nothing to read
            if stat.S_ISDIR(info.st_mode):
                if resolved not in chain:  # a link to a folder above this one: listed there already
                    folders.append((rel, resolved))
                continue
            if not stat.S_ISREG(info.st_mode):
                continue  # FIFOs, sockets, devices: never read
            total += info.st_size
            found.append((rel, resolved))
            if len(found) > MAX_FILES or total > MAX_TOTAL_BYTES:
                raise SkillError(f"{_shown(folder)}: the skill holds more than {MAX_FILES} files or "
                                 f"{MAX_TOTAL_BYTES // (1024 * 1024)} MB; keep a skill small")
        for rel, resolved in folders:
            walk(resolved, rel + "/", chain | {resolved})

    walk(folder, "", frozenset({folder.resolve()}))
    return found


def digest(files: list[tuple[str, Path]]) -> str:
    """sha256 over the skill's files (their paths and contents): any change makes another skill."""
    whole = hashlib.sha256()
    for rel, path in sorted(files):
        whole.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        whole.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    return whole.hexdigest()


def read_skill(folder: Path, origin: str) -> Skill:
    """The skill in `folder` (resolved), or SkillError."""
    skill_md = folder / SKILL_FILE
    where = _shown(skill_md)
    try:
        files = skill_files(folder)
        paths = dict(files)
        if SKILL_FILE not in paths:
            raise SkillError(f"{where}: not found, or not a regular file")
        size = paths[SKILL_FILE].stat().st_size
        if size > MAX_SKILL_MD:
            raise SkillError(f"{where}: {size:,} bytes; at most {MAX_SKILL_MD:,} (move details into "
                             "references/ files the model reads when it needs them)")
        raw = paths[SKILL_FILE].read_bytes()
        fields = parse_skill(raw.decode("utf-8"), where, folder.name)
        hashed = digest(files)
    except UnicodeDecodeError:
        raise SkillError(f"{where}: not UTF-8 text") from None
    except OSError as exc:
        raise SkillError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    listed = tuple(rel for rel, _ in files if BYTECODE_DIR not in rel.split("/"))
    return Skill(folder=folder, origin=origin, digest=hashed, files=listed, **fields)
