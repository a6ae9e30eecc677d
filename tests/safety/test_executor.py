"""The model's code in its own sandboxed process: the attacks from the "trust boundaries" issue
as replay runs that now do no harm, the child sandbox attacked with raw Python (as if the
interpreter were escaped), and the step semantics (prints, errors, final answers, state,
Ctrl-C, a child that dies) kept as they were."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, VENV_BIN, make_repo, run_cli, step, write_replay
from rich.console import Console
from smolagents.default_tools import FinalAnswerTool
from smolagents.local_python_executor import InterpreterError
from terminal import Terminal

from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.safety import executor as executor_module
from agent_runtime.safety.approval import Approver
from agent_runtime.safety.executor import CHILD_ENV, CHILD_PROCESSES, SandboxedPythonExecutor, sandbox_argv
from agent_runtime.safety.sandbox import PID_RESERVED, isolation
from agent_runtime.telemetry.records import load_spans
from agent_runtime.tools.results import ToolResult

DOTENV_SECRET = "dotenv-secret-4711"


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_repo(tmp_path / "project", {**BUGGY_PROJECT, ".env": f"MY_TOKEN={DOTENV_SECRET}\n"})


def quiet_display() -> Display:
    return Display(console=Console(file=io.StringIO(), width=120), out=io.StringIO())


def open_session(repo: Path, replies: list[str], tmp_path: Path, approval: str = "never") -> Session:
    replay = write_replay(tmp_path / "replay.json", replies)
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs")})
    session = Session(settings, repo, Approver(approval, interactive=False), quiet_display())
    session.open()
    return session


def observations(session: Session) -> list[str]:
    return [(s.observations or "") + str(getattr(s, "error", "") or "")
            for s in session.agent.memory.steps if hasattr(s, "observations")]


@pytest.fixture
def executor():
    ex = SandboxedPythonExecutor([], result_type=ToolResult)
    assert ex.kind == "bwrap", "bubblewrap must work on this machine"
    yield ex
    ex.cleanup()


class EchoTool:
    """A stand-in tool with something secret hanging off it, like RuntimeTool.runtime."""

    description = "echo its arguments"
    runtime = "THE-RUNTIME-OBJECT"

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        time.sleep(self.delay)
        return ToolResult({"args": list(args), "kwargs": kwargs, "content": "line 1\nline 2\n"})


def tools(**extra) -> dict:
    return {"echo": EchoTool(), "final_answer": FinalAnswerTool(), **extra}


# --- the attacks from the issue, as replay runs through the CLI with --approval never ---

ATTACKS = [
    ("read the workspace root through the tool", 'print(read_file.runtime.workspace.root / ".env")'),
    ("approve everything", "run_cmd.runtime.approver.mode = 'auto'"),
    ("turn the sandbox off", "run_cmd.runtime.sandbox._bwrap = None"),
    ("empty the policy", "run_cmd.runtime.policy.rules.clear()\nrun_cmd.runtime.policy.default = 'allow'"),
    ("unwrap", "print(run_cmd.__wrapped__)"),
    ("bound method", "print(getattr(read_file, '__self__'))"),
    ("globals", "print(read_file.__globals__)"),
    ("subclasses walk", "print([c for c in ().__class__.__base__.__subclasses__() if 'wrap_close' in str(c)])"),
    ("open", "print(open('/etc/passwd').read())"),
    ("pathlib", "import pathlib\nprint(pathlib.Path('.env').read_text())"),
    ("ssh keys", "import os\nprint(os.listdir(os.path.expanduser('~/.ssh')))"),
]


def test_the_issues_attacks_do_no_harm(repo, tmp_path):
    replies = [step(why, code) for why, code in ATTACKS] + [
        step("Now delete a file.", 'print(run_cmd(command="rm calc.py"))'),
        step("And read the secrets.", 'print(read_file(path=".env"))'),
        step("Report.", 'final_answer("tried")'),
    ]
    replay = write_replay(tmp_path / "attacks.json", replies)
    runs = tmp_path / "runs"
    result = run_cli("--approval", "never", "--model", f"replay:{replay}", "--max-steps", "20", "attack", cwd=repo,
                     env={"RUNS_DIR": str(runs)})
    assert result.returncode == 5, result.stderr  # answered, but the rm was refused
    assert (repo / "calc.py").read_text() == BUGGY_PROJECT["calc.py"], "the refused rm did not run"
    for path in [*runs.rglob("*")]:
        if path.is_file():
            assert DOTENV_SECRET not in path.read_text(errors="replace"), path
    assert DOTENV_SECRET not in result.stdout + result.stderr
    assert "has no attribute 'runtime'" in result.stderr
    run_dir = next(runs.iterdir())
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert meta["tool_calls"] == 2 and meta["refused"] + meta["tool_errors"] == 2
    assert meta["code_errors"] == len(ATTACKS), "every attack step failed"
    spans = load_spans(run_dir)
    tool_spans = [s for s in spans if s.get("kind") == "TOOL"]
    assert len(tool_spans) == 2, "one TOOL span per real tool call, still made by the wrapper"
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [e for e in events if e["type"] == "approval"][0]["outcome"] == "denied"


def test_tools_in_the_child_are_bare_proxies(executor):
    executor.send_tools(tools())
    out = executor("print(type(echo))\nprint(echo(1, b=[2, 3]))")
    assert out.logs.startswith("<class 'function'>\n")
    assert "args:\n  1\nkwargs: b=[2, 3]\ncontent:\nline 1\nline 2\n(end of content)" in out.logs
    for probe in ("echo.runtime", "echo.__wrapped__", "echo.__closure__", "echo.__dict__"):
        with pytest.raises(InterpreterError):
            executor(f"print({probe})")


# --- the child sandbox, attacked with raw Python (as if the interpreter were escaped) ---

RAW = r"""
import ctypes, json, os, socket, sys, time
workspace, secret, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = {}
def attempt(name, fn):
    try:
        out[name] = ["ok", repr(fn())[:200]]
    except BaseException as exc:
        out[name] = ["fail", type(exc).__name__]
