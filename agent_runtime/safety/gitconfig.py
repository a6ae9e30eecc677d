"""git's settings as sandboxed commands (git included) see them: a copy that keeps only the keys
commands need (ALLOWED), so a password, a token or a credential helper under any name stays on the
host. URLs keep no user:token@ and no query.

Both the repository's .git/config and the user's (~/.gitconfig, the system's, a repository's beside
the workspace) go through it: the repository's structure (format, extensions, remotes, branches,
submodules), who commits, and how git shows diffs, logs and status. No program (a pager, an editor,
a credential helper, a diff or merge driver, an alias, hooks), no include, no URL rewriting.
"""

from __future__ import annotations

import re
from pathlib import Path

# section -> variables kept ("*": all of them) when the section has no subsection ...
PLAIN: dict[str, frozenset[str] | str] = {
    "user": frozenset({"name", "email", "useconfigonly"}),
    "author": frozenset({"name", "email"}),
    "committer": frozenset({"name", "email"}),
    "core": frozenset({"repositoryformatversion", "bare", "worktree", "filemode", "logallrefupdates", "ignorecase",
                       "precomposeunicode", "symlinks", "autocrlf", "eol", "safecrlf", "quotepath", "whitespace",
                       "abbrev", "checkstat", "trustctime", "untrackedcache", "splitindex", "sparsecheckout",
                       "sparsecheckoutcone", "commentchar", "commentstring", "longpaths", "protecthfs", "protectntfs",
                       "sharedrepository", "compression", "bigfilethreshold", "fsync", "fsyncmethod", "warnambiguousrefs"}),
    "extensions": "*", "index": "*", "feature": "*", "advice": "*", "color": "*", "status": "*", "pretty": "*",
    "init": frozenset({"defaultbranch"}),
    "safe": frozenset({"directory"}),
    "diff": frozenset({"algorithm", "renames", "renamelimit", "colormoved", "colormovedws", "mnemonicprefix", "noprefix",
                       "relative", "context", "interhunkcontext", "indentheuristic", "submodule", "statgraphwidth",
                       "statnamewidth", "wserrorhighlight", "suppressblankempty", "dirstat", "ignoresubmodules"}),
    "merge": frozenset({"conflictstyle", "ff", "renames", "renamelimit", "log", "stat"}),
    "log": frozenset({"date", "decorate", "follow", "abbrevcommit", "showroot", "mailmap", "graphcolors",
                      "excludedecoration", "initialdecorationset", "diffmerges"}),
    "format": frozenset({"pretty"}),
    "grep": frozenset({"linenumber", "patterntype", "extendedregexp", "column", "fullname", "fallbacktonoindex"}),
    "blame": frozenset({"coloring", "date", "showemail", "showroot", "blankboundary", "markunblamablelines",
                        "markignoredlines"}),
    "branch": frozenset({"autosetupmerge", "autosetuprebase", "sort"}),
    "tag": frozenset({"sort"}),
    "pull": frozenset({"rebase", "ff"}),
    "push": frozenset({"default", "autosetupremote"}),
    "rebase": frozenset({"autosquash", "autostash", "updaterefs", "stat", "abbreviatecommands", "missingcommitscheck"}),
    "commit": frozenset({"verbose", "cleanup", "status"}),
    "stash": frozenset({"showpatch", "showstat", "showincludeuntracked"}),
    "rerere": frozenset({"enabled", "autoupdate"}),
    "i18n": frozenset({"commitencoding", "logoutputencoding"}),
    "help": frozenset({"autocorrect"}),
    "checkout": frozenset({"defaultremote"}),
    "worktree": frozenset({"guessremote"}),
    "submodule": frozenset({"recurse"}),
    "lfs": frozenset({"repositoryformatversion"}),
    "http": frozenset(HTTP := {"sslverify", "version", "postbuffer", "proxy", "lowspeedlimit", "lowspeedtime"}),
}
# ... and when it has one (`[remote "origin"]`).
NAMED: dict[str, frozenset[str] | str] = {
    "remote": frozenset({"url", "pushurl", "fetch", "tagopt", "promisor", "partialclonefilter", "mirror"}),
    "branch": frozenset({"remote", "pushremote", "merge", "rebase", "description"}),
    "submodule": frozenset({"url", "path", "active", "branch", "ignore", "shallow"}),
    "color": "*",
    "pretty": "*",
    "http": frozenset(HTTP),  # [http "https://host/"]: where a command with network fetches
}
# git-lfs' own filter, kept only as `git lfs install` writes it: LFS files would show as changed without it.
LFS_FILTER = {"clean": "git-lfs clean -- %f", "smudge": "git-lfs smudge -- %f", "process": "git-lfs filter-process",
              "required": "true"}

