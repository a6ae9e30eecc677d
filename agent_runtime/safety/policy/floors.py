"""Floors: what holds whatever the rules say. What the parser cannot read is never allowed;
code handed to an interpreter, or hidden in a tool's own language (sed `e`, awk `system`, `make
--eval`, see programs/), is never allowed; reading deny_read files is denied, also from git's
history; writing deny_write files is denied and writing outside the workspace is denied, whether
by redirection, by a tool's output option or by cp/mv/ln/tee; any other write asks."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from agent_runtime.safety import programs
from agent_runtime.safety.policy.containment import CONTAINED, ESCAPES, REVIEW, floor_kind
from agent_runtime.safety.policy.history import foreign_floor, history_floor
from agent_runtime.safety.policy.paths import PathRules, Place, candidates, write_denied_reason
from agent_runtime.safety.policy.rules import Verdict
from agent_runtime.safety.programs.files import CHANGES_FILES, DECLARED_CHANGES
from agent_runtime.safety.programs.git import git_chdir
from agent_runtime.safety.programs.inline import inline_code, python_strings, what_code_does
from agent_runtime.safety.programs.interpreters import INTERPRETERS
from agent_runtime.safety.programs.shell import NO_FILE_ARGUMENTS, SAFE_ASSIGNMENTS, risky_variable
from agent_runtime.safety.shellwords import Redirect, SimpleCommand, Word

# Floors that only restate what an ask rule already says (it writes a file); others are added to its reason.
ROUTINE_FLOORS = {"write", "redirect-write", "write-dynamic", "redirect", "outside-workspace", "dynamic-argument",
                  "dynamic-directory"}
# Floors that name the decision even when a rule already asks (the approval gate treats them apart).
PINNED_FLOORS = frozenset({"instructions", "obeyed-file"})
# Floors a user's saved approval (safety/userpolicy.py) may cover: a write to a named file inside the
# workspace (not a deny_write file, not AGENTS.md: those are other floors). Every other floor still applies.
USER_LOWERABLE = frozenset({"write", "redirect-write"})
# A write to the project's instructions (INSTRUCTION_FILES) asks every time, never approved from memory
# (a session's "always" or the user's saved approvals).
INSTRUCTIONS_REASON = ("changes AGENTS.md, the project instructions every later session follows (asked every time, "
                       "never approved from memory)")


def obeyed_reason(name: str) -> str:
    """Why a write under an OBEYED_FILES name asks every time."""
    return (f"changes {name}, which other programs run or obey when the folder is opened (an editor, another "
            "agent, CI): asked every time, never approved from memory")


def floors(paths: PathRules, cmd: SimpleCommand, place: Place, verdict: Verdict) -> Iterable[Verdict]:
    """What holds for one simple command whatever the rules say; each ask with its kind to the
    sandbox (policy/containment.py)."""
    for floor in _floors(paths, cmd, place, verdict):
        if floor.decision == "ask" and floor.sandbox is None:
            floor = replace(floor, sandbox=floor_kind(floor.rule))
        yield floor


def _code_floor(cmd: SimpleCommand) -> Verdict:
    """Code handed to an interpreter: never allowed without the sandbox. In it, inline code that only
    computes and prints is contained; code that runs programs or changes files, or that comes from
    the command's input or only at run time, still asks."""
    kind, because = ESCAPES, ""
    if cmd.program in INTERPRETERS and inline_code(cmd.program, cmd.argv[1:]) is not None:
        why = what_code_does(cmd.program, cmd.argv[1:])
        kind, because = (CONTAINED, "") if why is None else (ESCAPES, f", and {why}")
    return Verdict("ask", "interpreter-code", f"{cmd.opaque_code}{because}: code the policy cannot judge needs a "
                                              "person", kind)


