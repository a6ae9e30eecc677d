"""Grammar-constrained sampling: llama-cpp-python's own sampler (eager: the grammar checks every
token of the vocabulary) against agent_runtime's lazy one (models/llama_server.install: the grammar
checks the top candidates first), greedy, same requests. The tokens must be identical; the lazy
sampler should take at most 0.7x the time.

    python benchmarks/grammar_sampling.py [--model 0.5b|1.5b] [--max-tokens N]

Each mode runs in its own process (install() patches llama_cpp). tests/models/test_embedded.py checks
the identity; the time is a figure for this script, not for a test on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from _common import ROOT, emit

SCRIPT = r'''
import json, sys, time
import llama_cpp
from agent_runtime.config import load_settings
from agent_runtime.models.embedded import resolve_embedded
from agent_runtime.models.grammar import python_grammar, tool_call_grammar
from agent_runtime.tools import tool_classes
mode, model, max_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "lazy":
    from agent_runtime.models.llama_server import install
    install(prompt_lookup=False)  # (speculation's batches would round differently: test_llama_contract.py)
llm = llama_cpp.Llama(model_path=str(resolve_embedded(load_settings({}), model).gguf), n_ctx=2048, n_threads=2,
                      verbose=False)
out, start = [], time.perf_counter()
for grammar in (tool_call_grammar(tool_classes(), 1024), python_grammar(tool_classes(), 1024)):
    for task in ("read README.md", "run the tests", "find the add function"):
        prompt = (f"<|im_start|>user\nReply with Thought: then a <code> block of tool calls.\nTask: {task}<|im_end|>\n"
                  "<|im_start|>assistant\n")
        text = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0,
                                     grammar=llama_cpp.LlamaGrammar.from_string(grammar, verbose=False))
        out.append(text["choices"][0]["text"])
print(json.dumps({"texts": out, "seconds": time.perf_counter() - start}))
'''


def sample(mode: str, model: str = "0.5b", max_tokens: int = 48) -> dict:
    """One mode's six greedy replies and the seconds they took, from a fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode, model, str(max_tokens)], capture_output=True,
                          text=True, timeout=900, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} sampling failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="0.5b", choices=("0.5b", "1.5b"))
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    eager, lazy = sample("eager", args.model, args.max_tokens), sample("lazy", args.model, args.max_tokens)
    emit({"model": args.model, "replies": len(eager["texts"]), "identical": eager["texts"] == lazy["texts"],
          "eager_s": round(eager["seconds"], 2), "lazy_s": round(lazy["seconds"], 2),
          "lazy_over_eager": round(lazy["seconds"] / eager["seconds"], 3), "target_at_most": 0.7,
          "load_average": os.getloadavg()[0]})


if __name__ == "__main__":
    main()
