"""The planner: a second model that reads a failure and says where the fix belongs, before the
coder's first request (the planner/coder mode, as a clear two-stage loop).

When a planner is set (models/roles.py: `--model coder=...,planner=...`, PLANNER_MODEL, the models
file) and a task asks for a change with failing tests in front of it (agent/start.py), the planner
is sent one request: the task, the failing tests' output, the failing test's code, and a compact
map of the functions that could hold the bug (what code/focus.py ranks for the failure). It answers
with one JSON object -- what is wrong, in a sentence or two, and up to PLAN_MAX_TARGETS of those
functions (`path::Qualified.name`) -- held to that form, and to the candidates' names, by a grammar
on llama.cpp servers (a JSON schema on Ollama). Targets that do not name a function of the
repository's code (a test, a file or function that does not exist) are dropped.

What the plan changes: the coder is shown those functions (instead of what the failure's ranking
would show), may change only them, and its request carries the plan's sentence. With no usable
plan (a reply that is not the form, no target left, the planner unreachable) the coder goes on
exactly as it would alone, and the user is told why.

Read-only by construction: the planner is a completion, not an agent. It gets no tools, its reply
is parsed as data (never run), and nothing of it reaches the workspace but the names it picks.
Its request is an LLM span with llm.role=planner under a CHAIN span `plan` (the targets as
attributes); the run record keeps the plan (metadata.json `plan`), the front end shows it (`plan`).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from agent_runtime.code.focus import failure_focus, is_test_path
from agent_runtime.code.frames import parse_failure
from agent_runtime.code.index import RepoIndex
from agent_runtime.code.repomap import rank_files

if TYPE_CHECKING:
    from agent_runtime.models.roles import RoleModel

PLAN_MAX_TARGETS = 3
PLAN_CANDIDATES = 24  # functions listed for the planner to choose from
PLAN_OUTPUT_CHARS = 3000  # of the failing tests' output (its end: the failures and the summary)
PLAN_TEST_CHARS = 1500  # of the failing test's code
PLAN_MAX_TOKENS = 160  # a sentence and three names
PLAN_WINDOW = 8192  # a planner's own embedded server, when it starts one
PROBLEM_CHARS = 300
PLAN_ASK = (
    "Another model will write the fix; you only say where it goes. Reply with one JSON object and nothing else: "
    '{{"problem": "one or two sentences: what is wrong and where", "targets": ["path::name", ...]}}, naming 1 to '
    "{n} of the functions listed above that the fix must change, the most likely first. Do not write code."
)


@dataclass(frozen=True)
class Candidate:
    key: str  # `path::Qualified.name`
    signature: str


@dataclass
class PlanRequest:
    """What the planner is shown, and how its answer is checked (the repository's code by name)."""

    task: str
    output: str
    candidates: list[Candidate]
    test_source: str = ""  # the failing test's code, under its heading
    index: Any = None  # code/index.RepoIndex: does a named function exist
    files: tuple[str, ...] = ()  # the files the fix may change (targets elsewhere are dropped)

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.candidates]

    def messages(self) -> list[dict[str, Any]]:
        output = self.output if len(self.output) <= PLAN_OUTPUT_CHARS else "...\n" + self.output[-PLAN_OUTPUT_CHARS:]
        parts = [f"Task: {self.task.strip()}", f"The tests, run just now:\n{output.strip()}"]
        if self.test_source:
            parts.append(f"The failing test:\n{self.test_source}")
        parts.append("The functions that could hold the bug (path::name: its first line):\n"
                     + "\n".join(f"- {c.key}: {c.signature}" for c in self.candidates))
        parts.append(PLAN_ASK.format(n=PLAN_MAX_TARGETS))
        return [{"role": "user", "content": [{"type": "text", "text": "\n\n".join(parts)}]}]

    def exists(self, key: str) -> bool:
        """A function, method or class of the code the fix may change (never a test)."""
        path, sep, name = key.partition("::")
        if not sep or not name or is_test_path(path) or (self.files and path not in self.files):
            return False
        if key in self.keys:
            return True
        return self.index is not None and self.index.symbol(path, name) is not None


