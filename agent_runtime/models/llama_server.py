"""The embedded model's server: llama-cpp-python's own server (`llama_cpp.server`), started with
lazy grammar sampling.

llama-cpp-python applies a grammar to every token of the vocabulary at every step. With
Gemma's 262,144-token vocabulary that costs ~45 ms per generated token on 2 cores, three
times the cost of generating the token. llama.cpp's own front end samples lazily instead:
sample as if there were no grammar, keep the token if the grammar accepts it, and only when
it does not, apply the grammar to every candidate and sample again. A rejected token is
never emitted, so replies still always match the grammar. This module installs that sampler
and runs the unmodified server:

It also decodes with prompt lookup (prompt_lookup.py) and reports each request's timings, the
way llama.cpp's own server does. llama-cpp-python's speculative path (`draft_model`) would turn
on logits for every position of every batch (`_logits_all`): prompt processing ~2.5x slower and
a copy of each batch's logits into `scores`, n_ctx x n_vocab floats. Here the drafter is attached
after construction, so `_logits_all` stays off, and `eval` asks for logits only where
`generate` samples: the last prompt token, and every position of a speculation batch (the
sampled token and the drafted ones). `generate` itself verifies drafts unchanged: it samples
each drafted position in order (so a grammar sampler only ever accepts emitted tokens) and on
the first mismatch truncates the KV cache.

    python -m agent_runtime.models.llama_server --model FILE.gguf ... [--prompt_lookup on|off] [--seed_each N]
        (the other options are llama_cpp.server's)

`--seed_each N` samples every request that names no seed from seed N. llama-cpp-python otherwise
draws each request's seed from the one before it, so a request's reply depends on how many came
before it on that server. Seeded, the same request mostly gets the same reply; not always, because
the part of the prompt found in the cache was evaluated in other batches, which round differently.

Every patched point of llama_cpp is in this module; tests/models/test_llama_contract.py checks
the behaviour of llama-cpp-python that each relies on.
"""

from __future__ import annotations

import ctypes
import json
import math
import sys
import time
from contextvars import ContextVar
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


def install(prompt_lookup: bool = True, seed: int | None = None) -> None:
    """Make every Llama in this process sample grammars lazily, time its requests, (with
    `prompt_lookup`) decode speculatively from prompt lookup and (with `seed`) sample every request
    that names no seed from that one."""
    from llama_cpp import Llama

    _install_lazy_grammar(Llama)
    _install_timed_generation(Llama, prompt_lookup)
    _install_piece_cache()
    if seed is not None:
        _install_request_seed(Llama, seed)


