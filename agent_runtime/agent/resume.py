"""Conversations that outlive the process: each step is written to the run's steps.jsonl as it
ends, and `--continue` / `--resume RUN_ID` / `/resume` rebuild the agent's memory from them.

A conversation is a chain of runs (one per task; `previous_run` in each run's metadata links
a task to the one before it in the same conversation, until /reset). Rebuilding follows the
chain back from the run named, oldest task first, and gives the agent the same TaskSteps and
ActionSteps it had: PromptMemory then renders them exactly as it did live, so the requests of
the resumed conversation keep a byte-stable prefix from step to step (and, when older steps no
longer fit the window, are compacted in blocks as a live conversation is). Each task is shown
with the repository facts it was first shown with (they are saved with it), not today's.

What comes back: the tasks, the model's replies and code, observations, errors, token counts,
the proposed patches of the conversation (their applied state from the undo journal). What does
not: variables the model's code set (the interpreter process is new) and session approvals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_runtime.telemetry.records import load_steps

MAX_RUNS = 200  # runs followed back along a conversation; older tasks are left out (said so)
MAX_STEPS = 2000  # steps rebuilt at most; the window holds far fewer, PromptMemory omits the rest in blocks


class ResumeError(Exception):
    """A run cannot be resumed; the message says why and what to do."""


@dataclass
class Conversation:
    run_id: str  # the run resumed from (the newest of the chain)
    runs: list[str]  # the chain, oldest first
    items: list[dict[str, Any]]  # steps.jsonl lines ("task" and "step"), oldest first
    metadata: dict[str, Any]  # the resumed run's metadata
    conversation: str | None = None  # the conversation's id (its first run's id)
    session_id: str | None = None
    left_out: int = 0  # earlier runs not followed (MAX_RUNS, a missing or old run)
    notes: list[str] = field(default_factory=list)

    @property
    def tasks(self) -> int:
        return sum(1 for i in self.items if i.get("type") == "task")

    @property
    def steps(self) -> int:
        return sum(1 for i in self.items if i.get("type") == "step")

    @property
    def last_task(self) -> str:
        """The newest task as the person typed it (without attached files' content)."""
        if isinstance(self.metadata.get("task"), str):
            return self.metadata["task"]
        tasks = [str(i.get("task", "")) for i in self.items if i.get("type") == "task"]
        return tasks[-1] if tasks else ""


def _metadata(directory: Path) -> dict[str, Any]:
    from agent_runtime.telemetry.records import load_run

    return load_run(directory)


def load_conversation(runs_dir: Path, directory: Path, repo: Path | None = None) -> Conversation:
    """The conversation that run `directory` belongs to, up to and including it."""
    metadata = _metadata(directory)
    run_id = directory.name
    if repo is not None and metadata.get("repo") not in (None, str(repo)):
        raise ResumeError(f"run {run_id} worked on {metadata.get('repo')}, not on {repo}: resume it there with "
                          f"agent-runtime --repo {metadata.get('repo')} --resume {run_id}")
    if not (directory / "steps.jsonl").exists():
        raise ResumeError(f"run {run_id} was recorded before runs kept their steps (no steps.jsonl), so its "
                          "conversation cannot be rebuilt; start a new one")
    if metadata.get("outcome") == "running":
        raise ResumeError(f"run {run_id} is still running (pid in {directory / '.running'}); wait for it, or stop it "
                          "first")
    chain: list[tuple[str, list[dict[str, Any]]]] = []
    notes: list[str] = []
    current: Path | None = directory
    current_meta = metadata
    left_out = 0
    steps = 0
    seen: set[str] = set()
    while current is not None:
        if len(chain) >= MAX_RUNS or steps >= MAX_STEPS:
            left_out += 1
            break
        seen.add(current.name)
        items = [i for i in load_steps(current) if i.get("type") in ("task", "step")]
        chain.append((current.name, items))
        steps += sum(1 for i in items if i.get("type") == "step")
        previous = current_meta.get("previous_run")
        if not previous or previous in seen:
            break
        candidate = Path(runs_dir) / str(previous)
        if "/" in str(previous) or not (candidate / "metadata.json").is_file():
            notes.append(f"the earlier run {previous} of this conversation is gone; its tasks are left out")
            left_out += 1
            break
        if not (candidate / "steps.jsonl").exists():
            notes.append(f"the earlier run {previous} has no steps.jsonl; it and older tasks are left out")
            left_out += 1
            break
        current, current_meta = candidate, _metadata(candidate)
    chain.reverse()
    items = [item for _, run_items in chain for item in run_items]
    if not any(i.get("type") == "task" for i in items):
        raise ResumeError(f"run {run_id} has no recorded task to continue from (it was stopped before it began); "
                          "pick another with agent-runtime runs")
    return Conversation(run_id, [name for name, _ in chain], items, metadata,
                        conversation=metadata.get("conversation") or (chain[0][0] if chain else run_id),
                        session_id=metadata.get("session_id"), left_out=left_out, notes=notes)


# --- memory steps <-> lines of steps.jsonl ---


def write_steps(record: Any, steps: list[Any], saved: int, contexts: dict[str, str]) -> int:
    """Write the memory steps from `saved` on to the run's steps.jsonl; how many are written now."""
    from smolagents.memory import ActionStep, TaskStep

    for step in steps[saved:]:
        if isinstance(step, TaskStep):
            record.step("task", **task_line(step, contexts.get(step.task)))
        elif isinstance(step, ActionStep):
            record.step("step", **step_line(step))
    return len(steps)


def restore_patches(runtime: Any, conversation: str) -> tuple[list[Any], str | None]:
    """The conversation's proposed patches back in the runtime's store: (those applied, a note of the
    ones undone since, if any). The conversation numbers on in its session, so its patches keep their ids
    (patches/ids.py)."""
    from agent_runtime.patches.ids import sort_key

    runtime.journal.take_up(conversation)
    patches = runtime.journal.proposals(conversation)
    runtime.patches.restore(patches)
    applied_ids = {p.id for p in patches if p.applied}
    undone = sorted({e.shown for e in runtime.journal.history() if e.undone} & {p.id for p in patches} - applied_ids,
                    key=sort_key)
    note = None
    if undone:  # applied in the conversation, undone since (or restored by hand)
        note = (f"patch {', '.join(undone)} {'was' if len(undone) == 1 else 'were'} undone: "
                "the files are back as they were before")
    return [p for p in patches if p.applied], note


def task_line(step: Any, context: str | None) -> dict[str, Any]:
    return {"task": step.task, "context": context}


def step_line(step: Any) -> dict[str, Any]:
    """An ActionStep as a line: what PromptMemory renders (model output, observation, error) and
    the facts `runs` and the display need (step number, tokens, timing, final answer)."""
    error = getattr(step, "error", None)
    usage = getattr(step, "token_usage", None)
    timing = getattr(step, "timing", None)
    output = step.model_output if isinstance(step.model_output, str) else None
    return {
        "step": step.step_number,
        "model_output": output,
        "code": step.code_action,
        "observation": step.observations,
        "error": {"type": type(error).__name__, "message": str(error)} if error is not None else None,
        "tokens_in": usage.input_tokens if usage else 0,
        "tokens_out": usage.output_tokens if usage else 0,
        "started": getattr(timing, "start_time", None),
        "ended": getattr(timing, "end_time", None),
        "final": bool(getattr(step, "is_final_answer", False)),
    }


def _error(info: Any) -> Any:
    """An agent error with the recorded class and message (str() gives the message back as it was)."""
    if not isinstance(info, dict):
        return None
    from agent_runtime.smol import rebuild_error

    return rebuild_error(str(info.get("type")), str(info.get("message", "")))


def memory_steps(items: list[dict[str, Any]]) -> tuple[list[Any], dict[str, str]]:
    """smolagents memory steps from the lines, and each task's context for PromptMemory."""
    from smolagents.memory import ActionStep, TaskStep
    from smolagents.monitoring import Timing, TokenUsage

    steps: list[Any] = []
    contexts: dict[str, str] = {}
    for item in items:
        if item.get("type") == "task":
            task = str(item.get("task", ""))
            steps.append(TaskStep(task=task))
            if isinstance(item.get("context"), str):
                contexts.setdefault(task, item["context"])
        elif item.get("type") == "step":
            started = item.get("started") if isinstance(item.get("started"), (int, float)) else 0.0
            ended = item.get("ended") if isinstance(item.get("ended"), (int, float)) else started
            steps.append(ActionStep(
                step_number=int(item.get("step") or 0),
                timing=Timing(start_time=started, end_time=ended),
                model_output=item.get("model_output") if isinstance(item.get("model_output"), str) else None,
                code_action=item.get("code") if isinstance(item.get("code"), str) else None,
                observations=item.get("observation") if isinstance(item.get("observation"), str) else None,
                error=_error(item.get("error")),
                token_usage=TokenUsage(int(item.get("tokens_in") or 0), int(item.get("tokens_out") or 0)),
                is_final_answer=bool(item.get("final")),
            ))
    return steps, contexts


def describe(conversation: Conversation) -> str:
    """One line for the person: what was picked up."""
    task = " ".join(conversation.last_task.split())
    task = task if len(task) <= 60 else task[:59] + "…"
    runs = f" over {len(conversation.runs)} runs" if len(conversation.runs) > 1 else ""
    return (f"Continuing run {conversation.run_id}: {_count(conversation.tasks, 'task')}, "
            f"{_count(conversation.steps, 'step')}{runs}; last task: {json.dumps(task, ensure_ascii=False)}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def pick_run(runs_dir: Path, repo: Path, run_id: str | None = None) -> Path:
    """The run `--continue` (run_id None or "last": the newest in this repository) or
    `--resume RUN_ID` (any unique part of an id) means."""
    from agent_runtime.telemetry.records import find_runs, latest_run

    if run_id is None or run_id == "last":
        found = latest_run(runs_dir, repo)
        if found is None:
            raise ResumeError(f"there is no earlier run in {repo} to continue (runs are kept in {runs_dir}); "
                              'start one with: agent-runtime "TASK"')
        return found
    matches = find_runs(runs_dir, run_id)
    if not matches:
        raise ResumeError(f"no run matches {run_id!r} in {runs_dir} (agent-runtime runs lists them)")
    if len(matches) > 1:
        shown = ", ".join(m.name for m in matches[:5]) + (", …" if len(matches) > 5 else "")
        raise ResumeError(f"{run_id!r} matches {len(matches)} runs ({shown}): give more of the id")
    return matches[0]


def take_up(session: Any, conversation: Conversation) -> None:
    """The session takes up a recorded conversation: the agent's memory, the tasks' context, the
    proposed patches; its next task continues it."""
    from agent_runtime.smol import set_memory

    steps, contexts = memory_steps(conversation.items)
    session.runtime.reset()
    if session.prompt_memory is not None:
        session.prompt_memory.reset()
        session.prompt_memory.task_context.update(contexts)
    set_memory(session.agent, steps)
    applied, note = (restore_patches(session.runtime, conversation.conversation)
                     if session.runtime.journal is not None and conversation.conversation else (session.applied, None))
    session.continued(conversation.conversation, conversation.run_id, conversation.session_id, applied, note)
    from agent_runtime.agent.events import Resumed, emit

    emit(session.display, Resumed(run_id=conversation.run_id, runs=conversation.runs, tasks=conversation.tasks,
                                  steps=conversation.steps, patches=[p.id for p in session.runtime.patches.all()]))
