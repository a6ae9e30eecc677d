"""code/byname.py: a block of the definitions that change, written back by name into the files that
define them; everything else in the files byte for byte; tests and self-imports never put into code."""

from __future__ import annotations

import pytest

from agent_runtime.code.byname import first_block, place
from agent_runtime.code.symbols import SymbolError

CART = '''"""A cart."""
import math

RATE = 0.2


def tax(amount):
    return amount * RATE


class Cart:
    def __init__(self):
        self.items = []

    def add(self, price):
        self.items.append(price)

    def total(self):
        return sum(self.items)
'''
UTIL = "def slug(text):\n    return text.lower()\n"


def test_a_function_is_replaced_where_it_stands_and_nothing_else_moves():
    placed = place("def tax(amount):\n    return round(amount * RATE, 2)\n", {"shop/cart.py": CART, "shop/util.py": UTIL})
    assert list(placed.texts) == ["shop/cart.py"] and placed.names == ["shop/cart.py::tax"]
    assert placed.texts["shop/cart.py"] == CART.replace("return amount * RATE", "return round(amount * RATE, 2)")


def test_a_method_written_alone_or_inside_its_class_goes_into_the_class():
    alone = place("def total(self):\n    return round(sum(self.items), 2)\n", {"cart.py": CART})
    inside = place("class Cart:\n    def total(self):\n        return round(sum(self.items), 2)\n", {"cart.py": CART})
    expected = CART.replace("return sum(self.items)", "return round(sum(self.items), 2)")
    assert alone.texts["cart.py"] == inside.texts["cart.py"] == expected, "the other methods stay"
    assert (alone.names, inside.names) == (["cart.py::Cart.total"], ["cart.py::Cart"])


def test_a_new_method_goes_at_the_end_of_its_class_and_a_new_helper_at_the_end_of_the_file():
    placed = place("class Cart:\n    def clear(self):\n        self.items = []\n\n"
                   "def _cents(x):\n    return int(x * 100)\n\n"
                   "def tax(amount):\n    return _cents(amount * RATE) / 100\n", {"cart.py": CART})
    text = placed.texts["cart.py"]
    assert "    def clear(self):\n        self.items = []\n" in text and text.index("def clear") > text.index("def total")
    assert text.rstrip().endswith("def _cents(x):\n    return int(x * 100)")
    compile(text, "cart.py", "exec")


def test_a_constant_is_replaced_by_name_and_an_import_goes_in_only_where_it_is_used():
    placed = place("import decimal\nimport os\nRATE = 0.25\n\ndef tax(amount):\n    return decimal.Decimal(amount) * RATE\n",
                   {"cart.py": CART})
    text = placed.texts["cart.py"]
    assert "RATE = 0.25\n" in text and "RATE = 0.2\n" not in text
    assert "import math\nimport decimal\n" in text, "after the file's last import"
    assert "import os" not in text, "an import nothing uses stays out"


def test_tests_and_the_module_s_own_import_are_never_put_into_code():
    block = ("from cart import tax\nimport pytest\n\ndef tax(amount):\n    return amount * RATE * 1.0\n\n"
             "def test_tax():\n    assert tax(10) == 2\n\nclass TestCart:\n    pass\n")
    placed = place(block, {"cart.py": CART})
    text = placed.texts["cart.py"]
    assert "test_tax" not in text and "TestCart" not in text and "from cart import" not in text and "pytest" not in text
    assert any("a test" in what for what in placed.left_out)


def test_the_same_code_written_back_changes_nothing():
    placed = place("def tax(amount):\n    return amount * RATE\n", {"cart.py": CART})
    assert placed.texts == {} and placed.names == ["cart.py::tax"]


@pytest.mark.parametrize("block, said", [
    ("def tax(amount)\n    return 1\n", "not valid Python"),
    ("x = compute()\nprint(x)\n", "defines nothing the code has"),
    ("def slug(text):\n    return text\n", "defined in a.py and b.py"),
])
def test_what_cannot_be_placed_says_why(block, said):
    with pytest.raises(SymbolError) as caught:
        place(block, {"a.py": UTIL + "\n\ndef other():\n    pass\n", "b.py": UTIL + "\n\ndef more():\n    pass\n"})
    assert said in caught.value.error


def test_the_first_block_is_read_even_when_the_reply_stopped_at_its_closing_fence():
    said, block = first_block("The rate is wrong.\n\n```python\ndef tax(a):\n    return a\n")
    assert (said, block) == ("The rate is wrong.", "def tax(a):\n    return a\n")
    said, block = first_block("Fix:\n```python\ndef a():\n    pass\n```\nand the tests:\n```python\ndef test_a():\n    pass\n```\n")
    assert block == "def a():\n    pass\n", "only the first block"
    assert first_block("no code here") == ("no code here", None)
    assert first_block("add subtracts.\n\n### calc.py\n```python\nx = 1\n```")[0] == "add subtracts.", "not the heading"


def test_an_import_goes_into_each_changed_file_that_uses_it():
    files = {"a.py": "def f(x):\n    return x\n", "b.py": "def g(x):\n    return x\n"}
    placed = place("import math\n\ndef f(x):\n    return x\n\ndef g(x):\n    return math.floor(x)\n", files)
    assert placed.texts == {"b.py": "import math\n\ndef g(x):\n    return math.floor(x)\n"}
