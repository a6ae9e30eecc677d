"""GBNF grammars for llama.cpp backends, generated from the tool schemas.

`tool_call_grammar` admits exactly: a `Thought:` line, then a `<code>` block made only of
calls to the registered tools with literal arguments of their declared types, `print(...)`
of such calls, one variable (`result`) assigned from a call and used only after, and
`final_answer(...)`. Every reply the model can produce under it parses *and* runs.

Free text excludes `<`: llama.cpp's chat formats stop on strings like `<end_of_turn>`,
which a model could otherwise write into its thought. Lengths are bounded so the longest
admissible reply fits in max_tokens even at one character per token: a reply is never cut
off mid-code.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

THOUGHT_CHARS = 160
PYTHON_THOUGHT_CHARS = 200  # the Python grammar has no length budget to share: a thought cut short makes poor code
MAX_STATEMENTS = 3  # tool-call statements per reply, plus an optional final_answer
VALUE_CHARS = {"int": 7, "num": 12, "bool": 5}  # longest literal of each kind
FRAME = len("Thought: ") + THOUGHT_CHARS + len("\n<code>\n") + len("</code>")
STATEMENT_FRAME = len("result = ") + len("\n")  # longer than print( ... )\n


def _value_rule(kind: Any) -> str | None:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    rules = {"string": "str", "integer": "int", "number": "num", "boolean": "bool"}
    usable = [rules[k] for k in kinds if k in rules]
    return " | ".join(usable) if usable else None


def _args_rule(inputs: dict[str, dict[str, Any]], rules: dict[str, str] | None = None) -> str | None:
    """Keyword arguments in declared order; optional ones may be left out. None: a required input
    has a type the grammar cannot write (array, object). `rules`: a rule for some arguments."""
    items = []
    for name, spec in inputs.items():
        value = (rules or {}).get(name) or _value_rule(spec["type"])
        required = not spec.get("nullable")
        if value is None:
            if required:
                return None
            continue
        items.append((name, f"({value})", required))
    if not items:
        return '""'

    def tail(start: int) -> str:
        parts = []
        for name, value, required in items[start:]:
            piece = f'", {name}=" {value}'
            parts.append(piece if required else f"({piece})?")
        return " ".join(parts)

    first_required = next((i for i, item in enumerate(items) if item[2]), None)
    last_first = first_required if first_required is not None else len(items) - 1
    alternatives = []
    for k in range(last_first + 1):
        name, value, _ = items[k]
        alternatives.append(" ".join(p for p in (f'"{name}=" {value}', tail(k + 1)) if p))
    rule = " | ".join(f"({a})" for a in alternatives)
    return rule if first_required is not None else f"({rule})?"


def _call_length(tool, str_chars: int) -> int:
    """Longest text of one call to `tool`, escapes counted as two characters."""
    length = len(tool.name) + 2
    for name, spec in tool.inputs.items():
        value = _value_rule(spec["type"])
        if value is None:
            continue
        longest = 2 + 2 * str_chars if "str" in value else max(VALUE_CHARS[v.strip()] for v in value.split("|"))
        length += len(", ") + len(name) + 1 + longest
    return length


def longest_reply(tools: list[Any], str_chars: int) -> int:
    """The most characters any reply under the grammar can have."""
    call = max(_call_length(t, str_chars) for t in tools)
    final = len("final_answer(") + 2 + 2 * str_chars + len(")\n")
    return FRAME + MAX_STATEMENTS * (STATEMENT_FRAME + call) + final


def string_budget(tools: list[Any], max_tokens: int) -> int:
    """The longest string literal that keeps every reply within max_tokens characters."""
    for str_chars in range(400, 7, -1):
        if longest_reply(tools, str_chars) <= max_tokens:
            return str_chars
    return 8  # max_tokens is too small for a full reply; it is at least short


def tool_call_grammar(tools: Iterable[Any], max_tokens: int, limits: bool = True) -> str:
    """limits (the coaching rule grammar_limits, models/profiles.py): the thought, the statements and
    the strings bounded so that the longest reply fits max_tokens; without them only the form holds."""
    tools = [t for t in tools if t.name != "final_answer" and _args_rule(t.inputs) is not None]
    rules = []
    for tool in tools:
        rules.append(f'call-{tool.name.replace("_", "-")} ::= "{tool.name}(" {_args_rule(tool.inputs)} ")"')
    str_chars = string_budget(tools, max_tokens)
    header = [
        'root ::= "Thought: " thought "\\n<code>\\n" body "</code>"',
        f"thought ::= [^\\n<]{{1,{THOUGHT_CHARS}}}" if limits else "thought ::= [^\\n<]+",
        # At most MAX_STATEMENTS calls; `result` can only be used after it is assigned.
        f"body ::= final | plain{{1,{MAX_STATEMENTS}}} final? | plain? assign (plain | use)? final-any?" if limits
        else "body ::= final | plain+ final? | plain* assign (plain | use)* final-any?",
        'plain ::= "print(" call ")\\n"',
        'assign ::= "result = " call "\\n"',
        'use ::= "print(result)\\n"',
        'final ::= "final_answer(" str ")\\n"',
        'final-any ::= "final_answer(" (str | "result") ")\\n"',
        "call ::= " + " | ".join(f'call-{t.name.replace("_", "-")}' for t in tools),
        f'str ::= "\\"" strchar{{0,{str_chars}}} "\\""' if limits else 'str ::= "\\"" strchar* "\\""',
        # "<" may not start "</" (a string holding </code> would end the code block early) nor
        # "<e"... (a chat format's end-of-turn marker).
        'strchar ::= [^"\\\\\\n<] | "\\\\" ["\\\\nt] | "<" [^"\\\\\\n<e/]',
        # No leading zeros: `07` is a SyntaxError in Python 3.
        'int ::= "-"? ("0" | [1-9] [0-9]{0,5})',
        'num ::= "-"? ("0" | [1-9] [0-9]{0,5}) ("." [0-9]{1,4})?',
        'bool ::= "True" | "False"',
    ]
    return "\n".join(header + rules) + "\n"


# --- GRAMMAR=python: any syntactically valid Python of a safe shape -------------------------

PYTHON_KEYWORDS = ("False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
                   "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
                   "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield")
IDENTIFIER_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
# What a variable of the model's code can hold: a tool's result (a dict), or a str, list, number,
# set or tuple made from one. Their public methods are the only attributes that exist on them.
VALUE_METHODS = tuple(sorted({m for kind in (str, dict, list, set, tuple, int, float)
                              for m in dir(kind) if not m.startswith("_")}))


def _char_class(chars: str) -> str:
    return "[" + "".join(chars) + "]" if chars else ""


# What a model glues onto a statement it may not write: `def add(a, b):` came out as `defadd = 0`
# and `assert add(2, 3) == 5` as `assertadd2 = -1` (the grammar refused the space after the
# keyword, not the keyword). A statement's first name never begins with these, so the model's
# next choice is a statement it may write. The price: no new variable named `default` or `classes`.
STATEMENT_KEYWORDS = ("assert", "class", "def", "from", "import", "lambda", "raise", "return", "try", "while", "with")


def identifier_rules(keywords: Iterable[str] = PYTHON_KEYWORDS, max_tail: int = 30, rule: str = "name",
                     barred_prefixes: Iterable[str] = ()) -> list[str]:
    """`rule` (`name`): an identifier that is not a keyword, nor begins with a barred prefix. GBNF
    has no negation, so the complement is spelled out along the trie of keywords and prefixes: at
    each node, either stop (unless the path so far is a keyword), follow a keyword's next letter
    (unless that makes a barred prefix), or leave the trie with any other character."""
    trie: dict[str, Any] = {}
    ends = set(keywords)
    barred = set(barred_prefixes)
    for word in ends | barred:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
    # name-tail is shared: written once, with the `name` rules (a grammar with `stmtname` has both).
    rules = [f"name-tail ::= [{IDENTIFIER_CHARS}]{{0,{max_tail}}}"] if rule == "name" else []

    def rule_name(path: str) -> str:
        return f"{rule}-" + "".join(c if c.isalnum() else "_" for c in path) + ("-root" if not path else "")

    def visit(path: str, node: dict[str, Any]) -> None:
        first = not path
        allowed = "".join(c for c in IDENTIFIER_CHARS if not (first and c.isdigit()))
        options = []
        if path and path not in ends:
            options.append('""')
        for char in sorted(node):
            if path + char in barred:
                continue
            options.append(f'"{char}" {rule_name(path + char)}')
            visit(path + char, node[char])
        others = "".join(c for c in allowed if c not in node)
        if others:
            options.append(f"{_char_class(others)} name-tail")
        rules.append(f"{rule_name(path)} ::= " + " | ".join(options))

    visit("", trie)
    rules.append(f"{rule} ::= {rule_name('')}")
    return rules


def python_grammar(tools: Iterable[Any], max_tokens: int, readable: Iterable[str] | None = None,
                   limits: bool = True) -> str:
    """A `<code>` block of simple statements, one-line `if`/`for`, calls, literals, operators,
    comprehensions: every reply is syntactically valid Python unless cut off by max_tokens.
    Keyword arguments appear only in tool calls (declared names, in order, once each), so a
    repeated keyword cannot happen; assignment targets cannot be calls; numbers take no trailers;
    a method is one the values code can hold have (str, dict, list, numbers), and is called;
    a statement is an assignment (one target) or a call.
    readable: if given, the only variables code may read (those an earlier step set): for a
    retry after a reply read a name it made up. Names this code sets cannot be read back then.
    limits (grammar_limits): a thought of at most PYTHON_THOUGHT_CHARS and at most 8 statements."""
    reads = "name"
    lead = "stmtname"  # what a statement may begin with: a variable, none glued to a keyword
    if readable is not None:
        known = sorted(n for n in set(readable) if n.isidentifier() and n not in PYTHON_KEYWORDS)
        reads = " | ".join(f'"{n}"' for n in known) or None
        lead = reads
    tools = [t for t in tools if t.name != "final_answer" and _args_rule(t.inputs) is not None]
    str_chars = max(80, min(2000, max_tokens))
    file_chars = max(80, min(12000, 4 * max_tokens))  # about four characters a token
    rules = [
        'root ::= "Thought: " thought "\\n<code>\\n" stmt' + ("{1,8}" if limits else "+") + ' "</code>"',
        f"thought ::= [^\\n<]{{1,{PYTHON_THOUGHT_CHARS}}}" if limits else "thought ::= [^\\n<]+",
        'stmt ::= (simple | "if " expr ": " simple | "for " names " in " expr ": " simple) "\\n"',
        # A statement does something: an assignment or a call. A bare `F.uido` or `[100]` (a
        # thought cut off by the grammar, continued as code) and `a, b, c = tool()` (a tool
        # returns one result) are what small models wrote instead.
        "simple ::= assign | callstmt" + (" | augassign" if reads else ""),
        'assign ::= target " = " expr',
        # `x[i] = v` and `x += v` read x first.
        'target ::= stmtname' + (f' | ({lead}) ("[" expr "]"){{1,3}}' if lead else ''),
        f'augassign ::= ({lead or "stmtname"}) ("[" expr "]"){{0,3}} (" += " | " -= " | " *= " | " /= ") expr',
        'callstmt ::= (builtin "(" posargs? ")" | toolcall' + (f' | ({lead}) ("[" subscript "]" | methodcall){{0,2}} methodcall' if lead else '') + ') trailer{0,3}',
        'names ::= name ("," " " name){0,3}',
        'expr ::= conj (" or " conj){0,3}',
        'conj ::= neg (" and " neg){0,3}',
        'neg ::= "not " neg | comp',
        'comp ::= arith (compop arith){0,2}',
        'compop ::= " == " | " != " | " < " | " > " | " <= " | " >= " | " in " | " not in " | " is " | " is not "',
        'arith ::= term ((" + " | " - ") term){0,4}',
        'term ::= factor ((" * " | " / " | " // " | " % ") factor){0,3}',
        'factor ::= "-" factor | number | primary',
        # A bare name is called only if it is a builtin or final_answer: a model once called a
        # `summarize()` it made up.
        'primary ::= builtin "(" posargs? ")" trailer{0,3} | atom | atom nocall trailer{0,3}',
        'nocall ::= "[" subscript "]" | methodcall',
        # A method is one that str, dict, list and numbers have, and is called: `E.assert_add()`
        # and `result.content` (a dict has no attributes) failed at run time every time.
        'methodcall ::= "." method "(" posargs? ")"',
        'method ::= ' + ' | '.join(f'"{m}"' for m in VALUE_METHODS),
        'builtin ::= "print" | "len" | "str" | "int" | "float" | "bool" | "list" | "dict" | "set" | "tuple" | '
        '"sorted" | "reversed" | "range" | "enumerate" | "zip" | "min" | "max" | "sum" | "any" | "all" | "abs" | '
        '"round" | "repr" | "isinstance" | "final_answer"',
        'atom ::= toolcall | ' + (f'({reads}) | ' if reads else '') + 'string | "True" | "False" | "None" | list | dict | paren',
        'trailer ::= "(" posargs? ")" | "[" subscript "]" | methodcall',
        'posargs ::= expr ("," " " expr){0,5}',
        'subscript ::= expr | expr? ":" expr?',
        'list ::= "[" (posargs | expr " for " names " in " expr (" if " expr)?)? "]"',
        'dict ::= "{" (expr ": " expr ("," " " expr ": " expr){0,7})? "}"',
        'paren ::= "(" expr ")" | "(" expr "," (" " expr ("," " " expr){0,5})? ")"',
        'number ::= ("0" | [1-9] [0-9]{0,8}) ("." [0-9]{1,6})?',
        f'string ::= "\\"" dqchar{{0,{str_chars}}} "\\"" | "\'" sqchar{{0,{str_chars}}} "\'" | tqstring',
        # Triple-quoted strings for code of several lines (what a coder model writes for old= and
        # new=): no \"\"\" inside, a quote is followed by another character, and no "</" as below.
        # r'''...''' too: a whole file written as content (propose_file) holds \"\"\" docstrings and
        # backslashes (regular expressions, "\\n") that must reach the file as they are.
        f'tqstring ::= "\\"\\"\\"" tqchar{{0,{file_chars}}} "\\"\\"\\"" | "r\'\'\'" rqchar{{0,{file_chars}}} "\'\'\'"',
        # A backslash always takes the next character with it (in a raw string `\\'` does not end it).
        r'''rqchar ::= rqone | "'" rqone | "''" rqone''',
        r'''rqone ::= [^'<\\] | "\\" [^<] | "<" [^'</e\\]''',
        r'''tqchar ::= [^"\\<] | "\\" ["'\\nt] | "<" [^"\\</e] | "\"" [^"\\<] | "\"\"" [^"\\<]''',
        'dqchar ::= [^"\\\\\\n<] | "\\\\" ["\'\\\\nt] | "<" [^"\\\\\\n<e/]',
        'sqchar ::= [^\'\\\\\\n<] | "\\\\" ["\'\\\\nt] | "<" [^\'\\\\\\n<e/]',
        # Tool calls with keyword arguments: the declared names, in order, each once.
        "toolcall ::= " + " | ".join(f'call-{t.name.replace("_", "-")}' for t in tools),
        # A string argument may also be an item of an earlier result: apply_patch(patch_id=p["patch_id"]),
        # as the prompt shows (a literal only, and the model wrote the call into a string instead).
        # At least one subscript or attribute: a bare name would let `None` run on into `None0`.
        'str ::= string' + (f' | ({reads}) ("[" expr "]" | methodcall){{1,3}}' if reads else ''),
        'int ::= "-"? ("0" | [1-9] [0-9]{0,8})',
        'num ::= "-"? number',
        'bool ::= "True" | "False"',
        # A whole file begins with code, a comment, a docstring or a decorator, never with the
        # prompt's `...every line of the corrected file...` that small models copied.
        f"filecontent ::= \"r'''\" \"\\n\"? [a-zA-Z_#@\"] rqchar{{0,{file_chars}}} \"'''\" | "
        f'"\\"\\"\\"" "\\n"? [a-zA-Z_#@] tqchar{{0,{file_chars}}} "\\"\\"\\""',
    ]
    content = {"content": "filecontent"}
    for tool in tools:
        args = _args_rule(tool.inputs, content if tool.name == "propose_file" else None)
        rules.append(f'call-{tool.name.replace("_", "-")} ::= "{tool.name}(" {args} ")"')
    return "\n".join(rules + identifier_rules() + identifier_rules(rule="stmtname", barred_prefixes=STATEMENT_KEYWORDS)) + "\n"


# --- Ollama: a JSON schema ({thought, code}) whose code is held to tool calls by a pattern ---


def tool_call_pattern(tools: Iterable[Any], limits: bool = True) -> str:
    """A regular expression for the code of one reply: the same shape as tool_call_grammar's body
    (up to three calls, printed or assigned to `result`, then optionally final_answer).

    It is written over the code *as it appears inside the JSON string* (a newline as backslash-n,
    a quote as backslash-quote): llama.cpp and Ollama apply a schema's pattern to the raw
    characters between the quotes, so a pattern over the decoded text would make them emit raw
    newlines, which is invalid JSON. String arguments hold no quotes or backslashes."""
    quote, newline = r'\\"', r"\\n"
    string = quote + r"[^\\\"\x00-\x1f]{0,200}" + quote
    values = {"string": string, "integer": r"-?(0|[1-9][0-9]{0,5})", "number": r"-?(0|[1-9][0-9]{0,5})(\.[0-9]{1,4})?",
              "boolean": "(True|False)"}
    calls = []
    for tool in tools:
        if tool.name == "final_answer":
            continue
        parts = []
        first = True
        for name, spec in tool.inputs.items():
            value = values.get(spec["type"]) if isinstance(spec["type"], str) else None
            if value is None:
                continue
            piece = f"{'' if first else ', '}{name}={value}"
            parts.append(f"({piece})?" if spec.get("nullable") else piece)
            first = False
        calls.append(f"{tool.name}\\({''.join(parts)}\\)")
    call = "(" + "|".join(calls) + ")"
    line = rf"(print\({call}\)|result = {call}|print\(result\)){newline}"
    final = rf"final_answer\(({string}|result)\)({newline})?"
    count = f"{{1,{MAX_STATEMENTS}}}" if limits else "+"
    return rf"^(({line}){count}({final})?|{final})$"


def json_escaped(code: str) -> str:
    """Code as it appears between the quotes of a JSON string (what tool_call_pattern matches)."""
    return json.dumps(code)[1:-1]


def reply_schema(tools: Iterable[Any] | None, limits: bool = True) -> dict:
    """The {thought, code} schema; with tools, the code must match tool_call_pattern. limits
    (grammar_limits): the thought at most THOUGHT_CHARS, at most MAX_STATEMENTS calls."""
    code: dict[str, Any] = {"type": "string"}
    if tools is not None:
        code["pattern"] = tool_call_pattern(tools, limits)
    thought = {"type": "string", **({"maxLength": THOUGHT_CHARS} if limits else {})}
    return {"type": "object", "properties": {"thought": thought, "code": code},
            "required": ["thought", "code"], "additionalProperties": False}


# --- the edit form (agent/edits.py): what is wrong, then whole files under their headings ---


def edit_grammar(paths: Iterable[str], explanation_lines: int = 8, max_blocks: int | None = None) -> str:
    """A few lines of explanation (none starting a heading or a fence; none at all with
    explanation_lines=0: the code straight away, as one completion writes it), then one to len(paths)
    blocks, each `### heading` (one of `paths`: the code the task may change -- files, functions,
    lines -- never its tests), a fence, lines that do not close it, the closing fence. Every reply
    parses; a test file cannot be written. max_blocks=2: at most two blocks, under different
    headings (small models otherwise wrote the same function out again and again)."""
    shown = [json.dumps(p, ensure_ascii=False) for p in paths if p.isprintable() and "\n" not in p]
    if not shown:
        raise ValueError("no file the edit may change")
    lead = "explain " if explanation_lines else ""
    # What is wrong comes first (a small model that says it fixes more than one that copies the file
    # straight away): a line of text, then more lines or blank ones.
    rules = _explain_rules(explanation_lines) + [
        # Unbounded lines (max_tokens ends a reply): llama.cpp refuses a grammar whose bounded
        # repetitions would expand to more than 2,000 rules, and its server then samples without one.
        r'body ::= "\n```" [a-z]{0,12} "\n" cline* "```\n"',
        # A line of the code: anything but a line that starts with three backticks.
        r'cline ::= ([^`\n] [^\n]* | "`" [^`\n] [^\n]* | "``" [^`\n] [^\n]*)? "\n"',
    ]
    if max_blocks == 2 and len(shown) > 1:
        firsts = []
        for i, heading in enumerate(shown):
            others = " | ".join(h for j, h in enumerate(shown) if j != i)
            rules.append(f'first{i} ::= "### " {heading} body ("### " ({others}) body)?')
            firsts.append(f"first{i}")
        rules.insert(0, f"root ::= {lead}({' | '.join(firsts)})")
    else:
        count = min(len(shown), max_blocks or len(shown))
        rules.insert(0, f"root ::= {lead}block{{1,{count}}}")
        rules.append('block ::= "### " path body')
        rules.append("path ::= " + " | ".join(shown))
    return "\n".join(rules) + "\n"


def _explain_rules(lines: int) -> list[str]:
    """A reply's explanation: a line of text, then up to lines - 1 more (or blank ones); none for 0."""
    if not lines:
        return []
    return [f"explain ::= etext eline{{0,{lines - 1}}}", r'etext ::= [^#`\n \t] [^\n]{0,400} "\n"',
            r'eline ::= etext | "\n"']


