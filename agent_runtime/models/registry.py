"""One place that knows the kinds of model: what a model id means, how it starts, how its replies
are constrained, how its tokens are counted, how it is described. The session and the `models`
command ask the kind; nothing else branches on the model id.

    (none), embedded, embedded:KEY   the embedded llama.cpp server on a verified GGUF (or MODEL_GGUF)
    replay:FILE                      recorded replies, in order (tests and demos)
    anything else                    a LiteLLM id (ollama_chat/..., openai/... + MODEL_API_BASE, hosted),
                                     with MODEL_FALLBACK_IDS behind it

Which id each role uses (coder, planner, judge; names of the models file) is models/roles.py's answer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, ContextManager, Protocol

from agent_runtime.config import ConfigError, Settings
from agent_runtime.models.constraints import Constraint, choose_constraint, context_window, is_local
from agent_runtime.models.errors import ModelError
from agent_runtime.models.profiles import Coaching, coaching_for
from agent_runtime.models.tokens import TokenCounter

SHARED_SERVER_ENV = "AGENT_RUNTIME_EMBEDDED_SERVER"  # set by `agent-runtime eval` for its workers


class ModelUI(Protocol):
    """What a kind may show while it starts (the session's front end)."""

    def warn(self, message: str) -> None: ...

    def waiting(self, message: str) -> ContextManager[Any]: ...


@dataclass
class OpenedModel:
    model: Any  # a smolagents Model
    label: str
    constraint: Constraint
    window: int
    reserve_extra: int = 0  # tokens kept spare when the counter only approximates the model's tokenizer
    switches: list[dict[str, str]] = field(default_factory=list)  # fallbacks taken at start-up


class ModelKind:
    """Base of the kinds. `start` begins slow work early (the session overlaps it with imports)."""

    # Does this kind talk to its model through LiteLLM (so the session sets LiteLLM up)? Importing
    # LiteLLM is most of a start-up (seconds): a kind that does not need it never loads it.
    uses_litellm: ClassVar[bool] = True

    @staticmethod
    def span_label(label: str) -> str:
        """What an LLM span is named after, from the session's label of the model."""
        return label

    def __init__(self, settings: Settings, model_id: str | None):
        self.settings = settings
        self.model_id = model_id
        # Fallback id -> (api_base, api_key): a models file's fallbacks bring their own (models/roles.py).
        self.endpoints: dict[str, tuple[str | None, str | None]] = {}
        # Model id -> the models file's `concurrency`: at most that many requests at once (models/slots.py).
        # An id with none (not a model of the file) is not limited.
        self.limits: dict[str, int] = {}
        # The coaching rules the agent runs this model with (models/profiles.py); kind_for adds the file's.
        self.coaching: Coaching = coaching_for(model_id, (), settings.agent_coaching)

    def start(self, ui: ModelUI) -> None:
        pass

    def open(self, ui: ModelUI, on_switch: Callable[[str, str, str], None]) -> OpenedModel:
        raise NotImplementedError

    def counter(self) -> TokenCounter:
        from agent_runtime.models.tokens import estimate_counter

        return estimate_counter()

    def rows(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def cost(self, model_id: str, tokens_in: int, tokens_out: int) -> float | None:
        """What these tokens cost in US dollars, or None when nothing is charged or it is not known."""
        return None

    def close(self) -> None:
        pass

    def limit(self, model: Any, model_id: str, api_base: str | None, ui: ModelUI) -> None:
        """Hold one of the model's request slots around each of its requests, when the models file
        limits it. Every kind that talks to a server calls this on each model it makes: the coder's,
        the planner's and the judge's requests all pass here."""
        concurrency = self.limits.get(model_id)
        if concurrency:
            from agent_runtime.models.slots import ModelSlots, limit_requests

            limit_requests(model, ModelSlots(model_id, api_base, concurrency), ui.warn)


class EmbeddedKind(ModelKind):
    """The embedded llama.cpp server (or an eval runner's shared one), with the Python grammar."""

    def __init__(self, settings: Settings, model_id: str | None):
        super().__init__(settings, model_id)
        self.key = (model_id or "").partition(":")[2] or None
        self.choice: Any = None
        self.server: Any = None
        self.api_base: str | None = None
        # May it use the eval's shared server (SHARED_SERVER_ENV)? That one serves the coder's model: a
        # planner on another embedded model starts its own. api_base_override: a server already serving
        # this model (the coder's, for a planner on the same model).
        self.shared = True
        self.api_base_override: str | None = None

    def start(self, ui: ModelUI) -> None:
        from agent_runtime.models.embedded import EmbeddedServer, require_llama_cpp, resolve_embedded

        shared = self.api_base_override or (os.environ.get(SHARED_SERVER_ENV) if self.shared else None)
        if not shared:  # the plain install: one line saying what to install or pass, before the run
            require_llama_cpp()
        self.choice = resolve_embedded(self.settings, self.key)
        if self.choice.note:
            ui.warn(self.choice.note)
        if shared:
            self.api_base = shared.rstrip("/")
            return
        self.server = EmbeddedServer(self.choice.gguf, context_window(self.settings, None), self.choice.chat_format,
                                     prompt_lookup=self.settings.model_prompt_lookup)
        self.server.start()
        self.api_base = self.server.api_base

    def open(self, ui: ModelUI, on_switch: Callable[[str, str, str], None]) -> OpenedModel:
        from agent_runtime.models.litellm_model import make_litellm_model

        if self.choice is None:
            self.start(ui)
        if self.server is not None:
            with ui.waiting("Starting the embedded model (llama.cpp)…") as status:
                self.server.wait_ready(tick=lambda s: status and status.update(
                    f"Starting the embedded model (llama.cpp)… {s:.0f}s"))
        model = make_litellm_model("openai/embedded", self.settings, api_base=self.api_base,
                                   system_as_user=self.choice.system_as_user)
        constraint = choose_constraint(self.settings.grammar, None, None)
        model.constraint = constraint
        # Its address is the server's: the eval's shared one is one model for every worker, a session's
        # own server is that session's (its planner on the same model shares it).
        self.limit(model, self.model_id or "embedded", self.api_base, ui)
        return OpenedModel(model, self.choice.label, constraint, context_window(self.settings, None))

    def counter(self) -> TokenCounter:
        from agent_runtime.models.tokens import llama_server_counter

        assert self.api_base is not None
        return llama_server_counter(self.api_base)

    def rows(self) -> list[dict[str, Any]]:
        from agent_runtime.models import weights

        try:
            if not os.environ.get(SHARED_SERVER_ENV):
                from agent_runtime.models.embedded import require_llama_cpp

                require_llama_cpp()
            if self.settings.model_gguf:
                label, status = f"{Path(self.settings.model_gguf).name} (embedded)", "MODEL_GGUF"
            else:
                item, note = weights.choose(self.key)
                label = item.label
                status = note or ("weights verified" if weights._verified(weights.cache_dir() / item.filename, item)
                                  else "weights installed; assembled and checked on first use")
            status = f"starts with each session ({status})"
        except (ConfigError, ModelError) as exc:
            label, status = f"embedded{':' + self.key if self.key else ''}", f"unavailable: {exc}"
        return [{"model": label, "role": "primary", "window": context_window(self.settings, None),
                 "constraint": choose_constraint(self.settings.grammar, None, None).kind, "status": status}]

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class ReplayKind(ModelKind):
    """`replay:FILE`: the replies of a JSON file, in order (models/replay.py); no server, no LiteLLM."""

    uses_litellm = False

    @staticmethod
    def span_label(label: str) -> str:
        """The replay file's name, not its whole path: `replay:/tmp/x/replay.json` -> `replay:replay.json`."""
        return "replay:" + label.removeprefix("replay:").rstrip("/").rsplit("/", 1)[-1]

    def open(self, ui: ModelUI, on_switch: Callable[[str, str, str], None]) -> OpenedModel:
        from agent_runtime.models.replay import make_replay_model

        assert self.model_id is not None
        # A local window (None: no provider to ask), so LiteLLM is never imported for recorded replies.
        return OpenedModel(make_replay_model(Path(self.model_id.split(":", 1)[1])), self.model_id, Constraint("none"),
                           context_window(self.settings, None))

    def rows(self) -> list[dict[str, Any]]:
        return [{"model": self.model_id, "role": "primary", "window": context_window(self.settings, None),
                 "constraint": "none", "status": "replays recorded replies"}]


class LiteLLMKind(ModelKind):
    """Any LiteLLM id; the first of MODEL_ID and MODEL_FALLBACK_IDS that answers is used."""

    @property
    def ids(self) -> list[str]:
        assert self.model_id is not None
        return [self.model_id, *self.settings.model_fallback_ids]

    def api_base(self, model_id: str) -> str | None:
        """MODEL_API_BASE belongs to MODEL_ID; fallbacks use their own address (a models file's) or
        their provider's default one."""
        if model_id != self.settings.model_id and model_id in self.endpoints:
            return self.endpoints[model_id][0]
        return self.settings.model_api_base if model_id == self.settings.model_id else None

    def api_key(self, model_id: str) -> str | None:
        """MODEL_API_KEY belongs to MODEL_ID; a fallback of the models file has its own."""
        if model_id != self.settings.model_id and model_id in self.endpoints:
            return self.endpoints[model_id][1]
        return self.settings.model_api_key if model_id == self.settings.model_id else None

    def open(self, ui: ModelUI, on_switch: Callable[[str, str, str], None]) -> OpenedModel:
        from agent_runtime.models.fallback import make_fallback_model
        from agent_runtime.models.litellm_model import (
            check_credentials,
            check_reachable,
            check_routable,
            make_litellm_model,
        )

        settings, ids = self.settings, self.ids
        for other in ids[1:]:  # the chain calls each through LiteLLM (a models file refuses these when read)
            if kind_class(other) is not LiteLLMKind:
                raise ModelError(f"{other} cannot be a fallback of {ids[0]}: a fallback is a model reached through "
                                 "LiteLLM (a server or a provider), not the embedded model or recorded replies; "
                                 "take it out of MODEL_FALLBACK_IDS")
        for model_id in ids:  # an id no provider serves is a mistake to fix, not a server to fall back from
            check_routable(model_id, self.api_base(model_id))
        reachable: list[str] = []
        problems: dict[str, str] = {}
        for model_id in ids:
            try:
                key = self.api_key(model_id) if model_id in self.endpoints else settings.model_api_key
                check_credentials(model_id, self.api_base(model_id), key)
                check_reachable(model_id, self.api_base(model_id), key)
                reachable.append(model_id)
            except ModelError as exc:
                problems[model_id] = str(exc)
        if not reachable:
            first = problems[ids[0]]
            raise ModelError(first + (f" (and the {len(ids) - 1} fallback(s) as well)" if len(ids) > 1 else ""))
        switches = []
        for skipped, problem in problems.items():
            if ids.index(skipped) < ids.index(reachable[0]):
                switches.append({"from": skipped, "to": reachable[0], "reason": problem})
                ui.warn(f"{skipped} is not available ({problem}); using {reachable[0]}")
        first = reachable[0]
        constraint = choose_constraint(settings.grammar, first, self.api_base(first))
        chain = []
        for model_id in reachable:
            api_base = self.api_base(model_id)
            model = make_litellm_model(model_id, settings, api_base=api_base, api_key=self.api_key(model_id))
            model.constraint = choose_constraint(settings.grammar, model_id, api_base, reply_format=constraint.reply_format)
            self.limit(model, model_id, api_base, ui)  # each of a chain has its own slots
            chain.append((model_id, model))
        model = chain[0][1] if len(chain) == 1 else make_fallback_model(chain, on_switch)
        window = context_window(settings, first, self.api_base(first))
        exact = first.startswith(("openai/", "gpt-")) and not self.api_base(first)
        return OpenedModel(model, first, constraint, window, reserve_extra=0 if exact else window // 20,
                           switches=switches)

    def cost(self, model_id: str, tokens_in: int, tokens_out: int) -> float | None:
        """Hosted models only, from LiteLLM's local cost map (LITELLM_LOCAL_MODEL_COST_MAP: never fetched)."""
        if is_local(model_id, self.api_base(model_id)) or self.api_base(model_id):
            return None  # a local or self-hosted server: no price list applies
        import litellm

        try:
            prompt, completion = litellm.cost_per_token(model=model_id, prompt_tokens=tokens_in,
                                                        completion_tokens=tokens_out)
        except Exception:  # noqa: BLE001 - not in the map (litellm raises its own types): unknown, not free
            return None
        return float(prompt) + float(completion)

    def counter(self) -> TokenCounter:
        from agent_runtime.models.tokens import litellm_counter

        assert self.model_id is not None
        return litellm_counter(self.model_id)

    def rows(self) -> list[dict[str, Any]]:
        from agent_runtime.models.litellm_model import check_reachable, missing_key

        rows = []
        for index, model_id in enumerate(self.ids):
            api_base = self.api_base(model_id)
            try:
                constraint = choose_constraint(self.settings.grammar, model_id, api_base).kind
            except ConfigError as exc:
                constraint = f"invalid: {exc}"
            if is_local(model_id, api_base) or api_base:
                try:
                    check_reachable(model_id, api_base, self.settings.model_api_key if index == 0 else None)
                    status = "answers"
                except ModelError as exc:
                    status = f"not answering: {exc}"
            else:
                missing = missing_key(model_id)
                status = f"missing {missing}" if missing else "key set (hosted: not contacted)"
            rows.append({"model": model_id, "role": "primary" if index == 0 else f"fallback {index}",
                         "window": context_window(self.settings, model_id, api_base), "constraint": constraint,
                         "status": status})
        return rows


def kind_class(model_id: str | None) -> type[ModelKind]:
    """What a model id means (None: the embedded default)."""
    if model_id is None or model_id == "embedded" or model_id.startswith("embedded:"):
        return EmbeddedKind
    if model_id.startswith("replay:"):
        return ReplayKind
    return LiteLLMKind


def kind_for(settings: Settings, model_id: str | None = None,
             endpoints: dict[str, tuple[str | None, str | None]] | None = None,
             limits: dict[str, int] | None = None, rules: tuple[tuple[str, bool], ...] = ()) -> ModelKind:
    """The kind of `model_id` (default: the settings' MODEL_ID). endpoints: the fallbacks' own
    address and key, by id (a models file's fallbacks). limits: requests at once, by id (the models
    file's `concurrency`; an id not there is not limited). rules: the models file's coaching rules."""
    model_id = settings.model_id if model_id is None else model_id
    kind = kind_class(model_id)(settings, model_id)
    kind.endpoints = dict(endpoints or {})
    kind.limits = dict(limits or {})
    if rules:
        kind.coaching = coaching_for(model_id, rules, settings.agent_coaching)
    return kind


def span_label(label: str) -> str:
    """What an LLM span is named after: the session's label of a model (its id, or the embedded
    model's name), as that model's kind names it."""
    return kind_class(label).span_label(label)
