"""A repository's .git/config as sandboxed commands (git included) see it: a copy without its
credentials (a remote URL's user:token@, http.extraheader, and any key named like a secret)."""

from __future__ import annotations

import re
from pathlib import Path

from agent_runtime.core import is_secret_name

_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/@\"]*@")
_CONFIG_KEY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=|$)")


def sanitized_git_config(text: str) -> str:
    """A git config file's text without credentials: the user:token@ of every URL (also in section
    names, `[url "https://tok@host/"]`), and every setting named like a secret or extraheader
    (with its continuation lines). Everything else, which git needs to work, stays as it was."""
    out: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if dropping:
            dropping = body.endswith("\\")
            continue
        key = _CONFIG_KEY.match(body)
        if key and not body.lstrip().startswith("[") and (key.group(1).lower() == "extraheader"
                                                          or is_secret_name(key.group(1))):
            dropping = body.endswith("\\")
            continue
        out.append(_URL_USERINFO.sub(r"\1", line))
    return "".join(out)


def git_config_copy(root: Path, scratch: Path) -> Path | None:
    """The repository's .git/config without credentials, to bind over it read-only."""
    config = root / ".git" / "config"
    if not config.is_file() or config.is_symlink() or (root / ".git").is_symlink():
        return None
    try:
        text = config.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    copy = scratch / "git-config"
    copy.write_text(sanitized_git_config(text), encoding="utf-8", errors="surrogateescape")
    return copy
