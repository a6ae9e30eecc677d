"""Secrets found by their shape, whatever their origin: Yelp's detect-secrets plugins (maintained
formats: AWS, Azure, GitHub, GitLab, Slack, Stripe, npm, JWT, private keys, `password=`-style
assignments, ...), plus hand patterns for the formats those plugins lack.

Used by redact.Redactor only (one redactor for run records, spans, the terminal and notes). The
plugins are called directly (`analyze_string`), not through detect-secrets' settings and scan
functions: no global state, no verification requests over the network.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, Iterable

REDACTED = "[REDACTED]"

# Plugins left out: the high-entropy ones changed ordinary code (hashes, identifiers, base64 test
# data; benchmarks/secret_recall.py measures it); a public IP address is not a secret; the private-key
# plugin finds a key's `BEGIN ... PRIVATE KEY` words, not its body (PEM_BLOCK takes the whole block).
LEFT_OUT = {"Base64 High Entropy String", "Hex High Entropy String", "Public IP (ipv4)", "Private Key"}

# Formats the plugins lack (they know only these neighbours):
HAND_SHAPES = re.compile(
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"  # OpenAI (plugin: only legacy keys with T3BlbkFJ), Anthropic
    r"|\bgithub_pat_[A-Za-z0-9_]{30,}"  # GitHub fine-grained tokens (plugin: gh[pousr]_ only)
    r"|\bAIza[0-9A-Za-z_-]{35}\b"  # Google API keys
    r"|\bhf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|\bnpm_[A-Za-z0-9]{36}\b"  # npm tokens anywhere (plugin: only after `//registry/:_authToken=`)
    r"|(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}=="  # Azure storage keys anywhere (plugin: only after `AccountKey=`)
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{20,}=*"  # bearer tokens
    r"|(?i:basic)\s+[A-Za-z0-9+/]{16,}=*"  # HTTP basic credentials (user:password in base64)
)
# The plugin finds a private key's `BEGIN ... PRIVATE KEY` line, not its body: the whole block goes,
# with real newlines or the `\n` of a JSON string (a GCP service-account file).
PEM_BLOCK = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*-----|\Z)", re.S)
# scheme://user:password@  (the password may hold '@' and characters the plugin's pattern excludes;
# it ends at the last '@' before a separator)
URL_CREDENTIALS = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/:@\"'\\<>]*:[^\s/\"'\\<>]*@")
# A key the plugin matched on its first characters (Stripe's 24 of 99, GitHub's 36) goes whole.
_REST_OF_TOKEN = r"[A-Za-z0-9_-]*"
# A value ends at a space, a quote or a backslash: a sentence goes on (the npm plugin takes the rest of
# the line), and a JSON escape (\") is never cut in half.
_VALUE_END = re.compile(r"[\s\\\"']")
# `password = get_password()`, `secret: os.environ[...]`: a reference to a secret, not one.
_REFERENCE = re.compile(r"^[\w.-]+[\[(]")
# Unquoted, a name without a digit is code (`password=password`, `self.secret = secret`), not a secret
# (so `password=swordfish` is missed: `password=hunter2` is not); quoted, a variable's NAME is not one.
_IDENTIFIER = re.compile(r"^[A-Za-z_]+(?:\.[A-Za-z_]+)*$")
_ENV_NAME = re.compile(r"^[A-Z_]+$")
MIN_LENGTH = 6  # a shorter value would be replaced everywhere it appears (`str`, `None`)
_MAX_LINE = 4000  # the keyword patterns backtrack on very long lines: those are scanned in pieces


@functools.cache
def _detector() -> tuple[list[Any], Callable[[str], Iterable[str]]]:
    """The plugins, and the keyword plugin's search, loaded on first use (detect-secrets takes 80 ms
    to import: a command that redacts nothing does not wait for it)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.filters.heuristic import (
        is_potential_uuid,
        is_prefixed_with_dollar_sign,
        is_sequential_string,
        is_templated_secret,
    )
    from detect_secrets.plugins.keyword import (
        CONFIG_DENYLIST_REGEX_TO_GROUP,
        DENYLIST,
        QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        KeywordDetector,
    )

    classes = get_mapping_from_secret_type_to_class()
    plugins = [cls() for name, cls in sorted(classes.items()) if name not in LEFT_OUT and cls is not KeywordDetector]
    keyword = KeywordDetector()
    named = re.compile("|".join(DENYLIST), re.I)  # one quick search before the plugin's nine patterns

    def keyword_values(line: str) -> Iterable[str]:
        """Values assigned to secret-sounding names (`password=...`, `"api_key": "..."`), quoted (as in
        code) or not (as in config files and commands), less what the plugin's own filters drop."""
        if not named.search(line):
            return
        for mapping, names in ((QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP, _ENV_NAME),
                               (CONFIG_DENYLIST_REGEX_TO_GROUP, _IDENTIFIER)):
            for value in keyword.analyze_string(line, denylist_regex_to_group=mapping):
                value = _clean(value)
                if not (names.match(value) or _REFERENCE.match(value) or is_templated_secret(value)
                        or is_prefixed_with_dollar_sign(value) or is_sequential_string(value)
                        or is_potential_uuid(value)):
                    yield value

    return plugins, keyword_values


