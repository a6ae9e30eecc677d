"""A word's leading `~` as bash expands it before the program sees the word.

`~` and `~/x` are $HOME; `~user/x` is that user's home (an unknown user stays literal, as bash
leaves it); `~+` is the current directory; `~-` (OLDPWD) and `~N`, `~+N`, `~-N` (the directory
stack) are only known at run time: they expand to UNKNOWN_DIRECTORY, which is outside every
workspace. Variables ($HOME, $OLDPWD, ...) are the parser's (commandline.py); globs are paths.py's.
"""

from __future__ import annotations

import pwd
import re
from pathlib import Path

UNKNOWN_DIRECTORY = Path("/dynamic-directory")  # `cd $X`, `~-`: where it points is unknown
_STACK = re.compile(r"[+-]?\d+")  # `~2`, `~+1`, `~-0`: entries of the directory stack


def _home_of(user: str) -> str | None:
    try:
        return pwd.getpwnam(user).pw_dir or None
    except (KeyError, ValueError):  # no such user, or a name getpwnam cannot take (a NUL)
        return None


def expand_tilde(text: str, cwd: Path) -> str:
    """`text` with its tilde prefix expanded (the part before the first `/`); unchanged without one."""
    if not text.startswith("~"):
        return text
    prefix, slash, rest = text[1:].partition("/")
    if prefix == "":
        base = str(Path.home())
    elif prefix in ("+", "0", "+0"):
        base = str(cwd)
    elif prefix == "-" or _STACK.fullmatch(prefix):
        base = str(UNKNOWN_DIRECTORY)
    else:
        home = _home_of(prefix)
        if home is None:
            return text  # bash leaves `~nosuchuser/x` as it is: a relative path
        base = home
    return base.rstrip("/") + "/" + rest if slash else base
