"""Blob uploads: open a session, send the bytes in one request or in chunks, then commit with the digest.

A blob goes in one PUT when it fits in the chunk size, and in PATCH requests of the chunk size otherwise, or
after the registry rejected a blob sent in one request. plume tracks the offset itself, sends it in
`Content-Range` on every chunk, and checks it against the `Range` the registry returns. When a proxy in
front of the registry rejects a request as too large (413), plume halves the chunk size and sends that
part again, down to MIN_CHUNK_SIZE.

The upload is retried as one step, resuming where it stopped:
- after a failed chunk, the session's status (GET on its URL) returns how many bytes arrived. A registry
  that lost the session returns 404, and the upload starts again in a new session;
- after a failed commit, a HEAD request shows whether the blob arrived anyway; if not, a blob sent whole
  starts again in a new session, and a chunked one continues in its session while the registry keeps it.
The requests that can be repeated alone (opening a session, HEAD, status) are retried on their own.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import requests

from plugin.errors import PublishError
from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.publish.registry.auth import Scopes
from plugin.publish.registry.transport import RegistryTransport, registry_error
from plugin.publish.retry import ATTEMPTS, with_retries
from plugin.sizes import human_size

log = logging.getLogger(__name__)

# Bytes. Most layers of a static binary fit in one request. A larger blob goes in chunks of this size, so
# a failed chunk costs at most this much to send again.
DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024
BLOB_CONTENT_TYPE = "application/octet-stream"
MIN_CHUNK_SIZE = 64 * 1024  # bytes; smaller chunks only add requests
TOO_LARGE = 413
# Statuses that reject a blob sent whole and mean "send it in chunks": a body size limit (413), or a
# registry that does not take a body in the closing PUT (405).
WHOLE_BLOB_REJECTIONS = frozenset({405, TOO_LARGE})
CHUNK_MIN_LENGTH_HEADER = "OCI-Chunk-Min-Length"
MAX_LOST_SESSIONS = ATTEMPTS  # sessions of one blob the registry may drop before plume gives up
_RANGE = re.compile(r"^(?:bytes=)?0-(\d+)$")


class UploadOutOfStep(PublishError):
    """The registry has a different number of bytes than plume sent, so the next attempt requests the offset."""

    temporary = True


class FileSlice:
    """`length` bytes of an open file from `start`: a request body that streams one chunk from disk."""

    def __init__(self, stream: BinaryIO, start: int, length: int) -> None:
        self._stream = stream
        self._start = start
        self._length = length
        self._position = 0
        stream.seek(start)

    def __len__(self) -> int:
        return self._length

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise OSError("a chunk can only be rewound to its start")
        self._stream.seek(self._start)
        self._position = 0
        return 0

    def read(self, size: int = -1) -> bytes:
        remaining = self._length - self._position
        if size < 0 or size > remaining:
            size = remaining
        data = self._stream.read(size)
        self._position += len(data)
        return data


def range_end(header: str | None) -> int | None:
    """Return the last byte offset in a `Range: 0-N` header, or None when it is missing or unreadable."""
    match = _RANGE.match((header or "").strip())
    return int(match.group(1)) if match else None


def with_digest(url: str, digest: Digest) -> str:
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}digest={digest}"


@dataclass
class UploadState:
    """The state of one blob's upload, kept across attempts."""

    location: str | None  # the session URL for the next request; None when no session is open
    chunked: bool
    chunk_size: int
    offset: int = 0  # bytes the registry has received in this session
    sessions_lost: int = 0  # sessions the registry dropped, so that the chunks started again
    commit_sent: bool = False  # a commit was sent and its outcome is unknown
    failed: bool = False  # the previous attempt failed


