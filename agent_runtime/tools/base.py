"""What every tool is: a smolagents Tool whose calls all go through the one wrapper.

A tool subclass declares its inputs (as smolagents wants), how each input is checked
(`checks`), what the policy judges (`action`), and does its work in `run`, which receives
validated arguments and returns a dict. It knows nothing of tracing, policy or approval.

There is no "nothing to judge": every tool must say what it reads, writes or runs. A tool
class without its own `action` cannot be defined, and an `action` that returns anything but
an Action stops the call before the tool runs. Each path input is a read of that path; a tool
without one reads the workspace as a whole (".") and must itself leave out what the policy
forbids reading (`hidden`).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable

from agent_runtime.core import Action
from agent_runtime.smol import tool_class

if TYPE_CHECKING:
    from agent_runtime.tools.runtime import Runtime


# A check turns one raw argument into a validated value or raises ToolError.
Check = Callable[[Any, "Runtime"], Any]

WHOLE_WORKSPACE = "."


def _checked_action(action: Callable[..., Any]) -> Callable[..., Action]:
    @functools.wraps(action)
    def judged(self: "RuntimeTool", **args: Any) -> Action:
        result = action(self, **args)
        if not isinstance(result, Action):
            # Fail closed: a tool that cannot say what it does does not run.
            raise TypeError(f"{type(self).__name__}.action returned {type(result).__name__}, not an Action; "
                            "the call was stopped before the tool ran")
        return result

    judged.__judged__ = True  # type: ignore[attr-defined]
    return judged


class RuntimeTool(tool_class()):  # type: ignore[misc]
    """Base of all agent_runtime tools: a smolagents Tool whose call goes straight to `forward`
    (agent_runtime/smol.py says why), whose `forward` is generic: arguments are bound and checked in
    the wrapper."""

    output_type = "object"
    checks: ClassVar[dict[str, Check]] = {}
    # Result fields where the end matters more than the start (command output).
    keep_tail: ClassVar[frozenset[str]] = frozenset()
    # "never", "always", or "policy" (decided per command by policy.toml); for `tools`.
    approval: ClassVar[str] = "never"
    # Offered to a question (agent/codeagent.py CodingAgent.only): the tool only reads. A tool that does
    # not say so is left out, so a new tool, a promoted or an MCP one never reaches a question unasked.
    reads_only: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("action")
        if own is not None and not getattr(own, "__judged__", False):
            cls.action = _checked_action(own)  # type: ignore[method-assign]
        if "name" in cls.__dict__ and cls.action is RuntimeTool.action:
            raise TypeError(f"tool {cls.__name__} must define action(): what the policy judges for a call "
                            "(the paths it reads or writes, or the command it runs)")

    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        self._hidden_filter: HiddenFilter | None = None
        super().__init__()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        # The runtime owns the one path (tools/wrapper.py); a tool never reaches it another way.
        return self.runtime.invoke(self, args, kwargs)

    def action(self, **args: Any) -> Action:
        """What the policy judges for these (validated) arguments. Every tool defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not say what the policy should judge")

    def run(self, **args: Any) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def workspace(self):
        return self.runtime.workspace

    # --- helpers for actions and for what tools show ---

    def reads(self, *paths: Path | str | None) -> Action:
        """A read of these paths (validated, resolved); none given: the workspace as a whole."""
        rels = tuple(p if isinstance(p, str) else self.workspace.relative(p) for p in paths if p is not None)
        return Action("read", paths=rels or (WHOLE_WORKSPACE,))

    def hidden(self, rel: str) -> bool:
        """Does the policy forbid reading `rel` (relative to the workspace)? Listing, search and git
        tools leave such paths out of everything they show."""
        if self._hidden_filter is None:
            self._hidden_filter = HiddenFilter(self.workspace.hidden, self._denied)
        return self._hidden_filter(rel)

    def _denied(self, rel: str) -> bool:
        return self.runtime.decide(Action("read", paths=(rel,))).decision == "deny"

    def visible_paths(self, rels: Iterable[str]) -> tuple[list[str], int]:
        """(paths the policy lets the model see, how many were left out)."""
        self.hidden(".")  # builds the filter
        assert self._hidden_filter is not None
        return self._hidden_filter.split(list(rels))


class HiddenFilter:
    """The policy's read check, fast enough for 100,000 paths.

    The policy is the authority. It is asked only about paths that contain, in any case, a
    literal piece of one of the deny_read globs (".env", ".ssh", "id_rsa", ".pem", ...): a path
    without any of them cannot match a glob, whatever the glob syntax. A glob without a literal
    piece sends every path to the policy.
    """

    def __init__(self, globs: Iterable[str], denied: Callable[[str], bool]):
        self._denied = denied
        pieces = []
        self._ask_always = False
        for glob in globs:
            runs = [r for r in re.split(r"\[[^\]]*\]|[*?\[\]/]", glob) if r]
            if not runs:
                self._ask_always = True
                continue
            pieces.append(max(runs, key=len).lower())
        self._pieces = tuple(sorted(set(pieces)))
        self._cache: dict[str, bool] = {}

    def split(self, rels: list[str]) -> tuple[list[str], int]:
        """(the paths that may be shown, how many were left out), for a whole listing at once: the
        literal pieces are looked for in one lower-cased text, so 100,000 clean paths cost ~30 ms."""
        if self._ask_always:
            shown = [rel for rel in rels if not self(rel)]
            return shown, len(rels) - len(shown)
        text = "\n".join(rels).lower()
        starts: list[int] | None = None
        suspects: set[int] = set()
        for piece in self._pieces:
            at = text.find(piece)
            if at >= 0 and starts is None:
                starts = [0, *itertools.accumulate(len(rel) + 1 for rel in rels)]
            while at >= 0:
                assert starts is not None
                suspects.add(bisect.bisect_right(starts, at) - 1)
                at = text.find(piece, at + 1)
        hidden = {index for index in suspects if self(rels[index])}
        if not hidden:
            return rels, 0
        return [rel for index, rel in enumerate(rels) if index not in hidden], len(hidden)

    def __call__(self, rel: str) -> bool:
        rel = rel.replace(os.sep, "/")
        low = rel.lower()
        if not self._ask_always and not any(piece in low for piece in self._pieces):
            return False
        found = self._cache.get(rel)
        if found is None:
            found = self._cache[rel] = self._denied(rel)
        return found
