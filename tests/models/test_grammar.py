"""The grammars: generated from the tool schemas, accepted by llama.cpp's own parser, bounded."""

from __future__ import annotations

import re
import warnings
from functools import cache

import pytest

from agent_runtime.models.grammar import THOUGHT_CHARS, tool_call_grammar
from agent_runtime.tools import tool_classes


@cache
def _vocab_model():
    """The embedded 0.5B model with its vocabulary only (no weights are loaded)."""
    import llama_cpp

    from agent_runtime.config import load_settings
    from agent_runtime.models.embedded import resolve_embedded

    return llama_cpp.Llama(str(resolve_embedded(load_settings({}), "0.5b").gguf), vocab_only=True, verbose=False)


@pytest.fixture(scope="module", autouse=True)
def _free_the_vocab_model():
    yield
    if _vocab_model.cache_info().currsize:
        _vocab_model().close()  # now, not at interpreter exit (llama_cpp is gone by then)
        _vocab_model.cache_clear()


def assert_llama_cpp_parses(grammar: str) -> None:
    """What the server does with a grammar: llama.cpp's parser, with its limits (a bounded repetition
    may expand to at most 2,000 rules). `LlamaGrammar.from_string` checks none of them, and a grammar
    the server cannot parse was silently dropped (the reply then followed no grammar at all)."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(_vocab_model()._model.vocab, grammar.encode("utf-8"), b"root")
    assert sampler, "llama.cpp refuses this grammar (its log says why)"
    llama_cpp.llama_sampler_free(sampler)


def test_llama_cpp_refuses_a_grammar_that_expands_too_far():
    """The check above can fail: a group of bounded repetitions past llama.cpp's limit."""
    assert_llama_cpp_parses('root ::= ("a" [^\\n]{0,900})? "\\n"')
    with pytest.raises(AssertionError, match="refuses"):
        assert_llama_cpp_parses('root ::= ("a" [^\\n]{0,900} | "b" [^\\n]{0,900} | "c" [^\\n]{0,900})? "\\n"')


def test_every_grammar_the_agent_sends_parses_in_llama_cpp():
    from agent_runtime.models.grammar import edit_grammar, python_grammar

    tools = tool_classes()
    for max_tokens in (256, 1024, 1536, 4096, 8192):
        assert_llama_cpp_parses(tool_call_grammar(tools, max_tokens=max_tokens))
        assert_llama_cpp_parses(python_grammar(tools, max_tokens=max_tokens))
        assert_llama_cpp_parses(python_grammar(tools, max_tokens=max_tokens, readable={"files", "p", "tests"}))
        assert_llama_cpp_parses(python_grammar(tools, max_tokens=max_tokens, readable=set()))
        # Without the coaching rule grammar_limits (models/profiles.py): only the form holds.
        assert_llama_cpp_parses(tool_call_grammar(tools, max_tokens=max_tokens, limits=False))
        assert_llama_cpp_parses(python_grammar(tools, max_tokens=max_tokens, limits=False))
    for paths in (["calc.py"], ["shop/__init__.py", "shop/cart.py", "shop/pricing.py"], [f"m{i}.py" for i in range(12)]):
        assert_llama_cpp_parses(edit_grammar(paths))


class FakeTool:
    def __init__(self, name, inputs):
        self.name, self.inputs = name, inputs


def test_grammar_covers_every_tool_and_compiles_in_llama_cpp():
    grammar = tool_call_grammar(tool_classes(), max_tokens=1024)
    for cls in tool_classes():
        assert f'"{cls.name}("' in grammar
    assert "final_answer(" in grammar
    assert_llama_cpp_parses(grammar)


def test_argument_rules_follow_the_schema():
    grammar = tool_call_grammar([FakeTool("read_file", {
        "path": {"type": "string", "description": ""},
        "start_line": {"type": "integer", "description": "", "nullable": True},
    }), FakeTool("list_files", {
        "pattern": {"type": "string", "description": "", "nullable": True},
        "max_results": {"type": "integer", "description": "", "nullable": True},
    }), FakeTool("repo_info", {})], max_tokens=1024)
    assert 'call-read-file ::= "read_file(" ("path=" (str) (", start_line=" (int))?) ")"' in grammar
    # all optional: none, the first with the rest optional, or only the second
    assert 'call-list-files ::= "list_files(" (("pattern=" (str) (", max_results=" (int))?) | ' \
           '("max_results=" (int)))? ")"' in grammar
    assert 'call-repo-info ::= "repo_info(" "" ")"' in grammar


