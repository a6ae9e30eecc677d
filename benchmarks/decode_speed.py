"""Decoding speed of the embedded server, from its own timings (llama.cpp's `timings` object):

(a) prompt lookup on vs off, same build, same greedy requests: replies that copy a file back
    with a fix (the agent's edit form, under the edit grammar and without a grammar) and prose
    replies about the same files. Target: edit replies >= 1.8x the tokens/s; prose not slower.
(b) time to first token (cold prompt; a step appended to a cached one) and plain decoding
    tokens/s next to the machine's memory bandwidth: decoding reads every weight once per token,
    so bandwidth / model file size is the ceiling in tokens/s. And what a batch of n positions
    costs against one: the most prompt lookup can gain on this CPU even when every guess is right.
(c) prompt tokens evaluated per request over the 10 requests of a scripted agent session
    (stable prefix: system + task + steps appended). Target: after the first, <= 25% of the prompt.

    python benchmarks/decode_speed.py [--model 1.5b|0.5b] [--parts abc] [--cases N] [--max-tokens N]

The machine is shared: its load average is printed with the figures; on/off requests alternate
so that load falls on both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT, emit

from agent_runtime.config import load_settings
from agent_runtime.models.embedded import EmbeddedServer, resolve_embedded
from agent_runtime.models.grammar import edit_grammar, python_grammar
from agent_runtime.models.litellm_model import make_litellm_model
from agent_runtime.models.timings import model_timings
from agent_runtime.tools import tool_classes

# As agent/edits.py asks for a fix.
EDIT_ASK = ("Fix the code so that the tests pass. Do not change the tests. First say in one or two sentences what is "
            "wrong and where. Then reply with the complete new content of every file you change, each as a heading "
            "with its path followed by a code block, like this:\n\n### path/to/file.py\n```python\n...the whole file...\n```")
PROSE_ASK = "Explain in two paragraphs of plain prose what this module is for and how its parts work together. No code."


def bugged(path: str, old: str, new: str) -> str:
    text = (ROOT / path).read_text()
    assert old in text, (path, old)
    return text.replace(old, new, 1)


# Real modules of this project with a bug put in, and the failure a test run would show.
CASES = [
    ("fallback.py", bugged("agent_runtime/models/fallback.py", "self.index + 1 >= len(self.chain)",
                           "self.index + 1 > len(self.chain)"),
     "test_fallback.py::test_the_last_model_failing_raises_its_error FAILED: IndexError: list index out of range"),
    ("_common.py", bugged("benchmarks/_common.py", "statistics.median(samples) * 1e6", "statistics.median(samples) * 1e3"),
     "test_common.py::test_median_us FAILED: assert 1.5 == 1500.0"),
    ("replay.py", bugged("agent_runtime/models/replay.py", "text = self.replies[self.calls]\n        self.calls += 1",
                         "self.calls += 1\n        text = self.replies[self.calls]"),
     "test_replay.py::test_replies_in_order FAILED: assert 'second' == 'first'"),
]


def edit_prompt(name: str, text: str, failure: str) -> str:
    return f"{name}:\n```python\n{text}```\n\nThe tests fail:\n{failure}\n\n{EDIT_ASK}"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def memory_bandwidth(size_mb: int = 512, rounds: int = 4) -> dict:
    """Bytes a numpy copy moves per second (read + write), with one thread and with one per core."""
    import numpy as np

    out = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        parts = [(np.ones(size_mb * 2**20 // threads, dtype=np.uint8), np.empty(size_mb * 2**20 // threads, np.uint8))
                 for _ in range(threads)]
        best = float("inf")
        for _ in range(rounds):
            workers = [threading.Thread(target=np.copyto, args=(dst, src)) for src, dst in parts]
            start = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            best = min(best, time.perf_counter() - start)
        out[f"copy_gb_per_s_{threads}_threads"] = round(2 * size_mb * 2**20 / best / 1e9, 2)
    return out


def batch_costs(gguf: Path, sizes: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16), rounds: int = 5) -> dict:
    """Seconds to decode a batch of n positions, every one with its logits (what verifying a draft
    of n - 1 tokens costs), after a 600-token prompt, relative to a batch of one. With cost(n), a
    draft of k tokens all accepted yields (k + 1) / cost(k + 1) times plain decoding: the ceiling
    of prompt lookup on this CPU, whatever the drafter guesses."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=2048, n_threads=os.cpu_count(), n_threads_batch=os.cpu_count(),
                          logits_all=False, verbose=False)
    try:
        tokens = llm.tokenize((ROOT / "agent_runtime" / "models" / "prompt_lookup.py").read_bytes())[:600]
        llm.eval(tokens)
        base = llm.n_tokens
        seconds = {}
        for n in sizes:
            best = float("inf")
            for _ in range(rounds):
                llm._ctx.kv_cache_seq_rm(-1, base, -1)
                llm._batch.set_batch(batch=tokens[:n], n_past=base, logits_all=True)
                start = time.perf_counter()
                llm._ctx.decode(llm._batch)
                best = min(best, time.perf_counter() - start)
            seconds[n] = best
        llm._ctx.kv_cache_seq_rm(-1, base, -1)
    finally:
        llm.close()
    relative = {n: round(t / seconds[1], 2) for n, t in seconds.items()}
    ceiling = {n - 1: round(n / relative[n], 2) for n in sizes if n > 1}
    slope = statistics.median((relative[n] - 1) / (n - 1) for n in sizes if n > 1)
    return {"one_position_ms": round(seconds[1] * 1000, 1), "cost_relative_to_one": relative,
            "speedup_if_all_k_accepted": ceiling, "slope_per_position": round(slope, 3),
            "best_possible_speedup": max(ceiling.values())}


