"""Secrets out of everything that leaves the process: spans, run files, logs, what the terminal shows.

Redacted, wherever they appear:
- the value of every variable in the workspace's `.env` files (any name: `DATABASE_URL` is as
  secret as `API_KEY`), in the repository and the current directory;
- the values of environment variables, and of the user's config file, whose names look secret
  (`agent_runtime.core.is_secret_name`, the one list) and the configured MODEL_API_KEY;
- each of those values encoded: JSON-escaped, URL-encoded, hex, base64 (standard and URL-safe,
  at any alignment inside a longer base64 text);
- the password of any URL (`scheme://user:password@host`), private keys, strings shaped like API keys
  and values assigned to secret-sounding names (`password=...`): found by detect-secrets' plugins,
  and hand patterns for what they lack (agent_runtime.redact.shapes);
- what was found by its shape once, from then on wherever it appears, in every encoded form above,
  without its label too (`password=x7Qp...` once, then `x7Qp...` alone; a JWT's signature alone;
  a private key's lines without its header): a Redactor remembers it (the session has one).

A Redactor never fails and returns text that can always be written: lone surrogates (from a
model or from undecodable bytes) come out as the escape `\\udXXX`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

from agent_runtime.core import is_secret_name
from agent_runtime.redact.shapes import REDACTED, redact_found

MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words
MIN_ENCODED_LENGTH = 8  # shorter encoded pieces match too much by chance
_SURROGATE = re.compile("[\ud800-\udfff]")
# .env templates hold placeholders, not secrets (the policy lets the model read them).
TEMPLATES = {".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults"}
_PLAIN_VALUE = re.compile(r"^(?:-?\d+(?:\.\d+)?|true|false|yes|no|on|off|none|null)$", re.I)


def _base64_cores(data: bytes) -> set[str]:
    """The part of data's base64 that is the same wherever data sits in a longer encoded text."""
    cores = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode("ascii")
        start = -(-8 * shift // 6)  # first character that depends on data alone
        end = 8 * (shift + len(data)) // 6  # last character not touched by what follows
        core = encoded[start:end]
        if len(core) >= MIN_ENCODED_LENGTH:
            cores.add(core)
            cores.add(core.translate(str.maketrans("+/", "-_")))
    return cores


def encoded_forms(secret: str) -> set[str]:
    """The secret and the forms it takes in JSON, URLs, hex and base64 dumps."""
    forms = {secret}
    forms.add(json.dumps(secret)[1:-1])
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    forms.add(quote(secret, safe=""))
    forms.add(repr(secret)[1:-1])
    data = secret.encode("utf-8", "surrogatepass")
    hexed = binascii.hexlify(data).decode("ascii")
    forms |= {hexed, hexed.upper()}
    forms |= _base64_cores(data)
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def url_password(value: str) -> str | None:
    """The password inside a URL-like value (postgres://user:pw@host/db), if any."""
    if "://" not in value or "@" not in value:
        return None
    try:
        password = urlsplit(value.strip()).password
    except ValueError:
        return None
    return unquote(password) if password else None


def secret_values(value: str) -> list[str]:
    """A secret value and the secrets inside it (a URL's password)."""
    found = [value]
    password = url_password(value)
    if password:
        found.append(password)
    return found


def _alternatives(words: Iterable[str]) -> str:
    """One pattern for many literal strings, as a tree of their common prefixes: the regex engine
    tries each alternative at each position, so hundreds of flat ones (every encoded form of every
    value) would be slow. Where one word is the start of another, the longer is tried first."""
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        out = ""
        while len(node) == 1 and "" not in node:  # one way on: no group needed
            (char, node), = node.items()
            out += re.escape(char)
        if not node or list(node) == [""]:
            return out
        ends = "" in node
        branches = [re.escape(char) + pattern(rest) for char, rest in sorted(node.items()) if char]
        inner = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return out + (f"(?:{inner})?" if ends else inner)

    return pattern(tree)


MAX_REMEMBERED = 2000  # encoded forms of values found by shape that one redactor keeps
MAX_REMEMBERED_LENGTH = 1024  # a longer find is no token (a run of `password` repeated): not kept
MIN_REMEMBERED_LENGTH = 8
_LETTER = re.compile(r"[A-Za-z]")
_NOT_A_WORD = re.compile(r"[^A-Za-z_.-]")  # a digit or a symbol, which no word of prose holds


def worth_remembering(value: str) -> bool:
    """A find by shape kept as a known value: long enough, with a letter and something no word of code
    or prose holds; an ordinary word found beside a label is taken out there, not everywhere."""
    return (MIN_REMEMBERED_LENGTH <= len(value) <= MAX_REMEMBERED_LENGTH and bool(_LETTER.search(value))
            and bool(_NOT_A_WORD.search(value)))


class Redactor:
    """Replaces secret values (in every encoded form) and secrets found by their shape in text, and
    from then on those found by shape as known values too."""

    def __init__(self, values: Iterable[str] = ()):
        secrets: set[str] = set()
        for value in values:
            for piece in secret_values(value) if value else ():
                if len(piece) >= MIN_SECRET_LENGTH:
                    secrets |= encoded_forms(piece)
        self._values = re.compile(_alternatives(secrets)) if secrets else None
        self._known = secrets
        self._remembered: set[str] = set()
        # What was found by shape, in batches of forms with their pattern: each find is compiled alone, and
        # two batches of like size into one (as a binary counter adds), so there are few, and compiling
        # every form again at each find (a second near the limit) never happens.
        self._found: list[tuple[set[str], re.Pattern[str]]] = []
        self._lock = threading.Lock()  # spans are exported from other threads
        self.count = len(secrets)

    def remember(self, values: Iterable[str]) -> None:
        """Those worth it known values from now on, in every encoded form (up to MAX_REMEMBERED forms in all)."""
        with self._lock:
            new = {form for value in values if worth_remembering(value)
                   for form in encoded_forms(value)} - self._known - self._remembered
            if not new or len(self._remembered) + len(new) > MAX_REMEMBERED:
                return
            self._remembered |= new
            batches = [*self._found, (new, re.compile(_alternatives(new)))]
            while len(batches) > 1 and len(batches[-2][0]) <= 2 * len(batches[-1][0]):
                forms = batches[-2][0] | batches[-1][0]
                batches[-2:] = [(forms, re.compile(_alternatives(forms)))]
            self._found = batches
            self.count = len(self._known) + len(self._remembered)

    @classmethod
    def from_environment(cls, env: Mapping[str, str], dotenv_files: Iterable[Path] = ()) -> "Redactor":
        """Secret-named variables of `env`, and every value of the given dotenv files."""
        return cls(list(_env_secrets(env)) + [v for path in dotenv_files for v in _file_values(path)])

    @classmethod
    def for_session(cls, repo: Path, settings: Any = None, env: Mapping[str, str] | None = None,
                    cwd: Path | None = None) -> "Redactor":
        """Everything this process could leak: the environment's secrets, the user's config file's
        secrets, every value of the `.env*` files (not templates) in the repository and the current
        directory, and the configured MODEL_API_KEY."""
        import os

        from agent_runtime.config import read_env_file, user_config_path

        values = list(_env_secrets(os.environ if env is None else env))
        values += list(_env_secrets(read_env_file(user_config_path())))
        for path in workspace_env_files(repo, cwd):
            values += _file_values(path)
        values += list(_mcp_env_secrets())
        key = getattr(settings, "model_api_key", None)
        if key:
            values.append(key)
        return cls(values)

    def __call__(self, text: str) -> str:
        if not isinstance(text, str):
            text = str(text)
        for known in ([self._values] if self._values is not None else []) + [pattern for _, pattern in self._found]:
            text = known.sub(REDACTED, text)
        text, found = redact_found(text)
        if found:
            self.remember(found)
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

    def value(self, value: Any) -> Any:
        """Strings inside attributes and structures (dicts, lists, tuples), redacted; other values as they are."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        return value


def _env_secrets(env: Mapping[str, str]) -> Iterable[str]:
    for name, value in env.items():
        if not value:
            continue
        if is_secret_name(name):
            yield value
        elif url_password(value):  # DATABASE_URL=postgres://user:pw@...: the password, not the URL
            yield url_password(value) or ""


def _mcp_env_secrets() -> Iterable[str]:
    """The secrets the user hands their MCP servers (`env` in mcp.toml): never in spans either."""
    import tomllib

    from agent_runtime.config import mcp_config_path, read_user_file

    try:
        servers = tomllib.loads(read_user_file(mcp_config_path())).get("servers", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return
    for server in servers.values() if isinstance(servers, dict) else ():
        env = server.get("env") if isinstance(server, dict) else None
        if isinstance(env, dict):
            yield from _env_secrets({k: v for k, v in env.items() if isinstance(k, str) and isinstance(v, str)})


def _file_values(path: Path) -> list[str]:
    from agent_runtime.config import read_env_file

    # Read for its values even where it leads out of the workspace (config.py refuses it as settings:
    # what it points at may still be printed in the sandbox), without python-dotenv's warnings, which
    # would name the lines of a file that is not one of settings (a key).
    quiet = logging.getLogger("dotenv.main")
    was, quiet.disabled = quiet.disabled, True
    try:
        found = read_env_file(Path(path))
    finally:
        quiet.disabled = was
    values = []
    for name, value in found.items():
        if value and (is_secret_name(name) or not _PLAIN_VALUE.match(value.strip())):
            values.append(value)
    return values


def workspace_env_files(repo: Path, cwd: Path | None = None) -> list[Path]:
    """`.env`, `.env.local`, `.env.production`, ... in the repository and the current directory."""
    seen: set[Path] = set()
    found = []
    for directory in (Path(repo), Path(cwd) if cwd else Path.cwd()):
        try:
            entries = sorted(Path(directory).resolve().iterdir())
        except OSError:
            continue
        for path in entries:
            if path.name.startswith(".env") and path.name not in TEMPLATES and path not in seen and path.is_file():
                seen.add(path)
                found.append(path)
    return found


_active: Redactor = Redactor()


class _LogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _active(record.getMessage())
        record.args = ()
        return True


_LOG_FILTER = _LogFilter()


def install_redaction(redactor: Redactor) -> None:
    """Use `redactor` for what the CLI prints and logs (spans and run files get theirs explicitly)."""
    global _active
    _active = redactor
    for handler in logging.getLogger().handlers:
        if _LOG_FILTER not in handler.filters:
            handler.addFilter(_LOG_FILTER)


def redact_text(text: str) -> str:
    return _active(text)


def active_redactor() -> Redactor:
    return _active
