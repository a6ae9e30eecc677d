"""The models file's `concurrency = N` (models/slots.py): at most N requests at once to one model,
across processes. Holders are real processes (a slot is a flock: the kernel is what is tested); the
waits are synchronised on what the processes write, never on how fast they run (every bound below
is a generous deadline against a hang, not a measure of speed)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT, VENV_BIN, make_repo, step

from agent_runtime.models.slots import NOTICE_AFTER_S, ModelSlots, limit_requests, queue_waits

MODEL = "openai/fake-coder"
BASE = "http://127.0.0.1:9/v1"  # never contacted: the slots' identity only
DEADLINE = 300.0  # seconds: a hang fails the test, a loaded machine does not (a CLI's start took 60+ s at nice 19)

# A process that takes one slot, says so, keeps it until told to let go, and says when it does
# (under the lock). Interrupted while waiting, it writes which slot files it still has open.
HOLDER = r"""
import json, os, sys, time
from pathlib import Path
from agent_runtime.models.slots import ModelSlots

model_id, api_base, concurrency, out, name = sys.argv[1:]
out = Path(out)
slots = ModelSlots(model_id, api_base, int(concurrency))

def say(what, text):  # whole or not at all: the test reads it the moment it appears
    (out / f"{name}.{what}.tmp").write_text(text)
    os.replace(out / f"{name}.{what}.tmp", out / f"{name}.{what}")

