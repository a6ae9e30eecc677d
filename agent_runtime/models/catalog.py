"""The models file: named models, the roles they play, routing rules and profiles (issue 25).

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

Every key is checked when the file loads; an error names the file, the line and the key, and
says what was expected. Only standard library (and models/profiles.py) here: `agent-runtime models` and start-up read it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_runtime.config import ConfigError, config_home, read_user_file
from agent_runtime.models.profiles import CoachingError, switches

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


# --- reading the file, with a line for every error ---


class _Lines:
    """Where a table or key is in the file's text (tomllib gives values, not places)."""

    def __init__(self, text: str, source: str):
        self.lines = text.splitlines()
        self.source = source

    def header(self, table: str, index: int = 0) -> int | None:
        """The line (1-based) of `[table]` or the index-th `[[table]]`, spaces and quotes aside."""
        wanted = table.replace('"', "").replace("'", "").replace(" ", "")
        seen = 0
        for number, line in enumerate(self.lines, 1):
            bare = line.split("#", 1)[0].strip().replace('"', "").replace("'", "").replace(" ", "")
            if bare in (f"[{wanted}]", f"[[{wanted}]]"):
                if seen == index:
                    return number
                seen += 1
        return None

    def section(self, name: str) -> int | None:
        """The first line of a top-level section: `[name]`, `[[name]]` or a table under it (`[name.x]`)."""
        for number, line in enumerate(self.lines, 1):
            bare = line.split("#", 1)[0].strip().replace('"', "").replace("'", "").replace(" ", "").strip("[]")
            if line.lstrip().startswith("[") and (bare == name or bare.startswith(name + ".")):
                return number
        return None

    def key(self, table: str | None, key: str, index: int = 0) -> int | None:
        start = self.header(table, index) if table else 0
        if start is None:
            return None
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start + 1 if table else 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if table and number > start and line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return number
        return start or None

    def error(self, line: int | None, where: str, message: str) -> ModelsFileError:
        place = f"{self.source}:{line}" if line else self.source
        return ModelsFileError(f"{place}: {where}: {message}")


def _describe(value: Any) -> str:
    kind = {str: "a string", bool: "true/false", int: "a number", float: "a number", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)
    shown = repr(value) if not isinstance(value, (list, dict)) else kind
    return f"{shown} ({kind})" if shown != kind else kind


def parse(text: str, source: str = "<models file>") -> Catalog:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        line = f":{found.group(1)}" if found else ""
        raise ModelsFileError(f"{source}{line}: not valid TOML: {exc}") from None
    at = _Lines(text, source)
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise at.error(at.section(unknown[0]) or at.key(None, unknown[0]), unknown[0],
                       f"unknown section (known: {', '.join(SECTIONS)}); check the spelling")
    catalog = Catalog(source=source)
    models = _table(raw, "models", at, None)
    for name, body in models.items():
        catalog.models[name] = _model(name, body, at)
    for name, entry in catalog.models.items():
        where = (at.key(f"models.{name}", "fallbacks"), f"[models.{name}] fallbacks")
        for other in entry.fallbacks:
            if other not in catalog.models or other == name:
                why = "is this model itself" if other == name else f"is not a model of this file ({_known(catalog)})"
                raise at.error(*where, f"{other!r} {why}")
        # Fallbacks are the LiteLLM chain's (models/registry.py LiteLLMKind): tried when a server or a provider
        # does not answer, each one reached through LiteLLM itself.
        if entry.fallbacks and _is_kind_id(entry.id):
            raise at.error(*where, f"{entry.id} is never replaced by a fallback (fallbacks are tried when a server "
                                   "or a provider does not answer): give them to such a model, or remove them")
        for other in entry.fallbacks:
            if _is_kind_id(catalog.models[other].id):
                raise at.error(*where, f"{other!r} is {catalog.models[other].id}, which cannot stand in for "
                                       f"{entry.id}: a fallback is a model reached through LiteLLM (a server or a "
                                       "provider)")
    catalog.roles = _assignments(_table(raw, "roles", at, None), "roles", at, catalog)
    for name, body in _table(raw, "profiles", at, None).items():
        where = f"[profiles.{name}]"
        if not isinstance(body, dict):
            raise at.error(at.key("profiles", name), where, f"expected a table of roles, got {_describe(body)}")
        if not _NAME.match(name) or _is_kind_id(name):
            raise at.error(at.header(f"profiles.{name}"), where, "a profile's name is letters, digits and . _ : - "
                                                                 "(no spaces), and not a model id")
        if name in catalog.models:
            raise at.error(at.header(f"profiles.{name}"), where,
                           "a model has this name too; `--model NAME` would not know which one is meant")
        if not body:
            raise at.error(at.header(f"profiles.{name}"), where, f"names no role (the roles: {', '.join(ROLES)})")
        catalog.profiles[name] = _assignments(body, f"profiles.{name}", at, catalog)
    routes = raw.get("routes", [])
    if not isinstance(routes, list):
        raise at.error(at.key(None, "routes"), "routes", f"expected [[routes]] tables, got {_describe(routes)}")
    for index, body in enumerate(routes):
        catalog.routes.append(_route(index, body, at, catalog))
    return catalog


