"""Programs that run many commands given to them: GNU parallel (and moreutils'),
hyperfine, entr, moreutils' pee. What they run is judged as commands of their own (launchers.Runs);
values they read from their input or a file are only known at run time."""

from __future__ import annotations

import re
import shlex

from agent_runtime.safety.programs.launchers import Runs, command_after, strict_options
from agent_runtime.safety.shellwords import DYNAMIC, Word

# --- GNU parallel (and moreutils' parallel) ---

PARALLEL_FLAGS = "0gkmpqrtuvXil"
PARALLEL_VALUES = "aCdEIjJLNnPsW"
PARALLEL_LONG_FLAGS = {
    "--null", "--group", "--keep-order", "--ungroup", "--line-buffer", "--lb", "--linebuffer", "--tag", "--verbose",
    "--dry-run", "--will-cite", "--bar", "--eta", "--progress", "--quote", "--no-run-if-empty", "--xargs", "--pipe",
    "--pipepart", "--cat", "--fifo", "--plus", "--shuf", "--tty", "--fg", "--bg", "--no-notice", "--silent",
    "--resume", "--resume-failed", "--retry-failed", "--round-robin", "--roundrobin", "--citation", "--version",
    "--help", "--number-of-cpus", "--number-of-cores", "--number-of-threads", "--number-of-sockets",
    "--max-line-length-allowed", "--show-limits", "--interactive", "--noswap", "--ctag", "--color", "--csv",
    "--plain", "--semaphore", "--wait",
    "--use-cpus-instead-of-cores", "--use-cores-instead-of-threads", "--use-sockets-instead-of-threads"}
PARALLEL_LONG_VALUES = {
    "--arg-file-sep", "--arg-sep", "--delimiter", "--eof", "--extensionreplace", "--er",
    "--basenamereplace", "--bnr", "--dirnamereplace", "--dnr", "--basenameextensionreplace", "--bner",
    "--seqreplace", "--slotreplace", "--jobs", "--max-procs", "--max-args", "--max-replace-args", "--max-lines",
    "--max-chars", "--colsep", "--header", "--env", "--timeout", "--delay", "--retries", "--halt", "--load",
    "--memfree", "--memsuspend", "--nice", "--block", "--block-size", "--recstart", "--recend", "--tagstring",
    "--termseq", "--limit", "--rpl", "--semaphorename", "--id", "--trim", "--group-by", "--ctagstring",
    "--arg-file", "--replace", "--tmpdir", "--tempdir"}
# What parallel can do beyond running the command here: other machines, other programs, files it writes.
PARALLEL_OTHER = {"-S": "runs the commands on other machines", "--sshlogin": "runs the commands on other machines",
                  "--slf": "runs the commands on other machines", "--sshloginfile": "runs the commands on other "
                  "machines", "--onall": "runs the commands on other machines", "--nonall": "runs the commands on "
                  "other machines", "--ssh": "runs a program of its choosing", "--basefile": "copies files to other "
                  "machines", "--transferfile": "copies files to other machines", "--return": "copies files back",
                  "--compress-program": "runs a program of its choosing", "--decompress-program": "runs a program "
                  "of its choosing", "--filter": "runs code of its own", "--shebang-wrap": "runs a program of its "
                  "choosing", "--results": "writes files", "--res": "writes files", "--joblog": "writes a file",
                  "--workdir": "runs the commands in another directory", "--wd": "runs the commands in another "
                  "directory", "--sql": "runs commands from a database", "--sqlworker": "runs commands from a "
                  "database", "--sqlmaster": "runs commands from a database", "--tmux": "runs a program of its "
                  "choosing", "--template": "writes files", "--profile": "reads options from a file",
                  "-J": "reads options from a file", "-W": "runs the commands in another directory",
                  "--controlmaster": "runs the commands on other machines", "-M": "runs the commands on other "
                  "machines"}
for _name in ("--rpl", "--extensionreplace", "--er", "--basenamereplace", "--bnr", "--dirnamereplace", "--dnr",
              "--basenameextensionreplace", "--bner", "--seqreplace", "--slotreplace"):
    PARALLEL_OTHER[_name] = "defines replacement strings this check does not follow"
