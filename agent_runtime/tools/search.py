"""list_files and rg_search: ripgrep over the workspace, respecting .gitignore.

Files the policy forbids reading (deny_read, e.g. `.env`) never appear: ripgrep is told to skip
them, after the model's own glob so that no glob can include them again (ripgrep lets the last
matching glob win), and every path ripgrep prints passes the policy's read check as well.
"""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Any

from agent_runtime.core import Action, ToolError
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import int_check, path_check, text_check
from agent_runtime.tools.rg import MAX_MATCH_COLUMNS, base_command, list_all, run_rg, strip_dot


class ListFilesTool(RuntimeTool):
    reads_only = True
    name = "list_files"
    description = "List files in the repository (respects .gitignore). pattern is a glob such as '*.py' or 'src/**/*.ts'."
    inputs = {
        "pattern": {"type": "string", "description": "glob to filter files (default: all files)", "nullable": True},
        "max_results": {"type": "integer", "description": "most files to return (default 100)", "nullable": True},
    }
    checks = {"pattern": text_check("pattern"), "max_results": int_check("max_results", high=10000)}

    def action(self, **_: Any) -> Action:
        return self.reads()  # the workspace's listing; hidden paths are left out below

    def run(self, pattern: str | None = None, max_results: int | None = None) -> dict[str, Any]:
        limit = max_results or self.runtime.settings.truncation_max_list_items
        glob = pattern.strip() if pattern and pattern.strip() not in ("*", "**", "**/*") else None
        # Names only, but deny_read files are left out too: filtered here rather than by rg, which
        # would cost six exclusion globs per path on a large tree.
        command = base_command((), glob) + ["--files"]
        listed, err, code = list_all(command, self.workspace.root)
        if code == 2 and not listed:
            raise ToolError(f"list_files failed: {err.strip()[:300]}", "Check the glob pattern, e.g. '*.py' or 'src/**'.")
        if listed and listed[0].startswith("./"):
            listed = [strip_dot(f) for f in listed]
        files, left_out = self.visible_paths(listed)
        result: dict[str, Any] = {"total": len(files), "files": heapq.nsmallest(limit, files)}
        if len(files) > limit:
            result["note"] = f"showing {limit} of {len(files)}; narrow the pattern or raise max_results"
        if not files:
            result["note"] = "no files match" + (f" {pattern!r}" if pattern else "")
        if left_out:
            result["hidden"] = (f"{left_out} file{'s' if left_out != 1 else ''} not listed: the policy forbids "
                                f"reading {'them' if left_out != 1 else 'it'} (deny_read, e.g. .env)")
        return result


class RgSearchTool(RuntimeTool):
    reads_only = True
    name = "rg_search"
    description = "Search file contents with ripgrep (regex). Returns 'path:line: text' for each match."
    inputs = {
        "pattern": {"type": "string", "description": "regular expression (Rust syntax) to search for"},
        "path": {"type": "string", "description": "file or directory to search (default: whole repository)", "nullable": True},
        "glob": {"type": "string", "description": "only search files matching this glob, e.g. '*.py'", "nullable": True},
        "max_results": {"type": "integer", "description": "most matches to return (default 50)", "nullable": True},
        "fixed_strings": {"type": "boolean", "description": "treat pattern as plain text, not a regex", "nullable": True},
    }
    checks = {
        "pattern": text_check("pattern", allow_empty=False),
        "path": path_check("any"),
        "glob": text_check("glob"),
        "max_results": int_check("max_results", high=1000),
    }

    def action(self, path: Path | None = None, **_: Any) -> Action:
        return self.reads(path)

    def run(
        self,
        pattern: str,
        path: Path | None = None,
        glob: str | None = None,
        max_results: int | None = None,
        fixed_strings: bool | None = None,
    ) -> dict[str, Any]:
        limit = max_results or 50
        command = base_command(self.workspace.hidden, glob or None) + [
            "--line-number", "--no-heading", "--with-filename", "--null",
            "--max-columns", str(MAX_MATCH_COLUMNS), "--max-columns-preview",
        ]
        if fixed_strings:
            command.append("--fixed-strings")
        target = self.workspace.relative(path) if path is not None else "."
        command += ["-e", pattern, "--", target]
        # The policy is the authority, whatever rg was told (its exclusion globs are case-sensitive,
        # the policy's are not: `.ENV`). A hidden match is dropped as it is read, before the limit:
        # otherwise with max_results=1 it would push a visible match out, and whether one is shown
        # would tell a guessed pattern (`SECRET=h|def main`) matched the hidden file.
        lines, more, err, code = run_rg(command, self.workspace.root, limit=limit,
                                        keep=lambda line: not self.hidden(strip_dot(line.partition("\0")[0])))
        if code == 2 and not lines:
            if "regex" in err:
                raise ToolError(
                    f"invalid regex {pattern!r}: {err.strip().splitlines()[-1][:200]}",
                    "Escape special characters (\\( \\[ \\.) or pass fixed_strings=True to search plain text.",
                    kind="invalid_regex",
                )
            raise ToolError(f"rg_search failed: {err.strip()[:300]}", "Check the path and glob.")
        matches = []
        for line in lines:
            name, _, rest = line.partition("\0")
            name = strip_dot(name)
            # Checked again (the same check as `keep`). Dropped silently: even a count of hidden
            # matches would let a pattern guess a secret one character at a time.
            if not self.hidden(name):
                matches.append(f"{name}:{rest}")
        result: dict[str, Any] = {"count": len(matches), "matches": matches}
        if more:
            result["note"] = f"stopped after {limit} matches; narrow the pattern, path or glob, or raise max_results"
        if not matches:
            result["note"] = f"no matches for {pattern!r}" + (f" in {target}" if target != "." else "")
        return result
