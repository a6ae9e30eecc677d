"""What a shell command is made of, once parsed: words, redirections, simple commands.

The parser (commandline.py) makes these; what each program does with its words (programs/)
and the policy (policy/) read them. Kept apart so that both can use them without importing
the parser, which uses the program knowledge in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    text: str
    static: bool = True  # False: contains an expansion or substitution
    glob: bool = False  # has unquoted * ? [ or {a,b}: the shell expands it to file names


DYNAMIC = Word("<dynamic>", static=False)


@dataclass
class Redirect:
    op: str
    target: Word


@dataclass
class SimpleCommand:
    argv: list[Word]
    assignments: list[tuple[str, Word]] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    via: str = ""  # how it is reached: "", "sudo", "bash -c", "find -exec", "$(...)", ...
    fed_by: set[str] = field(default_factory=set)  # programs whose output it reads (pipes, substitutions)
    opaque_code: str | None = None  # code handed to an interpreter that cannot be judged, and how
    transparent: bool = False  # a wrapper or a shell whose script was read: only what it runs is judged
    variables: list[str] = field(default_factory=list)  # shell variables it sets (x=1, export, read, for)
    chdir: Word | None = None  # the directory it runs in, when a wrapper moves it (env -C DIR)
    input_script: bool = False  # its input is the shell script it runs (`bash`, `. /dev/stdin`)
    through: str = ""  # the launcher or shell escape that runs it (`script -c`, `sqlite3 .shell`)
    subshell: bool = False  # runs in a subshell: `( ... )`, a pipeline's stage, `... &` (a cd there moves no one else)

    @property
    def program(self) -> str | None:
        return self.argv[0].text if self.argv and self.argv[0].static else None

    def texts(self) -> list[str]:
        if not self.argv:  # a bare assignment (`x=1`)
            return [f"{name}={value.text}" for name, value in self.assignments] or [f"{v}=..." for v in self.variables]
        return [w.text for w in self.argv]


@dataclass
class Parsed:
    commands: list[SimpleCommand]
    problems: list[str]