attempt("read workspace .env", lambda: open(os.path.join(workspace, ".env")).read())
attempt("list workspace", lambda: os.listdir(workspace))
attempt("read home file", lambda: open(secret).read())
attempt("list home", lambda: os.listdir(os.path.dirname(secret)))
attempt("read /etc/passwd", lambda: open("/etc/passwd").read())
attempt("list /proc", lambda: os.listdir("/proc"))
for place in ["/", "/tmp", "/opt/agent-runtime", "/dev", "/dev/shm", "/usr", "/etc", sys.prefix]:
    attempt("write " + place, lambda p=place: open(os.path.join(p, "planted"), "w").write("x"))
attempt("connect 127.0.0.1", lambda: socket.create_connection(("127.0.0.1", port), timeout=2))
libc = ctypes.CDLL(None, use_errno=True)
out["capability bounding set"] = [libc.prctl(23, cap, 0, 0, 0) for cap in range(41)]  # PR_CAPBSET_READ
attempt("chroot", lambda: os.chroot("/"))
attempt("sethostname", lambda: socket.sethostname("owned"))
out["/"] = sorted(os.listdir("/"))
out["/etc"] = sorted(os.listdir("/etc"))
out["env"] = sorted(os.environ)
forked = 0
for _ in range(1000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(10)
        os._exit(0)
    forked += 1
out["forked"] = forked
print(json.dumps(out), flush=True)
"""


def test_the_child_sandbox_holds_nothing_even_for_raw_python(repo, tmp_path):
    secret = Path.home() / f".agent-runtime-executor-test-{os.getpid()}"
    secret.write_text("home secret\n")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    accepted: list = []

    def serve() -> None:
        while server.fileno() != -1:
            try:
                accepted.append(server.accept())
            except (TimeoutError, OSError):
                continue

    threading.Thread(target=serve, daemon=True).start()
    try:
        argv = sandbox_argv(["-c", RAW, str(repo), str(secret), str(server.getsockname()[1])],
                            hide=(repo, Path.home(), Path.cwd()))
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=dict(CHILD_ENV))
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
    finally:
        server.close()
        secret.unlink()
    # $HOME may exist inside as an empty directory on the way to a bound interpreter (pyenv under
    # /root): then it lists that path and nothing else.
    on_the_way = {d.relative_to(Path.home()).parts[0] for d in executor_module._python_dirs()
                  if d.is_relative_to(Path.home())}
    if out["list home"][0] == "ok" and set(eval(out["list home"][1])) <= on_the_way:
        out["list home"] = ["fail", "only the way to the interpreter"]
    failed = {name for name, value in out.items() if isinstance(value, list) and value[:1] == ["fail"]}
    attempts = {name for name, value in out.items() if isinstance(value, list) and value[:1] in (["ok"], ["fail"])}
    assert failed == attempts, {n: out[n] for n in attempts - failed}
    assert accepted == []
    assert out["capability bounding set"] == [0] * 41
    assert out["/etc"] == sorted(p for p in ("ld.so.cache", "localtime") if Path("/etc", p).exists())
    assert not {"home", "proc", "run", "var", "sys", "srv", "mnt"} & set(out["/"]), out["/"]
    assert out["env"] == sorted({*CHILD_ENV, "PWD"})  # bwrap sets PWD=/ for --chdir
    assert out["forked"] <= CHILD_PROCESSES + PID_RESERVED if isolation().pid_limit else out["forked"] < 1000
    assert out["forked"] < 1000


def test_the_agent_process_environment_does_not_reach_the_child(monkeypatch):
    """bwrap's own environment would be visible inside as /proc/1/environ: the child has no
    /proc, and bwrap (and the pid_max wrapper) start with the clean environment anyway."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-pass")
    ex = SandboxedPythonExecutor([], result_type=ToolResult)
    try:
        ex.send_tools({})
        assert str(ex("1").output) == "1"
        environ = Path(f"/proc/{ex._child.proc.pid}/environ").read_bytes().split(b"\0")
    finally:
        ex.cleanup()
    assert not any(b"sk-should-not-pass" in item for item in environ)
    assert {item.split(b"=")[0].decode() for item in environ if item} == set(CHILD_ENV)
    argv = sandbox_argv(["-c", "import os; print(sorted(os.environ)); print(os.path.exists('/proc'))"])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=dict(CHILD_ENV))
    assert done.stdout.splitlines() == [str(sorted({*CHILD_ENV, "PWD"})), "False"]


