"""The types every layer shares, standard library only: what a tool call is about to do
(Action), what the policy said (Decision), what the approval gate said (ApprovalResult),
a failure the model can act on (ToolError), and the one directory the agent works on
(Workspace). Nothing here imports the rest of the package.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import unicodedata
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

# Environment variable names that hold credentials; the one list (redaction, the sandbox's
# environment, run records).
SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|PRIVATE", re.I)


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def read_regular(path: Path, limit: int, follow: bool = True, dir_fd: int | None = None) -> bytes | None:
    """Up to `limit` + 1 bytes of a regular file (so a caller can tell one over `limit`); None for
    anything else: a FIFO (opened without blocking, never read: the tests or a shipped repository can
    leave one where a file was), a device, a socket, a symlink when `follow` is off. Not for a
    workspace file's content, which may be a link out: read_inside."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


# O_PATH: a folder is walked through (and written in) with only the search permission a path needs.
_DIR_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# The limit read_regular is given when the whole file is wanted (a patch's rollback copy).
WHOLE = 1 << 62


def read_inside(root: Path, path: str | Path, limit: int,
                allowed: Callable[[str], bool] | None = None) -> bytes | None:
    """Up to `limit` + 1 bytes of a regular file of the workspace `root` (`path` relative to it or
    absolute); None when it is anything else or leads outside. The one reader of workspace files'
    content: the repository and the commands it runs (its tests, in the sandbox) can leave a symlink
    to a file outside (`calc.py -> ~/.ssh/id_rsa`, `pkg -> ../other-repo`), which the host must never
    read. Links inside the workspace are followed; the path they lead to is then opened one
    component at a time from the workspace's own descriptor (folder_of), so a link swapped in
    between is refused, not followed. A FIFO is never opened blocking (read_regular).
    `allowed(rel)`: the policy's word on the path as named and as it leads (a link to .env), asked
    now, when the file is read, not when it was listed (the tests may have replaced it since)."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, path))
    if real == real_root or not within(Path(real), Path(real_root)):
        return None
    rel = os.path.relpath(real, real_root)
    if allowed is not None:
        named = os.path.normpath(path) if not os.path.isabs(path) else rel
        if not allowed(rel.replace(os.sep, "/")) or (named != rel and not allowed(str(named).replace(os.sep, "/"))):
            return None
    try:
        with folder_of(Path(real_root), rel) as (fd, name):
            return read_regular(Path(name), limit, follow=False, dir_fd=fd)
    except OSError:
        return None


def _parts(rel: str) -> list[str]:
    """A workspace-relative path's components; an OSError for one that could name anything else."""
    parts = rel.split("/")
    if os.path.isabs(rel) or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise OSError(errno.EINVAL, "not a plain path inside the workspace", rel)
    return parts


