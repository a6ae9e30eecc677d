"""propose_file given only the function the model fixed: put in place, never a deleted file."""

from __future__ import annotations

from conftest import make_repo

from agent_runtime.patches.fragments import place_fragment

MODULE = '''"""Export helpers."""
import csv


def quote_field(value):
    text = str(value)
    if "," in text:
        return '"' + text + '"'
    return text


class Exporter:
    @staticmethod
    def line(row):
        return ",".join(quote_field(v) for v in row)

    def other(self):
        return 1


def export_rows(rows):
    return "\\n".join(Exporter.line(r) for r in rows)
'''


def test_a_function_alone_replaces_that_function_and_keeps_the_rest(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"export.py": MODULE})
    _, tools = tools_for(repo)
    fixed = ('def quote_field(value):\n    text = str(value)\n    if "," in text or \'"\' in text:\n'
             '        return \'"\' + text.replace(\'"\', \'""\') + \'"\'\n    return text')
    proposed = tools["propose_file"](path="export.py", content=fixed)
    assert proposed["files"] == ["export.py (modified, +2 -2)"], proposed
    assert "content held only quote_field" in proposed["notes"][0]
    tools["apply_patch"](patch_id=proposed["patch_id"])
    text = (repo / "export.py").read_text()
    assert text == MODULE.replace('    if "," in text:\n        return \'"\' + text + \'"\'',
                                  '    if "," in text or \'"\' in text:\n'
                                  '        return \'"\' + text.replace(\'"\', \'""\') + \'"\'')
    assert "class Exporter" in text and "def export_rows" in text


def test_a_method_written_flush_left_goes_back_into_its_class_with_a_new_import():
    text, names = place_fragment(MODULE, "import re\n\n@staticmethod\ndef line(row):\n    return ';'.join(row)\n")
    assert names == ["line"]
    assert "import csv\nimport re\n" in text
    assert "class Exporter:\n    @staticmethod\n    def line(row):\n        return ';'.join(row)\n\n    def other" in text


def test_what_cannot_be_placed_is_refused_not_written(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"export.py": MODULE})
    _, tools = tools_for(repo)
    for fragment in ("TIMEOUT = 3\n\ndef quote_field(v):\n    return v\n",  # a statement the file lacks
                     "def unknown_name(v):\n    return v\n"):  # names nothing in the file
        result = tools["propose_file"](path="export.py", content=fragment)
        assert "would delete" in result["error"] and "Exporter" in result["error"], (fragment, result)
        assert "propose_patch" in result["recovery_suggestion"]
    broken = tools["propose_file"](path="export.py", content="def quote_field(v)\n    return v\n")
    assert "not valid Python (expected ':' on line 1)" in broken["error"]
    assert (repo / "export.py").read_text() == MODULE


def test_a_whole_file_is_still_a_whole_file(tmp_path, tools_for):
    """Every definition kept: a plain replacement, even if the layout changed."""
    repo = make_repo(tmp_path / "r", {"export.py": MODULE})
    _, tools = tools_for(repo)
    new = MODULE.replace("import csv\n", "").replace("return 1", "return 2")
    proposed = tools["propose_file"](path="export.py", content=new)
    assert "notes" not in proposed
    tools["apply_patch"](patch_id=proposed["patch_id"])
    assert (repo / "export.py").read_text() == new


def test_a_whole_file_that_left_out_an_import_it_uses_keeps_it(tmp_path, tools_for):
    """Seen with the 1.5B model: shop/cart.py rewritten whole without its `from ... import`."""
    cart = ('"""The cart."""\nfrom __future__ import annotations\n\nimport os\nfrom shop.pricing import unit_price_for\n\n\n'
            "class Cart:\n    def total(self, q, p):\n        return unit_price_for(q, p) * q\n")
    repo = make_repo(tmp_path / "r", {"shop/cart.py": cart})
    _, tools = tools_for(repo)
    content = "class Cart:\n    def total(self, q, p):\n        return max(0, unit_price_for(q, p) * q)\n"
    proposed = tools["propose_file"](path="shop/cart.py", content=content)
    assert proposed["notes"] == ["shop/cart.py: content left out from shop.pricing import unit_price_for, "
                                 "which it still uses: kept"], proposed
    tools["apply_patch"](patch_id=proposed["patch_id"])
    # os is not used any more: its removal stands; the docstring and __future__ go as the content says
    assert (repo / "shop/cart.py").read_text() == "from shop.pricing import unit_price_for\n" + content
    from agent_runtime.patches.fragments import restore_imports

    text, restored = restore_imports(cart, '"""Doc."""\nfrom __future__ import annotations\nx = os.sep\n')
    assert restored == ["import os"] and text == '"""Doc."""\nfrom __future__ import annotations\nimport os\nx = os.sep\n'
    assert restore_imports(cart, "import os as unit_price_for\nprint(unit_price_for)\n")[1] == []


def test_pytest_report_lines_copied_into_old_are_forgiven(tmp_path, tools_for):
    """Models copy the failing line from pytest's listing (`>   `, `E   `, `^^^`) into old and new."""
    billing = ('def add_months(day, months):\n    index = day.month - 1 + months\n'
               '    year, month = day.year + index // 12, index % 12 + 1\n'
               '    return day.replace(year=year, month=month)\n\n\ndef other():\n    pass\n')
    repo = make_repo(tmp_path / "r", {"billing.py": billing})
    _, tools = tools_for(repo)
    old = ('    year, month = day.year + index // 12, index % 12 + 1\n'
           '>       return day.replace(year=year, month=month)\n'
           '               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
           'E       ValueError: day is out of range for month')
    new = ('    year, month = day.year + index // 12, index % 12 + 1\n'
           '>       return day.replace(year=year, month=month, day=1)')
    proposed = tools["propose_patch"](path="billing.py", old=old, new=new)
    assert "the test output's" in proposed["notes"][0]
    tools["apply_patch"](patch_id=proposed["patch_id"])
    assert (repo / "billing.py").read_text() == billing.replace("month=month)", "month=month, day=1)")


def test_a_patch_that_changes_nothing_once_the_report_lines_are_gone_is_refused(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"b.py": "def f():\n    return 1\n"})
    _, tools = tools_for(repo)
    same = tools["propose_patch"](path="b.py", old=">       return 1\nE       AssertionError", new=">       return 1")
    assert "changes nothing in b.py" in same["error"]
