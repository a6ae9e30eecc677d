"""The conversation on disk, one part of a session: its id (its first run's), the run the next one
follows, the run being recorded, the memory steps already written to that run's steps.jsonl, whether
the next task starts afresh, and what changed since the last task (said with the next one).

Changed only through its methods: agent/runlog.py begins a run, agent/resume.py takes a recorded
one up, the session resets it and marks a task started, an undo in the REPL leaves a note."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Conversation:
    id: str | None = None
    previous_run: str | None = None
    last_run: Any = None  # telemetry/records.py RunRecord of the run being (or last) recorded
    steps_saved: int | None = None  # memory steps written to last_run's steps.jsonl (None: not begun)
    fresh: bool = True  # the next task starts a new conversation (smolagents empties its memory)
    notes: list[str] = field(default_factory=list)

    def begin(self, record: Any) -> None:
        """A task's run is recorded: it belongs to this conversation and is the one the next follows."""
        self.last_run = record
        self.id, self.previous_run = record.metadata["conversation"], record.id
        self.steps_saved = None

    def take_up(self, conversation: str | None, run_id: str | None, note: str | None) -> None:
        """A recorded conversation goes on (agent/resume.py); `note`: what changed on disk since."""
        self.fresh, self.id, self.previous_run = False, conversation, run_id
        self.notes = [note] if note else []

    def saved_up_to(self, count: int | None) -> None:
        self.steps_saved = count

    def task_started(self) -> None:
        self.fresh = False

    def note(self, text: str) -> None:
        self.notes.append(text)

    def take_notes(self) -> list[str]:
        """What changed since the last task, said once with the next one."""
        notes, self.notes = self.notes, []
        return notes

    def reset(self) -> None:
        self.fresh, self.id, self.previous_run = True, None, None
        self.notes = []
