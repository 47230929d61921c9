"""A loopback TCP forwarder that timestamps the first connection a client opens through it.

Placed between a tool and the registry, it records from outside the tool when the tool first reached the
network, without reading the tool's logs. It copies bytes both ways on plain threads, so it slows the
traffic through it: use it only for the start-up measurement, never for timed throughput.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tests.rig.processes import LOOPBACK

BUFFER_SIZE = 1 << 16
CONNECT_TIMEOUT = 10.0  # seconds to reach the registry behind the forwarder


class FirstConnectionForwarder:
    """Accept on a free 127.0.0.1 port and forward every connection to `target_port` on 127.0.0.1."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.first_connection_at: float | None = None  # time.monotonic() when accept() first returned
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._accepting = threading.Thread(target=self._accept_loop, name="forwarder-accept", daemon=True)
        self._accepting.start()

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def reset(self) -> None:
        """Forget the first connection, before the next measured run."""
        self.first_connection_at = None

    def close(self) -> None:
        self._listener.close()
        self._accepting.join(timeout=5)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            if self.first_connection_at is None:
                self.first_connection_at = time.monotonic()
            threading.Thread(target=self._forward, args=(client,), name="forwarder-connection", daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection((LOOPBACK, self.target_port), timeout=CONNECT_TIMEOUT)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        reverse = threading.Thread(target=_pump, args=(upstream, client), name="forwarder-reply", daemon=True)
        reverse.start()
        _pump(client, upstream)
        reverse.join()
        client.close()
        upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes from `source` to `sink` until `source` closes its side, then close the same side of `sink`."""
    with contextlib.suppress(OSError):
        while data := source.recv(BUFFER_SIZE):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
