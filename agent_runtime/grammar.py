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
MAX_STATEMENTS = 3
STATEMENT_OVERHEAD = 48  # "result = " + name + "(" + "=" and ", " per argument + ")\n" (names counted apart)


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


def tool_call_grammar(tools: Iterable[Any], max_tokens: int) -> str:
    tools = [t for t in tools if t.name != "final_answer"]
    calls: list[str] = []
    rules: list[str] = []
    longest_args = 1
    for tool in tools:
        args = _args_rule(tool.inputs)
        if args is None:
            continue
        rule_name = "call-" + tool.name.replace("_", "-")
        rules.append(f'{rule_name} ::= "{tool.name}(" {args} ")"')
        calls.append(rule_name)
        longest_args = max(longest_args, sum(1 for s in tool.inputs.values() if _value_rule(s["type"])))
    # Budget: thought + statements, each with up to `longest_args` strings, within max_tokens chars.
    room = max_tokens - THOUGHT_CHARS - 40 - (MAX_STATEMENTS + 1) * STATEMENT_OVERHEAD
    str_chars = max(24, min(400, room // ((MAX_STATEMENTS + 1) * longest_args)))
    header = [
        f'root ::= "Thought: " thought "\\n<code>\\n" body "</code>"',
        f"thought ::= [^\\n<]{{1,{THOUGHT_CHARS}}}",
        f'body ::= final | plain{{1,{MAX_STATEMENTS}}} final? | plain{{0,{MAX_STATEMENTS - 1}}} assign '
        f"(plain | use){{0,{MAX_STATEMENTS - 1}}} final-any?",
        'plain ::= "print(" call ")\\n"',
        'assign ::= "result = " call "\\n"',
        'use ::= "print(result)\\n"',
        'final ::= "final_answer(" str ")\\n"',
        'final-any ::= "final_answer(" (str | "result") ")\\n"',
        "call ::= " + " | ".join(calls),
        f'str ::= "\\"" strchar{{0,{str_chars}}} "\\""',
        'strchar ::= [^"\\\\\\n<] | "\\\\" ["\\\\nt] | "<" [^"\\\\\\n<e]',
        'int ::= "-"? [0-9]{1,6}',
        'num ::= "-"? [0-9]{1,6} ("." [0-9]{1,4})?',
        'bool ::= "True" | "False"',
    ]
    return "\n".join(header + rules) + "\n"