def _shown(value: Any) -> str:
    """A value in a message: a string quoted, anything else with its type."""
    return repr(value) if isinstance(value, str) else _describe(value)


def _known(catalog: Catalog) -> str:
    return "models: " + (", ".join(catalog.models) or "none")


def _table(raw: dict[str, Any], name: str, at: _Lines, where: str | None) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise at.error(at.key(where, name), name, f"expected a table ([{name}]), got {_describe(value)}")
    return value


def _model(name: str, body: Any, at: _Lines) -> ModelEntry:
    table = f"models.{name}"
    where = f"[{table}]"
    if not _NAME.match(name):
        raise at.error(at.header(table), where, "a model's name is letters, digits and . _ : - (no spaces)")
    if name in ROLES:
        raise at.error(at.header(table), where, f"{name!r} is a role; name the model after what it is")
    if _is_kind_id(name):
        raise at.error(at.header(table), where, f"{name!r} is a model id (embedded..., replay:...); give the model "
                                                "a name of its own and the id as id = \"...\"")
    if not isinstance(body, dict):
        raise at.error(at.key("models", name), where, f"expected a table, got {_describe(body)}")

    def wrong(key: str, expected: str, show: bool = True) -> ModelsFileError:
        # A key pasted where its variable's name goes, or a URL with a password, is not echoed to the terminal.
        got = _describe(body[key]) if show else "a value not shown here (it may be a secret)"
        return at.error(at.key(table, key), f"{where} {key}", f"expected {expected}, got {got}")

    for key in body:
        if key not in MODEL_KEYS:
            raise at.error(at.key(table, key), f"{where} {key}", f"unknown key (known: {', '.join(MODEL_KEYS)})")
    if "id" not in body:
        raise at.error(at.header(table), where, 'needs id = "..." (a LiteLLM id such as ollama_chat/qwen2.5-coder:7b, '
                                                "or embedded / embedded:KEY)")
    model_id = body["id"]
    if not isinstance(model_id, str) or not model_id.strip() or any(c.isspace() for c in model_id):
        raise wrong("id", "a model id without spaces")
    api_base = body.get("api_base")
    if api_base is not None and (not isinstance(api_base, str) or not api_base.startswith(("http://", "https://"))):
        raise wrong("api_base", "a URL starting with http:// or https://", show=False)
    if api_base is not None and "@" in api_base.split("/")[2]:  # http://user:secret@host: a key in the file
        raise wrong("api_base", "an address without user:password@ (the key goes in the variable api_key_env "
                                "names)", show=False)
    if api_base is not None and _is_kind_id(model_id):
        raise at.error(at.key(table, "api_base"), f"{where} api_base",
                       f"{model_id.split(':')[0]} models have no address (only a server you run has one); remove it")
    key_env = body.get("api_key_env")
    if key_env is not None and (not isinstance(key_env, str) or not _ENV_NAME.match(key_env)):
        raise wrong("api_key_env", "the name of an environment variable (the key itself is never written here)",
                    show=False)
    window = body.get("context_window")
    if window is not None and (not _whole(window) or not 512 <= window <= 1_048_576):
        raise wrong("context_window", "a whole number from 512 to 1048576")
    capabilities = body.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) and _WORD.match(c) for c in capabilities):
        raise wrong("capabilities", 'a list of lower-case words, e.g. ["code", "plan"]')
    cost = body.get("cost", {})
    if not isinstance(cost, dict) or set(cost) - {"input", "output"} or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in cost.values()):
        raise wrong("cost", "{ input = N, output = N }: US dollars per million tokens, 0 or more")
    concurrency = body.get("concurrency", 1)
    if not _whole(concurrency) or not 1 <= concurrency <= 256:
        raise wrong("concurrency", "a whole number from 1 to 256")
    fallbacks = body.get("fallbacks", [])
    if not isinstance(fallbacks, list) or not all(isinstance(f, str) and f for f in fallbacks):
        raise wrong("fallbacks", "a list of other models' names")
    if len(set(fallbacks)) != len(fallbacks):
        raise wrong("fallbacks", "each name once")
    try:
        rules = switches(body["rules"], f"{where} rules") if "rules" in body else ()
    except CoachingError as exc:
        raise at.error(at.key(table, "rules"), f"{where} rules", str(exc).split(": ", 1)[1]) from None
    return ModelEntry(name, model_id.strip(), api_base.rstrip("/") if api_base else None, key_env, window,
                      tuple(capabilities), _float(cost.get("input")), _float(cost.get("output")), concurrency,
                      tuple(fallbacks), f"{at.source}:{at.header(table) or '?'}", rules)