def _open_folder(root: Path, folders: list[str], made: list[str] | None = None, rel: str | None = None) -> int:
    """A descriptor of the workspace folder `folders` (its components; [] is `root`), walked from
    `root`'s own descriptor one component at a time with O_NOFOLLOW: a symlink anywhere on the way
    (one a sandboxed process swapped in a moment ago) is an error, never followed, and once open the
    folder stays the one walked to, whatever is renamed since. With `made`, a missing folder is made
    (its path appended to `made`) and opened the same way; `rel` is the path named in errors."""
    shown = rel or "/".join(folders) or "."
    fd = os.open(root, _DIR_FLAGS)
    try:
        for depth in range(len(folders)):
            try:
                child = _open_child(fd, folders, depth, shown)
            except FileNotFoundError:
                if made is None:
                    raise
                try:
                    os.mkdir(folders[depth], dir_fd=fd)
                    made.append("/".join(folders[:depth + 1]))
                except FileExistsError:
                    pass  # made meanwhile: opened below as any other, never through a symlink
                child = _open_child(fd, folders, depth, shown)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_child(fd: int, folders: list[str], depth: int, shown: str) -> int:
    try:
        return os.open(folders[depth], _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        raise _not_a_folder(fd, folders, depth, shown) from None


def _not_a_folder(fd: int, folders: list[str], depth: int, shown: str) -> OSError:
    """Why a folder on the way could not be entered, naming it."""
    where = "/".join(folders[:depth + 1])
    try:
        link = stat.S_ISLNK(os.stat(folders[depth], dir_fd=fd, follow_symlinks=False).st_mode)
    except OSError:
        link = False
    what = "a symlink (not followed)" if link else "not a folder"
    return OSError(errno.ELOOP if link else errno.ENOTDIR, f"{where} is {what}", shown)


@contextmanager
def folder_of(root: Path, rel: str, made: list[str] | None = None) -> Iterator[tuple[int, str]]:
    """(a descriptor of the folder workspace path `rel` is in, its last component), for the calls
    that take dir_fd: the one way the host reads and writes a workspace file by name (_open_folder)."""
    *folders, name = _parts(rel)
    fd = _open_folder(root, folders, made, rel)
    try:
        yield fd, name
    finally:
        os.close(fd)


def entry_at(fd: int, name: str) -> os.stat_result | None:
    """What is at `name` in the folder `fd`, a symlink as itself; None when nothing is."""
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def replace_file(fd: int, name: str, data: bytes, mode: int, sync: bool = False) -> None:
    """`name` in the folder `fd` holds `data` with permission bits `mode`, or is as it was: written to a
    private (0600) file beside it, then renamed over what is there (a symlink is replaced, not followed)."""
    for _ in range(100):
        tmp = f".{name}.{secrets.token_hex(4)}.agent-tmp"
        try:
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fd)
            break
        except FileExistsError:
            continue
    else:
        raise OSError(errno.EEXIST, "no free temporary name beside it", name)
    try:
        with os.fdopen(out, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=fd)
        raise


def within(path: Path, root: Path) -> bool:
    """Is `path` `root` itself or under it? The one containment check of the package.

    Whole components are compared, as written: `/a/bc` is not within `/a/b`. Nothing is resolved
    or normalised here: a `..` is taken literally (`/a/b/../c` counts as within `/a/b`) and no
    symlink is followed. So callers pass `path` normalised (os.path.normpath) or resolved, and
    `root` absolute and normalised too (a resolved path is both).
    """
    return path == root or root in path.parents


class ToolError(Exception):
    """A failure the model can act on: what happened and what to try next."""

    def __init__(self, error: str, suggestion: str, kind: str = "invalid_input"):
        super().__init__(error)
        self.error = error
        self.suggestion = suggestion
        self.kind = kind

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "recovery_suggestion": self.suggestion}


@dataclass(frozen=True)
class Action:
    """What a call is about to do, for the policy and the approval gate to judge.

    kind: "read" (paths are read), "command" (a shell command runs), "write" (a patch
    is written), "restore" (files the session's own patch changed are put back as they were).
    "mcp": a tool of an MCP server is called (`command` holds its full name, `preview` its
    arguments); the policy judges it by name. "skill": files of a skill in the user's own skills
    folder (paths relative to the skill's folder), outside the workspace.
    `preview` is what a person sees before approving.
    """

    kind: str
    paths: tuple[str, ...] = ()
    command: str | None = None
    preview: Any = None


@dataclass
class Decision:
    decision: str
    rule: str | None
    reason: str
    commands: list[dict[str, Any]] = field(default_factory=list)
    # An `ask` the user approved for good in their own policy file (safety/userpolicy.py): where.
    approved_by: str | None = None
    # What the bubblewrap sandbox has to do with it (safety/policy/containment.py): "contained" (allowed
    # because commands run in it), "review" / "escapes" (an ask: the judge may clear a review, only a
    # person an escape), "unavailable" (asked because commands run without it), None (nothing).
    sandbox: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "rule": self.rule, "reason": self.reason, "commands": self.commands,
                "approved_by": self.approved_by, "sandbox": self.sandbox}


@dataclass(frozen=True)
class ApprovalResult:
    approved: bool
    # "user" (at a prompt), "remembered" (an "always" of this session, or the user's saved approvals),
    # "hook" (a before_tool hook), "config" (approval mode auto/never), "non_interactive" (no terminal),
    # "judge" (the judge model approved it: --approval judge)
    source: str
    message: str | None = None  # what the user told the model when refusing; for remembered: where from
    # With --approval judge (safety/judge.py): its verdict ("approve" / "human") and one-line reason,
    # also when it sent the request on to the person (then `source` says who answered).
    judge: str | None = None
    judge_reason: str | None = None

    @property
    def outcome(self) -> str:
        return "approved" if self.approved else "denied"


