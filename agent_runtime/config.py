"""Settings from the environment and `.env`, validated once, in one object.

Every setting has the name it has in `.env.example`. A bad value stops start-up with a
ConfigError whose message names the variable and what it accepts.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping


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


# --- parsers: each takes the raw string and returns a value or raises ValueError(accepts) ---

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("true or false")


def _int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        accepts = f"a whole number from {low}" + (f" to {high}" if high is not None else " up")
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(accepts) from None
        if value < low or (high is not None and value > high):
            raise ValueError(accepts)
        return value

    return parse


def _float(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        accepts = f"a number from {low:g} to {high:g}"
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(accepts) from None
        if not low <= value <= high:
            raise ValueError(accepts)
        return value

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(" or ".join(options))
        return value

    return parse


def _text(raw: str) -> str | None:
    return raw.strip() or None


def _url(raw: str) -> str | None:
    value = raw.strip().rstrip("/")
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError("a URL starting with http:// or https://")
    return value


def _path(raw: str) -> Path | None:
    value = raw.strip()
    return Path(value).expanduser() if value else None


def _comma_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


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
    grammar: str = "auto"
    agent_max_steps: int = 25
    approval_mode: str | None = None  # None: ask on a TTY, never without one
    phoenix_enabled: bool = False
    phoenix_endpoint: str = "http://127.0.0.1:6006"
    phoenix_port: int = 6006
    phoenix_project_name: str = "agent-runtime"
    trace_hide_content: bool = False
    validation_max_chars: int = 5000
    validation_max_lines: int = 200
    validation_max_line_range: int = 1000
    truncation_max_chars: int = 3000
    truncation_max_lines: int = 150
    truncation_max_list_items: int = 100
    log_level: str = "INFO"
    suppress_warnings: bool = True
    runs_dir: Path | None = None  # None: <state home>/runs
    policy_file: Path | None = None  # None: policy.toml at the repo root, else the shipped one

    @property
    def runs_path(self) -> Path:
        return self.runs_dir or state_home() / "runs"

    @property
    def uses_embedded_model(self) -> bool:
        return self.model_id is None


# Variable -> parser. The parser's ValueError text says what the variable accepts.
_PARSERS: dict[str, Callable[[str], Any]] = {
    "MODEL_ID": _text,
    "MODEL_API_BASE": _url,
    "MODEL_API_KEY": _text,
    "MODEL_TEMPERATURE": _float(0.0, 2.0),
    "MODEL_MAX_TOKENS": _int(16, 32768),
    "MODEL_CONTEXT_WINDOW": lambda raw: _int(512, 1_048_576)(raw) if raw.strip() else None,
    "MODEL_TIMEOUT": _int(1, 86400),
    "MODEL_GGUF": _path,
    "MODEL_FALLBACK_IDS": _comma_list,
    "GRAMMAR": _choice("auto", "tools", "python", "off"),
    "AGENT_MAX_STEPS": _int(1, 1000),
    "APPROVAL_MODE": lambda raw: _choice("ask", "auto", "never")(raw) if raw.strip() else None,
    "PHOENIX_ENABLED": _bool,
    "PHOENIX_ENDPOINT": lambda raw: _url(raw) or "http://127.0.0.1:6006",
    "PHOENIX_PORT": _int(1, 65535),
    "PHOENIX_PROJECT_NAME": lambda raw: raw.strip() or "agent-runtime",
    "TRACE_HIDE_CONTENT": _bool,
    "VALIDATION_MAX_CHARS": _int(100),
    "VALIDATION_MAX_LINES": _int(10),
    "VALIDATION_MAX_LINE_RANGE": _int(10),
    "TRUNCATION_MAX_CHARS": _int(200),
    "TRUNCATION_MAX_LINES": _int(10),
    "TRUNCATION_MAX_LIST_ITEMS": _int(5),
    "LOG_LEVEL": lambda raw: _choice("debug", "info", "warning", "error")(raw).upper(),
    "SUPPRESS_WARNINGS": _bool,
    "RUNS_DIR": _path,
    "POLICY_FILE": _path,
}

assert set(_PARSERS) == {f.name.upper() for f in fields(Settings)}, "every setting needs a parser"


def load_dotenv_file(directory: Path | None = None) -> Path | None:
    """Load `.env` from `directory` (default: the current one) into os.environ.

    Values already in the environment win, as with any 12-factor tool. Provider keys
    (OPENAI_API_KEY, ...) set there reach LiteLLM this way.
    """
    path = (directory or Path.cwd()) / ".env"
    if not path.is_file():
        return None
    from dotenv import load_dotenv

    load_dotenv(path, override=False)
    return path


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from `env` (default os.environ); `overrides` are CLI options already parsed."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name, parse in _PARSERS.items():
        raw = env.get(name)
        if raw is None:
            continue
        try:
            values[name.lower()] = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not valid: expected {exc}") from None
    for key, value in overrides.items():
        if value is not None:
            values[key] = value
    return Settings(**values)


def default_approval_mode(settings: Settings) -> str:
    """ask on a terminal, never without one (CI, pipes): nobody is there to answer."""
    if settings.approval_mode:
        return settings.approval_mode
    return "ask" if sys.stdin.isatty() and sys.stderr.isatty() else "never"
