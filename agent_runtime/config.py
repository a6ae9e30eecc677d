"""Settings, validated once, in one object.

Every setting has the name it has in `.env.example` (its schema: SettingsVars, docs/configuration.md).
A bad value stops start-up with a ConfigError in the one shape of schema.py: where it was set (the
file and line, or the environment), the variable, what it accepts and what it was.

Where settings come from, the first that has a value winning:

    1. the command line (--approval, --model, --max-steps, --max-attempts)
    2. the environment of the process (the user's)
    3. the user's config file: $XDG_CONFIG_HOME/agent-runtime/config.env (~/.config/...),
       dotenv format, the names of .env.example. Other variables there (OPENAI_API_KEY, ...)
       are exported for LiteLLM: the file is the user's own.
    4. a `.env` in the repository and in the current directory: only REPO_SETTINGS, settings
       that change how the agent works on this project, never what it may do without asking
       or where data goes. Nothing from it enters the process environment; other variables
       there are ignored with one warning saying where to put them instead.

A repository is not trusted: its files cannot choose the approval mode, the policy file, the
model or its endpoint and keys, where traces and run records go, or the environment of git.
"""

from __future__ import annotations

import io
import os
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Mapping

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

import agent_runtime.schema as schema


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message is one line for the user."""


def state_home() -> Path:
    """Where per-user state lives (runs, REPL history, undo journal)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "agent-runtime"


def data_home() -> Path:
    """Where per-user data lives (Phoenix's working directory)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "agent-runtime"


def cache_home() -> Path:
    """Where per-user caches live (model weights: models/weights.py)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-runtime"


def agent_dirs(runs: Path | None = None) -> list[Path]:
    """Every directory of the agent's own: run records, server logs, the undo journal, REPL history
    (state), the user's configuration, Phoenix's traces (data), caches, and the runs directory
    (`runs`, and RUNS_DIR of the environment and of the user's config file). What no sandboxed
    program may list or read."""
    found = [state_home(), config_home(), data_home(), cache_home()]
    if runs is not None:
        found.append(Path(runs))
    # RUNS_DIR where the settings may have it (a sandbox made without them: an MCP server's)
    for raw in (os.environ.get("RUNS_DIR", ""), read_env_file(user_config_path()).get("RUNS_DIR", "")):
        if raw.strip():
            found.append(Path(raw.strip()).expanduser())
    return [path for i, path in enumerate(found) if path.is_absolute() and path not in found[:i]]


# --- each variable's text read into its type: what it accepts, said by schema.Wrong ---

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise schema.Wrong("true or false (1/0, yes/no, on/off)")


def _whole(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise schema.Wrong("a whole number") from None


def _number(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise schema.Wrong("a number") from None


def _lower(raw: str) -> str:
    return raw.strip().lower()


def _text(raw: str) -> str | None:
    return raw.strip() or None


def _url(raw: str) -> str | None:
    value = raw.strip().rstrip("/")
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise schema.Wrong("a URL starting with http:// or https://")
    return value


def _path(raw: str) -> Path | None:
    value = raw.strip()
    return Path(value).expanduser() if value else None


def _comma_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _or_none(read: Callable[[str], Any]) -> Callable[[str], Any]:
    """Empty: unset (None); else `read`."""
    return lambda raw: read(raw) if raw.strip() else None


def _whole_from(low: int, high: int | None = None) -> Any:
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_whole)]  # the text read first, then checked


def _choice(*options: str) -> Any:
    return Annotated[Literal[options], BeforeValidator(_lower)]  # type: ignore[valid-type]


def _phoenix(raw: str) -> str:
    # Phoenix's base URL; its OTLP address (…/v1/traces, what OpenTelemetry's docs give) means the same.
    return (_url(raw) or "").removesuffix("/v1/traces").rstrip("/") or "http://127.0.0.1:6006"


Text = Annotated[str | None, BeforeValidator(_text)]
Flag = Annotated[bool, BeforeValidator(_bool)]
Where = Annotated[Path | None, BeforeValidator(_path)]