@dataclass
class Plan:
    """The planner's answer: where the fix goes (checked names) and what is wrong; or why there is none."""

    targets: list[str] = field(default_factory=list)
    problem: str = ""
    dropped: list[str] = field(default_factory=list)  # names the planner gave that are not the code's
    note: str | None = None  # why the plan is not used (None: it is)
    model: str = ""
    seconds: float = 0.0

    @property
    def used(self) -> bool:
        return bool(self.targets) and self.note is None

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "targets": list(self.targets), "problem": self.problem or None,
                "dropped": list(self.dropped), "used": self.used, "note": self.note, "seconds": round(self.seconds, 3)}

    def for_coder(self) -> str:
        """What the coder's first message says of the plan."""
        problem = f" {self.problem}" if self.problem else ""
        return (f"\n\nA first reading of the failure (by a planning model):{problem} The code to change: "
                f"{', '.join(self.targets)}.")


def plan_request(repo: Path, files: list[str], output: str, task: str, readable: Callable[[str], bool],
                 code_files: list[str] | tuple[str, ...], cache_dir: Path | None = None) -> PlanRequest | None:
    """The planner's request for this failure: the functions the failure goes through (ranked as the
    coder's focus ranks them), then the other definitions of the code files; None when the
    repository has no Python function to name."""
    index = RepoIndex(repo, files, cache_dir=cache_dir, readable=readable)
    failure = parse_failure(output, files)
    ranked = failure_focus(index, failure, task)
    candidates: dict[str, Candidate] = {}
    test_source = ""
    for item in ranked:
        if item.role == "test":
            if not test_source:
                text = index.text(item.path) or ""
                source = "\n".join(text.splitlines()[item.symbol.start - 1:item.symbol.end])[:PLAN_TEST_CHARS]
                test_source = f"### {item.key}\n```python\n{source}\n```"
            continue
        if item.symbol.kind != "class":
            candidates.setdefault(item.key, Candidate(item.key, item.symbol.signature))
    # The rest of the code the fix may change (a small repository's files), then the files ranked for the task.
    more = [p for p in code_files if p.endswith(".py")] + [p for p, _, _ in rank_files(index, task)]
    for path in dict.fromkeys(more):
        if len(candidates) >= PLAN_CANDIDATES:
            break
        if is_test_path(path) or (code_files and path not in code_files):
            continue
        facts = index.facts(path)
        for symbol in facts.symbols if facts else []:
            if symbol.kind != "class" and len(candidates) < PLAN_CANDIDATES:
                candidates.setdefault(f"{path}::{symbol.name}", Candidate(f"{path}::{symbol.name}", symbol.signature))
    index.save()
    if not candidates:
        return None
    return PlanRequest(task, output, list(candidates.values())[:PLAN_CANDIDATES], test_source, index,
                       tuple(code_files))


_OBJECT = re.compile(r"\{.*\}", re.S)


def read_plan(text: str, request: PlanRequest) -> Plan:
    """The plan in a reply (a JSON object with `problem` and `targets`), its names checked: each must
    name a function of the code the fix may change. Anything else is no plan, with a note why."""
    found = _OBJECT.search(text or "")
    try:
        data = json.loads(found.group(0), strict=False) if found else None  # a tab in the sentence
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
        return Plan(note="the planner's reply was not a plan ({\"problem\": ..., \"targets\": [...]})")
    problem = data.get("problem")
    problem = " ".join(problem.split())[:PROBLEM_CHARS] if isinstance(problem, str) else ""
    targets: list[str] = []
    dropped: list[str] = []
    for target in data["targets"]:
        key = str(target).strip().strip("`").removeprefix("./") if isinstance(target, (str, int, float)) else ""
        if key and request.exists(key) and key not in targets and len(targets) < PLAN_MAX_TARGETS:
            targets.append(key)
        elif key not in targets:
            dropped.append(str(target)[:200])
    plan = Plan(targets, problem, dropped)
    if not targets:
        plan.note = ("the plan named no function of the code"
                     + (f" ({', '.join(dropped[:3])} {'is' if len(dropped) == 1 else 'are'} not one)" if dropped else ""))
    return plan


