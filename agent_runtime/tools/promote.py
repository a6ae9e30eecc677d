"""promote_tool(path, function, name, test=None): a function of the workspace becomes a tool of later
sessions, stored as a skill of the user's own folder (tools/promoted.py loads and runs it).

The function must keep the rule of tools/promotecheck.py. The user approves the new skill's files,
shown as a diff, before anything is written (policy: `ask`, rule "promote", never remembered and
never judged by a model; approval mode never refuses it). What is written:

    <skills>/<name with - for _>/SKILL.md            frontmatter name, description, metadata.tool/.function
    <skills>/<name with - for _>/scripts/tool.py     the function and the imports it uses
    <skills>/<name with - for _>/scripts/test_tool.py   the test that proved it, when `test` names one
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent_runtime.core import Action, ToolError, visible
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import path_check
from agent_runtime.tools.promotecheck import MAX_NAME, TOOL_NAME, Checked, PromoteError, check_source
from agent_runtime.tools.promoted import TOOL_FILE

MAX_SOURCE = 64 * 1024
TEST_FILE = "scripts/test_tool.py"


def builtin_names() -> set[str]:
    """The names of the built-in tools: every tool class defined in code (the session built them all
    before this one is called), not those generated for MCP servers or promoted tools."""
    from agent_runtime.tools.promoted import PromotedTool
    from agent_runtime.tools.skills import skill_tool_classes

    names = {"final_answer", *(cls.name for cls in skill_tool_classes())}
    classes = list(RuntimeTool.__subclasses__())
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        if "name" in cls.__dict__ and not issubclass(cls, PromotedTool) and not cls.name.startswith("mcp__"):
            names.add(cls.name)
    return names


def _text(path: Path, what: str) -> str:
    if path.stat().st_size > MAX_SOURCE:
        raise ToolError(f"{what} is over {MAX_SOURCE:,} bytes", "Promote a small, single function.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{what} is not UTF-8 text", "Promote a Python source file.") from None


def skill_md(name: str, folder: str, checked: Checked, origin: str) -> str:
    import yaml

    front = yaml.safe_dump({"name": folder, "description": checked.description,
                            "metadata": {"tool": name, "function": checked.function}},
                           sort_keys=False, allow_unicode=True, width=1000)
    call = ", ".join(f"{p}: {h}" for p, h in checked.params.items())
    return (f"---\n{front}---\n# {name} (a promoted tool)\n\n{checked.docstring.strip()}\n\n"
            f"Call it as a tool: `{name}({call}) -> {checked.returns}`; the answer is {{\"result\": ...}}. "
            "It runs in the sandbox with the standard library only (no network, no secrets, files outside the "
            "workspace read-only), within 30 seconds.\n\nInput schema:\n\n```json\n"
            f"{json.dumps(checked.schema(), indent=2)}\n```\n\n"
            f"Promoted from {origin} on {datetime.now(timezone.utc):%Y-%m-%d}. "
            f"`agent-runtime skills remove {folder}` removes it.\n")


def _diff(files: dict[str, str], folder: Path) -> str:
    parts = []
    for rel, text in files.items():
        lines = text.splitlines(keepends=True)
        parts += difflib.unified_diff([], lines, "/dev/null", str(folder / rel))
    return "".join(line if line.endswith("\n") else line + "\n" for line in parts)


class PromoteTool(RuntimeTool):
    name = "promote_tool"
    description = ("Make a tested, self-contained function of the workspace a tool of later sessions (asks the user; "
                   "it needs a docstring, type hints, the standard library only).")
    inputs = {
        "path": {"type": "string", "description": "the Python file in the workspace"},
        "function": {"type": "string", "description": "the function's name, at the file's top level"},
        "name": {"type": "string", "description": "the new tool's name: lowercase letters, digits, single _"},
        "test": {"type": "string", "description": "a test file of the workspace that proves it (kept with it)",
                 "nullable": True},
    }
    checks = {"path": path_check("file"), "test": path_check("file")}
    approval = "always"

    def _plan(self, path: Path, function: str, name: str, test: Path | None) -> tuple[Path, dict[str, str], Checked]:
        from agent_runtime.tools.skillset import user_skills_dir

        if not isinstance(name, str) or len(name) > MAX_NAME or not TOOL_NAME.fullmatch(name):
            raise ToolError(f"name {visible(str(name))!r} is not a tool name", "Use lowercase letters, digits and "
                            f"single underscores, starting with a letter, at most {MAX_NAME} characters.")
        if name in builtin_names() or name.startswith("mcp_"):
            raise ToolError(f"{name} is the name of a built-in tool", "Choose another name.", kind="refused")
        folder_name = name.replace("_", "-")
        folder = user_skills_dir() / folder_name
        if os.path.lexists(folder):
            raise ToolError(f"a skill named {folder_name} exists already ({folder})",
                            "Choose another name, or ask the user to run "
                            f"`agent-runtime skills remove {folder_name}` first.", kind="refused")
        if not isinstance(function, str) or not function.isidentifier():
            raise ToolError("function must be the name of a function", 'Pass e.g. function="count_words".')
        rel = self.workspace.relative(path)
        try:
            checked = check_source(_text(path, rel), function, rel)
        except PromoteError as exc:
            raise ToolError(f"cannot promote {function}: {exc}", "Change the function to keep the rule, test it, "
                            "then call promote_tool again.", kind="refused") from None
        files = {"SKILL.md": skill_md(name, folder_name, checked, f"{rel}:{function}"), TOOL_FILE: checked.source}
        if test is not None:
            files[TEST_FILE] = _text(test, self.workspace.relative(test))
        return folder, files, checked

    def action(self, path: Path, function: str, name: str, test: Path | None = None) -> Action:
        planned = self._plan(path, function, name, test)
        folder, files, _ = planned
        # What the person approves is what is written: the files are not read again after the prompt.
        self._planned = ((path, function, name, test), planned)
        paths = tuple(self.workspace.relative(p) for p in (path, test) if p is not None)
        return Action("promote", paths=paths, command=name, preview=_diff(files, folder))

    def run(self, path: Path, function: str, name: str, test: Path | None = None) -> dict[str, Any]:
        key, planned = getattr(self, "_planned", (None, None))
        self._planned = (None, None)
        if key != (path, function, name, test) or planned is None:
            raise ToolError("promote_tool was not judged with these arguments", "Call promote_tool again.")
        folder, files, checked = planned
        if os.path.lexists(folder):
            raise ToolError(f"a skill named {folder.name} exists already ({folder})", "Choose another name.",
                            kind="refused")
        folder.parent.mkdir(parents=True, exist_ok=True)
        # Written beside, then renamed: a later session sees the whole skill or none of it.
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            for rel, text in files.items():
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                (staging / rel).write_text(text, encoding="utf-8")
            os.chmod(staging, 0o755)
            os.rename(staging, folder)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return {"promoted": name, "skill": str(folder), "files": list(files), "schema": checked.schema(),
                "note": f"{name} is a tool from the next session on (not in this one)"}