class Workspace:
    """The one directory the agent works on.

    `hidden` holds the globs of files the policy forbids reading (deny_read); listing and
    search tools leave them out so their contents never reach the model.
    """

    def __init__(self, root: Path, hidden: tuple[str, ...] = ()):
        self.root = Path(root).resolve()
        self.hidden = tuple(hidden)

    def relative(self, path: Path) -> str:
        rel = os.path.relpath(path, self.root)
        return "." if rel == "." else rel.replace(os.sep, "/")

    def resolve(self, raw: Any, *, want: str = "file", must_exist: bool = True) -> Path:
        """A model-given path -> an absolute path inside the workspace, or ToolError.

        want: "file", "dir" or "any" (for paths that may be created, with must_exist=False).
        """
        if not isinstance(raw, str):
            raise ToolError(f"path must be a string, got {type(raw).__name__}", 'Pass a relative path such as "src/app.py".')
        text = raw.strip()
        if "\x00" in text:
            raise ToolError("path contains a NUL byte", "Pass a plain relative path.")
        if text in ("", "."):
            text = "."
        candidate = Path(text)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        # Lexical check first, so `..` never touches the file system outside.
        lexical = Path(os.path.normpath(candidate))
        if not within(lexical, self.root):
            raise ToolError(
                f"path {raw!r} is outside the workspace {self.root}",
                "Use a path relative to the repository root, without '..'.",
                kind="path_outside_workspace",
            )
        try:
            resolved = lexical.resolve()
        except OSError as exc:  # a component swapped between its lstat and its readlink
            raise ToolError(f"cannot resolve {raw!r}: {exc.strerror} (it changed while it was looked at)",
                            "Try again once the command that changes it has finished.", kind="not_found") from None
        if not within(resolved, self.root):
            raise ToolError(
                f"path {raw!r} is a symlink that leads outside the workspace",
                "Only files inside the repository can be used.",
                kind="path_outside_workspace",
            )
        try:
            mode = resolved.stat().st_mode
        except FileNotFoundError:
            if must_exist:
                raise ToolError(
                    f"{self.relative(lexical)} does not exist",
                    "Check the name with list_files(pattern=...) or rg_search.",
                    kind="not_found",
                ) from None
            return resolved
        except OSError as exc:
            raise ToolError(f"cannot access {raw!r}: {exc.strerror}", "Try another path.", kind="not_found") from None
        if stat.S_ISDIR(mode):
            if want == "file":
                raise ToolError(
                    f"{self.relative(resolved)} is a directory, not a file",
                    f'List it with list_files(pattern="{self.relative(resolved)}/*").',
                )
        elif stat.S_ISREG(mode):
            if want == "dir":
                raise ToolError(f"{self.relative(resolved)} is a file, not a directory", "Pass a directory path.")
        else:
            raise ToolError(
                f"{self.relative(resolved)} is not a regular file (device, FIFO or socket)",
                "Only regular files and directories can be used.",
            )
        return resolved




# Shown by code point: what a terminal draws as nothing or as something else. Bidi controls reorder
# what a person sees ("Trojan Source"); zero-width and other format characters (U+200B, U+FEFF, tag
# characters, ...) hide inside a word; line and paragraph separators start a new line on some
# terminals; spaces other than ' ' look like one; private-use and unassigned characters have no agreed
# glyph; lone surrogates cannot be printed.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Zs"}
# Invisible, though their category is that of a mark or a letter: combining grapheme joiner, Hangul
# fillers, Khmer inherent vowels, Mongolian variation selectors, braille blank, variation selectors.
_HIDDEN_MARKS = frozenset({0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810), 0x2800, 0x3164, 0xFFA0,
                           *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)})
_MAYBE_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\U0010ffff]")  # all but printable ASCII, \n and \t
# In exact text, also the '<' of a literal "<U+0430>": it cannot pass for an escaped character.
_MAYBE_HIDDEN_EXACT = re.compile(_MAYBE_HIDDEN.pattern + r"|<(?=U\+[0-9A-F]{4,6}>)")


