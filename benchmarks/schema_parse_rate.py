"""Ollama's constraint, measured where it can be: the {thought, code} JSON schema, with and
without the tool-call `pattern` on the code, on the embedded llama.cpp server (llama.cpp turns a
JSON schema into a grammar, as Ollama does; Ollama itself cannot be installed here). Figures:
how often the JSON does not parse, how often the code in it does not parse, and how often the
code calls only our tools."""

from __future__ import annotations

import ast
import json
import tempfile
from pathlib import Path

from _common import emit, git_repo

from agent_runtime.agent.codeagent import build_agent
from agent_runtime.config import load_settings
from agent_runtime.models.constraints import Constraint
from agent_runtime.models.embedded import EmbeddedServer, resolve_embedded
from agent_runtime.models.grammar import json_escaped, reply_schema, tool_call_pattern
from agent_runtime.models.replay import make_replay_model
from agent_runtime.safety.approval import Approver
from agent_runtime.tools import tool_classes
from agent_runtime.tools.runtime import Runtime

TASKS = ["Which files are here?", "Find the add function.", "Show the last commits.", "Read README.md.",
         "Run the tests.", "Search for TODO comments.", "What changed recently?", "Is the work tree clean?",
         "Find where main is defined.", "List the Python files.", "Read calc.py lines 1 to 20.", "Fix the failing test."]


def main() -> None:
    import re

    import litellm

    work = Path(tempfile.mkdtemp(prefix="bench-schema-"))
    repo = git_repo(work / "repo")
    replay = work / "r.json"
    replay.write_text("[]")
    settings = load_settings({"MODEL_TEMPERATURE": "0.7"})
    runtime = Runtime.create(settings, repo, Approver("never", interactive=False))
    agent = build_agent(runtime, make_replay_model(replay), 5, Constraint("schema-tools", "json"))
    system = agent.system_prompt
    choice = resolve_embedded(settings, "0.5b")
    server = EmbeddedServer(choice.gguf, 8192, choice.chat_format)
    server.start()
    results = {}
    pattern = re.compile(tool_call_pattern(tool_classes()))
    try:
        server.wait_ready()
        for label, schema in (("with_pattern", reply_schema(tool_classes())), ("without_pattern", reply_schema(None))):
            bad_json = bad_code = only_tools = 0
            for task in TASKS:
                reply = litellm.completion(
                    model="openai/embedded", api_base=server.api_base, api_key="sk-local", temperature=0.7, max_tokens=400,
                    messages=[{"role": "user", "content": f"{system}\n\nNew task:\n{task}"}],
                    response_format={"type": "json_object", "schema": schema}).choices[0].message.content
                try:
                    code = json.loads(reply)["code"]
                except (ValueError, KeyError, TypeError):
                    bad_json += 1
                    continue
                try:
                    ast.parse(code)
                except SyntaxError:
                    bad_code += 1
                    continue
                only_tools += bool(pattern.match(json_escaped(code.rstrip("\n") + "\n")))  # same ending for both
            results[label] = {"replies": len(TASKS), "json_failed": bad_json, "code_failed_to_parse": bad_code,
                              "code_only_tool_calls": only_tools}
    finally:
        server.stop()
    emit({"benchmark": "schema_parse_rate", "backend": "llama.cpp JSON-schema grammar (as Ollama uses)",
          "model": choice.label, "temperature": 0.7, **results})


if __name__ == "__main__":
    main()
