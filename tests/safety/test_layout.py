"""The safety layer's shape (issue 24): each program described once, in the module of its kind;
no module over 600 lines; the public import paths the rest of the project uses still work."""

from __future__ import annotations

from pathlib import Path

from agent_runtime.safety import commandline, programs
from agent_runtime.safety.programs import wrappers

SAFETY = Path(__file__).parents[2] / "agent_runtime" / "safety"


def test_each_program_is_described_by_one_module():
    seen: dict[str, str] = {}
    twice = []
    for module in programs.MODULES:
        for name in module.HANDLERS:
            if name in seen:
                twice.append(f"{name}: {seen[name]} and {module.__name__}")
            seen[name] = module.__name__
    assert twice == []
    assert set(programs.HANDLERS) == set(seen)
    # What a wrapper runs and what its own options do are described together: none of them is also
    # an effects handler elsewhere.
    assert all(seen.get(name, wrappers.__name__) == wrappers.__name__ for name in wrappers.WRAPPERS)


def test_no_safety_module_is_over_600_lines():
    long = {str(p.relative_to(SAFETY)): n for p in SAFETY.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert long == {}


def test_xargs_options_are_read_once_for_what_it_runs_and_what_it_reads():
    """One option table: `-0a FILE` (a cluster) reads FILE and runs what follows, `-I {}` replaces."""
    cmds = commandline.parse("xargs -0a names.txt wc -l").commands
    assert [c.program for c in cmds] == ["xargs", "wc"]
    assert [w.text for w, _ in programs.effects(cmds[0]).reads] == ["names.txt"]
    cmds = commandline.parse("xargs -0 -I {} cp {} backup/").commands
    assert cmds[1].program == "cp" and not cmds[1].argv[1].static  # {} is what xargs reads at run time
    cmds = commandline.parse("xargs --arg-file=list.txt -n1 echo").commands
    assert cmds[1].program == "echo"
    assert [w.text for w, _ in programs.effects(cmds[0]).reads] == ["list.txt"]


def test_the_public_import_paths_still_work():
    from agent_runtime.safety.commandline import DYNAMIC, Parsed, Redirect, SimpleCommand, Word, parse  # noqa: F401
    from agent_runtime.safety.policy import (  # noqa: F401
        PINNED_FLOORS,
        USER_LOWERABLE,
        Place,
        Policy,
        PolicyError,
        Verdict,
        glob_match,
    )
    from agent_runtime.safety.programs import Effects, HistoryRead, Unreadable, awk_program, effects, scan, sed_script  # noqa: F401
    from agent_runtime.safety.sandbox import PID_RESERVED, Limits, Sandbox, isolation  # noqa: F401