@dataclass(frozen=True)
class Settings:
    """All settings. Field name = lower-cased environment variable name."""

    model_id: str | None = None  # None: the embedded llama.cpp model
    model_api_base: str | None = None
    model_api_key: str | None = None
    model_temperature: float = 0.1
    model_max_tokens: int = 1024
    model_context_window: int | None = None  # None: 16384 for local models, the provider's for hosted
    model_timeout: int = 600
    model_gguf: Path | None = None
    model_fallback_ids: tuple[str, ...] = ()
    model_prompt_lookup: bool = True  # the embedded server decodes speculatively from prompt lookup
    grammar: str = "auto"
    agent_max_steps: int = 25
    agent_time_budget: int | None = None  # seconds a task may take; a fix task stops trying before it runs out
    agent_max_attempts: int = 3  # fixes a fix task tries before it stops and says what it tried
    agent_coaching: str | None = None  # one run's coaching rules (models/profiles.py); None: the model's profile
    approval_mode: str | None = None  # None: ask on a TTY, never without one
    judge_model: str | None = None  # --approval judge: None is the models file's judge, else the embedded 0.5B model
    planner_model: str | None = None  # the planner role: a models file name or a model id (models/roles.py)
    models_file: Path | None = None  # None: <config home>/models.toml (models/catalog.py); only ever the user's
    phoenix_enabled: bool = False
    phoenix_endpoint: str = "http://127.0.0.1:6006"
    phoenix_port: int = 6006
    phoenix_project_name: str = "agent-runtime"
    trace_hide_content: bool = False
    validation_max_chars: int = 5000
    validation_max_lines: int = 200
    validation_max_line_range: int = 1000
    patch_max_bytes: int = 1_000_000
    truncation_max_chars: int = 3000
    truncation_max_lines: int = 150
    truncation_max_list_items: int = 100
    log_level: str = "INFO"
    suppress_warnings: bool = True
    runs_dir: Path | None = None  # None: <state home>/runs
    # None: the shipped policy (agent_runtime/safety/policy.toml). A repository's own policy.toml is
    # never read: POLICY_FILE comes only from the user (environment, config file, not a repo's .env).
    policy_file: Path | None = None
    checkpoints: bool = True  # the workspace saved around every sandboxed command, for undo (patches/checkpoint.py)
    checkpoint_max_bytes: int = 1 << 30  # the checkpoint store's size at most; what does not fit is named, not kept

    @property
    def runs_path(self) -> Path:
        return self.runs_dir or state_home() / "runs"

    @property
    def uses_embedded_model(self) -> bool:
        return self.model_id is None or self.model_id == "embedded" or self.model_id.startswith("embedded:")


class SettingsVars(BaseModel):
    """The settings, by the names of .env.example (its comments say what each does)."""

    model_config = ConfigDict(alias_generator=str.upper, extra="forbid", frozen=True)
    model_id: Text = None
    model_api_base: Annotated[str | None, BeforeValidator(_url)] = None
    model_api_key: Text = None
    model_temperature: Annotated[float, Field(ge=0.0, le=2.0), BeforeValidator(_number)] = 0.1
    model_max_tokens: _whole_from(16, 32768) = 1024
    model_context_window: Annotated[Annotated[int, Field(ge=512, le=1_048_576)] | None,
                                    BeforeValidator(_or_none(_whole))] = None
    model_timeout: _whole_from(1, 86400) = 600
    model_gguf: Where = None
    model_fallback_ids: Annotated[tuple[str, ...], BeforeValidator(_comma_list)] = ()
    model_prompt_lookup: Flag = True
    grammar: _choice("auto", "tools", "python", "off") = "auto"
    agent_max_steps: _whole_from(1, 1000) = 25
    agent_time_budget: Annotated[Annotated[int, Field(ge=10, le=864000)] | None,
                                 BeforeValidator(_or_none(_whole))] = None
    agent_max_attempts: _whole_from(1, 1000) = 3
    agent_coaching: Text = None  # read (and refused with the rules listed) by models/profiles.py
    approval_mode: Annotated[Literal["ask", "auto", "never", "judge"] | None, BeforeValidator(_or_none(_lower))] = None
    judge_model: Text = None
    planner_model: Text = None
    models_file: Where = None
    phoenix_enabled: Flag = False
    phoenix_endpoint: Annotated[str, BeforeValidator(_phoenix)] = "http://127.0.0.1:6006"
    phoenix_port: _whole_from(1, 65535) = 6006
    phoenix_project_name: Annotated[str, BeforeValidator(lambda raw: raw.strip() or "agent-runtime")] = "agent-runtime"
    trace_hide_content: Flag = False
    validation_max_chars: _whole_from(100) = 5000
    validation_max_lines: _whole_from(10) = 200
    validation_max_line_range: _whole_from(10) = 1000
    patch_max_bytes: _whole_from(1000, 100_000_000) = 1_000_000
    truncation_max_chars: _whole_from(200) = 3000
    truncation_max_lines: _whole_from(10) = 150
    truncation_max_list_items: _whole_from(5) = 100
    log_level: Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(_lower),
                         AfterValidator(str.upper)] = "INFO"  # as logging names them
    suppress_warnings: Flag = True
    runs_dir: Where = None
    policy_file: Where = None
    checkpoints: Flag = True
    checkpoint_max_bytes: _whole_from(1 << 20) = 1 << 30


_NAMES = frozenset(str(f.alias) for f in SettingsVars.model_fields.values())
assert [(f.name, f.default) for f in fields(Settings)] == [
    (name, f.default) for name, f in SettingsVars.model_fields.items()], "Settings and SettingsVars say the same"


