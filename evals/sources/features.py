"""feature: a small feature whose tests are already written; the code does not have it yet."""

from common import task

TASKS = []

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="slugify-max-length",
    kind="feature",
    difficulty="easy",
    prompt="""
Add a `max_length` option to `slugify` in slug.py. When it is set, the slug must be at most
that many characters: cut between words (never leave a trailing separator), and only if even
the first word is too long, cut that word. `max_length=None` (the default) keeps today's
behaviour. The tests in tests/test_slug.py are already written; make them pass without
changing them.
""",
    files={
        "slug.py": r'''
import re
import unicodedata


def slugify(text, separator="-"):
    """'Hello, World!' -> 'hello-world'; accents are dropped: 'Crème brûlée' -> 'creme-brulee'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return separator.join(words)
''',
        "tests/test_slug.py": r'''
from slug import slugify


def test_existing_behaviour():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("Crème brûlée") == "creme-brulee"
    assert slugify("  many   spaces ", separator="_") == "many_spaces"
    assert slugify("Hello, World!", max_length=None) == "hello-world"


def test_cut_between_words():
    title = "The quick brown fox jumps"
    assert slugify(title, max_length=15) == "the-quick-brown"
    assert slugify(title, max_length=14) == "the-quick"
    assert slugify(title, max_length=10) == "the-quick"
    assert slugify(title, max_length=9) == "the-quick"
    assert slugify(title, max_length=8) == "the"


def test_long_enough_limit_changes_nothing():
    assert slugify("The quick brown fox jumps", max_length=25) == "the-quick-brown-fox-jumps"
    assert slugify("The quick brown fox jumps", max_length=100) == "the-quick-brown-fox-jumps"


def test_first_word_too_long():
    assert slugify("Supercalifragilistic word", max_length=5) == "super"


def test_other_separator():
    assert slugify("a b c", separator="_", max_length=3) == "a_b"
    assert slugify("a b c", separator="--", max_length=4) == "a--b"
''',
    },
    fix={"slug.py": [
        ('def slugify(text, separator="-"):', 'def slugify(text, separator="-", max_length=None):'),
        ("    return separator.join(words)\n", '''    slug = separator.join(words)
    if max_length is None or len(slug) <= max_length:
        return slug
    kept = []
    for word in words:
        if len(separator.join(kept + [word])) > max_length:
            break
        kept.append(word)
    return separator.join(kept) if kept else words[0][:max_length]
'''),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="lru-cache-stats",
    kind="feature",
    difficulty="easy",
    prompt="""
I want to see how well our LRU cache works. Add `stats()` to LRUCache in lru.py, returning a
dict with "hits", "misses", "evictions" and "size", plus `reset_stats()` that zeroes the
counters but keeps the cached entries. tests/test_lru.py already has the tests; don't edit it.
""",
    files={
        "lru.py": r'''
from collections import OrderedDict


class LRUCache:
    """A mapping that keeps at most `capacity` entries, dropping the least recently used."""

    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._data = OrderedDict()

    def get(self, key, default=None):
        if key not in self._data:
            return default
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key, value):
        if key in self._data:
            self._data.move_to_end(key)
        self._data[key] = value
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def __len__(self):
        return len(self._data)

    def __contains__(self, key):
        return key in self._data
''',
        "tests/test_lru.py": r'''
from lru import LRUCache


def test_cache_behaviour_unchanged():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.get("b", "gone") == "gone"
    assert len(cache) == 2


def test_stats_count_hits_misses_evictions():
    cache = LRUCache(2)
    assert cache.stats() == {"hits": 0, "misses": 0, "evictions": 0, "size": 0}
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.get("a")
    cache.get("zzz")
    cache.put("c", 3)
    cache.put("d", 4)
    cache.get("b")
    assert cache.stats() == {"hits": 2, "misses": 2, "evictions": 2, "size": 2}


def test_updates_and_membership_are_not_counted():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("a", 2)
    assert "a" in cache
    assert "b" not in cache
    assert cache.stats() == {"hits": 0, "misses": 0, "evictions": 0, "size": 1}
    assert cache.get("a") == 2


def test_cached_none_is_a_hit():
    cache = LRUCache(1)
    cache.put("k", None)
    assert cache.get("k", "default") is None
    assert cache.stats()["hits"] == 1


def test_reset_stats_keeps_entries():
    cache = LRUCache(1)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.get("b")
    cache.reset_stats()
    assert cache.stats() == {"hits": 0, "misses": 0, "evictions": 0, "size": 1}
    assert cache.get("b") == 2
''',
    },
    fix={"lru.py": r'''
from collections import OrderedDict


class LRUCache:
    """A mapping that keeps at most `capacity` entries, dropping the least recently used."""

    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._data = OrderedDict()
        self.reset_stats()

    def get(self, key, default=None):
        if key not in self._data:
            self._misses += 1
            return default
        self._hits += 1
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key, value):
        if key in self._data:
            self._data.move_to_end(key)
        self._data[key] = value
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)
            self._evictions += 1

    def stats(self):
        return {"hits": self._hits, "misses": self._misses, "evictions": self._evictions,
                "size": len(self._data)}

    def reset_stats(self):
        self._hits = self._misses = self._evictions = 0

    def __len__(self):
        return len(self._data)

    def __contains__(self, key):
        return key in self._data
'''},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="schema-enum-keyword",
    kind="feature",
    difficulty="easy",
    prompt="""
Our little validator in validate.py needs to support the "enum" keyword: the value must be one
of the listed values, otherwise the error is "<path>: <value repr> is not one of <list repr>",
e.g. "$.status: 'lost' is not one of ['new', 'paid']". The tests are in tests/test_validate.py
(don't change them).
""",
    files={
        "validate.py": r'''
TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
         "object": dict, "array": list}


def validate(value, schema, path="$"):
    """Errors (strings) for `value` against a small JSON-Schema-like `schema`; [] if valid.
    Supported keywords: type, required, properties, items, minimum, maximum."""
    expected = schema.get("type")
    if expected:
        ok = isinstance(value, TYPES[expected])
        if expected in ("integer", "number") and isinstance(value, bool):
            ok = False
        if not ok:
            return [f"{path}: expected {expected}, got {type(value).__name__}"]
    errors = []
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: {value} is less than {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{path}: {value} is more than {schema['maximum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required key {key!r}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors.extend(validate(value[key], sub, f"{path}.{key}"))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors.extend(validate(item, schema["items"], f"{path}[{i}]"))
    return errors
''',
        "tests/test_validate.py": r'''
from validate import validate

ORDER = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "status": {"type": "string", "enum": ["new", "paid"]},
        "lines": {"type": "array", "items": {"type": "object", "properties": {
            "unit": {"enum": ["pcs", "kg", 1]}}}},
    },
}


def test_valid_order():
    assert validate({"id": 3, "status": "paid", "lines": [{"unit": "kg"}, {"unit": 1}]}, ORDER) == []


def test_enum_error_message():
    assert validate({"id": 3, "status": "lost"}, ORDER) == [
        "$.status: 'lost' is not one of ['new', 'paid']"]


def test_enum_in_nested_items_and_without_type():
    errors = validate({"id": 3, "status": "new", "lines": [{"unit": "kg"}, {"unit": "box"}, {"unit": 2}]}, ORDER)
    assert errors == [
        "$.lines[1].unit: 'box' is not one of ['pcs', 'kg', 1]",
        "$.lines[2].unit: 2 is not one of ['pcs', 'kg', 1]",
    ]


def test_type_is_checked_before_enum():
    assert validate({"id": 3, "status": 7}, ORDER) == ["$.status: expected string, got int"]


def test_other_keywords_still_work():
    assert validate({"id": 0}, ORDER) == ["$: missing required key 'status'", "$.id: 0 is less than 1"]
    assert validate(True, {"type": "integer"}) == ["$: expected integer, got bool"]
''',
    },
    fix={"validate.py": [
        ("    Supported keywords: type, required, properties, items, minimum, maximum.\"\"\"",
         "    Supported keywords: type, enum, required, properties, items, minimum, maximum.\"\"\""),
        ("    errors = []\n",
         "    errors = []\n"
         "    if \"enum\" in schema and value not in schema[\"enum\"]:\n"
         "        errors.append(f\"{path}: {value!r} is not one of {schema['enum']!r}\")\n"),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="cli-equals-syntax",
    kind="feature",
    difficulty="medium",
    prompt="""
Users keep typing `--out=report.txt` and our tiny argument parser (args.py) rejects it as an
unknown option. Please support the `--name=value` form for options that take a value
(everything after the first "=" is the value, and it may be empty). Giving a value to a flag
that takes none, like `--verbose=yes`, must raise UsageError. tests/test_args.py has the
expected behaviour; don't edit the tests.
""",
    files={
        "args.py": r'''
class UsageError(Exception):
    pass


def parse_args(argv, options):
    """Parse argv against `options`, {name: kind} where kind is "flag" (no value), "value"
    (takes one value) or "list" (takes one value, may repeat). Dashes in option names map to
    underscores. Returns (opts, positionals); defaults are False, None and []."""
    opts = {name: False if kind == "flag" else [] if kind == "list" else None
            for name, kind in options.items()}
    positionals = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            positionals.extend(args)
            break
        if not arg.startswith("--"):
            positionals.append(arg)
            continue
        name = arg[2:].replace("-", "_")
        if name not in options:
            raise UsageError(f"unknown option {arg}")
        kind = options[name]
        if kind == "flag":
            opts[name] = True
            continue
        if not args:
            raise UsageError(f"{arg} needs a value")
        value = args.pop(0)
        if kind == "list":
            opts[name].append(value)
        else:
            opts[name] = value
    return opts, positionals
''',
        "tests/test_args.py": r'''
import pytest

from args import UsageError, parse_args

OPTIONS = {"out": "value", "tag": "list", "verbose": "flag", "dry_run": "flag", "filter": "value"}


def test_space_separated_form_still_works():
    opts, pos = parse_args(["in.csv", "--out", "r.txt", "--tag", "a", "--verbose", "--dry-run"], OPTIONS)
    assert opts == {"out": "r.txt", "tag": ["a"], "verbose": True, "dry_run": True, "filter": None}
    assert pos == ["in.csv"]


def test_equals_form():
    opts, pos = parse_args(["--out=report.txt", "--tag=x", "--tag", "y", "--tag=z", "data"], OPTIONS)
    assert opts["out"] == "report.txt"
    assert opts["tag"] == ["x", "y", "z"]
    assert pos == ["data"]


def test_value_may_contain_equals_or_be_empty():
    opts, _ = parse_args(["--filter=region=north", "--out="], OPTIONS)
    assert opts["filter"] == "region=north"
    assert opts["out"] == ""


def test_dashes_in_name_with_equals():
    opts, _ = parse_args(["--dry-run", "--out=-"], OPTIONS)
    assert opts["dry_run"] is True and opts["out"] == "-"


def test_errors():
    with pytest.raises(UsageError, match="unknown option --color"):
        parse_args(["--color=red"], OPTIONS)
    with pytest.raises(UsageError):
        parse_args(["--verbose=yes"], OPTIONS)
    with pytest.raises(UsageError):
        parse_args(["--out"], OPTIONS)


def test_double_dash_stops_parsing():
    opts, pos = parse_args(["--", "--out=x", "--verbose"], OPTIONS)
    assert pos == ["--out=x", "--verbose"]
    assert opts["out"] is None and opts["verbose"] is False
''',
    },
    fix={"args.py": [
        ('''        name = arg[2:].replace("-", "_")
        if name not in options:
            raise UsageError(f"unknown option {arg}")
        kind = options[name]
        if kind == "flag":
            opts[name] = True
            continue
        if not args:
            raise UsageError(f"{arg} needs a value")
        value = args.pop(0)''',
         '''        option, has_value, inline = arg.partition("=")
        name = option[2:].replace("-", "_")
        if name not in options:
            raise UsageError(f"unknown option {option}")
        kind = options[name]
        if kind == "flag":
            if has_value:
                raise UsageError(f"{option} takes no value")
            opts[name] = True
            continue
        if has_value:
            value = inline
        elif args:
            value = args.pop(0)
        else:
            raise UsageError(f"{option} needs a value")'''),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="convert-temperature",
    kind="feature",
    difficulty="medium",
    prompt="""
Add temperatures to the unit converter in convert.py: units "C", "F" and "K". They don't
convert by a plain factor like length and mass do. Converting between a temperature and
another dimension must raise UnitError, and so must a temperature below absolute zero. See
tests/test_convert.py (already written, leave it as is).
""",
    files={
        "convert.py": r'''
FACTORS = {
    "length": {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048,
               "mi": 1609.344},
    "mass": {"g": 0.001, "kg": 1.0, "lb": 0.45359237, "oz": 0.028349523125},
}


class UnitError(ValueError):
    pass


def dimension_of(unit):
    for dimension, units in FACTORS.items():
        if unit in units:
            return dimension
    raise UnitError(f"unknown unit {unit!r}")


def convert(value, from_unit, to_unit):
    """`value` in `from_unit` expressed in `to_unit`."""
    dim_from, dim_to = dimension_of(from_unit), dimension_of(to_unit)
    if dim_from != dim_to:
        raise UnitError(f"cannot convert {from_unit} to {to_unit}")
    factors = FACTORS[dim_from]
    return value * factors[from_unit] / factors[to_unit]
''',
        "tests/test_convert.py": r'''
import pytest

from convert import UnitError, convert, dimension_of


def test_length_and_mass_unchanged():
    assert convert(1, "km", "m") == 1000
    assert convert(12, "in", "ft") == pytest.approx(1.0)
    assert convert(1, "lb", "oz") == pytest.approx(16.0)


def test_temperatures():
    assert convert(100, "C", "F") == pytest.approx(212.0)
    assert convert(32, "F", "C") == pytest.approx(0.0)
    assert convert(0, "C", "K") == pytest.approx(273.15)
    assert convert(0, "K", "F") == pytest.approx(-459.67)
    assert convert(-40, "F", "C") == pytest.approx(-40.0)
    assert convert(300, "K", "K") == pytest.approx(300.0)
    assert dimension_of("C") == "temperature"


def test_mixing_dimensions_fails():
    with pytest.raises(UnitError):
        convert(10, "C", "m")
    with pytest.raises(UnitError):
        convert(10, "kg", "K")
    with pytest.raises(UnitError):
        convert(1, "parsec", "m")


def test_below_absolute_zero():
    with pytest.raises(UnitError):
        convert(-300, "C", "F")
    with pytest.raises(UnitError):
        convert(-1, "K", "C")
    assert convert(-273.15, "C", "K") == pytest.approx(0.0)
''',
    },
    fix={"convert.py": [
        ('''    "mass": {"g": 0.001, "kg": 1.0, "lb": 0.45359237, "oz": 0.028349523125},
}
''', '''    "mass": {"g": 0.001, "kg": 1.0, "lb": 0.45359237, "oz": 0.028349523125},
}

# Temperatures: (scale, offset) so that kelvin = (value + offset) * scale.
TEMPERATURES = {"K": (1.0, 0.0), "C": (1.0, 273.15), "F": (5 / 9, 459.67)}
'''),
        ('''def dimension_of(unit):
    for''', '''def dimension_of(unit):
    if unit in TEMPERATURES:
        return "temperature"
    for'''),
        ('''        raise UnitError(f"cannot convert {from_unit} to {to_unit}")
''', '''        raise UnitError(f"cannot convert {from_unit} to {to_unit}")
    if dim_from == "temperature":
        scale, offset = TEMPERATURES[from_unit]
        kelvin = (value + offset) * scale
        if kelvin < -1e-9:
            raise UnitError(f"{value} {from_unit} is below absolute zero")
        scale, offset = TEMPERATURES[to_unit]
        return kelvin / scale - offset
'''),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="order-cancellation",
    kind="feature",
    difficulty="hard",
    prompt="""
Orders (orders.py) can't be cancelled yet. Add `Order.cancel(reason)`:
- a pending order becomes "cancelled" right away;
- a paid order becomes "refund_pending", and the new event "refund" then makes it "cancelled";
- shipped or delivered orders can't be cancelled (TransitionError), and an empty reason is a
  ValueError;
- the reason is kept in `order.cancel_reason`, and the steps show up in `order.history` like
  the other events do.
Also add a read-only property `is_final` that is True for delivered and cancelled orders.
tests/test_orders.py has the tests; make them pass without editing them.
""",
    files={
        "orders.py": r'''
class TransitionError(Exception):
    pass


# state -> {event: next state}
TRANSITIONS = {
    "pending": {"pay": "paid"},
    "paid": {"ship": "shipped"},
    "shipped": {"deliver": "delivered"},
    "delivered": {},
}


class Order:
    def __init__(self, order_id):
        self.order_id = order_id
        self.state = "pending"
        self.history = [("created", "pending")]

    def can(self, event):
        return event in TRANSITIONS[self.state]

    def apply(self, event):
        targets = TRANSITIONS[self.state]
        if event not in targets:
            raise TransitionError(f"cannot {event} order {self.order_id}: it is {self.state}")
        self.state = targets[event]
        self.history.append((event, self.state))
        return self.state
''',
        "tests/test_orders.py": r'''
import pytest

from orders import Order, TransitionError


def test_normal_flow_unchanged():
    order = Order("A1")
    for event in ("pay", "ship", "deliver"):
        order.apply(event)
    assert order.state == "delivered"
    assert order.history == [("created", "pending"), ("pay", "paid"), ("ship", "shipped"),
                             ("deliver", "delivered")]
    assert order.is_final
    with pytest.raises(TransitionError):
        order.apply("pay")


def test_cancel_pending():
    order = Order("A2")
    assert order.cancel("customer changed their mind") == "cancelled"
    assert order.state == "cancelled"
    assert order.cancel_reason == "customer changed their mind"
    assert order.history[-1] == ("cancel", "cancelled")
    assert order.is_final
    with pytest.raises(TransitionError):
        order.apply("pay")


def test_cancel_paid_needs_refund():
    order = Order("A3")
    order.apply("pay")
    assert order.cancel("out of stock") == "refund_pending"
    assert not order.is_final
    assert not order.can("ship")
    assert order.can("refund")
    with pytest.raises(TransitionError):
        order.apply("ship")
    assert order.apply("refund") == "cancelled"
    assert order.history[-2:] == [("cancel", "refund_pending"), ("refund", "cancelled")]
    assert order.is_final


def test_cannot_cancel_after_shipping():
    order = Order("A4")
    order.apply("pay")
    order.apply("ship")
    with pytest.raises(TransitionError):
        order.cancel("too late")
    assert order.state == "shipped"
    assert not order.is_final


def test_reason_required_and_no_double_cancel():
    order = Order("A5")
    with pytest.raises(ValueError):
        order.cancel("")
    assert order.state == "pending"
    order.cancel("duplicate")
    with pytest.raises(TransitionError):
        order.cancel("again")


def test_pending_order_is_not_final_and_refund_needs_payment():
    order = Order("A6")
    assert not order.is_final
    assert order.cancel_reason is None
    with pytest.raises(TransitionError):
        order.apply("refund")
''',
    },
    fix={"orders.py": [
        ('''    "pending": {"pay": "paid"},
    "paid": {"ship": "shipped"},
    "shipped": {"deliver": "delivered"},
    "delivered": {},
}
''', '''    "pending": {"pay": "paid", "cancel": "cancelled"},
    "paid": {"ship": "shipped", "cancel": "refund_pending"},
    "refund_pending": {"refund": "cancelled"},
    "shipped": {"deliver": "delivered"},
    "delivered": {},
    "cancelled": {},
}
FINAL_STATES = {"delivered", "cancelled"}
'''),
        ('''        self.history = [("created", "pending")]
''', '''        self.history = [("created", "pending")]
        self.cancel_reason = None

    @property
    def is_final(self):
        return self.state in FINAL_STATES

    def cancel(self, reason):
        if not reason:
            raise ValueError("a reason is required to cancel an order")
        state = self.apply("cancel")
        self.cancel_reason = reason
        return state
'''),
    ]},
))
