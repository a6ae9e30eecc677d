"""traceback: the prompt quotes the exception a user hit; the check runs tests that reproduce it."""

from common import task

TASKS = []

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="serve-port-type-error",
    kind="traceback",
    difficulty="easy",
    prompt="""
Starting the server fails:

$ python serve.py server.ini
Traceback (most recent call last):
  File "/home/dana/projects/minisrv/serve.py", line 20, in <module>
    sys.exit(main(sys.argv))
             ^^^^^^^^^^^^^^
  File "/home/dana/projects/minisrv/serve.py", line 13, in main
    ports = candidate_ports(settings)
            ^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/home/dana/projects/minisrv/serve.py", line 8, in candidate_ports
    return list(range(settings.port, settings.port + tries))
                                     ~~~~~~~~~~~~~~^~~~~~~
TypeError: can only concatenate str (not "int") to str

Please fix it. tests/test_settings.py should pass (don't modify it).
""",
    files={
        "server.ini": r'''
[server]
host = 0.0.0.0
port = 8081
workers = 4
debug = no
''',
        "settings.py": r'''
import configparser
from dataclasses import dataclass


@dataclass
class Settings:
    host: str
    port: int
    workers: int
    debug: bool


def load_settings(path):
    """Settings from the [server] section of an INI file; missing keys get defaults."""
    parser = configparser.ConfigParser()
    with open(path, encoding="utf-8") as fh:
        parser.read_file(fh)
    section = parser["server"]
    return Settings(
        host=section.get("host", "127.0.0.1"),
        port=section.get("port", "8000"),
        workers=section.get("workers", "2"),
        debug=section.getboolean("debug", False),
    )
''',
        "serve.py": r'''
import sys

from settings import load_settings


def candidate_ports(settings, tries=3):
    """Ports to try in order: the configured one, then the next ones."""
    return list(range(settings.port, settings.port + tries))


def main(argv):
    settings = load_settings(argv[1] if len(argv) > 1 else "server.ini")
    ports = candidate_ports(settings)
    mode = "debug" if settings.debug else "production"
    print(f"{settings.workers} workers on {settings.host}, ports {ports}, {mode} mode")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
''',
        "tests/test_settings.py": r'''
from serve import candidate_ports, main
from settings import load_settings


def write(tmp_path, body):
    path = tmp_path / "server.ini"
    path.write_text("[server]\n" + body)
    return path


def test_numbers_are_ints(tmp_path):
    settings = load_settings(write(tmp_path, "port = 8081\nworkers = 4\ndebug = no\n"))
    assert settings.port == 8081 and isinstance(settings.port, int)
    assert settings.workers == 4 and isinstance(settings.workers, int)
    assert settings.debug is False


def test_defaults(tmp_path):
    settings = load_settings(write(tmp_path, "debug = yes\n"))
    assert (settings.host, settings.port, settings.workers, settings.debug) == ("127.0.0.1", 8000, 2, True)
    assert isinstance(settings.port, int) and isinstance(settings.workers, int)


def test_candidate_ports(tmp_path):
    settings = load_settings(write(tmp_path, "port = 9000\n"))
    assert candidate_ports(settings) == [9000, 9001, 9002]
    assert candidate_ports(settings, tries=1) == [9000]


def test_main_runs(tmp_path, capsys):
    assert main(["serve.py", str(write(tmp_path, "port = 8081\nworkers = 4\n"))]) == 0
    assert "4 workers on 127.0.0.1, ports [8081, 8082, 8083], production mode" in capsys.readouterr().out
''',
    },
    fix={"settings.py": [
        ('port=section.get("port", "8000")', 'port=section.getint("port", 8000)'),
        ('workers=section.get("workers", "2")', 'workers=section.getint("workers", 2)'),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="sales-report-keyerror",
    kind="traceback",
    difficulty="easy",
    prompt="""
Running the report on this month's export crashes:

$ python report.py data/sales.csv
Traceback (most recent call last):
  File "/srv/reports/report.py", line 22, in <module>
    sys.exit(main(sys.argv))
             ^^^^^^^^^^^^^^
  File "/srv/reports/report.py", line 16, in main
    for region, total in totals_by_region(argv[1]).items():
                         ^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/srv/reports/report.py", line 11, in totals_by_region
    totals[row["region"]] += float(row["amount"])
           ~~~^^^^^^^^^^
KeyError: 'region'

The file definitely has a region column. Fix report.py; tests/test_report.py must pass.
""",
    setup="python scripts/export_sample.py data/sales.csv",
    also_protected=("scripts/export_sample.py",),
    files={
        ".gitignore": "data/\n__pycache__/\n",
        "scripts/export_sample.py": r'''
"""Writes a sample export the way the billing system does (spaces after the commas)."""

import sys
from pathlib import Path

ROWS = [("month", "region", "amount", "units"), ("2024-04", "north", "120.50", "3"),
        ("2024-04", "south", "80.00", "2"), ("2024-04", "north", "19.50", "1")]

path = Path(sys.argv[1] if len(sys.argv) > 1 else "data/sales.csv")
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text("".join(", ".join(row) + "\n" for row in ROWS))
''',
        "report.py": r'''
import csv
import sys
from collections import defaultdict


def totals_by_region(path):
    """Sum of the amount column per region, sorted by region."""
    totals = defaultdict(float)
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            totals[row["region"]] += float(row["amount"])
    return dict(sorted(totals.items()))


def main(argv):
    for region, total in totals_by_region(argv[1]).items():
        print(f"{region:<10}{total:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
''',
        "tests/test_report.py": r'''
import subprocess
import sys

from report import main, totals_by_region


def test_export_with_spaces(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("month, region, amount\n2024-04, north, 120.50\n2024-04, south, 80.00\n"
                    "2024-05, north, 19.50\n")
    assert totals_by_region(path) == {"north": 140.0, "south": 80.0}


def test_plain_csv_still_works(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("region,amount\nwest,10.25\neast,1\nwest,0.75\n")
    assert totals_by_region(path) == {"east": 1.0, "west": 11.0}


def test_main_prints_table(tmp_path, capsys):
    subprocess.run([sys.executable, "scripts/export_sample.py", str(tmp_path / "s.csv")], check=True)
    assert main(["report.py", str(tmp_path / "s.csv")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "north         140.00",
        "south          80.00",
    ]
''',
    },
    fix={"report.py": [("csv.DictReader(fh)", "csv.DictReader(fh, skipinitialspace=True)")]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="events-json-datetime",
    kind="traceback",
    difficulty="easy",
    prompt="""
Saving events fails:

$ python save_today.py
Traceback (most recent call last):
  File "/home/sam/work/tracker/save_today.py", line 11, in <module>
    dump_events(events, "events.json")
  File "/home/sam/work/tracker/events.py", line 9, in dump_events
    json.dump(events, fh, indent=2)
  File "/usr/lib/python3.11/json/__init__.py", line 179, in dump
    for chunk in iterable:
  File "/usr/lib/python3.11/json/encoder.py", line 430, in _iterencode
    yield from _iterencode_list(o, _current_indent_level)
  File "/usr/lib/python3.11/json/encoder.py", line 326, in _iterencode_list
    yield from chunks
  File "/usr/lib/python3.11/json/encoder.py", line 406, in _iterencode_dict
    yield from chunks
  File "/usr/lib/python3.11/json/encoder.py", line 439, in _iterencode
    o = _default(o)
        ^^^^^^^^^^^
  File "/usr/lib/python3.11/json/encoder.py", line 180, in default
    raise TypeError(f'Object of type {o.__class__.__name__} '
TypeError: Object of type datetime is not JSON serializable

Fix events.py so tests/test_events.py passes (leave the test alone).
""",
    files={
        "events.py": r'''
import json
from datetime import date, datetime


def dump_events(events, path):
    """Write events (dicts) to a JSON file. datetime and date values are stored as
    ISO 8601 strings."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(events, fh, indent=2)


def load_events(path):
    """Events written by dump_events; the "at" and "day" fields become datetime/date again."""
    with open(path, encoding="utf-8") as fh:
        events = json.load(fh)
    for event in events:
        if "at" in event:
            event["at"] = datetime.fromisoformat(event["at"])
        if "day" in event:
            event["day"] = date.fromisoformat(event["day"])
    return events
''',
        "save_today.py": r'''
from datetime import date, datetime, timezone

from events import dump_events

events = [
    {"name": "deploy", "at": datetime(2024, 5, 1, 14, 5, tzinfo=timezone.utc)},
    {"name": "release day", "day": date(2024, 5, 1)},
]

if __name__ == "__main__":
    dump_events(events, "events.json")
    print(f"saved {len(events)} events")
''',
        "tests/test_events.py": r'''
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from events import dump_events, load_events

EVENTS = [
    {"name": "standup", "at": datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc), "tags": ["team"]},
    {"name": "holiday", "day": date(2024, 5, 8)},
    {"name": "call", "at": datetime(2024, 5, 2, 17, 0, tzinfo=timezone(timedelta(hours=2)))},
]


def test_round_trip(tmp_path):
    path = tmp_path / "events.json"
    dump_events(EVENTS, path)
    assert load_events(path) == EVENTS


def test_iso_strings_on_disk(tmp_path):
    path = tmp_path / "events.json"
    dump_events(EVENTS, path)
    raw = json.loads(path.read_text())
    assert raw[0]["at"] == "2024-05-01T09:30:00+00:00"
    assert raw[1]["day"] == "2024-05-08"
    assert raw[2]["at"] == "2024-05-02T17:00:00+02:00"
    assert raw[0]["tags"] == ["team"]


def test_other_objects_still_rejected(tmp_path):
    with pytest.raises(TypeError):
        dump_events([{"name": "x", "ids": {1, 2}}], tmp_path / "bad.json")
''',
    },
    fix={"events.py": [
        ("        json.dump(events, fh, indent=2)\n",
         "        json.dump(events, fh, indent=2, default=_encode)\n"),
        ("def dump_events(events, path):",
         '''def _encode(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dump_events(events, path):'''),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="billing-month-end",
    kind="traceback",
    difficulty="medium",
    prompt="""
A customer who signed up on January 31st broke our billing schedule:

>>> from billing import schedule
>>> schedule(date(2024, 1, 31), 4)
Traceback (most recent call last):
  File "<stdin>", line 1, in <module>
  File "/home/ops/billing/billing.py", line 18, in schedule
    return [next_billing_date(start, i) for i in range(count)]
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/home/ops/billing/billing.py", line 18, in <listcomp>
    return [next_billing_date(start, i) for i in range(count)]
            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/home/ops/billing/billing.py", line 14, in next_billing_date
    return add_months(start, cycles)
           ^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/home/ops/billing/billing.py", line 9, in add_months
    return day.replace(year=year, month=month)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
ValueError: day is out of range for month

Please fix it; tests/test_billing.py describes what we expect. Don't edit the tests.
""",
    files={
        "billing.py": r'''
from datetime import date


def add_months(day, months):
    """The same day of the month `months` later (earlier if negative). When that month is
    shorter, the result is its last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month)


def next_billing_date(start, cycles):
    """Billing date of cycle number `cycles` of a monthly plan that started on `start`."""
    return add_months(start, cycles)


def schedule(start, count):
    return [next_billing_date(start, i) for i in range(count)]


def is_billing_day(start, day):
    return any(next_billing_date(start, i) == day for i in range(0, 1200))
''',
        "tests/test_billing.py": r'''
from datetime import date

from billing import add_months, is_billing_day, schedule


def test_schedule_from_month_end():
    assert schedule(date(2024, 1, 31), 4) == [
        date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_non_leap_february():
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2023, 1, 29), 1) == date(2023, 2, 28)


def test_year_boundaries_and_negative_months():
    assert add_months(date(2024, 11, 15), 3) == date(2025, 2, 15)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 10), -13) == date(2022, 12, 10)
    assert add_months(date(2024, 5, 20), 0) == date(2024, 5, 20)


def test_is_billing_day():
    assert is_billing_day(date(2024, 1, 31), date(2024, 2, 29))
    assert not is_billing_day(date(2024, 1, 31), date(2024, 2, 28))
''',
    },
    fix={"billing.py": [
        ("from datetime import date\n", "import calendar\nfrom datetime import date\n"),
        ("    return day.replace(year=year, month=month)",
         "    last = calendar.monthrange(year, month)[1]\n"
         "    return day.replace(year=year, month=month, day=min(day.day, last))"),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="retry-unbound-exc",
    kind="traceback",
    difficulty="medium",
    prompt="""
When the upstream API is down for good, the sync job dies with a confusing error instead of
reporting that it gave up:

$ python sync_job.py
Traceback (most recent call last):
  File "/opt/sync/sync_job.py", line 13, in <module>
    print(retry(fetch_orders, attempts=3, base_delay=0.01))
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/sync/retry.py", line 26, in retry
    raise RetryExhausted(f"gave up after {attempts} attempts") from exc
                                                                    ^^^
UnboundLocalError: cannot access local variable 'exc' where it is not associated with a value

Fix it (tests/test_retry.py must pass; don't change the tests).
""",
    files={
        "retry.py": r'''
import time


class TransientError(Exception):
    """Raised by operations that may succeed when tried again."""


class RetryExhausted(Exception):
    """Every try failed; __cause__ is the last TransientError."""


def retry(operation, attempts=3, base_delay=0.5, sleep=time.sleep):
    """Call `operation` until it succeeds, at most `attempts` times.

    Waits base_delay, 2 * base_delay, 4 * base_delay, ... between tries. Only
    TransientError is retried; other exceptions propagate at once."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return operation()
        except TransientError as exc:
            if attempt == attempts - 1:
                break
            sleep(base_delay * 2 ** attempt)
    raise RetryExhausted(f"gave up after {attempts} attempts") from exc
''',
        "sync_job.py": r'''
from retry import TransientError, retry

calls = 0


def fetch_orders():
    global calls
    calls += 1
    raise TransientError(f"503 from upstream (call {calls})")


if __name__ == "__main__":
    print(retry(fetch_orders, attempts=3, base_delay=0.01))
''',
        "tests/test_retry.py": r'''
import pytest

from retry import RetryExhausted, TransientError, retry


class Flaky:
    def __init__(self, failures, result="ok"):
        self.failures, self.result, self.calls = failures, result, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientError(f"try {self.calls}")
        return self.result


def test_succeeds_after_failures():
    sleeps = []
    op = Flaky(2)
    assert retry(op, attempts=3, base_delay=0.5, sleep=sleeps.append) == "ok"
    assert op.calls == 3
    assert sleeps == [0.5, 1.0]


def test_gives_up_with_last_error_as_cause():
    sleeps = []
    op = Flaky(10)
    with pytest.raises(RetryExhausted, match="gave up after 3 attempts") as info:
        retry(op, attempts=3, base_delay=0.5, sleep=sleeps.append)
    assert isinstance(info.value.__cause__, TransientError)
    assert str(info.value.__cause__) == "try 3"
    assert op.calls == 3
    assert sleeps == [0.5, 1.0]


def test_single_attempt_does_not_sleep():
    sleeps = []
    with pytest.raises(RetryExhausted) as info:
        retry(Flaky(1), attempts=1, sleep=sleeps.append)
    assert str(info.value.__cause__) == "try 1"
    assert sleeps == []


def test_other_errors_are_not_retried():
    sleeps = []

    def broken():
        raise KeyError("config")

    with pytest.raises(KeyError):
        retry(broken, attempts=5, sleep=sleeps.append)
    assert sleeps == []
''',
    },
    fix={"retry.py": [
        ("    for attempt in range(attempts):", "    last_error = None\n    for attempt in range(attempts):"),
        ("        except TransientError as exc:\n", "        except TransientError as exc:\n            last_error = exc\n"),
        ("attempts\") from exc", "attempts\") from last_error"),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="config-copy-recursion",
    kind="traceback",
    difficulty="hard",
    prompt="""
`python worker.py` crashes before doing anything:

Traceback (most recent call last):
  File "/home/lee/svc/worker.py", line 12, in <module>
    main()
  File "/home/lee/svc/worker.py", line 7, in main
    job_cfg = BASE.with_overrides(retries=5)
              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/home/lee/svc/config_obj.py", line 19, in with_overrides
    clone = copy.copy(self)
            ^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/copy.py", line 102, in copy
    return _reconstruct(x, None, *rv)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/copy.py", line 272, in _reconstruct
    if hasattr(y, '__setstate__'):
       ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/home/lee/svc/config_obj.py", line 13, in __getattr__
    return self._values[name]
           ^^^^^^^^^^^^
  File "/home/lee/svc/config_obj.py", line 13, in __getattr__
    return self._values[name]
           ^^^^^^^^^^^^
  File "/home/lee/svc/config_obj.py", line 13, in __getattr__
    return self._values[name]
           ^^^^^^^^^^^^
  [Previous line repeated 991 more times]
RecursionError: maximum recursion depth exceeded

Config objects also have to survive pickling (we send them to worker processes). Please fix;
tests/test_config_obj.py must pass and must not be modified.
""",
    files={
        "config_obj.py": r'''
import copy


class Config:
    """Read-only attribute access to settings: cfg.db_url instead of cfg["db_url"]."""

    def __init__(self, values=None, **overrides):
        self._values = {**(values or {}), **overrides}

    def __getattr__(self, name):
        # Only called when normal lookup fails, i.e. for setting names.
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no setting named {name!r}") from None

    def with_overrides(self, **overrides):
        """A copy with some settings replaced; this config is left unchanged."""
        clone = copy.copy(self)
        clone._values = {**self._values, **overrides}
        return clone

    def as_dict(self):
        return dict(self._values)
''',
        "worker.py": r'''
from config_obj import Config

BASE = Config({"db_url": "sqlite:///jobs.db", "retries": 3, "queue": "default"})


def main():
    job_cfg = BASE.with_overrides(retries=5)
    print(f"worker on {job_cfg.queue}: {job_cfg.retries} retries, db {job_cfg.db_url}")


if __name__ == "__main__":
    main()
''',
        "tests/test_config_obj.py": r'''
import copy
import pickle

import pytest

from config_obj import Config


def make():
    return Config({"db_url": "sqlite:///jobs.db", "retries": 3}, queue="fast")


def test_attribute_access():
    cfg = make()
    assert (cfg.db_url, cfg.retries, cfg.queue) == ("sqlite:///jobs.db", 3, "fast")


def test_missing_setting_is_attribute_error():
    cfg = make()
    with pytest.raises(AttributeError, match="no setting named 'timeout'"):
        cfg.timeout
    assert not hasattr(cfg, "timeout")
    assert getattr(cfg, "timeout", 30) == 30


def test_with_overrides_leaves_original_alone():
    cfg = make()
    other = cfg.with_overrides(retries=5, timeout=10)
    assert (other.retries, other.timeout, other.queue) == (5, 10, "fast")
    assert cfg.retries == 3 and not hasattr(cfg, "timeout")


def test_copies_and_pickle():
    cfg = make()
    for clone in (copy.copy(cfg), copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg))):
        assert clone.as_dict() == cfg.as_dict()
        assert clone.retries == 3
''',
    },
    fix={"config_obj.py": [(
        "        # Only called when normal lookup fails, i.e. for setting names.\n        try:",
        "        # Only called when normal lookup fails, i.e. for setting names. Private and\n"
        "        # dunder names (copy and pickle look up __setstate__ on an object that has no\n"
        "        # _values yet) must not reach self._values.\n"
        "        if name.startswith(\"_\"):\n"
        "            raise AttributeError(name)\n"
        "        try:",
    )]},
))