def inline_reads_floor(paths: PathRules, cmd: SimpleCommand, place: Place) -> Iterable[Verdict]:
    """The paths Python code given on the command line names, judged as `cat` would judge them (a secret
    is denied, outside the workspace asks, also through a symlink that leads out); and, since code can
    join them, a path that is absolute, starts at ~ or climbs with `..` asks even where nothing is now."""
    code = inline_code(cmd.program or "", cmd.argv[1:])
    for text in python_strings(code.text) if code is not None else ():
        said = list(read_floor(paths, Word(text), place, Verdict("allow", None, ""), "its code names"))
        yield from said
        lexical = text.strip()
        leaves = lexical.startswith(("/", "~")) or ".." in lexical.replace("\\", "/").split("/")
        if not said and leaves and not place.neutral_text(lexical):
            yield Verdict("ask", "outside-workspace", f"its code names {text!r}, outside the workspace")


def _floors(paths: PathRules, cmd: SimpleCommand, place: Place, verdict: Verdict) -> Iterable[Verdict]:
    if cmd.program is None and cmd.argv:
        yield Verdict("ask", "dynamic-program", "the program to run is only known at run time")
    if cmd.opaque_code:
        code = _code_floor(cmd)
        yield code
        if code.sandbox == CONTAINED and (cmd.program or "").startswith(("python", "pypy")):
            yield from inline_reads_floor(paths, cmd, place)
    if cmd.argv:
        for name, _ in cmd.assignments:
            if not SAFE_ASSIGNMENTS.match(name):
                yield Verdict("ask", "env-assignment", f"setting {name} can change what runs")
    for name in cmd.variables:
        if risky_variable(name):
            yield Verdict("ask", "env-assignment", f"setting {name} can change what later commands run")
    effects = programs.effects(cmd)
    for rule, reason in effects.asks:
        yield Verdict("ask", rule, reason)
    for word, how in effects.writes:
        yield from write_floor(paths, word, place, how, cmd)
    for word, how in effects.reads:
        yield from read_floor(paths, word, place, verdict, how)
    for path, how in effects.repo_paths:
        pattern = paths.read_denied(path)
        if pattern:
            yield Verdict("deny", "deny_read", f"{how} prints {path} from the repository's history, and it may "
                                               f"hold secrets (deny_read {pattern!r})")
    written = {id(word) for word, _ in effects.writes} | {id(word) for word in effects.not_paths}
    reads_files = cmd.program not in NO_FILE_ARGUMENTS and not effects.names_only
    for word in cmd.argv[1:] if reads_files else ():
        if id(word) not in written:  # what it writes or removes, or a pattern or a script, it does not read
            yield from read_floor(paths, word, place, verdict, "")
    if effects.names_only:
        for word in cmd.argv[1:]:
            listed = secret_directory(paths, word, place)
            if listed:
                yield Verdict("ask", "secret-listing", f"lists {word.text}, where secrets are kept (deny_read "
                                                       f"{listed!r}): what is there, and its details, would be shown")
        for word in listed_folders(cmd):
            yield from listing_floor(word, place, verdict)
    if effects.history is not None:
        yield from history_floor(paths, effects.history, place, cmd.texts())
    elif cmd.program == "git":
        yield from foreign_floor(git_chdir(cmd.argv[1:]), place, "git", cmd.texts())
    yield from follow_floor(paths, cmd, place, verdict)
    for redirect in cmd.redirects:
        yield from redirect_floor(paths, redirect, place)


# Programs that open the folders they are given and print what is in them (ls, du, tree, find): outside the
# workspace that is a look at the host, asked like a read (benchmarks/policy_diff.py saw `ls ..`, `du -sh ~`
# and `find ..` open folders outside while allowed). stat, realpath and test only look at the path itself.
LISTS_FOLDERS = frozenset({"ls", "du", "tree", "find"})
FIND_LEADING = ("-H", "-L", "-P")  # find's options before its starting points


