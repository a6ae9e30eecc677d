"""`agent-runtime undo` and the REPL's /undo: the newest patch or command's changes still in effect, or one by
id, and the one history of both."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from agent_runtime.cli.commands import _parser
from agent_runtime.config import Settings


def _journal(repo: Path):
    from agent_runtime.core import Workspace
    from agent_runtime.patches.undo import UndoJournal
    from agent_runtime.tools.runtime import undo_dir

    return UndoJournal(undo_dir(), Workspace(repo))


def _say(message: str, display: Any, error: bool = False) -> None:
    """A line for the person: through the REPL's display, or on stdout / stderr."""
    from agent_runtime.core import visible

    if display is not None:
        from rich.markup import escape

        display.error(message) if error else display.info(escape(visible(message)))
    elif error:
        print(f"agent-runtime: error: {visible(message)}", file=sys.stderr)
    else:
        print(visible(message))


def undo_last(repo: Path, display: Any = None, patch_id: str | None = None, journal: Any = None) -> int:
    """Undo the newest applied patch still in effect (or `patch_id`); 0 done, 1 refused or nothing to do.
    journal: a session's (the REPL's), where a short id is that session's; else the newest session's."""
    from agent_runtime.patches.diffs import NothingToUndo, PatchError

    try:
        done = (journal or _journal(repo)).undo(patch_id)
    except NothingToUndo as exc:  # no error: its exit code (and stderr, from the shell) say nothing was done
        said = f"{exc.error[0].upper()}{exc.error[1:]}. {exc.suggestion}"
        _say(said, display) if display is not None else print(f"agent-runtime: {said}", file=sys.stderr)
        return 1
    except PatchError as exc:
        _say(f"{exc.error}. {exc.suggestion}", display, error=True)
        return 1
    if done["by_hand"]:
        # An id's last part says what it was: s3.c2 a command's changes, p1 a patch.
        groups: dict[str, list[str]] = {}
        for i in done["by_hand"]:
            groups.setdefault("command" if i.rsplit(".", 1)[-1].startswith("c") else "patch", []).append(i)
        names = ", ".join(f"{kind} {', '.join(ids)}" for kind, ids in groups.items())
        whose = "its files are" if len(done["by_hand"]) == 1 else "their files are"
        _say(f"{names[0].upper()}{names[1:]} had already been undone by hand ({whose} back as before); "
             "marked undone.", display)
    if done["patch_id"] is None:
        _say("No other applied patch is left to undo.", display)
        return 0
    kept = f" ({_paths(done['left_as_is'])} already as before, left as is)" if done["left_as_is"] else ""
    if done.get("command") is None:
        _say(f"Undid patch {done['patch_id']}: restored {', '.join(done['files'])}{kept}", display)
        return 0
    removed = done.get("removed") or []
    files = [f for f in done["files"] if f not in removed and not f.endswith("/")]
    folders = [f for f in done["files"] if f not in removed and f.endswith("/")]  # a directory's name ends in /
    missed = (f". Not put back, the checkpoints do not hold them (caches, environments, secrets, files past the "
              f"size limits, setuid/setgid bits): {_paths(done['not_covered'])}") if done.get("not_covered") else ""
    back = [f"{len(names)} {what}{'s' if len(names) != 1 else ''} ({_paths(names)})"
            for names, what in ((files, "file"), (folders, "folder")) if names]
    parts = [f"put back {' and '.join(back)}"] if back else []
    parts += [f"removed {len(removed)} it made ({_paths(removed)})"] if removed else []
    _say(f"Undid {done['what']}: {'; '.join(parts)}{kept}{missed}", display)
    return 0


def _paths(paths: list[str], shown: int = 10) -> str:
    return ", ".join(paths[:shown]) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


STATE_MAX = 32  # past this a state takes its own line


def undo_list(repo: Path, display: Any = None, as_json: bool = False, journal: Any = None) -> int:
    """The history, newest first: ids short where they mean the entry (patches/ids.py), else qualified."""
    rows = (journal or _journal(repo)).status()
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        _say(f"No patch has been applied, nor a command's changes saved, in {repo} yet.", display)
        return 0
    import time as _time

    width = max(7, *(len(row["patch_id"]) for row in rows))
    states = [row["state"] + (f": {', '.join(row['changed'])}" if row["changed"] else "") for row in rows]
    # STATE is as wide as its longest text up to STATE_MAX; a longer one puts FILES on the next line,
    # aligned, rather than running into it.
    state_width = min(STATE_MAX, max(len("STATE"), *(len(s) for s in states)))
    lines = [f"{'PATCH':<{width}} {'APPLIED':<16} {'STATE':<{state_width}} {'FILES'}"]
    for row, state in zip(rows, states):
        when = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(row["time"])) if row["time"] else "?"
        files = ", ".join(f"{f['path']} (+{f['added']} -{f['removed']})" for f in row["files"])
        if row.get("kind") == "command":  # a command's changes (a checkpoint): the command, then its files
            command = row["command"] if len(row["command"]) <= 60 else row["command"][:57] + "..."
            files = f"`{command}`: {_paths([f['path'] for f in row['files']], 5)}"
            if row.get("not_covered"):
                files += f"; not covered: {_paths(row['not_covered'], 5)}"
        run = f"  run {row['run_id']}" if row.get("run_id") else ""
        head = f"{row['patch_id']:<{width}} {when:<16} "
        if len(state) > state_width:
            lines += [head + state, " " * (len(head) + state_width + 1) + files + run]
        else:
            lines.append(f"{head}{state:<{state_width}} {files}{run}")
    _say("\n".join(lines), display)
    return 0


def cmd_undo(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = _parser("undo", "Undo the newest change the agent made in this repository that is still in effect: a "
                             "patch, or what a command changed (saved before and after it: a checkpoint); run "
                             "again to walk further back. Refused if its files changed since (the message names "
                             "them). A file restored by hand (git checkout) counts as undone.")
    parser.add_argument("patch_id", nargs="?", help="undo this patch or command instead (an id from --list: p2 is "
                                                    "the newest session's, s3.p2 an earlier session's)")
    parser.add_argument("--list", action="store_true",
                        help="the history: every applied patch and command that changed files, newest first")
    parser.add_argument("--json", action="store_true", help="with --list: print JSON")
    args = parser.parse_args(argv)
    if args.list:
        return undo_list(repo, as_json=args.json)
    return undo_last(repo, patch_id=args.patch_id)
