"""File tools: what they write (output options, operands that are outputs, moves, deletes),
what option values they read, and the commands `find -exec` runs."""

from __future__ import annotations

import re
from typing import Callable

from agent_runtime.safety.programs.base import Effects, scan
from agent_runtime.safety.shellwords import DYNAMIC, Word


def sort(args: list[Word], eff: Effects) -> None:
    found = scan(args, "kotST", {"--output", "--key", "--field-separator", "--temporary-directory",
                                 "--buffer-size", "--compress-program", "--files0-from", "--random-source",
                                 "--batch-size", "--parallel", "--sort"})
    for value in found.values("-o", "--output"):
        eff.writes.append((value, "sort -o writes"))
    for value in found.values("--compress-program"):
        eff.ask("program-option", f"sort --compress-program runs {value.text}")


def uniq(args: list[Word], eff: Effects) -> None:
    found = scan(args, "fsw", {"--skip-fields", "--skip-chars", "--check-chars"})
    if len(found.positionals) >= 2:  # uniq [INPUT [OUTPUT]]
        eff.writes.append((found.positionals[1], "uniq writes its output to"))


XXD_VALUES = frozenset({"-c", "-cols", "-g", "-groupsize", "-l", "-len", "-o", "-offset", "-s", "-seek", "-n",
                        "-name", "-R"})


def xxd(args: list[Word], eff: Effects) -> None:
    positionals, i = [], 0
    while i < len(args):
        text = args[i].text
        if args[i].static and text in XXD_VALUES:
            i += 2
            continue
        if not args[i].static or not text.startswith("-") or text == "-":
            positionals.append(args[i])
        i += 1
    if len(positionals) >= 2:  # xxd [INFILE [OUTFILE]]
        eff.writes.append((positionals[1], "xxd writes its output to"))


def tee(args: list[Word], eff: Effects) -> None:
    for word in scan(args).positionals:
        eff.writes.append((word, "tee writes"))


def dd(args: list[Word], eff: Effects) -> None:
    for word in args:
        if word.text.startswith("of="):
            eff.writes.append((Word(word.text[3:], word.static), "dd writes"))
        elif word.text.startswith("if="):
            eff.reads.append((Word(word.text[3:], word.static), "dd reads"))


def tree(args: list[Word], eff: Effects) -> None:
    found = scan(args, "LPIHTo", {"--charset", "--filelimit", "--timefmt", "--sort", "--hintro", "--houtro"})
    for value in found.values("-o"):
        eff.writes.append((value, "tree -o writes"))
    if found.has("-R"):
        eff.ask("tree-writes", "tree -R writes an index file into every directory")
    eff.names_only = not found.has("--fromfile")  # --fromfile prints the lines of a file


def pager(args: list[Word], eff: Effects) -> None:
    for i, word in enumerate(args):
        text = word.text
        if not word.static:
            continue
        if text.startswith("+"):
            eff.ask("pager-commands", f"{text}: less runs these commands at start, and they can run a shell")
        elif text in ("-o", "-O") and i + 1 < len(args):
            eff.writes.append((args[i + 1], "less -o writes"))
        elif text[:2] in ("-o", "-O") and len(text) > 2 and not text.startswith("--"):
            eff.writes.append((Word(text[2:]), "less -o writes"))
        elif text.startswith(("--log-file=", "--LOG-FILE=")):
            eff.writes.append((Word(text.split("=", 1)[1]), "less --log-file writes"))
        elif text.startswith(("-k", "--lesskey")):
            eff.ask("pager-commands", "a lesskey file can set up commands that run a shell")


def file_(args: list[Word], eff: Effects) -> None:
    found = scan(args, "mfFPe", {"--magic-file", "--files-from", "--separator", "--parameter", "--exclude"})
    # `file -f.env` prints each line as a name it cannot open; `file -m.env` quotes the lines
    # it cannot parse as magic.
    for value in found.values("-m", "--magic-file", "-f", "--files-from"):
        eff.reads.append((value, "file reads"))
    if found.has("-C", "--compile"):
        eff.ask("file-compile", "file -C writes a compiled magic file")


