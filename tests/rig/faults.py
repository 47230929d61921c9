"""A fault-injecting HTTP proxy on 127.0.0.1, between a client and a registry, for tests and benchmarks.

It forwards each request to the upstream registry, unless its plan picks a fault for that request. Faults
can strike before the registry receives the request, or after it acted on it, when the client cannot tell
what happened. The proxy stops itself after `lifetime` seconds, and rejects bodies above `MAX_BODY`.
"""

from __future__ import annotations

import email.utils
import http.client
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.rig.processes import LOOPBACK

PROXY_LIFETIME = 600.0  # seconds before the proxy shuts itself down, whatever the test does
UPSTREAM_TIMEOUT = 60.0  # seconds to wait for the registry
MAX_BODY = 256 * 1024 * 1024  # bytes; a request with a larger body gets 413
PIECE = 64 * 1024  # bytes copied at a time between client and registry
# Headers that describe one connection, not the message, so they are not forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})


@dataclass(frozen=True)
class Fault:
    """What the proxy does instead of a plain forward.

    `status` 0 closes the connection without a response. `forward_first` sends the request to the registry
    before failing. `half_body` reads half the body and then resets the connection. `delay` holds the
    registry's answer that many seconds before passing it on (a stall, not a failure).
    """

    name: str
    status: int = 0
    forward_first: bool = False
    half_body: bool = False
    delay: float = 0.0
    retry_after_seconds: int | None = None
    retry_after_as_date: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def is_stall(self) -> bool:
        return self.delay > 0 and self.status == 0 and self.forward_first

    def reply_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.retry_after_seconds is not None:
            if self.retry_after_as_date:
                when = time.time() + self.retry_after_seconds
                headers["Retry-After"] = email.utils.formatdate(when, usegmt=True)
            else:
                headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


# One of each kind of fault the proxy injects when running at a fault rate.
STANDARD_FAULTS = (
    Fault("connection dropped before the registry saw the request"),
    Fault("500 before the registry saw the request", status=500),
    Fault("connection reset halfway through the body", half_body=True),
    Fault("502 after the registry acted", status=502, forward_first=True),
    Fault("429 with Retry-After in seconds", status=429, retry_after_seconds=1),
    Fault("connection dropped after the registry acted", forward_first=True),
    Fault("503", status=503),
    Fault("429 with Retry-After as an HTTP date", status=429, retry_after_seconds=2, retry_after_as_date=True),
    Fault("500 after the registry acted", status=500, forward_first=True),
    Fault("answer stalled for 1.5 s", forward_first=True, delay=1.5),
)


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    path: str  # with the query
    headers: Mapping[str, str]  # names in lower case

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path


Plan = Callable[[ProxiedRequest], Fault | None]


class FaultRate:
    """A plan that injects faults into a steady fraction `rate` of the requests, taking the faults in turn.

    No request (method and path) is hit more than `max_in_a_row` times in a row, so that a client with a
    handful of attempts per request can always get through. `applies` limits the faults to some requests.
    """

    def __init__(
        self,
        rate: float,
        faults: Sequence[Fault] = STANDARD_FAULTS,
        max_in_a_row: int = 2,
        applies: Callable[[ProxiedRequest], bool] | None = None,
    ) -> None:
        self.rate = rate
        self.faults = list(faults)
        self.max_in_a_row = max_in_a_row
        self.applies = applies
        self._seen = 0
        self._injected = 0
        self._in_a_row: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: ProxiedRequest) -> Fault | None:
        if self.applies is not None and not self.applies(request):
            return None
        key = (request.method, request.path_only)
        with self._lock:
            self._seen += 1
            if self._injected >= self.rate * self._seen or self._in_a_row[key] >= self.max_in_a_row:
                self._in_a_row[key] = 0
                return None
            fault = self.faults[self._injected % len(self.faults)]
            self._injected += 1
            self._in_a_row[key] += 1
            return fault


def every_matching(fault: Fault, matches: Callable[[ProxiedRequest], bool]) -> Plan:
    """Return a plan that fails every request that `matches` with `fault`: an outage that outlasts retries."""
    return lambda request: fault if matches(request) else None


def first_matching(fault: Fault, matches: Callable[[ProxiedRequest], bool], times: int = 1) -> Plan:
    """Return a plan that fails the first `times` requests that `matches` with `fault`, then forwards all."""
    remaining = [times]
    lock = threading.Lock()

    def plan(request: ProxiedRequest) -> Fault | None:
        with lock:
            if remaining[0] > 0 and matches(request):
                remaining[0] -= 1
                return fault
        return None

    return plan


