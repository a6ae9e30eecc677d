"""single-function: a one-module repository of 3-6 functions, exactly one of them wrong by one
small bug, and tests that pin the others. The bug's sub-kind (`bug`, kept here like difficulty):
off-by-one, wrong-operator (comparison, arithmetic, boolean), edge-case (empty, zero, None,
negative), wrong-return (wrong variable or value returned, missing return), swapped-args (at a
call site, or a parameter order inside the module)."""

from common import single_function

TASKS = []

# =============================================================================================
# off-by-one
# =============================================================================================
TASKS.append(single_function(
    id="sensor-moving-average",
    bug="off-by-one",
    difficulty="easy",
    prompt="""
The rolling average on the greenhouse dashboard is always one point short: 4 readings with a
window of 2 give me 2 averages, not 3. tests/test_sensors.py::test_moving_average fails:

E       assert [1.5, 2.5] == [1.5, 2.5, 3.5]
E         Right contains one more item: 3.5

Please fix it; the tests are right.
""",
    files={
        "sensors.py": r'''
def mean(values):
    """Arithmetic mean, or None for no values."""
    if not values:
        return None
    return sum(values) / len(values)


def moving_average(values, window):
    """Mean of every run of `window` consecutive readings, oldest first."""
    if window < 1:
        raise ValueError("window must be at least 1")
    return [mean(values[i:i + window]) for i in range(len(values) - window)]


def spikes(values, limit):
    """Indexes of readings more than `limit` away from the reading before."""
    return [i for i in range(1, len(values)) if abs(values[i] - values[i - 1]) > limit]


def clamp_readings(values, low, high):
    return [min(max(v, low), high) for v in values]
''',
        "tests/test_sensors.py": r'''
import pytest

from sensors import clamp_readings, mean, moving_average, spikes


def test_moving_average():
    assert moving_average([1, 2, 3, 4], 2) == [1.5, 2.5, 3.5]
    assert moving_average([10, 20, 30], 3) == [20.0]
    assert moving_average([4, 8], 1) == [4.0, 8.0]


def test_moving_average_short_input():
    assert moving_average([1, 2], 3) == []
    assert moving_average([], 2) == []
    with pytest.raises(ValueError):
        moving_average([1, 2], 0)


def test_mean_and_spikes():
    assert mean([]) is None
    assert mean([2, 4]) == 3.0
    assert spikes([20, 21, 30, 29, 10], 5) == [2, 4]
    assert clamp_readings([-5, 3, 99], 0, 50) == [0, 3, 50]
''',
    },
    fix={"sensors.py": [("range(len(values) - window)", "range(len(values) - window + 1)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="invoice-business-days",
    bug="off-by-one",
    difficulty="medium",
    prompt="""
Invoices come out due a business day late. From `python -m pytest tests/test_invoices.py`:

____________________________ test_add_business_days ____________________________

    def test_add_business_days():
>       assert add_business_days(date(2024, 3, 4), 1) == date(2024, 3, 5)  # Monday -> Tuesday
E       assert datetime.date(2024, 3, 6) == datetime.date(2024, 3, 5)
E        +  where datetime.date(2024, 3, 6) = add_business_days(datetime.date(2024, 3, 4), 1)

tests/test_invoices.py:7: AssertionError
________________________________ test_due_date _________________________________

    def test_due_date():
>       assert due_date(date(2024, 3, 1)) == date(2024, 3, 15)
E       assert datetime.date(2024, 3, 18) == datetime.date(2024, 3, 15)

Fix the code so the tests pass, without editing them.
""",
    files={
        "invoices.py": r'''
from datetime import timedelta


def is_weekend(day):
    return day.weekday() >= 5


def add_business_days(start, days):
    """The date `days` business days after `start`; Saturdays and Sundays do not count."""
    current = start
    added = 0
    while added <= days:
        current += timedelta(days=1)
        if not is_weekend(current):
            added += 1
    return current


def due_date(issued, terms="net 10"):
    """When an invoice issued on `issued` is due; terms count business days ("net 10")."""
    return add_business_days(issued, int(terms.split()[1]))


def days_overdue(due, today):
    return max((today - due).days, 0)
''',
        "tests/test_invoices.py": r'''
from datetime import date

from invoices import add_business_days, days_overdue, due_date, is_weekend


def test_add_business_days():
    assert add_business_days(date(2024, 3, 4), 1) == date(2024, 3, 5)  # Monday -> Tuesday
    assert add_business_days(date(2024, 3, 8), 1) == date(2024, 3, 11)  # Friday -> Monday
    assert add_business_days(date(2024, 3, 4), 5) == date(2024, 3, 11)
    assert add_business_days(date(2024, 3, 6), 0) == date(2024, 3, 6)


def test_due_date():
    assert due_date(date(2024, 3, 1)) == date(2024, 3, 15)
    assert due_date(date(2024, 3, 1), "net 3") == date(2024, 3, 6)


def test_helpers():
    assert is_weekend(date(2024, 3, 9)) and not is_weekend(date(2024, 3, 8))
    assert days_overdue(date(2024, 3, 15), date(2024, 3, 18)) == 3
    assert days_overdue(date(2024, 3, 15), date(2024, 3, 1)) == 0
''',
    },
    fix={"invoices.py": [("while added <= days:", "while added < days:")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="theater-seat-index",
    bug="off-by-one",
    difficulty="easy",
    prompt="""
Booking the last seat of row 2 in a 12-seat hall crashes:

$ python -c 'from seats import book
> seats = [None] * 12
> book(seats, "2F", "ana")'
Traceback (most recent call last):
  File "<string>", line 3, in <module>
  File "/home/sam/box-office/seats.py", line 25, in book
    if seats[index] is not None:
       ~~~~~^^^^^^^
IndexError: list index out of range

The bookings that do go through put people one row too far back. tests/test_seats.py shows
it too. Please fix (don't change the tests).
""",
    files={
        "seats.py": r'''
LETTERS = "ABCDEFGH"


def seat_label(index, per_row=6):
    """Label of the seat at 0-based `index`: rows are numbered from 1, seats lettered A, B, ..."""
    row, col = divmod(index, per_row)
    return f"{row + 1}{LETTERS[col]}"


def seat_index(label, per_row=6):
    """The inverse of seat_label: '1A' -> 0, '2B' -> per_row + 1."""
    row, letter = int(label[:-1]), label[-1].upper()
    return row * per_row + LETTERS.index(letter)


def is_aisle(label, per_row=6):
    """Seats on either side of the middle aisle."""
    col = LETTERS.index(label[-1].upper())
    return col in (per_row // 2 - 1, per_row // 2)


def book(seats, label, name, per_row=6):
    """Put `name` on the seat `label` of `seats` (a list, one entry a seat); refuse a taken one."""
    index = seat_index(label, per_row)
    if seats[index] is not None:
        raise ValueError(f"seat {label} is taken")
    seats[index] = name
''',
        "tests/test_seats.py": r'''
import pytest

from seats import book, is_aisle, seat_index, seat_label


def test_labels():
    assert [seat_label(i) for i in (0, 5, 6, 13)] == ["1A", "1F", "2A", "3B"]
    assert seat_label(9, per_row=4) == "3B"
    assert is_aisle("2C") and is_aisle("2d") and not is_aisle("2A")


def test_index_is_inverse_of_label():
    assert seat_index("1A") == 0
    assert seat_index("2b") == 7
    assert all(seat_index(seat_label(i, 4), 4) == i for i in range(40))


def test_book():
    seats = [None] * 12
    book(seats, "2F", "ana")
    book(seats, "1a", "bo")
    assert seats[11] == "ana" and seats[0] == "bo"
    with pytest.raises(ValueError):
        book(seats, "2F", "cy")
''',
    },
    fix={"seats.py": [("return row * per_row + LETTERS.index(letter)",
                       "return (row - 1) * per_row + LETTERS.index(letter)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="download-byte-ranges",
    bug="off-by-one",
    difficulty="medium",
    prompt="""
The resumable downloader asks for overlapping chunks. For a 250-byte file the server log shows
Range headers bytes=0-100, bytes=100-200, bytes=200-250, so byte 100 and byte 200 are fetched
twice and the file ends up corrupted. tests/test_ranges.py has two failing tests. Fix the code;
the tests stay as they are.
""",
    files={
        "ranges.py": r'''
def byte_ranges(size, chunk):
    """(first, last) byte positions of each chunk of a `size`-byte file, both inclusive,
    as an HTTP Range header takes them."""
    ranges = []
    for start in range(0, size, chunk):
        ranges.append((start, min(start + chunk, size)))
    return ranges


def range_header(first, last):
    return f"bytes={first}-{last}"


def parse_content_range(value):
    """'bytes 0-99/1000' -> (0, 99, 1000)."""
    unit, _, spec = value.partition(" ")
    if unit != "bytes":
        raise ValueError(f"unsupported unit: {unit}")
    span, _, total = spec.partition("/")
    first, _, last = span.partition("-")
    return int(first), int(last), int(total)


def chunk_count(size, chunk):
    return -(-size // chunk)
''',
        "tests/test_ranges.py": r'''
import pytest

from ranges import byte_ranges, chunk_count, parse_content_range, range_header


def test_byte_ranges():
    assert byte_ranges(250, 100) == [(0, 99), (100, 199), (200, 249)]
    assert byte_ranges(100, 100) == [(0, 99)]
    assert byte_ranges(0, 100) == []


def test_ranges_cover_the_file_once():
    for size in (1, 99, 100, 101, 1000, 1234):
        ranges = byte_ranges(size, 100)
        assert sum(last - first + 1 for first, last in ranges) == size
        assert len(ranges) == chunk_count(size, 100)


def test_headers():
    assert range_header(0, 99) == "bytes=0-99"
    assert parse_content_range("bytes 100-199/250") == (100, 199, 250)
    with pytest.raises(ValueError):
        parse_content_range("items 0-1/2")
''',
    },
    fix={"ranges.py": [("min(start + chunk, size))", "min(start + chunk, size) - 1)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="notification-shorten",
    bug="off-by-one",
    difficulty="easy",
    prompt="""
Notification previews come out one character wider than the width we ask for, so the lock
screen cuts off the ellipsis. `python -m pytest tests/test_previews.py` fails in
test_shorten_fits_width and test_preview:

E       AssertionError: assert 'Hello wo…' == 'Hello w…'

Please fix it without touching the tests.
""",
    files={
        "previews.py": r'''
ELLIPSIS = "…"


def first_line(text):
    return text.strip().split("\n", 1)[0]


def shorten(text, width):
    """`text` in at most `width` characters: cut and ended with an ellipsis when too long."""
    if len(text) <= width:
        return text
    return text[:width].rstrip() + ELLIPSIS


def preview(message, width=40):
    """What a notification shows: the message's first line, shortened."""
    return shorten(first_line(message), width)


def word_count(text):
    return len(text.split())
''',
        "tests/test_previews.py": r'''
from previews import first_line, preview, shorten, word_count


def test_shorten_fits_width():
    assert shorten("Hello world", 8) == "Hello w…"
    assert shorten("Deploy finished in 42 s", 10) == "Deploy fi…"
    for width in range(2, 30):
        assert len(shorten("The build of main failed on step 3", width)) <= width


def test_short_text_is_kept():
    assert shorten("short", 10) == "short"
    assert shorten("exactly 10", 10) == "exactly 10"


def test_preview():
    assert preview("  Build passed\nall 210 tests") == "Build passed"
    assert preview("Your order has shipped and will arrive tomorrow", 20) == "Your order has ship…"
    assert first_line("one\ntwo") == "one"
    assert word_count(" a  b c ") == 3
''',
    },
    fix={"previews.py": [("return text[:width].rstrip() + ELLIPSIS", "return text[:width - 1].rstrip() + ELLIPSIS")]},
))

# =============================================================================================
# wrong operator
# =============================================================================================
TASKS.append(single_function(
    id="free-shipping-threshold",
    bug="wrong-operator",
    difficulty="easy",
    prompt="""
A customer with exactly 50.00 in her cart was charged 4.95 shipping, although the banner
says "free shipping from 50.00". The tests agree with her:

    def test_shipping():
        assert shipping(0) == 0
        assert shipping(1999) == 495
        assert shipping(4999) == 495
>       assert shipping(5000) == 0
E       assert 495 == 0
E        +  where 495 = shipping(5000)

tests/test_checkout.py:8: AssertionError

Fix checkout.py so tests/test_checkout.py passes.
""",
    files={
        "checkout.py": r'''
FREE_SHIPPING_FROM = 5000  # cents
FLAT_SHIPPING = 495


def subtotal(lines):
    """Sum over (sku, quantity, unit price in cents) lines."""
    return sum(quantity * unit for _, quantity, unit in lines)


def shipping(subtotal_cents):
    """Flat shipping; free for orders of 50.00 or more, and nothing for an empty cart."""
    if subtotal_cents == 0 or subtotal_cents > FREE_SHIPPING_FROM:
        return 0
    return FLAT_SHIPPING


def tax(cents, rate_percent):
    return (cents * rate_percent + 50) // 100


def order_total(lines, rate_percent=0):
    sub = subtotal(lines)
    return sub + tax(sub, rate_percent) + shipping(sub)
''',
        "tests/test_checkout.py": r'''
from checkout import order_total, shipping, subtotal, tax


def test_shipping():
    assert shipping(0) == 0
    assert shipping(1999) == 495
    assert shipping(4999) == 495
    assert shipping(5000) == 0
    assert shipping(12000) == 0


def test_order_total():
    assert order_total([("mug", 2, 1250), ("tea", 1, 2500)]) == 5000
    assert order_total([("mug", 1, 1250)], rate_percent=20) == 1250 + 250 + 495
    assert order_total([]) == 0


def test_subtotal_and_tax():
    assert subtotal([("a", 3, 199), ("b", 1, 1)]) == 598
    assert tax(999, 10) == 100
''',
    },
    fix={"checkout.py": [("subtotal_cents > FREE_SHIPPING_FROM", "subtotal_cents >= FREE_SHIPPING_FROM")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="stock-reorder-level",
    bug="wrong-operator",
    difficulty="easy",
    prompt="""
The reorder report missed the bolts: 40 on hand but 38 of them reserved for open orders, with a
reorder level of 10. tests/test_stock.py::test_reorder_list and test_needs_reorder fail:

E       AssertionError: assert ['gear'] == ['bolt', 'gear']

Please fix stock.py; leave the tests alone.
""",
    files={
        "stock.py": r'''
def available(item):
    """Units that can still be sold: on hand minus reserved, never below zero."""
    return max(item["on_hand"] - item["reserved"], 0)


def needs_reorder(item):
    """True when what is available has fallen to the reorder level or below."""
    return item["on_hand"] + item["reserved"] <= item["reorder_level"]


def receive(item, quantity):
    """The item after a delivery of `quantity` units."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    return {**item, "on_hand": item["on_hand"] + quantity}


def reorder_list(items):
    return sorted(item["sku"] for item in items if needs_reorder(item))
''',
        "tests/test_stock.py": r'''
import pytest

from stock import available, needs_reorder, receive, reorder_list


def item(sku, on_hand, reserved, level):
    return {"sku": sku, "on_hand": on_hand, "reserved": reserved, "reorder_level": level}


def test_needs_reorder():
    assert needs_reorder(item("a", 5, 0, 5))
    assert not needs_reorder(item("b", 6, 0, 5))
    assert needs_reorder(item("c", 10, 6, 5))
    assert not needs_reorder(item("d", 12, 6, 5))


def test_reorder_list():
    items = [item("bolt", 40, 38, 10), item("nut", 500, 20, 50), item("gear", 3, 0, 4)]
    assert reorder_list(items) == ["bolt", "gear"]


def test_available_and_receive():
    assert available(item("a", 10, 4, 0)) == 6
    assert available(item("a", 2, 5, 0)) == 0
    assert receive(item("a", 2, 1, 3), 10)["on_hand"] == 12
    with pytest.raises(ValueError):
        receive(item("a", 2, 1, 3), 0)
''',
    },
    fix={"stock.py": [('return item["on_hand"] + item["reserved"] <= item["reorder_level"]',
                       'return item["on_hand"] - item["reserved"] <= item["reorder_level"]')]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="password-letter-and-digit",
    bug="wrong-operator",
    difficulty="easy",
    prompt="""
Sign-up accepts passwords it should refuse. `python -m pytest -q tests/test_passwords.py`:

.F.                                                                      [100%]
=================================== FAILURES ===================================
_________________________________ test_rejects _________________________________

    def test_rejects():
>       assert not is_acceptable("correcthorse")
E       AssertionError: assert not True
E        +  where True = is_acceptable('correcthorse')

tests/test_passwords.py:10: AssertionError
=========================== short test summary info ============================
FAILED tests/test_passwords.py::test_rejects - AssertionError: assert not True
1 failed, 2 passed in 0.02s

Fix it so the tests pass (don't edit them).
""",
    files={
        "passwords.py": r'''
COMMON = {"password1234", "qwerty123456", "letmein2024"}
MIN_LENGTH = 10


def has_digit(text):
    return any(c.isdigit() for c in text)


def has_letter(text):
    return any(c.isalpha() for c in text)


def is_acceptable(password):
    """At least MIN_LENGTH characters, a letter and a digit, and not a well-known password."""
    return (len(password) >= MIN_LENGTH and (has_digit(password) or has_letter(password))
            and password.lower() not in COMMON)


def hint(password):
    """What the sign-up form shows under the field."""
    if len(password) < MIN_LENGTH:
        return f"use at least {MIN_LENGTH} characters"
    if not has_digit(password):
        return "add a digit"
    if not has_letter(password):
        return "add a letter"
    return "ok"
''',
        "tests/test_passwords.py": r'''
from passwords import has_digit, has_letter, hint, is_acceptable


def test_accepts_letters_and_digits():
    assert is_acceptable("horse4battery")
    assert is_acceptable("9 lives of a cat")


def test_rejects():
    assert not is_acceptable("correcthorse")
    assert not is_acceptable("12345678901234")
    assert not is_acceptable("Password1234")
    assert not is_acceptable("short1")


def test_hint():
    assert hint("abc1") == "use at least 10 characters"
    assert hint("correcthorse") == "add a digit"
    assert hint("0123456789") == "add a letter"
    assert hint("horse4battery") == "ok"
    assert has_digit("a1") and not has_letter("123")
''',
    },
    fix={"passwords.py": [("(has_digit(password) or has_letter(password))", "has_digit(password) and has_letter(password)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="flooring-area-units",
    bug="wrong-operator",
    difficulty="easy",
    prompt="""
The flooring estimate for a 400 cm x 350 cm room says the area is 1400000000 m², so the price
is absurd. tests/test_flooring.py fails in test_area and test_room_to_cost. Please fix the code,
not the tests.
""",
    files={
        "flooring.py": r'''
import math


def area_m2(width_cm, length_cm):
    """Area in square metres of a room measured in centimetres."""
    return width_cm * length_cm * 10_000


def l_shaped_area_m2(outer, cutout):
    """An L-shaped room: the outer rectangle less the missing corner, each (width_cm, length_cm)."""
    return area_m2(*outer) - area_m2(*cutout)


def tiles_needed(area, tile_area, waste_percent=10):
    """Whole tiles to cover `area` (same unit as `tile_area`), plus a waste allowance."""
    return math.ceil(area * (1 + waste_percent / 100) / tile_area)


def flooring_cost(area, price_per_m2):
    return round(area * price_per_m2, 2)
''',
        "tests/test_flooring.py": r'''
import pytest

from flooring import area_m2, flooring_cost, l_shaped_area_m2, tiles_needed


def test_area():
    assert area_m2(400, 350) == pytest.approx(14.0)
    assert area_m2(100, 100) == pytest.approx(1.0)
    assert l_shaped_area_m2((500, 400), (200, 150)) == pytest.approx(17.0)


def test_tiles_and_cost():
    assert tiles_needed(14.0, 0.36) == 43
    assert tiles_needed(1.0, 0.25, waste_percent=0) == 4
    assert flooring_cost(14.0, 23.5) == 329.0


def test_room_to_cost():
    area = area_m2(320, 275)
    assert flooring_cost(area, 40) == pytest.approx(352.0)
    assert tiles_needed(area, 0.09) == 108
''',
    },
    fix={"flooring.py": [("return width_cm * length_cm * 10_000", "return width_cm * length_cm / 10_000")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="calendar-back-to-back",
    bug="wrong-operator",
    difficulty="easy",
    prompt="""
Our scheduler reports a conflict between a 09:00-10:00 meeting and a 10:00-11:00 one, so people
cannot book back-to-back meetings. tests/test_calendar_slots.py::test_overlaps and test_conflicts
fail. Fix it; the tests are correct.
""",
    files={
        "calendar_slots.py": r'''
def to_minutes(hhmm):
    hours, minutes = hhmm.strip().split(":")
    return int(hours) * 60 + int(minutes)


def parse_slot(text):
    """'09:30-10:15' -> (570, 615), minutes after midnight."""
    start, end = text.split("-")
    return to_minutes(start), to_minutes(end)


def overlaps(a, b):
    """Whether two (start, end) slots share time; one ending as the other starts does not."""
    return a[0] <= b[1] and b[0] <= a[1]


def conflicts(slots):
    """Index pairs (i, j), i < j, of the slots that overlap."""
    return [(i, j) for i in range(len(slots)) for j in range(i + 1, len(slots))
            if overlaps(slots[i], slots[j])]
''',
        "tests/test_calendar_slots.py": r'''
from calendar_slots import conflicts, overlaps, parse_slot, to_minutes


def test_parse():
    assert to_minutes("07:05") == 425
    assert parse_slot("09:30-10:15") == (570, 615)


def test_overlaps():
    assert overlaps((540, 600), (570, 630))
    assert overlaps((540, 720), (600, 610))
    assert not overlaps((540, 600), (660, 720))
    assert not overlaps((540, 600), (600, 660))
    assert not overlaps((600, 660), (540, 600))


def test_conflicts():
    day = [parse_slot(s) for s in ("09:00-10:00", "10:00-11:00", "10:30-11:30", "13:00-14:00")]
    assert conflicts(day) == [(1, 2)]
''',
    },
    fix={"calendar_slots.py": [("return a[0] <= b[1] and b[0] <= a[1]", "return a[0] < b[1] and b[0] < a[1]")]},
))

# =============================================================================================
# missed edge case
# =============================================================================================
TASKS.append(single_function(
    id="rating-without-reviews",
    bug="edge-case",
    difficulty="easy",
    prompt='''
Product pages for new products (no reviews yet) crash. From pytest:

_______________________________ test_no_reviews ________________________________

    def test_no_reviews():
>       assert average_rating([]) is None

tests/test_ratings.py:12:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

reviews = []

    def average_rating(reviews):
        """Mean star rating to one decimal, or None when there are no reviews yet."""
        total = sum(r["stars"] for r in reviews)
>       return round(total / len(reviews), 1)
E       ZeroDivisionError: division by zero

ratings.py:4: ZeroDivisionError

Please fix; tests/test_ratings.py must pass unchanged.
''',
    files={
        "ratings.py": r'''
def average_rating(reviews):
    """Mean star rating to one decimal, or None when there are no reviews yet."""
    total = sum(r["stars"] for r in reviews)
    return round(total / len(reviews), 1)


def star_counts(reviews):
    counts = {stars: 0 for stars in range(1, 6)}
    for r in reviews:
        counts[r["stars"]] += 1
    return counts


def rating_label(reviews):
    """'4.3 (12 reviews)', or 'no reviews yet'."""
    avg = average_rating(reviews)
    if avg is None:
        return "no reviews yet"
    noun = "review" if len(reviews) == 1 else "reviews"
    return f"{avg} ({len(reviews)} {noun})"
''',
        "tests/test_ratings.py": r'''
from ratings import average_rating, rating_label, star_counts

REVIEWS = [{"stars": 5}, {"stars": 4}, {"stars": 4}]


def test_average():
    assert average_rating(REVIEWS) == 4.3
    assert average_rating([{"stars": 2}]) == 2.0


def test_no_reviews():
    assert average_rating([]) is None
    assert rating_label([]) == "no reviews yet"


def test_label_and_counts():
    assert rating_label(REVIEWS) == "4.3 (3 reviews)"
    assert rating_label([{"stars": 1}]) == "1.0 (1 review)"
    assert star_counts(REVIEWS) == {1: 0, 2: 0, 3: 0, 4: 2, 5: 1}
''',
    },
    fix={"ratings.py": [('    total = sum(r["stars"] for r in reviews)\n',
                         '    if not reviews:\n        return None\n    total = sum(r["stars"] for r in reviews)\n')]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="weekly-change-no-baseline",
    bug="edge-case",
    difficulty="easy",
    prompt="""
The weekly report died on a metric we only started tracking this week:

$ python -c 'from weekly import report_row; print(report_row("signups", 0, 14))'
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/home/lee/metrics/weekly.py", line 20, in report_row
    change = percent_change(old, new)
             ^^^^^^^^^^^^^^^^^^^^^^^^
  File "/home/lee/metrics/weekly.py", line 3, in percent_change
    return round((new - old) / abs(old) * 100, 1)
                 ~~~~~~~~~~~~^~~~~~~~~~
ZeroDivisionError: division by zero

Fix it so tests/test_weekly.py passes (without changing the tests).
""",
    files={
        "weekly.py": r'''
def percent_change(old, new):
    """Change from `old` to `new` in percent, to one decimal; None when old is 0 (no baseline)."""
    return round((new - old) / abs(old) * 100, 1)


def arrow(change):
    if change is None:
        return "*"
    return "^" if change > 0 else "v" if change < 0 else "="


def format_change(change):
    """'+12.5%', '-3.0%', or 'new' when there is no baseline."""
    if change is None:
        return "new"
    return f"{change:+.1f}%"


def report_row(name, old, new):
    change = percent_change(old, new)
    return f"{name}: {new} {arrow(change)} {format_change(change)}"
''',
        "tests/test_weekly.py": r'''
from weekly import arrow, format_change, percent_change, report_row


def test_percent_change():
    assert percent_change(200, 250) == 25.0
    assert percent_change(80, 60) == -25.0
    assert percent_change(-50, -25) == 50.0
    assert percent_change(3, 3) == 0.0


def test_no_baseline():
    assert percent_change(0, 14) is None
    assert percent_change(0, 0) is None


def test_rows():
    assert report_row("orders", 40, 50) == "orders: 50 ^ +25.0%"
    assert report_row("refunds", 8, 6) == "refunds: 6 v -25.0%"
    assert report_row("signups", 0, 14) == "signups: 14 * new"
    assert arrow(0.0) == "=" and format_change(-3) == "-3.0%"
''',
    },
    fix={"weekly.py": [("    return round((new - old) / abs(old) * 100, 1)",
                        "    if old == 0:\n        return None\n    return round((new - old) / abs(old) * 100, 1)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="config-int-unset",
    bug="edge-case",
    difficulty="easy",
    prompt="""
Reading an optional integer setting that isn't in the file blows up:

E       TypeError: int() argument must be a string, a bytes-like object or a real number, not 'NoneType'

settings.py:19: TypeError

That is tests/test_settings.py::test_get_int_unset_without_default. Please fix settings.py; the
tests are right.
""",
    files={
        "settings.py": r'''
def parse_line(line):
    """'key = value' -> ('key', 'value'); a blank line or a ';' comment -> None."""
    line = line.strip()
    if not line or line.startswith(";"):
        return None
    key, sep, value = line.partition("=")
    if not sep:
        raise ValueError(f"not a setting: {line!r}")
    return key.strip().lower(), value.strip()


def parse_config(text):
    pairs = (parse_line(line) for line in text.splitlines())
    return dict(pair for pair in pairs if pair)


def get_int(config, key, default=None):
    """The setting as an int, or `default` when it is not set."""
    return int(config.get(key, default))


def get_bool(config, key, default=False):
    value = config.get(key)
    if value is None:
        return default
    return value.lower() in ("1", "yes", "true", "on")
''',
        "tests/test_settings.py": r'''
import pytest

from settings import get_bool, get_int, parse_config, parse_line

CONFIG = parse_config("; server\nPort = 8080\n\ndebug = yes\nworkers=0\n")


def test_get_int():
    assert get_int(CONFIG, "port") == 8080
    assert get_int(CONFIG, "workers", 4) == 0
    assert get_int(CONFIG, "threads", 4) == 4


def test_get_int_unset_without_default():
    assert get_int(CONFIG, "retries") is None
    assert get_int({}, "timeout") is None


def test_parsing_and_bools():
    assert CONFIG == {"port": "8080", "debug": "yes", "workers": "0"}
    assert parse_line("  ; note") is None
    with pytest.raises(ValueError):
        parse_line("oops")
    assert get_bool(CONFIG, "debug") and not get_bool(CONFIG, "verbose")
''',
    },
    fix={"settings.py": [("    return int(config.get(key, default))",
                          "    value = config.get(key)\n    return default if value is None else int(value)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="utc-offset-west",
    bug="edge-case",
    difficulty="medium",
    prompt="""
Time zone labels are broken for everything west of Greenwich:

>>> zone_label("Sao Paulo", -180)
'Sao Paulo (UTC--3:00)'
>>> zone_label("Kolkata", 330)
'Kolkata (UTC+05:30)'

tests/test_offsets.py fails (test_format, test_round_trip_and_labels). Fix offsets.py without
editing the tests.
""",
    files={
        "offsets.py": r'''
def parse_offset(text):
    """'+05:30' / '-03:00' -> minutes east of UTC (330 / -180)."""
    sign = -1 if text[0] == "-" else 1
    hours, minutes = text[1:].split(":")
    return sign * (int(hours) * 60 + int(minutes))


def format_offset(minutes):
    """Minutes east of UTC -> '+05:30' / '-03:00': the inverse of parse_offset."""
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(minutes, 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def to_utc(local_minutes, offset):
    """Local minutes after midnight -> UTC minutes after midnight, wrapping around the day."""
    return (local_minutes - offset) % (24 * 60)


def zone_label(name, offset):
    return f"{name} (UTC{format_offset(offset)})"
''',
        "tests/test_offsets.py": r'''
from offsets import format_offset, parse_offset, to_utc, zone_label


def test_parse():
    assert parse_offset("+05:30") == 330
    assert parse_offset("-03:00") == -180
    assert parse_offset("+00:00") == 0


def test_format():
    assert format_offset(330) == "+05:30"
    assert format_offset(0) == "+00:00"
    assert format_offset(-180) == "-03:00"
    assert format_offset(-570) == "-09:30"


def test_round_trip_and_labels():
    for text in ("+01:00", "-02:30", "+12:45", "-11:00"):
        assert format_offset(parse_offset(text)) == text
    assert zone_label("Kolkata", 330) == "Kolkata (UTC+05:30)"
    assert zone_label("Sao Paulo", -180) == "Sao Paulo (UTC-03:00)"
    assert to_utc(60, 120) == 1380 and to_utc(600, -180) == 780
''',
    },
    fix={"offsets.py": [("divmod(minutes, 60)", "divmod(abs(minutes), 60)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="blog-tags-blank",
    bug="edge-case",
    difficulty="easy",
    prompt="""
Posts saved without tags show a lone "#" under the title, and the tag cloud has an empty tag
with a count. A stray comma ("food,,travel") does the same. tests/test_tags.py::test_blank_tags
and test_counts_and_lookup fail. Please fix it; the tests stay as they are.
""",
    files={
        "tags.py": r'''
def parse_tags(text):
    """'Python, web ,python' -> ['python', 'web']: stripped, lowercased, each once in first-seen
    order; blanks are dropped."""
    tags = []
    for raw in text.split(","):
        tag = raw.strip().lower()
        if tag not in tags:
            tags.append(tag)
    return tags


def format_tags(tags):
    return " ".join(f"#{tag}" for tag in tags)


def tag_counts(posts):
    """How many posts carry each tag (a post is a dict with a 'tags' string)."""
    counts = {}
    for post in posts:
        for tag in parse_tags(post["tags"]):
            counts[tag] = counts.get(tag, 0) + 1
    return counts


def has_tag(post, tag):
    return tag.lower() in parse_tags(post["tags"])
''',
        "tests/test_tags.py": r'''
from tags import format_tags, has_tag, parse_tags, tag_counts


def test_parse_tags():
    assert parse_tags("Python, web ,python") == ["python", "web"]
    assert parse_tags("travel") == ["travel"]


def test_blank_tags():
    assert parse_tags("") == []
    assert parse_tags("food,, ,Food,") == ["food"]
    assert format_tags(parse_tags("  ")) == ""


def test_counts_and_lookup():
    posts = [{"tags": "python, web"}, {"tags": ""}, {"tags": "Web"}]
    assert tag_counts(posts) == {"python": 1, "web": 2}
    assert has_tag(posts[2], "WEB") and not has_tag(posts[1], "web")
    assert format_tags(["a", "b"]) == "#a #b"
''',
    },
    fix={"tags.py": [("if tag not in tags:", "if tag and tag not in tags:")]},
))

# =============================================================================================
# wrong return
# =============================================================================================
TASKS.append(single_function(
    id="order-total-discount",
    bug="wrong-return",
    difficulty="easy",
    prompt="""
Discount codes and shipping are not applied at checkout: the customer is charged the bare
subtotal. From `python -m pytest tests/test_orders.py`:

    def test_order_with_discount_and_shipping():
>       assert order_total([(1250, 2), (499, 1)], code="SAVE10") == 2700
E       AssertionError: assert 2999 == 2700
E        +  where 2999 = order_total([(1250, 2), (499, 1)], code='SAVE10')

tests/test_orders.py:9: AssertionError

Fix orders.py, not the tests.
""",
    files={
        "orders.py": r'''
def line_total(price_cents, quantity):
    return price_cents * quantity


def discount(subtotal_cents, code):
    """Cents off: SAVE10 is 10% (rounded down), WELCOME5 is 5.00 off, any other code nothing."""
    if code == "SAVE10":
        return subtotal_cents // 10
    if code == "WELCOME5":
        return min(500, subtotal_cents)
    return 0


def order_total(lines, code=None, shipping_cents=0):
    """What the customer pays for (price in cents, quantity) lines, after discount, with shipping."""
    subtotal = sum(line_total(price, quantity) for price, quantity in lines)
    total = subtotal - discount(subtotal, code) + shipping_cents
    return subtotal


def receipt_line(label, cents):
    return f"{label:<10}{cents / 100:>8.2f}"
''',
        "tests/test_orders.py": r'''
from orders import discount, order_total, receipt_line


def test_plain_order():
    assert order_total([(1250, 2), (499, 1)]) == 2999


def test_order_with_discount_and_shipping():
    assert order_total([(1250, 2), (499, 1)], code="SAVE10") == 2700
    assert order_total([(300, 1)], code="WELCOME5") == 0
    assert order_total([(2000, 1)], shipping_cents=495) == 2495
    assert order_total([(2000, 1)], code="WELCOME5", shipping_cents=495) == 1995


def test_discount_and_receipt():
    assert discount(2999, "SAVE10") == 299
    assert discount(2999, "BOGUS") == 0
    assert receipt_line("Total", 2700) == "Total        27.00"
''',
    },
    fix={"orders.py": [("    return subtotal\n", "    return total\n")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="timesheet-day-shift",
    bug="wrong-return",
    difficulty="easy",
    prompt="""
Weekly hours crash as soon as there is a normal daytime shift in the list:

$ python -c 'from shifts import week_hours; print(week_hours([("09:00", "17:00"), ("22:00", "06:00")]))'
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/home/ines/payroll/shifts.py", line 16, in week_hours
    return round(sum(shift_minutes(start, end) for start, end in shifts) / 60, 2)
                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'

Night shifts alone work. Please fix it; tests/test_shifts.py must pass without changes.
""",
    files={
        "shifts.py": r'''
def to_minutes(hhmm):
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def shift_minutes(start, end):
    """Length of a shift in minutes; one that ends earlier than it starts runs past midnight."""
    start_m, end_m = to_minutes(start), to_minutes(end)
    if end_m < start_m:
        return end_m + 24 * 60 - start_m
    end_m - start_m


def week_hours(shifts):
    """Total hours of (start, end) shifts, to two decimals."""
    return round(sum(shift_minutes(start, end) for start, end in shifts) / 60, 2)


def is_overtime(shifts, limit_hours=40):
    return week_hours(shifts) > limit_hours
''',
        "tests/test_shifts.py": r'''
from shifts import is_overtime, shift_minutes, to_minutes, week_hours


def test_shift_minutes():
    assert shift_minutes("09:00", "17:30") == 510
    assert shift_minutes("22:00", "06:00") == 480
    assert shift_minutes("23:45", "00:15") == 30


def test_week():
    week = [("09:00", "17:00")] * 4 + [("22:00", "07:15")]
    assert week_hours(week) == 41.25
    assert is_overtime(week)
    assert not is_overtime([("22:00", "06:00")] * 5)


def test_to_minutes():
    assert to_minutes("00:00") == 0
    assert to_minutes("13:05") == 785
''',
    },
    fix={"shifts.py": [("    end_m - start_m\n", "    return end_m - start_m\n")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="retry-backoff-cap",
    bug="wrong-return",
    difficulty="easy",
    prompt="""
Our HTTP client's retry waits keep growing past the cap: delays(8) gives
[0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0] although the cap is 30 seconds.
tests/test_backoff.py::test_delays_are_capped fails. Please fix (the tests are right).
""",
    files={
        "backoff.py": r'''
def next_delay(previous, base=0.5, cap=30.0):
    """Seconds to wait before the next retry: `base` the first time, then twice the previous
    wait, never more than `cap`."""
    delay = base if previous is None else previous * 2
    capped = min(delay, cap)
    return delay


def delays(attempts, base=0.5, cap=30.0):
    out, previous = [], None
    for _ in range(attempts):
        previous = next_delay(previous, base, cap)
        out.append(previous)
    return out


def should_retry(status, attempt, max_attempts=5):
    """Retry 429 and server errors, not other client errors, and never past max_attempts."""
    return attempt < max_attempts and (status == 429 or 500 <= status < 600)
''',
        "tests/test_backoff.py": r'''
from backoff import delays, next_delay, should_retry


def test_first_delays_double():
    assert next_delay(None) == 0.5
    assert next_delay(0.5) == 1.0
    assert delays(4, base=1.0) == [1.0, 2.0, 4.0, 8.0]


def test_delays_are_capped():
    assert next_delay(20.0) == 30.0
    assert delays(8, base=1.0, cap=10.0) == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]
    assert max(delays(20)) == 30.0


def test_should_retry():
    assert should_retry(503, 1) and should_retry(429, 4)
    assert not should_retry(404, 1)
    assert not should_retry(500, 5)
''',
    },
    fix={"backoff.py": [("    return delay\n", "    return capped\n")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="course-weighted-grade",
    bug="wrong-return",
    difficulty="easy",
    prompt="""
Course grades are nonsense whenever the weights are percentages. `python -m pytest tests/test_grades.py`:

    def test_course_grade():
        parts = {"homework": (92, 20), "midterm": (74, 30), "final": (81, 50)}
>       assert course_grade(parts) == (81.1, "B")
E       AssertionError: assert (8110, 'A') == (81.1, 'B')
E         At index 0 diff: 8110 != 81.1

tests/test_grades.py:16: AssertionError

test_weighted_average fails as well. Fix grades.py without editing the tests.
""",
    files={
        "grades.py": r'''
def weighted_average(scores, weights):
    """Average of `scores` weighted by `weights` (one each; the weights need not add up to 1)."""
    if len(scores) != len(weights):
        raise ValueError("one weight per score")
    total = sum(score * weight for score, weight in zip(scores, weights))
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("the weights add up to zero")
    return total


def letter(grade):
    for cutoff, mark in ((90, "A"), (80, "B"), (70, "C"), (60, "D")):
        if grade >= cutoff:
            return mark
    return "F"


def course_grade(parts):
    """{'homework': (score, weight), ...} -> (grade to one decimal, letter)."""
    scores = [score for score, _ in parts.values()]
    weights = [weight for _, weight in parts.values()]
    grade = round(weighted_average(scores, weights), 1)
    return grade, letter(grade)
''',
        "tests/test_grades.py": r'''
import pytest

from grades import course_grade, letter, weighted_average


def test_weighted_average():
    assert weighted_average([80, 100], [0.75, 0.25]) == pytest.approx(85.0)
    assert weighted_average([70, 95], [3, 2]) == pytest.approx(80.0)
    assert weighted_average([88], [5]) == pytest.approx(88.0)
    with pytest.raises(ValueError):
        weighted_average([1, 2], [1])


def test_course_grade():
    parts = {"homework": (92, 20), "midterm": (74, 30), "final": (81, 50)}
    assert course_grade(parts) == (81.1, "B")
    assert course_grade({"exam": (59.5, 1)}) == (59.5, "F")


def test_letters():
    assert [letter(g) for g in (90, 89.9, 70, 60, 0)] == ["A", "B", "C", "D", "F"]
''',
    },
    fix={"grades.py": [("    return total\n", "    return total / weight_sum\n")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="mailing-list-unique",
    bug="wrong-return",
    difficulty="easy",
    prompt="""
The newsletter export comes out in a random order instead of the order people signed up in.
tests/test_mailing.py::test_unique_emails_keep_signup_order fails. Please fix it; don't change
the tests.
""",
    files={
        "mailing.py": r'''
def normalize(email):
    return email.strip().lower()


def is_valid(email):
    local, sep, domain = email.partition("@")
    return bool(sep and local and "." in domain and " " not in email)


def unique_emails(emails):
    """The valid addresses, normalized, each once, in the order they first appear."""
    seen = set()
    result = []
    for email in emails:
        address = normalize(email)
        if is_valid(address) and address not in seen:
            seen.add(address)
            result.append(address)
    return seen


def domains(emails):
    return sorted({address.split("@", 1)[1] for address in unique_emails(emails)})
''',
        "tests/test_mailing.py": r'''
from mailing import domains, is_valid, normalize, unique_emails

SIGNUPS = ["Zoe@Example.com", "ann@mail.org", " zoe@example.com ", "bad-address", "ben@mail.org"]


def test_unique_emails_keep_signup_order():
    assert unique_emails(SIGNUPS) == ["zoe@example.com", "ann@mail.org", "ben@mail.org"]
    assert unique_emails([]) == []


def test_domains():
    assert domains(SIGNUPS) == ["example.com", "mail.org"]


def test_helpers():
    assert normalize("  A@B.Com ") == "a@b.com"
    assert is_valid("a@b.com")
    assert not is_valid("a@localhost") and not is_valid("@b.com") and not is_valid("a b@c.com")
''',
    },
    fix={"mailing.py": [("    return seen\n", "    return result\n")]},
))

# =============================================================================================
# swapped arguments
# =============================================================================================
TASKS.append(single_function(
    id="route-length-lat-lon",
    bug="swapped-args",
    difficulty="medium",
    prompt="""
Route lengths are wrong: Paris to London comes out as 403.6 km instead of about 343.6 km,
although the distance between the two cities on their own is right. From pytest:

    def test_route_km():
>       assert route_km([PARIS, LONDON]) == pytest.approx(343.6, abs=0.5)
E       assert 403.58389420482683 == 343.6 ± 0.5

tests/test_routes.py:14: AssertionError

Please fix routes.py; tests/test_routes.py must pass unchanged.
""",
    files={
        "routes.py": r'''
import math

EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def parse_point(text):
    """'48.8566,2.3522' (latitude, longitude) -> (48.8566, 2.3522)."""
    lat, lon = (float(part) for part in text.split(","))
    return lat, lon


def route_km(points):
    """Length of a route through (lat, lon) points, in order."""
    total = 0.0
    for (lat1, lon1), (lat2, lon2) in zip(points, points[1:]):
        total += haversine_km(lon1, lat1, lon2, lat2)
    return total


def nearest(origin, places):
    """Name of the place (name -> (lat, lon)) closest to `origin`."""
    return min(places, key=lambda name: haversine_km(*origin, *places[name]))
''',
        "tests/test_routes.py": r'''
import pytest

from routes import haversine_km, nearest, parse_point, route_km

PARIS, LONDON, BERLIN = (48.8566, 2.3522), (51.5074, -0.1278), (52.52, 13.405)


def test_haversine():
    assert haversine_km(*PARIS, *LONDON) == pytest.approx(343.6, abs=0.5)
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.2, abs=0.1)


def test_route_km():
    assert route_km([PARIS, LONDON]) == pytest.approx(343.6, abs=0.5)
    assert route_km([PARIS, LONDON, BERLIN]) == pytest.approx(1275.1, abs=1)
    assert route_km([(0, 0), (0, 1)]) == pytest.approx(111.2, abs=0.1)
    assert route_km([PARIS]) == 0


def test_points():
    assert parse_point("48.8566, 2.3522") == PARIS
    assert nearest(LONDON, {"berlin": BERLIN, "paris": PARIS}) == "paris"
''',
    },
    fix={"routes.py": [("haversine_km(lon1, lat1, lon2, lat2)", "haversine_km(lat1, lon1, lat2, lon2)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="player-volume-limit",
    bug="swapped-args",
    difficulty="easy",
    prompt="""
Pressing volume up at 95 takes the player to 105, and setting the volume to 150 keeps 150,
although it should never go above 100. Turning it down below zero stops at 0 as it should.
tests/test_player.py::test_set_volume and test_steps_and_mute fail. Fix the code, not the tests.
""",
    files={
        "player.py": r'''
def clamp(value, low, high):
    """`value` brought into the range low..high."""
    return max(low, min(value, high))


def set_volume(player, level):
    """The volume goes from 0 to 100; a level outside is brought into range."""
    player["volume"] = clamp(0, level, 100)
    return player["volume"]


def step_volume(player, steps, step=5):
    """Up (steps > 0) or down by `steps` notches of `step`."""
    return set_volume(player, player["volume"] + steps * step)


def mute(player):
    player["muted_at"] = player["volume"]
    return set_volume(player, 0)
''',
        "tests/test_player.py": r'''
from player import clamp, mute, set_volume, step_volume


def test_clamp():
    assert clamp(5, 0, 10) == 5
    assert clamp(-1, 0, 10) == 0
    assert clamp(11, 0, 10) == 10


def test_set_volume():
    player = {"volume": 50}
    assert set_volume(player, 40) == 40
    assert set_volume(player, -10) == 0
    assert set_volume(player, 150) == 100
    assert player["volume"] == 100


def test_steps_and_mute():
    player = {"volume": 95}
    assert step_volume(player, 2) == 100
    assert step_volume(player, -3) == 85
    assert mute(player) == 0 and player["muted_at"] == 85
''',
    },
    fix={"player.py": [("clamp(0, level, 100)", "clamp(level, 0, 100)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="price-currency-convert",
    bug="swapped-args",
    difficulty="medium",
    prompt="""
The price page shows 100 EUR as 92.59 USD; it should be 108.00 USD at our rate of 1.08.
tests/test_currency.py::test_price_in fails with `assert 92.59 == 108.0`. Please fix it without
changing the tests.
""",
    files={
        "currency.py": r'''
RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.86, "JPY": 162.0}  # units of each currency per euro


def convert(amount, from_rate, to_rate):
    """`amount` from a currency worth `from_rate` per euro into one worth `to_rate` per euro."""
    return amount / from_rate * to_rate


def decimals(currency):
    return 0 if currency == "JPY" else 2


def price_in(amount, source, target, rates=RATES):
    """`amount` of `source` currency in `target` currency, rounded to the target's decimals."""
    return round(convert(amount, rates[target], rates[source]), decimals(target))


def format_price(amount, currency):
    return f"{amount:,.{decimals(currency)}f} {currency}"
''',
        "tests/test_currency.py": r'''
import pytest

from currency import convert, decimals, format_price, price_in


def test_convert():
    assert convert(100, 1.0, 1.08) == pytest.approx(108.0)
    assert convert(86, 0.86, 1.0) == pytest.approx(100.0)


def test_price_in():
    assert price_in(100, "EUR", "USD") == 108.0
    assert price_in(1080, "USD", "JPY") == 162000
    assert price_in(43, "GBP", "EUR") == 50.0
    assert price_in(19.99, "EUR", "EUR") == 19.99


def test_format():
    assert format_price(1234.5, "USD") == "1,234.50 USD"
    assert format_price(162000, "JPY") == "162,000 JPY"
    assert decimals("GBP") == 2
''',
    },
    fix={"currency.py": [("convert(amount, rates[target], rates[source])", "convert(amount, rates[source], rates[target])")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(single_function(
    id="timesheet-parse-stamp",
    bug="swapped-args",
    difficulty="easy",
    prompt="""
Every timesheet line fails to parse:

$ python -c 'from timesheet import entry_hours; print(entry_hours("2024-03-04 09:15 | 2024-03-04 17:45 | support"))'
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/home/omar/timesheets/timesheet.py", line 18, in entry_hours
    return project, hours_between(parse_stamp(start), parse_stamp(end))
                                  ^^^^^^^^^^^^^^^^^^
  File "/home/omar/timesheets/timesheet.py", line 8, in parse_stamp
    return datetime.strptime(STAMP, text.strip())
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/_strptime.py", line 568, in _strptime_datetime
    tt, fraction, gmtoff_fraction = _strptime(data_string, format)
                                    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/_strptime.py", line 349, in _strptime
    raise ValueError("time data %r does not match format %r" %
ValueError: time data '%Y-%m-%d %H:%M' does not match format '2024-03-04 09:15'

Please fix it so tests/test_timesheet.py passes (don't edit the tests).
""",
    files={
        "timesheet.py": r'''
from datetime import datetime

STAMP = "%Y-%m-%d %H:%M"


def parse_stamp(text):
    """'2024-03-04 09:15' -> datetime."""
    return datetime.strptime(STAMP, text.strip())


def hours_between(start, end):
    return round((end - start).total_seconds() / 3600, 2)


def entry_hours(line):
    """'2024-03-04 09:15 | 2024-03-04 17:45 | support' -> ('support', 8.5)."""
    start, end, project = (part.strip() for part in line.split("|"))
    return project, hours_between(parse_stamp(start), parse_stamp(end))


def totals(lines):
    """Hours per project over timesheet lines."""
    out = {}
    for line in lines:
        project, hours = entry_hours(line)
        out[project] = round(out.get(project, 0) + hours, 2)
    return out
''',
        "tests/test_timesheet.py": r'''
from datetime import datetime

from timesheet import entry_hours, hours_between, parse_stamp, totals


def test_parse_stamp():
    assert parse_stamp("2024-03-04 09:15") == datetime(2024, 3, 4, 9, 15)
    assert parse_stamp(" 2024-12-31 23:59\n") == datetime(2024, 12, 31, 23, 59)


def test_entries():
    assert entry_hours("2024-03-04 09:15 | 2024-03-04 17:45 | support") == ("support", 8.5)
    lines = ["2024-03-04 09:00 | 2024-03-04 12:00 | web",
             "2024-03-04 13:00 | 2024-03-04 14:30 | ops",
             "2024-03-05 22:00 | 2024-03-06 01:15 | web"]
    assert totals(lines) == {"web": 6.25, "ops": 1.5}


def test_hours_between():
    assert hours_between(datetime(2024, 1, 1, 8), datetime(2024, 1, 1, 8, 20)) == 0.33
''',
    },
    fix={"timesheet.py": [("datetime.strptime(STAMP, text.strip())", "datetime.strptime(text.strip(), STAMP)")]},
))
