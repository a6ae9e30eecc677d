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

from typing import Any, Iterable

THOUGHT_CHARS = 160
MAX_STATEMENTS = 3  # tool-call statements per reply, plus an optional final_answer
VALUE_CHARS = {"int": 7, "num": 12, "bool": 5}  # longest literal of each kind
FRAME = len("Thought: ") + THOUGHT_CHARS + len("\n<code>\n") + len("</code>")
STATEMENT_FRAME = len("result = ") + len("\n")  # longer than print( ... )\n


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _value_rule(kind: Any) -> str | None:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    rules = {"string": "str", "integer": "int", "number": "num", "boolean": "bool"}
    usable = [rules[k] for k in kinds if k in rules]
    return " | ".join(usable) if usable else None


def _args_rule(inputs: dict[str, dict[str, Any]]) -> str | None:
    """Keyword arguments in declared order; optional ones may be left out. None: a required input
    has a type the grammar cannot write (array, object)."""
    items = []
    for name, spec in inputs.items():
        value = _value_rule(spec["type"])
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


def tool_call_grammar(tools: Iterable[Any], max_tokens: int) -> str:
    tools = [t for t in tools if t.name != "final_answer" and _args_rule(t.inputs) is not None]
    rules = []
    for tool in tools:
        rules.append(f'call-{tool.name.replace("_", "-")} ::= "{tool.name}(" {_args_rule(tool.inputs)} ")"')
    str_chars = string_budget(tools, max_tokens)
    header = [
        'root ::= "Thought: " thought "\\n<code>\\n" body "</code>"',
        f"thought ::= [^\\n<]{{1,{THOUGHT_CHARS}}}",
        # At most MAX_STATEMENTS (3) calls; `result` can only be used after it is assigned.
        "body ::= final | plain{1,3} final? | plain? assign (plain | use)? final-any?",
        'plain ::= "print(" call ")\\n"',
        'assign ::= "result = " call "\\n"',
        'use ::= "print(result)\\n"',
        'final ::= "final_answer(" str ")\\n"',
        'final-any ::= "final_answer(" (str | "result") ")\\n"',
        "call ::= " + " | ".join(f'call-{t.name.replace("_", "-")}' for t in tools),
        f'str ::= "\\"" strchar{{0,{str_chars}}} "\\""',
        'strchar ::= [^"\\\\\\n<] | "\\\\" ["\\\\nt] | "<" [^"\\\\\\n<e]',
        'int ::= "-"? [0-9]{1,6}',
        'num ::= "-"? [0-9]{1,6} ("." [0-9]{1,4})?',
        'bool ::= "True" | "False"',
    ]
    return "\n".join(header + rules) + "\n"
