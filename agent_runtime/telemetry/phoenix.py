"""A local Phoenix, started from the installed arize-phoenix: bound to 127.0.0.1, its data under
the user's data directory, stopped with the command (or the test) that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

from agent_runtime.config import data_home
from agent_runtime.procs import answers, free_port, log_tail, port_in_use, stop_group, wait_until

START_TIMEOUT_S = 180


class PhoenixError(RuntimeError):
    pass


class PhoenixServer:
    def __init__(self, port: int, working_dir: Path | None = None, grpc_port: int | None = None):
        self.port = port
        self.working_dir = Path(working_dir or data_home() / "phoenix")
        self.grpc_port = grpc_port or free_port()  # Phoenix also opens OTLP/gRPC; keep it off 4317's clashes
        self.proc: subprocess.Popen | None = None
        self.log_path = self.working_dir / "phoenix.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if port_in_use(self.port):
            raise PhoenixError(f"port {self.port} is already in use (is Phoenix already running at {self.url}?); "
                               "pass --port or set PHOENIX_PORT")
        self.working_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(self.port),
               "PHOENIX_GRPC_PORT": str(self.grpc_port), "PHOENIX_WORKING_DIR": str(self.working_dir)}
        with self.log_path.open("wb") as log:
            # -P: not the current directory (the repository, often) first on sys.path: its modules are not Phoenix's
            self.proc = subprocess.Popen([sys.executable, "-P", "-m", "phoenix.server.main", "serve"], env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def healthy(self) -> bool:
        return answers(f"{self.url}/healthz")

    def wait_healthy(self, timeout: float = START_TIMEOUT_S, tick: Callable[[float], None] | None = None) -> None:
        assert self.proc is not None
        outcome = wait_until(self.healthy, self.proc, timeout, tick, interval=0.5)
        if outcome == "exited":
            raise PhoenixError(f"Phoenix exited (code {self.proc.returncode}): {log_tail(self.log_path, 1)} "
                               f"(log: {self.log_path})")
        if outcome == "timeout":
            raise PhoenixError(f"Phoenix did not become healthy within {timeout:.0f}s (log: {self.log_path})")

    def wait(self) -> None:
        assert self.proc is not None
        self.proc.wait()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_group(proc, (signal.SIGINT, signal.SIGTERM, signal.SIGKILL), wait_s=10)  # SIGINT: Phoenix shuts down cleanly