def _is_kind_id(text: str) -> bool:
    """An id the registry reads itself (models/registry.py): never a name, never behind an address."""
    return text == "embedded" or text.startswith(("embedded:", "replay:"))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _assignments(body: dict[str, Any], table: str, at: _Lines, catalog: Catalog) -> dict[str, str]:
    out: dict[str, str] = {}
    for role, name in body.items():
        line = at.key(table, role)
        if role not in ROLES:
            raise at.error(line, f"[{table}] {role}", f"unknown role (the roles: {', '.join(ROLES)})")
        if not isinstance(name, str) or name not in catalog.models:
            raise at.error(line, f"[{table}] {role}", f"{_shown(name)} is not a model of this file ({_known(catalog)})")
        out[role] = name
    return out


def _route(index: int, body: Any, at: _Lines, catalog: Catalog) -> Route:
    where = f"[[routes]] #{index + 1}"
    if not isinstance(body, dict):
        raise at.error(at.header("routes", index), where, f"expected a table, got {_describe(body)}")

    def line(key: str) -> int | None:
        return at.key("routes", key, index)

    for key in body:
        if key not in ROUTE_KEYS:
            raise at.error(line(key), f"{where} {key}", f"unknown key (known: {', '.join(ROUTE_KEYS)})")
    for key in ("role", "model"):
        if key not in body:
            raise at.error(at.header("routes", index), where, f"needs {key} = \"...\"")
    if body["role"] == "judge":
        raise at.error(line("role"), f"{where} role", "the judge is not routed (it answers approvals, not tasks): "
                                                      "set it in [roles]")
    if not isinstance(body["role"], str) or body["role"] not in ROUTED_ROLES:
        raise at.error(line("role"), f"{where} role", f"{_shown(body['role'])} is not a role routes pick "
                                                      f"({', '.join(ROUTED_ROLES)})")
    if not isinstance(body["model"], str) or body["model"] not in catalog.models:
        raise at.error(line("model"), f"{where} model", f"{_shown(body['model'])} is not a model of this file "
                                                        f"({_known(catalog)})")
    kinds = body.get("kind", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not isinstance(kinds, list) or not all(k in TASK_KINDS for k in kinds):
        raise at.error(line("kind"), f"{where} kind", f"expected some of {', '.join(TASK_KINDS)}, got "
                                                      f"{_describe(body['kind'])}")
    bounds = {}
    for key in ("min_tokens", "max_tokens"):
        value = body.get(key)
        if value is not None and (not _whole(value) or value < 0):
            raise at.error(line(key), f"{where} {key}", f"expected a whole number of tokens, got {_describe(value)}")
        bounds[key] = value
    if bounds["min_tokens"] is not None and bounds["max_tokens"] is not None and bounds["min_tokens"] > bounds["max_tokens"]:
        raise at.error(line("min_tokens"), f"{where} min_tokens", "is above max_tokens: no request would match")
    return Route(body["role"], body["model"], tuple(kinds), bounds["min_tokens"], bounds["max_tokens"],
                 f"{at.source}:{at.header('routes', index) or '?'}")
