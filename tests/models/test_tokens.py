"""Token counting for the context budget never fails a step."""

from __future__ import annotations

import socket
import time

from agent_runtime.models.tokens import llama_server_counter


def test_a_busy_or_absent_server_gives_the_estimate_in_time():
    """A server that accepts and never answers (llama.cpp still generating for an abandoned
    request), and one that is not there: the count falls back to the high estimate."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(4)
    port = busy.getsockname()[1]
    try:
        counter = llama_server_counter(f"http://127.0.0.1:{port}/v1", timeout=1)
        started = time.monotonic()
        assert counter("x" * 300) == 101
        assert time.monotonic() - started < 5
    finally:
        busy.close()
    gone = llama_server_counter(f"http://127.0.0.1:{port}/v1", timeout=1)
    assert gone("abc") == 2
