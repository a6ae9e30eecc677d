"""sed: a script language with a command runner (`e`, `s///e`) and file writes and reads
(`w FILE`, `r FILE`), read here command by command; `-i` rewrites its files, `-f` runs a script file."""

from __future__ import annotations

from agent_runtime.safety.programs.base import Effects, Unreadable
from agent_runtime.safety.shellwords import Word

_SED_SIMPLE = set("=dDgGhHlnNpPxzF")


def sed_script(script: str) -> tuple[list[str], list[str], list[str]]:
    """(commands it runs, files it writes, files it reads) for a GNU sed script; raises when unsure."""
    runs: list[str] = []
    writes: list[str] = []
    reads: list[str] = []
    s, i, n = script, 0, len(script)

    def rest_of_line(start: int) -> tuple[str, int]:
        end = s.find("\n", start)
        end = n if end < 0 else end
        return s[start:end], end

    def delimited(start: int, delim: str) -> int:
        """Index just after the closing delimiter of a regex or replacement starting at `start`."""
        j = start
        while j < n:
            if s[j] == "\\":
                j += 2
                continue
            if s[j] == delim:
                return j + 1
            if s[j] == "\n" and delim != "\n":
                raise Unreadable("newline inside a regex")
            j += 1
        raise Unreadable("unterminated regex")

    def address(j: int) -> int:
        if j < n and s[j].isdigit():
            while j < n and s[j].isdigit():
                j += 1
            if j < n and s[j] == "~":
                j += 1
                while j < n and s[j].isdigit():
                    j += 1
            return j
        if j < n and s[j] == "$":
            return j + 1
        if j < n and s[j] in "/\\":
            if s[j] == "\\":
                if j + 1 >= n:
                    raise Unreadable("bad address")
                delim, j = s[j + 1], j + 2
            else:
                delim, j = "/", j + 1
            j = delimited(j, delim)
            while j < n and s[j] in "IM":
                j += 1
            return j
        return j

    while i < n:
        while i < n and s[i] in " \t\n;":
            i += 1
        if i >= n:
            break
        if s[i] == "#":
            _, i = rest_of_line(i)
            continue
        start = i
        i = address(i)
        if i > start:
            while i < n and s[i] in " \t":
                i += 1
            if i < n and s[i] == ",":
                i += 1
                while i < n and s[i] in " \t":
                    i += 1
                if i < n and s[i] in "+~":
                    i += 1
                    while i < n and s[i].isdigit():
                        i += 1
                else:
                    i = address(i)
        while i < n and s[i] in " \t!":
            i += 1
        if i >= n:
            raise Unreadable("an address without a command")
        command = s[i]
        i += 1
        if command in "{}":
            continue
        if command in _SED_SIMPLE or command in "qQlL":
            while i < n and (s[i].isdigit() or s[i] in " \t"):
                i += 1
        elif command in "aic":
            text, i = rest_of_line(i)
            while text.endswith("\\") and i < n:  # a\ continued on the next line
                more, i = rest_of_line(i + 1)
                text += more
        elif command in "bBtTv:":
            while i < n and s[i] not in ";\n}":
                i += 1
        elif command in "rRwW":
            name, i = rest_of_line(i)
            name = name.strip()
            if not name:
                raise Unreadable(f"{command} without a file name")
            (reads if command in "rR" else writes).append(name)
        elif command == "e":
            text, i = rest_of_line(i)
            runs.append(text.strip() or "the pattern space")
        elif command in "sy":
            if i >= n or s[i] in "\n\\":
                raise Unreadable(f"{command} without a delimiter")
            delim = s[i]
            i = delimited(i + 1, delim)
            i = delimited(i, delim)
            if command == "s":
                while i < n and s[i] not in ";\n}#":
                    flag = s[i]
                    if flag == "w":
                        name, i = rest_of_line(i + 1)
                        if not name.strip():
                            raise Unreadable("s///w without a file name")
                        writes.append(name.strip())
                        break
                    if flag == "e":
                        runs.append("the pattern space")
                    elif flag not in "gpiImM0123456789 \t":
                        raise Unreadable(f"unknown s flag {flag!r}")
                    i += 1
        else:
            raise Unreadable(f"unknown command {command!r}")
    return runs, writes, reads


def sed(args: list[Word], eff: Effects) -> None:
    scripts: list[Word] = []
    in_place: str | None = None
    sandboxed = script_file = False
    positionals: list[Word] = []
    i, done = 0, False
    while i < len(args):
        word = args[i]
        text = word.text
        if done or not word.static or not text.startswith("-") or text == "-":
            positionals.append(word)
        elif text == "--":
            done = True
        elif text.startswith("--"):
            name, eq, value = text.partition("=")
            if name == "--expression":
                scripts.append(Word(value) if eq else (args[i + 1] if i + 1 < len(args) else Word("")))
                i += 0 if eq else 1
            elif name == "--file":
                script_file = True
                eff.ask("sed-script-file", "sed -f runs a sed script from a file, which can run commands or "
                                           "write files; show the script inline instead")
                i += 0 if eq else 1
            elif name == "--in-place":
                in_place = value
            elif name == "--line-length" and not eq:
                i += 1
            elif name == "--sandbox":
                sandboxed = True
        else:
            for j, letter in enumerate(text[1:], start=2):
                if letter in "efl":
                    value = text[j:]
                    if not value:
                        value_word = args[i + 1] if i + 1 < len(args) else Word("")
                        i += 1
                    else:
                        value_word = Word(value)
                    if letter == "e":
                        scripts.append(value_word)
                    elif letter == "f":
                        script_file = True
                        eff.ask("sed-script-file", "sed -f runs a sed script from a file, which can run "
                                                   "commands or write files; show the script inline instead")
                    break
                if letter == "i":
                    in_place = text[j:]
                    break
                if letter not in "nErsuzb":
                    break
        i += 1
    if not scripts and not script_file and positionals:
        scripts, positionals = [positionals[0]], positionals[1:]
    eff.not_paths += scripts
    for script in scripts:
        if not script.static:
            eff.ask("sed-script", "the sed script is only known at run time; it could run commands or write files")
            continue
        try:
            runs, writes, reads = sed_script(script.text)
        except Unreadable as exc:
            eff.ask("sed-script", f"this sed script cannot be fully read ({exc}), so it is never allowed")
            continue
        if sandboxed:
            continue  # --sandbox: sed itself refuses e, r and w
        for command in runs:
            eff.ask("sed-exec", f"the sed script runs a command ({command})")
        for name in writes:
            eff.writes.append((Word(name), "the sed script writes"))
        for name in reads:
            eff.reads.append((Word(name), "the sed script reads"))
    if in_place is not None:
        for file in positionals:
            eff.writes.append((file, "sed -i rewrites"))
            if "*" in in_place and file.static:  # a backup name: `-i'bak/*'` puts it elsewhere
                base = file.text.rpartition("/")[2]
                eff.writes.append((Word(in_place.replace("*", base)), "sed -i writes a backup to"))
            elif in_place:
                eff.writes.append((Word(file.text + in_place, file.static), "sed -i writes a backup to"))


HANDLERS = {"sed": sed, "gsed": sed}
