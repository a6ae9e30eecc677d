"""A model call's server timings on the agent's side: `model_timings(chat_message)`.

llama.cpp's format goes through LiteLLM's own response conversion (what it does with an
OpenAI-compatible answer); Ollama's through LiteLLM against OllamaProtocolFake (Ollama cannot
be installed here). The embedded server's end of it, for real, is in test_embedded.py."""

from __future__ import annotations

import json

from ollama_fake import OllamaProtocolFake

from agent_runtime.config import load_settings
from agent_runtime.models.llama_server import with_timings
from agent_runtime.models.timings import ModelTimings, RequestClock, from_ollama, model_timings

LLAMA_SERVER_ANSWER = {  # llama.cpp's llama-server, with speculative decoding on
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "qwen",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 64, "total_tokens": 1264,
              "prompt_tokens_details": {"cached_tokens": 1100}},
    "timings": {"cache_n": 1100, "prompt_n": 100, "prompt_ms": 1500.0, "prompt_per_token_ms": 15.0,
                "prompt_per_second": 66.7, "predicted_n": 64, "predicted_ms": 2000.0,
                "predicted_per_token_ms": 31.25, "predicted_per_second": 32.0, "draft_n": 40, "draft_n_accepted": 30},
}


def litellm_message(answer: dict):
    """The ChatMessage smolagents builds from what LiteLLM makes of this OpenAI-compatible answer."""
    from litellm import ModelResponse
    from litellm.litellm_core_utils.llm_response_utils.convert_dict_to_response import (
        convert_to_model_response_object,
    )
    from smolagents.models import ChatMessage

    response = convert_to_model_response_object(response_object=json.loads(json.dumps(answer)),
                                                 model_response_object=ModelResponse())
    return ChatMessage(role="assistant", content=response.choices[0].message.content, raw=response)


def test_llama_cpp_timings_survive_litellm_and_are_read():
    timings = model_timings(litellm_message(LLAMA_SERVER_ANSWER))
    assert timings == ModelTimings("llama.cpp", 1200, 100, 1100, 1500.0, 64, 2000.0, 40, 30)
    assert timings.generation_per_second == 32.0 and timings.prompt_per_second == 66.67


def test_an_older_llama_server_without_cache_n_leaves_it_unknown():
    answer = json.loads(json.dumps(LLAMA_SERVER_ANSWER))
    del answer["timings"]["cache_n"], answer["timings"]["draft_n"], answer["timings"]["draft_n_accepted"]
    timings = model_timings(litellm_message(answer))
    assert timings.prompt_cached is None and timings.drafted is None and timings.accepted is None
    assert timings.prompt_tokens == 1200 and timings.prompt_evaluated == 100


def test_no_timings_is_unknown_not_zero():
    answer = {k: v for k, v in LLAMA_SERVER_ANSWER.items() if k != "timings"}  # vLLM, a hosted provider
    assert model_timings(litellm_message(answer)) is None
    from smolagents.models import ChatMessage

    assert model_timings(ChatMessage(role="assistant", content="x")) is None  # a replayed reply
    partial = from_ollama({"eval_count": 5})
    assert partial.generated_tokens == 5 and partial.generation_ms is None and partial.generation_per_second is None


def test_ollama_durations_reach_the_agent_through_litellm(tmp_path):
    from agent_runtime.models.litellm_model import make_litellm_model

    with OllamaProtocolFake(["qwen:1b"], ["Thought: hi"]) as ollama:
        model = make_litellm_model("ollama_chat/qwen:1b", load_settings({}), api_base=ollama.url)
        message = model.generate([{"role": "user", "content": [{"type": "text", "text": "hello there, model"}]}])
    timings = model_timings(message)
    # The fake answers prompt_eval_count = prompt chars // 4, eval_count = reply chars // 4, 1000 ns each.
    assert timings.source == "ollama"
    assert timings.prompt_evaluated == message.token_usage.input_tokens > 0
    assert timings.generated_tokens == message.token_usage.output_tokens == len("Thought: hi") // 4
    assert timings.prompt_ms == timings.generation_ms == 0.001
    assert timings.prompt_cached is None and timings.drafted is None, "Ollama does not say: unknown"


def test_the_server_adds_timings_and_cached_tokens_to_a_completion_only():
    clock = RequestClock(120)
    clock.evaluated(20, 100)
    for _ in range(9):
        clock.emitted(end_of_generation=False)
    clock.emitted(end_of_generation=True)  # the end-of-generation token is not part of the reply
    timings = clock.finish(drafted=6, accepted=4)
    assert (timings.prompt_tokens, timings.prompt_evaluated, timings.prompt_cached) == (120, 20, 100)
    assert timings.generated_tokens == 9 and (timings.drafted, timings.accepted) == (6, 4)
    body = json.dumps({"choices": [{"text": "x"}], "usage": {"prompt_tokens": 120, "completion_tokens": 9}}).encode()
    answer = json.loads(with_timings(body, timings))
    assert answer["timings"]["prompt_n"] == 20 and answer["timings"]["cache_n"] == 100
    assert answer["timings"]["draft_n"] == 6 and answer["timings"]["draft_n_accepted"] == 4
    assert answer["usage"]["prompt_tokens_details"] == {"cached_tokens": 100}
    error = json.dumps({"error": {"message": "bad grammar"}}).encode()
    assert with_timings(error, timings) == error
    assert with_timings(b"not json", timings) == b"not json"
    assert "drafted 6, accepted 4" in timings.log_line()
    off = RequestClock(5).finish(None, None)
    assert "draft_n" not in off.server_json(), "no speculation: no draft counts, as llama-server"