def model_for(server: EmbeddedServer, max_tokens: int):
    model = make_litellm_model("openai/embedded", load_settings({"MODEL_TEMPERATURE": "0"}), api_base=server.api_base)
    model.kwargs["max_tokens"] = max_tokens  # below the setting's floor of 16: a time-to-first-token request asks for 1
    return model


def ask(server: EmbeddedServer, text: str, grammar: str | None, max_tokens: int) -> dict:
    model = model_for(server, max_tokens)
    model.grammar = grammar
    start = time.perf_counter()
    message = model.generate([{"role": "user", "content": [{"type": "text", "text": text}]}])
    wall = time.perf_counter() - start
    timings = model_timings(message)
    assert timings is not None, "the embedded server reports its timings"
    return {"text": message.content, "wall_s": round(wall, 2), **timings.as_dict()}


def part_a(servers: dict[str, EmbeddedServer], cases: int, max_tokens: int) -> dict:
    requests = []
    for name, text, failure in CASES[:cases]:
        requests.append(("edit_grammar", name, edit_prompt(name, text, failure), edit_grammar([name]), max_tokens))
        requests.append(("edit_free", name, edit_prompt(name, text, failure), None, max_tokens))
        requests.append(("prose", name, f"{name}:\n```python\n{text}```\n\n{PROSE_ASK}", None, max_tokens // 2))
    rows = []
    for index, (kind, name, prompt, grammar, max_tokens) in enumerate(requests):
        order = ("on", "off") if index % 2 == 0 else ("off", "on")
        replies = {mode: ask(servers[mode], prompt, grammar, max_tokens) for mode in order}
        on, off = replies["on"], replies["off"]
        rows.append({"kind": kind, "file": name, "tokens": on["generated_tokens"],
                     "same_reply": on["text"] == off["text"],
                     "on_tokens_per_s": on["generation_per_second"], "off_tokens_per_s": off["generation_per_second"],
                     "ratio": round(on["generation_per_second"] / off["generation_per_second"], 2),
                     "drafted": on["drafted"], "accepted": on["accepted"], "on_wall_s": on["wall_s"],
                     "off_wall_s": off["wall_s"], "load": load_average()})

    def pooled(kinds: tuple[str, ...]) -> dict:
        chosen = [r for r in rows if r["kind"] in kinds]
        # tokens/s over all of them: total tokens / total generation time, on and off
        on_s = sum(r["tokens"] / r["on_tokens_per_s"] for r in chosen)
        off_s = sum(r["tokens"] / r["off_tokens_per_s"] for r in chosen)
        tokens = sum(r["tokens"] for r in chosen)
        return {"replies": len(chosen), "tokens": tokens, "on_tokens_per_s": round(tokens / on_s, 2),
                "off_tokens_per_s": round(tokens / off_s, 2), "ratio": round(off_s / on_s, 2),
                "median_ratio": statistics.median(r["ratio"] for r in chosen)}

    edit, prose = pooled(("edit_grammar", "edit_free")), pooled(("prose",))
    return {"rows": rows, "edit": edit, "edit_grammar": pooled(("edit_grammar",)), "edit_free": pooled(("edit_free",)),
            "prose": prose, "target_edit_ratio": 1.8, "meets_edit_target": edit["ratio"] >= 1.8,
            "prose_not_slower": prose["ratio"] >= 0.95,
            "all_replies_identical": all(r["same_reply"] for r in rows)}


def part_b(servers: dict[str, EmbeddedServer], gguf: Path) -> dict:
    name, text, failure = CASES[0]
    system = "You are a coding agent. " + (ROOT / "README.md").read_text()[:6000]  # an agent-sized prompt
    cold_prompt = f"{system}\n\n{edit_prompt(name, text, failure)}"
    off = servers["off"]
    cold = ask(off, cold_prompt, None, 1)
    warm = ask(off, cold_prompt + "\n\nObservation: the tests ran; 1 failed, 12 passed.\nNow fix it.", None, 1)
    decode = ask(off, f"{name}:\n```python\n{text}```\n\n{PROSE_ASK}", None, 200)
    bandwidth = memory_bandwidth()
    batches = batch_costs(gguf)
    best = max(bandwidth.values())
    model_bytes = gguf.stat().st_size
    ceiling = best * 1e9 / model_bytes
    return {"cold_prompt_tokens": cold["prompt_tokens"], "cold_ttft_s": cold["wall_s"],
            "cold_prompt_tokens_per_s": cold["prompt_per_second"],
            "warm_step_tokens_evaluated": warm["prompt_evaluated"], "warm_ttft_s": warm["wall_s"],
            "decode_tokens_per_s": decode["generation_per_second"], "decode_tokens": decode["generated_tokens"],
            **bandwidth, "model_file_bytes": model_bytes, "ceiling_tokens_per_s": round(ceiling, 1),
            "decode_share_of_ceiling": round(decode["generation_per_second"] / ceiling, 3),
            "draft_verification": batches, "load": load_average()}


def gbnf_literal(text: str) -> str:
    """A grammar that allows exactly `text`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'root ::= "{escaped}"\n'


def part_c(servers: dict[str, EmbeddedServer]) -> dict:
    """Each request's reply is forced (by a grammar that allows only that text) to be the one the
    next request has in its history, so the KV cache holds what it would hold in a live session:
    the model's own tokens for it. The session's first request is a fix request (the task alone, in
    the edit form), which the conversation after it does not extend: the share counts the requests
    that extend the one before them."""
    from prompt_cache import scripted_requests

    requests = scripted_requests(Path(tempfile.mkdtemp(prefix="bench-decode-")))
    model = model_for(servers["on"], 400)
    model.generate([{"role": "user", "content": [{"type": "text", "text": "Unrelated text to start cold. " * 40}]}])
    steps = []
    for index, messages in enumerate(requests):
        following = requests[index + 1] if index + 1 < len(requests) else None
        if following is not None:
            reply = following[-2]  # the newest reply in the next request's history: this one's
            role = getattr(reply, "role", "")
            assert getattr(role, "value", role) == "assistant", reply  # (smolagents' MessageRole: str() is its name)
            model.grammar = gbnf_literal("".join(part["text"] for part in reply.content))
        else:
            model.grammar = python_grammar(tool_classes(), 1024)
        timings = model_timings(model.generate(messages))
        extends = index > 0 and messages[:len(requests[index - 1])] == requests[index - 1]
        steps.append({"prompt_tokens": timings.prompt_tokens, "evaluated": timings.prompt_evaluated,
                      "cached": timings.prompt_cached, "prompt_ms": timings.prompt_ms,
                      "share": round(timings.prompt_evaluated / timings.prompt_tokens, 3), "extends": extends})
    later = [s for s in steps if s["extends"]]
    share = sum(s["evaluated"] for s in later) / sum(s["prompt_tokens"] for s in later)
    return {"steps": steps, "evaluated_share_after_first": round(share, 3),
            "max_share_after_first": max(s["share"] for s in later), "target_share": 0.25,
            "meets_target": share <= 0.25, "load": load_average()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="1.5b", choices=("1.5b", "0.5b"))
    parser.add_argument("--parts", default="abc")
    parser.add_argument("--cases", type=int, default=len(CASES), help="(a): how many of the files")
    parser.add_argument("--max-tokens", type=int, default=900, help="(a): per edit reply (prose: half)")
    args = parser.parse_args()
    choice = resolve_embedded(load_settings({}), args.model)
    servers = {"on": EmbeddedServer(choice.gguf, 8192, choice.chat_format, prompt_lookup=True),
               "off": EmbeddedServer(choice.gguf, 8192, choice.chat_format, prompt_lookup=False)}
    figures: dict = {"benchmark": "decode_speed", "model": f"{choice.label} (embedded llama.cpp)",
                     "cpus": os.cpu_count(), "load_at_start": load_average()}
    try:
        for server in servers.values():
            server.start()
        for server in servers.values():
            server.wait_ready()
        parts = {"a": ("a_prompt_lookup", lambda: part_a(servers, args.cases, args.max_tokens)),
                 "b": ("b_machine_limit", lambda: part_b(servers, choice.gguf)),
                 "c": ("c_prompt_cache", lambda: part_c(servers))}
        for key in args.parts:
            name, run = parts[key]
            try:
                figures[name] = run()
            except Exception as exc:  # noqa: BLE001 -- one part's failure keeps the others' figures
                figures[name] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        for server in servers.values():
            server.stop()
    figures["load_at_end"] = load_average()
    emit(figures)


if __name__ == "__main__":
    main()
