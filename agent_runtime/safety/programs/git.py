"""git: what it prints from the history or the index (judged against deny_read), the files its
options write or read, the settings that can hold credentials, and `git config` writes."""

from __future__ import annotations

import re

from agent_runtime.safety.programs.base import Effects, HistoryRead, Scanned, scan
from agent_runtime.safety.shellwords import Word

GIT_GLOBAL_VALUES = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix",
                               "--config-env", "--list-cmds", "--attr-source", "--exec-path"})
GIT_LOG_VALUES = frozenset({"-n", "--max-count", "--skip", "--since", "--after", "--until", "--before", "--author",
                            "--committer", "--grep", "-S", "-G", "-L", "-O", "--format", "--pretty", "--encoding",
                            "--diff-filter", "--min-parents", "--max-parents", "--word-diff-regex", "--color-moved",
                            "--anchored", "--find-object", "--inter-hunk-context", "--output", "--src-prefix",
                            "--dst-prefix", "--line-prefix", "--exclude", "--glob", "--decorate-refs",
                            "--decorate-refs-exclude", "--date", "-U", "--unified", "--stat-width",
                            "--stat-name-width", "--stat-count", "--abbrev", "--notes", "--branches", "--tags",
                            "--remotes", "--ignore-matching-lines", "-I", "--submodule", "--relative"})
GIT_GREP_VALUES = frozenset({"-e", "-f", "-A", "-B", "-C", "--context", "--after-context", "--before-context",
                             "--max-depth", "--threads", "-m", "--max-count"})
GIT_NAMES_ONLY = ("--stat", "--shortstat", "--numstat", "--name-only", "--name-status", "--summary", "--raw", "-s",
                  "--no-patch", "--dirstat", "--compact-summary")
GIT_PATCH_FLAGS = ("-p", "-u", "--patch", "--patch-with-stat", "--patch-with-raw", "--cc", "-c", "--word-diff",
                   "--color-words", "--full-diff", "-U", "--unified", "-L", "-m", "--diff-merges", "--remerge-diff")
# Revisions that mean every ref: with -p, the whole history of every branch, tag and stash.
GIT_ALL_REFS = ("--all", "--branches", "--tags", "--remotes", "--glob", "--reflog", "-g", "--walk-reflogs",
                "--stdin", "--alternate-refs")
# Configuration keys that can hold a credential (case-insensitive).
GIT_SECRET_KEY = re.compile(r"(^|\.)(url|pushurl|insteadof|pushinsteadof|extraheader|proxy|proxyauthmethod|"
                            r"cookiefile|askpass|helper)$|^(remote|url|http|https|credential|sendemail|github|"
                            r"gitlab|hub|lfs)\.|token|password|passwd|secret|key|auth|cookie|credential",
                            re.I)


# git's own commands (git 2.39 `--list-cmds=main,nohelpers`, and later ones): any other name is an alias
# of the repository's configuration or a git-NAME program on the PATH, code the policy cannot read.
GIT_COMMANDS = frozenset({
    "add", "am", "annotate", "apply", "archive", "backfill", "bisect", "blame", "branch", "bugreport", "bundle",
    "cat-file", "check-attr", "check-ignore", "check-mailmap", "check-ref-format", "checkout", "checkout-index",
    "cherry", "cherry-pick", "clean", "clone", "column", "commit", "commit-graph", "commit-tree", "config",
    "count-objects", "credential", "credential-cache", "credential-store", "daemon", "describe", "diagnose", "diff",
    "diff-files", "diff-index", "diff-tree", "difftool", "fast-export", "fast-import", "fetch", "fetch-pack",
    "filter-branch", "fmt-merge-msg", "for-each-ref", "for-each-repo", "format-patch", "fsck", "fsck-objects", "gc",
    "get-tar-commit-id", "grep", "hash-object", "help", "hook", "http-backend", "http-fetch", "http-push",
    "imap-send", "index-pack", "init", "init-db", "instaweb", "interpret-trailers", "log", "ls-files", "ls-remote",
    "ls-tree", "mailinfo", "mailsplit", "maintenance", "merge", "merge-base", "merge-file", "merge-index",
    "merge-octopus", "merge-one-file", "merge-ours", "merge-recursive", "merge-recursive-ours",
    "merge-recursive-theirs", "merge-resolve", "merge-subtree", "merge-tree", "mergetool", "mktag", "mktree",
    "multi-pack-index", "mv", "name-rev", "notes", "pack-objects", "pack-redundant", "pack-refs", "patch-id",
    "pickaxe", "prune", "prune-packed", "pull", "push", "quiltimport", "range-diff", "read-tree", "rebase",
    "receive-pack", "reflog", "refs", "remote", "remote-ext", "remote-fd", "remote-ftp", "remote-ftps",
    "remote-http", "remote-https", "repack", "replace", "replay", "request-pull", "rerere", "reset", "restore",
    "rev-list", "rev-parse", "revert", "rm", "send-pack", "shell", "shortlog", "show", "show-branch", "show-index",
    "show-ref", "sparse-checkout", "stage", "stash", "status", "stripspace", "submodule", "subtree", "switch",
    "symbolic-ref", "tag", "unpack-file", "unpack-objects", "update-index", "update-ref", "update-server-info",
    "upload-archive", "upload-pack", "var", "verify-commit", "verify-pack", "verify-tag", "version", "whatchanged",
    "worktree", "write-tree"
})

