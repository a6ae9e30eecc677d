"""Promoted tools: a skill of the user's own folder with `scripts/tool.py` and `metadata.tool` becomes a
tool of that name in each new session (promote_tool writes them, tools/promote.py).

    ~/.config/agent-runtime/skills/word-count/SKILL.md     metadata: {tool: word_count, function: count}
    ~/.config/agent-runtime/skills/word-count/scripts/tool.py

The file is checked again as the session starts (tools/promotecheck.py: a file changed since into
something that breaks the rule is left out, with a warning). A call runs the function in the
sandbox, never in this process: `python -I -S` (the standard library only; not agent_runtime, not
the virtualenv's packages) reads the function's source and the arguments as JSON on stdin and
writes the result as JSON on stdout, within TIMEOUT_S and MAX_RESULT. The skill's folder is not
bound in at all: its code travels on stdin, so the user's configuration stays hidden as for any
command. Without bubblewrap a promoted tool does not run.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any, Callable

from agent_runtime.core import Action, ToolError, visible
from agent_runtime.procs import own_python
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.promotecheck import HINTS, MAX_NAME, TOOL_NAME, Checked, PromoteError, check_source

if TYPE_CHECKING:
    from agent_runtime.tools.runtime import Runtime
    from agent_runtime.tools.skillset import Skills

TOOL_FILE = "scripts/tool.py"
TIMEOUT_S = 30
MAX_RESULT = 256 * 1024  # characters of JSON a promoted tool may answer
MAX_ARGUMENTS = 32 * 1024  # characters of JSON sent to it (stdin is written before its output is read)
# Run in the sandbox: the function's source and arguments in, {"result"} or {"error"} out. What the
# function prints goes to stderr, so it cannot fake the answer.
RUNNER = r"""
import json, sys
request = json.loads(sys.stdin.read())
answer = sys.stdout
sys.stdout = sys.stderr
try:
    space = {"__name__": "promoted_tool"}
    exec(compile(request["source"], "tool.py", "exec"), space)
    value = space[request["function"]](**request["arguments"])
    text = json.dumps({"result": value})
except BaseException as exc:
    text = json.dumps({"error": f"{type(exc).__name__}: {exc}"[:2000]})
answer.write(text)
answer.flush()
"""


def _type_check(name: str, hint: str) -> Callable[[Any, "Runtime"], Any]:
    kinds = {"str": str, "int": int, "float": (int, float), "bool": bool}

    def one(value: Any, kind: str) -> bool:
        return isinstance(value, kinds[kind]) and (kind == "bool" or not isinstance(value, bool))

    def check(value: Any, runtime: "Runtime") -> Any:
        if value is None:
            return None
        if hint in kinds:
            ok = one(value, hint)
        elif hint.startswith("list["):
            ok = isinstance(value, list) and all(one(v, hint[5:-1]) for v in value)
        else:
            ok = isinstance(value, dict) and all(isinstance(k, str) and one(v, hint[10:-1]) for k, v in value.items())
        if not ok:
            raise ToolError(f"{name} must be {hint}", f"Pass {name} as a {hint}.")
        return value

    return check


class PromotedTool(RuntimeTool):
    """Base of the generated tools; `checked` and `skill` are set on each generated class."""

    checked: Checked
    skill: str
    approval = "never"
    timeout_s: float = TIMEOUT_S

    def action(self, **args: Any) -> Action:
        return Action("promoted", command=self.name, preview={k: v for k, v in args.items() if v is not None})

    def run(self, **args: Any) -> dict[str, Any]:
        sandbox = self.runtime.sandbox
        if sandbox.kind != "bwrap":
            raise ToolError(f"{self.name} runs only inside bubblewrap, which does not run here",
                            "Work without it; tell the user to install bubblewrap.", kind="unavailable")
        given = {k: v for k, v in args.items() if v is not None}
        request = json.dumps({"source": self.checked.source, "function": self.checked.function, "arguments": given})
        if len(request) - len(self.checked.source) > MAX_ARGUMENTS:
            raise ToolError(f"the arguments are over {MAX_ARGUMENTS:,} characters", "Pass shorter arguments.")
        command = shlex.join([own_python(), "-I", "-S", "-c", RUNNER])
        outcome = sandbox.run(command, timeout=self.timeout_s, stdin=request.encode())
        if outcome.timed_out:
            raise ToolError(f"{self.name} was stopped after {self.timeout_s:g}s", "Call it with smaller input, or work "
                            "without it.", kind="timeout")
        if len(outcome.stdout) > MAX_RESULT or outcome.output_dropped_bytes:
            raise ToolError(f"{self.name} answered more than {MAX_RESULT:,} characters", "Call it with smaller input.")
        try:
            answer = json.loads(outcome.stdout)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not ({"result", "error"} & set(answer)):
            tail = visible(outcome.stderr.strip()[-800:]) or f"exit code {outcome.exit_code}"
            raise ToolError(f"{self.name} gave no answer: {tail}", "Work without it.", kind="promoted_error")
        if "error" in answer:
            raise ToolError(f"{self.name} failed: {visible(str(answer['error']))}",
                            "Check the arguments; the tool runs in the sandbox (no network, no secrets, "
                            "standard library only).", kind="promoted_error")
        return {"result": answer["result"], "sandbox": outcome.sandbox}


def promoted_classes(skills: "Skills", taken: set[str], warn: Callable[[str], None]) -> list[type[PromotedTool]]:
    """One tool class per promoted tool of the user's own skills; a name taken or a file that no longer
    keeps the rule is left out with a warning."""
    classes: list[type[PromotedTool]] = []
    for skill in skills.found:
        name = skill.metadata.get("tool")
        if skill.from_repository or not name or TOOL_FILE not in skill.files:
            continue  # a repository's skill never brings code to run as a tool
        if len(name) > MAX_NAME or not TOOL_NAME.fullmatch(name) or name.replace("_", "-") != skill.name:
            warn(f"promoted tool {visible(name)!r} (skill {skill.name}) is left out: a tool's name is lowercase "
                 "letters, digits and single underscores, and its skill's name is that with - for _")
            continue
        if name in taken:
            warn(f"promoted tool {name} (skill {skill.name}) is left out: its name is taken")
            continue
        try:
            text = (skill.folder / TOOL_FILE).read_text(encoding="utf-8")
            checked = check_source(text, skill.metadata.get("function", name), str(skill.folder / TOOL_FILE))
        except (OSError, UnicodeDecodeError, PromoteError) as exc:
            warn(f"promoted tool {name} (skill {skill.name}) is left out: {exc}")
            continue
        inputs = {p: {"type": HINTS[hint], "description": f"{p} ({hint})", **({"nullable": True}
                  if p in checked.optional else {})} for p, hint in checked.params.items()}
        classes.append(type(f"Promoted_{name}", (PromotedTool,), {
            "name": name, "description": f"[promoted tool] {checked.description}", "inputs": inputs,
            "checks": {p: _type_check(p, hint) for p, hint in checked.params.items()},
            "checked": checked, "skill": skill.name,
        }))
        taken.add(name)
    return classes