def cp(args: list[Word], eff: Effects, how: str = "cp") -> None:
    found = scan(args, "tSmog" if how == "install" else "tS",
                 {"--target-directory", "--suffix", "--mode", "--owner", "--group"})
    targets = found.values("-t", "--target-directory")
    if how == "install" and found.has("-d", "--directory"):
        targets = found.positionals
    elif not targets and len(found.positionals) >= 2:
        targets = found.positionals[-1:]
    for word in targets:
        eff.writes.append((word, f"{how} writes"))


def mv(args: list[Word], eff: Effects, how: str = "mv") -> None:
    found = scan(args, "tS", {"--target-directory", "--suffix"})
    targets = found.values("-t", "--target-directory")
    sources = found.positionals if targets else found.positionals[:-1]
    targets = targets or found.positionals[-1:]
    if how == "ln":  # `ln -s TARGET LINK`: a link that points into .git is a way to write there later
        sources, targets = [], found.positionals + targets
    for word in sources:
        eff.writes.append((word, f"{how} moves"))  # a move removes its sources...
    for word in targets:
        eff.writes.append((word, f"{how} writes"))  # ...and writes its target


_MODE_OPTION = re.compile(r"^-[rwxXst]+$")


def chmod_like(args: list[Word], eff: Effects, how: str) -> None:
    found = scan(args, "", {"--reference"})
    mode_given = bool(found.values("--reference")) or any(
        _MODE_OPTION.match(w.text) for w in args if w.static)
    for word in found.positionals if mode_given else found.positionals[1:]:
        eff.writes.append((word, f"{how} changes"))


def positional_writes(how: str, short_values: str = "", long_values: frozenset[str] = frozenset(),
                      first_only: bool = False) -> Callable[[list[Word], Effects], None]:
    def handler(args: list[Word], eff: Effects) -> None:
        positionals = scan(args, short_values, long_values).positionals
        for word in positionals[:1] if first_only else positionals:
            eff.writes.append((word, how))
    return handler


def last_positional_written(args: list[Word], eff: Effects, how: str) -> None:
    positionals = scan(args, "eiPoFcS", {"--rsh", "--exclude", "--include", "--exclude-from", "--include-from",
                                         "--files-from", "--password-file", "--log-file", "--temp-dir"}).positionals
    if len(positionals) >= 2:
        eff.writes.append((positionals[-1], f"{how} writes"))


def split(args: list[Word], eff: Effects) -> None:
    found = scan(args, "abCdlnt", {"--suffix-length", "--additional-suffix", "--bytes", "--line-bytes",
                                    "--lines", "--number", "--separator", "--filter"})
    if found.values("--filter"):
        eff.ask("program-option", "split --filter runs a command")
    prefix = found.positionals[1] if len(found.positionals) >= 2 else Word("x")
    eff.writes.append((prefix, "split writes files starting with"))


def compressor(args: list[Word], eff: Effects, how: str) -> None:
    found = scan(args, "S", {"--suffix"})
    if found.has("-c", "--stdout", "--to-stdout", "-t", "--test", "-l", "--list"):
        return
    for word in found.positionals:
        eff.writes.append((word, f"{how} replaces"))


