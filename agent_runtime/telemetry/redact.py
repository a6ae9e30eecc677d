"""Secrets out of everything that leaves the process: values of environment variables with
secret-looking names, the same from `.env` files, and strings shaped like API keys."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from agent_runtime.core import is_secret_name

# Strings shaped like API keys, whatever variable they came from.
KEY_SHAPES = re.compile(
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"  # OpenAI, Anthropic
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}"  # GitHub
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bAIza[0-9A-Za-z_-]{35}\b"  # Google
    r"|\bhf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|\bglpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{20,}=*"  # bearer tokens
)
REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words


class Redactor:
    """Replaces secret values and key-shaped strings in text."""

    def __init__(self, values: Iterable[str] = ()):
        secrets = sorted({v for v in values if v and len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._values = re.compile("|".join(re.escape(v) for v in secrets)) if secrets else None

    @classmethod
    def from_environment(cls, env: Mapping[str, str], dotenv_files: Iterable[Path] = ()) -> "Redactor":
        values = [v for k, v in env.items() if is_secret_name(k)]
        for path in dotenv_files:
            if path.is_file():
                from dotenv import dotenv_values

                values += [v for k, v in dotenv_values(path).items() if v and is_secret_name(k)]
        return cls(values)

    def __call__(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(REDACTED, text)
        return KEY_SHAPES.sub(REDACTED, text)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self(v) if isinstance(v, str) else v for v in value)
        return value


_active: Redactor = Redactor()


def install_redaction(redactor: Redactor) -> None:
    """Use `redactor` for what the CLI prints and logs (spans and run files get theirs explicitly)."""
    global _active
    _active = redactor

    class _Filter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = _active(record.getMessage())
            record.args = ()
            return True

    for handler in logging.getLogger().handlers:
        handler.addFilter(_Filter())


def redact_text(text: str) -> str:
    return _active(text)


