"""The first request's size: agent_runtime's lean instructions vs a stock smolagents CodeAgent
with the same tools and task. Counted with the embedded model's own tokenizer (the default embedded model) and
with cl100k (GPT-4's). Target: under half of stock."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from _common import emit, git_repo, quiet_session

from agent_runtime.config import load_settings
from agent_runtime.models.embedded import resolve_embedded
from agent_runtime.models.replay import make_replay_model
from agent_runtime.tools import build_tools

TASK = "The test test_add fails. Find out why and fix it."


def text_of(messages: list) -> list[str]:
    out = []
    for message in messages:
        content = message.content if hasattr(message, "content") else message["content"]
        out.append(content if isinstance(content, str) else "".join(part.get("text", "") for part in content))
    return out


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-size-"))
    repo = git_repo(work / "repo")
    replay = work / "r.json"
    replay.write_text(json.dumps(['Thought: d\n<code>\nfinal_answer("x")\n</code>']))
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(work / "runs")})
    with quiet_session(settings, repo) as session:
        session.run(TASK)
        ours = text_of(session.model.requests[0])
        from smolagents import CodeAgent

        stock_model = make_replay_model(replay)
        stock = CodeAgent(tools=build_tools(session.runtime), model=stock_model, verbosity_level=-1)
        stock.run(TASK)
        theirs = text_of(stock_model.requests[0])

    import litellm
    import llama_cpp

    choice = resolve_embedded(load_settings({}), None)  # the default embedded model's own tokenizer
    vocab = llama_cpp.Llama(model_path=str(choice.gguf), vocab_only=True, verbose=False)

    def model_count(texts: list[str]) -> int:
        return sum(len(vocab.tokenize(t.encode(), add_bos=False, special=False)) for t in texts)

    def cl100k_count(texts: list[str]) -> int:
        return sum(litellm.token_counter(model="gpt-4", text=t) for t in texts)

    figures = {
        "benchmark": "prompt_size",
        "tools": len(build_tools(session.runtime)),
        "tokenizer": choice.label,
        "ours_model_tokens": model_count(ours),
        "stock_smolagents_model_tokens": model_count(theirs),
        "ours_cl100k_tokens": cl100k_count(ours),
        "stock_smolagents_cl100k_tokens": cl100k_count(theirs),
    }
    figures["ratio_model"] = round(figures["ours_model_tokens"] / figures["stock_smolagents_model_tokens"], 3)
    figures["ratio_cl100k"] = round(figures["ours_cl100k_tokens"] / figures["stock_smolagents_cl100k_tokens"], 3)
    figures["target_ratio"] = 0.5
    figures["meets_target"] = figures["ratio_model"] < 0.5 and figures["ratio_cl100k"] < 0.5
    emit(figures)


if __name__ == "__main__":
    main()
