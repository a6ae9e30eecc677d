"""The session's parts, in one object: what the wrapper and the tools reach through `tool.runtime`."""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator

from agent_runtime.config import Settings, state_home
from agent_runtime.core import Action, CallRecord, Decision, Workspace, within
from agent_runtime.patches.checkpoint import MAX_BYTES, Store, git_ignore_lines
from agent_runtime.patches.mark import Mark, around
from agent_runtime.patches.storekey import checkpoint_dir
from agent_runtime.patches.undo import UndoJournal
from agent_runtime.safety.approval import Approver
from agent_runtime.safety.policy import Policy
from agent_runtime.safety.policy.containment import SandboxState
from agent_runtime.safety.sandbox import Sandbox
from agent_runtime.telemetry.spans import Telemetry
from agent_runtime.tools.history import SessionState
from agent_runtime.tools.hooks import Hooks
from agent_runtime.tools.mcpclient import McpClients
from agent_runtime.tools.patch import PatchStore
from agent_runtime.tools.results import ToolResult
from agent_runtime.tools.wrapper import invoke

if TYPE_CHECKING:
    from agent_runtime.core import ApprovalResult
    from agent_runtime.patches.apply import Patch
    from agent_runtime.tools.base import RuntimeTool
    from agent_runtime.tools.mcpconfig import ServerConfig
    from agent_runtime.tools.skillset import Skills


STEPS_FOR_JUDGE = 6


def undo_dir() -> Path:
    return state_home() / "undo"


def checkpoint_store(workspace: Workspace, policy: Policy, max_bytes: int = MAX_BYTES) -> Store:
    """The workspace's checkpoint store (<state home>/checkpoints/<key>, patches/storekey.py), never holding
    what the policy hides, nor more than `max_bytes` (CHECKPOINT_MAX_BYTES)."""
    return Store(checkpoint_dir(state_home(), workspace.root), workspace.root,
                 hidden=lambda rel: policy.read_denied(rel) is not None,
                 excludes=git_ignore_lines(policy.deny_read, policy.allow_read), max_bytes=max_bytes)


def sandbox_state(sandbox: Sandbox, network: bool) -> SandboxState:
    """Whether commands run contained: in bubblewrap, without the network."""
    if sandbox.kind != "bwrap":
        return SandboxState(False, sandbox.isolation.note or "bubblewrap does not run here")
    if network:
        return SandboxState(False, "the policy gives sandboxed commands the network ([sandbox] network = true)")
    return SandboxState(True)


def mcp_clients(policy: Policy, workspace: Workspace, use_bwrap: bool | None,
                servers: list["ServerConfig"] | None = None) -> McpClients | None:
    """The user's MCP servers (their own mcp.toml, never a repository's file, unless `servers` are
    given), their tools' decisions added to the policy; None when none is configured."""
    from agent_runtime.tools.mcpconfig import load_servers

    servers = load_servers() if servers is None else servers
    if not servers:
        return None
    policy.mcp.add_servers(servers)
    return McpClients(servers, workspace.root, policy.deny_read, use_bwrap=use_bwrap)


def describe_call(record: CallRecord) -> str:
    """One line of a tool call for the judge: the tool, its arguments, how it ended."""
    arguments = ", ".join(f"{k}={str(v)[:120]!r}" for k, v in record.arguments.items())
    facts = ", ".join(f"{k}={v}" for k, v in record.facts.items() if k in ("exit_code", "passed", "error"))
    return f"{record.tool}({arguments}) -> {record.outcome}" + (f" ({facts[:200]})" if facts else "")


