"""The edit form: a fix written as files under their headings, read, and proposed through the tools
(agent/repair.py)."""

from __future__ import annotations

import pytest
from smolagents.models import ChatMessage, MessageRole

from agent_runtime.agent.blocks import Edit, file_block, parse_edits
from agent_runtime.agent.edits import (
    EDIT_ASK,
    EditRequest,
    edit_messages,
    summary_line,
)
from agent_runtime.agent.outcomes import passing_answer
from agent_runtime.agent.repair import _proposals


def test_files_are_read_from_the_usual_headings_and_a_cut_off_one_is_dropped():
    reply = ("The discount is taken as a fraction.\n\n### shop/pricing.py\n```python\nA = 1\n```\n\n"
             "## `shop/cart.py`:\n```\nB = 2\n```\n"
             "### **./shop/util.py**\n```python\nC = 3\n```\n"
             "### shop/late.py\n```python\nD = 4\n")  # cut off by max_tokens: no closing fence
    explanation, edits = parse_edits(reply)
    assert explanation == "The discount is taken as a fraction."
    assert edits == [Edit("shop/pricing.py", "A = 1\n"), Edit("shop/cart.py", "B = 2\n"), Edit("shop/util.py", "C = 3\n")]


def test_only_the_files_the_fix_may_change_count_and_a_repeated_file_counts_once():
    reply = ("x\n### tests/test_a.py\n```python\nassert True\n```\n### a.py\n```python\nv = 1\n```\n"
             "### a.py\n```python\nv = 2\n```\n")
    assert parse_edits(reply, ("a.py",))[1] == [Edit("a.py", "v = 2\n")]
    assert parse_edits("no files here", ("a.py",)) == ("no files here", [])


def test_a_file_written_back_but_for_blank_lines_and_trailing_spaces_is_no_change():
    now = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
    request = EditRequest(("calc.py",), current=lambda path: now)
    same = "### calc.py\n```python\ndef add(a, b):  \n    return a - b\n\ndef mul(a, b):\n    return a * b\n```\n"
    assert request.read(same)[1:] == ([], ["calc.py"])
    fixed = same.replace("a - b", "a + b")
    assert [e.path for e in request.read(fixed)[1]] == ["calc.py"]
    indented = same.replace("    return a * b", "  return a * b")  # indentation is code: a change
    assert [e.path for e in request.read(indented)[1]] == ["calc.py"]


TRICKY = ["", "x = 1\n", "s = '''doc'''\n", "a = 'it''s'\n", 'r"\\d+\\n"\n', "ends with a backslash \\",
          "ends with a quote'", "\"\"\"doc\"\"\"\nx = '\\''\n", "tab\there\r\nwindows\r\n", "ü → 中\n", "\\'''\n"]


@pytest.mark.parametrize("content", TRICKY)
def test_a_file_is_proposed_with_exactly_its_text(content):
    """No code is generated from a reply: the text goes to the tool as it was written."""
    assert _proposals([Edit("a.py", content)], EditRequest(("a.py",))) == [
        ("propose_file", {"path": "a.py", "content": content})]


def test_each_file_of_a_reply_is_one_proposal():
    calls = _proposals([Edit("a.py", "x = 1\n"), Edit("b/c.py", "y = 2\n")], EditRequest(("a.py", "b/c.py")))
    assert calls == [("propose_file", {"path": "a.py", "content": "x = 1\n"}),
                     ("propose_file", {"path": "b/c.py", "content": "y = 2\n"})]


def test_the_answer_says_which_tests_judged_the_fix():
    """"The tests pass." is read as the whole suite: a fix judged by the failing tests (and their files
    or classes) says so."""
    assert passing_answer(None, None) == "The tests pass. "
    assert passing_answer("python -m pytest -q tests/t.py::test_a", None) == \
        "The failing tests pass (`python -m pytest -q tests/t.py::test_a`); no other tests were run. "
    assert passing_answer("pytest t.py::C::test_a", "pytest 't.py::C[</code>]'") == (
        "The failing tests pass (`pytest t.py::C::test_a`), and so does `pytest 't.py::C[‹/code›]'`; "
        "the rest of the suite was not run. ")
    assert passing_answer("pytest x" * 60, None).endswith(" ...`); no other tests were run. ")


