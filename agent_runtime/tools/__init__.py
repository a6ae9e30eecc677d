"""The agent's tools: the only capabilities it has.

Tool classes are imported on demand: this package's `base` and `validation` modules are
used by lower layers (patching, policy), which must not pull in every tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_runtime.tools.base import RuntimeTool
    from agent_runtime.tools.runtime import Runtime


def tool_classes() -> tuple[type["RuntimeTool"], ...]:
    from agent_runtime.tools.code import FindSymbolTool, OutlineTool, ReadSymbolTool, ReplaceSymbolTool
    from agent_runtime.tools.commands import RunCmdTool, RunTestsTool
    from agent_runtime.tools.files import ReadFileSnippetTool, ReadFileTool
    from agent_runtime.tools.git import GitDiffTool, GitLogTool, GitStatusTool
    from agent_runtime.tools.patch import (
        ApplyPatchTool,
        ProposeFileTool,
        ProposePatchTool,
        ProposePatchUnifiedTool,
        ShowPatchTool,
        UndoPatchTool,
    )
    from agent_runtime.tools.promote import PromoteTool
    from agent_runtime.tools.remember import RememberTool
    from agent_runtime.tools.repo import RepoInfoTool
    from agent_runtime.tools.search import ListFilesTool, RgSearchTool

    return (
        RepoInfoTool,
        ListFilesTool,
        RgSearchTool,
        ReadFileTool,
        ReadFileSnippetTool,
        OutlineTool,
        ReadSymbolTool,
        FindSymbolTool,
        GitStatusTool,
        GitDiffTool,
        GitLogTool,
        ProposePatchUnifiedTool,
        ProposePatchTool,
        ProposeFileTool,
        ReplaceSymbolTool,
        ShowPatchTool,
        ApplyPatchTool,
        UndoPatchTool,
        RunCmdTool,
        RunTestsTool,
        RememberTool,
        PromoteTool,
    )


def _warn(message: str) -> None:
    import logging

    logging.getLogger(__name__).warning("%s", message)


def build_tools(runtime: "Runtime") -> list["RuntimeTool"]:
    """The built-in tools, the skills' when any skill is enabled, the user's promoted tools, and those of the user's MCP servers
    (started now) when any are configured."""
    tools = [cls(runtime) for cls in tool_classes()]
    if runtime.skill_set().enabled:  # without a skill, two tools would only lengthen the prompt
        from agent_runtime.tools.skills import skill_tool_classes

        tools += [cls(runtime) for cls in skill_tool_classes()]
    from agent_runtime.tools.promoted import promoted_classes

    # The user's promoted tools (their own skills folder only): each call runs in the sandbox.
    tools += [cls(runtime) for cls in promoted_classes(runtime.skill_set(), {t.name for t in tools}, _warn)]
    if runtime.mcp is not None:
        from agent_runtime.tools.mcptool import build_mcp_tools

        tools += build_mcp_tools(runtime, runtime.mcp.started(), {t.name for t in tools}, runtime.mcp.warn)
    return tools
