"""The instructions, written for small local models (1.5B-14B): one format, a work order, few rules.

smolagents renders SYSTEM_PROMPT with Jinja (tools, custom_instructions). Tool signatures
are one line each instead of smolagents' docstring blocks: the prompt stays small, so it
fits small context windows and is re-read quickly from the KV cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

SYSTEM_PROMPT = """\
You are a coding agent working in a git repository. You act by writing Python code that calls the tools \
below; the code runs and you see what it printed.

{REPLY_FORM}

{% if "apply_patch" in tools -%}
To fix a bug or make failing tests pass, work in this order ("..." stands for what you fill in):
1. See the failure: print(run_tests())
2. Read the file the failure points at: print(read_file(path="..."))
3. Fix the code, not the tests: write the corrected file whole, apply it and run the tests, in one step:
   p = propose_file(path="...", content=r\'\'\'...every line of the corrected file...\'\'\')
   print(apply_patch(patch_id=p["patch_id"]))
   print(run_tests())
   In a long file, replace only the lines that change: propose_patch(path="...", old=r\'\'\'...\'\'\', new=r\'\'\'...\'\'\'),
   old copied exactly from what read_file showed.
4. If the tests still fail, read the new output and fix again.
5. When they pass: final_answer("what you changed and why").
For a question about the code: look with rg_search, list_files and read_file, then final_answer(...).
{% else -%}
This task is a question: answer it, change nothing (no tool here writes). Look with rg_search, list_files \
and read_file, then final_answer("...") with what the code you read says and does, in your own words.
{% endif %}
Rules:
- Use only the tools below and plain Python. No imports, no open(), no os or subprocess.
- print() what you need to see. Text of several lines goes in r\'\'\'...\'\'\'.
- Never repeat a call whose result you already have: use it and take the next step.
- A failing tool returns error and recovery_suggestion: follow the suggestion.

Tools (each returns a dict; None marks an optional argument):
{%- for tool in tools.values() if tool.name != "final_answer" %}
- {{ tool.name }}({% for name, spec in tool.inputs.items() %}{{ name }}{% if spec.get('nullable') %}=None{% endif %}{% if not loop.last %}, {% endif %}{% endfor %}): {{ tool.description }}
{%- endfor %}
- final_answer(answer): finish with your answer.
{%- if custom_instructions %}

Project instructions (AGENTS.md):
{{ custom_instructions }}
{%- endif %}
"""


TEXT_FORM = """\
Reply every time in exactly this form: one line of thought, then one code block.
Thought: what you do next and why, in one sentence.
{{ code_block_opening_tag }}
print(run_tests())
{{ code_block_closing_tag }}"""

JSON_FORM = """\
Reply every time with one JSON object in exactly this form:
{"thought": "what you do next and why, in one sentence", "code": "print(run_tests())"}"""


def prompt_templates(reply_format: str = "text") -> dict:
    """smolagents wants every template key present; only the system prompt is used."""
    form = JSON_FORM if reply_format == "json" else TEXT_FORM
    return {
        "system_prompt": SYSTEM_PROMPT.replace("{REPLY_FORM}", form),
        "planning": {"initial_plan": "", "update_plan_pre_messages": "", "update_plan_post_messages": ""},
        "managed_agent": {"task": "", "report": ""},
        "final_answer": {"pre_messages": "", "post_messages": ""},
    }


def project_instructions(root: Path, denied: Callable[[str], bool] | None = None) -> str | None:
    """AGENTS.md at the repository root, if present, with the notes saved by `remember` (bounded: it
    goes into every request). Only a regular file inside the workspace that the policy lets the
    model read (`denied`): a symlink to a key or to .env is never read into a prompt."""
    from agent_runtime.tools.remember import read_instructions

    return read_instructions(root, denied)
