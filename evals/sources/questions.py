"""question: a question about the code. No check command: the agent's final answer must match
every regex of `answer` (case-insensitive), and each needs a fact read out of the code (a
value worked out from it, a name together with its file), so a blank or generic answer, or
one that lists every name and path in the repository, does not pass."""

from common import question

QUESTIONS = "Answer in your final answer; do not change any files."
TASKS = []

# ---------------------------------------------------------------------------------------------
TASKS.append(question(
    id="question-cache-ttl",
    difficulty="easy",
    prompt=f"""
When nothing is configured, how many seconds does a product page stay in the cache, and in
which file is that default set? {QUESTIONS}
""",
    files={
        "README.md": r'''
# shop

The product pages of the shop. Product pages are cached for ten minutes; sessions last half
a day. Settings are read from the environment (see shop/config.py).
''',
        "shop/__init__.py": "",
        "shop/settings.py": r'''
"""Every setting's default; the environment overrides some of them (shop/config.py)."""

MINUTE = 60
HOUR = 60 * MINUTE

DEFAULTS = {
    "page_size": 24,
    "product_cache_ttl": 15 * MINUTE,
    "search_cache_ttl": 2 * MINUTE,
    "session_ttl": 12 * HOUR,
}
''',
        "shop/config.py": r'''
import os

from shop.settings import DEFAULTS

ENV = {"page_size": "SHOP_PAGE_SIZE", "session_ttl": "SHOP_SESSION_TTL"}


def setting(name):
    """A setting: its environment variable when it has one and it is set, else the default."""
    variable = ENV.get(name)
    if variable and os.environ.get(variable):
        return int(os.environ[variable])
    return DEFAULTS[name]
''',
        "shop/cache.py": r'''
import time

from shop.config import setting


class TTLCache:
    def __init__(self, ttl, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._items = {}

    def get(self, key, load):
        expires, value = self._items.get(key, (None, None))
        if expires is None or self.clock() >= expires:
            value = load(key)
            self._items[key] = (self.clock() + self.ttl, value)
        return value


def product_cache():
    return TTLCache(setting("product_cache_ttl"))


def search_cache():
    return TTLCache(setting("search_cache_ttl"))
''',
        "shop/pages.py": r'''
from shop.cache import product_cache

_products = product_cache()


def product_page(sku, load_product):
    product = _products.get(sku, load_product)
    return f"<h1>{product['name']}</h1><p>{product['price']}</p>"
''',
    },
    answer=[r"(?<![\d.])900(?![\d])", r"settings\.py"],
    reference="900 seconds: DEFAULTS['product_cache_ttl'] = 15 * MINUTE in shop/settings.py "
              "(the README's ten minutes is out of date, and no environment variable overrides it).",
))

# ---------------------------------------------------------------------------------------------
TASKS.append(question(
    id="question-database-path",
    difficulty="easy",
    prompt=f"""
Which environment variable sets where ledger's database is, and what is the database's full
path when neither that variable nor XDG_DATA_HOME is set? {QUESTIONS}
""",
    files={
        "ledger/__init__.py": "",
        "ledger/paths.py": r'''
import os
from pathlib import Path

APP = "ledger"


def data_dir():
    """Where ledger keeps its data: $XDG_DATA_HOME/ledger, else the XDG default for it."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / APP


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / APP


def database_path():
    override = os.environ.get("LEDGER_DB")
    if override:
        return Path(override).expanduser()
    return data_dir() / f"{APP}.sqlite3"
''',
        "ledger/db.py": r'''
import sqlite3

from ledger.paths import database_path


def connect(path=None):
    """The ledger database (created with its tables on first use)."""
    path = path or database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("create table if not exists entries (day text, account text, cents integer)")
    return connection
''',
        "ledger/legacy.py": r'''
"""Reads the databases of ledger 1.x, for `ledger migrate` only."""

import os
import sqlite3
from pathlib import Path


def old_database():
    return Path(os.environ.get("LEDGER_DATABASE", "~/ledger.db")).expanduser()


def old_entries():
    with sqlite3.connect(old_database()) as connection:
        return connection.execute("select date, account, amount from entries").fetchall()
''',
    },
    answer=[r"\bLEDGER_DB\b", r"\.local/share/ledger/ledger\.sqlite3"],
    reference="LEDGER_DB (ledger/paths.py, database_path). Without it and without XDG_DATA_HOME: "
              "~/.local/share/ledger/ledger.sqlite3. (LEDGER_DATABASE is only read by the 1.x migration.)",
))

# ---------------------------------------------------------------------------------------------
TASKS.append(question(
    id="question-exit-status",
    difficulty="medium",
    prompt=f"""
What exit status does `tally` end with when the config file it is given does not exist, and
which exception class carries that status? {QUESTIONS}
""",
    files={
        "tally/__init__.py": "",
        "tally/errors.py": r'''
"""The errors that end the command, each with its exit status (in the style of BSD's sysexits)."""

EX_BASE = 64


class TallyError(Exception):
    status = 1


class UsageError(TallyError):
    status = EX_BASE  # a bad command line


class DataError(TallyError):
    status = EX_BASE + 1  # a malformed data file


class NoInput(TallyError):
    status = EX_BASE + 2  # a file that cannot be opened


class ConfigError(TallyError):
    status = EX_BASE + 14  # a config file that is wrong
''',
        "tally/config.py": r'''
import json
from pathlib import Path

from tally.errors import ConfigError, NoInput


def load_config(path):
    path = Path(path)
    if not path.is_file():
        raise NoInput(f"{path}: no such config file")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(config, dict) or "column" not in config:
        raise ConfigError(f"{path}: the config needs a 'column'")
    return config
''',
        "tally/count.py": r'''
import csv
from collections import Counter

from tally.errors import DataError, NoInput


def count_file(path, config):
    """How often each value of the configured column occurs, most common first."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise NoInput(f"{path}: {exc.strerror}") from None
    try:
        counts = Counter(row[config["column"]] for row in rows)
    except KeyError:
        raise DataError(f"{path}: no column {config['column']!r}") from None
    return "\n".join(f"{value}\t{n}" for value, n in counts.most_common())
''',
        "tally/cli.py": r'''
import sys

from tally.config import load_config
from tally.count import count_file
from tally.errors import TallyError, UsageError


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) != 2:
            raise UsageError("usage: tally CONFIG DATA")
        print(count_file(args[1], load_config(args[0])))
    except TallyError as exc:
        print(f"tally: {exc}", file=sys.stderr)
        return exc.status
    return 0


if __name__ == "__main__":
    sys.exit(main())
''',
    },
    answer=[r"(?<![\d.])66(?![\d])", r"\bNoInput\b"],
    reference="66: load_config (tally/config.py) raises NoInput, whose status is EX_BASE + 2 = 66 "
              "(tally/errors.py); main returns it. ConfigError (78) is for a config that exists but is wrong.",
))