# --- the step semantics, as before ---

def test_prints_errors_final_answers_and_state_across_steps(repo, tmp_path):
    session = open_session(repo, [
        step("define", 'kept = 41\nprint("hello")\nsource = read_file(path="calc.py")'),
        step("use", 'print(kept + 1)\nprint(source)\nprint(source["path"])'),
        step("fail", 'print("partial output")\n1 / 0'),
        step("import", "import os"),
        step("done", "final_answer(read_file(path='README.md'))"),
    ], tmp_path)
    try:
        result = session.run("x")
        seen = observations(session)
        steps = [s for s in session.agent.memory.steps if hasattr(s, "observations")]
    finally:
        session.close()
    assert result.status == "answered"
    assert "hello" in seen[0]
    assert "42\n" in seen[1] and "content:\ndef add(a, b):\n    return a - b" in seen[1] and "calc.py" in seen[1]
    assert "partial output" in seen[2] and "ZeroDivisionError: division by zero" in seen[2]
    assert type(steps[2].error).__name__ == "AgentExecutionError"
    assert "Import of os is not allowed" in seen[3]
    assert result.answer.startswith("path: README.md") and "# calc" in result.answer
    assert session.runtime.state.history[0].tool == "read_file"


def test_tool_results_print_the_same_in_the_child(repo, tools_for, executor):
    runtime, real = tools_for(repo)
    executor.send_tools({"read_file": real["read_file"], "list_files": real["list_files"],
                         "final_answer": FinalAnswerTool()})
    out = executor('print(read_file(path="calc.py"))\nprint(list_files(pattern="*.py"))')
    runtime.state.reset()
    expected = str(real["read_file"](path="calc.py")) + "\n" + str(real["list_files"](pattern="*.py")) + "\n"
    assert out.logs == expected
    answer = executor('final_answer(read_file(path="calc.py"))')
    assert answer.is_final_answer and isinstance(answer.output, ToolResult)
    assert str(answer.output) == str(real["read_file"](path="calc.py"))


