"""Baselines on the same model and the same tasks as `agent-runtime eval`, for the side-by-side table.

    single_shot   the strong one completion, what a user gets by pasting the failure into a chat: the
                  modules the failing tests import, the test files, the tests' output, and the ask for
                  the corrected function(s) only, in one code block (agent/shot.py: the agent's first
                  fix asks the same); the block written back by name (code/byname.py), then the
                  task's check. Stopped where the block ends, as the agent's first request is:
                  what the model writes after it (tests, an explanation, repetition to the cap)
                  would count against one completion's time, not for it.
    smolagents    a stock smolagents CodeAgent with three tools a user would write in an
                  afternoon (read_file, write_file, run_tests) and smolagents' default prompt.
    aider         Aider as it ships (benchmarks/peers.py): its repo map, no files named, --auto-test.
    mini_swe_agent  mini-swe-agent's `mini` with its text-based config, yolo.

All reach the model the same way agent_runtime does (the embedded llama.cpp server, started once
here, or MODEL_ID/MODEL_API_BASE), every reply capped at the same max_tokens (MODEL_MAX_TOKENS,
agent_runtime's own cap, unless --max-tokens), and all are scored by the eval runner's own
repository set-up and check, so the results files compare with `agent-runtime eval compare`
and `benchmarks/eval_table.py`. The two peers run from their own virtualenvs, made on first use.

    python benchmarks/baselines.py single_shot [--model embedded:0.5b] [--only ID ...] [--out FILE]
    python benchmarks/baselines.py single_shot --suite evals/single   # the single-function bugs
    python benchmarks/baselines.py single_shot --seed 1               # the embedded server seeded
    python benchmarks/baselines.py smolagents  [--max-steps 12]
    python benchmarks/baselines.py aider       [--only basket-add-renamed]
    python benchmarks/baselines.py mini_swe_agent [--max-steps 25]

Prints a JSON summary (solved, median seconds per task) at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import emit

from agent_runtime.config import load_settings
from agent_runtime.eval.repo import check_env, python_bin_dir, run_shell
from agent_runtime.eval.report import summary
from agent_runtime.eval.runner import EvalOptions, run_suite
from agent_runtime.eval.suite import Task, load_suite
from agent_runtime.models.registry import SHARED_SERVER_ENV

SYSTEMS = ("single_shot", "smolagents", "aider", "mini_swe_agent")

ROOT = Path(__file__).resolve().parents[1]


def _model_kwargs(api_base: str | None, model_id: str, api_key: str | None = None) -> dict[str, Any]:
    return {"model": model_id, "api_base": api_base, "api_key": api_key or ("sk-local" if api_base else None)}


def _complete(messages: list[dict[str, str]], model: dict[str, Any], max_tokens: int, timeout: float,
              stop: list[str] | None = None) -> tuple[str, Any]:
    import litellm

    response = litellm.completion(messages=messages, temperature=0.1, max_tokens=max_tokens, timeout=timeout,
                                  num_retries=0, stop=stop, **model)
    return response.choices[0].message.content or "", response.usage


def imported_code(files: dict[str, str], tests: list[str]) -> dict[str, str]:
    """The repository's modules the test files import, and the modules those import (not tests)."""
    from agent_runtime.agent.tasks import TEST_FILE
    from agent_runtime.code.index import file_facts, module_of

    modules = {module_of(path): path for path in files if path.endswith(".py")}
    found: dict[str, str] = {}
    queue, seen = list(tests), set(tests)
    while queue:
        path = queue.pop()
        facts = file_facts(files[path], path)
        for module, attribute in list(facts.imports.values()) + [(m, None) for m in facts.star] if facts else []:
            for name in (f"{module}.{attribute}" if attribute else None, module):
                other = modules.get(name) if name else None
                if other and other not in seen:
                    seen.add(other)
                    queue.append(other)
                    if not TEST_FILE.search(other):
                        found[other] = files[other]
    return found


