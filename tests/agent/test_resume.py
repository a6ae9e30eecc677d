"""Conversations that outlive the process: steps.jsonl written as steps end, the agent's memory
rebuilt from it (what the model is sent is what a live conversation sends), patches back,
killed runs counted and resumable, model switches and /compact keeping the conversation."""

from __future__ import annotations

import io
import json
import re
import stat
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, make_repo, step, write_replay
from rich.console import Console

from agent_runtime.agent.resume import ResumeError, load_conversation, pick_run
from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver
from agent_runtime.telemetry.records import load_run, load_steps


def quiet() -> Display:
    return Display(console=Console(file=io.StringIO(), width=120), out=io.StringIO())


def new_session(repo: Path, tmp_path: Path, replies: list[str], name: str, approval: str = "auto", **env: str) -> Session:
    replay = write_replay(tmp_path / f"{name}.json", replies)
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs"), **env})
    session = Session(settings, repo, Approver(approval, interactive=False), quiet())
    session.open()
    return session


def texts(messages) -> list[tuple[str, str]]:
    return [(str(m.role), m.content[0]["text"]) for m in messages]


FIRST = [
    step("Read the code.", 'print(read_file(path="calc.py"))'),
    step("Propose the fix.", 'print(propose_patch(path="calc.py", old="return a - b", new="return a + b"))'),
    step("A mistake.", "print(1 / 0)"),
    step("Report.", 'final_answer("add() subtracts; patch p1 fixes it")'),
]
SECOND = [
    step("Apply the patch proposed in the first task.", 'print(apply_patch(patch_id="p1"))'),
    step("Check.", 'print(run_tests())'),
    step("Done.", 'final_answer("applied p1; the tests pass")'),
]


# Not put as a question: a question's tools only read, and this task proposes a patch.
FIRST_TASK = "read calc.py and propose a patch for add(), without applying it"


def test_a_resumed_conversation_sends_exactly_what_the_live_one_sent(tmp_path):
    # Live: two tasks in one session.
    live_repo = make_repo(tmp_path / "live", BUGGY_PROJECT)
    live = new_session(live_repo, tmp_path, FIRST + SECOND, "live")
    try:
        assert live.run(FIRST_TASK).status == "answered"
        assert live.run("apply your fix and run the tests").status == "answered"
        live_requests = [texts(r) for r in live.model.requests[len(FIRST):]]
    finally:
        live.close()

    # The same two tasks in two processes' worth of sessions: the second resumes the first's record.
    repo = make_repo(tmp_path / "resumed", BUGGY_PROJECT)
    first = new_session(repo, tmp_path, FIRST, "first")
    try:
        assert first.run(FIRST_TASK).status == "answered"
    finally:
        first.close()
    runs = tmp_path / "runs"
    conversation = load_conversation(runs, pick_run(runs, repo.resolve()), repo.resolve())
    assert conversation.tasks == 1 and conversation.steps == 4
    second = new_session(repo, tmp_path, SECOND, "second")
    try:
        second.resume(conversation)
        assert [p.id for p in second.runtime.patches.all()] == ["p1"], "the proposed patch came back"
        result = second.run("apply your fix and run the tests")
        resumed_requests = [texts(r) for r in second.model.requests]
    finally:
        second.close()
    assert result.status == "answered", result
    assert (repo / "calc.py").read_text().count("return a + b") == 1, "p1 of the first process was applied"

    def normalize(request: list[tuple[str, str]]) -> list[tuple[str, str]]:
        # The system message is the instructions of the process that sends it (project memory and
        # instructions may have grown meanwhile); the conversation is everything after it.
        # Two real runs of the tests differ in their timings ("1 failed in 0.05s"): those are not compared.
        return [(role, re.sub(r"\d+\.\d+s\b", "N.NNs", text.replace(str(live_repo.resolve()), "REPO")
                              .replace(str(repo.resolve()), "REPO")))
                for role, text in request[1:]]

    resumed_n, live_n = [normalize(r) for r in resumed_requests], [normalize(r) for r in live_requests]
    for number, (got, want) in enumerate(zip(resumed_n, live_n, strict=False)):
        for (role, text), (live_role, live_text) in zip(got, want, strict=False):
            assert (role, text) == (live_role, live_text), (number, role, text[-600:], live_text[-600:])
    assert resumed_n == live_n
    # Byte-stable from step to step: each request begins with the whole of the one before.
    for before, after in zip(resumed_requests, resumed_requests[1:], strict=False):
        assert after[:len(before)] == before
    # The second run's record continues the first one's conversation.
    meta = load_run(runs / conversation.run_id)
    second_meta = load_run(second.last_run.dir)
    assert second_meta["previous_run"] == conversation.run_id
    assert second_meta["conversation"] == meta["conversation"] == conversation.run_id
    assert second_meta["session_id"] == meta["session_id"], "one Phoenix session for the whole conversation"


def test_steps_are_written_as_they_end_private_and_redacted(tmp_path, monkeypatch):
    secret = "s3cr3t-Value-9081726354"
    monkeypatch.setenv("TEST_API_TOKEN", secret)  # named like a secret: redacted wherever it shows up
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = new_session(repo, tmp_path, [
        step("Echo.", f'print(run_cmd(command="echo {secret}"))'),
        step("Done.", 'final_answer("ok")'),
    ], "r")
    on_disk: list[int] = []
    show = session.display.step_done

    def step_done(memory_step, code_shown):
        on_disk.append(len(load_steps(session.last_run.dir)))
        show(memory_step, code_shown)

    session.display.step_done = step_done
    try:
        assert session.run("echo the token").status == "answered"
    finally:
        session.close()
    assert on_disk == [2, 3], "the task line, then each step, are on disk by the time the step is shown"
    path = session.last_run.dir / "steps.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert secret not in text and "[REDACTED]" in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["type"] for line in lines] == ["task", "step", "step"]
    assert lines[0]["task"] == "echo the token" and "calc.py" in lines[0]["context"]
    assert lines[2]["final"] is True and lines[1]["code"].startswith("print(run_cmd(")