_HEADER = re.compile(r'\s*\[\s*([A-Za-z0-9.-]+)\s*(?:"((?:[^"\\\n]|\\.)*)"\s*)?\]')
_KEY = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*)\s*(=|$|[#;])")
_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/@\"]*@")
_URL_QUERY = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s?#\"]*)[?#][^\s\"]*")


def allowed(section: str, subsection: str | None, variable: str) -> bool:
    """Is `section.subsection.variable` one of the keys commands need (names as git compares them)?"""
    section, variable = section.lower(), variable.lower()
    if section == "filter" and subsection == "lfs":
        return variable in LFS_FILTER
    kept = (PLAIN if subsection is None else NAMED).get(section)
    return kept == "*" or (isinstance(kept, frozenset) and variable in kept)


def _continues(value: str, quoted: bool = False) -> tuple[bool, bool]:
    """(does a value go on on the next line, is a quote open at its end): an unescaped backslash at its
    end, outside a comment, as git reads it (`\\\\` at the end is a backslash, and the value ends)."""
    escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char in "#;" and not quoted:
            return False, False
    return escaped, quoted


def _clean_url(line: str) -> str:
    return _URL_QUERY.sub(r"\1", _URL_USERINFO.sub(r"\1", line))


def sanitized_git_config(text: str) -> str:
    """A git config file's text with only the allowed keys (and their continuation lines), each under
    its section's header; a section with none is left out whole, header included. A line git could not
    read is left out too (the copy then still parses)."""
    out: list[str] = []
    section: tuple[str, str | None] | None = None
    header = ""  # the current section's header, written before its first kept key
    keeping = dropping = quoted = False
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if keeping or dropping:  # a continuation line of the key before
            if keeping:
                out.append(line)
            more, quoted = _continues(body, quoted)
            keeping, dropping = keeping and more, dropping and more
            continue
        stripped = body.strip()
        if not stripped or stripped[0] in "#;":
            continue
        rest = body
        match = _HEADER.match(body)
        if match:
            name, sub = match.group(1), match.group(2)
            if sub is None and "." in name:  # the old form, [section.subsection]
                name, sub = name.split(".", 1)
                sub = sub.lower()
            elif sub is not None:
                sub = re.sub(r"\\(.)", r"\1", sub)
            section, header = (name, sub), _clean_url(match.group(0).strip()) + "\n"
            rest = body[match.end():]
            if not rest.strip() or rest.strip()[0] in "#;":
                continue
        key = _KEY.match(rest)
        if section is None or key is None:
            continue  # a key before any section, or not a line of git's format
        value = rest[key.end(1):]
        more, quoted = _continues(value)
        if not allowed(section[0], section[1], key.group(1)):
            dropping = more
            continue
        if section[0].lower() == "filter" and value.strip().lstrip("=").strip() != LFS_FILTER[key.group(1).lower()]:
            continue
        if header:
            out.append(header)
            header = ""
        out.append("\t" + _clean_url(rest.strip()) + "\n")
        keeping = more
    return "".join(out)


def git_config_copy(root: Path, scratch: Path) -> Path | None:
    """The repository's .git/config with only the allowed keys, to bind over it read-only."""
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