def tar(args: list[Word], eff: Effects) -> None:
    words = list(args)
    if words and words[0].static and not words[0].text.startswith("-"):
        words[0] = Word("-" + words[0].text)  # `tar czf a.tgz dir`: the first word is a cluster
    found = scan(words, "fCTXbKNgVLHI", {"--file", "--directory", "--files-from", "--exclude-from",
                                         "--to-command", "--use-compress-program", "--info-script",
                                         "--new-volume-script", "--rsh-command", "--rmt-command",
                                         "--checkpoint-action", "--transform"})
    letters = {name for name, _ in found.options}
    creating = bool(letters & {"-c", "-r", "-u", "-A", "--create", "--append", "--update", "--concatenate"})
    extracting = bool(letters & {"-x", "--extract", "--get"})
    if creating:
        for value in found.values("-f", "--file"):
            eff.writes.append((value, "tar writes the archive"))
    if extracting:
        directories = found.values("-C", "--directory") or [Word(".")]
        for value in directories:
            eff.writes.append((value, "tar extracts into"))
    for name in ("--to-command", "--use-compress-program", "-I", "--info-script", "-F", "--new-volume-script",
                 "--rsh-command", "--rmt-command"):
        for value in found.values(name):
            eff.ask("program-option", f"tar {name} runs {value.text}")
    if any(v.text.startswith("exec") for v in found.values("--checkpoint-action")):
        eff.ask("program-option", "tar --checkpoint-action=exec runs a command")


def unzip(args: list[Word], eff: Effects) -> None:
    found = scan(args, "dP", set())
    for value in found.values("-d") or [Word(".")]:
        eff.writes.append((value, "unzip extracts into"))


def patch(args: list[Word], eff: Effects) -> None:
    found = scan(args, "oidDpBzFrVY", {"--output", "--input", "--directory", "--strip", "--prefix",
                                       "--reject-file", "--suffix", "--basename-prefix"})
    for value in found.values("-o", "--output", "-r", "--reject-file"):
        eff.writes.append((value, "patch writes"))
    for word in found.positionals[:1]:
        eff.writes.append((word, "patch changes"))


def find(args: list[Word], eff: Effects) -> None:
    starts = []
    for word in args:
        if word.text.startswith(("-", "(", "!")):
            break
        starts.append(word)
    for i, word in enumerate(args):
        if word.text in ("-fprint", "-fprint0", "-fls", "-fprintf") and i + 1 < len(args):
            eff.writes.append((args[i + 1], f"find {word.text} writes"))
        elif word.text == "-files0-from" and i + 1 < len(args):
            eff.reads.append((args[i + 1], "find -files0-from reads"))
        elif word.text == "-delete":
            for start in starts or [Word(".")]:
                eff.writes.append((start, "find -delete removes files under"))
    eff.names_only = True


def find_exec(args: list[Word]) -> list[list[Word]]:
    """The commands of -exec/-ok; `{}` stands for what find finds: under its starting paths."""
    starts = []
    for word in args:
        if word.text.startswith(("-", "(", "!")):
            break
        starts.append(word)
    found = starts[0] if len(starts) == 1 else (DYNAMIC if starts else Word("."))
    chunks, i = [], 0
    while i < len(args):
        if args[i].text in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            chunk: list[Word] = []
            while j < len(args) and args[j].text not in (";", "+"):
                chunk.append(found if args[j].text == "{}" else args[j])
                j += 1
            if chunk:
                chunks.append(chunk)
            i = j
        i += 1
    return chunks


def du(args: list[Word], eff: Effects) -> None:
    for value in scan(args, "BdtX", {"--files0-from", "--exclude-from", "--block-size", "--max-depth",
                                     "--threshold", "--time-style", "--exclude"}).values("--files0-from", "-X",
                                                                                         "--exclude-from"):
        eff.reads.append((value, "du reads the names in"))  # and prints them when they are not files


def option_reads(names: tuple[str, ...], how: str, short_values: str = "",
                 long_values: frozenset[str] | set[str] = frozenset()) -> Callable[[list[Word], Effects], None]:
    """Options whose values are files read (also attached: `hexdump -f.env`, whose error quotes
    the file's lines)."""
    def handler(args: list[Word], eff: Effects) -> None:
        found = scan(args, short_values, long_values)
        for value in found.values(*names):
            eff.reads.append((value, how))
    return handler


