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
# with real newlines or the `\n` of a JSON string (a GCP service-account file), also with its header
# folded or cut anywhere (`fold -w 20`): a line break may fall between any two of its characters.
_BREAK = r"(?:\s|\\n)*"


def _folded(word: str) -> str:
    return _BREAK.join(re.escape(char) for char in word)


PEM_BLOCK = re.compile(_folded("-----BEGIN") + r"[A-Za-z0-9 \s\\]{0,40}?" + _folded("PRIVATE") + _BREAK + _folded("KEY")
                       + r"(?: BLOCK)?" + _BREAK + _folded("-----") + r".*?(?:-----END[A-Z0-9 ]*-----|\Z)", re.S)
# What is left of a block whose header was cut off in an earlier output: from `KEY-----` on, or its
# body's lines before `-----END ... PRIVATE KEY-----`.
_BODY_LINES = r"(?:^|(?<=\\n))(?:[A-Za-z0-9+/=]{16,}+(?:\r?\n|\\n))+"  # from a line's start: no backtracking
PEM_REST = re.compile(r"(?<!PUBLIC )KEY(?: BLOCK)?-----(?=(?:\s|\\n)+[A-Za-z0-9+/=]{40,}).*?(?:-----END[A-Z0-9 ]*-----|\Z)"
                      r"|" + _BODY_LINES + r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----", re.S | re.M)
_PEM_LINE = re.compile(r"[A-Za-z0-9+/=]{16,}")
# scheme://user:password@  (the password may hold '@' and characters the plugin's pattern excludes;
# it ends at the last '@' before a separator)
URL_CREDENTIALS = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/:@\"'\\<>]*:([^\s/\"'\\<>]*)@")
# A JWT's parts: its signature (and claims) alone are the token's secret part.
JWT_PARTS = re.compile(r"eyJ[A-Za-z0-9_-]+\.(eyJ[A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{16,})")
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
# The plugins' patterns backtrack: `(?: *)(?: +)(?: *)` is cubic in a run of spaces, `password\w*` quadratic
# in a long word. They read a line in pieces, runs of spaces made one, words cut at _LONG_WORD
# characters: a found value never holds a space, and one cut short is completed by _REST_OF_TOKEN.
_MAX_LINE = 4000
_SPACES = re.compile(r"\s{2,}")
_LONG_WORD = 200
_LONG_WORDS = re.compile(r"\w{%d,}" % (_LONG_WORD + 1))
# A line is read further only if it holds a secret-sounding name, or 16 letters, digits, '_' or '-' in
# a row: every plugin's secret does (a key, a JWT's part, 40 characters of base64 do but for a rare '/'
# or '+'; Artifactory's shortest, 11, aside) but for those that must follow a name (AWS, Azure); a
# URL's password is URL_CREDENTIALS'. A mime type, a path or a sentence is not read further.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]{16,}")
_NAME_WORDS = ("key", "pass", "pwd", "secret", "contras")