def _clean(value: str) -> str:
    value = value.removeprefix("AccountKey=")  # the Azure plugin's match holds the name: keep the name
    return _VALUE_END.split(value, 1)[0].rstrip(",;:)]}`.")


def _plugin_values(plugin: Any, line: str) -> Iterable[str]:
    """What a plugin finds in line. Its own analyze_string yields a pattern's group where the pattern has
    one, and GitHub's and GitLab's group the prefix ('ghp', not the token): a group shorter than a
    secret gives way to the whole match."""
    if not any(pattern.groups for pattern in plugin.denylist):
        yield from plugin.analyze_string(line)  # keeps a plugin's own check (the JWT plugin decodes its finds)
        return
    for pattern in plugin.denylist:
        for match in pattern.finditer(line):
            group = max((g for g in match.groups() if g), key=len, default="")
            yield group if len(group) >= MIN_LENGTH else match.group()


def _unescaped(line: str) -> list[str]:
    """The line, or the lines of the JSON string it holds (a span's arguments: `{\\"password\\": ...}`)."""
    if "\\" not in line:
        return [line]
    return [line, *line.replace('\\"', '"').replace("\\n", "\n").splitlines()]


def found_secrets(text: str) -> set[str]:
    """The secret values the plugins find in text, line by line."""
    plugins, keyword_values = _detector()
    found: set[str] = set()
    for whole in text.splitlines():
        for start in range(0, len(whole), _MAX_LINE):
            line = whole[start:start + _MAX_LINE + 200]  # pieces overlap: a secret on a boundary is whole in one
            for piece in _unescaped(line):
                for plugin in plugins:
                    found.update(_clean(value) for value in _plugin_values(plugin, piece))
                found.update(keyword_values(piece))
    return {value for value in found if len(value) >= MIN_LENGTH and REDACTED not in value}


def redact_shapes(text: str) -> str:
    """text with URL passwords, private keys and every key-shaped or assigned secret replaced."""
    text = URL_CREDENTIALS.sub(lambda m: m.group(1) + REDACTED + "@", text)
    text = PEM_BLOCK.sub(REDACTED, text)
    text = HAND_SHAPES.sub(REDACTED, text)
    found = sorted(found_secrets(text), key=len, reverse=True)  # longest first: no half-redacted secret
    if not found:
        return text
    pattern = "|".join(re.escape(value) + (_REST_OF_TOKEN if value[-1].isalnum() else "") for value in found)
    return re.sub(pattern, REDACTED, text)