# --- the changes form (agent/edits.py): only the lines a fix changes, in a long function -------

SEARCH, DIVIDER, REPLACE = "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE"


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


SEARCH_LINES = 8  # the most lines one SEARCH may copy


def changes_grammar(targets: dict[str, str], explanation_lines: int = 4, max_blocks: int = 2,
                    max_changes: int = 3, search_lines: int | None = SEARCH_LINES) -> str:
    """A few lines of explanation, then up to max_blocks headings (of `targets`: heading -> its code
    now, each at most once), each with up to max_changes SEARCH/REPLACE pairs in a fence.

    SEARCH can only be lines of that heading's code, copied exactly, in order, starting at a line that
    occurs once in it: every SEARCH the model can write is found, in one place. (Aider's form, whose
    failures with small models are mostly SEARCH text that is not in the file.) At most search_lines
    of them: the 1.5B model copied a 40-line function whole into SEARCH, then again into REPLACE,
    and ran out of tokens. REPLACE is free. search_lines None (grammar_limits off): any run of lines, to
    the code's end. explanation_lines=0: no explanation, the blocks straight away."""
    lead = "explain " if explanation_lines else ""
    rules = _explain_rules(explanation_lines) + [
        # A line of the new code: anything but a line that starts with ">>" (the end marker's start)
        # or "=" (no line of code does; the 0.5B model wrote the divider again and again instead of
        # the end marker).
        r'rline ::= ([^>=\n] [^\n]* | ">" [^>\n] [^\n]*)? "\n"',
    ]
    blocks = []
    for i, (heading, text) in enumerate(targets.items()):
        lines = text.splitlines()
        if not heading.isprintable() or "\n" in heading:
            continue
        counts: dict[str, int] = {}
        for line in lines:
            counts[line] = counts.get(line, 0) + 1
        starts = [j for j, line in enumerate(lines) if line.strip() and counts[line] == 1]
        if not starts:
            continue
        if search_lines is None:  # t{i}-{j}: line j, then any of the lines after it, in order
            for j, line in enumerate(lines):
                follow = f" t{i}-{j + 1}?" if j + 1 < len(lines) else ""
                rules.append(f"t{i}-{j} ::= {_literal(line + chr(10))}{follow}")
            rules.append(f"search{i} ::= " + " | ".join(f"t{i}-{j}" for j in starts))
        else:  # t{i}-{j}-{d}: line j, then at most d - 1 lines after it
            for j, line in enumerate(lines):
                for depth in range(1, search_lines + 1):
                    follow = f" t{i}-{j + 1}-{depth - 1}?" if j + 1 < len(lines) and depth > 1 else ""
                    rules.append(f"t{i}-{j}-{depth} ::= {_literal(line + chr(10))}{follow}")
            rules.append(f"search{i} ::= " + " | ".join(f"t{i}-{j}-{search_lines}" for j in starts))
        rules.append(f'change{i} ::= {_literal(SEARCH + chr(10))} search{i} {_literal(DIVIDER + chr(10))} rline* '
                     f'{_literal(REPLACE + chr(10))}')
        rules.append(f'block{i} ::= "### " {_literal(heading)} "\\n```" [a-z]{{0,12}} "\\n" change{i} '
                     f'("\\n"? change{i}){{0,{max_changes - 1}}} "```\\n"')
        blocks.append(i)
    if not blocks:
        raise ValueError("no code the fix may change")
    if max_blocks >= 2 and len(blocks) > 1:
        firsts = []
        for i in blocks:
            others = " | ".join(f"block{j}" for j in blocks if j != i)
            rules.append(f"first{i} ::= block{i} (\"\\n\"? ({others}))?")
            firsts.append(f"first{i}")
        rules.insert(0, f"root ::= {lead}({' | '.join(firsts)})")
    else:
        rules.insert(0, f"root ::= {lead}({' | '.join(f'block{i}' for i in blocks)})")
    return "\n".join(rules) + "\n"