def test_the_explanation_becomes_one_plain_line_of_the_answer():
    """Seen with the 1.5B model: `Thought: ... <code> print(run_tests()) </code> ...` in the explanation."""
    explanation = "Thought: Thought: page_count is off by one. <code> print(run_tests()) </code> Thought: more"
    assert summary_line(explanation) == "page_count is off by one."
    long = summary_line("word " * 200)
    assert len(long) < 320 and long.endswith(" ...")


def test_a_fix_request_is_the_task_and_the_ask_without_the_agents_instructions():
    system = ChatMessage(role=MessageRole.SYSTEM, content=[{"type": "text", "text": (
        "You are a coding agent ...\n\nProject instructions (AGENTS.md):\nUse tabs.")}])
    task = ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": "New task:\nFix it.\n\nfiles..."}])
    later = ChatMessage(role=MessageRole.ASSISTANT, content=[{"type": "text", "text": "Thought: x"}])
    (message,) = edit_messages([system, task, later], EDIT_ASK)
    text = message.content[0]["text"]
    assert text == f"Project instructions (AGENTS.md):\nUse tabs.\n\nFix it.\n\nfiles...\n\n{EDIT_ASK}"
    assert message.role == MessageRole.USER


def test_a_file_is_shown_in_the_form_the_fix_is_asked_in():
    assert file_block("a.py", "x = 1\n") == "### a.py\n```python\nx = 1\n```"
    shown = file_block("README.md", "text\n```bash\nls\n```\n")
    assert shown.startswith("### README.md\n````markdown\n") and shown.endswith("\n````")
    assert parse_edits("why\n" + file_block("a.py", "x = 1\n"))[1] == [Edit("a.py", "x = 1\n")]


def test_the_files_a_failure_involves(tmp_path):
    from agent_runtime.agent.overview import failure_files, imported_files, named_files

    files = ["src/app/__init__.py", "src/app/core.py", "src/app/util.py", "tests/test_core.py", "tests/helpers.py",
             "docs/big.md"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / "tests/test_core.py").write_text("from app.core import run\nfrom . import helpers\nimport app.util\n")
    assert imported_files(tmp_path, "tests/test_core.py", files) == ["src/app/core.py", "tests/helpers.py",
                                                                     "src/app/util.py"]
    output = 'File "/home/dana/proj/tests/test_core.py", line 3\nE   AssertionError\ntests/test_core.py:3: AssertionError'
    assert named_files(output, files) == ["tests/test_core.py"]
    chosen = failure_files(tmp_path, files, output, "fix it", lambda rel: rel != "tests/helpers.py")
    assert chosen == ["tests/test_core.py", "src/app/core.py", "src/app/util.py"], "what the policy hides stays out"
    (tmp_path / "src/app/core.py").write_text("x = 1\n" * 5000)
    assert failure_files(tmp_path, files, output, "fix it", lambda rel: True) == [], "too big to show"
    assert failure_files(tmp_path, files, "nothing named", "fix it", lambda rel: True) == []


# --- the changes form: only the lines a fix changes, for functions and lines of big files ---

FILE = ('import re\n\n\nclass Parser:\n    def parse(self, text):\n        words = []\n'
        '        for word in text.split(" "):\n            # keep real words\n            if word:\n'
        '                words.append(word)\n        return words[1:]\n\n    def count(self, text):\n'
        '        return len(self.parse(text))\n')
PARSE = "\n".join(FILE.splitlines()[4:11])


def changes(heading: str, *pairs: tuple[str, str], explanation: str = "It drops the first word.") -> str:
    body = "\n".join(f"<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE" for old, new in pairs)
    return f"{explanation}\n\n### {heading}\n```python\n{body}\n```\n"


def parse_request():
    from agent_runtime.agent.edits import EditTarget

    target = EditTarget.of_symbol("pkg/core.py", "Parser.parse", PARSE)
    return EditRequest.of([target], file_text=lambda path: FILE if path == "pkg/core.py" else None)


