"""A local Phoenix, started from the installed arize-phoenix: bound to 127.0.0.1, its data under
the user's data directory, stopped with the command (or the test) that started it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from agent_runtime.config import data_home

START_TIMEOUT_S = 180


class PhoenixError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PhoenixServer:
    def __init__(self, port: int, working_dir: Path | None = None, grpc_port: int | None = None):
        self.port = port
        self.working_dir = Path(working_dir or data_home() / "phoenix")
        self.grpc_port = grpc_port or _free_port()  # Phoenix also opens OTLP/gRPC; keep it off 4317's clashes
        self.proc: subprocess.Popen | None = None
        self.log_path = self.working_dir / "phoenix.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                raise PhoenixError(f"port {self.port} is already in use (is Phoenix already running at {self.url}?); "
                                   "pass --port or set PHOENIX_PORT")
        self.working_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(self.port),
               "PHOENIX_GRPC_PORT": str(self.grpc_port), "PHOENIX_WORKING_DIR": str(self.working_dir)}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "phoenix.server.main", "serve"], env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, timeout: float = START_TIMEOUT_S, tick: Callable[[float], None] | None = None) -> None:
        assert self.proc is not None
        started = time.monotonic()
        while not self.healthy():
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise PhoenixError(f"Phoenix exited (code {self.proc.returncode}): {tail[0]} (log: {self.log_path})")
            waited = time.monotonic() - started
            if waited > timeout:
                raise PhoenixError(f"Phoenix did not become healthy within {timeout:.0f}s (log: {self.log_path})")
            if tick:
                tick(waited)
            time.sleep(0.5)

    def wait(self) -> None:
        assert self.proc is not None
        self.proc.wait()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue
