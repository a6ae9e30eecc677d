"""change: one change across several files (a renamed setting, a parameter threaded through
layers, a split function and its callers, a new unit, a new field end to end), checked by tests
that are already written."""

from common import task

TASKS = []

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="rename-cache-ttl-setting",
    kind="change",
    difficulty="easy",
    prompt="""
Rename the setting `cache_ttl` to `cache_ttl_s`: it is in seconds, and people keep writing
minutes in it. Everything that reads it must use the new name, and so must docs/settings.md.
Settings files written with the old name must keep working for now: `load()` reads `cache_ttl`
as `cache_ttl_s` and warns with a DeprecationWarning. tests/test_settings.py is already
written; don't change it.
""",
    files={
        "app/__init__.py": "",
        "app/settings.py": r'''
import json

DEFAULTS = {"cache_ttl": 300, "db_path": "app.db", "page_size": 20}


def load(path=None):
    """The defaults, overridden by the keys of a JSON file."""
    settings = dict(DEFAULTS)
    if path is not None:
        with open(path, encoding="utf-8") as f:
            settings.update(json.load(f))
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"unknown settings: {', '.join(sorted(unknown))}")
    return settings
''',
        "app/cache.py": r'''
import time


class Cache:
    """Values kept for the configured time to live."""

    def __init__(self, settings, clock=time.monotonic):
        self.ttl = settings["cache_ttl"]
        self.clock = clock
        self._items = {}

    def put(self, key, value):
        self._items[key] = (self.clock() + self.ttl, value)

    def get(self, key, default=None):
        expires, value = self._items.get(key, (0, default))
        if self.clock() >= expires:
            self._items.pop(key, None)
            return default
        return value
''',
        "app/pages.py": r'''
def cache_header(settings):
    """The Cache-Control header sent with every page."""
    return f"Cache-Control: max-age={settings['cache_ttl']}"


def page_count(settings, items):
    size = settings["page_size"]
    return max(1, -(-items // size))
''',
        "docs/settings.md": r'''
# Settings

Settings are read from a JSON file given to `app.settings.load()`; a key left out keeps its
default, and an unknown key is an error.

| key | default | what |
| --- | --- | --- |
| `cache_ttl` | 300 | how long a page is cached, in seconds |
| `db_path` | `app.db` | the SQLite database |
| `page_size` | 20 | items per page |

Example:

    {"cache_ttl": 60, "page_size": 50}
''',
        "tests/test_settings.py": r'''
import json
import re
import warnings
from pathlib import Path

import pytest

from app import settings
from app.cache import Cache
from app.pages import cache_header, page_count


def write(tmp_path, data):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    return path


def test_defaults_use_the_new_name():
    loaded = settings.load()
    assert loaded == {"cache_ttl_s": 300, "db_path": "app.db", "page_size": 20}


def test_the_new_name_in_a_file(tmp_path):
    loaded = settings.load(write(tmp_path, {"cache_ttl_s": 60}))
    assert loaded["cache_ttl_s"] == 60 and loaded["page_size"] == 20


def test_the_old_name_is_still_read_with_a_warning(tmp_path):
    with pytest.warns(DeprecationWarning, match="cache_ttl_s"):
        loaded = settings.load(write(tmp_path, {"cache_ttl": 45, "page_size": 10}))
    assert loaded == {"cache_ttl_s": 45, "db_path": "app.db", "page_size": 10}


def test_no_warning_for_the_new_name(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings.load(write(tmp_path, {"cache_ttl_s": 45}))


def test_unknown_keys_are_still_rejected(tmp_path):
    with pytest.raises(KeyError):
        settings.load(write(tmp_path, {"cache_tll_s": 45}))


def test_the_cache_and_the_pages_read_the_new_name():
    conf = {"cache_ttl_s": 10, "db_path": "x.db", "page_size": 5}
    now = [100.0]
    cache = Cache(conf, clock=lambda: now[0])
    cache.put("k", "v")
    now[0] = 109.9
    assert cache.get("k") == "v"
    now[0] = 110.0
    assert cache.get("k") is None
    assert cache_header(conf) == "Cache-Control: max-age=10"
    assert page_count(conf, 11) == 3


def test_the_docs_name_the_new_key():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "settings.md").read_text()
    assert "`cache_ttl_s`" in doc and '"cache_ttl_s"' in doc
    old = [line for line in doc.splitlines() if re.search(r"\bcache_ttl\b", line)]
    assert all("deprecated" in line.lower() for line in old), old
''',
    },
    fix={
        "app/settings.py": [
            ("import json\n", "import json\nimport warnings\n"),
            ('DEFAULTS = {"cache_ttl": 300,', 'RENAMED = {"cache_ttl": "cache_ttl_s"}  # old name -> new name\n'
                                            'DEFAULTS = {"cache_ttl_s": 300,'),
            ("            settings.update(json.load(f))\n", '''            given = json.load(f)
        for old, new in RENAMED.items():
            if old in given:
                warnings.warn(f"the setting {old!r} is now {new!r}", DeprecationWarning, stacklevel=2)
                given[new] = given.pop(old)
        settings.update(given)
'''),
        ],
        "app/cache.py": [('settings["cache_ttl"]', 'settings["cache_ttl_s"]')],
        "app/pages.py": [("settings['cache_ttl']", "settings['cache_ttl_s']")],
        "docs/settings.md": [
            ("| `cache_ttl` | 300 |", "| `cache_ttl_s` | 300 |"),
            ('{"cache_ttl": 60,', '{"cache_ttl_s": 60,'),
            ("    {\"cache_ttl_s\": 60, \"page_size\": 50}\n",
             "    {\"cache_ttl_s\": 60, \"page_size\": 50}\n\n"
             "`cache_ttl` is the deprecated old name of `cache_ttl_s`: still read, with a warning.\n"),
        ],
    },
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="split-load-rows",
    kind="change",
    difficulty="easy",
    prompt="""
`records.load_rows` in the ledger package both opens a file and parses its CSV rows, so the
upload handler in ledger/api.py writes each request body to a temporary file just to call it
(and that fails on our read-only containers). Split it: `parse_rows(lines)` parses any iterable
of CSV lines (a file, or `body.splitlines()`), `read_rows(path)` opens a file and parses it.
Remove `load_rows` and update its callers; the API must parse the body directly, with no
temporary file. Error messages stay as they are. The tests in tests/test_records.py are written.
""",
    files={
        "ledger/__init__.py": "",
        "ledger/records.py": r'''
import csv
from datetime import date
from decimal import Decimal, InvalidOperation


class RowError(ValueError):
    pass


def load_rows(path):
    """The entries of a CSV file with a date,account,amount header, checked and typed."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for number, raw in enumerate(csv.DictReader(f), start=2):
            try:
                rows.append({"date": date.fromisoformat(raw["date"]), "account": raw["account"].strip(),
                             "amount": Decimal(raw["amount"])})
            except (ValueError, InvalidOperation) as exc:
                raise RowError(f"line {number}: {exc}") from None
    return rows
''',
        "ledger/importer.py": r'''
from ledger.records import load_rows


def import_file(path, book):
    """Add a CSV file's entries to `book` (account -> balance); returns how many were added."""
    rows = load_rows(path)
    for row in rows:
        book[row["account"]] = book.get(row["account"], 0) + row["amount"]
    return len(rows)
''',
        "ledger/api.py": r'''
import os
import tempfile

from ledger.records import RowError, load_rows


def handle_upload(body, book):
    """POST /entries with a CSV body: (status, message)."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8") as f:
        f.write(body)
    try:
        rows = load_rows(f.name)
    except RowError as exc:
        return 400, str(exc)
    finally:
        os.unlink(f.name)
    for row in rows:
        book[row["account"]] = book.get(row["account"], 0) + row["amount"]
    return 201, f"{len(rows)} entries"
''',
        "tests/test_records.py": r'''
import tempfile
from datetime import date
from decimal import Decimal

import pytest

from ledger import api, importer, records

CSV = "date,account,amount\n2026-01-05,cash,12.50\n2026-01-06, bank ,-3\n"


def test_parse_rows_takes_lines():
    rows = records.parse_rows(CSV.splitlines())
    assert rows == [{"date": date(2026, 1, 5), "account": "cash", "amount": Decimal("12.50")},
                    {"date": date(2026, 1, 6), "account": "bank", "amount": Decimal("-3")}]
    assert records.parse_rows(["date,account,amount"]) == []


def test_parse_rows_reports_the_line():
    with pytest.raises(records.RowError, match="line 3"):
        records.parse_rows(["date,account,amount", "2026-01-05,cash,1", "2026-13-01,cash,1"])
    with pytest.raises(records.RowError, match="line 2"):
        records.parse_rows(["date,account,amount", "2026-01-05,cash,lots"])


def test_read_rows_reads_a_file(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(CSV)
    assert records.read_rows(path) == records.parse_rows(CSV.splitlines())


def test_load_rows_is_gone():
    assert not hasattr(records, "load_rows")


def test_importer(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(CSV)
    book = {"cash": Decimal("1")}
    assert importer.import_file(path, book) == 2
    assert book == {"cash": Decimal("13.50"), "bank": Decimal("-3")}


@pytest.fixture
def no_temp_files(monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    for name in ("NamedTemporaryFile", "TemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, refuse)


def test_upload_parses_the_body(no_temp_files):
    book = {}
    assert api.handle_upload(CSV, book) == (201, "2 entries")
    assert book == {"cash": Decimal("12.50"), "bank": Decimal("-3")}


def test_bad_upload(no_temp_files):
    book = {}
    status, message = api.handle_upload("date,account,amount\n2026-01-05,cash,x\n", book)
    assert status == 400 and message.startswith("line 2:") and book == {}
''',
    },
    fix={
        "ledger/records.py": [
            ('''def load_rows(path):
    """The entries of a CSV file with a date,account,amount header, checked and typed."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for number, raw in enumerate(csv.DictReader(f), start=2):
            try:
                rows.append({"date": date.fromisoformat(raw["date"]), "account": raw["account"].strip(),
                             "amount": Decimal(raw["amount"])})
            except (ValueError, InvalidOperation) as exc:
                raise RowError(f"line {number}: {exc}") from None
    return rows
''', '''def parse_rows(lines):
    """The entries of CSV lines with a date,account,amount header, checked and typed."""
    rows = []
    for number, raw in enumerate(csv.DictReader(lines), start=2):
        try:
            rows.append({"date": date.fromisoformat(raw["date"]), "account": raw["account"].strip(),
                         "amount": Decimal(raw["amount"])})
        except (ValueError, InvalidOperation) as exc:
            raise RowError(f"line {number}: {exc}") from None
    return rows


def read_rows(path):
    """The entries of a CSV file."""
    with open(path, newline="", encoding="utf-8") as f:
        return parse_rows(f)
'''),
        ],
        "ledger/importer.py": [("import load_rows", "import read_rows"), ("rows = load_rows(path)", "rows = read_rows(path)")],
        "ledger/api.py": r'''
from ledger.records import RowError, parse_rows


def handle_upload(body, book):
    """POST /entries with a CSV body: (status, message)."""
    try:
        rows = parse_rows(body.splitlines())
    except RowError as exc:
        return 400, str(exc)
    for row in rows:
        book[row["account"]] = book.get(row["account"], 0) + row["amount"]
    return 201, f"{len(rows)} entries"
''',
    },
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="invoice-locale",
    kind="change",
    difficulty="medium",
    prompt="""
Invoices for the German shop need German money formatting: `1.234,50 €` where we print
`$1,234.50` today. Add a `locale` parameter ("en", the default, or "de") to `invoice.render`
and pass it down through `lines.line_text` to `money.format_amount`, which does the
formatting. An unknown locale raises ValueError. English output must not change. The tests are
in tests/test_invoice.py (already written).
""",
    files={
        "shop/__init__.py": "",
        "shop/money.py": r'''
from decimal import ROUND_HALF_UP, Decimal


def format_amount(amount):
    """Decimal("1234.5") -> "$1,234.50" (to the cent, halves rounded up)."""
    value = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"${value:,.2f}"
''',
        "shop/lines.py": r'''
from shop.money import format_amount


def line_text(item):
    """One invoice line: quantity, name and the line's total."""
    total = item["price"] * item["qty"]
    return f"{item['qty']:>3} x {item['name']:<16} {format_amount(total):>14}"
''',
        "shop/invoice.py": r'''
from decimal import Decimal

from shop.lines import line_text
from shop.money import format_amount


def render(items):
    """The invoice's text: a line per item, then the total."""
    lines = [line_text(item) for item in items]
    total = sum((item["price"] * item["qty"] for item in items), Decimal(0))
    lines.append(f"{'Total':<22} {format_amount(total):>14}")
    return "\n".join(lines)
''',
        "tests/test_invoice.py": r'''
from decimal import Decimal

import pytest

from shop import invoice, lines, money

ITEMS = [{"name": "Tea", "price": Decimal("3.50"), "qty": 2},
         {"name": "Teapot", "price": Decimal("1230.005"), "qty": 1}]


def test_format_amount():
    assert money.format_amount(Decimal("1234.5")) == "$1,234.50"
    assert money.format_amount(Decimal("1234.5"), locale="en") == "$1,234.50"
    assert money.format_amount(Decimal("1234.5"), locale="de") == "1.234,50 €"
    assert money.format_amount(Decimal("1234567.891"), "de") == "1.234.567,89 €"
    assert money.format_amount(Decimal("0.005"), locale="de") == "0,01 €"
    with pytest.raises(ValueError):
        money.format_amount(Decimal(1), locale="fr")


def test_line_text():
    assert lines.line_text(ITEMS[0]) == "  2 x Tea                       $7.00"
    assert lines.line_text(ITEMS[0], locale="de") == "  2 x Tea                      7,00 €"


def test_render_in_english_is_unchanged():
    assert invoice.render(ITEMS) == (
        "  2 x Tea                       $7.00\n"
        "  1 x Teapot                $1,230.01\n"
        "Total                       $1,237.01")


def test_render_in_german():
    assert invoice.render(ITEMS, locale="de") == (
        "  2 x Tea                      7,00 €\n"
        "  1 x Teapot               1.230,01 €\n"
        "Total                      1.237,01 €")


def test_every_line_gets_the_locale(monkeypatch):
    seen = []
    real = lines.line_text

    def spy(item, *args, **kwargs):
        seen.append(args or kwargs)
        return real(item, *args, **kwargs)

    monkeypatch.setattr(invoice, "line_text", spy)
    invoice.render(ITEMS, locale="de")
    assert seen == [("de",), ("de",)] or seen == [{"locale": "de"}] * 2


def test_unknown_locale():
    with pytest.raises(ValueError):
        invoice.render(ITEMS, locale="xx")
    with pytest.raises(ValueError):
        invoice.render([], locale="xx")
''',
    },
    fix={
        "shop/money.py": r'''
from decimal import ROUND_HALF_UP, Decimal


def format_amount(amount, locale="en"):
    """Decimal("1234.5") -> "$1,234.50" ("en") or "1.234,50 €" ("de"); to the cent, halves rounded up."""
    value = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if locale == "en":
        return f"${value:,.2f}"
    if locale == "de":
        text = f"{value:,.2f}".translate(str.maketrans(",.", ".,"))
        return f"{text} €"
    raise ValueError(f"unknown locale {locale!r}")
''',
        "shop/lines.py": [
            ("def line_text(item):", 'def line_text(item, locale="en"):'),
            ("{format_amount(total):>14}", "{format_amount(total, locale):>14}"),
        ],
        "shop/invoice.py": [
            ("def render(items):", 'def render(items, locale="en"):'),
            ("[line_text(item) for item in items]", "[line_text(item, locale) for item in items]"),
            ("{format_amount(total):>14}", "{format_amount(total, locale):>14}"),
        ],
    },
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="todo-priority",
    kind="change",
    difficulty="medium",
    prompt="""
Give to-do items a priority: "high", "normal" (the default) or "low". It has to go through
the model (todo/model.py), the store (saved with the item; files saved before this change
still load, their items "normal"), and the command line (todo/cli.py): `add TITLE
--priority high`, and `list` shows high items first, then normal, then low, each group in the
order added, with " (high)" or " (low)" after the title. An unknown priority is a usage error
(exit status 2). Numbers shown by `list` stay the ones `done N` takes. Tests: tests/test_todo.py.
""",
    files={
        "todo/__init__.py": "",
        "todo/model.py": r'''
from dataclasses import dataclass


@dataclass
class Item:
    title: str
    done: bool = False
''',
        "todo/store.py": r'''
import json
from dataclasses import asdict

from todo.model import Item


def load(path):
    """The items saved at `path`, one JSON object a line (none if the file does not exist)."""
    if not path.exists():
        return []
    return [Item(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def save(path, items):
    path.write_text("".join(json.dumps(asdict(item)) + "\n" for item in items))
''',
        "todo/cli.py": r'''
import sys

from todo import store
from todo.model import Item

USAGE = "usage: todo add TITLE | todo list | todo done N"


def main(argv, path, out=sys.stdout):
    items = store.load(path)
    if len(argv) == 2 and argv[0] == "add":
        items.append(Item(argv[1]))
    elif argv == ["list"]:
        for number, item in enumerate(items, start=1):
            print(f"[{'x' if item.done else ' '}] {number} {item.title}", file=out)
        return 0
    elif len(argv) == 2 and argv[0] == "done" and argv[1].isdigit() and 1 <= int(argv[1]) <= len(items):
        items[int(argv[1]) - 1].done = True
    else:
        print(USAGE, file=sys.stderr)
        return 2
    store.save(path, items)
    return 0
''',
        "tests/test_todo.py": r'''
import io
import json

from todo import store
from todo.cli import main
from todo.model import Item


def run(path, *argv):
    out = io.StringIO()
    code = main(list(argv), path, out=out)
    return code, out.getvalue()


def test_the_model_default():
    assert Item("x").priority == "normal"
    assert Item("x", priority="high").priority == "high"


def test_the_store_keeps_the_priority(tmp_path):
    path = tmp_path / "todo.jsonl"
    store.save(path, [Item("a", priority="low"), Item("b", done=True)])
    assert store.load(path) == [Item("a", priority="low"), Item("b", done=True, priority="normal")]


def test_old_files_load_as_normal(tmp_path):
    path = tmp_path / "todo.jsonl"
    path.write_text(json.dumps({"title": "old", "done": False}) + "\n")
    assert store.load(path) == [Item("old")]
    assert store.load(path)[0].priority == "normal"


def test_add_and_list_by_priority(tmp_path):
    path = tmp_path / "todo.jsonl"
    assert run(path, "add", "water plants") == (0, "")
    assert run(path, "add", "pay rent", "--priority", "high") == (0, "")
    assert run(path, "add", "sort photos", "--priority", "low") == (0, "")
    assert run(path, "add", "call mum", "--priority", "high") == (0, "")
    assert run(path, "add", "buy milk", "--priority", "normal") == (0, "")
    code, listing = run(path, "list")
    assert code == 0
    assert listing.splitlines() == [
        "[ ] 2 pay rent (high)",
        "[ ] 4 call mum (high)",
        "[ ] 1 water plants",
        "[ ] 5 buy milk",
        "[ ] 3 sort photos (low)",
    ]
    assert run(path, "done", "4") == (0, "")
    assert "[x] 4 call mum (high)" in run(path, "list")[1]


def test_bad_priority_is_a_usage_error(tmp_path):
    path = tmp_path / "todo.jsonl"
    assert run(path, "add", "x", "--priority", "urgent")[0] == 2
    assert run(path, "add", "x", "--priority")[0] == 2
    assert not path.exists() or store.load(path) == []


def test_plain_commands_still_work(tmp_path):
    path = tmp_path / "todo.jsonl"
    assert run(path, "add", "one")[0] == 0
    assert run(path, "done", "1")[0] == 0
    assert run(path, "list") == (0, "[x] 1 one\n")
    assert run(path, "done", "2")[0] == 2
    assert run(path, "frobnicate")[0] == 2
''',
    },
    fix={
        "todo/model.py": r'''
from dataclasses import dataclass

PRIORITIES = ("high", "normal", "low")  # in the order `list` shows them


@dataclass
class Item:
    title: str
    done: bool = False
    priority: str = "normal"
''',
        "todo/cli.py": r'''
import sys

from todo import store
from todo.model import PRIORITIES, Item

USAGE = "usage: todo add TITLE [--priority high|normal|low] | todo list | todo done N"


def main(argv, path, out=sys.stdout):
    items = store.load(path)
    if len(argv) == 2 and argv[0] == "add":
        items.append(Item(argv[1]))
    elif len(argv) == 4 and argv[0] == "add" and argv[2] == "--priority" and argv[3] in PRIORITIES:
        items.append(Item(argv[1], priority=argv[3]))
    elif argv == ["list"]:
        numbered = sorted(enumerate(items, start=1), key=lambda pair: PRIORITIES.index(pair[1].priority))
        for number, item in numbered:
            mark = "" if item.priority == "normal" else f" ({item.priority})"
            print(f"[{'x' if item.done else ' '}] {number} {item.title}{mark}", file=out)
        return 0
    elif len(argv) == 2 and argv[0] == "done" and argv[1].isdigit() and 1 <= int(argv[1]) <= len(items):
        items[int(argv[1]) - 1].done = True
    else:
        print(USAGE, file=sys.stderr)
        return 2
    store.save(path, items)
    return 0
''',
    },
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="cart-integer-cents",
    kind="change",
    difficulty="hard",
    prompt="""
Our cart keeps money in float dollars and the totals drift (three mugs come to
26.970000000000002). Switch to integer cents everywhere: the catalog's prices, `Cart.subtotal()`,
`tax.tax_for()` (cents in, cents out, rounded to the nearest cent with halves going up) and
`Cart.total()`. The receipt still shows dollars with two decimals. The rates stay as they are.
tests/test_cart.py has the tests; leave it as it is.
""",
    files={
        "cart/__init__.py": "",
        "cart/catalog.py": r'''
PRICES = {"tea": 3.5, "mug": 8.99, "pot": 24.0, "filter": 0.35}


def price_of(sku):
    try:
        return PRICES[sku]
    except KeyError:
        raise KeyError(f"unknown product {sku!r}") from None
''',
        "cart/tax.py": r'''
RATES = {"standard": 0.0825, "food": 0.05}
FOOD = {"tea", "filter"}


def rate_for(sku):
    return RATES["food"] if sku in FOOD else RATES["standard"]


def tax_for(amount, sku):
    """The tax on `amount` dollars of `sku`, in dollars."""
    return round(amount * rate_for(sku), 2)
''',
        "cart/cart.py": r'''
from cart.catalog import price_of
from cart.tax import tax_for


class Cart:
    def __init__(self):
        self.lines = {}

    def add(self, sku, qty=1):
        price_of(sku)  # unknown products fail here
        self.lines[sku] = self.lines.get(sku, 0) + qty

    def line_amount(self, sku):
        return price_of(sku) * self.lines[sku]

    def subtotal(self):
        return sum(self.line_amount(sku) for sku in self.lines)

    def tax(self):
        return sum(tax_for(self.line_amount(sku), sku) for sku in self.lines)

    def total(self):
        return self.subtotal() + self.tax()
''',
        "cart/receipt.py": r'''
def receipt(cart):
    lines = [f"{sku:<8} x{qty:<3} {cart.line_amount(sku):>8.2f}" for sku, qty in cart.lines.items()]
    lines.append(f"{'tax':<13} {cart.tax():>8.2f}")
    lines.append(f"{'total':<13} {cart.total():>8.2f}")
    return "\n".join(lines)
''',
        "tests/test_cart.py": r'''
import pytest

from cart import catalog, tax
from cart.cart import Cart
from cart.receipt import receipt


def test_prices_are_cents():
    assert catalog.PRICES == {"tea": 350, "mug": 899, "pot": 2400, "filter": 35}
    assert catalog.price_of("mug") == 899
    with pytest.raises(KeyError):
        catalog.price_of("spoon")


def test_tax_in_cents_with_halves_up():
    assert tax.tax_for(1000, "mug") == 83  # 82.5
    assert tax.tax_for(1010, "tea") == 51  # 50.5
    assert tax.tax_for(1009, "tea") == 50  # 50.45
    assert tax.tax_for(999, "pot") == 82   # 82.4175
    assert isinstance(tax.tax_for(999, "pot"), int)
    assert tax.RATES == {"standard": 0.0825, "food": 0.05}


def test_cart_amounts_are_exact_cents():
    cart = Cart()
    cart.add("mug", 3)
    assert cart.subtotal() == 2697 and isinstance(cart.subtotal(), int)
    cart.add("tea", 2)
    cart.add("filter", 10)
    assert cart.line_amount("filter") == 350
    assert cart.subtotal() == 2697 + 700 + 350
    assert cart.tax() == 223 + 35 + 18
    assert cart.total() == 3747 + 276
    assert all(isinstance(v, int) for v in (cart.subtotal(), cart.tax(), cart.total()))


def test_receipt_shows_dollars():
    cart = Cart()
    cart.add("mug", 3)
    cart.add("filter")
    assert receipt(cart) == (
        "mug      x3      26.97\n"
        "filter   x1       0.35\n"
        "tax               2.25\n"
        "total            29.57")
''',
    },
    fix={
        "cart/catalog.py": [('PRICES = {"tea": 3.5, "mug": 8.99, "pot": 24.0, "filter": 0.35}',
                             'PRICES = {"tea": 350, "mug": 899, "pot": 2400, "filter": 35}  # cents')],
        "cart/tax.py": [
            ("RATES = {", "from decimal import ROUND_HALF_UP, Decimal\n\nRATES = {"),
            ('''    """The tax on `amount` dollars of `sku`, in dollars."""
    return round(amount * rate_for(sku), 2)''', '''    """The tax on `amount` cents of `sku`, in cents (halves rounded up)."""
    exact = Decimal(amount) * Decimal(str(rate_for(sku)))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))'''),
        ],
        "cart/receipt.py": r'''
def dollars(cents):
    return f"{cents // 100}.{cents % 100:02d}"


def receipt(cart):
    lines = [f"{sku:<8} x{qty:<3} {dollars(cart.line_amount(sku)):>8}" for sku, qty in cart.lines.items()]
    lines.append(f"{'tax':<13} {dollars(cart.tax()):>8}")
    lines.append(f"{'total':<13} {dollars(cart.total()):>8}")
    return "\n".join(lines)
''',
    },
))
