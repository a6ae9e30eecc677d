"""Symbols of a Python file by name: found, read, and replaced with every other byte kept."""

from __future__ import annotations

import random

import pytest

from agent_runtime.code import symbols as S

SOURCE = '''"""A module."""
import os


class Parser:
    """Parses."""

    mode = "strict"

    @property
    def name(self):
        return "p"

    def parse(self, text,
              pos=0) -> list:
        if not text:
            return []
        return [text[pos:]]

    class Inner:
        def parse(self):
            return None


def helper(x):  # a comment
    return x + 1


async def fetch(url):
    return url
'''


def test_every_definition_is_indexed_with_its_lines_and_header():
    found = {s.name: s for s in S.index(SOURCE)}
    assert list(found) == ["Parser", "Parser.name", "Parser.parse", "Parser.Inner", "Parser.Inner.parse",
                           "helper", "fetch"]
    assert (found["Parser.name"].start, found["Parser.name"].line, found["Parser.name"].end) == (10, 11, 12)
    assert found["Parser.parse"].signature == "def parse(self, text, pos=0) -> list", "a header over two lines"
    assert found["Parser.parse"].kind == "method" and found["helper"].kind == "function"
    assert found["fetch"].signature == "async def fetch(url)"
    assert found["Parser.Inner.parse"].indent == " " * 8
    assert S.index("def broken(:\n") is None


@pytest.mark.parametrize("name, expected", [("helper", "helper"), ("Parser.parse", "Parser.parse"),
                                            ("Inner.parse", "Parser.Inner.parse"), ("def helper", "helper"),
                                            ("tests/x.py::Parser::parse", "Parser.parse"), ("helper()", "helper")])
def test_a_symbol_is_found_by_its_qualified_name_or_a_unique_tail(name, expected):
    assert S.find(S.index(SOURCE), name).name == expected


def test_an_ambiguous_or_unknown_name_says_what_there_is():
    with pytest.raises(S.SymbolError) as ambiguous:
        S.find(S.index(SOURCE), "parse", "p.py")
    assert "p.py has 2 definitions called 'parse': Parser.parse, Parser.Inner.parse" in ambiguous.value.error
    with pytest.raises(S.SymbolError) as unknown:
        S.find(S.index(SOURCE), "Parser.prase", "p.py")
    assert "no class or function called 'Parser.prase'" in unknown.value.error
    assert "Parser.parse" in unknown.value.suggestion


NEW_PARSE = "def parse(self, text, pos=0) -> list:\n    return [text[pos:]] if text else []\n"


@pytest.mark.parametrize("written", [
    NEW_PARSE,  # at column 0
    "\n".join("    " + line for line in NEW_PARSE.splitlines()) + "\n",  # as the file indents it
    "def parse(self, text, pos=0) -> list:\n        return [text[pos:]] if text else []\n",  # header pulled left only
    "\n\n" + NEW_PARSE + "\n\n",  # blank lines around it
])
def test_a_replaced_method_lands_indented_where_it_stands_and_nothing_else_changes(written):
    after, symbol = S.replace(SOURCE, "Parser.parse", written)
    assert symbol.name == "Parser.parse"
    before_lines, after_lines = SOURCE.splitlines(keepends=True), after.splitlines(keepends=True)
    assert after_lines[:symbol.start - 1] == before_lines[:symbol.start - 1]
    assert after_lines[symbol.start - 1:symbol.start + 1] == [
        "    def parse(self, text, pos=0) -> list:\n", "        return [text[pos:]] if text else []\n"]
    assert after_lines[symbol.start + 1:] == before_lines[symbol.end:], "every line after it byte for byte"
    assert S.parse(after) is not None


def test_crlf_files_keep_their_line_endings_and_a_file_without_final_newline_keeps_none():
    crlf = SOURCE.replace("\n", "\r\n")
    after, _ = S.replace(crlf, "helper", "def helper(x):\n    return x + 2\n")
    assert "def helper(x):\r\n    return x + 2\r\n" in after and "\n" not in after.replace("\r\n", "")
    last = "def f():\n    return 1"
    assert S.replace(last, "f", "def f():\n    return 2\n")[0] == "def f():\n    return 2"


@pytest.mark.parametrize("written, error", [
    ("def parse(self:\n    pass\n", "is not valid Python"),
    ("def other(self):\n    pass\n", "defines 'other', not 'parse'"),
    ("def parse(self):\n    pass\n\ndef extra():\n    pass\n", "must be that one definition"),
    ("x = 1\ndef parse(self):\n    pass\n", "must be that one definition"),
    ("   \n", "is empty"),
])
def test_new_source_that_is_not_one_definition_of_that_name_is_refused(written, error):
    with pytest.raises(S.SymbolError) as refused:
        S.replace(SOURCE, "Parser.parse", written)
    assert error in refused.value.error


def test_decorators_belong_to_the_symbol_and_may_change():
    after, symbol = S.replace(SOURCE, "Parser.name", "@property\ndef name(self):\n    return 'q'\n")
    assert (symbol.start, symbol.end) == (10, 12)
    assert "    @property\n    def name(self):\n        return 'q'\n\n    def parse" in after
    after, _ = S.replace(SOURCE, "Parser.name", "def name(self):\n    return 'q'\n")
    assert "@property" not in after, "the new source says what the symbol is, decorators included"


def test_round_trip_is_byte_identical_outside_the_symbol_for_random_replacements():
    """Any definition replaced by itself (re-indented from column 0) gives back the file exactly."""
    import textwrap

    rng = random.Random(7)
    found = S.index(SOURCE)
    for symbol in rng.sample(found, len(found)):
        own = textwrap.dedent(S.source(SOURCE, symbol))
        assert S.replace(SOURCE, symbol.name, own)[0] == SOURCE, symbol.name


def test_the_outline_lists_lines_and_headers_by_nesting():
    assert S.outline(SOURCE)[:3] == ["5-22: class Parser", "10-12:   def name(self)",
                                     "14-18:   def parse(self, text, pos=0) -> list"]