def test_a_killed_run_keeps_its_step_and_token_counts(tmp_path):
    run = tmp_path / "runs" / "20260101-000000-dead"
    run.mkdir(parents=True)
    (run / "metadata.json").write_text(json.dumps({"run_id": run.name, "task": "t", "outcome": "running",
                                                   "repo": str(tmp_path), "previous_run": None}))
    (run / ".running").write_text("999999")  # no such process: killed
    lines = [{"type": "task", "task": "t", "context": None}]
    lines += [{"type": "step", "step": n, "model_output": "m", "code": "c", "observation": "o", "error": None,
               "tokens_in": 100 * n, "tokens_out": n} for n in (1, 2, 3)]
    (run / "steps.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"type": "st')
    meta = load_run(run)
    assert meta["outcome"] == "killed" and meta["steps"] == 3
    assert meta["tokens"] == {"input": 600, "output": 6}
    conversation = load_conversation(tmp_path / "runs", run, tmp_path)
    assert conversation.steps == 3 and conversation.tasks == 1


def test_what_cannot_be_resumed_is_said(tmp_path):
    runs = tmp_path / "runs"
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT).resolve()
    with pytest.raises(ResumeError, match="no earlier run in .* to continue"):
        pick_run(runs, repo)
    session = new_session(repo, tmp_path, [step("d", 'final_answer("x")')] * 2, "r")
    try:
        session.run("one")
        first_id = session.last_run.dir.name
        session.reset()
        session.run("two")
    finally:
        session.close()
    # Two runs in one second: their ids sort by a random suffix, not by time.
    ids = [first_id] + [p.name for p in runs.iterdir() if p.name != first_id]
    with pytest.raises(ResumeError, match="no run matches 'nope'"):
        pick_run(runs, repo, "nope")
    for crafted in ("../runs/" + ids[0], "*", ids[0] + "/..", ".."):  # only names inside RUNS_DIR
        with pytest.raises(ResumeError, match="no run matches"):
            pick_run(runs, repo, crafted)
    with pytest.raises(ResumeError, match="matches 2 runs"):
        pick_run(runs, repo, ids[0][:4])
    other = make_repo(tmp_path / "other", BUGGY_PROJECT).resolve()
    with pytest.raises(ResumeError, match=f"worked on {repo}, not on {other}: resume it there"):
        load_conversation(runs, runs / ids[0], other)
    (runs / ids[0] / "steps.jsonl").unlink()  # a run recorded before steps were kept
    with pytest.raises(ResumeError, match="before runs kept their steps"):
        load_conversation(runs, runs / ids[0], repo)
    # After /reset the second task is a conversation of its own: resuming it brings only it back.
    latest = load_conversation(runs, pick_run(runs, repo), repo)
    assert latest.tasks == 1 and latest.last_task == "two"


def test_switching_models_keeps_the_conversation(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    session = new_session(repo, tmp_path, [step("a", 'final_answer("first answer")')], "one")
    other = write_replay(tmp_path / "two.json", [step("b", 'final_answer("second answer")')])
    try:
        session.run("first task")
        with pytest.raises(Exception, match="does not exist"):
            session.switch_model(f"replay:{tmp_path / 'missing.json'}")
        assert session.model_label.endswith("one.json"), "a model that cannot be opened leaves the current one"
        session.switch_model(f"replay:{other}")
        assert session.run("second task").answer == "second answer"
        sent = texts(session.model.requests[0])
    finally:
        session.close()
    assert any("first task" in text for _, text in sent) and any("first answer" in text for _, text in sent)


def test_compact_now_shortens_older_steps_and_the_prefix_is_stable_after(tmp_path):
    big = "".join(f"line {i}: " + "lorem ipsum " * 6 + "\n" for i in range(2000))
    repo = make_repo(tmp_path / "p", {"big.txt": big})
    replies = [step(f"Read {n}.", f'print(read_file(path="big.txt", start_line={n * 100 + 1}, end_line={n * 100 + 60}))')
               for n in range(6)] + [step("Done.", 'final_answer("read")'), step("Again.", 'final_answer("again")')]
    session = new_session(repo, tmp_path, replies, "r")
    try:
        session.run("read big.txt")
        used, window = session.context_used()
        before, after = session.compact()
        assert before == used and after < before * 0.8, (before, after)
        assert session.context_used()[0] == after
        assert session.run("and again?").answer == "again"
        request = texts(session.model.requests[-1])
    finally:
        session.close()
    assert any("lines of this observation were dropped" in text for _, text in request)


def test_a_long_conversation_keeps_every_llm_span_whole(tmp_path, caplog):
    """A 40-step conversation (what --continue picks up) is traced like a short one: each LLM span
    keeps its kind, what was sent and its token counts, and nothing is dropped with a warning."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replies = [step(f"Look {n}.", f"print({n})") for n in range(39)] + [step("Done.", 'final_answer("looked")')]
    session = new_session(repo, tmp_path, replies, "long", AGENT_MAX_STEPS="45")
    try:
        assert session.run("look around").status == "answered"
    finally:
        session.close()
    [run] = list((tmp_path / "runs").iterdir())
    spans = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
    llm = [s for s in spans if s["name"].startswith("llm")]
    assert len(llm) == 40
    assert all(s["kind"] == "LLM" and "input.value" in s["attributes"] for s in llm), \
        [n for n, s in enumerate(llm, 1) if s["kind"] != "LLM"]
    assert "Attributes dict is full" not in caplog.text
