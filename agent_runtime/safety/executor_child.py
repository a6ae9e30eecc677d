"""The process the model's code runs in: smolagents' LocalPythonExecutor, its state kept across
steps, talking to the agent in JSON lines over stdin/stdout.

Standard library and smolagents only: this file runs in a sandbox that holds nothing of the
agent (no workspace, no $HOME, no agent_runtime package). Tools are plain proxy functions; a
call is a message to the agent, which runs the real tool through its wrapper and answers with
data. ToolResult (readable when printed) comes from tools/results.py, and what this process needs
of smolagents beyond its public API (importing its interpreter alone, the interpreter's state
keys) from agent_runtime/smol.py, the project's one adapter: both loaded by path, both standard
library only at import time for this reason.

Messages in:  tools, vars, run, result (of a tool call), interrupt.
Messages out: ready, call, done, error, interrupted.
Run as: python -I -B executor_child.py PATH/TO/results.py PATH/TO/smol.py
"""

from __future__ import annotations

import builtins
import json
import os
import queue
import runpy
import signal
import sys
import threading
from types import SimpleNamespace
from typing import Any

OUT_FD = 1
_out_lock = threading.Lock()
_inbox: "queue.Queue[dict | None]" = queue.Queue()
_running = False  # a step is running: SIGINT (our interrupt) raises KeyboardInterrupt only then
_call_ids = iter(range(1, 1 << 62))
ToolResult: Any = dict
smol: Any = None  # agent_runtime/smol.py, loaded by path in main()


def send(message: dict) -> None:
    send_line(json.dumps(message, default=str))


def send_line(line: str) -> None:
    """One line, written whole: the interrupt signal is held off while it is written."""
    data = (line + "\n").encode()
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with _out_lock:
            view = memoryview(data)
            while view:
                view = view[os.write(OUT_FD, view):]
    finally:
        if on_main:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _read_messages(stream: Any, main_ident: int) -> None:
    """Reader thread: messages to the inbox; an interrupt becomes SIGINT on the main thread
    (a real signal: it wakes a sleep or a wait for a tool result). EOF: the agent is gone."""
    for line in stream:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if message.get("op") == "interrupt":
            signal.pthread_kill(main_ident, signal.SIGINT)
        else:
            _inbox.put(message)
    os._exit(0)


def _on_sigint(signum: int, frame: Any) -> None:
    if _running:
        raise KeyboardInterrupt


def _receive() -> dict:
    message = _inbox.get()
    if message is None:
        os._exit(0)
    return message


BUILTIN_ERRORS = {name: value for name, value in vars(builtins).items()
                  if isinstance(value, type) and issubclass(value, Exception)}


def _error(kind: str, message: str) -> Exception:
    """The tool's exception as the model would have seen it in-process: same type name."""
    cls = BUILTIN_ERRORS.get(kind) or type(kind if kind.isidentifier() else "ToolCallError", (Exception,), {})
    return cls(message)


def from_wire(value: Any) -> Any:
    if isinstance(value, dict):
        if "toolresult" in value:
            return ToolResult(value["toolresult"])
        if "json" in value:
            return value["json"]
        if "text" in value:
            return value["text"]
    return value


MAX_VALUE_CHARS = 8 << 20  # the agent refuses messages over 64 MB; a step's value stays well below


def to_wire(value: Any) -> Any:
    try:
        if isinstance(value, ToolResult) and ToolResult is not dict:
            wire = {"toolresult": json.loads(json.dumps(value, default=str))}
        elif _same_shape(value):
            wire = {"json": value}
        else:
            wire = {"text": str(value), "repr": repr(value)}
        if len(json.dumps(wire, default=str)) <= MAX_VALUE_CHARS:
            return wire
    except (TypeError, ValueError, RecursionError):
        pass
    text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + f"\n[... {len(text) - MAX_VALUE_CHARS:,} more characters not shown ...]"
    return {"text": text, "repr": text}


