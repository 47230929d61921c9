"""An S3 bucket as an ObjectStore, addressed path-style and signed with our SigV4 signer (Garage, SeaweedFS, AWS)."""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import quote, urlsplit

import requests

from plugin.errors import SettingsError, StoreError
from plugin.oci.content import Blob
from plugin.publish.retry import retry_after_seconds, with_retries
from plugin.publish.sigv4 import PAYLOAD_HASH_HEADER, SigV4Auth

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0  # seconds to connect, and between two reads or writes on the socket
MAX_DETAIL = 200  # characters of the store's error message kept in our one-line errors
CREDENTIAL_SETTINGS = "PLUGIN_S3_ACCESS_KEY and PLUGIN_S3_SECRET_KEY"
# S3 error codes for a signature made with an unknown key or a wrong secret. Garage returns AccessDenied for both.
REJECTED_CREDENTIAL_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch"})


class S3StatusError(StoreError):
    """An error response from the S3 API: its HTTP status, S3 error code and Retry-After wait in seconds."""

    def __init__(
        self, operation: str, key: str, status: int, code: str, detail: str, retry_after: float | None
    ) -> None:
        self.status = status
        self.code = code
        self.retry_after = retry_after
        super().__init__(operation, key, status_reason(status, code, detail), temporary=is_temporary_status(status))


def is_temporary_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def status_reason(status: int, code: str, detail: str) -> str:
    """Format an error response as `HTTP 403 AccessDenied: Access Denied`, leaving out the parts it lacks."""
    code_part = f" {code}" if code else ""
    detail_part = f": {detail}" if detail else ""
    return f"HTTP {status}{code_part}{detail_part}"


def s3_error_fields(response: requests.Response) -> tuple[str, str]:
    """Return the `Code` and `Message` of an S3 XML error body, or empty strings without one (as for HEAD)."""
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        return "", ""
    code = (root.findtext("Code") or "").strip()
    message = " ".join((root.findtext("Message") or "").split())
    return code, message[:MAX_DETAIL]


class BlobBody:
    """A blob as a request body. Its length makes requests send Content-Length, not chunked encoding."""

    def __init__(self, blob: Blob) -> None:
        self._blob = blob

    def __len__(self) -> int:
        return self._blob.size

    def __iter__(self) -> Iterator[bytes]:
        return self._blob.chunks()


RequestBody = bytes | BlobBody | None


