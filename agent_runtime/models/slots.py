"""At most N requests at once to one model, across every process of the user on this machine: the
models file's `concurrency = N` (the planner, coder and judge of a session, the workers of
`agent-runtime eval`, two REPLs).

A model's N slots are N lock files under $XDG_STATE_HOME/agent-runtime/slots/, named after a hash
of the model's identity (its id and address). A request holds one slot (an exclusive `flock`) from
just before it is sent until its answer is in, and no longer: never while a tool runs. The kernel
drops a flock when the process holding it dies, so a killed agent frees its slot with nothing to
clean up. A request that finds every slot taken tries again every few tenths of a second (it
sleeps in between: no spinning), says so after NOTICE_AFTER_S, and stops at Ctrl-C holding
nothing. Waiters are not queued in order: whichever looks first after a slot frees takes it.

Standard library only.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator

from agent_runtime.config import state_home
from agent_runtime.smol import wrap_generate

MAX_CONCURRENCY = 256  # as the models file allows (models/catalog.py)
NOTICE_AFTER_S = 1.0  # a wait shorter than this is not worth a line
NOTICE_EVERY_S = 30.0  # then a line again this often, so a long wait does not look like a hang
POLL_FIRST_S = 0.02  # the first look again comes soon (a slot is often freed within moments) ...
POLL_MAX_S = 0.2  # ... then backs off to this: a waiter wakes 5 times a second, at no measurable cost

# The waits of the requests made inside `queue_waits()`: how the LLM span (agent/tracing.py) learns
# how long its request queued, without the model layer knowing about spans.
_waits: ContextVar[list[float] | None] = ContextVar("agent_runtime_queue_waits", default=None)


def slots_dir() -> Path:
    return state_home() / "slots"


def identity(model_id: str, api_base: str | None) -> str:
    """The name of a model's slots: the same id at the same address is the same model, whichever
    process, role or models file name asks for it."""
    text = f"{model_id}\n{(api_base or '').rstrip('/')}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class ModelSlots:
    """The N slots of one model. `hold()` around each request; one instance may be shared by threads."""

    def __init__(self, model_id: str, api_base: str | None, concurrency: int, directory: Path | None = None):
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or \
                not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency for {model_id} must be a whole number from 1 to {MAX_CONCURRENCY}, "
                             f"got {concurrency!r}")
        self.model_id = model_id
        self.api_base = api_base
        self.concurrency = concurrency
        self.directory = Path(directory) if directory is not None else slots_dir()
        key = identity(model_id, api_base)
        self.paths = [self.directory / f"{key}.{index}.lock" for index in range(concurrency)]

    @property
    def label(self) -> str:
        return f"{self.model_id} at {self.api_base}" if self.api_base else self.model_id

    def busy_message(self, waited: float) -> str:
        n = self.concurrency
        flight = f"{n} request{'s' if n != 1 else ''} already in flight (its concurrency in the models file is {n})"
        if waited < NOTICE_AFTER_S + NOTICE_EVERY_S:
            return f"waiting for model {self.label}: {flight}"
        return f"still waiting for model {self.label} after {waited:.0f} s: {flight}"

    @contextmanager
    def hold(self, notice: Callable[[str], None] | None = None) -> Iterator[float]:
        """One slot, for the block's time; yields the seconds waited for it. `notice(message)` is told
        when the wait passes NOTICE_AFTER_S (and every NOTICE_EVERY_S after). An exception while
        waiting (KeyboardInterrupt) leaves with no slot held and none of this process's files open."""
        held: list[int] = []  # the descriptor whose lock is ours: closing it is what frees the slot
        started = time.monotonic()
        try:
            try:
                self._acquire(held, started, notice)
            finally:
                waited = time.monotonic() - started
                recorder = _waits.get()
                if recorder is not None:
                    recorder.append(waited)  # an interrupted wait is recorded too: the span says so
            yield waited
        finally:
            for fd in held:
                os.close(fd)

    def _open(self) -> list[int]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise OSError(f"cannot create {self.directory} for the request slots of {self.label}: {exc}") from None
        fds: list[int] = []
        try:
            for path in self.paths:
                fds.append(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        except BaseException as exc:
            for fd in fds:
                os.close(fd)
            if isinstance(exc, OSError):
                raise OSError(f"cannot open {path} (a request slot of {self.label}): {exc.strerror}") from None
            raise
        return fds

    def _acquire(self, held: list[int], started: float, notice: Callable[[str], None] | None) -> None:
        # All N files stay open while waiting; each look is N non-blocking flocks. A blocking flock
        # would wait on one slot while another frees, and a thread other than the main one could
        # not be stopped by Ctrl-C inside it.
        fds = self._open()
        try:
            delay, next_notice = POLL_FIRST_S, NOTICE_AFTER_S
            while True:
                for fd in fds:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    held.append(fd)
                    return
                waited = time.monotonic() - started
                if notice is not None and waited >= next_notice:
                    notice(self.busy_message(waited))
                    next_notice = waited + NOTICE_EVERY_S
                time.sleep(delay)
                delay = min(delay * 2, POLL_MAX_S)
        finally:
            # Closing a descriptor whose lock is not ours frees nothing: another process's slot stays held.
            for fd in fds:
                if fd not in held:
                    os.close(fd)


@contextmanager
def queue_waits() -> Iterator[list[float]]:
    """The seconds each request made inside this block waited for its slot (none: not limited)."""
    waits: list[float] = []
    token = _waits.set(waits)
    try:
        yield waits
    finally:
        _waits.reset(token)


def limit_requests(model: Any, slots: ModelSlots, notice: Callable[[str], None] | None = None) -> None:
    """Each request of this model instance (its `generate`) holds one of `slots` while it is sent and
    answered. Called where the model is made, before anything else wraps `generate`, so that the
    LLM span (agent/tracing.py) is outside the wait and sees it."""

    def limited(generate: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with slots.hold(notice):
            return generate(*args, **kwargs)

    wrap_generate(model, limited)