try:
    with slots.hold(lambda message: say("waiting", message)):
        say("holding", repr(time.time()))
        deadline = time.monotonic() + 1800  # a safety net only: the test tells it when
        while not (out / f"{name}.release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        say("released", repr(time.time()))
except KeyboardInterrupt:
    fds = os.listdir("/proc/self/fd")
    links = [os.readlink(f"/proc/self/fd/{fd}") for fd in fds if os.path.exists(f"/proc/self/fd/{fd}")]
    say("interrupted", json.dumps([link for link in links if "/slots/" in link]))
    sys.exit(130)
"""


_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_process_left():
    """A test that fails half-way leaves none of its processes running."""
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout, whatever the venv has installed


def holder(out: Path, name: str, concurrency: int = 1, model: str = MODEL, base: str = BASE) -> subprocess.Popen:
    out.mkdir(exist_ok=True)
    process = subprocess.Popen([sys.executable, "-c", HOLDER, model, base, str(concurrency), str(out), name],
                               env=env(), stderr=subprocess.PIPE, text=True)
    _started.append(process)
    return process


def wait_for(path: Path, process: subprocess.Popen | None = None) -> str:
    deadline = time.monotonic() + DEADLINE
    while not path.exists():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{process.args[:3]} ended ({process.returncode}) before {path.name}: "
                                 f"{process.stderr.read() if process.stderr else ''}")
        assert time.monotonic() < deadline, f"{path.name} never came"
        time.sleep(0.02)
    return path.read_text()


def finish(process: subprocess.Popen) -> int:
    try:
        return process.wait(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()


def taken(model: str = MODEL, base: str = BASE, concurrency: int = 1) -> bool:
    """Every slot of the model is held by someone (a look from here that takes nothing)."""
    for path in ModelSlots(model, base, concurrency).paths:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False  # free (closing the descriptor lets it go again)
        except BlockingIOError:
            continue
        finally:
            os.close(fd)
    return True


def open_slot_files() -> list[str]:
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return [link for link in links if "/slots/" in link]


# --- between processes ---


def test_a_second_process_waits_until_the_first_lets_its_slot_go(tmp_path):
    out = tmp_path / "out"
    first = holder(out, "first")
    wait_for(out / "first.holding", first)
    second = holder(out, "second")
    notice = wait_for(out / "second.waiting", second)  # it has waited a second at least, slot-less
    assert f"waiting for model {MODEL} at {BASE}: 1 request already in flight" in notice
    assert not (out / "second.holding").exists(), "the slot is still the first's"
    (out / "first.release").touch()
    (out / "second.release").touch()
    assert finish(first) == 0 and finish(second) == 0
    assert float((out / "second.holding").read_text()) >= float((out / "first.released").read_text())


def test_with_concurrency_two_two_processes_hold_at_once_and_a_third_waits(tmp_path):
    out = tmp_path / "out"
    first, second = holder(out, "first", 2), holder(out, "second", 2)
    wait_for(out / "first.holding", first)
    wait_for(out / "second.holding", second)  # neither has let go: two in flight
    third = holder(out, "third", 2)
    assert "2 requests already in flight" in wait_for(out / "third.waiting", third)
    assert not (out / "third.holding").exists()
    (out / "second.release").touch()
    wait_for(out / "third.holding", third)
    assert not (out / "first.released").exists(), "the first still holds its own slot"
    for name in ("first", "third"):
        (out / f"{name}.release").touch()
    assert [finish(p) for p in (first, second, third)] == [0, 0, 0]


def test_another_model_or_address_has_slots_of_its_own(tmp_path):
    out = tmp_path / "out"
    first = holder(out, "first")
    wait_for(out / "first.holding", first)
    other_base = holder(out, "other", base="http://127.0.0.1:10/v1")
    wait_for(out / "other.holding", other_base)
    (out / "first.release").touch()
    (out / "other.release").touch()
    assert finish(first) == 0 and finish(other_base) == 0


def test_a_killed_holder_frees_its_slot(tmp_path):
    out = tmp_path / "out"
    first = holder(out, "first")
    wait_for(out / "first.holding", first)
    second = holder(out, "second")
    wait_for(out / "second.waiting", second)
    first.kill()  # SIGKILL: nothing of ours runs; the kernel drops its flock
    first.wait(timeout=DEADLINE)
    wait_for(out / "second.holding", second)
    assert not (out / "first.released").exists()
    (out / "second.release").touch()
    assert finish(second) == 0


def test_ctrl_c_while_waiting_stops_the_wait_and_takes_no_slot_with_it(tmp_path):
    out = tmp_path / "out"
    first = holder(out, "first")
    wait_for(out / "first.holding", first)
    second = holder(out, "second")
    wait_for(out / "second.waiting", second)
    second.send_signal(signal.SIGINT)
    assert finish(second) == 130, second.stderr.read()
    assert json.loads((out / "second.interrupted").read_text()) == [], "no slot file left open"
    assert not (out / "second.holding").exists()
    assert taken(), "the first's slot is still the first's"
    (out / "first.release").touch()
    assert finish(first) == 0
    assert not taken(), "and once it lets go, the slot is free"


def test_keyboard_interrupt_inside_the_wait_raises_and_leaves_nothing_held(tmp_path):
    out = tmp_path / "out"
    first = holder(out, "first")
    wait_for(out / "first.holding", first)

    def interrupted(message: str) -> None:
        raise KeyboardInterrupt  # as Ctrl-C arrives: in the middle of the wait

    with queue_waits() as waits, pytest.raises(KeyboardInterrupt):
        with ModelSlots(MODEL, BASE, 1).hold(interrupted):
            raise AssertionError("never reached: the slot is the first's")
    assert open_slot_files() == [] and taken()
    assert len(waits) == 1 and waits[0] >= NOTICE_AFTER_S, "the wait is recorded, interrupted or not"
    (out / "first.release").touch()
    assert finish(first) == 0


def test_a_bad_concurrency_is_a_clear_error():
    for wrong in (0, 257, True, 1.5):
        with pytest.raises(ValueError, match="must be a whole number from 1 to 256"):
            ModelSlots(MODEL, BASE, wrong)


# --- the LLM span ---


def test_the_llm_span_records_the_wait(tmp_path):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agent_runtime.agent.tracing import trace_model
    from agent_runtime.telemetry.spans import Telemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(provider)

    class Model:
        def generate(self, messages, **kwargs):
            assert taken(), "the request is made holding the slot"
            return SimpleNamespace(content="done", token_usage=None)

    out = tmp_path / "out"
    first = holder(out, "first")
    wait_for(out / "first.holding", first)
    notices: list[str] = []

    def notice(message: str) -> None:  # shown after a second of waiting: then the first lets go
        notices.append(message)
        (out / "first.release").touch()

    limited, free = Model(), Model()
    limit_requests(limited, ModelSlots(MODEL, BASE, 1), notice)
    trace_model(limited, telemetry, lambda: MODEL, "coder")
    free.generate = lambda messages, **kwargs: SimpleNamespace(content="done", token_usage=None)
    trace_model(free, telemetry, lambda: "openai/unlimited", "judge")
    assert limited.generate([{"role": "user", "content": "hi"}]).content == "done"
    assert finish(first) == 0 and len(notices) == 1
    limited.generate([{"role": "user", "content": "again"}])  # no one holds it now
    free.generate([{"role": "user", "content": "hi"}])
    waited, at_once, unlimited = (dict(s.attributes) for s in exporter.get_finished_spans())
    assert waited["llm.role"] == "coder" and waited["llm.queue_wait_s"] >= NOTICE_AFTER_S
    assert 0 <= at_once["llm.queue_wait_s"] < waited["llm.queue_wait_s"]
    assert "llm.queue_wait_s" not in unlimited, "a model the models file does not limit has no slots"
    assert not taken(), "each request let its slot go"


# --- every role's requests go through the slots ---


class ChatServer:
    """A stand-in for an OpenAI-compatible server (GET /v1/models, POST /v1/chat/completions without
    streaming), for tests only. Each request notes when it came and whether the model's slot was
    held while it was answered; `hold` (cleared) keeps requests waiting until it is set."""

    def __init__(self, reply: str):
        self.reply = reply
        self.seen: list[dict] = []
        self.hold = threading.Event()
        self.hold.set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._json({"object": "list", "data": [{"id": "fake-coder", "object": "model"}]})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.seen.append({"at": time.time(), "slot_taken": taken(MODEL, server.api_base),
                                    "model": body.get("model")})
                server.hold.wait(DEADLINE)
                self._json({"id": "c1", "object": "chat.completion", "created": int(time.time()),
                            "model": body.get("model"), "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": server.reply}}],
                            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api_base = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    servers: list[ChatServer] = []

    def make(reply: str) -> ChatServer:
        servers.append(ChatServer(reply))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def models_file(tmp_path: Path, api_base: str, concurrency: int = 1, roles: str = "") -> Path:
    path = tmp_path / "models.toml"
    path.write_text(f'[models.local]\nid = "{MODEL}"\napi_base = "{api_base}"\nconcurrency = {concurrency}\n'
                    + (f"\n[roles]\n{roles}\n" if roles else ""))
    return path


def test_the_planner_and_the_judge_ask_through_the_slots(tmp_path, chat_server):
    from agent_runtime.agent.planner import Candidate, Planner, PlanRequest
    from agent_runtime.cli.judgemodel import JudgeModel
    from agent_runtime.config import load_settings
    from agent_runtime.models.roles import model_for_role
    from agent_runtime.telemetry.spans import Telemetry

    server = chat_server(json.dumps({"problem": "add subtracts", "targets": ["calc.py::add"]}))
    settings = load_settings({"MODELS_FILE": str(models_file(tmp_path, server.api_base,
                                                             roles='planner = "local"\njudge = "local"'))})

    class Quiet:
        def warn(self, message):
            pass

        def waiting(self, message):
            from contextlib import nullcontext

            return nullcontext()

    planner = Planner(settings, model_for_role(settings, "planner"), Telemetry(), Quiet())
    try:
        plan = planner(PlanRequest("fix add", "", [Candidate("calc.py::add", "def add(a, b)")]))
    finally:
        planner.close()
    assert plan.targets == ["calc.py::add"], plan.note
    server.reply = "APPROVE: fine"
    judge = JudgeModel(settings, model_for_role(settings, "judge"))
    assert judge([{"role": "user", "content": "may I mkdir build?"}]).startswith("APPROVE")
    assert [s["slot_taken"] for s in server.seen] == [True, True], "each request held the model's slot"
    assert not taken(MODEL, server.api_base), "and let it go once answered"


def test_a_model_given_as_an_id_is_not_limited(tmp_path, chat_server):
    from agent_runtime.config import load_settings
    from agent_runtime.models.roles import model_for_role

    server = chat_server("hello")
    settings = load_settings({"MODEL_ID": MODEL, "MODEL_API_BASE": server.api_base})
    coder = model_for_role(settings, "coder")
    assert coder.limits() == {} and coder.entry.concurrency is None
    settings = load_settings({"MODELS_FILE": str(models_file(tmp_path, server.api_base, 3, 'coder = "local"'))})
    assert model_for_role(settings, "coder").limits() == {MODEL: 3}


def slot_held(tmp_path, chat_server):
    """A server that answers one step, a small repository, and another process holding the model's
    only slot (it lets go when `out/first.release` appears)."""
    server = chat_server(step("calc.py adds.", 'final_answer("it adds")'))
    repo = make_repo(tmp_path / "p", {"calc.py": "def add(a, b):\n    return a + b\n"})
    out = tmp_path / "out"
    first = holder(out, "first", base=server.api_base)
    wait_for(out / "first.holding", first)
    return server, repo, out, first


def test_a_session_waits_for_the_slot_says_so_then_asks(tmp_path, chat_server):
    import io

    from rich.console import Console

    from agent_runtime.agent.session import Session
    from agent_runtime.cli.display import Display
    from agent_runtime.config import load_settings
    from agent_runtime.safety.approval import Approver
    from agent_runtime.telemetry.records import load_spans

    server, repo, out, first = slot_held(tmp_path, chat_server)
    shown = io.StringIO()

    class Watching(Display):
        def warn(self, message: str) -> None:  # the notice: the coder has waited a second, nothing sent
            super().warn(message)
            if "waiting for model" in message:
                assert server.seen == [], "no request while the slot is taken"
                (out / "first.release").touch()

    settings = load_settings({"MODELS_FILE": str(models_file(tmp_path, server.api_base)), "MODEL_ID": "local",
                              "RUNS_DIR": str(tmp_path / "runs")})
    with Session(settings, repo, Approver("auto", interactive=False),
                 Watching(console=Console(file=shown, width=400), out=io.StringIO())) as session:
        result = session.run("Go through calc.py and say what it does.")
    assert result.status == "answered" and result.answer == "it adds", result.error
    assert f"waiting for model {MODEL} at {server.api_base}: 1 request already in flight" in shown.getvalue()
    assert finish(first) == 0
    (request,) = server.seen
    assert request["slot_taken"] and request["at"] >= float((out / "first.released").read_text())
    (llm,) = [s for s in load_spans(session.last_run.dir) if s["attributes"].get("openinference.span.kind") == "LLM"]
    assert llm["attributes"]["llm.role"] == "coder" and llm["attributes"]["llm.queue_wait_s"] >= NOTICE_AFTER_S
    assert not taken(MODEL, server.api_base)


# --- the command line: Ctrl-C while a session waits ---


def agent(tmp_path: Path, repo: Path, models: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    err = tmp_path / f"stderr-{len(list(tmp_path.glob('stderr-*')))}.txt"
    process = subprocess.Popen([str(VENV_BIN / "agent-runtime"), "--model", "local", *args, "What does calc.py do?"],
                               cwd=repo, env={**env(), "MODELS_FILE": str(models), "RUNS_DIR": str(tmp_path / "runs")},
                               stdout=subprocess.PIPE, stderr=err.open("w"), stdin=subprocess.DEVNULL, text=True)
    _started.append(process)
    return process, err


def wait_in(path: Path, text: str, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + DEADLINE
    while text not in (shown := path.read_text()):
        assert process.poll() is None, f"ended ({process.returncode}) before saying {text!r}: {shown}"
        assert time.monotonic() < deadline, f"never said {text!r}: {shown}"
        time.sleep(0.05)
    return shown


def test_ctrl_c_while_a_session_waits_stops_it_cleanly(tmp_path, chat_server):
    server, repo, out, first = slot_held(tmp_path, chat_server)
    process, err = agent(tmp_path, repo, models_file(tmp_path, server.api_base))
    wait_in(err, "waiting for model", process)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=DEADLINE)
    shown = err.read_text()
    assert process.returncode == 130, shown
    assert "Traceback" not in shown and server.seen == []
    assert taken(MODEL, server.api_base), "the first's slot is still the first's"
    (out / "first.release").touch()
    assert finish(first) == 0 and not taken(MODEL, server.api_base)
