"""Work that lasts, as a person meets it on a real terminal: a REPL session (two tasks, /diff,
/undo twice, /model, /trace), then `agent-runtime --continue` with a task that refers to the
first one; a run killed with SIGKILL mid-step, counted and resumed; `trace last`; `runs`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import BUGGY_PROJECT, VENV_BIN, flat, json_lines, make_repo, run_cli, step, write_replay
from terminal import Terminal

REFUSAL = "do not push, I review first"
REPL_REPLIES = [
    step("Fix add.", 'p = propose_patch(path="calc.py", old="return a - b", new="return a + b")\n'
                     'print(apply_patch(patch_id=p["patch_id"]))'),
    step("Report.", 'final_answer("fixed add() with p1")'),
    step("Document it.", 'p = propose_patch(path="README.md", old="A tiny calculator.", '
                         'new="A tiny calculator that adds.")\nprint(apply_patch(patch_id=p["patch_id"]))'),
    step("Push.", 'print(run_cmd(command="git push --force"))'),
    step("Report.", 'final_answer("README updated with p2; the push was refused")'),
]


def llm_inputs(run_dir: Path) -> list[str]:
    """What the model was sent in each request of a run (the LLM spans' input messages)."""
    inputs = []
    for line in (run_dir / "trace.jsonl").read_text().splitlines():
        span = json.loads(line)
        if span["kind"] == "LLM":
            messages = json.loads(span["attributes"]["input.value"])["messages"]
            inputs.append("\n".join(f"<{m['role']}> {m['content']}" for m in messages))
    return inputs


def read_after(term: Terminal, mark: int, text: str, timeout: float = 30) -> str:
    """Wait for `text` in what the terminal showed after `mark`; return that part."""
    deadline = time.monotonic() + timeout
    while text not in term.output[mark:]:
        if time.monotonic() > deadline:
            raise AssertionError(f"did not see {text!r} in:\n{term.output[mark:][-3000:]}")
        _pump(term)
    return term.output[mark:]


def _pump(term: Terminal) -> None:
    import select

    ready, _, _ = select.select([term.master], [], [], 0.2)
    if ready:
        term.output += term._decoder.decode(os.read(term.master, 65536))


def newest_run(runs: Path) -> Path:
    from agent_runtime.telemetry.records import run_order

    return max(runs.iterdir(), key=run_order)


def test_a_repl_session_then_continue_in_a_new_process(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    runs = tmp_path / "runs"
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200", "RUNS_DIR": str(runs)}
    replay = write_replay(tmp_path / "repl.json", REPL_REPLIES)
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}"], repo, env)
    term.read_until("› ", timeout=30)
    term.type("fix add in calc.py\n")
    term.read_until("this patch?", timeout=120)
    term.type("y\n")
    term.read_until_after("fixed add() with p1", "› ", timeout=60)
    term.type("document it in the README\n")
    term.read_until_after("apply_patch p2", "this patch?", timeout=60)
    term.type("y\n")
    term.read_until_after("wants to run", "this command?", timeout=60)
    term.type("m\n")
    term.read_until("Message to the model:", timeout=30)
    term.type(REFUSAL + "\n")
    term.read_until_after("README updated with p2", "› ", timeout=60)

    mark = len(term.output)
    term.type("/diff\n")
    shown = flat(read_after(term, mark, "git diff` shows what is on disk now"))
    assert "modified calc.py +1 -1" in shown and "modified README.md +1 -1" in shown
    assert "+ return a + b" in shown and "+A tiny calculator that adds." in shown and "-A tiny calculator." in shown

    term.type("/undo\n")
    term.read_until("Undid patch p2: restored README.md", timeout=30)
    term.type("/undo\n")
    term.read_until("Undid patch p1: restored calc.py", timeout=30)
    assert (repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"]
    assert (repo / "README.md").read_text() == BUGGY_PROJECT["README.md"]
    term.type("/diff\n")
    term.read_until("No changes by the agent in this session (the ones applied were undone).", timeout=30)

    mark = len(term.output)
    term.type("/model\n")
    shown = flat(read_after(term, mark, "any LiteLLM id"))
    assert f"model: replay:{replay}" in shown and "embedded:0.5b" in shown and "replay:FILE" in shown
    assert f"replay:{replay} --model" in shown, "the choice is named by where it came from, not MODEL_ID"

    mark = len(term.output)
    term.type("/trace\n")
    shown = flat(read_after(term, mark, f"files: {runs}"))
    assert "[TOOL] run_cmd git push --force" in shown and f'approval denied (user): "{REFUSAL}"' in shown
    assert "[TOOL] apply_patch p2" in shown and "approval approved (user)" in shown

    term.type("/stauts\n")
    term.read_until("unknown command /stauts; did you mean /status?", timeout=30)
    term.type("/exit\n")
    assert term.wait() == 0, term.output[-2000:]

    # A new process goes on with the conversation.
    third = write_replay(tmp_path / "third.json", [step("I remember.", 'final_answer("the first task fixed add()")')])
    done = run_cli("--continue", "--approval", "never", "--model", f"replay:{third}",
                   "what did the first task change?", cwd=repo, env={"RUNS_DIR": str(runs)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "the first task fixed add()"
    assert "Continuing run" in done.stderr and "2 tasks, 5 steps over 2 runs" in flat(done.stderr)
    run_dir = newest_run(runs)
    meta = json.loads((run_dir / "metadata.json").read_text())
    sent = llm_inputs(run_dir)[0]
    assert "New task:\nfix add in calc.py" in sent and "fixed add() with p1" in sent, "the first task is there"
    assert "document it in the README" in sent and REFUSAL in sent
    assert sent.index("fix add in calc.py") < sent.index("document it") < sent.index("what did the first task")
    assert "(Since the last task: patch p1, p2 were undone" in sent, "the model hears of the undos"
    assert meta["previous_run"] and meta["conversation"] != run_dir.name

    listing = run_cli("runs", cwd=repo, env={"RUNS_DIR": str(runs)})
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["RUN", "STARTED", "OUTCOME", "STEPS", "TOKENS", "REPO", "TASK"]
    assert len(lines) == 4 and "what did the first task change?" in lines[1]
    as_json = json_lines(run_cli("runs", "--json", cwd=repo, env={"RUNS_DIR": str(runs)}).stdout)
    assert [r["steps"] for r in as_json] == [1, 3, 2]
    last = run_cli("trace", "last", cwd=repo, env={"RUNS_DIR": str(runs)})
    assert last.returncode == 0 and f"run {run_dir.name}" in last.stdout
    assert "continues run" in last.stdout


def test_a_killed_run_keeps_its_steps_and_is_resumed_with_them(tmp_path):
    # The task is not put as a question: a question's tools only read, and its third step runs a command.
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    runs = tmp_path / "runs"
    replay = write_replay(tmp_path / "slow.json", [
        step("Read the code.", 'print(read_file(path="calc.py"))'),
        step("Search.", 'print(rg_search(pattern="def add"))'),
        step("Wait for the slow test.", 'print(run_cmd(command="sleep 30", timeout=60))'),
        step("never reached", 'final_answer("no")'),
    ])
    proc = subprocess.Popen([str(VENV_BIN / "agent-runtime"), "--json", "--approval", "auto", "--model",
                             f"replay:{replay}", "read calc.py and search for add"], cwd=repo,
                            env={**os.environ, "RUNS_DIR": str(runs)}, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    events = []
    try:
        for line in proc.stdout:
            events.append(json.loads(line))
            if events[-1]["type"] == "tool_call" or (events[-1]["type"] == "model_reply" and events[-1]["step"] == 3):
                if events[-1]["type"] == "model_reply":
                    break
        time.sleep(1.0)  # the sleep is running
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    run_id = events[0]["run_id"]
    killed = json_lines(run_cli("runs", "--json", cwd=repo, env={"RUNS_DIR": str(runs)}).stdout)[0]
    assert killed["run_id"] == run_id and killed["outcome"] == "killed"
    assert killed["steps"] == 2, "the two steps that ended are counted"
    listing = run_cli("runs", cwd=repo, env={"RUNS_DIR": str(runs)}).stdout.splitlines()[1]
    assert "killed" in listing and listing.split()[4] == "2"
    shown = run_cli("trace", run_id, cwd=repo, env={"RUNS_DIR": str(runs)})
    assert "the run was killed" in shown.stdout and "[TOOL] rg_search \"def add\"" in shown.stdout

    resumed = write_replay(tmp_path / "resume.json", [step("Go on.", 'final_answer("add subtracts")')])
    done = run_cli("--json", "--resume", run_id[-9:], "--model", f"replay:{resumed}", "go on", cwd=repo,
                   env={"RUNS_DIR": str(runs)})
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout.splitlines()[0])
    assert first["type"] == "resumed" and first["run_id"] == run_id and first["steps"] == 2 and first["tasks"] == 1
    sent = llm_inputs(newest_run(runs))[0]
    assert "read calc.py and search for add" in sent and 'print(rg_search(pattern="def add"))' in sent
    assert "Wait for the slow test" not in sent, "the step that was cut off never ended"


def test_continue_without_a_task_opens_the_repl_with_the_conversation(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    runs = tmp_path / "runs"
    first = write_replay(tmp_path / "1.json", [step("Answer.", 'final_answer("add() subtracts")')])
    assert run_cli("--model", f"replay:{first}", "what is wrong with @calc.py?", cwd=repo,
                   env={"RUNS_DIR": str(runs)}).returncode == 0
    second = write_replay(tmp_path / "2.json", [step("Recall.", 'final_answer("I said add() subtracts")'),
                                               step("Fresh.", 'final_answer("a new conversation")')])
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200", "RUNS_DIR": str(runs)}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--continue", "--model", f"replay:{second}"], repo, env)
    term.read_until("› ", timeout=60)
    assert 'Continuing run' in term.output and '1 task, 1 step; last task: "what is wrong with @calc.py?"' in \
        flat(term.output)
    mark = len(term.output)
    term.type("/status\n")
    shown = flat(read_after(term, mark, "repo "))
    assert "conversation 1 task(s), 1 step(s)" in shown
    term.type("what did you say?\n")
    term.read_until_after("I said add() subtracts", "› ", timeout=60)
    sent = llm_inputs(newest_run(runs))[0]
    assert "what is wrong with @calc.py?\n\nAttached file calc.py" in sent and "add() subtracts" in sent
    # /resume RUN_ID takes up another conversation in the same REPL; a wrong id is said.
    term.type("/resume nosuchrun\n")
    term.read_until("no run matches 'nosuchrun'", timeout=30)
    term.type("/reset\n")
    term.read_until("forgotten", timeout=30)
    term.type("start over\n")
    term.read_until_after("a new conversation", "› ", timeout=60)
    assert "what is wrong" not in llm_inputs(newest_run(runs))[0], "after /reset the conversation is new"
    term.type("/exit\n")
    assert term.wait() == 0