def output_option(names: tuple[str, ...], how: str, short_values: str = "",
                  long_values: frozenset[str] | set[str] = frozenset()) -> Callable[[list[Word], Effects], None]:
    def handler(args: list[Word], eff: Effects) -> None:
        found = scan(args, short_values, long_values)
        for value in found.values(*names):
            eff.writes.append((value, how))
    return handler


HANDLERS = {
    "sort": sort, "uniq": uniq, "xxd": xxd, "tee": tee, "dd": dd, "tree": tree,
    "less": pager, "more": pager, "file": file_,
    "hexdump": option_reads(("-f", "--format-file"), "hexdump reads formats from", "efns",
                            {"--format", "--format-file", "--length", "--skip"}),
    "diff": option_reads(("-X", "--exclude-from"), "diff reads names to leave out from", "xXIFLSDCUW",
                         {"--exclude", "--exclude-from", "--ignore-matching-lines", "--show-function-line",
                          "--label", "--starting-file", "--ifdef", "--width", "--tabsize",
                          "--old-line-format", "--new-line-format", "--unchanged-line-format", "--line-format",
                          "--old-group-format", "--new-group-format", "--unchanged-group-format",
                          "--changed-group-format", "--horizon-lines", "--color", "--palette"}),
    "cp": cp, "install": lambda a, e: cp(a, e, "install"), "mv": mv, "ln": lambda a, e: mv(a, e, "ln"),
    "rm": positional_writes("rm removes"), "rmdir": positional_writes("rmdir removes"),
    "unlink": positional_writes("unlink removes"), "shred": positional_writes("shred destroys", "nsu"),
    "touch": positional_writes("touch writes", "rdt", frozenset({"--reference", "--date"})),
    "mkdir": positional_writes("mkdir creates", "m", frozenset({"--mode"})),
    "mkfifo": positional_writes("mkfifo creates", "m", frozenset({"--mode"})),
    "mknod": positional_writes("mknod creates", "m", frozenset({"--mode"}), first_only=True),
    "truncate": positional_writes("truncate changes", "sr", frozenset({"--size", "--reference"})),
    "chmod": lambda a, e: chmod_like(a, e, "chmod"), "chown": lambda a, e: chmod_like(a, e, "chown"),
    "chgrp": lambda a, e: chmod_like(a, e, "chgrp"),
    "split": split, "csplit": output_option(("-f", "--prefix"), "csplit writes files starting with", "fbn",
                                            {"--prefix", "--suffix-format", "--digits"}),
    "gzip": lambda a, e: compressor(a, e, "gzip"), "gunzip": lambda a, e: compressor(a, e, "gunzip"),
    "bzip2": lambda a, e: compressor(a, e, "bzip2"), "xz": lambda a, e: compressor(a, e, "xz"),
    "zstd": lambda a, e: compressor(a, e, "zstd"),
    "tar": tar, "unzip": unzip, "patch": patch,
    "rsync": lambda a, e: last_positional_written(a, e, "rsync"), "scp": lambda a, e: last_positional_written(a, e, "scp"),
    "du": du, "find": find,
}
# Programs whose job is to change files: what they write is declared, not hidden in an option of a
# program that reads (policy/containment.py: the judge may review the first kind, only a person the
# second). And the options that declare a change in a program that otherwise reads.
CHANGES_FILES = frozenset({"cp", "install", "mv", "ln", "rm", "rmdir", "unlink", "shred", "touch", "mkdir", "mkfifo",
                           "mknod", "truncate", "chmod", "chown", "chgrp", "split", "csplit", "gzip", "gunzip",
                           "bzip2", "xz", "zstd", "tar", "unzip", "patch", "rsync", "scp", "tee", "dd"})
DECLARED_CHANGES = ("sed -i ", "find -delete ", "python -m zipfile ", "python -m tarfile ", "flock creates ")
# Programs that only list or examine the paths they are given: `ls .env` shows a name, not secrets.
NAMES_ONLY = {"ls", "stat", "du", "realpath", "readlink", "test", "[", "basename", "dirname", "cd", "pushd"}
