"""A small OCI distribution client: ping, blob existence, monolithic blob upload, manifest upload.

Each method is one protocol step. Single requests are retried by the shared policy; a blob upload (open a
session, then send the bytes) is retried as one step, because a failed PUT may have spent its session.
"""

from __future__ import annotations

import contextlib
import logging
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from plugin.errors import PublishError, RegistryError
from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import MANIFEST_TYPES
from plugin.oci.models import SerializedManifest
from plugin.publish.registry.auth import Credentials, RegistryAuth
from plugin.publish.retry import retry_after_seconds, with_retries

log = logging.getLogger(__name__)

RequestBody = bytes | BinaryIO | None

CREDENTIALS_REFUSED = "the credentials were refused: check PLUGIN_USERNAME and PLUGIN_PASSWORD"
REQUEST_TIMEOUT = 60.0  # seconds without a byte from the registry before a request counts as failed


def registry_error(response: requests.Response, detail: str = "") -> RegistryError:
    """A RegistryError from an answer, with the registry's error codes and any Retry-After it asked for."""
    codes: list[str] = []
    with contextlib.suppress(ValueError, AttributeError):
        codes = [str(e.get("code")) for e in response.json().get("errors", []) if isinstance(e, dict)]
    method = response.request.method or "?"
    error = RegistryError(method, _without_query(response.url), response.status_code, codes, detail)
    error.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    return error


