"""`--json` lines checked as a consumer would: against the shipped schema (docs/events.schema.json),
with jsonschema, not against the types it was generated from."""

from __future__ import annotations

import json
from datetime import datetime

from conftest import ROOT
from jsonschema import Draft202012Validator

SCHEMA = json.loads((ROOT / "docs" / "events.schema.json").read_text())
WHOLE = Draft202012Validator(SCHEMA)
# type -> the schema of that event alone: a wrong line then says which field is wrong, not just "no oneOf matched"
BY_TYPE = {d["properties"]["type"]["const"]: Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": SCHEMA["$defs"]})
           for name, d in SCHEMA["$defs"].items() if "type" in d.get("properties", {})}


def problems(event: dict) -> list[str]:
    """What is wrong with one event line (nothing: it is valid)."""
    kind = event.get("type")
    if kind not in BY_TYPE:
        return [f"unknown event type {kind!r}"]
    found = [f"{kind}.{'.'.join(map(str, e.absolute_path)) or '(line)'}: {e.message}"
             for e in BY_TYPE[kind].iter_errors(event)]
    if not found and not WHOLE.is_valid(event):
        found.append(f"{kind}: valid alone but not as one of the schema's events")
    try:  # jsonschema checks `format` only with an extra package: the time is checked here
        if datetime.fromisoformat(event["time"]).utcoffset() is None:
            found.append(f"{kind}.time has no UTC offset")
    except (KeyError, TypeError, ValueError):
        found.append(f"{kind}.time is not an ISO 8601 time")
    return found
