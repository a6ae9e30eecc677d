"""Step 5 of a tool call: results truncated to the TRUNCATION_* limits and made readable.

A tool returns a plain dict. The model sees it through `print(...)`, so the dict we hand
back is a ToolResult whose repr is readable text (file contents as lines, not one string
full of "\\n"), while indexing it (`result["content"]`) still works in the model's code.

Standard library only: the sandboxed interpreter (safety/executor_child.py) loads this file by path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class FailedCall(LookupError):
    """A key of a failed call's result (`p["patch_id"]` after propose_patch failed). Not a KeyError:
    the interpreter would wrap that as `Could not index <the whole result> with ...`, a wall of text;
    this one reaches the model and the person as one line saying the call failed and why."""


ERROR_SHOWN = 300  # characters of the call's error in that line


class ToolResult(dict):
    """A dict that prints as readable text; `call` is the one tool path's record of the call that gave
    it (its outcome, who refused it), for the harness: the model never sees it."""

    # core.CallRecord, by its name only: the sandboxed interpreter loads this file alone (standard library).
    call: Any = None

    def __repr__(self) -> str:
        return render(self)

    __str__ = __repr__

    def __missing__(self, key: Any) -> Any:
        error = dict.get(self, "error")
        if isinstance(error, str) and error:
            first = " ".join(error.split())
            first = first if len(first) <= ERROR_SHOWN else first[:ERROR_SHOWN - 1] + "…"
            raise FailedCall(f"the call failed, so there is no {key!r} (nothing was made or changed): {first}")
        raise KeyError(key)


def render(value: dict[str, Any]) -> str:
    lines: list[str] = []
    for key, item in value.items():
        if isinstance(item, str) and "\n" in item:
            lines.append(f"{key}:")
            lines.append(item.rstrip("\n"))
            lines.append(f"(end of {key})")
        elif isinstance(item, list):
            if not item:
                lines.append(f"{key}: []")
                continue
            lines.append(f"{key}:")
            lines.extend(f"  {_compact(element)}" for element in item)
        else:
            lines.append(f"{key}: {_compact(item)}")
    return "\n".join(lines)


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_compact(v)}" for k, v in value.items())
    if isinstance(value, str):
        return value if "\n" not in value else json.dumps(value)
    return json.dumps(value) if isinstance(value, (list, bool)) or value is None else str(value)


@dataclass(frozen=True)
class OutputLimits:
    max_chars: int
    max_lines: int
    max_items: int


def truncate_text(text: str, limits: OutputLimits, keep_tail: bool = False) -> tuple[str, bool]:
    """Cut text to the limits with a marker saying what was dropped."""
    lines = text.splitlines(keepends=True)
    if len(text) <= limits.max_chars and len(lines) <= limits.max_lines:
        return text, False
    budget_lines = limits.max_lines
    budget_chars = limits.max_chars
    if keep_tail:
        # Errors are at the end of command output: keep a little head, mostly tail.
        head_n, tail_n = budget_lines // 4, budget_lines - budget_lines // 4
        head, tail = lines[:head_n], lines[-tail_n:] if tail_n else []
        head_text, tail_text = "".join(head)[: budget_chars // 4], "".join(tail)[-(budget_chars - budget_chars // 4):]
        dropped_lines = max(0, len(lines) - len(head) - len(tail))
        dropped_chars = len(text) - len(head_text) - len(tail_text)
        marker = f"\n[... {dropped_lines:,} lines ({dropped_chars:,} characters) cut from the middle ...]\n"
        return head_text + marker + tail_text, True
    kept = "".join(lines[:budget_lines])[:budget_chars]
    kept_lines = kept.count("\n")
    marker = (
        f"\n[... truncated: {len(lines) - kept_lines:,} more lines, {len(text) - len(kept):,} more characters;"
        " ask for a narrower range or a more specific pattern ...]\n"
    )
    return kept + marker, True


def shape(result: dict[str, Any], limits: OutputLimits, keep_tail: frozenset[str] = frozenset()) -> tuple[ToolResult, bool]:
    """Truncate every long string and list in a tool's result; report whether anything was cut."""
    shaped = ToolResult()
    truncated = False
    for key, value in result.items():
        if isinstance(value, str):
            value, cut = truncate_text(value, limits, keep_tail=key in keep_tail)
            truncated |= cut
        elif isinstance(value, list) and len(value) > limits.max_items:
            dropped = len(value) - limits.max_items
            value = value[: limits.max_items] + [f"[... {dropped:,} more not shown; narrow the pattern or path ...]"]
            truncated = True
        shaped[key] = value
    if truncated:
        shaped["truncated"] = True
    return shaped, truncated