@dataclass(frozen=True)
class ProxyRecord:
    """One request the proxy handled, and the fault it injected, if any."""

    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case
    fault: str | None


class FaultProxy:
    """The proxy on a free loopback port, forwarding to `upstream` (an http:// URL on 127.0.0.1)."""

    def __init__(self, upstream: str, plan: Plan | None = None, lifetime: float = PROXY_LIFETIME) -> None:
        parts = urlsplit(upstream)
        if parts.hostname != LOOPBACK or parts.scheme != "http":
            raise ValueError(f"the fault proxy only forwards to http://{LOOPBACK}, not {upstream}")
        self.upstream_port = parts.port or 80
        self.plan: Plan = plan or (lambda request: None)
        self.records: list[ProxyRecord] = []
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True
        self._stopped = False
        self._thread.start()
        self._timer.start()

    @property
    def host(self) -> str:
        """The proxy's address as it appears in an image name."""
        return f"{LOOPBACK}:{self._http.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def faults_injected(self) -> list[str]:
        with self._lock:
            return [record.fault for record in self.records if record.fault is not None]

    def failures_injected(self) -> list[str]:
        """The faults that failed a request, leaving out stalls, which only delay it."""
        stalls = {fault.name for fault in STANDARD_FAULTS if fault.is_stall}
        return [name for name in self.faults_injected() if name not in stalls]

    def request_count(self) -> int:
        with self._lock:
            return len(self.records)

    def requests_matching(self, method: str, path_part: str) -> list[ProxyRecord]:
        """The requests with this method whose path (with the query) contains `path_part`."""
        with self._lock:
            return [record for record in self.records if record.method == method and path_part in record.path]

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._timer.cancel()
        self._http.shutdown()
        self._http.server_close()

    def _record(self, request: ProxiedRequest, fault: Fault | None) -> None:
        with self._lock:
            record = ProxyRecord(request.method, request.path, request.headers, fault.name if fault else None)
            self.records.append(record)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                headers = {name.lower(): value for name, value in self.headers.items()}
                request = ProxiedRequest(self.command, self.path, headers)
                length = int(headers.get("content-length") or 0)
                if "chunked" in headers.get("transfer-encoding", "") or length > MAX_BODY:
                    self.close_connection = True
                    self._answer(413 if length > MAX_BODY else 411, {}, b"")
                    return

                fault = proxy.plan(request)
                proxy._record(request, fault)
                if fault is not None and fault.half_body:
                    self.rfile.read(length // 2)
                    self._reset_connection()
                    return
                if fault is not None and not fault.forward_first:
                    self._read_body(length)
                    self._fail(fault)
                    return

                status, reply_headers, body = self._forward(request, length)
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and not fault.is_stall:
                    self._fail(fault)
                    return
                self._answer(status, reply_headers, body)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def _read_body(self, length: int) -> None:
                remaining = length
                while remaining > 0:
                    piece = self.rfile.read(min(PIECE, remaining))
                    if not piece:
                        break
                    remaining -= len(piece)

            def _forward(self, request: ProxiedRequest, length: int) -> tuple[int, dict[str, str], bytes]:
                upstream = http.client.HTTPConnection(LOOPBACK, proxy.upstream_port, timeout=UPSTREAM_TIMEOUT)
                try:
                    upstream.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        if name.lower() not in HOP_BY_HOP:
                            upstream.putheader(name, value)
                    upstream.endheaders()
                    remaining = length
                    while remaining > 0:
                        piece = self.rfile.read(min(PIECE, remaining))
                        if not piece:
                            break
                        upstream.send(piece)
                        remaining -= len(piece)
                    response = upstream.getresponse()
                    body = response.read()
                    reply_headers = {
                        name: value for name, value in response.getheaders() if name.lower() not in HOP_BY_HOP
                    }
                    return response.status, reply_headers, body
                finally:
                    upstream.close()

            def _fail(self, fault: Fault) -> None:
                if fault.status == 0:
                    self.close_connection = True
                    return
                self._answer(fault.status, fault.reply_headers(), fault.body)

            def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() != "content-length" or self.command == "HEAD":
                        self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(body)))
                elif "content-length" not in {name.lower() for name in headers}:
                    self.send_header("Content-Length", "0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _reset_connection(self) -> None:
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
