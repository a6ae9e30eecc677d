"""What the sandbox contains: which `ask`s it makes safe to run without asking.

Commands run inside bubblewrap (safety/sandbox.py): no network, nothing writable outside the
workspace but a private /tmp, the workspace's configuration (.git, .env*, ...) read-only,
secrets hidden, no capabilities, other processes out of reach. Each reason the policy asks
for is one of three kinds:

  contained  the sandbox contains its whole effect: a program no rule knows, a script or a
             build of the workspace, inline code that neither runs programs nor changes files.
             Allowed when commands run in the sandbox; asked, as before, when they do not.
  review     the sandbox would contain it, but it is a change to the workspace that the command
             declares (rm, mkdir, cp, sed -i, a redirection): a person sees it first, as a patch
             (checkpoints let `agent-runtime undo` put it back after, as for any command).
             A person decides, or the judge (`--approval judge`, safety/judge.py) when commands
             run in the sandbox.
  escapes    what it does leaves the sandbox or cannot happen in it (the network, .git, a
             package install, other processes), or it runs code the policy cannot read, or it
             writes through an option of a program that reads, or its output can carry what
             the sandbox does not hide (a read outside the workspace or only known at run
             time, git's history). Only a person decides.

Rules say their kind in policy.toml (`sandbox = "contained"` / `"review"`; without it, escapes);
the floors' kinds are below. Deny stays deny in every case.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTAINED, REVIEW, ESCAPES = "contained", "review", "escapes"
KINDS = (CONTAINED, REVIEW, ESCAPES)
RULE_KINDS = (CONTAINED, REVIEW)  # what a rule may say; a rule that says nothing escapes
# Decision.sandbox when commands run without the sandbox and it would have allowed the command.
UNAVAILABLE = "unavailable"

# The floors (policy/floors.py) and the program checks (programs/): what kind of ask each is. An
# id not listed escapes (a person decides).
FLOOR_KINDS: dict[str, str] = {
    # inline code: contained when it neither runs programs nor changes files (floors.py decides per command)
    "fd-exec": CONTAINED,  # what fd runs is judged as a command of its own
    # a change the command declares ("write" is one only from a program that changes files: floors.py)
    "write": REVIEW, "redirect-write": REVIEW,
}
# Why an ask that escapes is asked even in the sandbox, by rule or floor id (the reason shown says it).
ESCAPES_BECAUSE: dict[str, str] = {
    "network": "the sandbox has no network", "git-fetch": "the sandbox has no network",
    "git-push": "the sandbox has no network", "git-force-push": "the sandbox has no network",
    "git-credential-helpers": "it reaches stored credentials or the network",
    "package-install": "installing needs the network, which the sandbox does not have",
    "python-pip-module": "installing needs the network, which the sandbox does not have",
    "package-download": "the sandbox has no network", "package-run": "the sandbox has no network",
    "package-run-npx": "the sandbox has no network", "package-run-tools": "the sandbox has no network",
    "package-run-pipx": "the sandbox has no network",
    "git-rewrite": ".git is read-only in the sandbox, and what it discards is not recoverable",
    "git-reflog-expire": ".git is read-only in the sandbox, and what it deletes is not recoverable",
    "git-drop-refs": ".git is read-only in the sandbox", "git-drop-stash": ".git is read-only in the sandbox",
    "git-commit": ".git is read-only in the sandbox", "git-stage": ".git is read-only in the sandbox",
    "git-new-branch": ".git is read-only in the sandbox", "git-remote-change": ".git is read-only in the sandbox",
    "processes": "other processes are out of the sandbox's reach",
    "system-clock": "the machine's settings are out of the sandbox's reach",
    "system-name": "the machine's settings are out of the sandbox's reach",
    "git-remote-urls": "its output leaves the sandbox and can carry a token",
    "git-config-list": "its output leaves the sandbox and can carry a token",
    "git-credentials": "its output leaves the sandbox and can carry a token",
    "git-history": "its output leaves the sandbox and can carry a secret",
    "git-history-all": "its output leaves the sandbox and can carry a secret",
    "git-stash-patch": "its output leaves the sandbox and can carry a secret",
    "git-grep-untracked": "its output leaves the sandbox and can carry a secret",
    "process-environment": "its output leaves the sandbox and can carry a secret",
    "secret-listing": "its output leaves the sandbox and names what is kept secret",
    "instructions": "later sessions outside the sandbox follow AGENTS.md",
    "obeyed-file": "other programs outside the sandbox run or obey it when the folder is opened",
    "package-scripts": "npm runs package.json's scripts outside the sandbox too (npm install on your machine)",
    "package-scripts-pkg": "npm runs package.json's scripts outside the sandbox too (npm install on your machine)",
    "write": "it writes through an option of a program that otherwise only reads",
    "write-dynamic": "where it writes is only known at run time", "redirect": "where it writes is only known at run time",
    "outside-workspace": "its output leaves the sandbox, which hides only the secrets it knows of",
    "dynamic-argument": "what it reads is only known at run time, and its output leaves the sandbox",
    "dynamic-directory": "what it reads is only known at run time, and its output leaves the sandbox",
    "tree-writes": "it writes through an option of a program that otherwise only reads",
    "awk-writes": "it writes through an option of a program that otherwise only reads",
    "file-compile": "it writes through an option of a program that otherwise only reads",
    "network-redirect": "the sandbox has no network",
}
# Why a review is looked at although the sandbox would contain it.
# True of every review: the change is the command's declared purpose. Not "the sandbox does not undo
# it": checkpoints (patches/checkpoint.py) let `agent-runtime undo` put a command's changes back.
REVIEW_BECAUSE = ("it changes the workspace directly, as the command itself says: a person sees such a change "
                  "first, as a patch (`agent-runtime undo` can put it back after)")
CODE_BECAUSE = "it runs code the policy cannot read, which a person looks at"
for _rule in ("interpreter-code", "dynamic-program", "parse", "env-assignment", "sed-script-file", "sed-script",
              "sed-exec", "awk-program-file", "awk-program", "awk-exec", "awk-option", "awk-reads", "program-option",
              "pager-commands", "make-code", "runner-config", "pytest-options", "alias", "shell-options",
              "git-writes-output", "git-alias", "runs-command"):
    ESCAPES_BECAUSE[_rule] = CODE_BECAUSE
OTHERWISE = "the sandbox does not settle what it does"


def worst(a: str | None, b: str | None) -> str:
    """The stricter kind; an ask that says none escapes."""
    a, b = a or ESCAPES, b or ESCAPES
    return a if KINDS.index(a) >= KINDS.index(b) else b


def floor_kind(rule: str | None) -> str:
    return FLOOR_KINDS.get(rule or "", ESCAPES)


def escapes_because(rule: str | None) -> str:
    return ESCAPES_BECAUSE.get(rule or "", OTHERWISE)


@dataclass(frozen=True)
class SandboxState:
    """Whether the commands the policy judges run in the sandbox, and if not, why (shown in reasons).
    The policy knows only what it is told (tools/runtime.py, `policy check`); told nothing, it
    judges as if there were no sandbox, without saying so."""

    contains: bool
    note: str = ""


CONTAINED_BECAUSE = ("runs in the sandbox, which contains it (no network, nothing writable outside the workspace "
                     "but /tmp, configuration read-only, secrets hidden; what it changes in the workspace, "
                     "`agent-runtime undo` can put back)")


def contained_reason(asked: str) -> str:
    return f"{CONTAINED_BECAUSE}; without the sandbox it would ask: {asked}"


def unavailable_reason(reason: str, note: str) -> str:
    return (f"{reason} (asked because commands run without the sandbox here: {note}; in the sandbox it would run "
            "without asking)")


def in_sandbox_reason(reason: str, kind: str, rule: str | None) -> str:
    """The reason an ask gives when commands run in the sandbox: what it is that the sandbox does not settle."""
    if kind == REVIEW:
        return f"{reason} (the sandbox would contain it, but {REVIEW_BECAUSE})"
    return f"{reason} (asked in the sandbox too: {escapes_because(rule)})"
