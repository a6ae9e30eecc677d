"""The `--json` events, each declared once as a type: what a session emits is built from these
(a missing field, an unknown one or a wrong type fails where the event is made), and their JSON
Schema, shipped as docs/events.schema.json and printed by `agent-runtime --json-schema`, is
generated from them.

Every line on stdout also has `type` (the event's kind) and `time` (ISO 8601, UTC), which the
stream adds (cli/jsonout.py). Every field is always there; `X | None` ones may be null.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agent_runtime.agent.frontend import Frontend


class Event(BaseModel):
    # strict: an int where a string belongs (or a bool where a count does) is a bug, not a value to convert
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    kind: ClassVar[str]

    def fields(self) -> dict[str, Any]:
        return self.model_dump()


def emit(display: Frontend, event: Event) -> None:
    display.event(event.kind, **event.fields())


class Resumed(Event):
    """First, with --continue / --resume: the conversation the task continues."""

    kind = "resumed"
    run_id: str
    runs: list[str] = Field(description="the conversation's runs, oldest first")
    tasks: int
    steps: int
    patches: list[str] = Field(description="patch ids back in play")


class RunStarted(Event):
    kind = "run_started"
    run_id: str
    task: str
    model: str
    repo: str
    approval: str
    sandbox: str
    max_steps: int


class Plan(Event):
    """With a planner, before a fix's first request (docs/models.md)."""

    kind = "plan"
    model: str
    targets: list[str] = Field(description="`path::name` the coder is shown and may change")
    problem: str | None
    dropped: list[str] = Field(description="names that are not the code's")
    used: bool
    note: str | None = Field(description="why there is no plan")
    seconds: float


class HarnessStep(Event):
    """What the runtime ran or asked on its own, outside a step (the failing tests before the first
    request, a reply discarded and asked again)."""

    kind = "harness_step"
    what: str
    seconds: float | None


class StepStarted(Event):
    kind = "step_started"
    step: int


class ModelReply(Event):
    kind = "model_reply"
    step: int
    thought: str
    code: str


class ToolCall(Event):
    kind = "tool_call"
    step: int | None = Field(description="null: the harness's own call, outside a step")
    tool: str
    arguments: dict[str, Any]
    outcome: str = Field(description="ok / error / refused / loop")
    decision: str = Field(description="allow / ask / deny")
    rule: str | None
    approval: str = Field(description="approved / denied / not_required")
    approval_source: str | None
    error: str | None
    result: str = Field(description="what came back in a few words: the error, `tests failed: 1 failed, 2 passed`, "
                                    "`patch p3 applied`, `exit code 0`")
    seconds: float


class FileChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    path: str
    status: str
    added: int
    removed: int


class PatchApplied(Event):
    kind = "patch_applied"
    patch_id: str
    files: list[FileChange]


class StepEnded(Event):
    kind = "step_ended"
    step: int
    observation: str
    error: str | None
    seconds: float | None = Field(description="without the time at approval prompts")
    tokens_in: int
    tokens_out: int
    approval_s: float
    context_tokens: int | None
    context_window: int | None
    cost_usd: float | None


class FinalAnswer(Event):
    kind = "final_answer"
    answer: str


class WarningEvent(Event):
    kind = "warning"
    message: str


class ErrorEvent(Event):
    kind = "error"
    message: str


class RunEnded(Event):
    """Last: the task's outcome and figures (agent/runlog.py; cli/main.py for a run that could not start)."""

    kind = "run_ended"
    run_id: str | None = Field(description="null: the run could not start")
    status: str = Field(description="answered / step_limit / repeated / gave_up / interrupted / error / reader_closed")
    exit_code: int
    steps: int
    tokens_in: int
    tokens_out: int
    model_s: float
    wall_s: float
    parse_errors: int
    code_errors: int
    format_retries: int
    files_changed: list[str]
    not_covered: list[str] = Field(default_factory=list, description="what commands deleted or changed that undo "
                                   "cannot put back: caches, environments, files past the checkpoints' size limits, "
                                   "setuid/setgid bits")
    error: str | None
    approval_s: float
    cost_usd: float | None
    context_tokens: int | None
    context_window: int | None
    tests_passed: bool | None
    tests_stale: bool = Field(description="a patch applied or undone after the last run_tests: tests_passed says "
                                          "nothing of the files now")
    tools_s: float
    tests_s: float
    attempts: int
    prompt_s: float | None
    generation_s: float | None
    prompt_tokens: int | None
    prompt_evaluated: int | None
    models: dict[str, str | None] | None = Field(description="role -> the model that played it: coder, planner, "
                                                             "judge (null when none)")
    time_to_first_request_s: float | None = Field(description="from the task's start to its first model request; "
                                                              "null when none was made")
    refusals: int = Field(description="tool calls the policy, a hook or a person refused")
    refused: list[str] = Field(description="each refusal as `tool: why`")

    @classmethod
    def not_started(cls, exit_code: int, error: str) -> RunEnded:
        """A run that could not start (a bad configuration, an unreachable model): nothing was done."""
        return cls(run_id=None, status="error", exit_code=exit_code, steps=0, tokens_in=0, tokens_out=0, model_s=0.0,
                   wall_s=0.0, parse_errors=0, code_errors=0, format_retries=0, files_changed=[], error=error,
                   approval_s=0.0, cost_usd=None, context_tokens=None, context_window=None, tests_passed=None,
                   tests_stale=False, tools_s=0.0, tests_s=0.0, attempts=0, prompt_s=None, generation_s=None,
                   prompt_tokens=None, prompt_evaluated=None, models=None, time_to_first_request_s=None,
                   refusals=0, refused=[])


EVENTS: dict[str, type[Event]] = {e.kind: e for e in (
    Resumed, RunStarted, Plan, HarnessStep, StepStarted, ModelReply, ToolCall, PatchApplied, StepEnded,
    FinalAnswer, WarningEvent, ErrorEvent, RunEnded)}


def events_schema() -> dict[str, Any]:
    """The JSON Schema of one line of `--json`: one of the events, each with `type` and `time`."""
    from pydantic.json_schema import models_json_schema

    _, generated = models_json_schema([(e, "serialization") for e in EVENTS.values()],
                                      ref_template="#/$defs/{model}")
    defs = generated["$defs"]
    for schema in defs.values():
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)  # "Run Id" for run_id: noise
    for event in EVENTS.values():
        schema = defs[event.__name__]
        schema["title"] = event.kind
        schema["properties"] = {"type": {"const": event.kind},
                                "time": {"type": "string", "format": "date-time"}, **schema["properties"]}
        schema["required"] = ["type", "time", *schema.get("required", [])]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "agent-runtime --json events",
            "description": "One line of `agent-runtime --json TASK`'s stdout. Generated from "
                           "agent_runtime/agent/events.py (`agent-runtime --json-schema`).",
            "oneOf": [{"$ref": f"#/$defs/{e.__name__}"} for e in EVENTS.values()],
            "$defs": defs}


def schema_text() -> str:
    """The schema as shipped (docs/events.schema.json) and printed (`agent-runtime --json-schema`)."""
    import json

    return json.dumps(events_schema(), indent=2, ensure_ascii=False) + "\n"
