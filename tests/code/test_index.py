"""The repository's Python code by name: imports followed through packages, calls resolved, the
failure's code ranked, and the facts cached on disk by file size and time."""

from __future__ import annotations

import json
from pathlib import Path

from agent_runtime.code.focus import failure_focus
from agent_runtime.code.frames import parse_failure
from agent_runtime.code.index import RepoIndex, Target, module_of

FILES = {
    "src/shop/__init__.py": "from .cart import Cart\nfrom .pricing import *\n",
    "src/shop/pricing.py": (
        "RATE = 0.2\n\n\ndef apply_discount(price, percent):\n    return price * (1 - percent)\n\n\n"
        "def tax(price):\n    return price * RATE\n"),
    "src/shop/cart.py": (
        "from shop.pricing import apply_discount as discount\nfrom . import pricing\n\n\n"
        "class Base:\n    def describe(self):\n        return 'base'\n\n\n"
        "class Cart(Base):\n    def __init__(self):\n        self.lines = []\n\n"
        "    def add(self, price):\n        self.lines.append(price)\n\n"
        "    def total(self):\n        return sum(discount(p, 10) for p in self.lines) + pricing.tax(1)\n\n"
        "    def show(self):\n        return self.describe() + self._fmt()\n\n"
        "    def _fmt(self):\n        return str(self.total())\n"),
    "tests/test_cart.py": (
        "from shop import Cart\n\n\ndef test_total():\n    cart = Cart()\n    cart.add(100)\n"
        "    assert cart.total() == 90\n"),
}


def make(tmp_path: Path) -> RepoIndex:
    for rel, text in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return RepoIndex(tmp_path, list(FILES), cache_dir=tmp_path / "cache")


def names(targets) -> list[str]:
    return [f"{t.path}::{t.symbol.name}" for t in targets]


def test_module_names_follow_the_layout():
    assert module_of("src/shop/cart.py") == "shop.cart" and module_of("shop/__init__.py") == "shop"
    assert module_of("README.md") is None


def test_names_resolve_through_imports_relative_imports_and_star_reexports(tmp_path):
    index = make(tmp_path)
    cart = index.resolve("tests/test_cart.py", "Cart")
    assert isinstance(cart, Target) and cart.path == "src/shop/cart.py" and cart.symbol.name == "Cart"
    found = index.resolve("src/shop/__init__.py", "tax")
    assert isinstance(found, Target) and found.path == "src/shop/pricing.py", "through `from .pricing import *`"
    assert index.resolve("src/shop/cart.py", "pricing") == "src/shop/pricing.py", "a module, by path"
    inherited = index.member(cart, "describe")
    assert isinstance(inherited, Target) and inherited.symbol.name == "Base.describe"


def test_calls_resolve_locals_methods_modules_and_variables_of_known_classes(tmp_path):
    index = make(tmp_path)
    test = Target("tests/test_cart.py", index.symbol("tests/test_cart.py", "test_total"))
    assert names(index.calls(test)) == ["src/shop/cart.py::Cart.__init__", "src/shop/cart.py::Cart.add",
                                        "src/shop/cart.py::Cart.total"]
    total = Target("src/shop/cart.py", index.symbol("src/shop/cart.py", "Cart.total"))
    assert names(index.calls(total)) == ["src/shop/pricing.py::apply_discount", "src/shop/pricing.py::tax"]
    show = Target("src/shop/cart.py", index.symbol("src/shop/cart.py", "Cart.show"))
    assert names(index.calls(show)) == ["src/shop/cart.py::Base.describe", "src/shop/cart.py::Cart._fmt"]


def test_a_failing_test_ranks_its_own_function_first_then_what_it_runs(tmp_path):
    index = make(tmp_path)
    output = ("    def test_total():\n>       assert cart.total() == 90\nE       assert 90.2 == 90\n\n"
              "tests/test_cart.py:7: AssertionError\nFAILED tests/test_cart.py::test_total - assert 90.2 == 90\n")
    ranked = failure_focus(index, parse_failure(output, list(FILES)), "fix the cart total")
    keys = [f.key for f in ranked]
    assert keys[0] == "tests/test_cart.py::test_total" and ranked[0].role == "test"
    assert keys.index("src/shop/cart.py::Cart.total") < keys.index("src/shop/pricing.py::apply_discount"), \
        "what the test calls, before what that calls"
    assert all(f.role != "test" for f in ranked[1:])


def test_facts_are_cached_on_disk_and_a_changed_file_is_read_again(tmp_path):
    index = make(tmp_path)
    index.facts("src/shop/pricing.py")
    index.save()
    (cache,) = (tmp_path / "cache").iterdir()
    assert "src/shop/pricing.py" in json.loads(cache.read_text())["files"]
    again = RepoIndex(tmp_path, list(FILES), cache_dir=tmp_path / "cache")
    assert [s.name for s in again.facts("src/shop/pricing.py").symbols] == ["apply_discount", "tax"]
    (tmp_path / "src/shop/pricing.py").write_text("def other():\n    return 1\n\n\n# grown\n")
    fresh = RepoIndex(tmp_path, list(FILES), cache_dir=tmp_path / "cache")
    assert [s.name for s in fresh.facts("src/shop/pricing.py").symbols] == ["other"]


def test_files_the_agent_may_not_read_are_never_parsed(tmp_path):
    index = make(tmp_path)
    hidden = RepoIndex(tmp_path, list(FILES), readable=lambda rel: not rel.endswith("pricing.py"))
    assert hidden.facts("src/shop/pricing.py") is None and hidden.text("src/shop/pricing.py") is None
    assert hidden.resolve("src/shop/__init__.py", "tax") is None
    assert index.facts("src/shop/pricing.py") is not None
