"""What the patches of llama-cpp-python in models/llama_server.py rely on, checked against the
pinned build (requirements.lock): if its behaviour changes under a patch, a test here fails.

The same greedy requests run in three subprocesses (llama_probe.py): llama-cpp-python as it is,
with the patches and prompt lookup, and with the patches and a drafter whose guesses are wrong.
A rejected guess must leave no trace, with or without a grammar.
(The lazy grammar sampler's own contract: test_embedded.py, test_lazy_grammar_sampling_...)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent_runtime.config import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.model]
PROBE = Path(__file__).with_name("llama_probe.py")


def small_gguf() -> Path:
    from agent_runtime.models.embedded import resolve_embedded

    return resolve_embedded(load_settings({}), "0.5b").gguf


@pytest.fixture(scope="module")
def probes() -> dict:
    out = {}
    for mode in ("plain", "lookup", "wrong"):
        done = subprocess.run([sys.executable, str(PROBE), mode, str(small_gguf())], capture_output=True, text=True,
                              timeout=3600)
        assert done.returncode == 0, done.stderr[-3000:]
        out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def test_llama_cpp_pythons_own_speculation_would_keep_every_logit(probes):
    """Why the drafter is attached after construction: given to the constructor, any draft model
    turns on logits for every position (and `scores` keeps its logits_all=false size)."""
    plain = probes["plain"]
    assert plain["builtin_spec_logits_all"] is True
    assert plain["builtin_spec_score_rows"] == 256, "sized for n_batch rows while every row is copied"


def test_attached_after_construction_the_drafter_leaves_logits_off(probes):
    lookup = probes["lookup"]
    assert lookup["draft_model"] == "PromptLookup"
    assert lookup["logits_all"] is False and lookup["score_rows"] == lookup["n_batch"], \
        "Llama.__init__ decides logits_all (and the size of scores) from its draft_model argument only"


def test_negative_logit_indexes_count_the_batchs_outputs_from_the_end(probes):
    """generate() samples position i of a speculation batch as idx - n_tokens (negative): with
    logits for only the batch's last positions, that must still pick the right row."""
    assert probes["plain"]["logits_ith"] == {"-1==4": True, "-2==3": True, "-3==2": True, "distinct": True}


def test_rejected_guesses_leave_no_trace(probes):
    """Every guess wrong, checked one at a time (batches of 2: the same matrix kernels as one
    token, so the same arithmetic): the replies are llama-cpp-python's own, with and without a
    grammar. A rejected token never reached the grammar's state, the KV cache or the text."""
    assert probes["wrong"]["texts"] == probes["plain"]["texts"]
    assert probes["wrong"]["usage"] == probes["plain"]["usage"]


def test_a_copied_reply_is_the_same_with_prompt_lookup(probes):
    """Long drafts go through batch kernels that round differently from one token's, so free text
    at a near-tie may come out otherwise; a reply that copies its prompt must not."""
    plain, lookup = probes["plain"], probes["lookup"]
    assert lookup["texts"]["copy"] == plain["texts"]["copy"]
    assert lookup["usage"]["copy"] == plain["usage"]["copy"]
    edit = lookup["texts"]["edit"]  # under the edit grammar: still its form
    assert [line for line in edit.splitlines() if line.startswith("### ")] == ["### calc.py"]


def test_drafts_are_checked_in_batches_and_accepted_where_the_reply_copies(probes):
    lookup, wrong = probes["lookup"], probes["wrong"]
    copy = lookup["timings"]["copy"]
    assert copy["draft_n"] > 20 and copy["draft_n_accepted"] > 0.6 * copy["draft_n"]
    assert max(lookup["batches"][1:]) > 1, "generate() evaluates the sampled token and the draft in one batch"
    assert wrong["wrong_drafted"] > 10 and 2 in wrong["batches"], "wrong guesses were checked, one at a time"
    tool = lookup["timings"]["tool"]  # a short reply of new text: few or no drafts
    assert tool["draft_n"] <= tool["predicted_n"]


def test_the_kv_cache_left_by_speculation_serves_the_next_request(probes):
    """Drafted tokens past the last accepted one stay in the KV cache and in input_ids: the next
    request's prefix match must only reuse what is valid for it."""
    lookup = probes["lookup"]
    timings, usage = lookup["follow_warm_timings"], lookup["follow_warm_usage"]
    assert timings["cache_n"] > 100 and timings["cache_n"] + timings["prompt_n"] == usage["prompt_tokens"]
    assert lookup["follow_warm"] == lookup["follow_fresh"]


def test_the_cached_detokenizer_gives_the_originals_text_for_every_token():
    """LlamaModel.detokenize(tokens, special) is replaced by a per-token cache; the original's
    32-byte buffer returns nothing for longer tokens (runs of spaces, '----...'), the cache their text."""
    script = r'''
import json, sys, llama_cpp
from llama_cpp._internals import LlamaModel
llm = llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
original = LlamaModel.detokenize
from agent_runtime.models.llama_server import install
install()
same = longer = other = 0
for special in (False, True):
    for token in range(llm.n_vocab()):
        a, b = original(llm._model, [token], special=special), llm._model.detokenize([token], special=special)
        if a == b: same += 1
        elif a == b"" and len(b) > 32: longer += 1
        else: other += 1
seq = llm.tokenize(open(sys.argv[2], "rb").read())
print(json.dumps({"same": same, "longer": longer, "other": other, "n_vocab": llm.n_vocab(),
                  "file": original(llm._model, seq) == llm._model.detokenize(seq)}))
'''
    done = subprocess.run([sys.executable, "-c", script, str(small_gguf()), __file__], capture_output=True, text=True,
                          timeout=600)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["other"] == 0 and result["file"] is True
    assert result["same"] + result["longer"] == 2 * result["n_vocab"] and result["same"] > 0.99 * 2 * result["n_vocab"]