class Planner:
    """The planner's model: opened on its first plan (a session that never plans starts none),
    one completion per plan, closed with the session. `telemetry`: the session's (an LLM span per
    call, llm.role planner, inside the CHAIN span `plan`). `coder_kind`: the coder's registry kind,
    whose embedded server (or the eval's shared one) the planner uses when both are the same model."""

    def __init__(self, settings: Any, chosen: "RoleModel", telemetry: Any, ui: Any, coder_kind: Any = None):
        # Its own short answers, cool; MODEL_GGUF is the coder's, not the planner's.
        self.settings = replace(chosen.apply(settings), model_gguf=None, model_max_tokens=PLAN_MAX_TOKENS,
                                model_temperature=0.0,
                                model_context_window=chosen.entry.context_window or PLAN_WINDOW)
        self.base_settings = settings
        self.chosen = chosen
        self.telemetry = telemetry
        self.ui = ui
        self.coder_kind = coder_kind
        self.kind: Any = None
        self.opened: Any = None
        self.label = chosen.describe()

    def use_coder_kind(self, kind: Any) -> None:
        """The coder changed (/model): a planner on the same embedded model uses its server."""
        self.coder_kind = kind

    def _open(self) -> Any:
        from agent_runtime.agent.tracing import trace_model
        from agent_runtime.models.registry import EmbeddedKind, kind_for

        kind = kind_for(self.settings, self.settings.model_id, endpoints=self.chosen.endpoints(self.base_settings),
                        limits=self.chosen.limits())
        if isinstance(kind, EmbeddedKind):
            kind.shared = _same_embedded(kind, self.coder_kind)
            if kind.shared and self.coder_kind.api_base:
                kind.api_base_override = self.coder_kind.api_base  # the coder's own server: no second one
        self.kind = kind
        kind.start(self.ui)
        self.opened = kind.open(self.ui, lambda old, new, why: self.ui.warn(
            f"planner: {old} is not available ({why}); using {new}"))
        self.label = self.opened.label
        # Its spans list the coder's rules: the planner stage is one of them.
        trace_model(self.opened.model, self.telemetry, lambda: self.opened.label, "planner",
                    lambda: getattr(self.coder_kind, "coaching", None))
        return self.opened

    def __call__(self, request: PlanRequest) -> Plan:
        """One plan: the request, a reply held to the plan's form where the backend can, the reply read."""
        started = time.monotonic()
        with self.telemetry.plan_span(request.messages()[0]["content"][0]["text"], self.chosen.describe()) as span:
            try:
                opened = self.opened or self._open()
                text = self._complete(opened, request)
                plan = read_plan(text, request)
            except Exception as exc:  # noqa: BLE001 - an unreachable planner costs the plan, not the task
                plan = Plan(note=f"the planner failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
            plan.model = self.label
            plan.seconds = time.monotonic() - started
            span.finish(plan.as_dict())
        return plan

    def _complete(self, opened: Any, request: PlanRequest) -> str:
        from agent_runtime.models.grammar import plan_grammar, plan_schema

        model, kind = opened.model, opened.constraint.kind
        options: dict[str, Any] = {"max_tokens": PLAN_MAX_TOKENS, "temperature": 0.0}
        if kind.startswith("gbnf"):
            grammar = plan_grammar(request.keys, PLAN_MAX_TARGETS)
            options["grammar_for"] = lambda _kind: grammar
        elif kind.startswith("schema"):
            for inner in [m for _, m in getattr(model, "chain", [])] or [model]:
                inner.json_schema = plan_schema(request.keys, PLAN_MAX_TARGETS)
            options["response_format"] = {"type": "json_object"}
        with self.ui.waiting("The planner is reading the failure…"):
            reply = model.generate(request.messages(), **options)
        content = reply.content
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content or ""

    def close(self) -> None:
        if self.kind is not None:
            self.kind.close()
            self.kind = None


def _same_embedded(kind: Any, coder_kind: Any) -> bool:
    """Whether the planner's embedded model is the coder's (then it uses the coder's server, or the
    eval's shared one, which serves the coder's model; another embedded model starts its own)."""
    from agent_runtime.models.registry import EmbeddedKind

    if not isinstance(coder_kind, EmbeddedKind):
        return False
    from agent_runtime.models.weights import DEFAULT_KEY

    return (kind.key or DEFAULT_KEY) == (coder_kind.key or DEFAULT_KEY)
