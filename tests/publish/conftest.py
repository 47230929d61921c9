"""Fixtures for the publish tests: a real SeaweedFS S3 store, a recording HTTP server, and quick retries."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from plugin.publish import retry
from tests.rig.processes import LOOPBACK
from tests.rig.seaweed import SeaweedS3, start_seaweed

PUBLIC_BUCKET = "plume-public"
ACCESS_KEY = "plume-ci"
# Distinctive, so that a test can search every message and log line for it.
SECRET_KEY = "s3cr3t-Zq9vX2-never-shown"
READ_PIECE = 64 * 1024


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"), PUBLIC_BUCKET, ACCESS_KEY, SECRET_KEY)
    yield server
    server.stop()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the retry waits to milliseconds. The number of attempts stays the same."""
    monkeypatch.setattr(retry, "FIRST_WAIT", 0.001)
    monkeypatch.setattr(retry, "MAX_WAIT", 0.01)


@dataclass
class RecordedRequest:
    """One request as the server received it. The body is hashed while it is read, and never stored."""

    method: str
    path: str
    headers: dict[str, str]  # names in lowercase
    body_size: int
    body_sha256: str


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class RecordingServer:
    """An HTTP server on 127.0.0.1 that records each request and sends the queued replies (then 200)."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.replies: list[Reply] = []
        self._http = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _next_reply(self) -> Reply:
        return self.replies.pop(0) if self.replies else Reply(200)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record_and_reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                digest = hashlib.sha256()
                remaining = length
                while remaining:
                    piece = self.rfile.read(min(READ_PIECE, remaining))
                    if not piece:
                        break
                    digest.update(piece)
                    remaining -= len(piece)
                headers = {name.lower(): value for name, value in self.headers.items()}
                recorder.requests.append(
                    RecordedRequest(self.command, self.path, headers, length - remaining, digest.hexdigest())
                )
                reply = recorder._next_reply()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_PUT = do_HEAD = do_POST = do_PATCH = do_DELETE = _record_and_reply

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    server.start()
    yield server
    server.stop()