def _install_request_seed(Llama: Any, seed: int) -> None:
    original = Llama.create_completion

    def create_completion(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("seed") is None:
            kwargs["seed"] = seed
        return original(self, *args, **kwargs)

    Llama.create_completion = create_completion


def _install_lazy_grammar(Llama: Any) -> None:
    import llama_cpp

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


def _install_timed_generation(Llama: Any, prompt_lookup: bool) -> None:
    """Llama.generate timed per request, with a drafter; Llama.eval with logits only where
    generate samples."""
    import llama_cpp

    from agent_runtime.models.prompt_lookup import PromptLookup
    from agent_runtime.models.timings import RequestClock

    original_generate, original_eval = Llama.generate, Llama.eval

    def eval(self: Any, tokens: Any) -> None:
        clock: RequestClock | None = getattr(self, "_agent_runtime_clock", None)
        if self._logits_all or clock is None:  # a Llama that keeps every logit: as it was
            return original_eval(self, tokens)
        # The prompt: logits for its last token only. A speculation batch (generate's tokens after
        # the first sample: the sampled token + the draft): every position is sampled.
        outputs = len(tokens) if clock.generating else 1
        started = time.perf_counter()
        self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
        for i in range(0, len(tokens), self.n_batch):
            if cancelled():  # between batches: what was evaluated stays cached for the next request
                clock.evaluated(i, self.n_tokens - i)
                raise RequestCancelled("the client went away while its prompt was evaluated")
            batch = tokens[i : i + self.n_batch]
            n_past, n = self.n_tokens, len(batch)
            self._batch.set_batch(batch=batch, n_past=n_past, logits_all=False)  # (the last one: True)
            for j in range(max(len(tokens) - outputs - i, 0), n):
                self._batch.batch.logits[j] = True
            self._ctx.decode(self._batch)
            self.input_ids[n_past : n_past + n] = batch
            self.n_tokens += n
            self._requires_eval = False
        seconds = time.perf_counter() - started
        clock.evaluated(len(tokens), self.n_tokens - len(tokens))
        if clock.generating and isinstance(self.draft_model, PromptLookup):
            self.draft_model.batch_time(len(tokens), seconds)

    def generate(self: Any, tokens: Any, *args: Any, **kwargs: Any) -> Any:
        if prompt_lookup and self.draft_model is None and not self._logits_all:
            self.draft_model = PromptLookup()  # after __init__: `_logits_all` stays as it was
        drafter = self.draft_model if isinstance(self.draft_model, PromptLookup) else None
        if drafter is not None:
            drafter.start()
        clock = self._agent_runtime_clock = RequestClock(len(tokens))
        inner = original_generate(self, tokens, *args, **kwargs)
        try:
            sent = None
            while True:
                try:
                    token = inner.send(sent)
                except StopIteration:
                    return
                clock.emitted(bool(llama_cpp.llama_vocab_is_eog(self._model.vocab, token)))
                if drafter is not None:
                    drafter.observe(token)
                if cancelled():
                    raise RequestCancelled(f"the client went away after {clock.generated} tokens")
                sent = yield token
        except RequestCancelled as exc:
            print(f"request cancelled: {exc}", file=sys.stderr, flush=True)
            raise
        finally:
            inner.close()
            self._agent_runtime_clock = None
            if clock.cached is not None:  # (not a request that failed before its prompt was evaluated)
                timings = clock.finish(drafter.drafted if drafter else None, drafter.accepted if drafter else None)
                self.agent_runtime_timings = timings
                holder = REQUEST_TIMINGS.get()
                if holder is not None:
                    holder["timings"] = timings
                print(timings.log_line(), file=sys.stderr, flush=True)

    Llama.eval, Llama.generate = eval, generate


def _install_piece_cache() -> None:
    """LlamaModel.detokenize with each token's text looked up once. Llama's completion loop
    detokenizes the whole reply after every token (to find stop strings and split UTF-8), one
    ctypes call per token: quadratic, ~15 s over a 2,000-token reply on this project's 2 cores,
    a cost that grows as decoding gets faster."""
    import llama_cpp
    from llama_cpp._internals import LlamaModel

    def detokenize(self: Any, tokens: Any, special: bool = False) -> bytes:
        tables = self.__dict__.setdefault("_agent_runtime_pieces", ({}, {}))
        table = tables[bool(special)]
        parts = []
        for token in tokens:
            piece = table.get(token)
            if piece is None:
                buffer = ctypes.create_string_buffer(256)
                n = llama_cpp.llama_token_to_piece(self.vocab, llama_cpp.llama_token(token), buffer, 256, 0, special)
                piece = table[token] = buffer.raw[: max(n, 0)]
            parts.append(piece)
        output = b"".join(parts)
        # As the original: a leading space after a beginning-of-sequence token is dropped.
        if len(tokens) > 0 and tokens[0] == self.token_bos() and output[0:1] == b" ":
            return output[1:]
        return output

    LlamaModel.detokenize = detokenize


# The timings of the request being answered: set per HTTP request by TimingsMiddleware, filled in
# by generate (in the worker thread, whose context is a copy holding the same dict). Its "cancel"
# event is set when the client goes away.
REQUEST_TIMINGS: ContextVar[dict | None] = ContextVar("agent_runtime_request_timings", default=None)


class RequestCancelled(RuntimeError):
    """The client went away: the rest of its request is not worth the machine's time, and the next
    request would wait behind it."""


def cancelled() -> bool:
    holder = REQUEST_TIMINGS.get()
    event = holder.get("cancel") if holder else None
    return event is not None and event.is_set()


class TimingsMiddleware:
    """Stops a completion whose client went away (RequestCancelled), and adds the request's
    `timings` (llama.cpp's server's format) and usage.prompt_tokens_details.cached_tokens to a
    completion's JSON. (llama-cpp-python's routes
    declare TypedDict response models, which drop any key they do not list, so this is added to
    the response after them.) Streamed answers pass through unchanged."""

    PATHS = frozenset({"/v1/chat/completions", "/v1/completions"})

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.PATHS:
            await self.app(scope, receive, send)
            return
        import asyncio
        import threading

        holder: dict = {"cancel": threading.Event()}
        token = REQUEST_TIMINGS.set(holder)
        start: dict | None = None
        chunks: list[bytes] = []
        # Once the request's body is read, only a disconnect can come from the client: a watcher
        # waits for it (and sets "cancel", which generate and eval check) and hands it on to the app
        # if the app asks (a streamed answer listens for it). One reader of `receive` at a time.
        body_read, gone = asyncio.Event(), asyncio.Event()

        async def app_receive() -> dict:
            if body_read.is_set():
                await gone.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.disconnect":
                holder["cancel"].set()
                gone.set()
            elif message["type"] == "http.request" and not message.get("more_body"):
                body_read.set()
            return message

        async def watch() -> None:
            await body_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass
            holder["cancel"].set()
            gone.set()

        watcher = asyncio.ensure_future(watch())

        async def capture(message: dict) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"application/json"):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = with_timings(b"".join(chunks), holder.get("timings"))
                headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
                await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        try:
            await self.app(scope, app_receive, capture)
        finally:
            watcher.cancel()
            REQUEST_TIMINGS.reset(token)


