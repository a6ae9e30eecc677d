"""The embedded model's server: llama-cpp-python's own server (`llama_cpp.server`), started with
lazy grammar sampling.

llama-cpp-python applies a grammar to every token of the vocabulary at every step. With
Gemma's 262,144-token vocabulary that costs ~45 ms per generated token on 2 cores, three
times the cost of generating the token. llama.cpp's own front end samples lazily instead:
sample as if there were no grammar, keep the token if the grammar accepts it, and only when
it does not, apply the grammar to every candidate and sample again. A rejected token is
never emitted, so replies still always match the grammar. This module installs that sampler
and runs the unmodified server:

    python -m agent_runtime.models.llama_server --model FILE.gguf ...   (the same options as llama_cpp.server)
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import numpy as np


class LazyGrammarSampler:
    """Stands in for llama-cpp-python's LlamaSampler (Llama.generate only calls .sample())."""

    def __init__(self, chain: Any, grammar_sampler: Any, n_vocab: int):
        import llama_cpp

        self._api = llama_cpp
        self.chain = chain  # the usual chain, built without the grammar
        self.grammar = grammar_sampler
        self.n_vocab = n_vocab
        self._candidates = (llama_cpp.llama_token_data * n_vocab)()
        # A numpy view over the candidates, to refill 262k entries per token without a Python loop.
        view = np.ctypeslib.as_array(ctypes.cast(self._candidates, ctypes.POINTER(ctypes.c_uint8)),
                                     shape=(ctypes.sizeof(self._candidates),))
        self._table = view.view(np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)]))
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._one = (llama_cpp.llama_token_data * 1)()

    def _load(self, ctx: Any, idx: int) -> Any:
        api = self._api
        logits = api.llama_get_logits_ith(ctx.ctx, idx)
        values = np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        self._table["id"] = self._ids
        self._table["logit"] = values
        self._table["p"] = 0.0
        return api.llama_token_data_array(data=self._candidates, size=self.n_vocab, selected=-1, sorted=False)

    def _accepts(self, token: int) -> bool:
        api = self._api
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 1.0, 0.0
        single = api.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        api.llama_sampler_apply(self.grammar, ctypes.byref(single))
        return not math.isinf(self._one[0].logit)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        api = self._api
        candidates = self._load(ctx, idx)
        api.llama_sampler_apply(self.chain.sampler, ctypes.byref(candidates))
        token = self._candidates[candidates.selected].id
        if not self._accepts(token):  # rejected: sample again, this time under the grammar
            candidates = self._load(ctx, idx)
            api.llama_sampler_apply(self.grammar, ctypes.byref(candidates))
            api.llama_sampler_apply(self.chain.sampler, ctypes.byref(candidates))
            token = self._candidates[candidates.selected].id
        api.llama_sampler_accept(self.grammar, token)
        api.llama_sampler_accept(self.chain.sampler, token)
        return token

    def __del__(self) -> None:
        if getattr(self, "grammar", None) is not None:
            self._api.llama_sampler_free(self.grammar)
            self.grammar = None


def install() -> None:
    """Make every Llama in this process sample grammars lazily."""
    import llama_cpp
    from llama_cpp import Llama

    original = Llama._init_sampler

    def init_sampler(self: Any, *args: Any, grammar: Any = None, **kwargs: Any) -> Any:
        chain = original(self, *args, grammar=None, **kwargs)
        if grammar is None:
            return chain
        grammar_sampler = llama_cpp.llama_sampler_init_grammar(
            self._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not grammar_sampler:
            # llama.cpp refused it (its reason is in this server's log): the request fails, rather
            # than being answered as if no grammar had been sent.
            raise ValueError("llama.cpp cannot parse the request's grammar (the server log says why)")
        return LazyGrammarSampler(chain, grammar_sampler, self._n_vocab)

    Llama._init_sampler = init_sampler


def exit_when_parent_goes() -> None:
    """The session holds our stdin; EOF means it ended (however it ended): stop serving."""
    import os
    import sys
    import threading

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        os._exit(0)

    if not sys.stdin.isatty():
        threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def main() -> None:
    exit_when_parent_goes()
    install()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
