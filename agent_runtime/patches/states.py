"""What `undo --list` says of each entry of the undo history: true of the files as they are now.

An entry whose files changed since is "in effect, then p3, c4" only when the agent's later entries
account for every such file: the newest of them that holds the file as it left it (its change still
in effect there). A file edited by hand after them is no one's entry: that entry says "changed
since", and so does every earlier one the edit reached, never "in effect, then ...".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Found:
    """One entry still in effect by the journal (not undone), and what its files hold now."""

    line: int
    shown: str  # the id as listed
    paths: list[str]  # every path it changed
    holds: set[str]  # paths that hold what it left there
    changed: list[str]  # paths changed since (by anyone)
    error: str | None = None  # its state could not be read (a checkpoint gone)


def effect_paths(in_effect: list[Any]) -> set[str]:
    """The paths of an entry's changes still in effect (a patch's FileEdits or a command's Changes)."""
    paths: set[str] = set()
    for item in in_effect:
        names = (item.old_path, item.new_path) if hasattr(item, "new_path") else (item.path,)
        paths.update(p.rstrip("/") for p in names if p)
    return paths


def account(found: list[Found]) -> dict[int, tuple[str, list[str]]]:
    """line -> (state, paths changed since not accounted for), for the live entries `found`
    (any order). A changed path is accounted for by the newest later entry that holds it."""
    ordered = sorted(found, key=lambda f: f.line)
    out: dict[int, tuple[str, list[str]]] = {}
    for position, entry in enumerate(ordered):
        if entry.error:
            out[entry.line] = ("changed since", [entry.error])
            continue
        if not entry.changed:
            out[entry.line] = ("in effect" if entry.holds else "restored by hand", [])
            continue
        by: dict[int, str] = {}  # line -> id of the later entries that account for the changes
        unexplained: list[str] = []
        for path in entry.changed:
            touching = [f for f in ordered[position + 1:] if path in f.paths]
            holder = next((i for i in range(len(touching) - 1, -1, -1) if path in touching[i].holds), None)
            if holder is None:
                unexplained.append(path)
            else:
                by.update((f.line, f.shown) for f in touching[:holder + 1])
        if unexplained:
            out[entry.line] = ("changed since", unexplained)
        else:
            out[entry.line] = (f"in effect, then {', '.join(by[line] for line in sorted(by))}", [])
    return out
