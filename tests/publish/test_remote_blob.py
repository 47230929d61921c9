"""Blobs streamed from one registry to another: the GET, Range requests, digest checks and the upload length."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from plugin.oci.digest import Digest
from plugin.oci.models import Descriptor
from plugin.publish.registry.client import RegistryClient
from plugin.publish.registry.pull import BlobStreamError, open_remote_blob, remote_blob
from tests.publish.conftest import RecordingServer, Reply

CONTENT = bytes(range(256)) * 64
DESCRIPTOR = Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", Digest.of_bytes(CONTENT), len(CONTENT))
BLOB_PATH = f"/v2/base/blobs/{DESCRIPTOR.digest}"


@pytest.fixture
def destination_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    server.start()
    yield server
    server.stop()


def test_blob_streams_with_one_get(recording_server: RecordingServer) -> None:
    recording_server.replies = [Reply(200, body=CONTENT)]

    with open_remote_blob(RegistryClient(recording_server.url, "base"), DESCRIPTOR) as stream:
        data = stream.read()

    assert data == CONTENT
    (get,) = recording_server.requests
    assert (get.method, get.path) == ("GET", BLOB_PATH)
    assert "range" not in get.headers


def test_blob_with_other_content_fails(recording_server: RecordingServer) -> None:
    recording_server.replies = [Reply(200, body=CONTENT[::-1])]

    with (
        open_remote_blob(RegistryClient(recording_server.url, "base"), DESCRIPTOR) as stream,
        pytest.raises(BlobStreamError, match="does not match its digest"),
    ):
        stream.read()


def test_blob_cut_short_fails(recording_server: RecordingServer) -> None:
    recording_server.replies = [Reply(200, body=CONTENT[:100])]

    with (
        open_remote_blob(RegistryClient(recording_server.url, "base"), DESCRIPTOR) as stream,
        pytest.raises(BlobStreamError, match=f"ended after 100 of {len(CONTENT)} bytes"),
    ):
        stream.read()


def test_seek_sends_range_request(recording_server: RecordingServer) -> None:
    offset = 1000
    recording_server.replies = [Reply(206, body=CONTENT[offset:])]

    with open_remote_blob(RegistryClient(recording_server.url, "base"), DESCRIPTOR) as stream:
        stream.seek(offset)
        data = stream.read()

    assert data == CONTENT[offset:]
    (get,) = recording_server.requests
    assert get.headers["range"] == f"bytes={offset}-"


def test_ignored_range_skips_to_offset(recording_server: RecordingServer) -> None:
    offset = 1000
    recording_server.replies = [Reply(200, body=CONTENT)]

    with open_remote_blob(RegistryClient(recording_server.url, "base"), DESCRIPTOR) as stream:
        stream.seek(offset)
        data = stream.read()

    assert data == CONTENT[offset:]


def test_remote_blob_upload_sends_length(
    recording_server: RecordingServer, destination_server: RecordingServer
) -> None:
    recording_server.replies = [Reply(200, body=CONTENT)]
    destination_server.replies = [Reply(202, {"Location": "/v2/app/blobs/uploads/session-1"}), Reply(201)]
    blob = remote_blob(RegistryClient(recording_server.url, "base"), DESCRIPTOR)

    RegistryClient(destination_server.url, "app").upload_blob(blob)

    _, put = destination_server.requests
    assert put.headers["content-length"] == str(len(CONTENT))
    assert "transfer-encoding" not in put.headers
    assert put.body_sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert [request.method for request in recording_server.requests] == ["GET"]