@functools.cache
def _detector() -> tuple[Callable[[str], bool], Callable[[str], Iterable[str]]]:
    """Which lines are worth reading, and what the plugins find in one, loaded on first use
    (detect-secrets takes 80 ms to import: a command that redacts nothing does not wait for it)."""
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
    # All their patterns in one search: most lines match none, and one search costs less than 22 calls.
    any_plugin = re.compile("|".join(f"(?{_flags(p.flags)}:{p.pattern})" for plugin in plugins for p in plugin.denylist))
    keyword = KeywordDetector()
    named = re.compile("|".join(DENYLIST), re.I)
    # Words every name of the keyword plugin holds: looked for in lower case, much faster than its names
    # in one case-blind pattern. A name of a later version without them is looked for as it is.
    others = [name for name in DENYLIST if not any(word in name for word in _NAME_WORDS)]
    other_names = re.compile("|".join(others), re.I) if others else None

    def worth_reading(text: str) -> bool:
        lower = text.lower()
        return bool(_TOKEN_RUN.search(text) or any(word in lower for word in _NAME_WORDS)
                    or (other_names and other_names.search(text)))

    def values(line: str) -> Iterable[str]:
        if any_plugin.search(line):
            for plugin in plugins:
                yield from map(_clean, _plugin_values(plugin, line))
        if not named.search(line):
            return
        # Values assigned to secret-sounding names (`password=...`, `"api_key": "..."`), quoted (as in code)
        # or not (as in config files and commands), less what the plugin's own filters drop.
        for mapping, names in ((QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP, _ENV_NAME),
                               (CONFIG_DENYLIST_REGEX_TO_GROUP, _IDENTIFIER)):
            for value in map(_clean, keyword.analyze_string(line, denylist_regex_to_group=mapping)):
                if not (names.match(value) or _REFERENCE.match(value) or is_templated_secret(value)
                        or is_prefixed_with_dollar_sign(value) or is_sequential_string(value)
                        or is_potential_uuid(value)):
                    yield value

    return worth_reading, values


def _flags(flags: int) -> str:
    return "".join(letter for letter, flag in (("i", re.I), ("x", re.X)) if flags & flag)


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
    """The line, and the lines of the JSON string it holds (a span's arguments: `{\\"password\\": ...}`),
    as the plugins read them (see _MAX_LINE)."""
    if "\\" in line:
        pieces = [line, *line.replace('\\"', '"').replace("\\n", "\n").splitlines()]
    else:
        pieces = [line]
    return [_LONG_WORDS.sub(lambda m: m.group()[:_LONG_WORD], _SPACES.sub(" ", piece)) for piece in pieces]


def found_secrets(text: str) -> set[str]:
    """The secret values the plugins find in text, line by line."""
    worth_reading, values = _detector()
    if not worth_reading(text):
        return set()
    found: set[str] = set()
    for whole in text.splitlines():
        if not worth_reading(whole):
            continue
        for start in range(0, len(whole), _MAX_LINE):
            line = whole[start:start + _MAX_LINE + 200]  # pieces overlap: a secret on a boundary is whole in one
            for piece in _unescaped(line):
                found.update(values(piece))
    return {value for value in found if len(value) >= MIN_LENGTH and REDACTED not in value}


def redact_shapes(text: str) -> str:
    """text with URL passwords, private keys and every key-shaped or assigned secret replaced."""
    return redact_found(text)[0]


def redact_found(text: str) -> tuple[str, set[str]]:
    """redact_shapes' text, and the secrets it took out (a URL's password, a key's lines, a token,
    a JWT's claims and signature): what a redactor remembers to take out wherever they appear again."""
    if len(text) < MIN_LENGTH:
        return text, set()
    taken: set[str] = set()

    def url(match: re.Match[str]) -> str:
        taken.add(match.group(2))
        return match.group(1) + REDACTED + "@"

    def pem(match: re.Match[str]) -> str:
        taken.update(_PEM_LINE.findall(match.group().replace("\\n", "\n")))
        return REDACTED

    def whole(match: re.Match[str]) -> str:
        taken.add(match.group().split()[-1])  # a bearer or basic credential without its word
        return REDACTED

    text = URL_CREDENTIALS.sub(url, text)
    text = PEM_BLOCK.sub(pem, text)
    text = PEM_REST.sub(pem, text)
    text = HAND_SHAPES.sub(whole, text)
    found = sorted(found_secrets(text), key=len, reverse=True)  # longest first: no half-redacted secret
    if found:
        pattern = "|".join(re.escape(value) + (_REST_OF_TOKEN if value[-1].isalnum() else "") for value in found)
        text = re.sub(pattern, lambda match: taken.add(match.group()) or REDACTED, text)
    for token in list(taken):
        taken.update(part for jwt in JWT_PARTS.finditer(token) for part in jwt.groups())
    return text, {value for value in taken if len(value) >= MIN_LENGTH and REDACTED not in value}