@dataclass
class Runtime:
    settings: Settings
    workspace: Workspace
    policy: Policy
    approver: Approver
    sandbox: Sandbox
    telemetry: Telemetry = field(default_factory=Telemetry)
    state: SessionState = field(default_factory=SessionState)
    patches: PatchStore = field(default_factory=PatchStore)
    # Listeners: the run record and the undo journal subscribe here.
    call_listeners: list[Callable[[CallRecord, Decision | None, "ApprovalResult | None"], None]] = field(default_factory=list)
    patch_listeners: list[Callable[["Patch"], None]] = field(default_factory=list)
    undo_listeners: list[Callable[[str], None]] = field(default_factory=list)  # a patch id undone (undo_patch)
    # Wraps step 4 (execution) so a front end can show progress on long calls; no-op by default.
    activity: Callable[[str, dict[str, Any]], ContextManager[Any]] = field(default=lambda name, args: nullcontext())
    journal: UndoJournal | None = None  # the repository's undo history, patch ids and kept proposals
    hooks: Hooks = field(default_factory=Hooks)  # the user's hooks.toml (tools/hooks.py); none by default
    mcp: McpClients | None = None  # the user's MCP servers (tools/mcpclient.py), started when tools are built
    commands_changed: set[str] = field(default_factory=set)  # qualified ids of this session's commands' changes (s2.c4)
    checkpoints_off: str | None = None  # why checkpoints stopped in this session
    skills: "Skills | None" = None  # the Agent Skills (tools/skillset.py), found on first use

    @classmethod
    def create(cls, settings: Settings, repo: Path, approver: Approver, policy: Policy | None = None,
               telemetry: Telemetry | None = None, use_bwrap: bool | None = None) -> "Runtime":
        from agent_runtime.safety.userpolicy import ApprovalStore, load_policy

        # The policy file (POLICY_FILE or the shipped one) with the user's saved approvals over it.
        policy = policy or load_policy(settings.policy_file)
        workspace = Workspace(repo, hidden=policy.deny_read)
        sandbox = Sandbox(workspace.root, hidden_globs=policy.deny_read, allow_network=policy.network,
                          use_bwrap=use_bwrap, runs=settings.runs_path)
        # The policy lets what the sandbox contains run without asking only when commands do run in it.
        policy.sandbox = sandbox_state(sandbox, policy.network)
        approver.sandboxed = policy.sandbox.contains  # the judge approves only what the sandbox contains
        runtime = cls(settings, workspace, policy, approver, sandbox, telemetry or Telemetry())
        sandbox.shown = runtime.user_skill_folders
        if approver.steps is None:  # what the judge (--approval judge) sees of the work so far
            approver.steps = lambda: [describe_call(r) for r in runtime.state.history[-STEPS_FOR_JUDGE:]]
        # The journal stores files' contents: never of files the policy forbids reading.
        store = checkpoint_store(workspace, policy, settings.checkpoint_max_bytes)
        journal = UndoJournal(undo_dir(), workspace, secret=lambda rel: runtime.decide(
            Action("read", paths=(rel,))).decision == "deny", store=store, mine=True)
        runtime.patch_listeners.append(journal.record)
        runtime.journal = journal
        runtime.patches = PatchStore(journal)  # ids numbered per session, unique in the history (patches/ids.py)
        if approver.store is None:
            approver.store = ApprovalStore(policy, workspace.root)  # "always" can be saved for later sessions
        runtime.hooks = Hooks.load(workspace.root)
        runtime.hooks.telemetry = runtime.telemetry
        if runtime.hooks:
            approver.before_prompt = runtime.hooks.before_approval
        runtime.mcp = mcp_clients(policy, workspace, use_bwrap)
        return runtime

    def close(self) -> None:
        """Stop what the runtime started: the MCP servers' processes."""
        if self.mcp is not None:
            self.mcp.close()

    def user_skill_folders(self) -> list[Path]:
        """The user's enabled skills' folders, which the sandbox shows read-only (their scripts run through
        run_cmd); only those inside the user's skills folder, not where a link out of it leads."""
        from agent_runtime.tools.skillset import user_skills_dir

        home = Path(os.path.realpath(user_skills_dir()))
        return [s.folder for s in self.skill_set().enabled if not s.from_repository and within(s.folder, home)]

    def skill_set(self) -> "Skills":
        """The user's skills and the repository's (enabled once the user trusted them as they are)."""
        if self.skills is None:
            from agent_runtime.tools.skillset import discover

            self.skills = discover(self.workspace.root)
        return self.skills

    def invoke(self, tool: "RuntimeTool", args: tuple, kwargs: dict[str, Any]) -> ToolResult:
        """One tool call, through the one path (tools/wrapper.py): what `RuntimeTool.forward` calls."""
        return invoke(tool, args, kwargs)

    @contextmanager
    def checkpoint(self, command: str) -> Iterator[Mark]:
        """Around a sandboxed command: the workspace saved before and after, and its changes an entry
        of the undo history (patches/checkpoint.py, patches/mark.py); nothing when CHECKPOINTS is off."""
        if self.journal is None or not self.settings.checkpoints:
            yield Mark()
            return
        if self.checkpoints_off:  # a snapshot timed out: each command would wait as long again
            yield Mark(note=self.checkpoints_off)
            return
        journal = self.journal
        mark = Mark()
        try:
            with around(journal.store, lambda before, after, changes: journal.record_command(
                    command, before, after, changes)) as mark:
                yield mark
        finally:
            if mark.id:
                self.commands_changed.add(f"{journal.session}.{mark.id}")
            if mark.note and "timed out" in mark.note:
                self.checkpoints_off = f"{mark.note} (checkpoints are off for the rest of this session)"

    def decide(self, action: "Action") -> Decision:
        return self.policy.decide(action, self.workspace.root)

    def observe(self, record: CallRecord, decision: Decision | None, approval: "ApprovalResult | None") -> None:
        for listener in self.call_listeners:
            listener(record, decision, approval)

    def patch_applied(self, patch: "Patch") -> None:
        for listener in self.patch_listeners:
            listener(patch)

    def patch_undone(self, patch_id: str) -> None:
        for listener in self.undo_listeners:
            listener(patch_id)

    def reset(self) -> None:
        self.state.reset()
        self.patches = PatchStore(self.journal)