PARALLEL_SEPARATORS = (":::", ":::+", "::::", "::::+")
# What is left of a replacement string that is not one of {}, {.}, {/}, ...: parallel would put a value
# there, which judging the text as written would miss (`{+/}` with --plus as the program).
_OTHER_PLACEHOLDER = re.compile(r"(?<![$\\])\{[^{}\s,]*\}")
_PLACEHOLDER = re.compile(r"\{(\d*)(\.|/|//|/\.|#|%|\.\.|\.\.\.|\+/|\+\.|\+\.\.|\+\.\.\.|)\}")
PARALLEL_COMBINATIONS = 64  # beyond this, the values are judged as only known at run time


_RUN_TIME = "\0"  # a value only known at run time (or by rules not followed here): "$PARALLEL_ARG"


def _fill(template: str, values: list[str] | None, replace: str | None, quoted: list[str] | None = None) -> str:
    """The shell string parallel runs for one set of values (quoted, as parallel quotes them); None: the
    values are only known at run time. Only {}, {.}, {/}, {//}, {/.} are computed; what --plus adds
    ({..}, {+/}, ...) counts as a value only known at run time."""
    def one(index: str, kind: str, raw: bool = False) -> str:
        if kind in ("#", "%"):
            return "1"
        if values is None or kind not in ("", "/", "//", ".", "/."):
            return _RUN_TIME
        value = values[int(index) - 1] if index and 0 < int(index) <= len(values) else " ".join(values)
        if kind in ("/", "/."):
            value = value.rsplit("/", 1)[-1]
        elif kind == "//":
            value = value.rsplit("/", 1)[0] if "/" in value else "."
        if kind in (".", "/."):
            value = re.sub(r"\.[^./]*$", "", value)
        return value if raw else shlex.quote(value)

    text = template.replace(replace, "{}") if replace else template
    if quoted:  # -q: each word of the command is quoted, values put in raw
        words = [_PLACEHOLDER.sub(lambda m: one(m.group(1), m.group(2), raw=True), w) for w in quoted]
        if any(_PLACEHOLDER.search(w) for w in quoted):
            return " ".join('"$PARALLEL_ARG"' if _RUN_TIME in w else shlex.quote(w) for w in words)
        text = " ".join(shlex.quote(w) for w in quoted)
    filled, count = _PLACEHOLDER.subn(lambda m: one(m.group(1), m.group(2)), text)
    if count:
        return filled.replace(_RUN_TIME, '"$PARALLEL_ARG"')
    tail = '"$PARALLEL_ARG"' if values is None else " ".join(shlex.quote(v) for v in values)
    return f"{text} {tail}"


def parallel(args: list[Word]) -> Runs:
    """`parallel [opts] [CMD] ::: VALUES ...`: CMD runs through the shell once per value (quoted into
    `{}`, or appended); without CMD each value is the command. `::::` and -a read values from files, no
    source reads them from the input: values only known at run time. moreutils' `parallel [CMD] -- ARGS`
    is judged both ways."""
    opts, rest, why = strict_options(args, PARALLEL_FLAGS, PARALLEL_VALUES, PARALLEL_LONG_FLAGS,
                                     PARALLEL_LONG_VALUES | set(PARALLEL_OTHER), "parallel")
    if why:
        return Runs(unknown=why, label="parallel")
    for name, what in PARALLEL_OTHER.items():
        if name in opts:
            return Runs(unknown=f"parallel {name} {what}", label="parallel")
    if "--arg-sep" in opts or "--arg-file-sep" in opts:
        return Runs(unknown="parallel with separators of its own cannot be read here", label="parallel")
    cut = next((k for k, w in enumerate(rest) if w.text in PARALLEL_SEPARATORS), len(rest))
    command, sources = rest[:cut], rest[cut:]
    template = " ".join(w.text for w in command)
    if "{=" in template:
        return Runs(unknown="parallel {= ... =} runs Perl code", label="parallel")
    replace = opts.get("-I") or opts.get("--replace")
    unknown = _OTHER_PLACEHOLDER.search(_PLACEHOLDER.sub("", template.replace(replace.text, "{}") if replace
                                                         else template))
    if unknown:
        return Runs(unknown=f"parallel would put a value in place of {unknown.group(0)}, a replacement string this "
                            "check does not follow", label="parallel")
    dynamic = bool(opts.get("-a") or opts.get("--arg-file")) or not sources or "--pipe" in opts
    groups: list[list[Word]] = []
    for word in sources:
        if word.text in PARALLEL_SEPARATORS:
            dynamic = dynamic or word.text.startswith("::::")
            groups.append([])
        else:
            groups[-1].append(word)
    combos: list[list[str]] = [[]]
    for group in groups:
        dynamic = dynamic or not all(w.static for w in group)
        combos = [c + [w.text] for c in combos for w in group][:PARALLEL_COMBINATIONS + 1]
    dynamic = dynamic or len(combos) > PARALLEL_COMBINATIONS
    out = Runs(label="parallel")
    if command:
        static = all(w.static for w in command)
        fills = [None] if dynamic else combos
        quoted = [w.text.replace(replace.text, "{}") if replace else w.text for w in command] \
            if "-q" in opts or "--quote" in opts else None
        out.scripts = [Word(_fill(template, values, replace.text if replace else None, quoted), static)
                       for values in fills]
    elif dynamic:
        return Runs(unknown="parallel runs commands read from its input or a file", label="parallel")
    else:
        out.scripts = [Word(" ".join(values)) for values in combos]
    if not sources and "--" in [w.text for w in args]:  # moreutils: `parallel [CMD] -- ARG...` too
        k = [w.text for w in args].index("--")
        before = strict_options(args[:k], PARALLEL_FLAGS, PARALLEL_VALUES, PARALLEL_LONG_FLAGS,
                                PARALLEL_LONG_VALUES, "parallel")[1]
        after = args[k + 1:]
        if before:
            out.scripts += [Word(_fill(" ".join(w.text for w in before), [a.text], None), a.static) for a in after]
        else:
            out.scripts += after
    return out