# Settings a repository's `.env` may set: how the agent works on this project. Not among them,
# and so only from the user: APPROVAL_MODE, JUDGE_MODEL, PLANNER_MODEL, MODELS_FILE, POLICY_FILE, MODEL_ID,
# MODEL_API_BASE, MODEL_API_KEY, MODEL_FALLBACK_IDS, MODEL_GGUF, MODEL_CONTEXT_WINDOW, PHOENIX_ENABLED,
# PHOENIX_ENDPOINT, PHOENIX_PORT, RUNS_DIR, CHECKPOINTS, CHECKPOINT_MAX_BYTES (they lower safety, redirect data, or load files as models).
REPO_SETTINGS = frozenset({
    "MODEL_TEMPERATURE", "MODEL_MAX_TOKENS", "MODEL_TIMEOUT", "GRAMMAR", "AGENT_MAX_STEPS", "AGENT_TIME_BUDGET", "AGENT_MAX_ATTEMPTS",
    "TRUNCATION_MAX_CHARS", "TRUNCATION_MAX_LINES", "TRUNCATION_MAX_LIST_ITEMS",
    "VALIDATION_MAX_CHARS", "VALIDATION_MAX_LINES", "VALIDATION_MAX_LINE_RANGE", "PATCH_MAX_BYTES",
    "LOG_LEVEL", "PHOENIX_PROJECT_NAME", "TRACE_HIDE_CONTENT", "SUPPRESS_WARNINGS",
})
assert REPO_SETTINGS <= _NAMES
USER_CONFIG_NAME = "config.env"
_SHOWN_NAMES = 12  # names listed in the warning about ignored variables


def config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agent-runtime"


# A second trust file, read beside the user's and never written: `agent-runtime eval --skills trusted`
# gives each task's agent one naming that task's repository skills, so that a measurement of what a
# skill is worth leaves nothing in the user's own file. Only the environment sets it (a repository's
# .env cannot: it is no setting), as only the environment sets XDG_CONFIG_HOME, which moves the whole file.
EXTRA_TRUST_ENV = "AGENT_RUNTIME_TRUSTED_SKILLS"


def extra_trust_path() -> Path | None:
    value = os.environ.get(EXTRA_TRUST_ENV, "").strip()
    return Path(value) if value else None


def user_config_path() -> Path:
    """The user's own settings file (trusted like the environment)."""
    return config_home() / USER_CONFIG_NAME


def mcp_config_path() -> Path:
    """The user's MCP servers (tools/mcpconfig.py reads it; redaction reads their env's secrets)."""
    return config_home() / "mcp.toml"


USER_FILE_MAX_BYTES = 1_000_000


def read_user_file(path: Path, max_bytes: int = USER_FILE_MAX_BYTES) -> str:
    """A small configuration file's text (the models file, mcp.toml). A FIFO, a device (/dev/zero),
    a directory or a file over max_bytes is refused with OSError, never read: reading one would hang
    start-up or fill memory. FileNotFoundError when there is none; UnicodeDecodeError as read_text."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO without a writer does not block the open
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file ({'a directory' if stat.S_ISDIR(info.st_mode) else 'a FIFO, device or socket'})")
        if info.st_size > max_bytes:
            raise OSError(f"{info.st_size:,} bytes, more than a configuration file holds ({max_bytes:,} at most)")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise OSError(f"more than a configuration file holds ({max_bytes:,} bytes at most)")
    return data.decode("utf-8")


# A variable's name as a warning may show it or the user's config file export it: letters of one
# case, digits and `_` (OPENAI_API_KEY, http_proxy). Anything else read as a name is counted, never
# quoted: python-dotenv reads a key file's base64 line ending in `=` as a name, an identifier too,
# but one that mixes cases.
VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}|[a-z_][a-z0-9_]{0,63}")


def is_variable_name(name: str) -> bool:
    return bool(VARIABLE_NAME.fullmatch(name))


def outside_of(path: Path, directory: Path) -> str | None:
    """Why the repository file `path` may not be read as configuration: it resolves outside
    `directory` (a symlink to ~/.ssh/id_ed25519); None when it may."""
    real = Path(os.path.realpath(path))
    if real.is_relative_to(Path(os.path.realpath(directory))):
        return None
    return (f"{path} is not read: it is a symlink that leads outside {directory} (to {real}), and a "
            "project's configuration is read only from the project")


def read_env_file(path: Path, inside: Path | None = None) -> dict[str, str]:
    """A dotenv file's variables, without touching os.environ (no interpolation of ${...}: a
    file's values are taken as written). Missing or unreadable: nothing. `inside`: the directory
    the file must resolve in (a repository's .env), else ConfigError naming it."""
    if inside is not None and os.path.lexists(path) and (why := outside_of(path, inside)):
        raise ConfigError(why)
    try:
        if not path.is_file():
            return {}
        from dotenv import dotenv_values

        values = dotenv_values(stream=io.StringIO(read_user_file(path)), interpolate=False)
    except (OSError, UnicodeDecodeError):
        return {}
    return {k: v for k, v in values.items() if k and v is not None}


def project_env_files(repo: Path | None, cwd: Path | None = None) -> list[Path]:
    """The `.env` files a repository may use for settings: the current directory's, then the repo's."""
    seen, out = set(), []
    for directory in (cwd or Path.cwd(), repo):
        if directory is None:
            continue
        path = Path(directory).resolve() / ".env"
        if path not in seen:
            seen.add(path)
            out.append(path)
    return out


def _describe(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN_NAMES])
    return shown + (f" and {len(names) - _SHOWN_NAMES} more" if len(names) > _SHOWN_NAMES else "")


