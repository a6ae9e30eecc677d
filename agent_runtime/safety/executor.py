"""The model's code runs in its own process, sandboxed, with nothing of the agent in reach.

smolagents' LocalPythonExecutor is not a security boundary (CVE-2025-5120, CVE-2025-9959), and
in-process it hands the model each Tool object's attributes (the runtime, the approver, the
sandbox, the policy). Here the interpreter (still LocalPythonExecutor, state kept across steps)
lives in a child process (executor_child.py) started under bubblewrap: no workspace, no $HOME,
only read-only binds of what Python and the installed packages need, no writable file system,
no network, no capabilities (also when we run as root), a clean environment, its own PID
namespace and a process cap, and it dies with us. A tool call from the model's code is a message
(tool name + JSON arguments); we run the Tool object the agent was given, through the one
wrapper, and send the result back as data. `final_answer` stays inside the child.

Ctrl-C during a step interrupts the child (SIGINT on its main thread, via the pipe); one that
does not stop within INTERRUPT_GRACE_S is killed and a fresh one started, which the next step's
output says. A child that dies fails its step with an error that says so; the next step gets a
fresh one. Without bubblewrap the child is a plain separate process (sandbox "none", warned once).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from smolagents.local_python_executor import CodeOutput, InterpreterError, PythonExecutor

from agent_runtime.procs import own_python
from agent_runtime.safety.isolation import (
    PID_RESERVED,
    _ids,
    _libc,
    cap_limits,
    isolation,
    leave_session_keyring,
    pid_limit_prefix,
)
from agent_runtime.safety.sandbox import _under
from agent_runtime.smol import is_final_answer_tool, set_printed

log = logging.getLogger(__name__)

CHILD = Path(__file__).with_name("executor_child.py")
RESULTS = Path(__file__).resolve().parents[1] / "tools" / "results.py"
ADAPTER = Path(__file__).resolve().parents[1] / "smol.py"  # agent_runtime/smol.py: the child loads it by path too
INSIDE = "/opt/agent-runtime"  # where the child's three files appear in the sandbox
INTERRUPT_GRACE_S = 2.0
START_TIMEOUT_S = 120.0  # importing smolagents on a busy machine
MAX_MESSAGE_BYTES = 64 << 20
# Messages read but not yet asked for. A step has one call or one answer in flight; an escaped
# interpreter that writes on from a thread of its own between steps would otherwise fill the
# agent's memory (a GB every few seconds). Each message counts at least MESSAGE_OVERHEAD.
MAX_PENDING_BYTES = 2 * MAX_MESSAGE_BYTES
MESSAGE_OVERHEAD = 1024
CHILD_MEMORY_BYTES = 2 << 30
CHILD_PROCESSES = 64  # with a working pid_max: the whole sandbox; the interpreter itself forks nothing
CHILD_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}
RESTARTED = ("[The Python interpreter was restarted ({why}): variables and imports from earlier steps are "
             "gone; define them again.]\n")
_warned_unsandboxed = False


class ChildGone(Exception):
    """The interpreter process ended (or broke the protocol)."""


# ----------------------------------------------------------------------------- the sandbox

def _python_dirs() -> list[Path]:
    """Directories the interpreter needs: its prefixes (venv and base) and the library
    directories on sys.path. Not the project directory pytest or an editable install adds."""
    prefixes = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    dirs = set(prefixes)
    for entry in sys.path:
        path = Path(entry) if entry else None
        if path is None or not path.is_absolute() or not path.exists():
            continue
        if {"site-packages", "dist-packages"} & set(path.parts) or any(path.is_relative_to(p) for p in prefixes):
            dirs.add(path if path.is_dir() else path.parent)
    import importlib.util

    spec = importlib.util.find_spec("smolagents")
    if spec and spec.submodule_search_locations:
        dirs.add(Path(list(spec.submodule_search_locations)[0]).parent)
    usr = Path("/usr")
    keep = sorted({d for d in dirs if d != Path("/") and not d.is_relative_to(usr)}, key=lambda d: len(d.parts))
    out: list[Path] = []
    for d in keep:  # a directory inside one already bound comes with it
        if not any(d.is_relative_to(o) for o in out):
            out.append(d)
    return out


def sandbox_argv(python_args: list[str], hide: tuple[Path, ...] = ()) -> list[str]:
    """`python -I -B ARGS` under bubblewrap, seeing only /usr, the interpreter's directories and
    the child's three files, all read-only; no /proc, no /tmp, no network. `hide`: places that must
    stay invisible even if a bound directory contains them (the workspace, $HOME)."""
    iso = isolation()
    assert iso.bwrap, "bubblewrap is not usable here"
    argv = pid_limit_prefix(CHILD_PROCESSES + PID_RESERVED) + [iso.bwrap, *_ids()] if iso.pid_limit else [iso.bwrap]
    argv += [*iso.flags, "--unshare-net", "--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]  # merged /usr: /lib -> usr/lib
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
             "--ro-bind-try", "/etc/localtime", "/etc/localtime",  # datetime.now() in local time
             "--dev", "/dev", "--remount-ro", "/dev"]  # /dev/null, /dev/urandom; nothing writable
    bound = [Path("/usr")]
    for path in _python_dirs():
        argv += ["--ro-bind", str(path), str(path)]
        bound.append(path)
    argv += ["--ro-bind", str(CHILD), f"{INSIDE}/executor_child.py", "--ro-bind", str(RESULTS), f"{INSIDE}/results.py",
             "--ro-bind", str(ADAPTER), f"{INSIDE}/smol.py"]
    from agent_runtime.config import agent_dirs

    for place in (*hide, *agent_dirs()):  # the agent's own state too, should a bound directory hold it
        if any(_under(place, b) for b in bound) and Path(place).is_dir():
            argv += ["--tmpfs", str(place), "--remount-ro", str(place)]
    argv += ["--remount-ro", "/", "--clearenv"]  # the root is bwrap's own tmpfs: read-only too
    for key, value in CHILD_ENV.items():
        argv += ["--setenv", key, value]
    return argv + ["--chdir", "/", "--", own_python(), "-I", "-B", *python_args]


_works: tuple[bool, str] | None = None
_works_lock = threading.Lock()


def sandbox_works() -> tuple[bool, str]:
    """Can this machine start the child's sandbox? Tried once per process with `python -c pass`."""
    global _works
    with _works_lock:
        if _works is None:
            iso = isolation()
            if not iso.bwrap:
                _works = (False, iso.note)
            else:
                try:
                    done = subprocess.run(sandbox_argv(["-c", "pass"]), capture_output=True, timeout=60,
                                          env=dict(CHILD_ENV), stdin=subprocess.DEVNULL)
                    _works = (done.returncode == 0, done.stderr.decode(errors="replace").strip()[-300:])
                except (OSError, subprocess.TimeoutExpired) as exc:
                    _works = (False, str(exc))
                if not _works[0]:
                    _works = (False, f"bubblewrap cannot start the interpreter's sandbox here: {_works[1]}")
        return _works


