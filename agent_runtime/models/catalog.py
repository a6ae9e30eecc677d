"""The models file: named models, the roles they play, routing rules and profiles.

    ~/.config/agent-runtime/models.toml   (or MODELS_FILE; the user's, never a repository's)

    [models.small]                      a name, then what it is
    id = "embedded:1.5b"                LiteLLM id, `embedded` or `embedded:KEY` (required)
    api_base = "http://127.0.0.1:8080/v1"
    api_key_env = "MY_SERVER_KEY"       the NAME of the variable holding its key (never the key)
    context_window = 16384
    capabilities = ["code", "plan"]     free words the routing and `models` show
    cost = { input = 0.15, output = 0.6 }   US dollars per million tokens
    concurrency = 1                     requests to it at once, from every process of the user (models/slots.py)
    fallbacks = ["big"]                 other names, tried in order when it does not answer (a server's or a
                                        provider's model: not the embedded one, not replay:, either way)
    rules = ["hints"]                   coaching rules (models/profiles.py): exactly these; or a table,
                                        rules = { hints = false }, switching some of its built-in profile's

    [roles]                             planner / coder / judge -> a model's name
    [profiles.NAME]                     the same, picked with `--model NAME`
    [[routes]]                          role (coder or planner), kind = ["question", "change", "fix"],
                                        min_tokens / max_tokens (the task's size), model: the first
                                        route that fits a single task picks that role's model

Every key is checked when the file loads, by its schema (ModelsFile, docs/configuration.md); an error
names the file, the line and the key, what was expected and what was found (schema.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

import agent_runtime.schema as schema
from agent_runtime.config import ConfigError, config_home, read_user_file
from agent_runtime.models.profiles import RULES, switches

ROLES = ("coder", "planner", "judge")
ROUTED_ROLES = ("coder", "planner")  # a route picks by the task: the judge has none
TASK_KINDS = ("question", "change", "fix")
MODEL_KEYS = ("id", "api_base", "api_key_env", "context_window", "capabilities", "cost", "concurrency", "fallbacks",
              "rules")
ROUTE_KEYS = ("role", "kind", "min_tokens", "max_tokens", "model")
SECTIONS = ("models", "roles", "profiles", "routes")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_WORD = re.compile(r"^[a-z][a-z0-9_-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ModelsFileError(ConfigError):
    """The models file cannot be used; the message is one line: file:line, the key, what was expected."""


def models_file_path() -> Path:
    return config_home() / "models.toml"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    id: str  # a LiteLLM id, "embedded" or "embedded:KEY"
    api_base: str | None = None
    api_key_env: str | None = None
    context_window: int | None = None
    capabilities: tuple[str, ...] = ()
    cost_input: float | None = None  # USD per million tokens
    cost_output: float | None = None
    concurrency: int | None = None  # requests at once (models/slots.py); None: not a model of the file, no limit
    fallbacks: tuple[str, ...] = ()
    where: str = ""  # file:line of its table
    rules: tuple[tuple[str, bool], ...] = ()  # coaching rules switched on or off (models/profiles.py)

    @property
    def embedded(self) -> bool:
        return self.id == "embedded" or self.id.startswith("embedded:")

    def cost(self, tokens_in: int, tokens_out: int) -> float | None:
        if self.cost_input is None and self.cost_output is None:
            return None
        return ((self.cost_input or 0.0) * tokens_in + (self.cost_output or 0.0) * tokens_out) / 1_000_000


@dataclass(frozen=True)
class Route:
    role: str
    model: str
    kinds: tuple[str, ...] = ()  # empty: any kind
    min_tokens: int | None = None
    max_tokens: int | None = None
    where: str = ""

    def applies(self, role: str, kind: str | None, tokens: int | None) -> bool:
        if role != self.role or (self.kinds and kind not in self.kinds):
            return False
        if self.min_tokens is not None and (tokens is None or tokens < self.min_tokens):
            return False
        return self.max_tokens is None or (tokens is not None and tokens <= self.max_tokens)


@dataclass
class Catalog:
    models: dict[str, ModelEntry] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    source: str | None = None  # the file it came from; None: there is none

    def route(self, role: str, kind: str | None, tokens: int | None) -> Route | None:
        """The first route of the file for this role, task kind and size (None: none applies)."""
        return next((r for r in self.routes if r.applies(role, kind, tokens)), None)

    @classmethod
    def load(cls, path: Path | None = None, *, required: bool = False) -> "Catalog":
        """The models file (default ~/.config/agent-runtime/models.toml). A missing default file is an
        empty catalog; a missing file the user named (MODELS_FILE), an error."""
        path = Path(path) if path else models_file_path()
        try:
            text = read_user_file(path)  # not a FIFO, /dev/zero or 100 MB: no hang at start-up
        except FileNotFoundError:
            if required:
                raise ModelsFileError(f"{path}: file not found (MODELS_FILE)") from None
            return cls()
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelsFileError(f"{path}: cannot be read: {exc}") from None
        return parse(text, str(path))


# --- the file's schema ---

HIDDEN = "a value not shown here (it may be a secret)"  # a key pasted in its variable's place is not echoed


def _model_id(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise schema.Wrong("a model id without spaces")
    return value.strip()


def _address(value: Any) -> Any:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise schema.Wrong("a URL starting with http:// or https://", HIDDEN)
    if "@" in value.split("/")[2]:  # http://user:secret@host: a key in the file
        raise schema.Wrong("an address without user:password@ (the key goes in the variable api_key_env names)",
                           HIDDEN)
    return value.rstrip("/")


def _env_name(value: Any) -> Any:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise schema.Wrong("the name of an environment variable (the key itself is never written here)", HIDDEN)
    return value


def _word(value: str) -> str:
    if not _WORD.match(value):
        raise schema.Wrong('a lower-case word, e.g. "code"')
    return value


def _rules(value: Any) -> Any:
    """Coaching rules (models/profiles.py): a list (exactly these on) or a table of rule = true/false."""
    if not isinstance(value, (list, dict)):
        raise schema.Wrong("a list of rule names, or a table of rule = true/false")
    unknown = [n for n in value if not isinstance(n, str) or n not in RULES]
    if unknown:
        raise schema.Wrong(f"rule names among {', '.join(RULES)}", f"unknown rule {schema.shown(unknown[0])}")
    wrong = [k for k, v in value.items() if not isinstance(v, bool)] if isinstance(value, dict) else []
    if wrong:
        raise schema.Wrong("true or false for each rule", f"{wrong[0]} = {schema.shown(value[wrong[0]])}")
    return switches(value, "rules")


def _routed(value: Any) -> Any:
    if value == "judge":
        raise schema.Wrong("coder or planner (the judge is not routed: it answers approvals, not tasks; set it "
                           "in [roles])")
    if value not in ROUTED_ROLES:
        raise schema.Wrong(f"one of {', '.join(ROUTED_ROLES)}")
    return value


def _kinds(value: Any) -> Any:
    kinds = [value] if isinstance(value, str) else value
    if not isinstance(kinds, list) or not all(k in TASK_KINDS for k in kinds):
        raise schema.Wrong(f"some of {', '.join(TASK_KINDS)} (a word or a list)")
    return kinds


def _checked_by(check: Any, json_schema: dict[str, Any]) -> Any:
    """A value one function checks whole (its own message: no union's errors, no secret echoed)."""
    return Annotated[Any, BeforeValidator(check), WithJsonSchema(json_schema)]


class CostSpec(BaseModel):
    """US dollars per million tokens."""

    model_config = schema.STRICT
    input: Annotated[float, Field(ge=0)] | None = None
    output: Annotated[float, Field(ge=0)] | None = None


class ModelSpec(BaseModel):
    """One [models.NAME] table: a model and what it is."""

    model_config = schema.STRICT
    id: _checked_by(_model_id, {"type": "string"})  # a LiteLLM id, embedded or embedded:KEY
    api_base: _checked_by(_address, {"type": "string", "format": "uri"}) = None
    api_key_env: _checked_by(_env_name, {"type": "string"}) = None  # the NAME of the variable with its key
    context_window: Annotated[int, Field(ge=512, le=1_048_576)] | None = None
    capabilities: list[Annotated[str, AfterValidator(_word)]] = []
    cost: CostSpec = CostSpec()
    concurrency: Annotated[int, Field(ge=1, le=256)] = 1  # requests at once (models/slots.py)
    fallbacks: list[schema.Text] = []  # other models' names, tried in order when it does not answer
    rules: _checked_by(_rules, {"anyOf": [{"type": "array", "items": {"enum": list(RULES)}},
                                      {"type": "object", "additionalProperties": {"type": "boolean"}}]}) = None

    @field_validator("fallbacks")
    @classmethod
    def _once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise schema.Wrong("each name once")
        return value


class RolesSpec(BaseModel):
    """[roles] or [profiles.NAME]: a role -> a model's name."""

    model_config = schema.STRICT
    coder: str | None = None
    planner: str | None = None
    judge: str | None = None


class RouteSpec(BaseModel):
    """One [[routes]] entry: the first that fits a task picks that role's model."""

    model_config = schema.STRICT
    role: _checked_by(_routed, {"enum": list(ROUTED_ROLES)})
    kind: _checked_by(_kinds, {"anyOf": [{"enum": list(TASK_KINDS)}, {"type": "array", "items": {"enum": list(TASK_KINDS)}}]}) = []
    min_tokens: Annotated[int, Field(ge=0)] | None = None
    max_tokens: Annotated[int, Field(ge=0)] | None = None
    model: str

    @model_validator(mode="after")
    def _bounds(self) -> "RouteSpec":
        if self.min_tokens is not None and self.max_tokens is not None and self.min_tokens > self.max_tokens:
            raise schema.Wrong(f"at most max_tokens ({self.max_tokens}): else no request would match",
                               str(self.min_tokens), "min_tokens")
        return self


class ModelsFile(BaseModel):
    """models.toml: named models, the roles they play, profiles and routes."""

    model_config = schema.STRICT
    models: dict[str, ModelSpec] = {}
    roles: RolesSpec = RolesSpec()
    profiles: dict[str, RolesSpec] = {}
    routes: list[RouteSpec] = []


assert tuple(ModelSpec.model_fields) == MODEL_KEYS and tuple(RouteSpec.model_fields) == tuple(
    k for k in ("role", "kind", "min_tokens", "max_tokens", "model")) and set(ROUTE_KEYS) == set(RouteSpec.model_fields)
assert tuple(RolesSpec.model_fields) == ROLES and tuple(ModelsFile.model_fields) == SECTIONS


# --- reading the file: what the schema cannot say (names, and what they refer to) ---


def parse(text: str, source: str = "<models file>") -> Catalog:
    raw, lines = schema.read_toml(text, source, ModelsFileError)

    def fail(loc: tuple[str | int, ...], expected: str, found: str) -> ModelsFileError:
        return schema.fail(ModelsFileError, source, loc, expected, found, lines)  # type: ignore[return-value]

    for name in raw.get("models", {}) if isinstance(raw.get("models"), dict) else ():
        if not _NAME.match(name):
            raise fail(("models", name), "a model's name: letters, digits and . _ : - (no spaces)", schema.shown(name))
        if name in ROLES:
            raise fail(("models", name), "a name after what the model is", f"{schema.shown(name)}, a role")
        if _is_kind_id(name):
            raise fail(("models", name), 'a name of its own (and the model id as id = "...")',
                       f"{schema.shown(name)}, a model id (embedded..., replay:...)")
    file = schema.validate(ModelsFile, raw, source, ModelsFileError, lines)
    catalog = Catalog(source=source)
    for name, spec in file.models.items():
        if spec.api_base is not None and _is_kind_id(spec.id):
            raise fail(("models", name, "api_base"), f"no address: {spec.id.split(':')[0]} models have none (only a "
                       "server you run has one)", "an address")
        catalog.models[name] = ModelEntry(
            name, spec.id, spec.api_base, spec.api_key_env, spec.context_window, tuple(spec.capabilities),
            _float(spec.cost.input), _float(spec.cost.output), spec.concurrency, tuple(spec.fallbacks),
            f"{source}:{lines.line(('models', name)) or '?'}", spec.rules or ())
    known = _known(catalog)
    for name, entry in catalog.models.items():
        where = ("models", name, "fallbacks")
        for other in entry.fallbacks:
            if other == name:
                raise fail(where, "other models' names", f"{schema.shown(other)}, this model itself")
            if other not in catalog.models:
                raise fail(where, f"names of models of this file ({known})", schema.shown(other))
        # Fallbacks are the LiteLLM chain's (models/registry.py LiteLLMKind): tried when a server or a provider
        # does not answer, each one reached through LiteLLM itself.
        if entry.fallbacks and _is_kind_id(entry.id):
            raise fail(where, f"none: {entry.id} is never replaced by a fallback (fallbacks are tried when a server "
                       "or a provider does not answer); give them to such a model", schema.shown(list(entry.fallbacks)))
        for other in entry.fallbacks:
            if _is_kind_id(catalog.models[other].id):
                raise fail(where, f"models reached through LiteLLM (a server or a provider), to stand in for {entry.id}",
                           f"{schema.shown(other)}, which is {catalog.models[other].id}")
    catalog.roles = _assignments(file.roles, ("roles",), catalog, fail)
    for name, roles in file.profiles.items():
        if not _NAME.match(name) or _is_kind_id(name):
            raise fail(("profiles", name), "a profile's name: letters, digits and . _ : - (no spaces), not a model id",
                       schema.shown(name))
        if name in catalog.models:
            raise fail(("profiles", name), "a name no model has (`--model NAME` would not know which one is meant)",
                       f"{schema.shown(name)}, a model's name")
        if not roles.model_fields_set:
            raise fail(("profiles", name), f"at least one role ({', '.join(ROLES)})", "an empty table")
        catalog.profiles[name] = _assignments(roles, ("profiles", name), catalog, fail)
    for index, route in enumerate(file.routes):
        if route.model not in catalog.models:
            raise fail(("routes", index, "model"), f"a model of this file ({known})", schema.shown(route.model))
        catalog.routes.append(Route(route.role, route.model, tuple(route.kind), route.min_tokens, route.max_tokens,
                                    f"{source}:{lines.line(('routes', index)) or '?'}"))
    return catalog


def _known(catalog: Catalog) -> str:
    return "models: " + (", ".join(catalog.models) or "none")


def _is_kind_id(text: str) -> bool:
    """An id the registry reads itself (models/registry.py): never a name, never behind an address."""
    return text == "embedded" or text.startswith(("embedded:", "replay:"))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _assignments(roles: RolesSpec, table: tuple[str, ...], catalog: Catalog, fail: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for role in roles.model_fields_set:
        name = getattr(roles, role)
        if name not in catalog.models:
            raise fail((*table, role), f"a model of this file ({_known(catalog)})", schema.shown(name))
        out[role] = name
    return dict(sorted(out.items(), key=lambda item: ROLES.index(item[0])))
