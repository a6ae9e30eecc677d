"""multi-module: the failing test exercises one module; the bug sits in a helper it imports."""

from common import task

TASKS = []

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="cart-bulk-discount",
    kind="multi-module",
    difficulty="easy",
    prompt="""
tests/test_cart.py::test_bulk_discount fails: a cart with 12 pens comes out with a negative
total. Fix the code so the tests pass; do not change the tests.
""",
    files={
        "shop/__init__.py": "",
        "shop/pricing.py": r'''
"""Price helpers shared by the cart and the invoice code."""


def apply_discount(price, percent):
    """Return `price` reduced by `percent` (a number from 0 to 100)."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent out of range: {percent}")
    return price * (1 - percent)


def unit_price_for(quantity, base_price, bulk_threshold=10, bulk_percent=10):
    """Unit price after the bulk discount, which applies from `bulk_threshold` items on."""
    if quantity >= bulk_threshold:
        return apply_discount(base_price, bulk_percent)
    return base_price
''',
        "shop/cart.py": r'''
from shop.pricing import unit_price_for


class Cart:
    def __init__(self):
        self.lines = {}  # sku -> [quantity, base_price]

    def add(self, sku, base_price, quantity=1):
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        line = self.lines.setdefault(sku, [0, base_price])
        line[0] += quantity

    def line_total(self, sku):
        quantity, base_price = self.lines[sku]
        return round(quantity * unit_price_for(quantity, base_price), 2)

    def total(self):
        return round(sum(self.line_total(sku) for sku in self.lines), 2)
''',
        "tests/test_cart.py": r'''
import pytest

from shop.cart import Cart
from shop.pricing import apply_discount


def test_small_order_has_no_discount():
    cart = Cart()
    cart.add("pen", 2.50, 4)
    assert cart.total() == 10.00


def test_bulk_discount():
    cart = Cart()
    cart.add("pen", 2.50, 12)
    assert cart.line_total("pen") == 27.00
    assert cart.total() == 27.00


def test_threshold_counts_repeated_adds():
    cart = Cart()
    cart.add("pad", 4.00, 6)
    cart.add("pad", 4.00, 4)
    cart.add("pen", 2.50, 9)
    assert cart.line_total("pad") == 36.00
    assert cart.line_total("pen") == 22.50
    assert cart.total() == 58.50


def test_bad_quantity_rejected():
    with pytest.raises(ValueError):
        Cart().add("pen", 2.50, 0)


def test_discount_helper():
    assert apply_discount(80.0, 25) == 60.0
    assert apply_discount(10.0, 0) == 10.0
    assert apply_discount(10.0, 100) == 0.0
    with pytest.raises(ValueError):
        apply_discount(10.0, 101)
''',
    },
    fix={"shop/pricing.py": [("price * (1 - percent)", "price * (1 - percent / 100)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="csv-export-quotes",
    kind="multi-module",
    difficulty="easy",
    prompt="""
The CSV that export.py writes can't be read back when a note contains double quotes
(tests/test_export.py fails). Fix it without touching the tests.
""",
    files={
        "textutil.py": r'''
"""Small text helpers."""


def quote_field(value):
    """Render one CSV field as RFC 4180 says: a field that contains a comma, a double quote
    or a line break is wrapped in double quotes, and quotes inside it are doubled."""
    text = "" if value is None else str(value)
    if "," in text or "\n" in text:
        return '"' + text + '"'
    return text


def normalize_space(text):
    return " ".join(text.split())
''',
        "export.py": r'''
from textutil import quote_field

COLUMNS = ["id", "name", "note", "price"]


def export_rows(rows, columns=COLUMNS):
    """Rows (dicts) as CSV text with a header line and CRLF line ends."""
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(quote_field(row.get(col)) for col in columns))
    return "\r\n".join(lines) + "\r\n"
''',
        "tests/test_export.py": r'''
import csv
import io

from export import export_rows

ROWS = [
    {"id": 1, "name": "Pen", "note": None, "price": 1.5},
    {"id": 2, "name": "Ruler", "note": 'the 12" one', "price": 3},
    {"id": 3, "name": "Pad, A5", "note": 'say "hi", then\nleave', "price": 2.25},
]


def read_back(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def test_round_trip_with_quotes_commas_and_newlines():
    rows = read_back(export_rows(ROWS))
    assert rows[0] == ["id", "name", "note", "price"]
    assert rows[1] == ["1", "Pen", "", "1.5"]
    assert rows[2] == ["2", "Ruler", 'the 12" one', "3"]
    assert rows[3] == ["3", "Pad, A5", 'say "hi", then\nleave', "2.25"]
    assert len(rows) == 4


def test_plain_fields_are_not_quoted():
    text = export_rows([{"id": 7, "name": "Eraser", "note": "soft", "price": 0.5}])
    assert text == "id,name,note,price\r\n7,Eraser,soft,0.5\r\n"


def test_quote_is_doubled_inside_quotes():
    text = export_rows([{"id": 8, "name": 'A "B"', "note": "", "price": 1}])
    assert text.splitlines()[1] == '8,"A ""B""",,1'
''',
    },
    fix={"textutil.py": [(
        '''    if "," in text or "\\n" in text:
        return '"' + text + '"\'''',
        '''    if any(ch in text for ch in ',"\\r\\n'):
        return '"' + text.replace('"', '""') + '"\'''',
    )]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="invoice-half-up-rounding",
    kind="multi-module",
    difficulty="easy",
    prompt="""
Our invoices are sometimes a cent off: tests/test_invoice.py fails on the tax of a 10.50
subtotal and on a 0.125 line. Amounts must round half a cent up. Please fix (tests stay as they are).
""",
    files={
        "money.py": r'''
"""Money amounts are Decimals rounded to whole cents."""

from decimal import Decimal

CENT = Decimal("0.01")


def to_money(value):
    """An int, float, str or Decimal amount as a Decimal in cents; half a cent rounds away
    from zero (0.125 -> 0.13, -0.125 -> -0.13)."""
    return Decimal(str(value)).quantize(CENT)


def format_money(amount, currency="EUR"):
    return f"{to_money(amount):,.2f} {currency}"
''',
        "invoice.py": r'''
from decimal import Decimal

from money import to_money


def line_amount(quantity, unit_price):
    return to_money(Decimal(str(unit_price)) * quantity)


def invoice_totals(lines, tax_rate):
    """lines: (quantity, unit_price) pairs. Tax is computed on the rounded subtotal."""
    subtotal = sum((line_amount(q, p) for q, p in lines), Decimal("0.00"))
    tax = to_money(subtotal * Decimal(str(tax_rate)))
    return {"subtotal": subtotal, "tax": tax, "total": subtotal + tax}
''',
        "tests/test_invoice.py": r'''
from decimal import Decimal as D

from invoice import invoice_totals, line_amount


def test_line_rounds_half_cent_up():
    assert line_amount(1, "0.125") == D("0.13")
    assert line_amount(3, "1.005") == D("3.02")
    assert line_amount(2, "0.10") == D("0.20")


def test_credit_line_rounds_away_from_zero():
    assert line_amount(-1, "0.125") == D("-0.13")


def test_tax_on_subtotal():
    totals = invoice_totals([(3, "2.50"), (1, "3.00")], "0.05")
    assert totals == {"subtotal": D("10.50"), "tax": D("0.53"), "total": D("11.03")}


def test_tax_below_half_cent_rounds_down():
    totals = invoice_totals([(1, "10.00")], "0.0004")
    assert totals["tax"] == D("0.00")
    assert totals["total"] == D("10.00")
''',
    },
    fix={"money.py": [
        ("from decimal import Decimal\n", "from decimal import ROUND_HALF_UP, Decimal\n"),
        ("quantize(CENT)", "quantize(CENT, rounding=ROUND_HALF_UP)"),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="latency-report-milliseconds",
    kind="multi-module",
    difficulty="medium",
    prompt="""
The latency report blows up as soon as a sample is given in milliseconds, like "250ms".
tests/test_latency_report.py reproduces it. Please fix the code; don't edit the tests.
""",
    files={
        "units.py": r'''
"""Parsing of human-written durations."""

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms)")
_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}


def parse_duration(text):
    """Seconds (float) in '1h30m', '2m', '1.5s' or '250ms'."""
    text = text.strip().replace(" ", "")
    parts = _PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"bad duration: {text!r}")
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)
''',
        "latency_report.py": r'''
from units import parse_duration

SLOW_AFTER_S = 1.0


def summarize(samples):
    """samples: duration strings. Slow samples are the ones above SLOW_AFTER_S."""
    seconds = [parse_duration(s) for s in samples]
    return {
        "count": len(seconds),
        "total_s": round(sum(seconds), 3),
        "max_s": round(max(seconds), 3) if seconds else 0.0,
        "slow": [s for s, value in zip(samples, seconds) if value > SLOW_AFTER_S],
    }
''',
        "tests/test_latency_report.py": r'''
import pytest

from latency_report import summarize


def test_mixed_units():
    report = summarize(["250ms", "1.5s", "2m", "750ms"])
    assert report == {"count": 4, "total_s": 122.5, "max_s": 120.0, "slow": ["1.5s", "2m"]}


def test_compound_durations():
    assert summarize(["1h30m"])["total_s"] == 5400.0
    assert summarize(["1m 30s"])["total_s"] == 90.0


def test_millisecond_threshold():
    assert summarize(["999ms", "1000ms"])["slow"] == []
    assert summarize(["1001ms"])["slow"] == ["1001ms"]


def test_empty_and_bad_input():
    assert summarize([]) == {"count": 0, "total_s": 0, "max_s": 0.0, "slow": []}
    with pytest.raises(ValueError):
        summarize(["12 parsecs"])
    with pytest.raises(ValueError):
        summarize(["5x"])
''',
    },
    fix={"units.py": [("(h|m|s|ms)", "(ms|h|m|s)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="restock-incoming-twice",
    kind="multi-module",
    difficulty="medium",
    prompt="""
The restock plan skips items that clearly need reordering when a delivery is already on its
way, and tests/test_restock.py fails. Find the cause and fix it. The tests are correct.
""",
    files={
        "inventory/__init__.py": "",
        "inventory/store.py": r'''
class Stock:
    """Stock of one SKU: units on hand, units reserved for open orders, units on order."""

    def __init__(self, sku, on_hand=0, incoming=0):
        self.sku = sku
        self.on_hand = on_hand
        self.incoming = incoming
        self.reserved = 0

    def available(self):
        """Units that can be promised to a customer right now."""
        return self.on_hand - self.reserved + self.incoming

    def reserve(self, quantity):
        if quantity > self.available():
            raise ValueError(f"only {self.available()} {self.sku} available")
        self.reserved += quantity

    def receive(self, quantity):
        """A delivery arrived."""
        self.incoming = max(0, self.incoming - quantity)
        self.on_hand += quantity
''',
        "inventory/rules.py": r'''
DEFAULT_RULE = {"reorder_point": 10, "target": 30, "pack_size": 1}


def order_quantity(projected, rule):
    """Units to order so projected stock gets back to rule["target"], rounded up to whole
    packs. Nothing is ordered while projected stock is above the reorder point."""
    if projected > rule["reorder_point"]:
        return 0
    missing = rule["target"] - projected
    packs = -(-missing // rule["pack_size"])
    return packs * rule["pack_size"]
''',
        "inventory/restock.py": r'''
from inventory.rules import DEFAULT_RULE, order_quantity


def restock_plan(stocks, rules=None):
    """{sku: units to order} for the SKUs that need an order. Projected stock is what can
    be promised now plus what is already on order."""
    rules = rules or {}
    plan = {}
    for stock in stocks:
        rule = {**DEFAULT_RULE, **rules.get(stock.sku, {})}
        projected = stock.available() + stock.incoming
        quantity = order_quantity(projected, rule)
        if quantity:
            plan[stock.sku] = quantity
    return plan
''',
        "tests/test_restock.py": r'''
import pytest

from inventory.restock import restock_plan
from inventory.store import Stock


def make(sku, on_hand, incoming=0, reserved=0):
    stock = Stock(sku, on_hand=on_hand, incoming=incoming)
    if reserved:
        stock.reserve(reserved)
    return stock


def test_incoming_delivery_counted_once():
    assert restock_plan([make("bolt", 4, incoming=3)]) == {"bolt": 23}


def test_reservations_reduce_stock():
    assert restock_plan([make("nut", 15, reserved=6)]) == {"nut": 21}


def test_well_stocked_item_not_ordered():
    assert restock_plan([make("washer", 40, incoming=5, reserved=10)]) == {}


def test_pack_size_rounds_up():
    rules = {"screw": {"pack_size": 25, "target": 60}}
    assert restock_plan([make("screw", 2, incoming=5)], rules) == {"screw": 75}


def test_cannot_reserve_goods_not_yet_delivered():
    stock = make("gear", 5, incoming=20)
    with pytest.raises(ValueError):
        stock.reserve(10)
    stock.reserve(5)
    assert stock.reserved == 5
''',
    },
    fix={"inventory/store.py": [(
        "return self.on_hand - self.reserved + self.incoming", "return self.on_hand - self.reserved")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="logsum-zero-records",
    kind="multi-module",
    difficulty="hard",
    prompt="""
`python -m logsum.cli app.log` prints `records: 0` for our logs, which clearly contain
records, and the error count looks wrong too. tests/test_cli.py has a sample log. Make the
tests pass without changing them.
""",
    files={
        "logsum/__init__.py": "",
        "logsum/parse.py": r'''
from dataclasses import dataclass
from datetime import datetime

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass
class Record:
    when: datetime
    level: str
    message: str


def parse_line(line):
    """A Record for a line like '2024-03-01 12:00:01 WARNING disk almost full', or None
    for lines that are not records (blank lines, traceback lines, ...)."""
    line = line.rstrip("\n")
    if not line.strip() or line[0].isspace():
        return None
    parts = line.split(" ", 2)
    if len(parts) < 3:
        return None
    stamp, level, message = parts
    if level not in LEVELS:
        return None
    return Record(datetime.fromisoformat(stamp), level, message)
''',
        "logsum/summary.py": r'''
from collections import Counter

from logsum.parse import parse_line

ERROR_LEVELS = {"ERROR", "CRITICAL"}


def summarize(lines):
    """Counts per level; "errors" counts the records at ERROR level or above."""
    records = [r for r in map(parse_line, lines) if r is not None]
    counts = Counter(r.level for r in records)
    return {
        "records": len(records),
        "levels": dict(sorted(counts.items())),
        "errors": sum(1 for r in records if r.level == "ERROR"),
        "first": records[0].when if records else None,
        "last": records[-1].when if records else None,
    }
''',
        "logsum/cli.py": r'''
import sys

from logsum.summary import summarize


def main(argv=None, out=None):
    argv = sys.argv[1:] if argv is None else argv
    out = out or sys.stdout
    if len(argv) != 1:
        print("usage: python -m logsum.cli LOGFILE", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        summary = summarize(fh)
    print(f"records: {summary['records']}", file=out)
    for level, count in summary["levels"].items():
        print(f"{level}: {count}", file=out)
    print(f"errors: {summary['errors']}", file=out)
    if summary["first"]:
        print(f"span: {summary['first']:%H:%M:%S} - {summary['last']:%H:%M:%S}", file=out)
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
''',
        "tests/test_cli.py": r'''
import io

from logsum.cli import main

SAMPLE = """\
2024-03-01 09:00:00 INFO service started
2024-03-01 09:00:05 WARNING disk 91% full
2024-03-01 09:01:10 ERROR request failed: timeout
Traceback (most recent call last):
  File "app.py", line 3, in handler
ValueError: boom
2024-03-01 09:02:00 CRITICAL worker died

2024-03-01 09:03:30 INFO service stopped
"""


def run(tmp_path, text):
    log = tmp_path / "app.log"
    log.write_text(text)
    out = io.StringIO()
    code = main([str(log)], out=out)
    return code, out.getvalue().splitlines()


def test_sample_log(tmp_path):
    code, lines = run(tmp_path, SAMPLE)
    assert lines == [
        "records: 5",
        "CRITICAL: 1",
        "ERROR: 1",
        "INFO: 2",
        "WARNING: 1",
        "errors: 2",
        "span: 09:00:00 - 09:03:30",
    ]
    assert code == 1


def test_clean_log_exits_zero(tmp_path):
    code, lines = run(tmp_path, "2024-03-01 10:00:00 INFO ok\n2024-03-01 10:05:00 DEBUG tick\n")
    assert lines == ["records: 2", "DEBUG: 1", "INFO: 1", "errors: 0", "span: 10:00:00 - 10:05:00"]
    assert code == 0


def test_empty_log(tmp_path):
    code, lines = run(tmp_path, "")
    assert lines == ["records: 0", "errors: 0"]
    assert code == 0
''',
    },
    fix={
        "logsum/parse.py": [
            ('''    parts = line.split(" ", 2)
    if len(parts) < 3:
        return None
    stamp, level, message = parts''',
             '''    parts = line.split(" ", 3)
    if len(parts) < 4:
        return None
    day, time, level, message = parts'''),
            ("Record(datetime.fromisoformat(stamp), level, message)",
             'Record(datetime.fromisoformat(f"{day} {time}"), level, message)'),
        ],
        "logsum/summary.py": [('if r.level == "ERROR"', "if r.level in ERROR_LEVELS")],
    },
))