def single_shot(model: dict[str, Any], max_tokens: int):
    from agent_runtime.agent.shot import STOP, shot_message
    from agent_runtime.agent.tasks import TEST_FILE
    from agent_runtime.code.byname import first_block, place
    from agent_runtime.code.symbols import SymbolError

    def attempt(task: Task, repo: Path, options: EvalOptions, timeout: float) -> dict[str, Any]:
        env = check_env(python_bin_dir(repo.parent))
        before = run_shell(task.check, repo, env, timeout=300)
        tests = {path: text for path, text in task.files.items() if TEST_FILE.search(path)}
        code = imported_code(task.files, sorted(tests)) or {p: t for p, t in task.files.items()
                                                            if p.endswith(".py") and p not in tests}
        prompt = shot_message(task.prompt, code, tests, task.check, before.output)
        started = time.monotonic()
        text, usage = _complete([{"role": "user", "content": prompt}], model, max_tokens, timeout, stop=[STOP])
        written, why = [], None
        _, block = first_block(text)
        try:
            placed = place(block, code).texts if block is not None else {}
        except SymbolError as exc:
            placed, why = {}, exc.error
        for path, content in placed.items():
            (repo / path).write_text(content, encoding="utf-8")
            written.append(path)
        return {"status": "answered" if written else "no_files", "steps": 1, "model_s": round(time.monotonic() - started, 2),
                "tokens_in": getattr(usage, "prompt_tokens", None), "tokens_out": getattr(usage, "completion_tokens", None),
                "files_written": written, "parse_failures": 0 if written else 1, "unplaced": why}

    return attempt


SMOLAGENTS_WORKER = r'''
import json, subprocess, sys, time
from pathlib import Path
from smolagents import CodeAgent, LiteLLMModel, tool

config = json.loads(sys.argv[1])
root = Path(config["repo"])

@tool
def read_file(path: str) -> str:
    """Read a file of the repository.

    Args:
        path: the file's path, relative to the repository root
    """
    return (root / path).read_text()

@tool
def write_file(path: str, content: str) -> str:
    """Write (replace) a file of the repository.

    Args:
        path: the file's path, relative to the repository root
        content: the file's complete new content
    """
    (root / path).write_text(content)
    return f"wrote {path}"

@tool
def run_tests() -> str:
    """Run the repository's tests with pytest and return their output."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=root, capture_output=True, text=True, timeout=300)
    return (done.stdout + done.stderr)[-4000:]

model = LiteLLMModel(model_id=config["model"], api_base=config["api_base"], api_key=config["api_key"],
                     temperature=0.1, max_tokens=config["max_tokens"], flatten_messages_as_text=True)
agent = CodeAgent(tools=[read_file, write_file, run_tests], model=model, max_steps=config["max_steps"],
                  verbosity_level=0)
started = time.monotonic()
status = "answered"
try:
    agent.run(config["prompt"])
except Exception as exc:
    status = f"error: {type(exc).__name__}"
steps = [s for s in agent.memory.steps if type(s).__name__ == "ActionStep"]
usage = [s.token_usage for s in steps if getattr(s, "token_usage", None)]
errors = [type(s.error).__name__ for s in steps if getattr(s, "error", None)]
if errors and errors[-1] == "AgentMaxStepsError":
    status = "step_limit"
print(json.dumps({"status": status, "steps": len(steps), "model_s": None,
                  "tokens_in": sum(u.input_tokens for u in usage), "tokens_out": sum(u.output_tokens for u in usage),
                  "parse_failures": errors.count("AgentParsingError"), "code_errors": errors.count("AgentExecutionError"),
                  "wall_agent_s": round(time.monotonic() - started, 2)}))
'''


