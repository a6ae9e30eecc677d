"""`agent-runtime doctor`: what this machine has for the agent — which install this is (plain, or
with the embedded model's llama-cpp-python), the llama.cpp build's CPU features, the embedded models and whether their weights are installed, and whether the sandbox
and search work (each tried once, cli/probes.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agent_runtime.config import Settings
from agent_runtime.procs import host_program


def facts(settings: Settings, models_only: bool = False) -> dict[str, Any]:
    from agent_runtime.models import weights
    from agent_runtime.models.embedded import cpu_features, embedded_installed, install_route

    out: dict[str, Any] = {"install": install_route(), "models": []}
    for key, item in weights.CATALOG.items():
        cached = weights.cache_dir() / item.filename
        state = ("verified in the cache" if weights._verified(cached, item)
                 else "parts installed (assembled and checked on first use)" if weights.part_files(item) is not None
                 else f"not installed ({item.install})")
        out["models"].append({"model": f"embedded:{key}", "label": item.label, "default": key == weights.DEFAULT_KEY,
                              "weights": state})
    if settings.model_gguf:
        out["models"].append({"model": "MODEL_GGUF", "label": str(settings.model_gguf),
                              "weights": "file exists" if Path(settings.model_gguf).is_file() else "missing"})
    if models_only:
        return out
    out["llama_cpp_build"] = cpu_features() if embedded_installed() else "none (the plain install)"
    out["bubblewrap"] = host_program("bwrap") or "missing (apt-get install bubblewrap): commands run without an OS sandbox"
    out["ripgrep"] = host_program("rg") or "missing (apt-get install ripgrep): search tools do not work"
    from agent_runtime.cli.probes import sandbox_probe, search_probe

    out["sandbox"], out["search"] = sandbox_probe(), search_probe()  # a path found is not a tool that works
    from agent_runtime.gitcmd import containment

    way = containment()
    out["git_door"] = {"contained": way.bwrap is not None,
                       "detail": "contained (the agent's git runs in bubblewrap, shown only the work tree)"
                       if way.bwrap else f"on the host: {way.note}"}
    return out


def cmd_doctor(argv: list[str], settings: Settings, repo: Path) -> int:
    parser = argparse.ArgumentParser(prog="agent-runtime doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--models-only", action="store_true", help="only the embedded models")
    args = parser.parse_args(argv)
    found = facts(settings, args.models_only)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(f"install: {found['install']}")
    for row in found["models"]:
        mark = " (default)" if row.get("default") else ""
        print(f"{row['model']:<22} {row['label']}{mark}: {row['weights']}")
    if "llama_cpp_build" in found:
        print(f"llama cpp build: {found['llama_cpp_build']}")
    for key in ("sandbox", "search", "git_door"):
        if key in found:
            print(f"{key.replace('_', ' ')}: {found[key]['detail']}")
    return 0