def test_longest_reply_fits_in_max_tokens():
    """Even at one character per token, a reply under the grammar is never cut off mid-code:
    build the longest reply the grammar admits and check it against max_tokens."""
    from agent_runtime.models.grammar import longest_reply, string_budget

    tools = list(tool_classes())
    for max_tokens in (1024, 2048, 4096):
        grammar = tool_call_grammar(tools, max_tokens=max_tokens)
        str_chars = int(re.search(r"strchar\{0,(\d+)\}", grammar).group(1))
        assert str_chars == string_budget(tools, max_tokens) and str_chars >= 24
        longest_string = '"' + "\\n" * str_chars + '"'  # every character an escape: two characters each

        def call(tool, longest_string=longest_string):
            args = []
            for name, spec in tool.inputs.items():
                value = {"string": longest_string, "integer": "-999999", "boolean": "False"}[spec["type"]]
                args.append(f"{name}={value}")
            return f"{tool.name}({', '.join(args)})"

        widest = max((call(t) for t in tools), key=len)
        reply = ("Thought: " + "x" * THOUGHT_CHARS + "\n<code>\n" + f"result = {widest}\n" + f"print({widest})\n"
                 + f"print({widest})\n" + f"final_answer({longest_string})\n" + "</code>")
        assert len(reply) <= longest_reply(tools, str_chars) <= max_tokens


def _code(reply: str) -> str:
    return reply.split("<code>\n", 1)[1].rsplit("</code>", 1)[0]


def test_every_reply_of_the_tools_grammar_parses_and_fits():
    """Thousands of replies drawn from the grammar itself, not from a model's habits."""
    import random

    from gbnf_sampler import Grammar

    grammar = Grammar(tool_call_grammar(tool_classes(), max_tokens=1024))
    rng = random.Random(1)
    for _ in range(2000):
        reply = grammar.sample(rng)
        assert reply.startswith("Thought: ") and "\n<code>\n" in reply and reply.endswith("</code>")
        compile(_code(reply), "<reply>", "exec")
        assert len(reply) <= 1024
        if "print(result)" in _code(reply) or "final_answer(result)" in _code(reply):
            assert "result = " in _code(reply).split("result)")[0], "result is used only after it is assigned"


def test_every_reply_of_the_python_grammar_is_valid_python():
    import random

    from gbnf_sampler import Grammar

    from agent_runtime.models.grammar import python_grammar

    grammar = Grammar(python_grammar(tool_classes(), max_tokens=1024))
    rng = random.Random(2)
    kinds = set()
    for _ in range(600):
        code = _code(grammar.sample(rng))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # `"a"(1)` compiles, with a warning: not our concern
            compile(code, "<reply>", "exec")  # a SyntaxError fails the test
        kinds |= {k for k in ("for ", "if ", " = ", "[", "{", "(", " and ", " not in ") if k in code}
    assert len(kinds) == 8, "the samples cover the grammar's shapes"


def test_no_string_can_close_the_code_block_early():
    """A model once wrote `patch_id=')["patch_id"]))</code>I'`: a string holding `</code>`, which
    ends smolagents' code block mid-string. No grammar admits `</` inside the code."""
    import random

    from gbnf_sampler import Grammar

    from agent_runtime.models.grammar import python_grammar

    for grammar_text, seed in ((python_grammar(tool_classes(), max_tokens=1024), 4),
                               (tool_call_grammar(tool_classes(), max_tokens=1024), 5)):
        grammar = Grammar(grammar_text)
        rng = random.Random(seed)
        opened = 0
        for _ in range(1500):
            code = _code(grammar.sample(rng))
            assert "</" not in code, code
            opened += "<" in code
        assert opened > 20, "strings with < were sampled, so the rule was exercised"


def test_identifiers_never_collide_with_keywords():
    import keyword
    import random

    from gbnf_sampler import Grammar

    from agent_runtime.models.grammar import identifier_rules

    grammar = Grammar("\n".join(identifier_rules()))
    rng = random.Random(3)
    names = {grammar.sample(rng, "name") for _ in range(10000)}
    assert not names & set(keyword.kwlist)
    assert len(names) > 3000
    assert all(n.isidentifier() for n in names)