# --- the planner's plan (agent/planner.py): what is wrong, then where -------------------------

PLAN_PROBLEM_CHARS = 300


def plan_grammar(keys: Iterable[str], max_targets: int = 3) -> str:
    """One JSON object: {"problem": "...", "targets": ["path::name", ...]}, the problem first (a
    small model that says what is wrong chooses better), then 1 to max_targets of `keys` (the
    candidates the planner was shown: it cannot name a function that does not exist)."""
    shown = [json.dumps(json.dumps(k, ensure_ascii=False), ensure_ascii=False) for k in keys
             if k.isprintable() and "\n" not in k]
    if not shown:
        raise ValueError("no candidate for the plan to name")
    more = max(0, max_targets - 1)
    return "\n".join([
        r'root ::= "{\"problem\": \"" ptext "\", \"targets\": [" target ("," " "? target)' + f"{{0,{more}}}" + ' "]}"',
        # No quote, backslash, newline or tab: the sentence is data, and needs no escapes.
        r'ptext ::= [^"\\\n\t] [^"\\\n\t]*',
        "target ::= " + " | ".join(shown),
    ]) + "\n"


def plan_schema(keys: Iterable[str], max_targets: int = 3) -> dict:
    """The same plan as a JSON schema (Ollama's `format`)."""
    return {"type": "object", "properties": {
        "problem": {"type": "string", "maxLength": PLAN_PROBLEM_CHARS},
        "targets": {"type": "array", "items": {"type": "string", "enum": list(keys)}, "minItems": 1,
                    "maxItems": max_targets}},
        "required": ["problem", "targets"]}