class RegistryUnreachable(PublishError):
    """A request that got no answer: the connection failed, was reset or timed out. Worth retrying."""

    temporary = True

    def __init__(self, method: str, url: str, cause: requests.RequestException) -> None:
        reason = "timed out" if isinstance(cause, requests.Timeout) else "could not connect or lost the connection"
        super().__init__(
            f"{method} {url} failed: {reason} ({type(cause).__name__}); check the registry host in "
            "PLUGIN_REPO or PLUGIN_REGISTRY, and PLUGIN_INSECURE for a plain-HTTP registry"
        )


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class RegistryClient:
    """Talks to one repository of one registry."""

    def __init__(
        self,
        base_url: str,
        repository: str,
        credentials: Credentials | None = None,
        session: requests.Session | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.repository = repository
        self.session = session or requests.Session()
        self.timeout = timeout
        self.auth = RegistryAuth(urlsplit(self.base_url).netloc, credentials, self.session, timeout)
        self.scope = f"repository:{repository}:pull,push"

    def url(self, path: str) -> str:
        return f"{self.base_url}/v2/{self.repository}/{path}"

    def ping(self) -> None:
        """GET /v2/, answer any challenge, and prove the answer is accepted: a check that uploads nothing."""
        url = f"{self.base_url}/v2/"
        response = with_retries(lambda: self._checked(self._send("GET", url), (200, 401)), f"GET {url}")
        if response.status_code == 401:
            self.auth.answer(response.headers.get("WWW-Authenticate", ""), self.scope)
            response = with_retries(lambda: self._checked(self._send("GET", url), (200, 401)), f"GET {url}")
            if response.status_code == 401:
                raise registry_error(response, CREDENTIALS_REFUSED)

    def blob_exists(self, digest: Digest) -> bool:
        url = self.url(f"blobs/{digest}")
        response = with_retries(lambda: self._checked(self._request("HEAD", url), (200, 404)), f"HEAD {url}")
        return response.status_code == 200

    def upload_blob(self, blob: Blob) -> None:
        """Open an upload session and send the whole blob in one PUT, retried together as one step."""
        with_retries(lambda: self._upload_blob_once(blob), f"upload of blob {blob.digest.short}")

    def _upload_blob_once(self, blob: Blob) -> None:
        start = self._checked(self._request("POST", self.url("blobs/uploads/")), (202,))
        location = start.headers.get("Location")
        if not location:
            raise PublishError(f"POST {self.url('blobs/uploads/')} answered 202 without a Location header")

        upload_url = urljoin(start.url, location)
        separator = "&" if urlsplit(upload_url).query else "?"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)}
        with blob.open() as body:
            sent = self._request("PUT", f"{upload_url}{separator}digest={blob.digest}", data=body, headers=headers)
        self._checked(sent, (201,))

    def manifest_digest(self, reference: str, media_type: str) -> Digest | None:
        """The digest `reference` resolves to, from a HEAD request, or None when the registry has no such manifest."""
        url = self.url(f"manifests/{reference}")
        headers = {"Accept": media_type}
        response = with_retries(
            lambda: self._checked(self._request("HEAD", url, headers=headers), (200, 404)), f"HEAD {url}"
        )
        header = response.headers.get("Docker-Content-Digest", "")
        if response.status_code == 404 or not header:
            return None
        try:
            return Digest.parse(header)
        except ValueError:
            return None

    def get_manifest(self, reference: str) -> SerializedManifest | None:
        """The manifest or index `reference` resolves to, in either family, or None when there is none."""
        url = self.url(f"manifests/{reference}")
        headers = {"Accept": ", ".join(sorted(MANIFEST_TYPES))}
        response = with_retries(
            lambda: self._checked(self._request("GET", url, headers=headers), (200, 404)), f"GET {url}"
        )
        if response.status_code == 404:
            return None
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return SerializedManifest(media_type, response.content)

    def get_small_blob(self, digest: Digest) -> bytes | None:
        """A blob read whole into memory, such as an image config, or None when the registry has no such blob."""
        url = self.url(f"blobs/{digest}")
        response = with_retries(lambda: self._checked(self._request("GET", url), (200, 404)), f"GET {url}")
        return None if response.status_code == 404 else response.content

    def put_manifest(self, reference: str, manifest: SerializedManifest) -> Digest:
        """Upload manifest bytes under a digest or a tag; the Content-Type is the body's own media type."""
        url = self.url(f"manifests/{reference}")
        headers = {"Content-Type": manifest.media_type}
        with_retries(
            lambda: self._checked(self._request("PUT", url, data=manifest.body, headers=headers), (201,)),
            f"PUT {url}",
        )
        return manifest.digest

    def _request(
        self, method: str, url: str, data: RequestBody = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """Send with the current credentials; on a 401, answer the new challenge once and send again."""
        response = self._send(method, url, data, headers)
        if response.status_code == 401 and "WWW-Authenticate" in response.headers:
            self.auth.answer(response.headers["WWW-Authenticate"], self.scope)
            if data is not None and not isinstance(data, bytes):
                data.seek(0)
            response = self._send(method, url, data, headers)
        return response

    def _send(
        self, method: str, url: str, data: RequestBody = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        headers = dict(headers or {})
        if self.auth.header:
            headers["Authorization"] = self.auth.header
        try:
            response = self.session.request(method, url, data=data, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryUnreachable(method, _without_query(url), exc) from exc
        log.debug("%s %s -> %d", method, _without_query(url), response.status_code)
        return response

    @staticmethod
    def _checked(response: requests.Response, expected: tuple[int, ...]) -> requests.Response:
        if response.status_code not in expected:
            raise registry_error(response)
        return response

    @classmethod
    def for_pulling(
        cls, base_url: str, repository: str, credentials: Credentials | None = None
    ) -> RegistryClient:
        """Make a client that asks only for pull access, enough to read another repository's images."""
        client = cls(base_url, repository, credentials)
        client.scope = f"repository:{repository}:pull"
        return client

    def open_blob(self, digest: Digest, offset: int = 0) -> requests.Response:
        """Start a streaming GET of a blob from byte `offset`; the caller reads `response.raw` and closes it.

        The status is 200, or 206 when the registry honoured the Range header of a non-zero `offset`.
        """
        url = self.url(f"blobs/{digest}")
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        expected = (200, 206) if offset else (200,)

        def get() -> requests.Response:
            response = self._send_streaming(url, headers)
            if response.status_code == 401 and "WWW-Authenticate" in response.headers:
                response.close()
                self.auth.answer(response.headers["WWW-Authenticate"], self.scope)
                response = self._send_streaming(url, headers)
            if response.status_code not in expected:
                error = registry_error(response)
                response.close()
                raise error
            return response

        return with_retries(get, f"GET {url}")

    def _send_streaming(self, url: str, headers: dict[str, str]) -> requests.Response:
        headers = dict(headers)
        if self.auth.header:
            headers["Authorization"] = self.auth.header
        try:
            response = self.session.get(url, headers=headers, timeout=self.timeout, stream=True)
        except requests.RequestException as exc:
            raise RegistryUnreachable("GET", _without_query(url), exc) from exc
        log.debug("GET %s -> %d (streamed)", _without_query(url), response.status_code)
        return response