def test_a_function_in_a_big_file_is_asked_for_as_its_changed_lines_and_proposed_as_one_diff():
    from agent_runtime.agent.edits import CHANGES_ASK

    request = parse_request()
    assert request.form == "changes" and request.ask == CHANGES_ASK
    reply = changes("pkg/core.py::Parser.parse", ("        return words[1:]\n", "        return words\n"))
    explanation, edits, unchanged = request.read(reply)
    assert explanation == "It drops the first word." and unchanged == []
    assert edits[0].content == PARSE.replace("words[1:]", "words")
    (tool, arguments), = _proposals(edits, request)
    assert tool == "propose_patch_unified"
    diff = arguments["diff"]
    assert diff.startswith("--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ ")
    assert [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")] == \
        ["-        return words[1:]", "+        return words"], "the step shows the change, not the function twice"


def test_changes_tolerate_drifted_indentation_keep_comments_and_leave_out_what_is_not_there():
    from agent_runtime.agent.blocks import apply_changes, parse_changes

    request = parse_request()
    drifted = changes("pkg/core.py::Parser.parse", ("    if word:\n        words.append(word)\n",
                                                    "    if word.strip():\n        # a comment, not a heading\n"
                                                    "        words.append(word)\n"))
    (edit,) = request.read(drifted)[1]
    assert "            if word.strip():\n                # a comment, not a heading\n" \
           "                words.append(word)\n" in edit.content, "indented as the code is"
    assert parse_changes(drifted, ("pkg/core.py::Parser.parse",))[1]["pkg/core.py::Parser.parse"][0][1].count("#") == 1
    missing = changes("pkg/core.py::Parser.parse", ("        return words[2:]\n", "        return words\n"))
    assert request.read(missing)[1:] == ([], []), "a search that is not there: nothing is applied"
    half = changes("pkg/core.py::Parser.parse", ("        words = []\n", "        words = list()\n"),
                   ("        return words[2:]\n", "        return words\n"))
    assert request.read(half)[1] == [], "half a fix is not applied"
    same = changes("pkg/core.py::Parser.parse", ("        return words[1:]\n", "        return words[1:]\n"))
    assert request.read(same)[1:] == ([], ["pkg/core.py::Parser.parse"])
    assert apply_changes("a\nb\nc\n", [("b\nc\n", "B\n"), ("c\n", "C\n")]) == ("a\nB\n", []), \
        "a pair that overlaps an earlier one is left out"
    assert "pkg/core.py::Parser.parse" in request.again(False) and "REPLACE" in request.again(True)


def test_a_change_that_would_break_the_file_goes_to_the_tool_that_says_so():
    request = parse_request()
    broken = changes("pkg/core.py::Parser.parse", ("        return words[1:]\n", "        return words[\n"))
    explanation, edits, _ = request.read(broken)
    assert [tool for tool, _ in _proposals(edits, request)] == ["replace_symbol"]


def test_a_whole_method_written_without_its_indentation_is_put_back_inside_its_class():
    """Without a grammar a model may answer the changes form with the whole method, flush left: it
    is taken whole and indented as the method is (flush left it would parse, as a function that
    swallows the class's later methods)."""
    request = parse_request()
    reply = ("It drops the first word.\n\n### pkg/core.py::Parser.parse\n```python\ndef parse(self, text):\n"
             "    return text.split()\n```\n")
    explanation, edits, _ = request.read(reply)
    (tool, arguments), = _proposals(edits, request)
    diff = arguments["diff"]
    assert " class Parser:\n     def parse(self, text):\n" in diff and "+        return text.split()\n" in diff
    assert "\n     def count(self, text):\n" in diff, "the next method stays in the class"


def test_a_replace_without_the_def_line_is_the_functions_new_body():
    """The 1.5B model's SEARCH began at a method's `def`; its REPLACE was the new body without it,
    at the `def`'s indentation: applied as written, the module broke at import."""
    from agent_runtime.agent.blocks import apply_changes

    text = ("class Filter:\n    def process(self, tlist):\n        self._last = tlist[0]\n        self.run(tlist)\n\n"
            "    def other(self):\n        return 1\n")
    search = "    def process(self, tlist):\n        self._last = tlist[0]\n        self.run(tlist)\n"
    at_def = "    if tlist[1] == 'from':\n        tlist.insert(0, ' ')\n    self.run(tlist)\n"
    fixed, missing = apply_changes(text, [(search, at_def)])
    assert missing == []
    assert fixed.startswith("class Filter:\n    def process(self, tlist):\n        if tlist[1] == 'from':\n"
                            "            tlist.insert(0, ' ')\n        self.run(tlist)\n\n    def other(self):")
    compile(fixed, "filters.py", "exec")
    # The body at the body's indentation: only the `def` line is kept.
    in_body = "        self.run(tlist[1:])\n"
    fixed, _ = apply_changes(text, [(search, in_body)])
    assert "    def process(self, tlist):\n        self.run(tlist[1:])\n\n    def other" in fixed
    # A REPLACE that is a whole new definition, or nothing at all, is taken as written.
    renamed = "    def process(self, tokens):\n        self.run(tokens)\n"
    assert "def process(self, tokens):" in apply_changes(text, [(search, renamed)])[0]
    assert "def process" not in apply_changes(text, [(search, "")])[0]


def test_a_search_is_found_as_whole_lines_by_the_patch_tools_matcher():
    """One matcher for every edit form (patches/match.py): whole lines, trailing spaces and
    indentation forgiven, the first place when a search stands in several, and the file's own line
    endings kept."""
    from agent_runtime.agent.blocks import apply_changes

    assert apply_changes("x = 1\nmax = 1\n", [("x = 1\n", "x = 2\n")]) == ("x = 2\nmax = 1\n", [])
    assert apply_changes("values = max(a)\n", [("max", "min")]) == ("values = max(a)\n", ["max"]), \
        "part of a line is not a SEARCH's place"
    assert apply_changes("a = 1   \nb = 2\n", [("a = 1\n", "a = 3\n")]) == ("a = 3\nb = 2\n", [])
    assert apply_changes("if x:\n    y()\nif x:\n    y()\n", [("if x:\n    y()\n", "if x:\n    z()\n")]) == \
        ("if x:\n    z()\nif x:\n    y()\n", []), "the first of two places"
    assert apply_changes("a\r\nb\r\nc\r\n", [("b\n", "B\n")]) == ("a\r\nB\r\nc\r\n", [])
    assert apply_changes("a\nb", [("b\n", "B\n")]) == ("a\nB", []), "no final newline added"
    assert apply_changes("a\nb\n", [("b", "B")]) == ("a\nB\n", []), "nor one taken away"
    assert apply_changes("a\n", [("\n\n", "b\n")]) == ("a\n", ["(nothing under SEARCH)"])


def test_a_search_keeps_its_nesting_and_the_code_around_it():
    """A SEARCH is found where its lines stand nested as written (one indentation put for another),
    never where they only match with each line's indentation dropped; blank lines and tabs do not
    throw the re-indented replace off; the text around the change is kept byte for byte."""
    from agent_runtime.agent.blocks import apply_changes

    twice = "def f(a):\n    if a:\n        x = 1\n    y = 2\n    if a:\n        x = 1\n        y = 2\n    return x + y"
    fixed, missing = apply_changes(twice, [("if a:\n    x = 1\n    y = 2\n", "if a:\n    x = 1\n    y = 3\n")])
    assert (fixed, missing) == (twice.replace("        y = 2", "        y = 3"), []), "the block nested as the SEARCH is"
    blank = "def f(x):\n    if x:\n        a = 1\n\n    return a"
    assert apply_changes(blank, [("if x:\n    a = 1\n\n", "if x:\n    a = 1\n    b = 2\n\n")])[0] == \
        "def f(x):\n    if x:\n        a = 1\n        b = 2\n\n    return a", "b stays inside the if"
    method = "class A:\n    def f(self):\n        a = 1\n\n        b = 2"
    fixed = apply_changes(method, [("a = 1\n\nb = 2\n", "a = 1\nc = 3\n\nb = 2\n")])[0]
    assert fixed == "class A:\n    def f(self):\n        a = 1\n        c = 3\n\n        b = 2"
    tabs = "def f():\n\tif x:\n\t\ty()\n\treturn 1"
    assert apply_changes(tabs, [("if x:\n    y()\n", "if x:\n    z()\n")]) == (tabs, ["if x:"]), \
        "spaces for tabs: left out, not half re-indented"
    assert apply_changes("a\rb\nc\n", [("a\n", "A\n")]) == ("A\nb\nc\n", []), "a lone CR still ends a line"
    assert apply_changes("a\nb\n", [("b\n", 'x = "\ud83d"\n')]) == ('a\nx = "\ud83d"\n', []), "half an emoji"
    last = "class A:\n    def f(self):\n        return 1\n\n    def g(self):\n        return 2"
    assert apply_changes(last, [("    def g(self):\n        return 2\n", "")])[0] == \
        "class A:\n    def f(self):\n        return 1\n", "the last lines deleted, not a blank line added"
    assert apply_changes("a\r\nb\r\nc\r\n", [("b\r\n", "B\r\nC\n")])[0] == "a\r\nB\r\nC\r\nc\r\n"


def test_a_change_keeps_the_files_line_endings_and_every_other_pair():
    from agent_runtime.agent.blocks import apply_changes

    piece = "def f(x):\n    y = g(x)\n    print(y)"  # a function as focus.py cuts it: no final newline
    assert apply_changes(piece, [("    y = g(x)\n", "    y = g(x) + 1\n"), ("    print(y)\n", "")]) == \
        ("def f(x):\n    y = g(x) + 1", []), "the last line deleted beside an edit of the line above"
    assert apply_changes("a = 1\r\nb = 2", [("b = 2\n", "b = 3\nc = 4\n")])[0] == "a = 1\r\nb = 3\r\nc = 4"
    assert apply_changes("a = 1\nb = 2\n", [("a = 1\r\n", "a = 1\r\nc = 3\r\n")])[0] == "a = 1\nc = 3\nb = 2\n"
    assert apply_changes("def f():\n    x = 1  \n    y = 2\n    x = 1\n", [("    x = 1\n", "    x = 10\n")])[0] == \
        "def f():\n    x = 1  \n    y = 2\n    x = 10\n", "the exact copy before one with trailing spaces"
    tabs = "class A:\n\tdef f(self):\n\t\treturn 1\n"
    assert apply_changes(tabs, [("\tdef f(self):\n\t\treturn 1\n", "\treturn 2\n")])[0] == \
        "class A:\n\tdef f(self):\n\t\treturn 2\n", "a new body under the def, in the file's tabs"
    assert apply_changes("if a:\n    x = 1\ny = 2\n", [("        x = 1\n    y = 2\n", "        x = 3\n    y = 2\n")]) == \
        ("if a:\n    x = 3\ny = 2\n", []), "shifted by one amount, a later line indented less than the first"


def test_a_python_block_of_comments_alone_is_a_remark_not_the_file():
    """make run's failure: the whole fixed file, then the heading again over one comment ("the rest of
    the file remains unchanged"). The last block counted, deleting the file, and was refused."""
    fixed = "def add(a, b):\n    return a + b\n"
    reply = (f"add subtracts.\n\n### calc.py\n```python\n{fixed}```\n"
             "### calc.py\n```python\n# The rest of the file remains unchanged as it is already correct.\n```\n")
    assert parse_edits(reply, ("calc.py",))[1] == [Edit("calc.py", fixed)]
    assert parse_edits("x\n### calc.py\n```python\n# nothing here\n\n```\n", ("calc.py",))[1] == []
    notes = "### NOTES.md\n```\n# A title\n```\n"  # a heading line is the content of a Markdown file
    assert parse_edits(notes, ("NOTES.md",))[1] == [Edit("NOTES.md", "# A title\n")]


@pytest.mark.parametrize("reply, thought", [
    ("Thought: check the sum\n<code>\nprint(run_tests())\n</code>", "check the sum"),
    ('{"thought": "read it", "code": "print(1)"}', "read it"),
    ("### calc.py\n```python\nx = 1\n```", ""),
    ("add must add.\n\n### calc.py\n```python\nx = 1\n```", "add must add."),
    ("Here it is:\n```python\nx = 1\n```", "Here it is:"),
    ("", ""),
    ("### Plan\nI will run the tests.\n<code>\nprint(run_tests())\n</code>", "### Plan\nI will run the tests."),
    ('{"thought": null, "code": "print(1)"}', ""),
])
def test_one_reader_says_what_a_reply_thought_for_the_terminal_the_span_and_the_attempt(reply, thought):
    """What a reply says before its code (agent/blocks.thought_of): the terminal and --json, the span's
    action and an attempt's line in the give-up answer read it alike; a heading is never a thought."""
    from types import SimpleNamespace

    from agent_runtime.agent.blocks import thought_of
    from agent_runtime.agent.outcomes import thought as attempt_thought
    from agent_runtime.agent.tracing import step_action

    assert thought_of(reply) == thought
    step = SimpleNamespace(model_output=reply, code_action="x = 1")
    assert attempt_thought(step) == thought.split("\n")[0]
    assert step_action(step) == (f"Thought: {thought}\n\n" if thought else "") + "Code:\nx = 1"
