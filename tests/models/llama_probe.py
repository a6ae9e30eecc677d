"""Run in a subprocess by test_llama_contract.py: llama-cpp-python as it is ("plain") or with
agent_runtime's patches ("lookup": prompt lookup on; "wrong": a drafter whose guesses are
wrong), greedy, on the same requests. Prints one
JSON object. A subprocess, so that "plain" is really unpatched.

    python llama_probe.py MODE MODEL.gguf
"""

from __future__ import annotations

import json
import sys
import time

import llama_cpp
import numpy as np

MODE, MODEL = sys.argv[1], sys.argv[2]

CALC = '''def add(a, b):
    """Return the sum of a and b."""
    return a - b


def mul(a, b):
    """Return the product of a and b."""
    return a * b


def div(a, b):
    """Return a divided by b; b must not be zero."""
    if b == 0:
        raise ZeroDivisionError("b must not be zero")
    return a / b
'''
EDIT = [{"role": "user", "content": f"calc.py:\n```python\n{CALC}```\nadd is wrong: it must return a + b. "
                                    "Say why in one sentence, then write ### calc.py and the whole corrected "
                                    "file in a python code fence."}]
COPY = [{"role": "user", "content": f"Write this file back exactly, in a python code fence:\n```python\n{CALC}```"}]
TOOL = [{"role": "user", "content": "Reply with Thought: then a <code> block of tool calls.\nTask: read calc.py"}]


class WrongDrafter:
    """Guesses what prompt lookup would, with every token changed: each guess must be rejected
    (but for a changed token that happens to be right)."""

    def __init__(self) -> None:
        from agent_runtime.models.prompt_lookup import find_continuation

        self.find = find_continuation
        self.drafted = 0

    def __call__(self, input_ids, /, **_):
        start, _length = self.find(np.asarray(input_ids))
        if start < 0:
            return np.array([], dtype=np.intc)
        guess = (np.asarray(input_ids[start : start + 1], dtype=np.intc) + 1) % 1000
        self.drafted += len(guess)
        return guess


def grammars() -> dict:
    from agent_runtime.models.grammar import edit_grammar, python_grammar
    from agent_runtime.tools import tool_classes

    return {"edit": edit_grammar(["calc.py"]), "python": python_grammar(tool_classes(), 1024)}


def logits_by_index(llm) -> dict:
    """llama_get_logits_ith in a batch whose last 3 of 5 positions have logits: a negative index
    counts those outputs from the end, a non-negative one is a position in the batch."""
    tokens = llm.tokenize(b"def add(a, b): return")[:5]
    batch = llama_cpp.llama_batch_init(8, 0, 1)
    llm.reset()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
    batch.n_tokens = len(tokens)
    for i, token in enumerate(tokens):
        batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, i, 1, i >= 2
        batch.seq_id[i][0] = 0
    assert llama_cpp.llama_decode(llm.ctx, batch) == 0
    n_vocab = llm.n_vocab()

    def row(i: int) -> np.ndarray:
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, i), shape=(n_vocab,)).copy()

    result = {f"{neg}=={pos}": bool(np.array_equal(row(neg), row(pos))) for neg, pos in ((-1, 4), (-2, 3), (-3, 2))}
    result["distinct"] = not np.array_equal(row(-1), row(-3))
    llama_cpp.llama_batch_free(batch)
    return result


def main() -> None:
    out: dict = {"mode": MODE}
    if MODE != "plain":
        from agent_runtime.models.llama_server import install

        install(prompt_lookup=MODE in ("lookup", "wrong"))
    llm = llama_cpp.Llama(model_path=MODEL, n_ctx=4096, n_batch=512, n_threads=2, n_threads_batch=2,
                          logits_all=False, verbose=False)
    if MODE == "wrong":
        llm.draft_model = WrongDrafter()
    gbnf = grammars()
    batches: list[int] = []
    original_eval = type(llm).eval

    seconds: list[float] = []

    def counting_eval(self, tokens):
        batches.append(len(tokens))
        start = time.perf_counter()
        original_eval(self, tokens)
        seconds.append(round(time.perf_counter() - start, 3))

    llm.eval = counting_eval.__get__(llm)
    requests = [("copy", COPY, None, 110), ("edit", EDIT, "edit", 110), ("tool", TOOL, "python", 40)]
    out["texts"], out["timings"] = {}, {}
    for name, messages, grammar, max_tokens in requests:
        g = llama_cpp.LlamaGrammar.from_string(gbnf[grammar], verbose=False) if grammar else None
        start = time.perf_counter()
        answer = llm.create_chat_completion(messages, max_tokens=max_tokens, temperature=0, grammar=g)
        out.setdefault("wall_s", {})[name] = round(time.perf_counter() - start, 2)
        out["texts"][name] = answer["choices"][0]["message"]["content"]
        out.setdefault("usage", {})[name] = answer["usage"]
        timings = getattr(llm, "agent_runtime_timings", None)
        out["timings"][name] = timings.server_json() if timings else None
    out["batches"], out["batch_seconds"] = batches, seconds
    out["logits_all"] = llm._logits_all
    out["score_rows"] = int(llm.scores.shape[0])
    out["n_batch"], out["n_ctx"] = llm.n_batch, llm.n_ctx()
    out["draft_model"] = type(llm.draft_model).__name__
    if MODE == "wrong":
        out["wrong_drafted"] = llm.draft_model.drafted
    if MODE == "lookup":
        # The KV cache kept from the copy request (drafted tokens included) serves a follow-up
        # that extends it; a fresh Llama answers the same follow-up from nothing.
        follow = COPY + [{"role": "assistant", "content": out["texts"]["copy"]},
                         {"role": "user", "content": "Now write only the function mul back, in a python code fence."}]
        llm.create_chat_completion(COPY, max_tokens=110, temperature=0)  # the cache holds the copy again
        warm = llm.create_chat_completion(follow, max_tokens=60, temperature=0)
        out["follow_warm"] = warm["choices"][0]["message"]["content"]
        out["follow_warm_timings"] = llm.agent_runtime_timings.server_json()
        out["follow_warm_usage"] = warm["usage"]
        fresh = llama_cpp.Llama(model_path=MODEL, n_ctx=4096, n_threads=2, n_threads_batch=2, logits_all=False,
                                verbose=False)
        out["follow_fresh"] = fresh.create_chat_completion(follow, max_tokens=60, temperature=0)[
            "choices"][0]["message"]["content"]
    if MODE == "plain":
        # What the lead found: llama-cpp-python's own speculative path turns on every logit.
        spec = llama_cpp.Llama(model_path=MODEL, n_ctx=1024, n_batch=256, logits_all=False, verbose=False,
                               draft_model=llama_cpp.llama_speculative.LlamaPromptLookupDecoding())
        out["builtin_spec_logits_all"] = spec._logits_all
        out["builtin_spec_score_rows"] = int(spec.scores.shape[0])
        try:  # a prompt longer than n_batch: the logits copy overruns `scores`
            spec.create_completion(CALC * 3, max_tokens=2, temperature=0)
            out["builtin_spec_long_prompt"] = "answered"
        except Exception as exc:  # noqa: BLE001 - what it raises is the finding
            out["builtin_spec_long_prompt"] = type(exc).__name__
        out["logits_ith"] = logits_by_index(llm)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