HYPERFINE_VALUES = {"-w", "--warmup", "-m", "--min-runs", "-M", "--max-runs", "-r", "--runs", "-D",
                    "--parameter-step-size", "-u", "--time-unit", "--export-asciidoc", "--export-csv",
                    "--export-json", "--export-markdown", "--export-orgmode", "--style", "--sort", "-n",
                    "--command-name", "--output", "--input", "--min-benchmarking-time"}
HYPERFINE_SCRIPTS = {"-p", "--prepare", "-c", "--cleanup", "-s", "--setup", "--conclude", "--reference"}


def hyperfine(args: list[Word]) -> Runs:
    """hyperfine runs each command (and --prepare/--cleanup/--setup ones) through a shell; `{x}` is a
    parameter's value."""
    out, i = Runs(label="hyperfine"), 0
    while i < len(args):
        word = args[i]
        name = word.text.split("=")[0]
        value = Word(word.text.partition("=")[2], word.static) if "=" in word.text else None
        if word.static and name in ("-S", "--shell"):
            return Runs(unknown="hyperfine --shell runs the commands with a program of its choosing")
        if word.static and name in HYPERFINE_SCRIPTS:
            out.scripts.append(value or (args[i + 1] if i + 1 < len(args) else Word("")))
            i += 1 if value else 2
        elif word.static and name in HYPERFINE_VALUES:
            i += 1 if value else 2
        elif word.static and name in ("-P", "--parameter-scan"):
            i += 4
        elif word.static and name in ("-L", "--parameter-list"):
            i += 3
        elif word.static and word.text.startswith("-") and len(word.text) > 1:
            i += 1  # a flag: -N, -i, --show-output, ...
        else:
            out.scripts.append(word)
            i += 1
    out.scripts = [Word(re.sub(r"\{[A-Za-z_][A-Za-z0-9_]*\}", '"$PARAMETER"', w.text), w.static)
                   for w in out.scripts]
    return out


def entr(args: list[Word]) -> Runs:
    opts, rest, why = strict_options(args, "acdnprsz", "", set(), set(), "entr")
    if why:
        return Runs(unknown=why, label="entr")
    rest = [DYNAMIC if w.text == "/_" else w for w in rest]  # /_: the file that changed
    if "-s" in opts:
        return Runs(scripts=rest[:1], label="entr -s")
    return command_after(rest, "entr")


def pee(args: list[Word]) -> Runs:
    """moreutils pee: each argument is a command run through the shell, fed the same input."""
    return Runs(scripts=[w for w in args if not (w.static and w.text.startswith("--"))], label="pee")


UNWRAP = {"parallel": parallel, "hyperfine": hyperfine, "entr": entr, "pee": pee}
HANDLERS: dict = {}
