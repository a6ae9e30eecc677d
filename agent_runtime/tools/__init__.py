"""The agent's tools: the only capabilities it has.

Tool classes are imported on demand: this package's `base` and `validation` modules are
used by lower layers (patching, policy), which must not pull in every tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .base import RuntimeTool


def tool_classes() -> tuple[type["RuntimeTool"], ...]:
    from .files import ReadFileSnippetTool, ReadFileTool
    from .git import GitDiffTool, GitLogTool, GitStatusTool
    from .patch import ApplyPatchTool, ProposePatchTool, ProposePatchUnifiedTool, ShowPatchTool
    from .repo import RepoInfoTool
    from .search import ListFilesTool, RgSearchTool
    from .shell import RunCmdTool, RunTestsTool

    return (
        RepoInfoTool,
        ListFilesTool,
        RgSearchTool,
        ReadFileTool,
        ReadFileSnippetTool,
        GitStatusTool,
        GitDiffTool,
        GitLogTool,
        ProposePatchUnifiedTool,
        ProposePatchTool,
        ShowPatchTool,
        ApplyPatchTool,
        RunCmdTool,
        RunTestsTool,
    )


def build_tools(runtime: "Runtime") -> list["RuntimeTool"]:
    return [cls(runtime) for cls in tool_classes()]