GIT_TEXT_OPTIONS = {"-m", "--message", "--grep", "--author", "--committer", "-S", "-G", "--format", "--pretty",
                    "--date", "--since", "--until", "--after", "--before"}


def _git_repo_paths(text: str) -> list[str]:
    """The repository paths an argument names inside objects: `REV:path`, `:0:path`, `-L1,5:path`."""
    if ":" not in text or "://" in text:
        return []
    out = []
    _, _, after = text.partition(":")
    if re.match(r"^[0-3]:", after):  # :STAGE:path
        after = after[2:]
    out.append(after)
    last = text.rpartition(":")[2]
    if last != after:
        out.append(last)
    cleaned = []
    for path in out:
        path = re.sub(r"^\([^)]*\)", "", path).lstrip("/")  # pathspec magic :(top)x and :/x
        if path.startswith("./"):
            path = path[2:]
        if path and not path.startswith(("^", "!")):
            cleaned.append(path)
    return cleaned


def git_chdir(args: list[Word]) -> Word | None:
    """The folder `git -C DIR` runs in (the last -C before the subcommand), or None."""
    i, chdir = 0, None
    while i < len(args) and args[i].static and args[i].text.startswith("-"):
        if args[i].text in GIT_GLOBAL_VALUES:
            if args[i].text == "-C" and i + 1 < len(args):
                chdir = args[i + 1]
            i += 2
            continue
        i += 1
    return chdir


def git(args: list[Word], eff: Effects) -> None:
    i, chdir = 0, None
    while i < len(args) and args[i].static and args[i].text.startswith("-"):
        text = args[i].text
        if text in GIT_GLOBAL_VALUES:
            if text == "-C" and i + 1 < len(args):
                chdir = args[i + 1]
            i += 2
            continue
        i += 1
    if i >= len(args) or not args[i].static:
        return
    sub, rest = args[i].text, args[i + 1:]
    if sub not in GIT_COMMANDS:
        eff.ask("git-alias", f"`git {sub}` is no git command: an alias in the repository's configuration or a "
                             f"git-{sub} program runs it")
    for j, word in enumerate(rest):  # messages and search text are not paths
        name = word.text.split("=")[0]
        if name in GIT_TEXT_OPTIONS and word.static:
            eff.not_paths.append(word if "=" in word.text or len(word.text) > 2 and name == word.text[:2]
                                 else (rest[j + 1] if j + 1 < len(rest) else word))
    for word in rest:
        for text in (word.text, word.text.partition("=")[2]):
            for path in _git_repo_paths(text) if word.static else ():
                eff.repo_paths.append((path, f"git {sub} {word.text}"))
    git_file_options(sub, rest, eff)
    git_writes(sub, rest, eff)
    git_credentials(sub, rest, eff)
    history = git_history(sub, rest, eff)
    if history is not None:
        history.chdir = chdir
        eff.history = history


# Short options whose value is a file git reads, per subcommand, and the short options before them
# in a cluster that take a value of their own: `git blame -S FILE` (a revisions file: a line it
# cannot parse is quoted, "bad graft data: TOKEN=..."), `git grep -f FILE` (patterns), `git ls-files
# -X FILE`, `git commit -F FILE` (the message: into the history). The long forms (`--exclude-from=`)
# and a separate value are paths already; -S is search text for `git log`, a file only for blame.
GIT_FILE_OPTIONS = {"blame": ("S", "LCM"), "annotate": ("S", "LCM"), "grep": ("f", "eABCmO"),
                    "ls-files": ("X", "x"), "commit": ("F", "mcCtuS"), "tag": ("F", "mu"),
                    "merge": ("F", "msX"), "notes": ("F", "mC")}


