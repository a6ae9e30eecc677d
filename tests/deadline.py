"""A block that must end in time: the test fails (it does not hang) when it runs on. SIGALRM
interrupts a blocking open() of a FIFO and pure-Python loops alike."""

from __future__ import annotations

import contextlib
import signal
import time

import pytest


class Hung(BaseException):
    """Raised by the alarm: a BaseException, so no `except Exception` (the tool wrapper's) takes it."""


@contextlib.contextmanager
def deadline(seconds: int, what: str):
    def ring(*_):
        raise Hung()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    started, hung = time.monotonic(), False
    try:
        yield
    except Hung:
        hung = True
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    if hung or time.monotonic() - started >= seconds:
        raise pytest.fail.Exception(f"{what}: still running after {seconds} s (the agent's process hangs there)",
                                    pytrace=False) from None