def listed_folders(cmd: SimpleCommand) -> list[Word]:
    """The folders a listing program opens: its operands, or the current directory without one."""
    if cmd.program not in LISTS_FOLDERS:
        return []
    args = cmd.argv[1:]
    if cmd.program == "find":
        while args and (args[0].text in FIND_LEADING or args[0].text.startswith(("-D", "-O"))):
            args = args[2:] if args[0].text == "-D" else args[1:]
        operands = []
        for word in args:
            if word.text.startswith(("-", "(", "!")):
                break
            operands.append(word)
    else:
        operands = [word for word in args if not word.text.startswith("-")]
    return operands or [Word(".")]


def listing_floor(word: Word, place: Place, verdict: Verdict) -> Iterable[Verdict]:
    """A folder listed outside the workspace asks, as reading a file there does (read_floor); listing a
    deny_read name reads nothing (`ls .env`), so nothing here is denied."""
    if verdict.decision != "allow":
        return
    if not word.static:
        yield Verdict("ask", "dynamic-argument", f"lists {word.text}, only known at run time; it could name a "
                                                 "folder outside the workspace")
        return
    for text in candidates(word, place):
        path = place.resolve(text)
        if path is None:
            continue
        if not place.known and not place.anchored(text):
            yield Verdict("ask", "dynamic-directory", f"lists {text}, relative to a directory only known at run time")
        elif not place.inside(path) and not place.neutral(path) and not place.neutral_text(text):
            shown = text if text != "." else f"{text} ({place.cwd})"
            yield Verdict("ask", "outside-workspace", f"lists {shown}, outside the workspace")


def secret_directory(paths: PathRules, word: Word, place: Place) -> str | None:
    """The deny_read glob when `word` names a directory of secrets (`ls -la ~/.ssh`): one that is a
    directory here, or that does not exist here and that a glob names by name (`**/.ssh/**`)."""
    if not word.static or word.text.startswith("-"):
        return None
    for text in candidates(word, place):
        for path in place.forms(text):
            pattern = paths.read_denied(place.relative(path))
            if not pattern:
                continue
            named = path.name.lower() in {part.lower() for part in pattern.split("/") if part
                                          and not any(c in part for c in "*?[")}
            if path.is_dir() or (named and not path.exists()):
                return pattern
    return None


def read_floor(paths: PathRules, word: Word, place: Place, verdict: Verdict, how: str) -> Iterable[Verdict]:
    label = f"{how} " if how else ""
    if not word.static:
        if verdict.decision == "allow":
            yield Verdict("ask", "dynamic-argument", f"{label}{word.text} is only known at run time; it could "
                                                     "name a file that may hold secrets")
        return
    for text in candidates(word, place):
        hit = paths.denied_at(place, text, paths.read_denied)
        if hit:
            shown = text if os.path.normpath(text) == hit[0] else f"{text} ({hit[0]})"
            said = f"{how} {shown}, which" if how else shown
            yield Verdict("deny", "deny_read", f"{said} may hold secrets (deny_read {hit[1]!r})")
            return
        if verdict.decision != "allow":
            continue
        path = place.resolve(text)
        if path is None:
            continue
        if not place.known and not place.anchored(text):
            yield Verdict("ask", "dynamic-directory", f"{label}{text} is relative to a directory only known "
                                                      "at run time")
        elif not place.inside(path) and not place.neutral(path) and not place.neutral_text(text):
            # Whether or not it exists now: bash may expand it to a real file (`~user`), or it may appear later.
            yield Verdict("ask", "outside-workspace", f"{label}{text} is outside the workspace")


