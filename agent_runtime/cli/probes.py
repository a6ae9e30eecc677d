"""`agent-runtime doctor`'s probes: whether the sandbox and search work here, found by doing each
once the way the tools do (a finding of a path says nothing of whether bwrap can make a namespace).

    sandbox  `echo` through safety/sandbox.py Sandbox.run, the entry run_cmd and run_tests use, in a
             scratch workspace: it must print its word from inside bubblewrap
    search   ripgrep as tools/rg.py runs it (the same binary and base command) over a scratch folder
             holding one planted line: it must find it
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

PROBE_TIMEOUT_S = 30.0
WORD = "agent-runtime-probe"
INSTALL_BWRAP = "install bubblewrap (apt-get install bubblewrap; Fedora: dnf install bubblewrap)"
USERNS = ("check that user namespaces are allowed (sysctl kernel.unprivileged_userns_clone=1; Ubuntu 24.04: "
          "kernel.apparmor_restrict_unprivileged_userns=0), or run in a container that allows them")


def _scratch() -> tempfile.TemporaryDirectory:
    # Under the home, not /tmp: the sandbox gives commands a private /tmp of their own.
    home = Path.home()
    return tempfile.TemporaryDirectory(prefix=".agent-runtime-doctor-", dir=home if home.is_dir() else None)


def sandbox_probe() -> dict[str, Any]:
    """{"works": bool, "detail": one line}; never raises."""
    from agent_runtime.safety.sandbox import Sandbox

    try:
        with _scratch() as folder:
            sandbox = Sandbox(Path(folder))
            found = sandbox.isolation
            if found.bwrap is None:
                why = found.note or "bubblewrap (bwrap) is not on PATH"
                todo = (f"; {USERNS}" if "cannot run here" in why else "" if "apt-get install" in why
                        else f": {INSTALL_BWRAP}")
                return {"works": False, "detail": f"not available ({why}{todo}); commands run without an OS "
                                                  "sandbox, so the policy asks about more of them"}
            started = time.monotonic()
            ran = sandbox.run(f"echo {WORD}", timeout=PROBE_TIMEOUT_S)
            seconds = time.monotonic() - started
    except Exception as exc:  # noqa: BLE001 - a probe reports what broke; doctor goes on
        return {"works": False, "detail": f"the probe failed: {type(exc).__name__}: {exc}"}
    if ran.exit_code == 0 and ran.stdout.strip() == WORD and ran.sandbox == "bwrap":
        extra = f"; {found.note}" if found.note else ""
        return {"works": True, "detail": f"works (bwrap {found.bwrap}: `echo` ran in it in {seconds:.1f} s{extra})"}
    said = (ran.stderr.strip().splitlines() or [f"exit code {ran.exit_code}"])[-1][:200]
    if ran.timed_out:
        said = f"no answer in {PROBE_TIMEOUT_S:.0f} s"
    return {"works": False, "detail": f"FAILED: `echo` through bwrap {found.bwrap} did not run ({said}); {USERNS}"}


def search_probe() -> dict[str, Any]:
    """{"works": bool, "detail": one line}; never raises."""
    from agent_runtime.core import ToolError
    from agent_runtime.tools.rg import base_command, run_rg

    try:
        command = base_command(())
    except ToolError as exc:
        return {"works": False, "detail": f"not available: {exc.error} "
                                          "(apt-get install ripgrep; macOS: brew install ripgrep): "
                                          "rg_search, list_files and the code tools do not work"}
    try:
        with _scratch() as folder:
            Path(folder, "probe.txt").write_text(f"x\n{WORD}\n")
            started = time.monotonic()
            lines, _, err, code = run_rg(command + ["-n", WORD, "."], Path(folder), limit=5)
            seconds = time.monotonic() - started
    except Exception as exc:  # noqa: BLE001
        return {"works": False, "detail": f"the probe failed: {type(exc).__name__}: {exc}"}
    if code == 0 and any(WORD in line for line in lines):
        return {"works": True, "detail": f"works (ripgrep {command[0]} found a planted line in {seconds:.1f} s)"}
    said = (err.strip().splitlines() or [f"exit code {code}"])[-1][:200]
    return {"works": False, "detail": f"FAILED: ripgrep {command[0]} did not find a planted line ({said}); "
                                      "reinstall it (apt-get install --reinstall ripgrep)"}