def with_timings(body: bytes, timings: Any) -> bytes:
    """A completion's JSON body with the request's timings added (unchanged if it is not one)."""
    if timings is None:
        return body
    try:
        answer = json.loads(body)
    except ValueError:
        return body
    if not isinstance(answer, dict) or "choices" not in answer:
        return body  # an error answer
    answer["timings"] = timings.server_json()
    usage = answer.get("usage")
    if isinstance(usage, dict):
        usage["prompt_tokens_details"] = {"cached_tokens": timings.prompt_cached}
    return json.dumps(answer).encode()


def exit_when_parent_goes() -> None:
    """The session holds our stdin; EOF means it ended (however it ended): stop serving."""
    import os
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


def take_option(argv: list[str], name: str, choices: tuple[str, ...] | None) -> str | None:
    """Remove `--name VALUE` (ours, unknown to llama_cpp.server) from argv; its value (a whole
    number where there are no choices)."""
    if name not in argv:
        return None
    at = argv.index(name)
    value = argv[at + 1] if at + 1 < len(argv) else ""
    if choices is None and not value.isdigit():
        sys.exit(f"{name}: expected a whole number, got {value!r}")
    if choices is not None and value not in choices:
        sys.exit(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    del argv[at : at + 2]
    return value


def main() -> None:
    exit_when_parent_goes()
    prompt_lookup = take_option(sys.argv, "--prompt_lookup", ("on", "off")) != "off"
    seed = take_option(sys.argv, "--seed_each", None)
    install(prompt_lookup, None if seed is None else int(seed))
    print(f"agent_runtime: prompt lookup decoding {'on' if prompt_lookup else 'off'}", file=sys.stderr, flush=True)
    if seed is not None:
        print(f"agent_runtime: every request sampled from seed {seed}", file=sys.stderr, flush=True)
    import llama_cpp.server.app as app_module

    create_app = app_module.create_app

    def create_app_with_timings(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)
        app.add_middleware(TimingsMiddleware)
        return app

    app_module.create_app = create_app_with_timings  # before __main__ imports it by name
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
