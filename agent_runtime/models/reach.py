"""`agent-runtime models`: the registry as it stands (the models file, or the implicit default), each
role's model, and whether each model can answer now, checked quickly and without sending a key
anywhere it does not belong:

    embedded      the weights are present (or MODEL_GGUF exists); an eval's shared server answers
    an address    a GET of <api_base>/models (Ollama: /api/tags), 2 seconds at most
    replay:FILE   the file exists
    hosted        its key variable is set (the key itself is never shown); not contacted
"""

from __future__ import annotations

import json
import os
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agent_runtime.config import ConfigError, Settings
from agent_runtime.models.catalog import ROLES, ModelEntry
from agent_runtime.models.errors import ModelError
from agent_runtime.models.roles import RoleModel, api_key, catalog_path, load_catalog, model_for_role
from agent_runtime.procs import http_get

PROBE_TIMEOUT = 2.0  # seconds for one reachability GET


def reachability(entry: ModelEntry, settings: Settings) -> tuple[bool | None, str]:
    """(answers: True / False / None when not contacted, a short status). Never raises."""
    try:
        return _reachability(entry, settings)
    except (ConfigError, ModelError) as exc:
        return False, f"unavailable: {exc}"


def _reachability(entry: ModelEntry, settings: Settings) -> tuple[bool | None, str]:
    from agent_runtime.models.constraints import is_ollama

    model_id = entry.id
    if model_id.startswith("replay:"):
        path = Path(model_id.split(":", 1)[1]).expanduser()
        return (True, "replay file exists") if path.is_file() else (False, f"replay file not found: {path}")
    if entry.embedded:
        return _embedded(model_id, settings)
    from agent_runtime.models.litellm_model import check_routable

    check_routable(model_id, entry.api_base)  # raises ModelError: shown as "unavailable: no provider ..."
    key = api_key(entry, settings)
    if is_ollama(model_id):
        from agent_runtime.models.litellm_model import ollama_base

        base = ollama_base(entry.api_base)
        name = model_id.split("/", 1)[1]
        try:
            tags = json.loads(http_get(f"{base}/api/tags", timeout=PROBE_TIMEOUT))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return False, f"not answering at {base} ({_reason(exc)}): start it with `ollama serve`"
        names = {m.get("name") for m in tags.get("models", [])} | {m.get("model") for m in tags.get("models", [])}
        if name not in names and f"{name}:latest" not in names:
            return False, f"Ollama at {base} answers but has no {name}: `ollama pull {name}`"
        return True, f"answers at {base}"
    if entry.api_base:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            http_get(f"{entry.api_base}/models", timeout=PROBE_TIMEOUT, headers=headers)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                hint = f"set {entry.api_key_env}" if entry.api_key_env else "set its key"
                return False, f"{entry.api_base} refused the key (HTTP {exc.code}): {hint}"
            return True, f"answers at {entry.api_base} (HTTP {exc.code} for /models)"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return False, f"not answering at {entry.api_base} ({_reason(exc)})"
        return True, f"answers at {entry.api_base}"
    if entry.api_key_env:
        if os.environ.get(entry.api_key_env, "").strip():
            return None, f"key set ({entry.api_key_env}); hosted: not contacted"
        return False, f"{entry.api_key_env} is not set"
    from agent_runtime.models.litellm_model import missing_key

    missing = missing_key(model_id)
    return (False, f"missing {missing}") if missing else (None, "key set (hosted: not contacted)")


def _embedded(model_id: str, settings: Settings) -> tuple[bool | None, str]:
    from agent_runtime.models import weights
    from agent_runtime.models.registry import SHARED_SERVER_ENV

    shared = os.environ.get(SHARED_SERVER_ENV)
    if shared:
        try:
            http_get(f"{shared.rstrip('/')}/models", timeout=PROBE_TIMEOUT)
            return True, f"the shared embedded server answers at {shared}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return False, f"the shared embedded server at {shared} is not answering ({_reason(exc)})"
    from agent_runtime.models.embedded import embedded_installed

    if not embedded_installed():
        from agent_runtime.models.install import embedded_command

        return False, f"llama-cpp-python is not installed (the plain install): `{embedded_command()}` adds it"
    if settings.model_gguf:
        gguf = Path(settings.model_gguf)
        return (True, f"MODEL_GGUF {gguf.name} present; starts with each session") if gguf.is_file() else \
            (False, f"MODEL_GGUF not found: {gguf}")
    key = model_id.partition(":")[2] or None
    item, note = weights.choose(key)
    if weights._verified(weights.cache_dir() / item.filename, item):
        state = "weights present (verified)"
    else:
        state = "weights installed (assembled and checked on first use)"
    return True, f"{item.label}: {state}; starts with each session" + (f" ({note})" if note else "")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    return str(reason).replace("[Errno 111] ", "")


def _details(entry: ModelEntry, settings: Settings) -> dict[str, Any]:
    from agent_runtime.models.constraints import choose_constraint, context_window

    model_id = None if entry.embedded else entry.id
    if entry.id.startswith("replay:"):
        constraint = "none"
    else:
        try:
            constraint = choose_constraint(settings.grammar, model_id, entry.api_base).kind
        except ConfigError as exc:
            constraint = f"invalid: {exc}"
    window = entry.context_window or context_window(settings, None if entry.id.startswith("replay:") else model_id,
                                                    entry.api_base)
    return {"window": window, "constraint": constraint}


def _coaching(entry: ModelEntry, settings: Settings) -> dict[str, Any]:
    """The coaching rules the agent runs this model with: its profile, where they were set, the rules on."""
    from agent_runtime.models.profiles import CoachingError, coaching_for

    try:
        coaching = coaching_for(entry.id, entry.rules, settings.agent_coaching)
    except CoachingError as exc:
        return {"profile": None, "source": "AGENT_COACHING", "rules": [], "error": str(exc)}
    return {"profile": coaching.profile, "source": coaching.source, "rules": coaching.names}


