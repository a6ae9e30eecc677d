"""The instructions, written for 7B-14B local models: one format, few rules, one example.

smolagents renders SYSTEM_PROMPT with Jinja (tools, custom_instructions). Tool signatures
are one line each instead of smolagents' docstring blocks: the prompt stays small, so it
fits small context windows and is re-read quickly from the KV cache.
"""

from __future__ import annotations

from pathlib import Path

SYSTEM_PROMPT = """\
You are a coding agent working in a git repository. You act by writing Python code that calls the tools below; \
the code runs and you see what it printed.

{REPLY_FORM}

Rules:
- Use only the tools below and plain Python. No imports, no open(), no os or subprocess.
- print() what you need to see; it comes back to you as "Observation:". Python strings cannot span lines: write \\n.
- Look before you change anything: rg_search, list_files, read_file.
- To change a file: propose_patch(path=..., old=..., new=...) with old copied exactly from read_file, \
then apply_patch(patch_id=...), then run_tests().
- A failing tool returns error and recovery_suggestion: follow the suggestion; never repeat a failing call unchanged.
- When the task is done, call final_answer("what you found or changed").

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
Reply every time in exactly this form:
Thought: one short sentence: what you do next and why.
{{ code_block_opening_tag }}
print(repo_info())
{{ code_block_closing_tag }}"""

JSON_FORM = """\
Reply every time with one JSON object in exactly this form:
{"thought": "one short sentence: what you do next and why", "code": "print(repo_info())"}"""


def prompt_templates(reply_format: str = "text") -> dict:
    """smolagents wants every template key present; only the system prompt is used."""
    form = JSON_FORM if reply_format == "json" else TEXT_FORM
    return {
        "system_prompt": SYSTEM_PROMPT.replace("{REPLY_FORM}", form),
        "planning": {"initial_plan": "", "update_plan_pre_messages": "", "update_plan_post_messages": ""},
        "managed_agent": {"task": "", "report": ""},
        "final_answer": {"pre_messages": "", "post_messages": ""},
    }


MAX_AGENTS_MD_CHARS = 8000


def project_instructions(root: Path) -> str | None:
    """AGENTS.md at the repository root, if present (bounded: it goes into every request)."""
    path = root / "AGENTS.md"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if len(text) > MAX_AGENTS_MD_CHARS:
        text = text[:MAX_AGENTS_MD_CHARS] + "\n[AGENTS.md truncated]"
    return text or None
