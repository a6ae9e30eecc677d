"""Ids of the undo history: numbered per session, unique in the repository's history for good.

A session (one REPL, one task, one `tool` call that proposes) gets a number of the repository
when it first needs an id: s1, s2, ... Within it, patches are p1, p2, ... and a command's changes
c1, c2, ... (one counter). The qualified id `s3.p1` names one entry of the history forever; the
short id `p1` is what the model and the person see in the session, and means:

- in a session (the model's tools, the REPL's /undo): this session's p1;
- for `agent-runtime undo` (no session): the newest session's p1 (the session of the newest entry,
  with those that ran alongside it); a short id two of them have is ambiguous and refused.

Entries written before sessions were numbered belong to session s0 (their ids were unique in the
repository already): `s0.p7`.
"""

from __future__ import annotations

import re
import time
from typing import Any, Iterable

from agent_runtime.patches.diffs import PatchError

LEGACY = "s0"
QUALIFIED = re.compile(r"^(s\d+)\.([pc]\d+)$")
SHORT = re.compile(r"^[pc](\d+)$")
SESSION = re.compile(r"^s(\d+)$")


def split(text: str) -> tuple[str | None, str]:
    """("s3", "p1") for "s3.p1", (None, "p1") for "p1"."""
    text = text.strip()
    match = QUALIFIED.match(text)
    return (match.group(1), match.group(2)) if match else (None, text)


def number(short: str) -> int:
    match = SHORT.match(short)
    return int(match.group(1)) if match else 0


def sort_key(shown: str) -> tuple[str, int]:
    """Ids in order: an earlier session's (qualified) before, then by number."""
    session, short = split(shown)
    return (session or "~", number(short))


def current_sessions(entries: list[Any]) -> set[str]:
    """The newest session (of the newest entry) and the sessions that ran alongside it (an entry
    after its first one)."""
    if not entries:
        return set()
    newest = entries[-1].session
    first = min(e.line for e in entries if e.session == newest)
    return {e.session for e in entries if e.line >= first}


def label(entries: list[Any], scope: set[str]) -> None:
    """Each entry's shown id: its short id where that means it (its session is in scope and no
    other session in scope has that short id), else its qualified id."""
    owners: dict[str, set[str]] = {}
    for entry in entries:
        if entry.session in scope:
            owners.setdefault(entry.patch_id, set()).add(entry.session)
    for entry in entries:
        entry.in_scope = entry.session in scope
        unique = entry.session in scope and len(owners.get(entry.patch_id, ())) == 1
        entry.shown = entry.patch_id if unique else entry.qualified


def _choice(entry: Any) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.time)) if entry.time else "?"
    paths = list(dict.fromkeys(entry.paths))
    files = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    kind = f"command `{entry.command[:40]}`" if entry.command is not None else "patch"
    return f"{entry.qualified} ({kind}: {files or 'no files'}, {when})"


def _choices(entries: list[Any]) -> str:
    return "; ".join(_choice(e) for e in reversed(entries[-8:])) + (" ..." if len(entries) > 8 else "")


def _distinct(entries: Iterable[Any]) -> list[Any]:
    """One entry per qualified id (a patch applied again after an undo is in the history twice)."""
    seen: dict[str, Any] = {}
    for entry in entries:
        seen[entry.qualified] = entry
    return sorted(seen.values(), key=lambda e: e.line)


def resolve(entries: list[Any], wanted: str, where: str, command: str) -> list[Any]:
    """The entries (one id, applied once or again) that `wanted` names; PatchError naming the valid
    ids otherwise. where: what a short id means ("this session"); command: how to undo one."""
    session, short = split(wanted)
    if session is not None:
        found = [e for e in entries if e.qualified == f"{session}.{short}"]
    else:
        found = [e for e in entries if e.shown == short]
    if found:
        return found
    same = _distinct(e for e in entries if e.patch_id == short) if session is None else []
    if same:  # the short id is two sessions' in scope, or only other sessions'
        advice = (f"Give the full id of the one you mean, e.g. `{command} {same[-1].qualified}` "
                  "(undo --list shows the history).")
        alike = [e for e in same if e.in_scope]
        if len(alike) > 1:
            raise PatchError(f"{short} is ambiguous: it is the id of {_choices(alike)}", advice)
        whose = "an earlier session's" if len(same) == 1 else "one of earlier sessions'"
        raise PatchError(f"{where} has no {short} of its own; {short} may mean {whose}: {_choices(same)}", advice)
    distinct = [e.shown for e in reversed(_distinct(entries))]
    known = ", ".join(distinct[:12]) + (", ..." if len(distinct) > 12 else "") if distinct else "none yet"
    raise PatchError(f"there is no applied patch {wanted!r} in {where} (nor a command's changes); valid ids: {known}",
                     "agent-runtime undo --list shows the applied patches and commands' changes and their ids.")
