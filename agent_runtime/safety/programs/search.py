"""Search tools: a pattern is text, not a file; options that read patterns or ignore lists from a
file; rg's preprocessor and fd's --exec, which run programs."""

from __future__ import annotations

from agent_runtime.safety.programs.base import Effects, Scanned, scan
from agent_runtime.safety.shellwords import DYNAMIC, Word


def _search_patterns(args: list[Word], eff: Effects, short_values: str, long_values: set[str],
                     pattern_options: tuple[str, ...], text_options: tuple[str, ...],
                     file_options: tuple[str, ...] = ("-f", "--file")) -> Scanned:
    """grep and rg: the pattern (the first operand, or every -e) is text, not a file; so are the
    values of options that name text (--exclude=GLOB leaves files out, it reads none). The values
    of `file_options` are files read (`-f FILE`: patterns), also written attached to the option
    (`-f.env`, `-rf../.env`), where the word itself is not a path: `grep -o -f.env` prints what of
    its input the secret's lines match, `rg --debug -f.env` the patterns themselves."""
    found = scan(args, short_values, long_values)
    for value in found.values(*file_options):
        eff.reads.append((value, "reads patterns from"))
    patterns = found.values(*pattern_options)
    if not patterns and not found.has("-f", "--file") and found.positionals:
        eff.not_paths.append(found.positionals[0])
    for word in args:  # --exclude=.env: the option word itself carries the text
        name, eq, value = word.text.partition("=")
        if word.static and eq and name in pattern_options + text_options and not _includes(name, value):
            eff.not_paths.append(word)
    for name, value in found.options:
        if value is not None and name in pattern_options + text_options and not _includes(name, value.text):
            eff.not_paths.append(value)
    return found


def _includes(option: str, value: str) -> bool:
    """`-g '.env*'` searches the files it names (a path); `-g '!.env'` leaves them out (text)."""
    return option in ("-g", "--glob", "--iglob") and not value.startswith("!")


def grep(args: list[Word], eff: Effects) -> None:
    _search_patterns(args, eff, "efABCmdD", {"--regexp", "--file", "--after-context", "--before-context",
                                             "--context", "--max-count", "--directories", "--devices",
                                             "--label", "--exclude", "--exclude-dir", "--color", "--colour",
                                             "--binary-files", "--exclude-from"},
                     ("-e", "--regexp"), ("--exclude", "--exclude-dir", "--label", "-A", "-B", "-C", "-m",
                                          "--color", "--colour"), ("-f", "--file", "--exclude-from"))


def rg(args: list[Word], eff: Effects) -> None:
    for word in args:
        if word.static and (word.text == "--pre" or word.text.startswith("--pre=")):
            eff.ask("program-option", "rg --pre runs a program on every file it searches")
    _search_patterns(args, eff, "efgtTABCmMjdrE", {"--regexp", "--file", "--glob", "--iglob", "--type",
                                                     "--type-not", "--after-context", "--before-context",
                                                     "--context", "--max-count", "--max-columns", "--threads",
                                                     "--max-depth", "--replace", "--encoding", "--pre",
                                                     "--pre-glob", "--sort", "--sortr", "--type-add", "--colors",
                                                     "--context-separator", "--path-separator",
                                                     "--max-filesize", "--field-match-separator",
                                                     "--ignore-file"},
                     ("-e", "--regexp"), ("-g", "--glob", "--iglob", "-t", "-T", "--type", "--type-not", "-r",
                                          "--replace", "--pre-glob", "--type-add", "--colors", "-A", "-B", "-C",
                                          "-m", "-M", "--context-separator", "--field-match-separator"),
                     ("-f", "--file", "--ignore-file"))


def jq(args: list[Word], eff: Effects) -> None:
    i, filter_seen = 0, any(w.text in ("-f", "--from-file") for w in args)
    while i < len(args):
        text = args[i].text
        if text in ("--arg", "--argjson"):
            eff.not_paths += args[i + 1:i + 3]
            i += 3
            continue
        if text in ("--rawfile", "--slurpfile"):
            eff.not_paths += args[i + 1:i + 2]  # the name; the file after it is read
            i += 3
            continue
        if text in ("--indent", "--tab"):
            i += 1 + (text == "--indent")
            continue
        if not text.startswith("-") and not filter_seen:
            eff.not_paths.append(args[i])
            filter_seen = True
        i += 1


def fd(args: list[Word], eff: Effects) -> None:
    if any(w.text in ("-x", "--exec", "-X", "--exec-batch") for w in args):
        eff.ask("fd-exec", "fd --exec runs a command on every file it finds")
    for i, word in enumerate(args):  # names only, but an ignore file is read
        if word.static and word.text == "--ignore-file" and i + 1 < len(args):
            eff.reads.append((args[i + 1], "fd reads ignore patterns from"))
        elif word.static and word.text.startswith("--ignore-file="):
            eff.reads.append((Word(word.text.partition("=")[2]), "fd reads ignore patterns from"))
    eff.names_only = True


def fd_exec(args: list[Word]) -> list[list[Word]]:
    """`fd PATTERN -x CMD ARGS [;]`: CMD runs on every file found ({} and friends)."""
    chunks, i = [], 0
    while i < len(args):
        if args[i].text in ("-x", "--exec", "-X", "--exec-batch"):
            j = i + 1
            chunk: list[Word] = []
            while j < len(args) and args[j].text != ";":
                chunk.append(args[j])
                j += 1
            if chunk:
                chunks.append([Word(w.text, False) if "{" in w.text else w for w in chunk] + [DYNAMIC])
            i = j
        i += 1
    return chunks


HANDLERS = {"rg": rg, "grep": grep, "egrep": grep, "fgrep": grep, "zgrep": grep, "jq": jq, "fd": fd, "fdfind": fd}