class BlobUploader:
    """Uploads blobs into one repository."""

    def __init__(
        self, transport: RegistryTransport, repository_url: str, scopes: Scopes, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        self.transport = transport
        self.repository_url = repository_url
        self.scopes = scopes
        self.chunk_size = chunk_size
        self.whole_blobs_rejected = False  # set once the registry rejected a blob sent whole: chunks from then on

    def upload(self, blob: Blob, session_url: str | None = None) -> None:
        """Upload `blob`, into the already open session at `session_url` when given."""
        chunked = self.whole_blobs_rejected or blob.size > self.chunk_size
        state = UploadState(session_url, chunked, self.chunk_size)

        def attempt() -> None:
            try:
                self._advance(blob, state)
            except Exception:
                state.failed = True
                raise

        def position() -> tuple[int, int, bool]:
            """Return where a failure happened: the session, and the chunk or the commit in it.

            Each position gets its own attempts."""
            return state.sessions_lost, state.offset, state.commit_sent

        with_retries(attempt, f"upload of blob {blob.digest.short}", position=position)

    def blob_exists(self, digest: Digest) -> bool:
        url = f"{self.repository_url}/blobs/{digest}"

        def head() -> requests.Response:
            return self.transport.checked(self.transport.request("HEAD", url, self.scopes), (200, 404))

        return with_retries(head, f"HEAD {url}").status_code == 200

    def _advance(self, blob: Blob, state: UploadState) -> None:
        if state.failed:
            state.failed = False
            if self._recover(blob, state):
                return
        if state.location is None:
            self._open_session(state)
        if state.chunked:
            self._send_chunks(blob, state)
            self.transport.checked(self._commit(blob, state, whole=False), (201,))
            return

        response = self._commit(blob, state, whole=True)
        if response.status_code in WHOLE_BLOB_REJECTIONS:
            self._switch_to_chunks(response, blob, state)
            self._advance(blob, state)
            return
        self.transport.checked(response, (201,))

    def _recover(self, blob: Blob, state: UploadState) -> bool:
        """Find out what the failed attempt left behind; return True when the blob is already in place.

        After a failed commit the blob may have arrived anyway. If not, a blob sent whole starts again in a
        new session, and a chunked one continues in its session when the registry still has it.
        """
        if state.commit_sent:
            state.commit_sent = False
            if self.blob_exists(blob.digest):
                log.info("blob %s: the registry has it although its commit failed", blob.digest.short)
                return True
            if not state.chunked:
                state.location = None
        if state.chunked and state.location is not None:
            self._resume_point(blob, state)
        return False

    def _open_session(self, state: UploadState) -> None:
        url = f"{self.repository_url}/blobs/uploads/"

        def post() -> requests.Response:
            return self.transport.checked(self.transport.request("POST", url, self.scopes), (202,))

        response = with_retries(post, f"POST {url}")
        state.location = self.session_location(response)
        state.offset = 0
        minimum = response.headers.get(CHUNK_MIN_LENGTH_HEADER, "")
        if minimum.isdigit():
            state.chunk_size = max(self.chunk_size, int(minimum))

    def session_location(self, response: requests.Response) -> str:
        location = response.headers.get("Location")
        if not location:
            method = response.request.method or "?"
            raise PublishError(f"{method} {response.url} returned {response.status_code} without a Location header")
        return urljoin(response.url, location)

    def _resume_point(self, blob: Blob, state: UploadState) -> None:
        """Ask the registry how many bytes of the session it holds, or start over when it lost the session."""
        assert state.location is not None
        location = state.location

        def status() -> requests.Response:
            return self.transport.checked(self.transport.request("GET", location, self.scopes), (200, 204, 404))

        response = with_retries(status, f"status of the upload of blob {blob.digest.short}")
        end = range_end(response.headers.get("Range"))
        if response.status_code == 404 or end is None:
            state.location, state.offset = None, 0
            state.sessions_lost += 1
            if state.sessions_lost >= MAX_LOST_SESSIONS:
                raise PublishError(
                    f"the registry lost the upload session of blob {blob.digest.short} {state.sessions_lost} times"
                )
            log.warning("blob %s: the registry lost the upload session; starting again", blob.digest.short)
            return
        # NOTE: the distribution registry returns "0-0" for an empty session, although it could mean one byte.
        # Chunks are far larger than one byte, so plume reads it as empty.
        state.offset = 0 if end == 0 else end + 1
        state.location = self.session_location(response) if "Location" in response.headers else location

    def _send_chunks(self, blob: Blob, state: UploadState) -> None:
        with blob.open() as stream:
            while state.offset < blob.size:
                self._send_chunk(stream, blob, state)

    def _send_chunk(self, stream: BinaryIO, blob: Blob, state: UploadState) -> None:
        assert state.location is not None
        start = state.offset
        length = min(state.chunk_size, blob.size - start)
        headers = {
            "Content-Type": BLOB_CONTENT_TYPE,
            "Content-Length": str(length),
            "Content-Range": f"{start}-{start + length - 1}",
        }
        response = self.transport.request(
            "PATCH", state.location, self.scopes, data=FileSlice(stream, start, length), headers=headers
        )
        if response.status_code == 416:
            raise UploadOutOfStep(f"PATCH of blob {blob.digest.short} at byte {start} returned 416")
        if response.status_code == TOO_LARGE:
            self._shrink_chunks(response, length, state)
            return
        self.transport.checked(response, (202,))

        state.location = self.session_location(response)
        state.offset = start + length
        end = range_end(response.headers.get("Range"))
        if end is not None and end + 1 != state.offset:
            raise UploadOutOfStep(
                f"blob {blob.digest.short}: the registry reports {end + 1} bytes received, plume sent {state.offset}"
            )

    def _commit(self, blob: Blob, state: UploadState, whole: bool) -> requests.Response:
        """Send the closing PUT with the digest, carrying the whole blob when `whole`."""
        assert state.location is not None
        url = with_digest(state.location, blob.digest)
        state.commit_sent = True
        if not whole or blob.size == 0:
            return self.transport.request("PUT", url, self.scopes, data=b"", headers={"Content-Length": "0"})
        headers = {"Content-Type": BLOB_CONTENT_TYPE, "Content-Length": str(blob.size)}
        with blob.open() as body:
            return self.transport.request("PUT", url, self.scopes, data=body, headers=headers)

    def _switch_to_chunks(self, response: requests.Response, blob: Blob, state: UploadState) -> None:
        """Send this blob, and every later one, in chunks in a new session; after a 413, in smaller chunks."""
        if response.status_code == TOO_LARGE:
            self._shrink_chunks(response, blob.size, state)
        elif not self.whole_blobs_rejected:
            log.warning(
                "%s rejected blob %s sent in one request (%d); sending blobs in chunks from now on",
                self._registry,
                blob.digest.short,
                response.status_code,
            )
        self.whole_blobs_rejected = True
        state.chunked, state.location, state.commit_sent = True, None, False

    def _shrink_chunks(self, response: requests.Response, rejected_size: int, state: UploadState) -> None:
        """Halve the chunk size below a request body that was rejected as too large, or raise at the minimum."""
        if rejected_size <= MIN_CHUNK_SIZE:
            detail = (
                f"even a request of {human_size(rejected_size)} is too large for the registry or a proxy in front "
                "of it: raise its body size limit, such as nginx's client_max_body_size"
            )
            raise registry_error(response, detail)
        state.chunk_size = max(MIN_CHUNK_SIZE, min(state.chunk_size, rejected_size // 2))
        self.chunk_size = min(self.chunk_size, state.chunk_size)
        log.warning(
            "%s rejected a request of %s as too large (413); sending chunks of %s",
            self._registry,
            human_size(rejected_size),
            human_size(state.chunk_size),
        )

    @property
    def _registry(self) -> str:
        return urlsplit(self.repository_url).netloc
