"""What every tool is: a smolagents Tool whose calls all go through the one wrapper.

A tool subclass declares its inputs (as smolagents wants), how each input is checked
(`checks`), what the policy should judge (`action`), and does its work in `run`, which
receives validated arguments and returns a dict. It knows nothing of tracing, policy or
approval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar

from smolagents import Tool

from agent_runtime.core import Action

if TYPE_CHECKING:
    from agent_runtime.tools.runtime import Runtime


# A check turns one raw argument into a validated value or raises ToolError.
Check = Callable[[Any, "Runtime"], Any]


class RuntimeTool(Tool):
    """Base of all agent_runtime tools."""

    output_type = "object"
    # The signature is generic on purpose: arguments are bound and checked in the wrapper.
    skip_forward_signature_validation = True
    checks: ClassVar[dict[str, Check]] = {}
    # Result fields where the end matters more than the start (command output).
    keep_tail: ClassVar[frozenset[str]] = frozenset()
    # "never", "always", or "policy" (decided per command by policy.toml); for `tools`.
    approval: ClassVar[str] = "never"

    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        super().__init__()

    def __call__(self, *args: Any, sanitize_inputs_outputs: bool = False, **kwargs: Any) -> Any:
        # Tool.__call__ is what OpenInference wraps in a TOOL span; skipping it leaves the
        # wrapper's span as the one span of this call.
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        from agent_runtime.tools.wrapper import invoke

        return invoke(self, args, kwargs)

    def action(self, **args: Any) -> Action | None:
        """What the policy should judge for these (validated) arguments; None: nothing to judge."""
        return None

    def run(self, **args: Any) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def workspace(self):
        return self.runtime.workspace