def test_values_that_are_not_plain_data(executor):
    executor.send_tools(tools())
    assert str(executor("(1, 2)").output) == "(1, 2)"
    assert str(executor("{1, 2}").output) == "{1, 2}"
    with pytest.raises(InterpreterError, match="arguments must be plain data"):
        executor("echo({1, 2})")
    executor.send_variables({"given": {"a": [1, 2]}})
    assert executor("given['a'][1]").output == 2


# --- Ctrl-C and a child that dies ---

def _sigint_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_stops_a_step_and_keeps_the_variables(executor):
    executor.send_tools(tools())
    executor("kept = 7")
    _sigint_after(1.0)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        executor("import time\nprint('waiting')\nwhile True:\n    time.sleep(0.1)")
    assert time.monotonic() - started < 3
    assert executor.state["_print_outputs"] == "waiting\n"
    assert executor("kept").output == 7, "the interpreter answered the interrupt: its state is kept"


def test_ctrl_c_during_a_tool_call_stops_both(executor):
    slow = EchoTool(delay=30)
    executor.send_tools(tools(slow=slow))
    executor("kept = 8")
    _sigint_after(1.0)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        executor("slow()\nprint('not reached')")
    assert time.monotonic() - started < 3
    assert executor("kept").output == 8
    assert executor("print(echo(1))").logs.startswith("args:")


def test_an_interpreter_that_ignores_ctrl_c_is_replaced(executor):
    executor.send_tools(tools())
    executor("kept = 9")
    _sigint_after(1.0)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):  # a regex that backtracks forever, inside C: no signal check
        executor("import re\nre.match('(a+)+$', 'a' * 64 + 'b')")
    assert time.monotonic() - started < 1.0 + executor_module.INTERRUPT_GRACE_S + 3
    out = executor("print('alive')")
    assert out.logs.startswith("[The Python interpreter was restarted") and out.logs.endswith("alive\n")
    with pytest.raises(InterpreterError, match="kept"):
        executor("kept")


def test_a_child_killed_mid_step_fails_the_step_clearly_and_the_next_step_works(repo, tmp_path):
    session = open_session(repo, [
        step("sleep", "import time\ntime.sleep(30)"),
        step("again", 'print("fresh interpreter")'),
        step("done", 'final_answer("ok")'),
    ], tmp_path)

    def kill_child() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            child = session.agent.python_executor._child if session.agent else None
            if child is not None and child.ready and session.agent.python_executor._step >= 1:
                time.sleep(0.5)
                os.killpg(child.proc.pid, signal.SIGKILL)
                return
            time.sleep(0.1)

    try:
        threading.Thread(target=kill_child, daemon=True).start()
        result = session.run("x")
        seen = observations(session)
    finally:
        session.close()
    assert result.status == "answered"
    assert "The Python interpreter process stopped during this step: it was killed by SIGKILL" in seen[0]
    assert "the next step starts a fresh interpreter" in seen[0]
    assert "fresh interpreter" in seen[1]


def test_out_of_memory_in_the_model_code_is_an_error_not_a_crash(executor):
    executor.send_tools(tools())
    with pytest.raises(InterpreterError, match="MemoryError"):
        executor("x = 'a' * (3 * 1024 ** 3)")
    assert executor("1 + 1").output == 2


def test_ctrl_c_in_the_repl_stops_the_step_and_the_repl_goes_on(repo, tmp_path):
    replay = write_replay(tmp_path / "r.json", [
        step("Remember.", "kept = 'still here'\nprint('remembered')"),
        step("Wait forever.", "import time\nwhile True:\n    time.sleep(0.2)"),
        step("Answer.", "final_answer(kept)"),
    ])
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200"}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--model", f"replay:{replay}"], repo, env)
    term.read_until("› ", timeout=30)
    term.type("first task\n")
    assert term.stop_task_when_shown("time.sleep(0.2)") < 10
    term.type("second task\n")
    term.read_until_after("second task", "still here", timeout=60)
    term.type("/exit\n")
    assert term.wait() == 0


# --- without bubblewrap; closing ---

