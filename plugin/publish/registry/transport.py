"""Sending one request to a registry: the Authorization header, one 401 challenge, and redirects.

The Authorization header only goes to the registry's own origin (scheme, host and port). A redirect or an
upload `Location` on another host, such as a storage backend or a CDN, gets the request without it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import BinaryIO, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from plugin.errors import PublishError, RegistryError
from plugin.publish.registry.auth import Credentials, RegistryAuth, Scopes
from plugin.publish.retry import DeadlineExceeded, deadline_seconds, retry_after_seconds, time_left

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 60.0  # seconds without a byte from the registry before a request counts as failed
MIN_REQUEST_TIMEOUT = 1.0  # seconds a request may wait even when the overall deadline is closer than that
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Redirects that keep the method and body; the others turn a request into a GET, so only reads follow them.
BODY_KEEPING_REDIRECTS = frozenset({307, 308})
READ_METHODS = frozenset({"GET", "HEAD"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class Rewindable(Protocol):
    """A request body that can be sent again from its start."""

    def read(self, size: int = -1) -> bytes: ...

    def seek(self, offset: int, whence: int = 0) -> int: ...


RequestBody = bytes | BinaryIO | Rewindable | None


class RegistryUnreachable(PublishError):
    """A request that got no answer: the connection failed, was reset or timed out. Worth retrying, except
    after a failed TLS handshake, which fails the same way every time (often a plain-HTTP registry)."""

    def __init__(self, method: str, url: str, cause: requests.RequestException) -> None:
        self.temporary = not isinstance(cause, requests.exceptions.SSLError)
        if isinstance(cause, requests.exceptions.SSLError):
            reason = "the TLS handshake failed"
        elif isinstance(cause, requests.Timeout):
            reason = "timed out"
        else:
            reason = "could not connect or lost the connection"
        super().__init__(
            f"{method} {url} failed: {reason} ({type(cause).__name__}); check the registry host in "
            "PLUGIN_REPO or PLUGIN_REGISTRY, and PLUGIN_INSECURE for a plain-HTTP registry"
        )


def without_query(url: str) -> str:
    """Return the URL without its query, which may contain an upload session's state or a signature."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port, with the scheme's default port filled in: what decides where credentials go."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def registry_error(response: requests.Response, detail: str = "") -> RegistryError:
    """A RegistryError from an answer, with the registry's error codes and any Retry-After it asked for."""
    codes: list[str] = []
    with contextlib.suppress(ValueError, AttributeError):
        codes = [str(e.get("code")) for e in response.json().get("errors", []) if isinstance(e, dict)]
    method = response.request.method or "?"
    error = RegistryError(method, without_query(response.url), response.status_code, codes, detail)
    error.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    return error


def rewind(body: RequestBody) -> None:
    if body is not None and not isinstance(body, bytes):
        body.seek(0)


class RegistryTransport:
    """Sends requests to one registry with the right credentials for each."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        session: requests.Session,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = timeout
        self.auth = RegistryAuth(urlsplit(self.base_url).netloc, credentials, session, timeout)
        self._origin = origin(self.base_url)

    def request(
        self,
        method: str,
        url: str,
        scopes: Scopes,
        data: RequestBody = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send once with the header for `scopes`; on a 401 from the registry, respond to its challenge and resend.

        With `stream`, the final response's body is left unread for the caller, who must close it.

        Raises DeadlineExceeded once the overall deadline has passed, without sending.
        """
        if time_left() == 0.0:
            raise DeadlineExceeded(f"{method} {without_query(url)}", deadline_seconds())
        authorization = self.auth.header(scopes)
        response = self._send_following_redirects(method, url, authorization, data, headers, stream)
        challenge = response.headers.get("WWW-Authenticate")
        if response.status_code != 401 or not challenge or not self.is_registry(response.url):
            return response

        if not self.auth.renew(challenge, scopes, authorization):
            return response
        response.close()
        rewind(data)
        return self._send_following_redirects(method, url, self.auth.header(scopes), data, headers, stream)

    def checked(self, response: requests.Response, expected: tuple[int, ...]) -> requests.Response:
        """Return `response` if its status is expected, or raise its RegistryError."""
        if response.status_code in expected:
            return response
        raise self.error(response)

    def error(self, response: requests.Response) -> RegistryError:
        """Build the RegistryError for an unexpected response, with what to check when it is 401 or 403."""
        detail = self.auth.refused_hint() if response.status_code in (401, 403) else ""
        return registry_error(response, detail)

    def is_registry(self, url: str) -> bool:
        return origin(url) == self._origin

    def _send_following_redirects(
        self,
        method: str,
        url: str,
        authorization: str | None,
        data: RequestBody,
        headers: dict[str, str] | None,
        stream: bool = False,
    ) -> requests.Response:
        for _ in range(MAX_REDIRECTS + 1):
            sent_authorization = authorization if self.is_registry(url) else None
            response = self._send(method, url, sent_authorization, data, headers, stream)
            location = response.headers.get("Location")
            if not location or not self._follows(method, response.status_code):
                return response
            response.close()
            url = urljoin(response.url, location)
            if response.status_code not in BODY_KEEPING_REDIRECTS and method != "HEAD":
                method, data = "GET", None
            rewind(data)
            log.debug("redirected to %s", without_query(url))
        raise PublishError(f"{method} {without_query(url)}: more than {MAX_REDIRECTS} redirects")

    @staticmethod
    def _follows(method: str, status: int) -> bool:
        if status not in REDIRECT_STATUSES:
            return False
        return method in READ_METHODS or status in BODY_KEEPING_REDIRECTS

    def _send(
        self,
        method: str,
        url: str,
        authorization: str | None,
        data: RequestBody,
        headers: dict[str, str] | None,
        stream: bool = False,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if authorization:
            all_headers["Authorization"] = authorization
        try:
            response = self.session.request(
                method,
                url,
                data=data,
                headers=all_headers,
                timeout=self._request_timeout(),
                allow_redirects=False,
                stream=stream,
            )
        except requests.RequestException as exc:
            raise RegistryUnreachable(method, without_query(url), exc) from exc
        log.debug("%s %s -> %d", method, without_query(url), response.status_code)
        return response

    def _request_timeout(self) -> float:
        left = time_left()
        return self.timeout if left is None else min(self.timeout, max(left, MIN_REQUEST_TIMEOUT))