class S3Store:
    """An S3 bucket, optionally under a key prefix, that stores the static registry's objects.

    Every request is signed, and retried on its own by `with_retries`. Only the signer keeps the secret key,
    and its repr leaves the key out.
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        region: str,
        access_key: str,
        secret_key: str,
        prefix: str = "",
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError("PLUGIN_S3_ENDPOINT", endpoint, "expected an http:// or https:// URL")
        if not bucket:
            raise SettingsError("PLUGIN_S3_BUCKET", bucket, "expected a bucket name")
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.region = region
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self._auth = SigV4Auth(access_key, secret_key, region)
        self._session = session or requests.Session()
        self._timeout = timeout

    @property
    def label(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/") + f" at {self.endpoint}"

    def __repr__(self) -> str:
        return f"S3Store({self.label})"

    def check(self) -> None:
        """List at most one key under the prefix, which proves the endpoint, the bucket and the credentials.

        NOTE: a key that may list but not write passes this check, and its first upload fails instead.
        """
        query = {"list-type": "2", "max-keys": "1", "prefix": self.prefix}
        try:
            response = self._send_with_retries("GET", "", query=query)
        except requests.RequestException as exc:
            reason = f"cannot connect to {self.endpoint} ({type(exc).__name__}); check PLUGIN_S3_ENDPOINT"
            raise StoreError("check", self.label, reason) from exc
        if response.status_code != 200:
            raise StoreError("check", self.label, self._check_failure(response))

    def exists(self, key: str) -> bool:
        response = self._send("HEAD", key)
        if response.status_code == 404:
            return False
        self._raise_unless_ok("HEAD", key, response)
        return True

    def read(self, key: str) -> bytes | None:
        response = self._send("GET", key)
        if response.status_code == 404 and s3_error_fields(response)[0] != "NoSuchBucket":
            return None
        self._raise_unless_ok("GET", key, response)
        return response.content

    def write_bytes(self, key: str, data: bytes, content_type: str, cache_control: str) -> None:
        headers = {
            "Content-Type": content_type,
            "Cache-Control": cache_control,
            "Content-Length": str(len(data)),
            PAYLOAD_HASH_HEADER: hashlib.sha256(data).hexdigest(),
        }
        response = self._send("PUT", key, headers=headers, body=lambda: data)
        self._raise_unless_ok("PUT", key, response)

    def write_blob(self, key: str, blob: Blob, content_type: str, cache_control: str) -> None:
        headers = {
            "Content-Type": content_type,
            "Cache-Control": cache_control,
            "Content-Length": str(blob.size),
            PAYLOAD_HASH_HEADER: blob.digest.hex,
        }
        # An empty blob goes as b"", because requests may frame a zero-length iterable body as chunked.
        body: Callable[[], RequestBody] = (lambda: BlobBody(blob)) if blob.size else (lambda: b"")
        response = self._send("PUT", key, headers=headers, body=body)
        self._raise_unless_ok("PUT", key, response)

    def _object_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def _url(self, key: str) -> str:
        """Return the path-style URL of a key, or of the bucket itself for an empty key."""
        path = f"/{self.bucket}/{self.prefix}{key}" if key else f"/{self.bucket}"
        return self.endpoint + quote(path, safe="/")

    def _send(
        self,
        method: str,
        key: str,
        headers: Mapping[str, str] | None = None,
        body: Callable[[], RequestBody] | None = None,
    ) -> requests.Response:
        """Send one request with retries. A connection failure on the last attempt raises StoreError."""
        try:
            return self._send_with_retries(method, key, headers=headers, body=body)
        except requests.RequestException as exc:
            reason = f"request to {self.endpoint} failed ({type(exc).__name__})"
            raise StoreError(method, self._object_uri(key), reason, temporary=True) from exc

    def _send_with_retries(
        self,
        method: str,
        key: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Callable[[], RequestBody] | None = None,
    ) -> requests.Response:
        """Send one request, retrying connection failures and 408, 429 and 5xx responses; return the response.

        `body` makes a fresh body for each attempt, because a streamed body can be read only once.
        """

        def attempt() -> requests.Response:
            response = self._session.request(
                method,
                self._url(key),
                params=query,
                headers=headers,
                data=body() if body else None,
                auth=self._auth,
                timeout=self._timeout,
            )
            log.debug("%s %s -> %d", method, self._object_uri(key), response.status_code)
            if is_temporary_status(response.status_code):
                raise self._status_error(method, key, response)
            return response

        return with_retries(attempt, f"{method} {self._object_uri(key)}")

    def _status_error(self, method: str, key: str, response: requests.Response) -> S3StatusError:
        code, message = s3_error_fields(response)
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return S3StatusError(method, self._object_uri(key), response.status_code, code, message, retry_after)

    def _raise_unless_ok(self, method: str, key: str, response: requests.Response) -> None:
        if not response.ok:
            raise self._status_error(method, key, response)

    def _check_failure(self, response: requests.Response) -> str:
        """Explain a failed check in one line that names the setting to fix."""
        code, message = s3_error_fields(response)
        detail = f": {message}" if message else ""
        if code in REJECTED_CREDENTIAL_CODES:
            return f"the store rejected the credentials ({code}); check {CREDENTIAL_SETTINGS}"
        if code == "AccessDenied" or response.status_code == 403:
            return (
                f"access denied to bucket {self.bucket!r} ({code or response.status_code}{detail}); check "
                f"{CREDENTIAL_SETTINGS}, and that the key may list and write the bucket"
            )
        if code == "NoSuchBucket":
            return f"bucket {self.bucket!r} not found at {self.endpoint}; check PLUGIN_S3_BUCKET"
        if code == "AuthorizationHeaderMalformed":
            return f"the store rejected region {self.region!r}{detail}; check PLUGIN_S3_REGION"
        return status_reason(response.status_code, code, message)
