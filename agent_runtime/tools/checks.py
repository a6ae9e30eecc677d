"""Step 1 of a tool call: arguments bound to the declared inputs, typed and checked.

Paths must resolve inside the workspace: no `..` escapes, no absolute paths elsewhere,
no symlinks that lead out, no NUL bytes, no device files, FIFOs or sockets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from agent_runtime.core import ToolError

if TYPE_CHECKING:
    from agent_runtime.tools.base import RuntimeTool
    from agent_runtime.tools.runtime import Runtime


# --- checks: (value, runtime) -> validated value, or ToolError ---


def encodable(name: str, value: str, *, raw_bytes: bool = False) -> str:
    """Refuse strings that cannot be written as UTF-8 (a lone surrogate such as "\\ud83e").
    raw_bytes: allow the surrogates Python uses for undecodable bytes (a diff of non-UTF-8 text)."""
    try:
        value.encode("utf-8", "surrogateescape" if raw_bytes else "strict")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise ToolError(
            f"{name} contains a character that cannot be encoded as UTF-8 (a lone surrogate "
            f"U+{ord(bad):04X} at position {exc.start})",
            f"Write {name} with ordinary characters; an emoji must be one whole character, not half of a pair.",
        ) from None
    return value


def similar_paths(runtime: "Runtime", wanted: str) -> str | None:
    """For a path that does not exist: the repository's files with the closest names (small
    models guess paths, or copy the prompt's example path)."""
    import difflib

    from agent_runtime.tools.rg import base_command, run_rg

    try:
        files, _, _, _ = run_rg(base_command(runtime.workspace.hidden) + ["--files"], runtime.workspace.root, 20000)
    except ToolError:
        return None
    if not files:
        return None
    by_name = difflib.get_close_matches(wanted.rsplit("/", 1)[-1], [f.rsplit("/", 1)[-1] for f in files], n=3, cutoff=0.5)
    close = sorted((f for f in files if f.rsplit("/", 1)[-1] in by_name), key=lambda f: by_name.index(f.rsplit("/", 1)[-1]))
    close += difflib.get_close_matches(wanted, files, n=3, cutoff=0.4)
    close = list(dict.fromkeys(close))[:4] or (sorted(files)[:6] if len(files) <= 6 else [])
    if not close:
        return None
    return "Files that exist: " + ", ".join(close) + "."


def path_check(want: str = "file", must_exist: bool = True) -> Callable[[Any, "Runtime"], Path]:
    def check(value: Any, runtime: "Runtime") -> Path:
        if isinstance(value, str):
            encodable("path", value)
        try:
            return runtime.workspace.resolve(value, want=want, must_exist=must_exist)
        except ToolError as exc:
            if exc.kind == "not_found" and isinstance(value, str):
                exc.suggestion = similar_paths(runtime, value) or exc.suggestion
            raise

    check.is_path = True  # type: ignore[attr-defined]  # the input names a path: the action must declare it
    return check


def is_path_check(check: Any) -> bool:
    return bool(getattr(check, "is_path", False))


def text_check(name: str, *, allow_empty: bool = True) -> Callable[[Any, "Runtime"], str]:
    """Strings from the model: bounded by VALIDATION_MAX_CHARS and VALIDATION_MAX_LINES."""

    def check(value: Any, runtime: "Runtime") -> str:
        limits = runtime.settings
        if not allow_empty and not value.strip():
            raise ToolError(f"{name} is empty", f"Pass a non-empty {name}.")
        if "\x00" in value:
            raise ToolError(f"{name} contains a NUL byte", f"Remove it from {name}.")
        encodable(name, value)
        if len(value) > limits.validation_max_chars:
            raise ToolError(
                f"{name} is {len(value):,} characters; the limit is {limits.validation_max_chars:,}",
                "Split the work into smaller pieces (for a change: several smaller patches).",
                kind="too_large",
            )
        lines = value.count("\n") + 1
        if lines > limits.validation_max_lines:
            raise ToolError(
                f"{name} has {lines:,} lines; the limit is {limits.validation_max_lines:,}",
                "Split the work into smaller pieces (for a change: several smaller patches).",
                kind="too_large",
            )
        return value

    return check