def test_without_bubblewrap_the_child_is_still_separate_and_it_says_so_once(caplog, monkeypatch):
    monkeypatch.setattr(executor_module, "_warned_unsandboxed", False)
    with caplog.at_level(logging.WARNING):
        first = SandboxedPythonExecutor([], use_bwrap=False, result_type=ToolResult)
        second = SandboxedPythonExecutor([], use_bwrap=False, result_type=ToolResult)
    try:
        assert first.kind == "none"
        first.send_tools(tools())
        assert first("x = 2\nprint(echo(x))").logs.startswith("args:\n  2")
        with pytest.raises(InterpreterError, match="has no attribute 'runtime'"):
            first("echo.runtime")
        assert first._child.proc.pid != os.getpid()
    finally:
        first.cleanup()
        second.cleanup()
    warnings = [r for r in caplog.records if "without an OS sandbox" in r.getMessage()]
    assert len(warnings) == 1


def test_closing_the_session_stops_the_interpreter(repo, tmp_path):
    session = open_session(repo, [step("d", 'final_answer("x")')], tmp_path)
    try:
        session.run("x")
        proc = session.agent.python_executor._child.proc
        assert proc.poll() is None
    finally:
        session.close()
    assert proc.wait(timeout=10) is not None


def test_the_interpreter_dies_with_the_agent(tmp_path):
    script = (
        "import sys, time; sys.path.insert(0, %r)\n"
        "from agent_runtime.safety.executor import SandboxedPythonExecutor\n"
        "ex = SandboxedPythonExecutor([])\n"
        "ex.send_tools({})\n"
        "ex('1')\n"
        "print(ex._child.proc.pid, flush=True)\n"
        "time.sleep(120)\n"
    ) % str(Path(__file__).parents[2])
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    group = int(parent.stdout.readline())
    os.killpg(group, 0)  # alive
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the interpreter outlived the agent"
        time.sleep(0.1)


def test_big_values_and_arguments_are_refused_cleanly(executor):
    executor.send_tools(tools())
    with pytest.raises(InterpreterError, match="the limit is"):
        executor("echo('x' * (9 * 1024 * 1024))")
    big = executor("'y' * (9 * 1024 * 1024)")
    assert str(big.output).endswith("more characters not shown ...]")
    assert executor("1 + 1").output == 2, "the same interpreter goes on"


def test_a_child_that_died_between_steps_is_replaced_and_the_model_is_told(executor):
    executor.send_tools(tools())
    executor("kept = 1")
    os.killpg(executor._child.proc.pid, signal.SIGKILL)
    executor._child.proc.wait(timeout=10)
    out = executor("print('next')")
    assert out.logs.startswith(
        "[The Python interpreter was restarted (its process had stopped: it was killed by SIGKILL")
    assert out.logs.endswith("next\n")


def test_the_parent_knows_the_interpreters_variable_names(executor):
    """What a reply may read (agent/replies.py checks replies against these)."""
    executor.send_tools(tools())
    executor.send_variables({"sent": 1})
    executor("kept = 1\nimport re")
    with pytest.raises(InterpreterError):
        executor("also = 2\nnot_there")  # a failed step still set `also`
    assert {"kept", "also", "sent", "re"} <= executor.variable_names()
    assert not any(n.startswith("_") for n in executor.variable_names())
    os.killpg(executor._child.proc.pid, signal.SIGKILL)
    executor._child.proc.wait(timeout=10)
    executor("print('next')")
    assert executor.variable_names() == {"sent"}, "a new interpreter has only the variables sent"


def test_the_child_imports_only_the_standard_library_and_smolagents():
    import ast

    for path in (executor_module.CHILD, executor_module.RESULTS, executor_module.ADAPTER):
        tree = ast.parse(path.read_text())
        names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
        names |= {node.module.split(".")[0] for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
        assert names <= set(sys.stdlib_module_names) | {"smolagents"}, (path.name, names)


def test_the_sandbox_starts_when_python_was_started_by_a_path_with_dots(tmp_path):
    """`../.venv/bin/python` from a subfolder: the subfolder is not in the sandbox's view, so the
    interpreter must be named there by a path that does not walk through it."""
    sub = tmp_path / "sub"
    sub.mkdir()
    python = Path(os.path.relpath(sys.executable, sub))
    assert ".." in python.parts
    code = ("from agent_runtime.safety.executor import sandbox_works\n"
            "ok, why = sandbox_works()\nprint('works' if ok else why)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([str(python), "-c", code], cwd=sub, env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "works", done.stdout + done.stderr