def load_config(repo: Path | None = None, *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
                user_file: Path | None = None, export: bool = True,
                **overrides: Any) -> tuple[Settings, list[str]]:
    """Settings from every source (see the module), and warnings for the user.

    export: put the user config file's other variables (provider API keys) into os.environ,
    unless the environment already has them. Nothing from a repository is ever exported.
    """
    env = os.environ if env is None else env
    user_path = user_file or user_config_path()
    user = read_env_file(user_path)
    raw: dict[str, tuple[str, str]] = {}  # name -> (value, where)
    ignored: dict[Path, list[str]] = {}
    warnings = []
    for path in project_env_files(repo, cwd):
        try:  # a repository's .env only from the repository (or the start directory) itself
            found = read_env_file(path, inside=path.parent)
        except ConfigError as exc:
            warnings.append(str(exc))
            continue
        for name, value in found.items():
            if name in REPO_SETTINGS:
                raw[name] = (value, str(path))
            else:
                ignored.setdefault(path, []).append(name)
    for name, value in user.items():
        if name in _NAMES:
            raw[name] = (value, str(user_path))
    for name in _NAMES:
        if name in env:
            raw[name] = (env[name], "")
    settings = _parse(raw, overrides)
    if export:
        for name, value in user.items():
            if name not in _NAMES and name not in os.environ and is_variable_name(name):
                os.environ[name] = value
    for path, names in ignored.items():
        home = str(Path.home())
        shown_user = "~" + str(user_path)[len(home):] if str(user_path).startswith(home + os.sep) else str(user_path)
        shown = sorted(name for name in names if is_variable_name(name))
        odd = len(names) - len(shown)  # never quoted: what is not a name may be a value (a line of a key)
        what = ", ".join(filter(None, [_describe(shown) if shown else "",
                                       f"{odd} line{'s' if odd != 1 else ''} that {'are' if odd != 1 else 'is'} "
                                       "not a variable name" if odd else ""]))
        warnings.append(
            f"ignored in {path}: {what} (a repository's .env may set only the settings "
            f"marked [repo] in .env.example; put the others, and provider keys, in the environment or in {shown_user})"
        )
    return settings, warnings


def _parse(raw: Mapping[str, tuple[str, str]], overrides: Mapping[str, Any]) -> Settings:
    try:
        parsed = SettingsVars.model_validate({name: text for name, (text, _) in raw.items()})
    except ValidationError as exc:
        loc, expected, _ = schema.first_error(exc, SettingsVars)
        name = str(loc[0])
        text, where = raw[name]  # found: the text as written, not what it was read as
        raise ConfigError(schema.message(where or "environment", name, expected, schema.shown(text),
                                         _line_of(Path(where), name) if where else None)) from None
    values: dict[str, Any] = {key: getattr(parsed, key) for key in parsed.model_fields_set}
    for key, value in overrides.items():
        if value is not None:
            values[key] = value
    return Settings(**values)


def _line_of(path: Path, name: str) -> int | None:
    """The line that sets `name` in a dotenv file (the last: it is the one read)."""
    pattern = re.compile(rf"^\s*(?:export\s+)?['\"]?{re.escape(name)}['\"]?\s*=")
    try:
        lines = read_user_file(path).splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    found = [number for number, line in enumerate(lines, 1) if pattern.match(line)]
    return found[-1] if found else None


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from `env` alone (default os.environ); `overrides` are CLI options already parsed."""
    env = os.environ if env is None else env
    return _parse({name: (env[name], "") for name in _NAMES if name in env}, overrides)


def default_approval_mode(settings: Settings) -> str:
    """ask on a terminal, never without one (CI, pipes): nobody is there to answer."""
    if settings.approval_mode:
        return settings.approval_mode
    return "ask" if sys.stdin.isatty() and sys.stderr.isatty() else "never"