def report(settings: Settings) -> dict[str, Any]:
    """The registry: the file, each role's model, every model (the file's and those the roles name)
    with its reachability, the routes and the profiles."""
    catalog = load_catalog(settings)
    path = catalog_path(settings)
    roles: dict[str, RoleModel | None] = {role: model_for_role(settings, role, catalog=catalog) for role in ROLES}
    if roles["judge"] is None:
        from dataclasses import replace

        default = model_for_role(replace(settings, judge_model="embedded:0.5b"), "judge", catalog=catalog)
        roles["judge"] = replace(default, source="default (used with --approval judge)") if default else None
    entries: dict[str, ModelEntry] = dict(catalog.models)
    for chosen in roles.values():
        for entry in (chosen.entry, *chosen.fallbacks) if chosen else ():
            entries.setdefault(entry.name, entry)
    with ThreadPoolExecutor(max_workers=min(8, len(entries) or 1)) as pool:
        reached = dict(zip(entries, pool.map(lambda e: reachability(e, settings), entries.values())))
    models = []
    for name, entry in entries.items():
        answers, status = reached[name]
        models.append({
            "name": name, "id": entry.id, "in_file": name in catalog.models,
            "roles": [role for role, chosen in roles.items() if chosen and chosen.entry.name == name],
            "fallback_of": [role for role, chosen in roles.items()
                            if chosen and name in (f.name for f in chosen.fallbacks)],
            "api_base": entry.api_base, "api_key_env": entry.api_key_env,
            "capabilities": list(entry.capabilities),
            "cost": None if entry.cost_input is None and entry.cost_output is None else
            {"input": entry.cost_input, "output": entry.cost_output},
            "concurrency": entry.concurrency, "fallbacks": list(entry.fallbacks),
            **_details(entry, settings), "reachable": answers, "status": status, "coaching": _coaching(entry, settings),
        })
    return {
        "file": {"path": str(path), "exists": catalog.source is not None},
        "roles": {role: chosen.as_dict() if chosen else None for role, chosen in roles.items()},
        "models": models,
        "routes": [{"role": r.role, "kind": list(r.kinds), "min_tokens": r.min_tokens, "max_tokens": r.max_tokens,
                    "model": r.model, "where": r.where} for r in catalog.routes],
        "profiles": catalog.profiles,
    }


def report_lines(found: dict[str, Any]) -> list[str]:
    """The report as text, for a terminal."""
    file = found["file"]
    lines = [f"models file: {file['path']}" + ("" if file["exists"] else
                                                " (none: the settings' models, as below; MODELS_FILE names another)")]
    lines.append("roles:")
    for role, chosen in found["roles"].items():
        if chosen is None:
            lines.append(f"  {role:<8} (none)")
            continue
        shown = chosen["model"] if chosen["model"] == chosen["id"] else f"{chosen['model']} ({chosen['id']})"
        behind = f"; fallbacks: {', '.join(chosen['fallbacks'])}" if chosen["fallbacks"] else ""
        lines.append(f"  {role:<8} {shown}  [{chosen['source']}{behind}]")
    lines.append("models:")
    width = max((len(m["name"]) for m in found["models"]), default=0)
    for model in found["models"]:
        plays = model["roles"] + [f"fallback of {r}" for r in model["fallback_of"]]
        at = f" at {model['api_base']}" if model["api_base"] else ""
        head = model["id"] if model["id"] != model["name"] else ""
        lines.append(f"  {model['name']:<{width}}  {head}{at}" + (f"  ({', '.join(plays)})" if plays else ""))
        mark = {True: "ok", False: "NOT REACHABLE", None: "not contacted"}[model["reachable"]]
        facts = [f"window {model['window']:,}", f"constraint {model['constraint']}", f"{mark}: {model['status']}"]
        lines.append(f"  {'':<{width}}  " + " · ".join(facts))
        coaching = model["coaching"]
        rules = coaching.get("error") or ", ".join(coaching["rules"]) or "none (the plain core)"
        lines.append(f"  {'':<{width}}  coaching {coaching['profile'] or '?'} ({coaching['source']}): {rules}")
        more = []
        if model["fallbacks"]:
            more.append(f"fallbacks {', '.join(model['fallbacks'])}")
        if model["api_key_env"]:
            more.append(f"key from {model['api_key_env']}")
        if model["capabilities"]:
            more.append(f"capabilities {', '.join(model['capabilities'])}")
        if model["cost"]:
            more.append(f"${model['cost']['input'] or 0:g} in / ${model['cost']['output'] or 0:g} out per M tokens")
        if model["in_file"] and model["concurrency"] != 1:
            more.append(f"concurrency {model['concurrency']}")
        if more:
            lines.append(f"  {'':<{width}}  " + " · ".join(more))
    if found["routes"]:
        lines.append("routes (a single task's coder, by its kind and size, unless --model or MODEL_ID names one):")
        for index, route in enumerate(found["routes"], 1):
            kinds = ", ".join(route["kind"]) or "any kind"
            low, high = route["min_tokens"], route["max_tokens"]
            size = "" if low is None and high is None else f", ~{low or 0}-{'' if high is None else high} tokens"
            lines.append(f"  {index}. {route['role']}: {kinds}{size} -> {route['model']}  ({route['where']})")
    if found["profiles"]:
        lines.append("profiles (--model NAME):")
        for name, chosen in found["profiles"].items():
            lines.append(f"  {name}: " + ", ".join(f"{role}={ref}" for role, ref in chosen.items()))
    return lines