def test_a_statement_never_begins_with_a_name_glued_to_a_keyword():
    """The 0.5B model, refused the space after `def` and `assert`, wrote `defadd = 0` and
    `assertadd2 = -1`, then `apply_patch(patch_id=defadd["patch_id"])` (a TypeError, in CI)."""
    import keyword
    import random

    from gbnf_sampler import Grammar

    from agent_runtime.models.grammar import STATEMENT_KEYWORDS, identifier_rules, python_grammar

    def reply(code: str) -> str:
        return f"Thought: x\n<code>\n{code}\n</code>"

    grammar = Grammar(python_grammar(tool_classes(), max_tokens=512))
    for glued in ("defadd = 0", "assertadd2 = -1", "importos = 1", "defadd.append(1)", "returnx += 1",
                  "withopen = 1", "classes = 1", "if x: defadd = 1", "defadd[0] = 1"):
        assert not grammar.accepts(reply(glued)), glued
    for fine in ("d = 1", "result = repo_info()", "x.append(1)", "for_each = 1", "tests = run_tests()",
                 "print(default)", "p = propose_file(path=\"a.py\", content=r\'\'\'def add(a, b):\n    return a + b\n\'\'\')"):
        assert grammar.accepts(reply(fine)), fine
    names = Grammar("\n".join(identifier_rules() + identifier_rules(rule="stmtname", barred_prefixes=STATEMENT_KEYWORDS)))
    rng = random.Random(4)
    sampled = {names.sample(rng, "stmtname") for _ in range(5000)}
    assert not any(n.startswith(STATEMENT_KEYWORDS) for n in sampled)
    assert not sampled & set(keyword.kwlist) and all(n.isidentifier() for n in sampled)
    assert {n for n in sampled if n.startswith(("de", "as", "in", "cl", "wh"))}, "near misses are still names"
    assert_llama_cpp_parses(python_grammar(tool_classes(), max_tokens=512))


def test_the_edit_grammar_compiles_and_writes_only_the_files_it_may():
    """A fix in the edit form: an explanation first, then whole files, each one the task may change
    (never its tests, never a path the model makes up); every reply parses into the files."""
    import random

    from gbnf_sampler import Grammar

    from agent_runtime.agent.blocks import parse_edits
    from agent_runtime.models.grammar import edit_grammar

    paths = ("calc.py", "pkg/ü x.py")
    text = edit_grammar(paths)
    assert_llama_cpp_parses(text)
    grammar = Grammar(text)
    good = "add() subtracts.\n\n### calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
    assert grammar.accepts(good)
    assert grammar.accepts(good + "### pkg/ü x.py\n```\nx = '``'\n```\n"), "a second file; backticks inside a line"
    assert not grammar.accepts(good.replace("### calc.py", "### test_calc.py")), "not a file it may change"
    assert not grammar.accepts(good.split("\n\n", 1)[1]), "what is wrong comes first"
    assert not grammar.accepts(good + "Now the tests pass.\n"), "nothing after the files"
    assert not grammar.accepts("x\n### calc.py\n```python\n```python\n```\n"), "a fence line closes the file"
    rng = random.Random(11)
    for _ in range(150):
        reply = grammar.sample(rng)
        explanation, edits = parse_edits(reply, paths)
        headings = re.findall(r"^### (.+)$", reply, re.M)
        assert headings and all(h in paths for h in headings) and explanation, reply[:200]
        # a Python block that is empty or only comments writes no code, so it is no edit (agent/blocks.py)
        assert all(e.path in paths and e.content.endswith("\n") and e.content.strip("# \n") for e in edits)


def test_without_an_explanation_the_reply_is_the_code_straight_away():
    """A request that asks for no explanation (explanation_lines=0): the code first. The
    grammar then lets no text in before the first heading, and still only the files a fix may change;
    the changes form likewise. Both compile in llama.cpp (a repetition {0,-1} did not: a 500 per retry)."""
    import random

    from gbnf_sampler import Grammar

    from agent_runtime.agent.blocks import parse_edits
    from agent_runtime.models.grammar import changes_grammar, edit_grammar

    paths = ("calc.py", "pkg/ü x.py")
    for blocks in (None, 2):
        text = edit_grammar(paths, explanation_lines=0, max_blocks=blocks)
        assert_llama_cpp_parses(text)
        assert "explain" not in text
        grammar = Grammar(text)
        code = "### calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
        assert grammar.accepts(code)
        assert not grammar.accepts("add() subtracts.\n\n" + code), "no explanation first"
        assert not grammar.accepts(code.replace("### calc.py", "### test_calc.py")), "not a file it may change"
        rng = random.Random(3)
        for _ in range(50):
            reply = grammar.sample(rng)
            explanation, edits = parse_edits(reply, paths)
            assert reply.startswith("### ") and explanation == "", reply[:200]
    targets = {"pkg/core.py::Parser.parse": PARSE}
    text = changes_grammar(targets, explanation_lines=0)
    assert_llama_cpp_parses(text)
    change = ("### pkg/core.py::Parser.parse\n```python\n<<<<<<< SEARCH\n        return words[1:]\n=======\n"
              "        return words\n>>>>>>> REPLACE\n```\n")
    assert Grammar(text).accepts(change)
    assert not Grammar(text).accepts("It drops the first word.\n\n" + change)


