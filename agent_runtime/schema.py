"""One error shape for the files users write, and pydantic's errors rendered in it.

    policy.toml:12, rules[3].decision: expected one of allow, ask, deny; found "alow"

file (and the line of the key, where the format can give it), the key path, what was expected,
what was found: one line, no traceback. Each format's model sits beside its loader; this module
holds what they share and imports nothing of the product (loaders import it, never the reverse).
"""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Annotated, Any, Sequence

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

# Strict: a TOML "false" is not the boolean false, 1 is not true. Unknown keys refused: a misspelt
# key would otherwise be silently ignored (a model whose format keeps extras overrides `extra`).
STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)

Loc = Sequence[str | int]


class Wrong(ValueError):
    """Raised in a model's validator: what was expected, (if not the value itself) what was found, and
    (from a whole table's validator) which of its keys is wrong."""

    def __init__(self, expected: str, found: str | None = None, key: str | None = None):
        super().__init__(expected)
        self.expected = expected
        self.found = found
        self.key = key


def _non_blank(value: str) -> str:
    if not value.strip():
        raise Wrong("a non-empty string")
    return value


# A string with something in it besides spaces.
Text = Annotated[str, AfterValidator(_non_blank)]


def key_path(loc: Loc) -> str:
    """('rules', 3, 'decision') -> rules[3].decision"""
    out = ""
    for part in loc:
        if part == "[key]":
            continue  # pydantic's mark of a dict key that is wrong: the path already ends with the key
        name = str(part) if re.fullmatch(r"[A-Za-z0-9_-]+", str(part)) else _quote(str(part))
        out += f"[{part}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out


def shown(value: Any) -> str:
    """A value as found in the file: JSON-like, short; a table by its keys."""
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:6])
        return f"a table ({keys})" if keys else "an empty table"
    if isinstance(value, list):
        text = "[" + ", ".join(shown(v) for v in value) + "]"
    elif isinstance(value, str):
        text = _quote(value)
    else:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _quote(text: str) -> str:
    """A string in double quotes, on one line. Other control characters are left as they are: the
    terminal's writer shows them visibly (ESC as ^[), as it does the rest of a message."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def message(file: str, path: str, expected: str, found: str, line: int | None = None) -> str:
    place = f"{file}:{line}" if line else file
    return f"{place}, {path}: expected {expected}; found {found}" if path else f"{place}: expected {expected}; found {found}"


_TYPES = {
    "string_type": "a string", "int_type": "a whole number", "float_type": "a number", "bool_type": "true or false",
    "list_type": "a list", "tuple_type": "a list", "dict_type": "a table", "model_type": "a table",
    "model_attributes_type": "a table", "int_from_float": "a whole number", "none_required": "nothing (null)",
}
_BOUNDS = {"greater_than": "above", "greater_than_equal": "at least", "less_than": "below",
           "less_than_equal": "at most"}


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model of the table at `loc`, walking the model's fields (lists, dicts, optionals)."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = _field(annotation, part)
            if field is None:
                return None
            annotation = field.annotation
        else:
            args = typing.get_args(annotation)
            annotation = args[-1] if args else None  # list[X] / dict[str, X]: X
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _field(model: type[BaseModel], key: str | int) -> Any:
    """A model's field by its name or its alias (what the file calls it)."""
    return model.model_fields.get(str(key)) or next((f for f in model.model_fields.values() if f.alias == key), None)


def _range(model: type[BaseModel], loc: tuple[str | int, ...], kind: str, ctx: dict[str, Any]) -> str | None:
    """What a bounded number accepts, both ends when the field has both: "a whole number from 1 to 256"
    (None: the field has no bounds)."""
    owner = _model_at(model, loc[:-1]) if loc and isinstance(loc[-1], str) else None
    field = _field(owner, loc[-1]) if owner else None
    bounds: dict[str, Any] = dict(ctx)
    whole = False
    if field is not None:
        annotation = _unwrap(field.annotation)
        whole = annotation is int
        for constraint in [*field.metadata, *_metadata(field.annotation)]:
            bounds.update({k: getattr(constraint, k) for k in ("gt", "ge", "lt", "le") if hasattr(constraint, k)})
    number = "a whole number" if whole else "a number"
    words = {k: f"{v:g}" if isinstance(v, float) else str(v) for k, v in bounds.items()}
    if "ge" in words and "le" in words:
        return f"{number} from {words['ge']} to {words['le']}"
    parts = [f"{_BOUNDS[f'{name}']} {words[key]}" for key, name in (
        ("gt", "greater_than"), ("ge", "greater_than_equal"), ("lt", "less_than"), ("le", "less_than_equal"))
        if key in words]
    return f"{number} {' and '.join(parts)}" if parts else None


def _metadata(annotation: Any) -> list[Any]:
    """The constraints inside Annotated[...] (under an optional)."""
    found: list[Any] = []
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Annotated:
            found += [m for a in typing.get_args(arg)[1:] for m in getattr(a, "metadata", [a])]
    return found