def git_file_options(sub: str, rest: list[Word], eff: Effects) -> None:
    files, values = GIT_FILE_OPTIONS.get(sub, ("", ""))
    if not files:
        return
    for j, word in enumerate(rest):
        text = word.text
        if not word.static or text == "--":
            break
        if not text.startswith("-") or text.startswith("--") or len(text) < 2:
            continue
        for k, letter in enumerate(text[1:], start=2):
            if letter in files:
                value = text[k:]
                target = Word(value) if value else (rest[j + 1] if j + 1 < len(rest) else None)
                if target is not None:
                    eff.reads.append((target, f"git {sub} -{letter} reads"))
                break
            if letter in values:
                break


def _flag(words: list[Word], *names: str) -> bool:
    for word in words:
        text = word.text
        if not word.static or not text.startswith("-"):
            continue
        for name in names:
            if text == name or text.startswith(name + "="):
                return True
            if len(name) == 2 and name[1] != "-" and not text.startswith("--") and text.startswith(name):
                return True  # attached values: -U5, -L1,5:file
    return False


def git_writes(sub: str, rest: list[Word], eff: Effects) -> None:
    output_short = sub in ("format-patch", "archive")  # -o DIR / -o FILE
    for i, word in enumerate(rest):
        text = word.text
        if text == "--" or not word.static:
            if text == "--":
                break
            continue
        name, eq, value = text.partition("=")
        if name in ("--output", "--output-directory") or (name == "--prefix" and sub == "checkout-index"):
            target = Word(value) if eq else (rest[i + 1] if i + 1 < len(rest) else Word(""))
            eff.writes.append((target, f"git {sub} {name} writes"))
        elif output_short and text.startswith("-o") and not text.startswith("--"):
            target = Word(text[2:]) if len(text) > 2 else (rest[i + 1] if i + 1 < len(rest) else Word(""))
            eff.writes.append((target, f"git {sub} -o writes"))
    if sub == "config":
        git_config_writes(rest, eff)


GIT_CONFIG_WRITE_FLAGS = ("--add", "--unset", "--unset-all", "--replace-all", "--rename-section", "--remove-section",
                          "-e", "--edit")
GIT_CONFIG_READ_FLAGS = ("--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list", "--get-color",
                         "--get-colorbool")


def _git_config_args(rest: list[Word]) -> tuple[Scanned, str | None]:
    found = scan(rest, "f", {"--file", "--blob", "--default", "--type", "--comment", "--value"})
    action = None
    if found.positionals and found.positionals[0].text in ("get", "set", "unset", "list", "edit", "rename-section",
                                                           "remove-section"):
        action = found.positionals[0].text
        found.positionals = found.positionals[1:]
    return found, action


def git_config_writes(rest: list[Word], eff: Effects) -> None:
    found, action = _git_config_args(rest)
    reading = found.has(*GIT_CONFIG_READ_FLAGS) or action in ("get", "list")
    writing = (found.has(*GIT_CONFIG_WRITE_FLAGS) or action in ("set", "unset", "edit", "rename-section",
                                                                 "remove-section")
               or (not reading and len(found.positionals) >= 2))
    if not writing:
        return
    files = found.values("-f", "--file")
    if files:
        for value in files:
            eff.writes.append((value, "git config writes"))
    elif found.has("--global"):
        eff.writes.append((Word("~/.gitconfig"), "git config --global writes"))
    elif found.has("--system"):
        eff.writes.append((Word("/etc/gitconfig"), "git config --system writes"))
    else:
        eff.writes.append((Word(".git/config"), "git config writes"))


