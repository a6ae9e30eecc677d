"""renamed-api: a function, method, class or keyword argument was renamed in one module of the
repository and the callers were not updated. The renamed module is protected: the fix belongs
in the callers (an alias added to the renamed module is thrown away before the check)."""

from common import task

TASKS = []

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="read-config-renamed",
    kind="renamed-api",
    difficulty="easy",
    prompt="""
After pulling the latest changes, tests/test_app.py fails with
`AttributeError: module 'config' has no attribute 'load_config'`. The change to config.py was
made on purpose by another team. Update our code so the tests pass; don't edit config.py or
the tests.
""",
    also_protected=("config.py",),
    files={
        "config.py": r'''
import json
from pathlib import Path

DEFAULTS = {"theme": "light", "page_size": 20, "language": "en"}


def read_config(path):
    """Settings from a JSON file merged over DEFAULTS; a missing file gives the defaults."""
    p = Path(path)
    data = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown settings: {unknown}")
    return {**DEFAULTS, **data}
''',
        "app.py": r'''
import config

GREETINGS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo"}


def page_size(path="settings.json"):
    return config.load_config(path)["page_size"]


def greeting(name, path="settings.json"):
    settings = config.load_config(path)
    return f"{GREETINGS[settings['language']]}, {name}!"
''',
        "tests/test_app.py": r'''
import json

import pytest

from app import greeting, page_size


def test_defaults_when_file_missing(tmp_path):
    missing = tmp_path / "nope.json"
    assert page_size(missing) == 20
    assert greeting("Ana", missing) == "Hello, Ana!"


def test_values_from_file(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"page_size": 50, "language": "fr"}))
    assert page_size(path) == 50
    assert greeting("Ana", path) == "Bonjour, Ana!"


def test_unknown_setting_rejected(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"colour": "red"}))
    with pytest.raises(ValueError):
        page_size(path)
''',
    },
    fix={"app.py": [
        ('return config.load_config(path)["page_size"]', 'return config.read_config(path)["page_size"]'),
        ("settings = config.load_config(path)", "settings = config.read_config(path)"),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="timeout-kwarg-renamed",
    kind="renamed-api",
    difficulty="easy",
    prompt="""
tests/test_status.py fails with
`TypeError: HttpClient.get() got an unexpected keyword argument 'timeout'`.
http_client.py changed its API on purpose (see its docstrings) and must stay as it is; fix
the code that uses it. Don't change the tests.
""",
    also_protected=("http_client.py",),
    files={
        "http_client.py": r'''
class Response:
    def __init__(self, status, body=""):
        self.status = status
        self.body = body


class HttpClient:
    """A thin client over a `transport` callable: transport(request dict) -> Response."""

    def __init__(self, transport, base_url):
        self.transport = transport
        self.base_url = base_url.rstrip("/")

    def get(self, path, *, timeout_s=10.0, headers=None):
        """GET base_url + path. timeout_s: seconds allowed for the whole request."""
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        request = {"method": "GET", "url": self.base_url + path, "timeout_s": timeout_s,
                   "headers": dict(headers or {})}
        return self.transport(request)
''',
        "status.py": r'''
def service_is_up(client):
    """True when /health answers 200 within two seconds."""
    try:
        response = client.get("/health", timeout=2)
    except TimeoutError:
        return False
    return response.status == 200


def service_version(client):
    response = client.get("/version", timeout=5, headers={"Accept": "text/plain"})
    if response.status != 200:
        return None
    return response.body.strip()
''',
        "tests/test_status.py": r'''
from http_client import HttpClient, Response
from status import service_is_up, service_version


class FakeTransport:
    def __init__(self, responses):
        self.responses, self.requests = responses, []

    def __call__(self, request):
        self.requests.append(request)
        answer = self.responses[request["url"]]
        if isinstance(answer, Exception):
            raise answer
        return answer


def make(responses):
    transport = FakeTransport(responses)
    return HttpClient(transport, "http://svc.local/"), transport


def test_health():
    client, transport = make({"http://svc.local/health": Response(200)})
    assert service_is_up(client) is True
    assert transport.requests[0]["timeout_s"] == 2
    client, _ = make({"http://svc.local/health": Response(503)})
    assert service_is_up(client) is False
    client, _ = make({"http://svc.local/health": TimeoutError()})
    assert service_is_up(client) is False


def test_version():
    client, transport = make({"http://svc.local/version": Response(200, "1.4.2\n")})
    assert service_version(client) == "1.4.2"
    assert transport.requests[0]["timeout_s"] == 5
    assert transport.requests[0]["headers"] == {"Accept": "text/plain"}
    client, _ = make({"http://svc.local/version": Response(404)})
    assert service_version(client) is None
''',
    },
    fix={"status.py": [
        ('client.get("/health", timeout=2)', 'client.get("/health", timeout_s=2)'),
        ('client.get("/version", timeout=5,', 'client.get("/version", timeout_s=5,'),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="basket-add-renamed",
    kind="renamed-api",
    difficulty="easy",
    prompt="""
Since the Basket refactor, tests/test_checkout.py and tests/test_importer.py fail with
AttributeError. basket.py is the new API and must not change; fix the code that uses it so
the tests pass. Leave the tests alone.
""",
    also_protected=("basket.py",),
    files={
        "basket.py": r'''
class Basket:
    def __init__(self):
        self._lines = {}  # sku -> [quantity, unit_price]

    def add(self, sku, quantity=1, unit_price=0.0):
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        line = self._lines.setdefault(sku, [0, unit_price])
        line[0] += quantity

    def remove(self, sku):
        self._lines.pop(sku, None)

    def quantity(self, sku):
        return self._lines.get(sku, [0, 0.0])[0]

    def total(self):
        return round(sum(q * p for q, p in self._lines.values()), 2)
''',
        "checkout.py": r'''
from basket import Basket

FREE_GIFT_FROM = 50.0


def build_basket(order_lines):
    """order_lines: (sku, quantity, unit_price). Orders of FREE_GIFT_FROM or more get a gift."""
    basket = Basket()
    for sku, quantity, unit_price in order_lines:
        basket.add_item(sku, quantity, unit_price)
    if basket.total() >= FREE_GIFT_FROM:
        basket.add_item("gift-card", 1, 0.0)
    return basket
''',
        "importer.py": r'''
from basket import Basket


def basket_from_text(text):
    """Lines like 'pen x3 @1.20'; blank lines and lines starting with # are skipped."""
    basket = Basket()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sku, rest = line.split(" x", 1)
        quantity, price = rest.split(" @")
        basket.add_item(sku.strip(), int(quantity), float(price))
    return basket
''',
        "tests/test_checkout.py": r'''
from checkout import build_basket


def test_small_order():
    basket = build_basket([("pen", 3, 1.20), ("pad", 1, 4.00)])
    assert basket.total() == 7.60
    assert basket.quantity("pen") == 3
    assert basket.quantity("gift-card") == 0


def test_gift_from_fifty():
    basket = build_basket([("lamp", 2, 25.00)])
    assert basket.quantity("gift-card") == 1
    assert basket.total() == 50.00
''',
        "tests/test_importer.py": r'''
from importer import basket_from_text


def test_import_lines():
    basket = basket_from_text("# order 17\npen x3 @1.20\n\npad x1 @4.00\npen x2 @1.20\n")
    assert basket.quantity("pen") == 5
    assert basket.quantity("pad") == 1
    assert basket.total() == 10.00
''',
    },
    fix={
        "checkout.py": [("basket.add_item(sku, quantity, unit_price)", "basket.add(sku, quantity, unit_price)"),
                        ('basket.add_item("gift-card", 1, 0.0)', 'basket.add("gift-card", 1, 0.0)')],
        "importer.py": [("basket.add_item(sku.strip()", "basket.add(sku.strip()")],
    },
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="slugify-renamed-across-modules",
    kind="renamed-api",
    difficulty="medium",
    prompt="""
The blog's tests (tests/test_posts.py, tests/test_feeds.py) no longer even import since
textkit.py was reworked. textkit.py is shared with other projects and must not change; update
the blog package to its current API. Don't edit the tests.
""",
    also_protected=("textkit.py",),
    files={
        "textkit.py": r'''
"""Text helpers shared by several projects."""

import re
import unicodedata


def slugify(text, separator="-", lowercase=True):
    """URL-safe form of `text`: ASCII letters and digits joined by `separator`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    if lowercase:
        ascii_text = ascii_text.lower()
    return separator.join(re.findall(r"[A-Za-z0-9]+", ascii_text))


def excerpt(text, words=30):
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
''',
        "blog/__init__.py": "",
        "blog/posts.py": r'''
from textkit import excerpt, make_slug


def post_url(post):
    """/2024/hello-world/ for a post titled "Hello, World!" published in 2024."""
    return f"/{post['year']}/{make_slug(post['title'])}/"


def tag_ids(post):
    """Tags as identifiers: "Deep Dive" -> "deep_dive"."""
    return [make_slug(tag, sep="_") for tag in post.get("tags", [])]


def teaser(post):
    return excerpt(post["body"], words=5)
''',
        "blog/feeds.py": r'''
from blog.posts import post_url
from textkit import make_slug


def feed_entry(post, site="https://example.org"):
    return {"id": f"{site}{post_url(post)}", "title": post["title"],
            "category": make_slug(post.get("section", "General"), sep="-")}
''',
        "tests/test_posts.py": r'''
from blog.posts import post_url, tag_ids, teaser

POST = {"year": 2024, "title": "Crème Brûlée, Twice!", "tags": ["Deep Dive", "FAQ"],
        "body": "one two three four five six seven"}


def test_post_url():
    assert post_url(POST) == "/2024/creme-brulee-twice/"


def test_tag_ids():
    assert tag_ids(POST) == ["deep_dive", "faq"]
    assert tag_ids({"year": 2024, "title": "x"}) == []


def test_teaser():
    assert teaser(POST) == "one two three four five ..."
''',
        "tests/test_feeds.py": r'''
from blog.feeds import feed_entry


def test_feed_entry():
    post = {"year": 2023, "title": "Hello, World!", "section": "Release Notes"}
    assert feed_entry(post) == {"id": "https://example.org/2023/hello-world/",
                                "title": "Hello, World!", "category": "release-notes"}


def test_default_section():
    assert feed_entry({"year": 2023, "title": "A"})["category"] == "general"
''',
    },
    fix={
        "blog/posts.py": [
            ("from textkit import excerpt, make_slug", "from textkit import excerpt, slugify"),
            ("{make_slug(post['title'])}", "{slugify(post['title'])}"),
            ('make_slug(tag, sep="_")', 'slugify(tag, separator="_")'),
        ],
        "blog/feeds.py": [
            ("from textkit import make_slug", "from textkit import slugify"),
            ('make_slug(post.get("section", "General"), sep="-")', 'slugify(post.get("section", "General"))'),
        ],
    },
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="token-bucket-renamed",
    kind="renamed-api",
    difficulty="medium",
    prompt="""
`python -m pytest tests/test_client.py` errors during collection with
`ImportError: cannot import name 'RateLimiter' from 'throttle'`. throttle.py was rewritten on
purpose and is used elsewhere, so leave it unchanged and adapt client.py to it. The tests
must not be changed.
""",
    also_protected=("throttle.py",),
    files={
        "throttle.py": r'''
import time


class TokenBucket:
    """Token bucket: holds up to `capacity` tokens and gains `rate` tokens per second.
    Starts full. (Replaces RateLimiter(rate_per_sec=..., burst=...).acquire().)"""

    def __init__(self, rate, capacity, clock=None):
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self.rate = rate
        self.capacity = capacity
        self.clock = clock or time.monotonic
        self._tokens = float(capacity)
        self._last = self.clock()

    def take(self, tokens=1):
        """Take `tokens` if available; False (and nothing taken) otherwise."""
        now = self.clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= tokens:
            self._tokens -= tokens
            return True
        return False
''',
        "client.py": r'''
from throttle import RateLimiter


class Throttled(Exception):
    pass


class ApiClient:
    """Sends payloads through `send`, at most `rate_per_sec` per second with bursts of `burst`.
    Batches cost one token per item."""

    def __init__(self, send, rate_per_sec=5, burst=10, clock=None):
        self.send = send
        self.limiter = RateLimiter(rate_per_sec=rate_per_sec, burst=burst, clock=clock)

    def call(self, payload):
        if not self.limiter.acquire():
            raise Throttled("rate limit reached")
        return self.send(payload)

    def call_batch(self, payloads):
        if not self.limiter.acquire(len(payloads)):
            raise Throttled("rate limit reached")
        return [self.send(p) for p in payloads]
''',
        "tests/test_client.py": r'''
import pytest

from client import ApiClient, Throttled


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_burst_then_throttled():
    clock = Clock()
    client = ApiClient(lambda p: p * 2, rate_per_sec=1, burst=3, clock=clock)
    assert [client.call(i) for i in range(3)] == [0, 2, 4]
    with pytest.raises(Throttled):
        client.call(9)
    clock.now += 1.0
    assert client.call(5) == 10


def test_batches_cost_one_token_each():
    clock = Clock()
    sent = []
    client = ApiClient(sent.append, rate_per_sec=2, burst=4, clock=clock)
    client.call_batch(["a", "b", "c"])
    with pytest.raises(Throttled):
        client.call_batch(["d", "e"])
    assert sent == ["a", "b", "c"]
    clock.now += 0.5
    client.call_batch(["d", "e"])
    assert sent == ["a", "b", "c", "d", "e"]


def test_default_clock():
    client = ApiClient(lambda p: p, rate_per_sec=5, burst=2)
    assert client.call("x") == "x"
''',
    },
    fix={"client.py": [
        ("from throttle import RateLimiter", "from throttle import TokenBucket"),
        ("RateLimiter(rate_per_sec=rate_per_sec, burst=burst, clock=clock)",
         "TokenBucket(rate=rate_per_sec, capacity=burst, clock=clock)"),
        ("if not self.limiter.acquire():", "if not self.limiter.take():"),
        ("if not self.limiter.acquire(len(payloads)):", "if not self.limiter.take(len(payloads)):"),
    ]},
))

# ---------------------------------------------------------------------------------------------
TASKS.append(task(
    id="user-store-fetch-dict",
    kind="renamed-api",
    difficulty="hard",
    prompt="""
UserStore.get_many() was replaced by UserStore.fetch() in store.py (on purpose; other services
already use the new method and store.py must not change). reports.py and notify.py still call
the old method, so tests/test_reports.py and tests/test_notify.py fail. Port them to the new
API without changing what they return. Don't edit the tests.
""",
    also_protected=("store.py",),
    files={
        "store.py": r'''
class UserStore:
    def __init__(self, rows):
        self._rows = {row["id"]: dict(row) for row in rows}

    def fetch(self, ids):
        """{id: user} for the given ids; unknown ids are left out.

        Replaces get_many(ids), which returned a list in the order of `ids` with None for
        unknown ids."""
        return {i: dict(self._rows[i]) for i in ids if i in self._rows}

    def add(self, row):
        self._rows[row["id"]] = dict(row)
''',
        "reports.py": r'''
def owner_names(store, ids):
    """Names for `ids`, in the same order; "unknown" for ids not in the store."""
    users = store.get_many(ids)
    return [user["name"] if user else "unknown" for user in users]


def active_emails(store, ids):
    """Sorted e-mail addresses of the active users among `ids`."""
    return sorted(u["email"] for u in store.get_many(ids) if u and u["active"])
''',
        "notify.py": r'''
def recipients(store, team):
    """(id, email) of the team members who exist and are active, in team order, each
    member once."""
    members = team["members"]
    users = store.get_many(members)
    seen = set()
    result = []
    for member_id, user in zip(members, users):
        if user is None or not user["active"] or member_id in seen:
            continue
        seen.add(member_id)
        result.append((member_id, user["email"]))
    return result
''',
        "tests/conftest.py": r'''
import pytest

from store import UserStore


@pytest.fixture
def store():
    return UserStore([
        {"id": 1, "name": "Ada", "email": "ada@example.org", "active": True},
        {"id": 2, "name": "Bo", "email": "bo@example.org", "active": False},
        {"id": 3, "name": "Cy", "email": "cy@example.org", "active": True},
        {"id": 4, "name": "Di", "email": "di@example.org", "active": True},
    ])
''',
        "tests/test_reports.py": r'''
from reports import active_emails, owner_names


def test_owner_names_keep_order_and_unknowns(store):
    assert owner_names(store, [3, 99, 1, 3]) == ["Cy", "unknown", "Ada", "Cy"]
    assert owner_names(store, []) == []


def test_active_emails(store):
    assert active_emails(store, [4, 2, 1, 42]) == ["ada@example.org", "di@example.org"]
''',
        "tests/test_notify.py": r'''
from notify import recipients


def test_recipients_in_team_order(store):
    team = {"members": [4, 7, 2, 1, 4, 3]}
    assert recipients(store, team) == [(4, "di@example.org"), (1, "ada@example.org"),
                                       (3, "cy@example.org")]


def test_empty_team(store):
    assert recipients(store, {"members": []}) == []
''',
    },
    fix={
        "reports.py": [
            ("    users = store.get_many(ids)\n    return [user[\"name\"] if user else \"unknown\" for user in users]",
             "    users = store.fetch(ids)\n"
             "    return [users[i][\"name\"] if i in users else \"unknown\" for i in ids]"),
            ("for u in store.get_many(ids) if u and u[\"active\"]",
             "for u in store.fetch(ids).values() if u[\"active\"]"),
        ],
        "notify.py": [
            ("    users = store.get_many(members)\n", "    users = store.fetch(members)\n"),
            ("    for member_id, user in zip(members, users):\n",
             "    for member_id in members:\n        user = users.get(member_id)\n"),
        ],
    },
))
