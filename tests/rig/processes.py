"""Start and stop the real servers the tests use, on 127.0.0.1 only, each stopped by its own PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import requests

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_http(url: str, accepted: Sequence[int] = (200,), timeout: float = 20.0) -> None:
    """Poll `url` until it answers with one of the accepted statuses."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status = requests.get(url, timeout=1).status_code
            if status in accepted:
                return
            last = f"status {status}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout} s ({last})")


class ServerProcess:
    """A server started by a test; `stop` ends exactly this process and nothing else."""

    def __init__(self, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            list(argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def start_ready_server(
    argv: Sequence[str], log_path: Path, ready_url: str, accepted: Sequence[int] = (200,)
) -> ServerProcess:
    """Start a server and wait until `ready_url` returns an accepted status; stop it again if it never does."""
    server = ServerProcess(argv, log_path)
    try:
        wait_for_http(ready_url, accepted=accepted)
    except TimeoutError:
        server.stop()
        raise
    return server