def _same_shape(value: Any, depth: int = 0) -> bool:
    """JSON gives back the same types (no tuples, sets, subclasses, non-string keys)."""
    if depth > 50:
        return False
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(_same_shape(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _same_shape(v, depth + 1) for k, v in value.items())
    return False


def call_tool(name: str, args: tuple, kwargs: dict) -> Any:
    call_id = next(_call_ids)
    try:
        line = json.dumps({"op": "call", "id": call_id, "tool": name, "args": list(args), "kwargs": kwargs,
                           "step": _step})
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}(): arguments must be plain data (str, int, float, bool, None, and lists and "
                        f"dicts of them): {exc}") from None
    if len(line) > MAX_VALUE_CHARS:
        raise ValueError(f"{name}(): the arguments are {len(line):,} characters long; the limit is "
                         f"{MAX_VALUE_CHARS:,}. Pass less, or a path to a file instead.")
    send_line(line)
    while True:
        message = _receive()
        if message.get("op") == "result" and message.get("id") == call_id:
            break
    if "error" in message:
        error = message["error"]
        raise _error(str(error.get("type", "ToolCallError")), str(error.get("message", "")))
    return from_wire(message.get("value"))


def make_proxy(name: str, doc: str | None) -> Any:
    """A plain function that sends the call to the agent; nothing else hangs off it."""
    def proxy(*args: Any, **kwargs: Any) -> Any:
        return call_tool(name, args, kwargs)

    proxy.__name__ = proxy.__qualname__ = name
    proxy.__doc__ = doc
    return proxy


def final_answer(answer: Any = None, *args: Any, **kwargs: Any) -> Any:
    """smolagents' FinalAnswerTool: the interpreter turns this into the step's final answer."""
    return answer


def load_file(path: str) -> SimpleNamespace:
    """A standard-library-only file of the package, by path (the sandbox holds no package): its
    module-level names. Run by runpy, so no module is registered in sys.modules."""
    return SimpleNamespace(**runpy.run_path(path))


_step = 0


def run_step(executor: Any, message: dict) -> dict:
    global _running, _step
    _step = message.get("step", 0)
    reply: dict
    try:
        try:
            _running = True
            output = executor(str(message.get("code", "")))
            _running = False
            reply = {"op": "done", "output": to_wire(output.output), "logs": output.logs,
                     "final": bool(output.is_final_answer)}
        except KeyboardInterrupt:
            _running = False
            reply = {"op": "interrupted"}
        except Exception as exc:  # noqa: BLE001 (InterpreterError and the like: the step's error, as smolagents gives it)
            _running = False
            reply = {"op": "error", "type": type(exc).__name__, "message": str(exc)}
    except KeyboardInterrupt:  # landed in a handler above
        _running = False
        reply = {"op": "interrupted"}
    reply.setdefault("logs", smol.printed(executor.state))
    # The names the next step's code can read: the parent checks replies against them.
    reply["names"] = smol.variable_names(executor.state)[:1000]
    reply["step"] = _step
    return reply


def main() -> None:
    global OUT_FD, ToolResult, smol
    # The protocol keeps the original stdin/stdout; whatever else writes to fd 1 goes to stderr.
    OUT_FD = os.dup(1)
    incoming = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, _on_sigint)
    threading.Thread(target=_read_messages, args=(incoming, threading.get_ident()), daemon=True,
                     name="messages").start()

    ToolResult = load_file(sys.argv[1]).ToolResult
    smol = load_file(sys.argv[2])  # agent_runtime/smol.py: what this file needs of smolagents beyond its API
    lpe = smol.import_interpreter()
    executor = None
    send({"op": "ready", "pid": os.getpid()})
    while True:
        try:
            message = _receive()
            op = message.get("op")
            if op == "setup":
                executor = lpe.LocalPythonExecutor(
                    list(message.get("authorized_imports", [])),
                    max_print_outputs_length=message.get("max_print_outputs_length"),
                    timeout_seconds=None,
                )
            elif op == "tools" and executor is not None:
                tools = {}
                for item in message.get("tools", []):
                    name = str(item["name"])
                    tools[name] = final_answer if item.get("local") else make_proxy(name, item.get("doc"))
                executor.send_tools(tools)
            elif op == "vars" and executor is not None:
                executor.send_variables(dict(message.get("vars", {})))
            elif op == "run":
                if executor is None:
                    send({"op": "error", "step": message.get("step", 0), "type": "RuntimeError",
                          "message": "the interpreter was not set up", "logs": ""})
                    continue
                send(run_step(executor, message))
        except KeyboardInterrupt:  # an interrupt that came after its step had ended
            continue


if __name__ == "__main__":
    main()