def _unwrap(annotation: Any) -> Any:
    """X | None -> X; Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def describe(error: Any, model: type[BaseModel], table: str = "a table") -> tuple[tuple[str | int, ...], str, str]:
    """One pydantic error as (key path, expected, found); `table`: what the format calls a mapping."""
    loc, expected, found = _describe(error, model, table)
    if expected in ("a whole number", "a number"):  # not a number at all: say the range it must be in too
        expected = _range(model, loc, error["type"], {}) or expected
    return loc, expected, found


def _describe(error: Any, model: type[BaseModel], table: str) -> tuple[tuple[str | int, ...], str, str]:
    loc = tuple(error["loc"])
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "value_error" and isinstance(ctx.get("error"), Wrong):
        wrong = ctx["error"]
        loc = (*loc, wrong.key) if wrong.key else loc
        return loc, wrong.expected, wrong.found if wrong.found is not None else shown(value)
    if kind == "missing":
        return loc, "this key (it is required)", "none"
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        if owner is None:
            return loc, "no such key", f"unknown key {shown(loc[-1])}"
        known = ", ".join(f.alias or name for name, f in owner.model_fields.items())
        hint = getattr(owner, "unknown_key_hint", "")  # a model may say where such a key belongs
        return loc, f"one of the keys {known}" + (f" ({hint})" if hint else ""), f"unknown key {shown(loc[-1])}"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return loc, f"one of {', '.join(options)}", shown(value)
    if kind in _TYPES:
        return loc, table if _TYPES[kind] == "a table" else _TYPES[kind], shown(value)
    if kind in _BOUNDS:
        return loc, _range(model, loc, kind, ctx) or f"a number {_BOUNDS[kind]} {next(iter(ctx.values()), '')}", \
            shown(value)
    if kind in ("too_short", "string_too_short"):
        least = ctx.get("min_length", 1)
        what = "characters" if kind == "string_too_short" else "items"
        return loc, ("a non-empty string" if kind == "string_too_short" and least == 1 else
                     "a non-empty list" if least == 1 else f"at least {least} {what}"), shown(value)
    if kind in ("too_long", "string_too_long"):
        return loc, f"at most {ctx.get('max_length')} {'characters' if kind == 'string_too_long' else 'items'}", shown(value)
    if kind == "string_pattern_mismatch":
        return loc, f"text matching {ctx.get('pattern')}", shown(value)
    text = str(error.get("msg", kind)).removeprefix("Value error, ")
    return loc, text[0].lower() + text[1:] if text else kind, shown(value)


def first_error(exc: ValidationError, model: type[BaseModel], table: str = "a table") -> tuple[tuple[str | int, ...], str, str]:
    """The error to report: the first (one line to the user; fixing it shows the next)."""
    return describe(exc.errors(include_url=False)[0], model, table)


def fail(error: type[Exception], file: str, loc: Loc, expected: str, found: str,
         lines: "KeyLines | None" = None) -> Exception:
    """A check the model cannot make (names across tables, the file system), in the same shape."""
    return error(message(file, key_path(loc), expected, found, lines.line(loc) if lines else None))


def validate(model: type[BaseModel], raw: Any, file: str, error: type[Exception] = ValueError,
             lines: "KeyLines | None" = None, prefix: Loc = (), table: str = "a table") -> Any:
    """`raw` checked against `model`; else `error` (the loader's own class) with one line in the shape above."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        loc, expected, found = first_error(exc, model, table)
        full = (*prefix, *loc)
        raise error(message(file, key_path(full), expected, found, lines.line(full) if lines else None)) from None


def read_toml(text: str, file: str, error: type[Exception] = ValueError) -> tuple[dict[str, Any], "KeyLines"]:
    """A TOML text and the lines of its keys; a syntax error in the shape above, with its line."""
    import tomllib

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        said = str(exc)
        at = re.search(r"at line (\d+)", said)
        found = re.sub(r"\s*\(at line \d+, column \d+\)", "", said) or said
        raise error(message(file, "", "valid TOML", found[0].lower() + found[1:], int(at.group(1)) if at else None)) from None
    return raw, KeyLines(text)


class KeyLines:
    """The line of each key of a TOML text (tomllib gives values, not places): [table], [[array]]
    (counted), key = ..., dotted keys. Best effort: a key it cannot place gets its table's line."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
    _KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")

    def __init__(self, text: str):
        self.places: dict[tuple[str | int, ...], int] = {}
        counts: dict[tuple[str | int, ...], int] = {}
        table: tuple[str | int, ...] = ()
        multiline = False
        for number, line in enumerate(text.splitlines(), 1):
            if multiline:
                multiline = (line.count('"""') + line.count("'''")) % 2 == 0
                continue
            header = self._HEADER.match(line)
            if header:
                names = tuple(_parts(header.group(2)))
                parent = self._resolve(names[:-1], counts)
                if header.group(1) == "[[":
                    index = counts.get((*parent, names[-1]), -1) + 1
                    counts[(*parent, names[-1])] = index
                    table = (*parent, names[-1], index)
                else:
                    table = (*parent, names[-1])
                for end in range(1, len(table) + 1):  # [a.b] defines a too, where it was not before
                    self.places.setdefault(table[:end], number)
                continue
            key = self._KEY.match(line)
            if key:
                self.places.setdefault((*table, *_parts(key.group(1))), number)
                multiline = (line.count('"""') + line.count("'''")) % 2 == 1

    @staticmethod
    def _resolve(names: tuple[str, ...], counts: dict) -> tuple[str | int, ...]:
        """[[a]] then [a.b]: b is in the last a."""
        out: tuple[str | int, ...] = ()
        for name in names:
            out = (*out, name)
            if out in counts:
                out = (*out, counts[out])
        return out

    def line(self, loc: Loc) -> int | None:
        loc = tuple(loc)
        if (*loc, 0) in self.places and loc not in self.places:
            loc = (*loc, 0)  # an array of tables: its first [[entry]]
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.places:
                return self.places[loc[:end]]
        return None


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(r"""\s*("[^"]*"|'[^']*'|[^.]+)\s*(?:\.|$)""", dotted)]