def smolagents_agent(model: dict[str, Any], max_tokens: int, max_steps: int):
    def attempt(task: Task, repo: Path, options: EvalOptions, timeout: float) -> dict[str, Any]:
        config = {**model, "repo": str(repo), "prompt": task.prompt, "max_tokens": max_tokens, "max_steps": max_steps}
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
               "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        # A file, not `python -c`: smolagents' @tool reads each tool's source with inspect.
        worker = repo.parent / "smolagents_worker.py"
        worker.write_text(SMOLAGENTS_WORKER, encoding="utf-8")
        try:
            done = subprocess.run([sys.executable, str(worker), json.dumps(config)], cwd=repo, env=env,
                                  capture_output=True, text=True, timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            return {"status": "timeout"}
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines:
            return {"status": "crashed", "error": done.stderr.strip().splitlines()[-1:] or None}
        return json.loads(lines[-1])

    return attempt


def make_attempt(system: str, model: dict[str, Any], max_tokens: int, max_steps: int, window: int | None):
    if system == "single_shot":
        return single_shot(model, max_tokens)
    if system == "smolagents":
        return smolagents_agent(model, max_tokens, max_steps)
    from peers import Endpoint, aider_attempt, mini_attempt

    endpoint = Endpoint(model["model"], model["api_base"], model["api_key"], max_tokens, window)
    return aider_attempt(endpoint) if system == "aider" else mini_attempt(endpoint, max_steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("--suite", type=Path, default=ROOT / "evals" / "tasks.jsonl",
                        help="a JSONL file or a directory of them (default evals/tasks.jsonl; evals/single: single-function bugs)")
    parser.add_argument("--model", default=None, help="embedded[:KEY] (default) or a LiteLLM id with MODEL_API_BASE")
    parser.add_argument("--only", action="append")
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, help="the cap on every reply (default: MODEL_MAX_TOKENS)")
    parser.add_argument("--timeout", type=float, help="seconds per task (default: each task's timeout_s)")
    parser.add_argument("--seed", type=int, help="the embedded server samples every request from this seed")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep each task's directory (repository, peer logs)")
    args = parser.parse_args()
    settings = load_settings()
    max_tokens = args.max_tokens or settings.model_max_tokens
    tasks = load_suite(args.suite)
    if args.only:
        tasks = [t for t in tasks if t.id in set(args.only)]
    if args.system in ("aider", "mini_swe_agent"):
        from peers import SYSTEMS as PEERS
        from peers import PeerError, ensure_venv

        try:
            ensure_venv(PEERS[args.system])  # before the model loads: a set-up problem shows at once
        except PeerError as exc:
            sys.exit(f"baselines: {exc}")
    out = args.out or ROOT / "benchmarks" / "results" / f"{args.system}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    server = None
    model_id = args.model or "embedded"
    from agent_runtime.models.constraints import context_window

    if model_id.startswith("embedded"):
        from agent_runtime.models.embedded import EmbeddedServer, resolve_embedded

        choice = resolve_embedded(settings, model_id.partition(":")[2] or None)
        window = context_window(settings, None)
        api_base = os.environ.get(SHARED_SERVER_ENV)
        if not api_base:
            server = EmbeddedServer(choice.gguf, window, choice.chat_format, seed=args.seed)
            server.start()
            server.wait_ready()
            api_base = server.api_base
        model = _model_kwargs(api_base, "openai/embedded")
        label = choice.label
    else:
        model = _model_kwargs(settings.model_api_base, model_id, settings.model_api_key)
        window = context_window(settings, model_id, settings.model_api_base)
        label = model_id
    try:
        attempt = make_attempt(args.system, model, max_tokens, args.max_steps, window)
        results = run_suite(tasks, attempt, EvalOptions(timeout_s=args.timeout, keep=args.keep), out, system=args.system,
                            on_result=lambda r, p: print(f"[{p.done}/{p.total}] {r['id']}: "
                                                         f"{'solved' if r.get('solved') else r.get('status')} "
                                                         f"{r.get('wall_s')} s", file=sys.stderr, flush=True))
    finally:
        if server is not None:
            server.stop()
    s = summary(results)
    emit({"benchmark": f"baseline_{args.system}", "seed": args.seed, "model": label, "max_tokens": max_tokens, "solved": s["solved"],
          "total": s["total"], "median_wall_s": s["median_wall_s"], "steps": s["steps"], "tokens_in": s["tokens_in"],
          "tokens_out": s["tokens_out"], "parse_failures": s["parse_failures"], "results": str(out)})


if __name__ == "__main__":
    main()
