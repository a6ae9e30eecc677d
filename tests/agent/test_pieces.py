"""function_retries (agent/pieces.py): in a repository shown whole, the fixes after the first are asked
for the functions they change, each written alone under `### path::name` in place of its file's heading
and applied as a diff of its file. Off, every fix is asked for whole files."""

from __future__ import annotations

import json

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli, write_replay

from agent_runtime.agent.edits import EDIT_ASK, EditRequest, EditTarget
from agent_runtime.agent.outcomes import fix_key
from agent_runtime.agent.pieces import FUNCTIONS_ASK, by_function, new_texts
from agent_runtime.agent.repair import _change, _proposals
from agent_runtime.telemetry.records import load_spans

CALC = BUGGY_PROJECT["calc.py"]
TASK = "Fix the failing test."
SHAPES = '''import os


class Box:
    def area(self):
        def inner():
            return 1
        return inner()

    @property
    def size(self):
        return 1

    @size.setter
    def size(self, value):
        pass


def helper():
    return os.sep
'''


def llm_spans(runs):
    run_dir = next(runs.iterdir())
    return [s["attributes"] for s in load_spans(run_dir) if s["attributes"].get("openinference.span.kind") == "LLM"]


def test_a_heading_for_each_function_and_method_in_place_of_its_file():
    """Methods by their class, a nested function with the one that holds it, names two definitions share
    (a property and its setter) left out; a file with no function keeps its one heading."""
    request = EditRequest.of([EditTarget.file("shapes.py", SHAPES), EditTarget.file("notes.txt", "x\n")])
    asked = by_function(request)
    assert asked.paths == ("shapes.py::Box.area", "shapes.py::helper", "notes.txt")
    assert asked.ask == FUNCTIONS_ASK and request.ask == EDIT_ASK and asked.by_function and not request.by_function
    assert (asked.max_blocks, request.max_blocks) == (2, None), "one or two functions a reply, as the grammar holds it"
    assert asked.current("shapes.py::helper") == "def helper():\n    return os.sep"
    assert "function_name" in asked.again(False) and "file" in request.again(False)
    pieces = EditRequest.of([EditTarget.of_symbol("shapes.py", "helper", "def helper():\n    return os.sep")])
    assert by_function(pieces) is pieces, "a request that already names pieces is left as it is"
    plain = EditRequest.of([EditTarget.file("notes.txt", "x\n"), EditTarget.file("c.py", "X = 1\n")])
    assert by_function(plain) is plain, "no function: whole files, as before"


def test_a_function_goes_in_by_its_name_and_one_that_is_not_that_function_does_not():
    """Put in place as replace_symbol puts it (CRLF kept, twin methods told apart, a method written at
    column 0 indented); refused -- left to replace_symbol to say why -- a new name, code beside the
    definition, or an ellipsis for code; written back unchanged but dedented is no change."""
    twins = "class A:\r\n    def __init__(self):\r\n        pass\r\n\r\n\r\nclass B:\r\n    def __init__(self):\r\n        pass\r\n"
    asked = by_function(EditRequest.of([EditTarget.file("t.py", twins), EditTarget.file("calc.py", CALC)]))
    read = lambda text: asked.read(text)[1]  # noqa: E731
    edits = read("Fix.\n\n### t.py::B.__init__\n```python\ndef __init__(self):\n    self.b = 1\n```\n\n"
                 "### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n")
    texts = new_texts(edits, asked.targets, {"t.py": twins, "calc.py": CALC}.get)
    assert texts == {"t.py": twins.replace("pass\r\n", "self.b = 1\r\n").replace("self.b = 1", "pass", 1),
                     "calc.py": CALC.replace("a - b", "a + b")}
    for wrong in ("def plus(a, b):\n    return a + b", "import math\n\ndef add(a, b):\n    return a + b",
                  "def add(a, b):\n    # ... rest unchanged\n    return a + b"):
        edits = read(f"### calc.py::add\n```python\n{wrong}\n```\n")
        assert edits and new_texts(edits, asked.targets, {"calc.py": CALC}.get) is None, wrong
    _, edits, unchanged = asked.read("### t.py::A.__init__\n```python\ndef __init__(self):\n    pass\n```\n")
    assert edits == [] and unchanged == ["t.py::A.__init__"]


