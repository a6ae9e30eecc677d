"""edge-case: the code works for the common case and gets a boundary, empty input, sign,
rounding or time zone case wrong."""

from common import task

TASKS = []

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="page-count-exact-multiple",
    kind="edge-case",
    difficulty="easy",
    prompt="""
With exactly 20 items and 10 per page our footer shows 3 pages and a "next" link to an empty
page. tests/test_paginate.py fails. Fix the code, not the tests.
""",
    files={
        "paginate.py": r'''
def page_count(total, per_page):
    """Pages needed to show `total` items, `per_page` at a time. No items, no pages."""
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    return total // per_page + 1


def page_items(items, page, per_page):
    """Items on 1-based `page`; a page past the end is empty."""
    if page < 1:
        raise ValueError("pages start at 1")
    start = (page - 1) * per_page
    return items[start:start + per_page]


def page_links(total, per_page, current):
    """What the footer needs: number of pages and the previous/next page numbers (or None)."""
    pages = page_count(total, per_page)
    return {
        "pages": pages,
        "prev": current - 1 if current > 1 else None,
        "next": current + 1 if current < pages else None,
    }
''',
        "tests/test_paginate.py": r'''
import pytest

from paginate import page_count, page_items, page_links


def test_page_count():
    assert page_count(0, 10) == 0
    assert page_count(1, 10) == 1
    assert page_count(10, 10) == 1
    assert page_count(11, 10) == 2
    assert page_count(20, 10) == 2
    assert page_count(21, 10) == 3
    assert page_count(7, 1) == 7


def test_links_on_exact_multiple():
    assert page_links(20, 10, 2) == {"pages": 2, "prev": 1, "next": None}
    assert page_links(25, 10, 2) == {"pages": 3, "prev": 1, "next": 3}
    assert page_links(0, 10, 1) == {"pages": 0, "prev": None, "next": None}


def test_page_items():
    items = list(range(1, 21))
    assert page_items(items, 2, 10) == list(range(11, 21))
    assert page_items(items, 3, 10) == []
    with pytest.raises(ValueError):
        page_items(items, 0, 10)
    with pytest.raises(ValueError):
        page_count(5, 0)
''',
    },
    fix={"paginate.py": [("return total // per_page + 1", "return -(-total // per_page)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="env-file-equals-in-value",
    kind="edge-case",
    difficulty="easy",
    prompt="""
Our .env parser mangles values that contain "=", such as database URLs with query strings
or base64 tokens. tests/test_dotenv_lite.py shows it. Please fix; the tests must stay as they are.
""",
    files={
        "dotenv_lite.py": r'''
def parse_env(text):
    """KEY=VALUE lines as a dict. Blank lines and # comments are skipped, whitespace around
    keys and values is stripped, and matching quotes around a value are removed."""
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.split("=")[0], line.split("=")[1]
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key] = value
    return env


def load_env(path):
    with open(path, encoding="utf-8") as fh:
        return parse_env(fh.read())
''',
        "tests/test_dotenv_lite.py": r'''
from dotenv_lite import load_env, parse_env

TEXT = """
# database
DATABASE_URL=postgres://app:secret@db:5432/app?sslmode=require&connect_timeout=5
TOKEN="YWJjZGVm=="
  NAME = 'Shop Admin'
EMPTY=

DEBUG=1
"""


def test_values_with_equals():
    env = parse_env(TEXT)
    assert env["DATABASE_URL"] == "postgres://app:secret@db:5432/app?sslmode=require&connect_timeout=5"
    assert env["TOKEN"] == "YWJjZGVm=="


def test_other_lines():
    env = parse_env(TEXT)
    assert env["NAME"] == "Shop Admin"
    assert env["EMPTY"] == ""
    assert env["DEBUG"] == "1"
    assert set(env) == {"DATABASE_URL", "TOKEN", "NAME", "EMPTY", "DEBUG"}


def test_load_env_without_trailing_newline(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A=1\nB=x=y")
    assert load_env(path) == {"A": "1", "B": "x=y"}
''',
    },
    fix={"dotenv_lite.py": [('key, value = line.split("=")[0], line.split("=")[1]',
                             'key, _, value = line.partition("=")')]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="split-bill-cents",
    kind="edge-case",
    difficulty="easy",
    prompt="""
Splitting a bill doesn't add up: 10.00 split three ways gives shares that sum to 9.99, and
some amounts even come out a cent over. tests/test_split.py::test_shares_add_up fails. Fix
split.py without touching the tests.
""",
    files={
        "split.py": r'''
def split_amount(total_cents, parts):
    """Split an amount in cents into `parts` shares that differ by at most one cent and add
    up exactly to the total; the larger shares come first. A negative amount (a refund)
    splits like the positive amount, with every share negated."""
    if parts < 1:
        raise ValueError("parts must be at least 1")
    share = round(total_cents / parts)
    return [share] * parts


def format_cents(cents):
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"
''',
        "tests/test_split.py": r'''
import pytest

from split import format_cents, split_amount


def test_shares_add_up():
    assert split_amount(1000, 3) == [334, 333, 333]
    assert split_amount(2000, 3) == [667, 667, 666]
    assert split_amount(1001, 4) == [251, 250, 250, 250]


def test_even_and_tiny_amounts():
    assert split_amount(900, 3) == [300, 300, 300]
    assert split_amount(2, 5) == [1, 1, 0, 0, 0]
    assert split_amount(0, 2) == [0, 0]
    assert split_amount(1234, 1) == [1234]


def test_refunds():
    assert split_amount(-1000, 3) == [-334, -333, -333]


def test_sums_always_match():
    for total in range(-50, 200, 7):
        for parts in range(1, 9):
            shares = split_amount(total, parts)
            assert sum(shares) == total
            assert max(shares) - min(shares) <= 1


def test_bad_parts_and_formatting():
    with pytest.raises(ValueError):
        split_amount(100, 0)
    assert format_cents(334) == "3.34"
    assert format_cents(-5) == "-0.05"
''',
    },
    fix={"split.py": [("    share = round(total_cents / parts)\n    return [share] * parts\n",
                       "    if total_cents < 0:\n"
                       "        return [-share for share in split_amount(-total_cents, parts)]\n"
                       "    share, extra = divmod(total_cents, parts)\n"
                       "    return [share + 1] * extra + [share] * (parts - extra)\n")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="utc-day-buckets",
    kind="edge-case",
    difficulty="medium",
    prompt="""
The daily event counts are wrong around midnight: events sent with a time zone offset land on
the wrong day. Days are meant to be UTC days. Make tests/test_buckets.py pass (don't edit it).
""",
    files={
        "buckets.py": r'''
from collections import Counter
from datetime import datetime


def utc_day(stamp):
    """The UTC calendar day of an ISO 8601 timestamp. Timestamps without an offset are
    already in UTC."""
    return datetime.fromisoformat(stamp).date()


def daily_counts(stamps):
    """{"YYYY-MM-DD": number of events} in day order."""
    counts = Counter(utc_day(stamp).isoformat() for stamp in stamps)
    return dict(sorted(counts.items()))
''',
        "tests/test_buckets.py": r'''
import time
from datetime import date

import pytest

from buckets import daily_counts, utc_day


@pytest.fixture(autouse=True)
def far_east_local_time(monkeypatch):
    """The servers run in UTC but developers' laptops don't: pretend local time is UTC+9."""
    monkeypatch.setenv("TZ", "XST-9")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_offsets_are_converted_to_utc():
    assert utc_day("2024-03-01T23:30:00-02:00") == date(2024, 3, 2)
    assert utc_day("2024-03-02T00:30:00+01:00") == date(2024, 3, 1)
    assert utc_day("2024-03-01T12:00:00Z") == date(2024, 3, 1)


def test_naive_timestamps_are_utc():
    assert utc_day("2024-03-01T23:59:59") == date(2024, 3, 1)
    assert utc_day("2024-03-01T00:00:00") == date(2024, 3, 1)


def test_daily_counts():
    stamps = [
        "2024-02-29T22:00:00-03:00",
        "2024-03-01T08:00:00+09:00",
        "2024-03-01T10:00:00",
        "2024-03-01T23:10:00+00:00",
    ]
    assert daily_counts(stamps) == {"2024-02-29": 1, "2024-03-01": 3}
    assert daily_counts([]) == {}
''',
    },
    fix={"buckets.py": [
        ("from datetime import datetime\n", "from datetime import datetime, timezone\n"),
        ("    return datetime.fromisoformat(stamp).date()\n",
         "    moment = datetime.fromisoformat(stamp)\n"
         "    if moment.tzinfo is None:\n"
         "        return moment.date()\n"
         "    return moment.astimezone(timezone.utc).date()\n"),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="sliding-window-boundary",
    kind="edge-case",
    difficulty="medium",
    prompt="""
Our rate limiter lets one request too many through, and it also keeps blocking at the exact
moment the window has passed. tests/test_ratelimit.py has the cases. Fix ratelimit.py;
don't change the tests.
""",
    files={
        "ratelimit.py": r'''
from collections import deque


class SlidingWindowLimiter:
    """At most `limit` calls in any `window` seconds. A call made exactly `window` seconds
    after an earlier one no longer counts that earlier one. Refused calls are not counted."""

    def __init__(self, limit, window, clock):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._calls = deque()

    def _expire(self, now):
        while self._calls and self._calls[0] < now - self.window:
            self._calls.popleft()

    def allow(self):
        now = self.clock()
        self._expire(now)
        if len(self._calls) > self.limit:
            return False
        self._calls.append(now)
        return True

    def retry_after(self):
        """Seconds until a call would be allowed (0.0 if it would be allowed now)."""
        now = self.clock()
        self._expire(now)
        if len(self._calls) < self.limit:
            return 0.0
        return self._calls[0] + self.window - now
''',
        "tests/test_ratelimit.py": r'''
from ratelimit import SlidingWindowLimiter


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def at(clock, limiter, moment):
    clock.now = moment
    return limiter.allow()


def test_limit_is_exact():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 10, clock)
    assert [at(clock, limiter, t) for t in (0, 1, 2, 3, 9.5)] == [True, True, True, False, False]


def test_window_boundary():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 10, clock)
    for t in (0, 1, 2):
        at(clock, limiter, t)
    assert at(clock, limiter, 9.999) is False
    assert at(clock, limiter, 10) is True
    assert at(clock, limiter, 10.5) is False
    assert at(clock, limiter, 11) is True


def test_retry_after():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(2, 5, clock)
    assert limiter.retry_after() == 0.0
    at(clock, limiter, 1)
    at(clock, limiter, 2)
    clock.now = 3
    assert limiter.retry_after() == 3.0
    clock.now = 6
    assert limiter.retry_after() == 0.0


def test_limit_of_one():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(1, 1, clock)
    assert [at(clock, limiter, t) for t in (0, 0.5, 1, 1.2, 2.5)] == [True, False, True, False, True]
''',
    },
    fix={"ratelimit.py": [
        ("self._calls[0] < now - self.window", "self._calls[0] <= now - self.window"),
        ("if len(self._calls) > self.limit:", "if len(self._calls) >= self.limit:"),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="month-grid-rows",
    kind="edge-case",
    difficulty="hard",
    prompt="""
The calendar widget is broken for some months: February 2021 gets an empty extra week,
March 2025 loses its last days, and the "week N of the month" label is off for Sundays.
tests/test_calendar_grid.py has the cases. Fix calendar_grid.py, leave the tests alone.
""",
    files={
        "calendar_grid.py": r'''
import calendar
from datetime import date


def _offset(year, month, first_weekday):
    """Empty cells before day 1 in the first row."""
    return (date(year, month, 1).weekday() - first_weekday) % 7


def month_grid(year, month, first_weekday=0):
    """The month as rows of 7 day numbers, 0 for cells outside the month.
    first_weekday: 0 if weeks start on Monday, 6 if on Sunday."""
    days = calendar.monthrange(year, month)[1]
    offset = _offset(year, month, first_weekday)
    weeks = days // 7 + 1
    cells = [0] * offset + list(range(1, days + 1))
    cells += [0] * (weeks * 7 - len(cells))
    return [cells[i:i + 7] for i in range(0, weeks * 7, 7)]


def week_of_month(day, first_weekday=0):
    """1-based row of `day` (a date) in month_grid(day.year, day.month, first_weekday)."""
    return (day.day + _offset(day.year, day.month, first_weekday)) // 7 + 1
''',
        "tests/test_calendar_grid.py": r'''
from datetime import date, timedelta

from calendar_grid import month_grid, week_of_month


def test_february_2021_fits_four_rows():
    grid = month_grid(2021, 2)
    assert len(grid) == 4
    assert grid[0] == [1, 2, 3, 4, 5, 6, 7]
    assert grid[-1] == [22, 23, 24, 25, 26, 27, 28]


def test_march_2025_needs_six_rows():
    grid = month_grid(2025, 3)
    assert len(grid) == 6
    assert grid[0] == [0, 0, 0, 0, 0, 1, 2]
    assert grid[-1] == [31, 0, 0, 0, 0, 0, 0]


def test_sunday_first():
    grid = month_grid(2024, 9, first_weekday=6)
    assert grid[0] == [1, 2, 3, 4, 5, 6, 7]
    assert len(grid) == 5
    assert grid[-1] == [29, 30, 0, 0, 0, 0, 0]


def test_every_day_once():
    for year, month in [(2024, 2), (2023, 10), (2026, 8), (2021, 5)]:
        for first in (0, 6):
            cells = [c for row in month_grid(year, month, first) for c in row]
            assert [c for c in cells if c] == list(range(1, len([c for c in cells if c]) + 1))
            assert len(cells) % 7 == 0 and cells[-7:] != [0] * 7


def test_week_of_month():
    assert week_of_month(date(2021, 2, 1)) == 1
    assert week_of_month(date(2021, 2, 7)) == 1
    assert week_of_month(date(2021, 2, 8)) == 2
    assert week_of_month(date(2025, 3, 2)) == 1
    assert week_of_month(date(2025, 3, 31)) == 6
    assert week_of_month(date(2024, 9, 7), first_weekday=6) == 1
    assert week_of_month(date(2024, 9, 8), first_weekday=6) == 2


def test_week_of_month_matches_grid():
    day = date(2024, 1, 1)
    while day.year == 2024:
        for first in (0, 6):
            grid = month_grid(day.year, day.month, first)
            assert day.day in grid[week_of_month(day, first) - 1]
        day += timedelta(days=1)
''',
    },
    fix={"calendar_grid.py": [
        ("    weeks = days // 7 + 1\n", "    weeks = -(-(offset + days) // 7)\n"),
        ("    return (day.day + _offset(", "    return (day.day - 1 + _offset("),
    ]},
))