def write_floor(paths: PathRules, word: Word, place: Place, how: str,
                 cmd: SimpleCommand | None = None) -> Iterable[Verdict]:
    if not word.static:
        yield Verdict("ask", "write-dynamic", f"{how} {word.text}, a path only known at run time")
        return
    if not word.text:
        return
    texts = candidates(word, place)
    follow = not how.startswith(("rm ", "unlink ", "rmdir ", "mv moves", "ln moves"))
    for text in texts:
        hit = paths.denied_at(place, text, paths.write_denied, follow)
        if hit:
            yield Verdict("deny", "deny_write", f"{how} {hit[0]}, which {write_denied_reason(hit[0], hit[1])}")
            return
        if paths.protected_at(place, text, follow):
            yield Verdict("deny", "user-config", f"{how} {text}, in your agent-runtime configuration (approvals, "
                                                 "hooks): only you change it")
            return
        hit = paths.denied_at(place, text, paths.read_denied, follow)
        if hit and not how.startswith(("rm ", "unlink ", "rmdir ", "shred ")):
            yield Verdict("deny", "deny_read", f"{how} {hit[0]}, which may hold secrets (deny_read {hit[1]!r}); "
                                               "the user changes it")
            return
    for text in texts[:1]:
        path = place.resolve(text)
        if path is None or place.neutral(path) or place.neutral_text(text):
            continue
        if not place.known and not place.anchored(text):
            yield Verdict("ask", "write-dynamic", f"{how} {text} in a directory only known at run time")
        elif not place.inside(path):
            if not place.scratch(text, path):
                yield Verdict("deny", "write-outside", f"{how} {text}, outside the workspace")
        elif path == place.root and not any(c in text for c in "*?[") and cmd is not None \
                and cmd.program in ("rm", "mv", "rmdir", "shred"):
            yield Verdict("deny", "workspace-root", f"{how} the whole workspace, .git included")
        elif paths.instructions_at(place, text, follow):
            yield Verdict("ask", "instructions", f"{how} {place.relative(path)}: {INSTRUCTIONS_REASON}")
        elif (obeyed := paths.obeyed_at(place, text, follow)) is not None:
            yield Verdict("ask", "obeyed-file", f"{how} {place.relative(path)}: {obeyed_reason(obeyed)}")
        else:
            # A change the command declares (rm, cp, mkdir, sed -i, ...) is the judge's to review in the
            # sandbox; one hidden in an option of a program that reads (sort -o, uniq IN OUT, awk's print >)
            # is a person's.
            declared = cmd is None or cmd.program in CHANGES_FILES or how.startswith(DECLARED_CHANGES)
            yield Verdict("ask", "write", f"{how} {place.relative(path)} directly (propose_patch lets the user "
                                          "review a change)", REVIEW if declared else ESCAPES)


def redirect_floor(paths: PathRules, redirect: Redirect, place: Place) -> Iterable[Verdict]:
    target = redirect.target
    writes = not redirect.op.startswith("<") or redirect.op == "<>"
    if not target.static:
        yield Verdict("ask", "redirect", f"redirection to {target.text}, a path only known at run time")
        return
    if not writes:
        for text in candidates(target, place):
            hit = paths.denied_at(place, text, paths.read_denied)
            if hit:
                yield Verdict("deny", "deny_read", f"{hit[0]} may hold secrets (deny_read {hit[1]!r})")
                return
        lexical = place.lexical(target.text)
        if lexical is not None and str(lexical).startswith(("/dev/tcp/", "/dev/udp/")):
            yield Verdict("ask", "network-redirect", f"reads from {target.text}: bash opens a network connection "
                                                     "for it")
            return
        path = place.resolve(target.text)
        if path is None:
            return
        if not place.known and not place.anchored(target.text):
            yield Verdict("ask", "dynamic-directory", f"reads {target.text}, relative to a directory only known at "
                                                      "run time")
        elif not place.inside(path) and not place.neutral(path) and not place.neutral_text(target.text):
            yield Verdict("ask", "outside-workspace", f"reads {target.text}, outside the workspace")
        return
    path = place.resolve(target.text)
    if path is None or place.neutral(path) or place.neutral_text(target.text):
        return
    anchored = place.known or place.anchored(target.text)
    if anchored and not place.inside(path) and not place.scratch(target.text, path):
        yield Verdict("deny", "redirect-outside", f"writes to {target.text}, outside the workspace")
        return
    for verdict in write_floor(paths, target, place, "the redirection writes"):
        if verdict.rule == "write":
            yield Verdict("ask", "redirect-write", f"writes {place.relative(path)} directly (propose_patch lets "
                                                   "the user review a change)")
        else:
            yield verdict