def test_a_change_reads_the_same_however_it_was_written():
    """What a repeat compares: a function written alone and its file written whole with the same change,
    two functions in either order, trailing spaces -- alike; the same line at another depth -- not."""
    two = CALC.replace("a - b", "a + b").replace("a * b", "b * a")
    files = EditRequest.of([EditTarget.file("calc.py", CALC)], file_text={"calc.py": CALC}.get)
    functions = by_function(files)
    add, mul = ("### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n",
                "### calc.py::mul\n```python\ndef mul(a, b):  \n    return b * a\n```\n")
    whole = _change(files.read(f"### calc.py\n```python\n{two}```\n")[1], files)
    assert whole == _change(functions.read(add + mul)[1], functions) == _change(functions.read(mul + add)[1], functions)
    assert "-    return a - b\n+    return a + b" in whole
    deeper = "def add(a, b):\n    if a:\n        return a + b\n    return a + b\n"
    shallower = "def add(a, b):\n    if a:\n        return a + b\n        return a + b\n"
    assert fix_key(_change(functions.read(f"### calc.py::add\n```python\n{deeper}```")[1], functions)) != \
        fix_key(_change(functions.read(f"### calc.py::add\n```python\n{shallower}```")[1], functions))


def test_a_fix_after_a_failed_one_writes_one_function_and_the_rest_of_the_file_stays(tmp_path):
    """The first fix fails (written whole) and is undone; the second request asks for functions, and its
    reply -- one function, indented as it likes -- changes that function alone, through one diff."""
    files = {**BUGGY_PROJECT, "calc.py": "# calculator\nimport math\n\n\n" + CALC + "\n\nPI = math.pi\n"}
    repo = make_repo(tmp_path / "p", files)
    first = files["calc.py"].replace("a - b", "a * b").replace("# calculator", "# calc")
    replies = [f"add is wrong.\n\n### calc.py\n```python\n{first}```\n",
               "add subtracts.\n\n### calc.py::add\n```python\n  def add(a, b):\n      return a + b\n```\n"]
    done = run_cli("--approval", "auto", "--model", f"replay:{write_replay(tmp_path / 'r.json', replies)}", "--json",
                   TASK, cwd=repo, timeout=600, env={"AGENT_COACHING": "+function_retries", "RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    assert (repo / "calc.py").read_text() == files["calc.py"].replace("a - b", "a + b"), "only add changed"
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert next(e["answer"] for e in events if e["type"] == "final_answer") == "The tests pass. add subtracts."
    spans = llm_spans(tmp_path / "runs")
    asked = [a["llm.input_messages.0.message.content"] for a in spans]
    assert len(asked) == 2 and FUNCTIONS_ASK not in asked[0] and asked[1].endswith(FUNCTIONS_ASK)
    assert spans[1]["agent_runtime.request"] == "fix asked for functions (function_retries) after a failed one, " \
        "from one completion's words (fresh_restart)"
    assert "function_retries" not in spans[0]["agent_runtime.request"]
    proposed = [e for e in events if e["type"] == "tool_call" and e.get("tool", "").startswith("propose")]
    assert [e["tool"] for e in proposed] == ["propose_file", "propose_patch_unified"], proposed


def test_the_same_change_written_as_a_function_after_its_file_failed_is_not_applied_again(tmp_path):
    """A change compares by what it does to the file: attempt 2 writing attempt 1's failed change as
    the function alone is a repeat, told so, and not tested again."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    wrong = "def add(a, b):\n    return a * b\n"
    replies = [f"add is wrong.\n\n### calc.py\n```python\n{CALC.replace('a - b', 'a * b')}```\n",
               f"add is wrong.\n\n### calc.py::add\n```python\n{wrong}```\n",
               "add adds.\n\n### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n"]
    done = run_cli("--approval", "auto", "--model", f"replay:{write_replay(tmp_path / 'r.json', replies)}", "--json",
                   TASK, cwd=repo, timeout=600,
                   env={"AGENT_COACHING": "+function_retries", "RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    tests = [e for e in events if e["type"] == "tool_call" and e.get("tool") == "run_tests"]
    assert len(tests) == 3, "the run before the first request, attempt 1's, attempt 3's: none for the repeat"
    assert "a + b" in (repo / "calc.py").read_text()


def test_a_block_of_comments_or_an_ellipsis_is_no_function_and_a_dropped_decorator_stays():
    """A remark under a function's heading ("# unchanged", "...") writes nothing, so the real fix beside
    it still goes in; a function written without its decorator keeps the one it had."""
    source = "import functools\n\n\n@functools.lru_cache(\n    maxsize=None)\ndef add(a, b):\n    return a - b\n\n\n" \
             "def mul(a, b):\n    return a * b\n"
    asked = by_function(EditRequest.of([EditTarget.file("calc.py", source)]))
    for remark in ("# unchanged", "..."):
        _, edits, _ = asked.read(f"### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n"
                                 f"### calc.py::mul\n```python\n{remark}\n```\n")
        assert [e.heading for e in edits] == ["calc.py::add"], remark
        assert new_texts(edits, asked.targets, {"calc.py": source}.get) == {
            "calc.py": source.replace("a - b", "a + b")}, "the decorator, over two lines, kept"


def test_a_file_without_a_final_newline_compares_alike_written_whole_or_as_a_function():
    source = CALC.rstrip("\n")
    files = EditRequest.of([EditTarget.file("calc.py", source)], file_text={"calc.py": source}.get)
    functions = by_function(files)
    whole = _change(files.read(f"### calc.py\n```python\n{source.replace('a - b', 'a + b')}\n```\n")[1], files)
    alone = _change(functions.read("### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n")[1], functions)
    assert fix_key(whole) == fix_key(alone) and "+    return a + b" in whole


def test_the_note_of_a_reply_that_changed_nothing_does_not_ask_for_the_other_form(tmp_path):
    """The shot wrote only the tests (not taken): the next request, asked for functions, is not told
    to write whole files by the note it carries."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    tests_only = "### test_calc.py\n```python\n" + BUGGY_PROJECT["test_calc.py"].replace("== 5", "== -1") + "```\n"
    replies = [tests_only, tests_only, "add adds.\n\n### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n"]
    done = run_cli("--approval", "auto", "--model", f"replay:{write_replay(tmp_path / 'r.json', replies)}", "--json",
                   TASK, cwd=repo, timeout=600,
                   env={"AGENT_COACHING": "+function_retries", "RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    spans = llm_spans(tmp_path / "runs")
    assert spans[1]["agent_runtime.request"].endswith("asked again: the reply changed nothing"), "once, in the same attempt"
    second = spans[2]["llm.input_messages.0.message.content"]
    assert "Attempt 1 did not work: it changed no file." in second and second.endswith(FUNCTIONS_ASK)
    assert "complete corrected file" not in second and "a + b" in (repo / "calc.py").read_text()


def test_a_function_written_with_its_file_s_imports_above_it_goes_in_alone():
    """The imports and constants it copied from its file, as they are there, are left where they are;
    one the file does not have is new code beside the function, refused as before."""
    source = "from decimal import Decimal\n\nCENT = Decimal('0.01')\n\n\ndef cents(x):\n    return Decimal(x)\n"
    asked = by_function(EditRequest.of([EditTarget.file("m.py", source)]))
    fixed = "def cents(x):\n    return Decimal(x).quantize(CENT)\n"
    copied = asked.read(f"### m.py::cents\n```python\nfrom decimal import Decimal\n\nCENT = Decimal('0.01')\n\n\n{fixed}```\n")
    assert new_texts(copied[1], asked.targets, {"m.py": source}.get) == {"m.py": source.replace("Decimal(x)\n", "Decimal(x).quantize(CENT)\n")}
    new = asked.read(f"### m.py::cents\n```python\nimport math\n\n{fixed}```\n")
    assert new_texts(new[1], asked.targets, {"m.py": source}.get) is None


def test_a_file_written_whole_where_functions_were_asked_is_taken_whole_and_compares_alike():
    """Without a grammar (a server that takes none) a model may write its file whole as before: taken
    whole, proposed as the file, the same change as that function written alone. Beside a function it
    is left out (the function is what was asked)."""
    files = EditRequest.of([EditTarget.file("calc.py", CALC)], file_text={"calc.py": CALC}.get)
    asked = by_function(files)
    fixed = CALC.replace("a - b", "a + b")
    _, whole, _ = asked.read(f"add adds.\n\n### calc.py\n```python\n{fixed}```\n")
    assert [(e.heading, e.content) for e in whole] == [("calc.py", fixed)]
    assert _proposals(whole, asked) == [("propose_file", {"path": "calc.py", "content": fixed})]
    alone = asked.read("### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n")[1]
    assert _change(whole, asked) == _change(alone, asked) and "+    return a + b" in _change(whole, asked)
    assert asked.read(f"### calc.py\n```python\n{CALC}```\n")[1:] == ([], ["calc.py"]), "written back as it is"
    both = asked.read(f"### calc.py\n```python\n{CALC}```\n### calc.py::add\n```python\ndef add(a, b):\n    return a + b\n```\n")
    assert [e.heading for e in both[1]] == ["calc.py::add"]


def test_a_reply_writing_files_whole_beside_one_with_no_function_takes_them_all():
    """Half a fix is no fix: a file with no function keeps its heading, and a file written whole beside
    it goes in with it, whether that one changes or not."""
    consts = "LIMIT = 1\n"
    asked = by_function(EditRequest.of([EditTarget.file("calc.py", CALC), EditTarget.file("consts.py", consts)]))
    assert asked.paths == ("calc.py::add", "calc.py::mul", "consts.py")
    fixed = CALC.replace("a - b", "a + b")
    for other in ("LIMIT = 2\n", consts):
        _, edits, unchanged = asked.read(f"### calc.py\n```python\n{fixed}```\n### consts.py\n```python\n{other}```\n")
        assert [e.heading for e in edits] == ["calc.py"] + (["consts.py"] if other != consts else []), other
        assert unchanged == ([] if other != consts else ["consts.py"])


PAGES = '''from math import ceil


def is_blank(line):
    return not line.strip()


def page_count(lines, per_page):
    kept = [line for line in lines if not is_blank(line)]
    pages = 0
    while pages * per_page <= len(kept):
        pages += 1
    return pages


def last_page(lines, per_page=10):
    return page_count(lines, per_page) - 1


def rounded(value):
    return ceil(value)
'''


def test_a_file_written_whole_under_a_function_s_heading_goes_in_function_by_function():
    """Asked for functions, the 1.5B often writes its file whole (less a function, its imports garbled)
    under a function's heading: each function of the file it defines is a piece, the rest of the block
    is not written, and a function two blocks write is taken where it changes. One function with a new
    import above it is still refused (the import is code beside it)."""
    fixed = PAGES.replace("pages * per_page <= len(kept)", "pages * per_page < len(kept)")
    upper = fixed.rsplit("\n\n\ndef rounded", 1)[0] + "\n"  # rounded left out: it stays
    garbled = "from math import floor\n\n\n" + upper.split("\n\n\n", 1)[1]
    asked = by_function(EditRequest.of([EditTarget.file("pages.py", PAGES)], file_text={"pages.py": PAGES}.get))
    for first, second in ((upper, garbled), (PAGES.split("\n\n\n", 1)[1], garbled)):
        _, edits, unchanged = asked.read(f"Off by one.\n\n### pages.py::page_count\n```python\n{first}```\n"
                                         f"### pages.py::last_page\n```python\n{second}```\n")
        assert [e.heading for e in edits] == ["pages.py::page_count"], "where it changes, whichever block"
        assert set(unchanged) == {"pages.py::last_page", "pages.py::is_blank"} | (
            set() if first == upper else {"pages.py::rounded"})
        assert new_texts(edits, asked.targets, {"pages.py": PAGES}.get) == {"pages.py": fixed}
        assert _proposals(edits, asked)[0][0] == "propose_patch_unified" and len(_proposals(edits, asked)) == 1
    cart = "class Cart:\n    def add(self, x):\n        self.items.append(x)\n\n    def total(self):\n        return 0\n"
    methods = by_function(EditRequest.of([EditTarget.file("cart.py", cart)]))
    _, edits, _ = methods.read(f"### cart.py::Cart.total\n```python\n{cart.replace('return 0', 'return sum(self.items)')}```\n")
    assert [e.heading for e in edits] == ["cart.py::Cart.total"]
    assert new_texts(edits, methods.targets, {"cart.py": cart}.get) == {"cart.py": cart.replace("return 0", "return sum(self.items)")}
    one = asked.read("### pages.py::rounded\n```python\nimport math\n\n\ndef rounded(value):\n"
                     "    return math.floor(value)\n```\n")[1]
    assert new_texts(one, asked.targets, {"pages.py": PAGES}.get) is None
    nested = "class Outer:\n    def a(self):\n        return 1\n\n    class Inner:\n        def m(self):\n            return 0\n"
    inner = by_function(EditRequest.of([EditTarget.file("o.py", nested)]))
    _, edits, _ = inner.read(f"### o.py::Outer.a\n```python\n{nested.replace('return 0', 'return 42')}```\n")
    assert [e.heading for e in edits] == ["o.py::Outer.Inner.m"], "a nested class's method by its qualified name"


@pytest.mark.parametrize("beside", ["from math import ceil as up\n", "LIMIT = 3\n",
                                    "def _helper(line):\n    return line\n", "class Other:\n    pass\n"])
def test_a_file_written_under_a_function_s_heading_with_anything_new_beside_its_functions_is_refused(beside):
    """Nothing the reply wrote is dropped but an import no function uses: code beside the functions that
    the file does not have (a constant, a helper, an import a function uses) keeps the block whole, and
    replace_symbol refuses it as before; so does a block writing a function twice."""
    fixed = PAGES.replace("pages * per_page <= len(kept)", "pages * per_page < len(kept)").replace(
        "return ceil(value)", "return up(value)" if "up" in beside else "return ceil(value)")
    asked = by_function(EditRequest.of([EditTarget.file("pages.py", PAGES)], file_text={"pages.py": PAGES}.get))
    _, edits, unchanged = asked.read(f"### pages.py::page_count\n```python\n{beside}\n\n{fixed}```\n")
    assert [e.heading for e in edits] == ["pages.py::page_count"] and unchanged == []
    assert new_texts(edits, asked.targets, {"pages.py": PAGES}.get) is None
    assert _proposals(edits, asked)[0][0] == "replace_symbol"
    twice = fixed + "\n\ndef is_blank(line):\n    return False\n"
    _, edits, _ = asked.read(f"### pages.py::page_count\n```python\n{twice}```\n")
    assert new_texts(edits, asked.targets, {"pages.py": PAGES}.get) is None


def test_a_request_held_to_one_function_takes_nothing_but_that_function():
    """Narrowed to one heading, a block writing its file whole is no longer split into the others."""
    two = "def a():\n    return 0\n\n\ndef b():\n    return 1\n"
    held = by_function(EditRequest.of([EditTarget.file("g.py", two)], file_text={"g.py": two}.get)).narrowed("g.py::a")
    _, edits, _ = held.read(f"### g.py::a\n```python\n{two.replace('0', '7').replace('1', '8')}```\n")
    assert [e.heading for e in edits] == ["g.py::a"] and _proposals(edits, held)[0][0] == "replace_symbol"


def test_a_fix_written_as_its_file_under_a_function_s_heading_is_applied_and_tested(tmp_path):
    """End to end (the 1.5B's profile): the first fix fails and is undone; the second, its file whole
    under the function's heading, goes in as that function's diff and the task ends solved."""
    files = {**BUGGY_PROJECT, "calc.py": "import math\n\n\n" + CALC + "\n\nPI = math.pi\n"}
    repo = make_repo(tmp_path / "p", files)
    whole = "import os\n\n\n" + CALC.replace("a - b", "a + b")  # its import garbled, PI left out: neither written
    replies = [f"### calc.py\n```python\n{files['calc.py'].replace('a - b', 'a * b')}```\n",
               f"add subtracts.\n\n### calc.py::add\n```python\n{whole}```\n"]
    done = run_cli("--approval", "auto", "--model", f"replay:{write_replay(tmp_path / 'r.json', replies)}", "--json",
                   TASK, cwd=repo, timeout=600, env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    assert (repo / "calc.py").read_text() == files["calc.py"].replace("a - b", "a + b"), "add alone changed"
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert next(e["answer"] for e in events if e["type"] == "final_answer") == "The tests pass. add subtracts."
    errors = [e for e in events if e["type"] == "tool_call" and e.get("outcome") == "error"]
    assert errors == [], errors