def _limits(libc: Any, nproc: bool) -> None:
    # Between fork and exec: no locks, no logging. SIGKILL when the spawning thread's process dies.
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    leave_session_keyring(libc)  # the agent's session keyring is not the model code's to read
    values = [(resource.RLIMIT_AS, CHILD_MEMORY_BYTES), (resource.RLIMIT_FSIZE, 1 << 20),
              (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, 256)]
    if nproc:
        values.append((resource.RLIMIT_NPROC, 4096))  # per user; root is exempt (the pid cap is not)
    cap_limits(values)


class _Child:
    """One interpreter process and the threads that carry its messages: the main thread only
    waits on queues, so a Ctrl-C there never cuts a message in half."""

    def __init__(self, argv: list[str], sandboxed: bool):
        libc = _libc()
        nproc = not (sandboxed and isolation().pid_limit)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=dict(CHILD_ENV), cwd="/", start_new_session=True,
                                     preexec_fn=lambda: _limits(libc, nproc))
        self.inbox: queue.Queue[tuple[dict, int] | None] = queue.Queue()
        self.pending = 0  # bytes in the inbox (see MAX_PENDING_BYTES)
        self._pending_lock = threading.Lock()
        self.outbox: queue.Queue[bytes | None] = queue.Queue()
        self.ready = False
        self.problem: str | None = None
        self.stderr_tail = bytearray()
        for target, name in ((self._read, "executor-read"), (self._write, "executor-write"),
                             (self._drain_stderr, "executor-stderr")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            line = stream.readline(MAX_MESSAGE_BYTES + 1)
            if not line:
                break
            if len(line) > MAX_MESSAGE_BYTES:
                self.problem = f"it sent a message over {MAX_MESSAGE_BYTES >> 20} MB"
                break
            try:
                message = json.loads(line)
            except (ValueError, RecursionError):  # garbage, or `[[[[...` nested past the stack
                continue  # not ours (the interpreter escaped and wrote garbage): ignored
            if not isinstance(message, dict):
                continue
            size = len(line) + MESSAGE_OVERHEAD
            with self._pending_lock:
                flooded = self.pending + size > MAX_PENDING_BYTES
                if not flooded:
                    self.pending += size
            if flooded:
                self.problem = (f"it sent more than {MAX_PENDING_BYTES >> 20} MB of messages that nothing had "
                                "asked for")
                break
            self.inbox.put((message, size))
        self.inbox.put(None)

    def _write(self) -> None:
        stream = self.proc.stdin
        assert stream is not None
        while True:
            data = self.outbox.get()
            if data is None:
                break
            try:
                stream.write(data)
                stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                break

    def _drain_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        for chunk in iter(lambda: stream.read1(4096), b""):
            self.stderr_tail += chunk
            del self.stderr_tail[:-4000]

    def send(self, message: dict) -> None:
        self.outbox.put((json.dumps(message, default=str) + "\n").encode())

    def recv(self, timeout: float | None = None) -> dict:
        """The next message; queue.Empty after timeout; ChildGone once the process has ended."""
        item = self.inbox.get(timeout=timeout)
        if item is None:
            self.inbox.put(None)  # every later recv sees the end too
            raise ChildGone(self.describe_end())
        message, size = item
        with self._pending_lock:
            self.pending -= size
        if message.get("op") == "ready":
            self.ready = True
            return self.recv(timeout)
        return message

    def alive(self) -> bool:
        return self.proc.poll() is None and self.problem is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.outbox.put(None)

    def describe_end(self) -> str:
        if self.problem:
            self.kill()
            return self.problem
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        if code is None:
            why = "it stopped answering"
        elif code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
            why = f"it was killed by {name}"
            if number == signal.SIGKILL:
                why += " (out of memory, or stopped from outside)"
        else:
            why = f"it exited with status {code}"
        time.sleep(0.05)  # the last words on stderr
        tail = bytes(self.stderr_tail).decode(errors="replace").strip().splitlines()[-5:]
        return why + (": " + " | ".join(tail) if tail else "")


class _Shown:
    """A value that could not travel as data (a set, an object): shown as the child printed it."""

    def __init__(self, text: str, shown: str):
        self._text, self._repr = text, shown

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return self._repr


def _same_shape(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(_same_shape(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _same_shape(v, depth + 1) for k, v in value.items())
    return False


class SandboxedPythonExecutor(PythonExecutor):
    """A PythonExecutor whose interpreter is a sandboxed child process (see the module doc).

    What CodeAgent uses of its executor (tests/test_smol.py pins it): PythonExecutor's abstract
    methods (send_tools, send_variables, a call that returns a CodeOutput), `state` for a failed
    step's logs (agent_runtime.smol.set_printed) and `cleanup()`. PythonExecutor has no __init__ of its own."""

    def __init__(self, additional_authorized_imports: list[str] | None = None,
                 max_print_outputs_length: int | None = None, use_bwrap: bool | None = None,
                 result_type: type[dict] | None = None, hide: tuple[Path, ...] = ()):
        self.additional_authorized_imports = list(additional_authorized_imports or [])
        self.max_print_outputs_length = max_print_outputs_length
        self.timeout_seconds = None  # no step timeout: tools carry theirs, Ctrl-C stops a step
        self.state: dict[str, Any] = {}  # the last step's output, where CodeAgent reads it on errors
        set_printed(self.state, "")
        self.result_type = result_type
        self.results_file = Path(inspect.getfile(result_type)) if result_type is not None else RESULTS
        self.hide = tuple(p for p in {Path(p).resolve() for p in (*hide, Path.home(), Path.cwd())} if p != Path("/"))
        self.tools: dict[str, Any] = {}
        self.variables: dict[str, Any] = {}
        self.names: set[str] = set()  # the interpreter's variables after the last step
        self._use_bwrap = use_bwrap
        self._kind: str | None = None
        # Started from one long-lived thread: a child's parent-death signal follows the thread that
        # forked it, and the session may be opened on a thread that ends right after.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="executor-spawn")
        self._child: _Child | None = None
        self._notice = ""
        self._step = 0
        self._closed = False
        # No child yet: it starts when a task first runs the agent (send_tools), so a task that never
        # runs the model's code (a fix the harness drives) starts no interpreter and no sandbox probe.

    @property
    def kind(self) -> str:
        """"bwrap", or "none" where the sandbox cannot start (decided once, when first needed)."""
        global _warned_unsandboxed
        if self._kind is None:
            usable, why = ((False, "bubblewrap is not used in this session") if self._use_bwrap is False
                           else sandbox_works())
            self._kind = "bwrap" if usable else "none"
            if self._kind == "none" and not _warned_unsandboxed:
                _warned_unsandboxed = True
                log.warning("The model's code runs in a separate process, but without an OS sandbox (%s). Install "
                            "bubblewrap (apt-get install bubblewrap) and let it create namespaces here.", why)
        return self._kind

    def started(self) -> bool:
        """Whether an interpreter process has been started (and not yet stopped)."""
        return self._child is not None

    # --- the child ---

    def argv(self) -> list[str]:
        args = [f"{INSIDE}/executor_child.py", f"{INSIDE}/results.py", f"{INSIDE}/smol.py"]
        if self.kind == "bwrap":
            return sandbox_argv(args, self.hide)
        return [own_python(), "-I", "-B", str(CHILD), str(self.results_file), str(ADAPTER)]

    def _start(self) -> _Child:
        if self.kind == "bwrap" and self.results_file.resolve() != RESULTS:
            raise ValueError(f"result_type must come from {RESULTS}: the sandbox binds only that file")
        child = self._spawner.submit(_Child, self.argv(), self.kind == "bwrap").result()
        self.names = set()  # a new interpreter: nothing but the tools and the variables sent
        child.send({"op": "setup", "authorized_imports": self.additional_authorized_imports,
                    "max_print_outputs_length": self.max_print_outputs_length})
        if self.tools:
            self._send_tools(child)
        if self.variables:
            child.send({"op": "vars", "vars": self.variables})
        self._child = child
        return child

    def _ensure(self) -> _Child:
        if self._closed:
            raise InterpreterError("the Python executor is closed")
        child = self._child
        if child is None or not child.alive():
            if child is not None:  # it died between steps (killed from outside, out of memory)
                self._notice = RESTARTED.format(why=f"its process had stopped: {child.describe_end()}")
                child.kill()
            child = self._start()
        return child

    def _restart(self, why: str) -> None:
        if self._child is not None:
            self._child.kill()
        self._child = None
        self._notice = RESTARTED.format(why=why)
        if not self._closed:
            self._start()

    # --- PythonExecutor ---

    def variable_names(self) -> set[str]:
        """The variables code in the next step can read (earlier steps' and those sent)."""
        return self.names | set(self.variables)

    def send_tools(self, tools: dict[str, Any]) -> None:
        self.tools = dict(tools)
        self._send_tools(self._ensure())

    def _send_tools(self, child: _Child) -> None:
        described = []
        for name, tool in self.tools.items():
            local = is_final_answer_tool(name, tool)
            described.append({"name": name, "doc": getattr(tool, "description", None), "local": local})
        child.send({"op": "tools", "tools": described})

    def send_variables(self, variables: dict[str, Any]) -> None:
        plain = {}
        for name, value in variables.items():
            if _same_shape(value):
                plain[name] = value
            else:
                log.warning("variable %r (%s) is not plain data and cannot be sent to the sandboxed interpreter",
                            name, type(value).__name__)
        self.variables.update(plain)
        if plain and self._child is not None and self._child.alive():
            self._child.send({"op": "vars", "vars": plain})  # else they go with the next start

    def __call__(self, code_action: str) -> CodeOutput:
        child = self._ensure()
        self._step += 1
        step = self._step
        notice, self._notice = self._notice, ""
        set_printed(self.state, notice)
        child.send({"op": "run", "step": step, "code": code_action})
        try:
            while True:
                message = child.recv()
                if message.get("step") != step:
                    continue  # left over from an interrupted step
                op = message.get("op")
                if op == "call":
                    self._call(child, message)
                    continue
                logs = notice + str(message.get("logs", ""))
                set_printed(self.state, logs)
                self.names = {n for n in message.get("names", []) if isinstance(n, str)}
                if op == "done":
                    return CodeOutput(output=self._decode(message.get("output")), logs=logs,
                                      is_final_answer=bool(message.get("final")))
                if op == "error":
                    raise InterpreterError(str(message.get("message", "the code failed")))
                if op == "interrupted":  # not asked for: someone signalled the child
                    raise InterpreterError("the code was interrupted")
        except KeyboardInterrupt:
            self._interrupt(child, step)
            raise
        except ChildGone as gone:
            started = child.ready
            self._child = None
            child.kill()
            if not self._closed:
                self._start()  # now: it starts while the model thinks about the error
            if not started:
                raise InterpreterError(f"The Python interpreter process could not start: {gone}") from None
            raise InterpreterError(
                f"The Python interpreter process stopped during this step: {gone}. Variables and imports from "
                "earlier steps are gone; the next step starts a fresh interpreter.") from None

    def _call(self, child: _Child, message: dict) -> None:
        """Run one tool call the model's code made: the Tool object, through the one wrapper."""
        name, args, kwargs = message.get("tool"), message.get("args", []), message.get("kwargs", {})
        reply: dict[str, Any] = {"op": "result", "id": message.get("id")}
        if not isinstance(name, str) or name not in self.tools:
            reply["error"] = {"type": "NameError", "message": f"there is no tool named {name!r}"}
        elif not isinstance(args, list) or not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            reply["error"] = {"type": "TypeError", "message": f"{name}(): malformed call"}
        else:
            try:
                reply["value"] = self._encode(self.tools[name](*args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - the model's code gets the exception, as in-process
                reply["error"] = {"type": type(exc).__name__, "message": str(exc)}
        child.send(reply)

    def _interrupt(self, child: _Child, step: int) -> None:
        """Ctrl-C: ask the child to stop the step; kill and replace it if it does not in time."""
        if child.alive():
            child.send({"op": "interrupt"})
            deadline = time.monotonic() + INTERRUPT_GRACE_S
            try:
                while (left := deadline - time.monotonic()) > 0:
                    message = child.recv(timeout=left)
                    if message.get("step") == step and message.get("op") in ("interrupted", "done", "error"):
                        set_printed(self.state, str(message.get("logs", "")))
                        return
            except (queue.Empty, ChildGone, KeyboardInterrupt):  # a second Ctrl-C: stop waiting
                pass
        self._restart("the last step was stopped with Ctrl-C and the interpreter did not stop in time")

    def _encode(self, value: Any) -> Any:
        if self.result_type is not None and isinstance(value, self.result_type):
            return {"toolresult": json.loads(json.dumps(value, default=str))}
        if _same_shape(value):
            return {"json": value}
        try:
            return {"json": json.loads(json.dumps(value, default=str))} if isinstance(value, (dict, list, tuple)) \
                else {"text": str(value), "repr": repr(value)}
        except (TypeError, ValueError):
            return {"text": str(value), "repr": repr(value)}

    def _decode(self, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if "toolresult" in value and self.result_type is not None:
            return self.result_type(value["toolresult"])
        if "toolresult" in value:
            return value["toolresult"]
        if "json" in value:
            return value["json"]
        return _Shown(str(value.get("text", "")), str(value.get("repr", value.get("text", ""))))

    # --- lifecycle ---

    def cleanup(self) -> None:
        """Stop the child (CodeAgent.cleanup calls this; so does Session.close)."""
        self._closed = True
        if self._child is not None:
            self._child.kill()
            self._child = None
        self._spawner.shutdown(wait=False)

    close = cleanup

    def __del__(self) -> None:
        try:
            if self._child is not None:
                self._child.kill()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
