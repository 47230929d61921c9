"""Blobs read from a registry as streams, to copy a base image's layers to a destination without a local copy.

Each open starts one streaming GET; the bytes flow to the destination as they arrive, so memory stays flat
whatever the blob's size. A stream read from its first byte to its last is checked against the blob's
digest, and a mismatch fails the upload before a directory or bucket stores the bytes under that digest.
"""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

import requests
import urllib3

from plugin.errors import PublishError
from plugin.oci.content import READ_CHUNK, Blob
from plugin.oci.models import Descriptor
from plugin.publish.registry.client import RegistryClient


class BlobStreamError(PublishError):
    """A blob stream that broke off, or whose bytes do not match its digest."""


class RemoteBlobReader(io.RawIOBase):
    """A blob of a registry as a seekable binary stream.

    Seeking only moves the position, so `requests` may seek to the end to learn the length at no cost. When
    the open GET is at another byte, the next read opens a new GET from the position (a Range request).
    """

    def __init__(self, client: RegistryClient, descriptor: Descriptor) -> None:
        super().__init__()
        self._client = client
        self._descriptor = descriptor
        self._response: requests.Response | None = None
        self._position = 0  # where the caller reads next
        self._stream_position = 0  # the offset of the next byte the open response delivers
        self._sha256 = hashlib.sha256()
        self._hashed = 0  # bytes hashed in order from the first byte

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        starts = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._descriptor.size}
        target = starts[whence] + offset
        if target < 0:
            raise ValueError(f"negative position {target} in blob {self._descriptor.digest.short}")
        self._position = target
        return target

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        remaining = self._descriptor.size - self._position
        if remaining <= 0:
            return 0
        if self._response is None or self._stream_position != self._position:
            self._open_at_position()

        data = self._read_response(min(len(buffer), remaining))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        super().close()

    def _open_at_position(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = self._client.open_blob(self._descriptor.digest, self._position)
        # A registry that ignores the Range header sends the blob from its first byte: skip to the position.
        self._stream_position = self._position if self._response.status_code == 206 else 0
        while self._stream_position < self._position:
            self._read_response(min(READ_CHUNK, self._position - self._stream_position))

    def _read_response(self, size: int) -> bytes:
        assert self._response is not None
        digest = self._descriptor.digest
        try:
            data: bytes = self._response.raw.read(size)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = BlobStreamError(f"reading blob {digest} from {self._client.base_url} failed: {exc}")
            error.temporary = True
            raise error from exc
        if not data:
            error = BlobStreamError(
                f"blob {digest} from {self._client.base_url} ended after {self._stream_position} of "
                f"{self._descriptor.size} bytes"
            )
            error.temporary = True
            raise error

        if self._hashed == self._stream_position:
            self._sha256.update(data)
            self._hashed += len(data)
        self._stream_position += len(data)
        actual = self._sha256.hexdigest() if self._hashed == self._descriptor.size else digest.hex
        if actual != digest.hex:
            raise BlobStreamError(f"blob {digest} from {self._client.base_url} does not match its digest: got {actual}")
        return data


def open_remote_blob(client: RegistryClient, descriptor: Descriptor) -> BinaryIO:
    return io.BufferedReader(RemoteBlobReader(client, descriptor), READ_CHUNK)


def remote_blob(client: RegistryClient, descriptor: Descriptor) -> Blob:
    """Make a blob whose bytes are streamed from `client`'s repository each time it is opened."""
    return Blob(descriptor, opener=lambda: open_remote_blob(client, descriptor))
