"""Stable-prefix memory vs a prefix that changes every step, on the embedded llama.cpp server.

The same 10 requests (those a real 10-step session sends: built by PromptMemory from a scripted
session) go to the server twice per round: as they are, and with a line that changes every step
at the very start of the instructions (a clock or a step counter: a common way to defeat the KV
cache). Each round starts cold (an unrelated request first). Figure: total wall time of the
model calls, median of 3 rounds each. Target: stable at least 3x faster.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from copy import deepcopy
from pathlib import Path

from _common import emit, git_repo, quiet_session

from agent_runtime.config import load_settings
from agent_runtime.models.embedded import EmbeddedServer, resolve_embedded
from agent_runtime.models.grammar import python_grammar
from agent_runtime.models.litellm_model import make_litellm_model
from agent_runtime.tools import tool_classes

ROUNDS = 3
REPLIES = [
    ("Get an overview.", "print(repo_info())"),
    ("List the Python files.", 'print(list_files(pattern="*.py"))'),
    ("Find the function.", 'print(rg_search(pattern="def add"))'),
    ("Read it.", 'print(read_file(path="calc.py"))'),
    ("Check recent history.", "print(git_log(max_count=5))"),
    ("Read the tests.", 'print(read_file(path="test_calc.py"))'),
    ("Search for callers.", 'print(rg_search(pattern="add\\\\("))'),
    ("Check the working tree.", "print(git_status())"),
    ("Read the README.", 'print(read_file(path="README.md"))'),
    ("Run the tests.", "print(run_tests())"),
]


def scripted_requests(work: Path) -> list[list]:
    repo = git_repo(work / "repo")
    # An ordinary small project: a 600-line module, a test file, a README of a hundred lines.
    (repo / "calc.py").write_text("".join(f"def f{i}(a, b):\n    \"\"\"Add a, b and {i}.\"\"\"\n    return a + b + {i}\n\n"
                                          for i in range(150)) + "def add(a, b):\n    return a - b\n")
    (repo / "test_calc.py").write_text("from calc import *\n\n" + "".join(
        f"def test_f{i}():\n    assert f{i}(1, 2) == {3 + i}\n\n" for i in range(60))
        + "def test_add():\n    assert add(2, 3) == 5\n")
    (repo / "README.md").write_text("# calc\n\n" + "".join(f"- `f{i}(a, b)`: adds a, b and {i}.\n" for i in range(100)))
    replay = work / "replay.json"
    replay.write_text(json.dumps([f"Thought: {t}\n<code>\n{c}\n</code>" for t, c in REPLIES]
                                 + ['Thought: done\n<code>\nfinal_answer("done")\n</code>']))
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "AGENT_MAX_STEPS": "11", "RUNS_DIR": str(work / "runs"),
                              "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    with quiet_session(settings, repo) as session:
        session.run("Find out why test_add fails.")
        return [list(r) for r in session.model.requests[:10]]


def changing(requests: list[list]) -> list[list]:
    out = []
    for step, messages in enumerate(requests):
        messages = deepcopy(messages)
        messages[0].content[0]["text"] = f"Session clock: step {step + 1}, 12:00:{step:02d}.\n" + messages[0].content[0]["text"]
        out.append(messages)
    return out


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    stable = scripted_requests(work)
    varied = changing(stable)
    settings = load_settings({})
    choice = resolve_embedded(settings, "0.5b")  # the fastest real instruct model: the cache effect, sooner
    server = EmbeddedServer(choice.gguf, 16384, choice.chat_format)
    server.start()
    try:
        server.wait_ready()
        model = make_litellm_model("openai/embedded", load_settings({"MODEL_TEMPERATURE": "0"}),
                                   api_base=server.api_base)
        model.grammar = python_grammar(tool_classes(), 1024)
        cold = [{"role": "user", "content": [{"type": "text", "text": "Unrelated warm-up text to evict the cache. " * 40}]}]

        def round_time(requests: list[list]) -> tuple[float, int]:
            model.generate(cold)  # the KV cache now holds something else: this round starts cold
            total, prompt_tokens = 0.0, 0
            for messages in requests:
                start = time.perf_counter()
                reply = model.generate(messages)
                total += time.perf_counter() - start
                prompt_tokens += reply.token_usage.input_tokens
            return total, prompt_tokens

        stable_times, varied_times = [], []
        for _ in range(ROUNDS):
            stable_times.append(round_time(stable))
            varied_times.append(round_time(varied))
    finally:
        server.stop()
    stable_s = statistics.median(t for t, _ in stable_times)
    varied_s = statistics.median(t for t, _ in varied_times)
    emit({
        "benchmark": "prompt_cache",
        "model": f"{choice.label} (embedded llama.cpp, 2 cores)",
        "steps": len(stable),
        "prompt_tokens_all_steps": stable_times[0][1],
        "stable_prefix_total_s": round(stable_s, 2),
        "changing_prefix_total_s": round(varied_s, 2),
        "rounds_stable_s": [round(t, 2) for t, _ in stable_times],
        "rounds_changing_s": [round(t, 2) for t, _ in varied_times],
        "speedup": round(varied_s / stable_s, 2),
        "target_speedup": 3.0,
        "meets_target": varied_s / stable_s >= 3.0,
    })


if __name__ == "__main__":
    main()