# ---------------------------------------------------------------------------------------------
TASKS.append(question(
    id="question-utc-conversion",
    difficulty="medium",
    prompt=f"""
Which function converts the event timestamps to UTC before they are stored, in which file is
it, and what UTC offset does it assume for a timestamp written without one? {QUESTIONS}
""",
    files={
        "events/__init__.py": "",
        "events/timeutil.py": r'''
from datetime import datetime, timedelta, timezone

# The old collectors in the New York office write local times without an offset, and they
# never switched to summer time.
SITE_TZ = timezone(-timedelta(hours=5))


def parse_stamp(text):
    """ISO 8601 text -> datetime (naive when the text has no offset)."""
    return datetime.fromisoformat(text)


def to_storage_time(moment):
    """Times are stored in UTC; a naive time is the site's."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SITE_TZ)
    return moment.astimezone(timezone.utc)


def to_display_time(moment, tz):
    """A stored time in the viewer's time zone."""
    return moment.astimezone(tz)


def utc_now():
    return datetime.now(timezone.utc)
''',
        "events/records.py": r'''
from events.timeutil import parse_stamp, to_storage_time


def parse_record(line):
    """'2026-03-01T09:30:00+01:00 login alice' -> {"at": ..., "event": "login", "user": "alice"}"""
    parts = line.split()
    if len(parts) != 3:
        return None
    try:
        at = to_storage_time(parse_stamp(parts[0]))
    except ValueError:
        return None
    return {"at": at, "event": parts[1], "user": parts[2]}
''',
        "events/ingest.py": r'''
from events.records import parse_record


def ingest(lines, store):
    """Parse log lines and append their records to `store`; returns how many lines were bad."""
    bad = 0
    for line in lines:
        record = parse_record(line)
        if record is None:
            bad += 1
        else:
            store.append(record)
    return bad
''',
        "events/report.py": r'''
from events.timeutil import to_display_time, utc_now


def recent(store, tz, hours=24):
    """The last `hours` of records, in the viewer's time zone."""
    since = utc_now().timestamp() - hours * 3600
    return [{**r, "at": to_display_time(r["at"], tz)} for r in store if r["at"].timestamp() >= since]
''',
    },
    answer=[r"\bto_storage_time\b", r"timeutil\.py",
            r"[-−–]\s?0?5(?![\d.])|[-−–]\s?0?5:00|[-−–]0500|minus (5|five)|(5|five) hours behind"
            r"|-timedelta\(hours=5\)"],
    reference="to_storage_time in events/timeutil.py; a timestamp without an offset is taken as "
              "UTC-05:00 (SITE_TZ, New York standard time all year).",
))

# ---------------------------------------------------------------------------------------------
TASKS.append(question(
    id="question-retry-waits",
    difficulty="hard",
    prompt=f"""
If every call of `SyncClient.pull` fails with ConnectionError, how many times does it call
the transport with the default retry policy, and how many seconds does it wait in all before
it gives up? {QUESTIONS}
""",
    files={
        "sync/__init__.py": "",
        "sync/config.py": r'''
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries in all, the first one included
    first_delay: float = 0.5  # seconds before the second try
    factor: float = 3.0
    max_delay: float = 10.0
''',
        "sync/retry.py": r'''
import time


def delays(policy):
    """The waits between tries, one fewer than the tries."""
    return [min(policy.max_delay, policy.first_delay * policy.factor ** i) for i in range(policy.attempts - 1)]


def call_with_retries(fn, policy, sleep=time.sleep, retry_on=(ConnectionError, TimeoutError)):
    for wait in delays(policy):
        try:
            return fn()
        except retry_on:
            sleep(wait)
    return fn()
''',
        "sync/client.py": r'''
from sync.config import RetryPolicy
from sync.retry import call_with_retries

# An upload that timed out may have gone through: fewer tries.
UPLOAD_POLICY = RetryPolicy(attempts=3)


class SyncClient:
    def __init__(self, transport, policy=None):
        self.transport = transport
        self.policy = policy or RetryPolicy()

    def pull(self, since):
        return call_with_retries(lambda: self.transport.get("/changes", since=since), self.policy)

    def push(self, changes):
        return call_with_retries(lambda: self.transport.post("/changes", changes), UPLOAD_POLICY)
''',
    },
    answer=[r"(?<![\d.])5(?![\d.])|\bfive\b", r"(?<![\d.])16\.5(?!\d)"],
    reference="5 calls (RetryPolicy.attempts = 5); it waits 0.5 + 1.5 + 4.5 + 10 (13.5 capped at "
              "max_delay) = 16.5 seconds in all before the fifth call fails.",
))
