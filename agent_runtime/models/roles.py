"""Which model plays each role (coder, planner, judge): the settings and the models file, read once.

For each role, the first of these that names a model wins:

    1. the command line   --model ID (the coder), --model coder=NAME,planner=NAME, --model PROFILE
    2. the environment    MODEL_ID (coder), PLANNER_MODEL, JUDGE_MODEL (or the user's config.env)
    3. a route            the models file's [[routes]], for a task known before the model opens
                          (a single task: its kind and size); never over 1 or 2
    4. the models file    [roles]
    5. the default        the coder: the embedded model; no planner; no judge (cli/judgemodel.py
                          then takes embedded:0.5b for --approval judge)

A reference is a model's name in the models file, else a model id (models/registry.py says what an
id means). A coder given as an id gets MODEL_API_BASE, MODEL_API_KEY and MODEL_FALLBACK_IDS, as it
always has; a model of the file brings its own address, key variable, window and fallbacks.
`model_for_role(settings, role)` is the one answer; the session, the judge, `agent-runtime models`
and the REPL's /model ask it. Standard library only at import (start-up reads it).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_runtime.config import Settings
from agent_runtime.models.catalog import ROLES, Catalog, ModelEntry, models_file_path

if TYPE_CHECKING:
    from agent_runtime.models.profiles import Coaching
    from agent_runtime.models.registry import ModelKind

# The setting that names each role's model (field of Settings, its variable).
ROLE_FIELDS = {"coder": "model_id", "planner": "planner_model", "judge": "judge_model"}
ROLE_VARIABLES = {"coder": "MODEL_ID", "planner": "PLANNER_MODEL", "judge": "JUDGE_MODEL"}
CHARS_PER_TOKEN = 4  # a task's size for routes, estimated before any tokenizer is loaded
NO_MODEL = "none"  # planner=none, PLANNER_MODEL=none: no planner, whatever the models file says


class ModelChoiceError(ValueError):
    """A --model value that cannot be read (a usage error); the message is one line."""


# --- the models file, read once per version of it ---

_loaded: dict[tuple[str, int, int], Catalog] = {}


def catalog_path(settings: Settings) -> Path:
    """The models file these settings use: MODELS_FILE, else ~/.config/agent-runtime/models.toml."""
    return Path(settings.models_file).expanduser() if settings.models_file else models_file_path()


def load_catalog(settings: Settings) -> Catalog:
    """The models file (an empty catalog when the default file does not exist; MODELS_FILE must).
    Raises ModelsFileError (a ConfigError) with file, line, key and what was expected."""
    path = catalog_path(settings)
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key is not None and key in _loaded:
        return _loaded[key]
    catalog = Catalog.load(path, required=settings.models_file is not None)
    if key is not None:
        _loaded[key] = catalog
    return catalog


# --- one role's model ---


@dataclass(frozen=True)
class RoleModel:
    """The model a role uses: its entry (a file's, or one made from a model id), its fallbacks, and
    where the choice came from (shown by `agent-runtime models`, written in run records)."""

    role: str
    entry: ModelEntry
    fallbacks: tuple[ModelEntry, ...] = ()
    source: str = "default"
    named: bool = False  # the entry is the models file's (False: a model id given as such)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def model_id(self) -> str | None:
        """The id as the registry takes it (None: the embedded default)."""
        return None if self.entry.id == "embedded" else self.entry.id

    def describe(self) -> str:
        return self.entry.name if self.entry.name == self.entry.id else f"{self.entry.name} ({self.entry.id})"

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.entry.name, "id": self.entry.id, "source": self.source,
                "fallbacks": [f.name for f in self.fallbacks]}

    def apply(self, settings: Settings) -> Settings:
        """The settings as this model's kind reads them: MODEL_ID and its address, key, window, fallbacks."""
        entry = self.entry
        return replace(settings, model_id=self.model_id, model_api_base=entry.api_base,
                       model_api_key=api_key(entry, settings),
                       model_context_window=entry.context_window or settings.model_context_window,
                       model_fallback_ids=tuple(f.id for f in self.fallbacks))

    def endpoints(self, settings: Settings) -> dict[str, tuple[str | None, str | None]]:
        """Each fallback's own address and key (a fallback of the file may have both)."""
        return {f.id: (f.api_base, api_key(f, settings)) for f in self.fallbacks}

    def limits(self) -> dict[str, int]:
        """Requests at once to this model and to each fallback, by id: the models file's `concurrency`.
        A model given as an id is not in the file and has none (no limit)."""
        return {e.id: e.concurrency for e in (*reversed(self.fallbacks), self.entry) if e.concurrency}

    def open_kind(self, settings: Settings) -> "ModelKind":
        """The registry's kind for this model, with its fallbacks behind it (not started yet)."""
        from agent_runtime.models.registry import kind_for

        view = self.apply(settings)
        return kind_for(view, view.model_id, endpoints=self.endpoints(settings), limits=self.limits(),
                        rules=self.entry.rules)

    def coaching(self, settings: Settings) -> "Coaching":
        """The coaching rules the agent runs this model with (models/profiles.py)."""
        from agent_runtime.models.profiles import coaching_for

        return coaching_for(self.model_id, self.entry.rules, settings.agent_coaching)


def api_key(entry: ModelEntry, settings: Settings) -> str | None:
    """The key for a model's server: its api_key_env's value; MODEL_API_KEY for the coder's id."""
    if entry.api_key_env:
        return os.environ.get(entry.api_key_env) or None
    if entry.where == "MODEL_ID":
        return settings.model_api_key
    return None


def resolve(catalog: Catalog, settings: Settings, ref: str) -> ModelEntry:
    """A reference: a model of the file by name, else an entry made from the model id. The coder's id
    (MODEL_ID) keeps MODEL_API_BASE; another id reaches its provider's default address."""
    if ref in catalog.models:
        return catalog.models[ref]
    coder = ref == settings.model_id
    return ModelEntry(ref, ref, api_base=settings.model_api_base if coder else None,
                      where="MODEL_ID" if coder else "")


def model_for_role(settings: Settings, role: str, *, kind: str | None = None, tokens: int | None = None,
                   catalog: Catalog | None = None) -> RoleModel | None:
    """The model for a role (None when nothing names one: the planner and the judge by default).
    kind / tokens: the task about to run (question, change, fix; its size), for the file's routes."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (the roles: {', '.join(ROLES)})")
    catalog = load_catalog(settings) if catalog is None else catalog
    chosen = getattr(settings, ROLE_FIELDS[role])
    if chosen == NO_MODEL and role != "coder":
        return None
    route = catalog.route(role, kind, tokens) if kind is not None and not chosen else None
    if chosen:
        ref, source = chosen, f"--model / {ROLE_VARIABLES[role]}"
    elif route is not None:
        ref, source = route.model, f"route at {route.where} ({kind}, ~{tokens} tokens)"
    elif role in catalog.roles:
        ref, source = catalog.roles[role], "models file [roles]"
    elif role == "coder":
        ref, source = "embedded", "default"
    else:
        return None
    named = ref in catalog.models
    entry = resolve(catalog, settings, ref)
    if named:
        fallbacks = tuple(catalog.models[name] for name in entry.fallbacks)
    elif role == "coder" and entry.id != "embedded" and not entry.embedded:
        fallbacks = tuple(resolve(catalog, settings, f) for f in settings.model_fallback_ids)
    else:
        fallbacks = ()
    return RoleModel(role, entry, fallbacks, source, named)


def roles_for(settings: Settings, *, kind: str | None = None, tokens: int | None = None) -> dict[str, RoleModel | None]:
    catalog = load_catalog(settings)
    return {role: model_for_role(settings, role, kind=kind, tokens=tokens, catalog=catalog) for role in ROLES}


def task_size(task: str) -> int:
    """A task's size in tokens for the routes, estimated from its text (4 characters a token)."""
    return max(1, len(task) // CHARS_PER_TOKEN)


# --- the --model option ---


def looks_like_id(ref: str) -> bool:
    """A model id as a role list takes one: provider/model, embedded[:KEY], replay:FILE."""
    return "/" in ref or ref == "embedded" or ref.startswith(("embedded:", "replay:"))


def parse_model_option(text: str, catalog: Catalog) -> dict[str, str]:
    """`--model`: role -> reference. `ID` or `NAME` is the coder (as --model always was), `PROFILE` the
    profile's roles, `coder=X,planner=Y,judge=Z` those roles (X: a name of the file, or a model id
    written with its provider). Raises ModelChoiceError."""
    text = text.strip()
    if not text:
        raise ModelChoiceError("--model needs a value: a model id, a name or profile of the models file, "
                               "or ROLE=MODEL,... (roles: coder, planner, judge)")
    if "=" not in text:
        if text in catalog.profiles:
            return dict(catalog.profiles[text])
        if "," in text or any(c.isspace() for c in text):
            raise ModelChoiceError(f"--model {text!r}: one model id, a profile's name, or ROLE=MODEL,ROLE=MODEL "
                                   "(e.g. coder=embedded:1.5b,planner=ollama_chat/qwen2.5-coder:7b)")
        return {"coder": text}
    roles: dict[str, str] = {}
    for part in text.split(","):
        role, equals, ref = (s.strip() for s in part.partition("="))
        if not equals or role not in ROLES:
            raise ModelChoiceError(f"--model {text!r}: {role or part.strip()!r} is not a role (the roles: "
                                   f"{', '.join(ROLES)}); write ROLE=MODEL,ROLE=MODEL")
        if role in roles:
            raise ModelChoiceError(f"--model {text!r}: names the {role} twice")
        if not ref or any(c.isspace() for c in ref) or "=" in ref:
            raise ModelChoiceError(f"--model {text!r}: {role}= needs one model (a name of the models file or a "
                                   "model id)")
        if ref not in catalog.models and not looks_like_id(ref) and not (ref == NO_MODEL and role != "coder"):
            close = difflib.get_close_matches(ref, [*catalog.models], n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            names = ", ".join(catalog.models) or f"none: {catalog.source or 'no models file'}"
            raise ModelChoiceError(f"--model {text!r}: {ref!r} is neither a model of the models file ({names}) "
                                   f"nor a model id (provider/model, embedded[:KEY], replay:FILE){hint}")
        roles[role] = ref
    return roles


def choose_models(settings: Settings, option: str | None) -> Settings:
    """The settings with --model applied (a role's setting each: MODEL_ID, PLANNER_MODEL, JUDGE_MODEL).
    Reads and checks the models file: a bad file raises ModelsFileError, a bad option ModelChoiceError."""
    catalog = load_catalog(settings)
    if not option:
        return settings
    chosen = parse_model_option(option, catalog)
    return replace(settings, **{ROLE_FIELDS[role]: ref for role, ref in chosen.items()})