def test_raw_triple_quoted_content_reaches_the_tool_as_written():
    """A whole file as content: docstrings, backslashes and quotes pass through r'''...'''."""
    import random

    from gbnf_sampler import Grammar

    from agent_runtime.models.grammar import python_grammar

    grammar = Grammar(python_grammar(tool_classes(), max_tokens=1024))
    assert grammar.accepts("Thought: fix\n<code>\np = propose_file(path=\"a.py\", content=r'''def f():\n"
                           "    \"\"\"Doc.\"\"\"\n    return re.sub(r\"\\d+\", '\\n', s)\n''')\n</code>")
    # The prompt's own example: a tool argument taken from an earlier result
    assert grammar.accepts('Thought: apply\n<code>\np = propose_patch(path="a.py", old="x", new="y")\n'
                           'print(apply_patch(patch_id=p["patch_id"]))\n</code>')
    # A made-up function cannot be called; builtins, methods and final_answer can
    assert not grammar.accepts('Thought: x\n<code>\nprint(summarize(read_file(path="README.md")))\n</code>')
    assert grammar.accepts('Thought: x\n<code>\nfinal_answer(", ".join(sorted(list_files()["files"])))\n</code>')
    # None stays None: a name may not run on from it (the model once wrote max_results=None0)
    assert not grammar.accepts('Thought: list\n<code>\nprint(list_files(pattern="*.py", max_results=None0))\n</code>')
    assert grammar.accepts('Thought: list\n<code>\nprint(list_files(pattern="*.py", max_results=5))\n</code>')
    # r'''a\''' does not end where it seems to (the backslash takes the quote): refused
    assert not grammar.accepts("Thought: fix\n<code>\np = propose_file(path=\"a.py\", content=r'''a\\''')\n</code>")
    rng = random.Random(7)
    for _ in range(300):
        code = _code(grammar.sample(rng))
        if "r'''" in code:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)
                compile(code, "<reply>", "exec")


def test_a_retry_grammar_reads_only_the_variables_there_are():
    """After a reply read a name nothing set, the retry may read only what earlier steps set."""
    import random

    from gbnf_sampler import Grammar

    from agent_runtime.agent.replycheck import unbound_reads
    from agent_runtime.models.grammar import python_grammar

    def reply(code: str) -> str:
        return f"Thought: x\n<code>\n{code}\n</code>"

    some = Grammar(python_grammar(tool_classes(), max_tokens=512, readable={"files", "p", "if", "no-id"}))
    assert some.accepts(reply("print(files)")) and some.accepts(reply('print(apply_patch(patch_id=p["patch_id"]))'))
    assert some.accepts(reply("print(len(files))")) and some.accepts(reply("x = read_file(path=\"a\")"))
    assert not some.accepts(reply("print(list_all)")) and not some.accepts(reply("F.uido"))
    assert not some.accepts(reply("print(filesx)")), "a known name does not run on into another"
    none = Grammar(python_grammar(tool_classes(), max_tokens=512, readable=set()))
    assert none.accepts(reply("print(list_files())")) and not none.accepts(reply("print(files)"))
    assert not none.accepts(reply('print(apply_patch(patch_id=p["patch_id"]))'))
    assert not none.accepts(reply("n += 1")) and not none.accepts(reply("d['k'] = 1")) and none.accepts(reply("d = 1"))
    assert some.accepts(reply("p['k'] = 1")) and not some.accepts(reply("q['k'] = 1")) and not some.accepts(reply("q += 1"))
    rng = random.Random(3)
    tools = {t.name for t in tool_classes()} | {"final_answer"}
    for _ in range(60):
        code = _code(some.sample(rng))
        assert unbound_reads(code, {"files", "p"} | tools) == [], code


PARSE = ('    def parse(self, text):\n        """Split text into words."""\n        words = []\n'
         '        for word in text.split(" "):\n            if word:\n                words.append(word)\n'
         '            if word:\n                continue\n        return words[1:]')