def patch_text_check(name: str, *, allow_empty: bool = True) -> Callable[[Any, "Runtime"], str]:
    """Patch text (a diff, a file's old and new text): bounded by PATCH_MAX_BYTES only. Output
    limits (TRUNCATION_*) and the limits for other text (VALIDATION_*) do not apply: a real
    change can be hundreds of lines."""

    def check(value: Any, runtime: "Runtime") -> str:
        if not allow_empty and not value.strip():
            raise ToolError(f"{name} is empty", f"Pass a non-empty {name}.")
        if "\x00" in value:
            raise ToolError(f"{name} contains a NUL byte", f"Remove it from {name}; binary changes are not supported.")
        encodable(name, value, raw_bytes=True)
        limit = runtime.settings.patch_max_bytes
        size = len(value.encode("utf-8", "surrogateescape"))
        if size > limit:
            raise ToolError(
                f"{name} is {size:,} bytes; the limit for a patch is {limit:,} (PATCH_MAX_BYTES)",
                "Split the change into several smaller patches, one file or a few hunks each.",
                kind="too_large",
            )
        return value

    return check


def int_check(name: str, low: int = 1, high: int | None = None) -> Callable[[Any, "Runtime"], int]:
    def check(value: Any, runtime: "Runtime") -> int:
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise ToolError(f"{name}={value} is out of range", f"Pass a whole number {bound}.")
        return value

    return check


def line_range(start: int | None, end: int | None, runtime: "Runtime") -> tuple[int, int | None]:
    """Check a 1-based inclusive line range against VALIDATION_MAX_LINE_RANGE."""
    start = start or 1
    if end is not None and end < start:
        raise ToolError(f"end_line {end} is before start_line {start}", "Pass end_line >= start_line.")
    limit = runtime.settings.validation_max_line_range
    if end is not None and end - start + 1 > limit:
        raise ToolError(
            f"lines {start}-{end} are {end - start + 1:,} lines; at most {limit:,} can be read at once",
            f"Read in parts, e.g. start_line={start}, end_line={start + limit - 1}.",
            kind="too_large",
        )
    return start, end


# --- binding: positional and keyword arguments -> {input name: typed value} ---

_PY_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}


def _coerce(name: str, value: Any, declared: str | list[str]) -> Any:
    """Accept the declared type; forgive the usual small-model slips ("10" for 10)."""
    types = [declared] if isinstance(declared, str) else list(declared)
    if "any" in types or value is None:
        return value
    for kind in types:
        expected = _PY_TYPES.get(kind)
        if expected is None:
            return value
        if isinstance(value, bool) and kind in ("integer", "number"):
            continue
        if isinstance(value, expected):
            return value
        if kind == "integer" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        if kind == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    raise ToolError(
        f"{name} must be of type {' or '.join(types)}, got {type(value).__name__} {value!r:.60}",
        f"Pass {name} as a {types[0]}.",
    )


def bind(tool: "RuntimeTool", args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    names = list(tool.inputs)
    if len(args) == 1 and not kwargs and isinstance(args[0], dict) and set(args[0]) <= set(names):
        kwargs, args = dict(args[0]), ()  # smolagents style: tool({"path": ...})
    if len(args) > len(names):
        raise ToolError(
            f"{tool.name} takes {len(names)} arguments, got {len(args)}",
            f"Call it as {signature(tool)}.",
        )
    bound: dict[str, Any] = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in tool.inputs:
            raise ToolError(f"{tool.name} has no argument {key!r}", f"Call it as {signature(tool)}.")
        if key in bound:
            raise ToolError(f"{key} was given twice", f"Call it as {signature(tool)}.")
        bound[key] = value
    for name, spec in tool.inputs.items():
        if name not in bound or bound[name] is None:
            if not spec.get("nullable"):
                raise ToolError(f"{tool.name} needs the argument {name!r}", f"Call it as {signature(tool)}.")
            bound[name] = None
            continue
        bound[name] = _coerce(name, bound[name], spec["type"])
    return bound


def validate(tool: "RuntimeTool", bound: dict[str, Any], runtime: "Runtime") -> dict[str, Any]:
    """Run the tool's per-input checks on arguments already bound by `bind`."""
    checked = dict(bound)
    for name, check in tool.checks.items():
        if checked.get(name) is not None:
            checked[name] = check(checked[name], runtime)
    return checked


def signature(tool: "RuntimeTool") -> str:
    parts = []
    for name, spec in tool.inputs.items():
        parts.append(f"{name}=..." if not spec.get("nullable") else f"{name}=None")
    return f"{tool.name}({', '.join(parts)})"