def git_credentials(sub: str, rest: list[Word], eff: Effects) -> None:
    texts = [w.text for w in rest]
    url_reason = "prints remote URLs, and a URL can hold an access token (https://user:TOKEN@host)"
    if sub == "remote" and (set(texts) & {"-v", "--verbose", "show", "get-url"}):
        eff.ask("git-credentials", f"git remote {' '.join(texts)} {url_reason}")
    elif sub == "ls-remote":
        eff.ask("git-credentials", f"git ls-remote {url_reason}, and reaches the network")
    elif sub == "var" and ("-l" in texts):
        eff.ask("git-credentials", "git var -l prints the whole configuration, which can hold tokens")
    elif sub == "help" and set(texts) & {"-w", "--web", "-i", "--info"}:
        eff.ask("program-option", "git help --web opens a browser")
    elif sub.startswith("credential"):
        eff.ask("git-credentials", f"git {sub} can print stored passwords and tokens")
    elif sub == "config":
        found, action = _git_config_args(rest)
        if found.has("-l", "--list") or action == "list":
            eff.ask("git-credentials", "git config --list prints the whole configuration, which can hold tokens "
                                       "(remote URLs, http.extraheader); ask for one key with --get")
        elif found.has("--get-regexp", "--get-urlmatch"):
            eff.ask("git-credentials", "this git config query can print keys that hold tokens")
        elif found.has("--get", "--get-all") or action == "get" or len(found.positionals) == 1:
            for key in found.positionals[:1]:
                if not key.static or GIT_SECRET_KEY.search(key.text):
                    eff.ask("git-credentials", f"git config {key.text} can hold a credential (a token in a URL "
                                               "or a header)")


def git_history(sub: str, rest: list[Word], eff: Effects) -> HistoryRead | None:
    values = GIT_GREP_VALUES if sub == "grep" else GIT_LOG_VALUES
    before: list[Word] = []
    after: list[Word] = []
    i, dashdash = 0, False
    skip_pattern = sub == "grep" and not _flag(rest, "-e", "-f", "--and", "--or", "--not")
    while i < len(rest):
        word = rest[i]
        text = word.text
        if dashdash:
            after.append(word)
        elif text == "--":
            dashdash = True
        elif word.static and text in values:
            i += 1
        elif word.static and text.startswith("-"):
            pass
        elif skip_pattern:
            skip_pattern = False
        else:
            before.append(word)
        i += 1
    names_only = _flag(rest, *GIT_NAMES_ONLY) and not _flag(rest, "-p", "-u", "--patch", "--patch-with-stat",
                                                            "--patch-with-raw")
    what = f"git {sub}"
    if sub == "show" and not (names_only and not any(":" in w.text for w in before)):
        return HistoryRead(what, after, before or [Word("HEAD")], kind="objects")
    if sub in ("log", "whatchanged", "reflog") and _flag(rest, *GIT_PATCH_FLAGS) and not names_only:
        every = [w.text for w in rest if w.static and w.text.split("=")[0] in GIT_ALL_REFS]
        return HistoryRead(f"{what} -p", after, before, every_ref=" ".join(every) or None)
    if sub == "stash" and rest and rest[0].text == "list" and _flag(rest, *GIT_PATCH_FLAGS):
        return HistoryRead("git stash list -p", after, before[1:])
    if sub in ("diff", "diff-tree", "diff-index", "diff-files") and not names_only:
        if sub == "diff" and _flag(rest, "--no-index"):
            return None  # compares two files named on the command line: judged as plain reads
        staged = _flag(rest, "--cached", "--staged", "--merge-base")
        return HistoryRead(what, after, before, kind="worktree" if sub in ("diff", "diff-files") else "history",
                           staged=staged)
    if sub == "grep":
        if _flag(rest, "--untracked", "--no-index"):
            eff.ask("git-grep-untracked", "git grep --untracked searches files git does not track, which can "
                                          "hold secrets (.env); use rg_search, which leaves them out")
        return HistoryRead(what, after, before, kind="worktree")
    if sub == "cat-file":
        if _flag(rest, "--batch-all-objects") and _flag(rest, "--batch", "--batch-command"):
            eff.ask("git-history", "git cat-file --batch-all-objects prints every object git stores, also files "
                                   "that were added once and removed (a .env staged by mistake)")
        if _flag(rest, "--batch", "--batch-command", "--batch-all-objects"):
            return HistoryRead(what, after, [Word("<objects named on its input>", False)], kind="objects")
        types = {"blob", "tree", "commit", "tag"}
        if _flag(rest, "-p", "--textconv", "--filters") or (before and before[0].text in types):
            objects = before[1:] if before and before[0].text in types else before
            return HistoryRead(what, after, objects, kind="objects")
    if sub == "stash" and rest and rest[0].text == "show" and _flag(rest, "-p", "-u", "--patch"):
        return HistoryRead("git stash show -p", after, before[1:])
    if sub in ("archive", "format-patch", "fast-export", "bundle"):
        return HistoryRead(what, after, before)
    return None


HANDLERS = {"git": git}