def _visible_char(char: str, exact: bool) -> str:
    code = ord(char)
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ESC -> ^[, NUL -> ^@, CR -> ^M
    if code == 0x7F:
        return "^?"
    if 0x80 <= code < 0xA0:
        return "M-^" + chr(code - 0x80 + 0x40)  # C1 controls (a one-character CSI is U+009B), as cat -v
    if exact or code in _HIDDEN_MARKS or unicodedata.category(char) in _HIDDEN_CATEGORIES:
        return f"<U+{code:04X}>"
    return char


def visible(text: str) -> str:
    """Text from the model, files or commands, safe to show on a terminal: control characters made
    visible as `cat -v` does (ESC -> ^[), invisible and format characters by code point (U+200B ->
    <U+200B>), newlines and tabs kept. The one function every display uses, so an escape sequence or
    a hidden character in a command, a diff or a file can never redraw or hide what a person approves."""
    if not isinstance(text, str):
        text = str(text)
    return _MAYBE_HIDDEN.sub(lambda m: _visible_char(m.group(), False), text)


def visible_exact(text: str) -> str:
    """visible(), and every other non-ASCII character by code point too: for a command or a path a
    person approves, where a Cyrillic 'а' (<U+0430>) or a division slash (<U+2215>) must not pass for
    the ASCII letter or '/' it looks like. What is approved reads as what runs."""
    if not isinstance(text, str):
        text = str(text)
    return _MAYBE_HIDDEN_EXACT.sub(lambda m: _visible_char(m.group(), True), text)


@dataclass
class CallRecord:
    """One tool call as the history, the run record and the listeners see it."""

    tool: str
    arguments: dict[str, Any]
    outcome: str  # "ok", "error", "refused", "loop"
    error_type: str | None = None
    duration_ms: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)  # passed, patch_id, ... (see wrapper.RECORDED_FACTS)
    refused_by: str | None = None  # "policy", "hook", "user", "config", "non_interactive" (outcome "refused")

    def summary(self) -> str:
        """What came back, in a few words: the error, the tests' summary, a patch, an exit code."""
        facts = self.facts
        if facts.get("error"):
            return str(facts["error"]).splitlines()[0][:200]
        if "passed" in facts:
            return f"tests {'passed' if facts['passed'] else 'failed'}" + (f": {facts['summary']}" if facts.get("summary") else "")
        if facts.get("patch_id"):
            done = "undone" if facts.get("undone") else "applied" if facts.get("applied") else "proposed"
            return f"patch {facts['patch_id']} {done}"
        if "exit_code" in facts:
            return f"exit code {facts['exit_code']}"
        if "matches" in facts:
            return f"{facts['matches']} matching lines"
        return self.outcome

    def changed_files(self) -> bool:
        """Whether this call changed the workspace's files: a patch applied or undone, or a command
        whose checkpoint found changes (a test result before it no longer says what is on disk)."""
        if self.outcome != "ok":
            return False
        return (self.tool == "undo_patch" or (self.tool == "apply_patch" and self.facts.get("applied") is True)
                or bool(self.facts.get("files_changed")))


# The refusals tools/wrapper.py writes, shortest true reason first; others keep their first clause.
_FORMS = (
    (re.compile(r"was refused by the command policy \(rule ([^)]+)\)"), r"denied by rule \1"),
    (re.compile(r"was refused by the command policy"), "denied by the policy"),
    (re.compile(r"refused because (approval mode is 'never')"), r"\1"),
    (re.compile(r"refused because (no one is at a terminal to approve it)"), r"\1"),
    (re.compile(r"^The user refused"), "refused by the user"),
    (re.compile(r"was blocked by the user's hook (\S+?):"), r"blocked by the hook \1"),
)


def why_refused(error: str) -> str:
    """A refusal's error in a few words: who refused and why (the summary line, the trace)."""
    for pattern, short in _FORMS:
        found = pattern.search(error)
        if found:
            return found.expand(short)
    first = re.split(r"(?<=[.:;])\s", error.strip(), maxsplit=1)[0].rstrip(".:;")
    return first[:80] + ("…" if len(first) > 80 else "")