# Programs that read a folder's files recursively and follow the symlinks they meet there when told to
# (or, diff -r, always): a symlink the workspace holds (a hostile repository commits `l -> /`) is then
# read as if its target were in the workspace, though no word of the command names it.
# program: (long options that follow, short letters that follow, short letters that take a value)
FOLLOWING = {
    "grep": ({"--dereference-recursive"}, "R", "efmABCdD"),
    "egrep": ({"--dereference-recursive"}, "R", "efmABCdD"),
    "fgrep": ({"--dereference-recursive"}, "R", "efmABCdD"),
    "rg": ({"--follow"}, "L", "ABCEMTdefgjmrt"),
    "diff": ({"--recursive"}, "r", "CDFILSUWXx"),  # diff -r follows symlinks unless --no-dereference
}
MAX_FOLLOW_WALK = 20000


def _follows_links(cmd: SimpleCommand) -> bool:
    spec = FOLLOWING.get(cmd.program or "")
    if spec is None:
        return False
    longs, letters, valued = spec
    if cmd.program == "diff" and any(w.text == "--no-dereference" for w in cmd.argv[1:]):
        return False
    for word in cmd.argv[1:]:
        if not word.static:
            continue
        text = word.text
        if text == "--":
            break
        if text.startswith("--"):
            if text.partition("=")[0] in longs:
                return True
        elif text.startswith("-") and len(text) > 1:
            for letter in text[1:]:
                if letter in letters:
                    return True
                if letter in valued:
                    break
    return False


def _link_out(paths: PathRules, place: Place, tops: list[Path]) -> tuple[Path, Path] | str | None:
    """The first symlink under `tops` (symlinked folders inside followed) that leads outside the
    workspace, with its target; "many" when there are too many entries to look at all."""
    seen: set[Path] = set()
    stack = [t for t in tops if place.inside(t)]
    count = 0
    while stack:
        directory = stack.pop()
        if directory in seen:
            continue
        seen.add(directory)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            count += 1
            if count > MAX_FOLLOW_WALK:
                return "many"
            try:
                if entry.is_symlink():
                    target = Path(os.path.realpath(entry.path))
                    if not place.inside(target) and not place.neutral(target):
                        return Path(entry.path), target
                    if target.is_dir():
                        stack.append(target)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
            except OSError:
                continue
    return None


def follow_floor(paths: PathRules, cmd: SimpleCommand, place: Place, verdict: Verdict) -> Iterable[Verdict]:
    """A recursive read that follows symlinks (grep -R, rg -L, diff -r) over a folder holding a symlink
    that leads out reads outside the workspace: judged as reading the link's target (a secret denied)."""
    if not _follows_links(cmd):
        return
    tops = []
    for word in cmd.argv[1:]:
        if word.static and not word.text.startswith("-"):
            for text in candidates(word, place):
                path = place.resolve(text)
                if path is not None and path.is_dir():
                    tops.append(path)
    if not place.known:
        return  # every relative path already asks
    tops.append(place.cwd)  # grep -R and rg search the current folder without a path named
    found = _link_out(paths, place, tops)
    if found is None:
        return
    if found == "many":
        yield Verdict("ask", "outside-workspace", f"{cmd.program} follows symlinks here, and there are too many "
                                                  "files to check that none leads outside the workspace")
        return
    link, target = found
    pattern = paths.read_denied(str(target))
    if pattern:
        yield Verdict("deny", "deny_read", f"{cmd.program} follows the symlink {place.relative(link)} to {target}, "
                                           f"which may hold secrets (deny_read {pattern!r})")
    elif verdict.decision == "allow":
        yield Verdict("ask", "outside-workspace", f"{cmd.program} follows the symlink {place.relative(link)} to "
                                                  f"{target}, outside the workspace")