SEARCH_LINES = 8


def test_the_changes_grammar_holds_search_to_the_code_shown_and_compiles_in_llama_cpp():
    """A fix in the changes form: SEARCH is lines of the heading's code, copied exactly, starting at
    a line that occurs once in it (so it is found, in one place); REPLACE is free; at most two
    headings, each once. Every sampled reply applies with nothing missing."""
    import random

    from gbnf_sampler import Grammar

    from agent_runtime.agent.blocks import apply_changes, parse_changes
    from agent_runtime.models.grammar import SEARCH_LINES as lines_allowed
    from agent_runtime.models.grammar import changes_grammar

    assert lines_allowed == SEARCH_LINES
    targets = {"pkg/core.py::Parser.parse": PARSE, "pkg/ü x.py lines 3-4": "x = '\"\\\\'\n\ty = 2"}
    text = changes_grammar(targets)
    assert_llama_cpp_parses(text)
    grammar = Grammar(text)
    good = ("It drops the first word.\n\n### pkg/core.py::Parser.parse\n```python\n<<<<<<< SEARCH\n"
            "        return words[1:]\n=======\n        return words\n>>>>>>> REPLACE\n```\n")
    assert grammar.accepts(good)
    two = good.replace("```\n", "", 1).rstrip("`\n") + "\n\n<<<<<<< SEARCH\n        words = []\n=======\n" \
        "        words = list()\n>>>>>>> REPLACE\n```\n"
    assert grammar.accepts(two), "two changes under one heading"
    assert grammar.accepts(good + "### pkg/ü x.py lines 3-4\n```\n<<<<<<< SEARCH\n\ty = 2\n=======\n>>>>>>> REPLACE\n```\n")
    assert not grammar.accepts(good.replace("return words[1:]\n=", "return words[2:]\n=")), "not in the code"
    assert not grammar.accepts(good.replace("        return words[1:]\n=", "    return words[1:]\n=")), \
        "copied with other indentation"
    dup = good.replace("        return words[1:]\n=", "            if word:\n                continue\n=")
    assert not grammar.accepts(dup), "starts at a line that occurs twice: where would it go?"
    assert grammar.accepts(dup.replace("<<<<<<< SEARCH\n", "<<<<<<< SEARCH\n                words.append(word)\n")), \
        "the same lines, from a line that occurs once"
    whole = good.replace("<<<<<<< SEARCH\n        return words[1:]\n", "<<<<<<< SEARCH\n" + PARSE + "\n")
    assert len(PARSE.splitlines()) > SEARCH_LINES and not grammar.accepts(whole), \
        f"at most {SEARCH_LINES} lines copied (the model copied a whole function, twice)"
    assert grammar.accepts(good.replace("<<<<<<< SEARCH\n", "<<<<<<< SEARCH\n" + "\n".join(
        PARSE.splitlines()[1:9]) + "\n").replace("        return words[1:]\n=", "=")), f"{SEARCH_LINES} lines"
    assert not grammar.accepts(good.replace("        return words\n>>>", "        return words\n=======\n>>>")), \
        "the divider once (the 0.5B model wrote it again and again)"
    assert not grammar.accepts(good.replace("Parser.parse", "Parser.other")), "a heading that was not shown"
    assert not grammar.accepts(good + good.split("\n\n", 1)[1]), "a heading once"
    assert not grammar.accepts(good.split("\n\n", 1)[1]), "what is wrong comes first"
    rng = random.Random(5)
    for _ in range(150):
        reply = grammar.sample(rng)
        explanation, changes = parse_changes(reply, tuple(targets))
        assert explanation and changes, reply[:300]
        for heading, pairs in changes.items():
            assert apply_changes(targets[heading], pairs)[1] == [], reply[:300]


def test_the_changes_grammar_of_the_longest_function_shown_compiles():
    """The focus shows functions of up to 120 lines (code/focus.LONG_FUNCTION_LINES), six at most."""
    from agent_runtime.code.focus import LONG_FUNCTION_LINES
    from agent_runtime.models.grammar import changes_grammar

    body = "\n".join(f"    value_{i} = compute({i}, 'text \" {i}')" for i in range(LONG_FUNCTION_LINES))
    targets = {f"pkg/m{k}.py::f{k}": f"def f{k}():\n{body}" for k in range(6)}
    assert_llama_cpp_parses(changes_grammar(targets))
    assert_llama_cpp_parses(changes_grammar(targets, search_lines=None))  # grammar_limits off
