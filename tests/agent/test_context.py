"""The context budget and the stable prefix, over a long run with large tool outputs."""

from __future__ import annotations

import io

from conftest import make_repo, step, write_replay
from rich.console import Console

from agent_runtime.agent.context import PromptMemory, compact, observation_text
from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.models.tokens import estimate_counter
from agent_runtime.safety.approval import Approver

TASK = "Survey every section of big.txt and report what it holds."
STEPS = 60


def sent_bytes(messages) -> str:
    """The request as the server receives it: roles and texts in order."""
    return "".join(f"<{m.role}>\n{m.content[0]['text']}\n" for m in messages)


class Recorder:
    """Wraps the session's model to keep every request it is sent."""

    def __init__(self, model):
        self.model = model
        self.requests: list[list] = []
        self.original = model.generate
        model.generate = self.generate

    def generate(self, messages, *args, **kwargs):
        self.requests.append(list(messages))
        return self.original(messages, *args, **kwargs)


def test_sixty_steps_with_large_outputs_stay_in_the_window_with_stable_prefixes(tmp_path):
    big = "".join(f"section {i // 100} line {i}: " + "lorem ipsum dolor sit amet " * 3 + "\n" for i in range(9000))
    repo = make_repo(tmp_path / "p", {"big.txt": big})
    replies = [step(f"Read part {n}.", f'print(read_file(path="big.txt", start_line={n * 150 + 1}))')
               for n in range(STEPS - 1)]
    replies.append(step("Report.", 'final_answer("big.txt holds 90 sections of filler text")'))
    replay = write_replay(tmp_path / "r.json", replies)
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "MODEL_CONTEXT_WINDOW": "16384",
                              "MODEL_MAX_TOKENS": "1024", "AGENT_MAX_STEPS": str(STEPS),
                              "RUNS_DIR": str(tmp_path / "runs")})
    session = Session(settings, repo, Approver("never", interactive=False),
                      Display(console=Console(file=io.StringIO()), out=io.StringIO()))
    with session:
        recorder = Recorder(session.model)
        result = session.run(TASK)
        memory: PromptMemory = session.prompt_memory
    assert result.status == "answered" and result.steps == STEPS, result
    requests = recorder.requests
    assert len(requests) == STEPS
    budget = 16384 - 1024
    sizes = [memory.tokens(r) for r in requests]
    assert max(sizes) <= budget, "no request is sent over the window"
    assert max(sizes) > budget * 0.6, "the window is actually used before compacting"

    compacted_at = set(memory.stats.compaction_steps)
    gaps = [b - a for a, b in zip(sorted(compacted_at), sorted(compacted_at)[1:])]
    assert len(compacted_at) >= 3 and min(gaps) >= 5, f"compaction happens in blocks, not step by step: {sorted(compacted_at)}"
    for i in range(1, len(requests)):
        before, after = sent_bytes(requests[i - 1]), sent_bytes(requests[i])
        if i in compacted_at:
            assert not after.startswith(before), f"request {i} was compacted, so its prefix changes"
        else:
            assert after.startswith(before), f"request {i} must start with exactly the bytes of request {i - 1}"

    for i, request in enumerate(requests):
        text = sent_bytes(request)
        assert text.count(f"New task:\n{TASK}") == 1, "the task is never dropped"
        assert "Reply every time in exactly this form" in text, "the instructions are never dropped"
        if i > 0:
            latest = observation_text(session.agent.memory.steps[i].observations)  # steps[0] is the task
            assert latest in text, f"the latest observation is whole in request {i}"
    last = sent_bytes(requests[-1])
    assert "to fit the context window" in last
    print(f"\ncompactions at requests {sorted(compacted_at)}; largest request {max(sizes)} of {budget} tokens")


def test_compaction_keeps_head_and_tail_and_says_how_to_read_again():
    text = "\n".join(f"line {i}" for i in range(100))
    short = compact(text)
    assert short.startswith("line 0\nline 1") and short.endswith("line 97\nline 98\nline 99")
    assert "91 of 100 lines of this observation were dropped" in short and "call the tool again" in short
    assert compact("a\nb\nc") == "a\nb\nc"


def test_when_even_the_minimum_does_not_fit_the_run_stops_with_a_clear_message(tmp_path):
    repo = make_repo(tmp_path / "p", {"a.txt": "x\n"})
    replay = write_replay(tmp_path / "r.json", [step("d", 'final_answer("x")')])
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "MODEL_CONTEXT_WINDOW": "1024",
                              "MODEL_MAX_TOKENS": "512", "RUNS_DIR": str(tmp_path / "runs")})
    with Session(settings, repo, Approver("never", interactive=False),
                 Display(console=Console(file=io.StringIO()), out=io.StringIO())) as session:
        result = session.run("a task")
    assert result.status == "error" and result.exit_code == 1
    assert "more than the 512 the model can read" in result.error and "MODEL_CONTEXT_WINDOW" in result.error


def test_no_compaction_while_everything_fits(tmp_path):
    memory = PromptMemory(window=100_000, reserve=1000, counter=estimate_counter())
    from smolagents.memory import ActionStep, TaskStep
    from smolagents.monitoring import Timing

    steps = [TaskStep(task="t")]
    for n in range(10):
        steps.append(ActionStep(step_number=n + 1, timing=Timing(start_time=0), model_output=f"Thought: {n}",
                                observations="\n".join(f"o{n}-{i}" for i in range(50))))
    messages = memory.build("system", steps)
    assert memory.stats.compactions == 0 and len(messages) == 2 + 2 * 10
    assert all("dropped" not in m.content[0]["text"] for m in messages)


def test_very_long_conversations_leave_old_steps_out_but_never_tasks():
    from smolagents.memory import ActionStep, TaskStep
    from smolagents.monitoring import Timing

    memory = PromptMemory(window=6000, reserve=1000, counter=estimate_counter())
    steps = [TaskStep(task="first task")]
    for n in range(150):
        if n == 75:
            steps.append(TaskStep(task="second task"))
        steps.append(ActionStep(step_number=n + 1, timing=Timing(start_time=0),
                                model_output=f"Thought: step {n}\n<code>\nprint(rg_search(pattern=\"x{n}\"))\n</code>",
                                code_action=f'print(rg_search(pattern="x{n}"))',
                                observations="\n".join(f"match {n}-{i}" for i in range(30))))
    messages = memory.build("system prompt", steps)
    text = "\n".join(m.content[0]["text"] for m in messages)
    assert memory.tokens(messages) <= 5000
    assert "New task:\nfirst task" in text and "New task:\nsecond task" in text
    assert "are left out to fit the context window (rg_search x" in text
    assert "match 149-29" in text, "the latest step is whole"
