"""S3Store: what it sends on the wire (recording server) and how it works with a real S3 store (SeaweedFS)."""

from __future__ import annotations

import hashlib
import logging
import os
import tracemalloc
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from plugin.errors import StoreError
from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.models import Descriptor
from plugin.publish.s3 import S3Store
from plugin.publish.static import BLOB_CONTENT_TYPE, IMMUTABLE_CACHE, MUTABLE_CACHE, blob_key
from tests.publish.conftest import ACCESS_KEY, PUBLIC_BUCKET, SECRET_KEY, RecordingServer, Reply
from tests.rig.processes import LOOPBACK, free_port
from tests.rig.seaweed import REGION, SeaweedS3

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MIB = 1024 * 1024


def blob_file(directory: Path, size: int) -> Blob:
    """A blob of random bytes kept in a file, as the builder leaves layers on disk."""
    data = os.urandom(size)
    path = directory / "layer.bin"
    path.write_bytes(data)
    return Blob(Descriptor(BLOB_CONTENT_TYPE, Digest.of_bytes(data), size), path=path)


def local_store(endpoint: str, bucket: str = PUBLIC_BUCKET, secret_key: str = SECRET_KEY, prefix: str = "") -> S3Store:
    return S3Store(endpoint, bucket, REGION, ACCESS_KEY, secret_key, prefix=prefix)


def anonymous_get(seaweed: SeaweedS3, key: str) -> requests.Response:
    """GET a key of the public bucket without credentials, as `docker pull` through a website endpoint would."""
    encoded = quote(key, safe="/")
    return requests.get(f"{seaweed.endpoint}/{PUBLIC_BUCKET}/{encoded}", timeout=10)


def one_line_without_secret(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    assert SECRET_KEY not in text
    return text


# What S3Store sends, seen by a recording HTTP server.


def test_blob_hash_header_matches_sent_bytes(recording_server: RecordingServer, tmp_path: Path) -> None:
    blob = blob_file(tmp_path, 3 * MIB + 123)  # several 1 MiB chunks, and a short last one
    store = local_store(recording_server.url, "bucket", prefix="reg")

    store.write_blob(blob_key("app", blob.digest), blob, BLOB_CONTENT_TYPE, IMMUTABLE_CACHE)

    [sent] = recording_server.requests
    assert sent.method == "PUT"
    assert sent.path == f"/bucket/reg/v2/app/blobs/sha256%3A{blob.digest.hex}"
    assert "transfer-encoding" not in sent.headers
    assert sent.headers["content-length"] == str(blob.size)
    assert sent.body_size == blob.size
    assert sent.body_sha256 == blob.digest.hex
    assert sent.headers["x-amz-content-sha256"] == sent.body_sha256
    assert sent.headers["content-type"] == BLOB_CONTENT_TYPE
    assert sent.headers["cache-control"] == IMMUTABLE_CACHE


def test_bytes_hash_header_matches_sent_bytes(recording_server: RecordingServer) -> None:
    store = local_store(recording_server.url, "bucket")

    store.write_bytes("v2/app/manifests/latest", b'{"schemaVersion":2}', INDEX_TYPE, MUTABLE_CACHE)

    [sent] = recording_server.requests
    assert sent.body_sha256 == hashlib.sha256(b'{"schemaVersion":2}').hexdigest()
    assert sent.headers["x-amz-content-sha256"] == sent.body_sha256
    assert sent.headers["content-length"] == str(len(b'{"schemaVersion":2}'))


def test_empty_blob_sent_with_length_zero(recording_server: RecordingServer) -> None:
    blob = Blob(Descriptor(BLOB_CONTENT_TYPE, Digest.of_bytes(b""), 0), data=b"")
    store = local_store(recording_server.url, "bucket")

    store.write_blob(blob_key("app", blob.digest), blob, BLOB_CONTENT_TYPE, IMMUTABLE_CACHE)

    [sent] = recording_server.requests
    assert "transfer-encoding" not in sent.headers
    assert sent.headers["content-length"] == "0"
    assert sent.headers["x-amz-content-sha256"] == sent.body_sha256


def test_blob_upload_memory_stays_flat(recording_server: RecordingServer, tmp_path: Path) -> None:
    blob = blob_file(tmp_path, 32 * MIB)
    store = local_store(recording_server.url, "bucket")

    tracemalloc.start()
    try:
        store.write_blob(blob_key("app", blob.digest), blob, BLOB_CONTENT_TYPE, IMMUTABLE_CACHE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert recording_server.requests[0].body_sha256 == blob.digest.hex
    assert peak < 8 * MIB, f"uploading a 32 MiB blob allocated up to {peak / MIB:.1f} MiB"


def test_temporary_error_retried(recording_server: RecordingServer) -> None:
    recording_server.replies = [Reply(503, {"Retry-After": "0"})]
    store = local_store(recording_server.url, "bucket")

    store.write_bytes("v2/app/tags/list", b"{}", "application/json", MUTABLE_CACHE)

    assert [sent.method for sent in recording_server.requests] == ["PUT", "PUT"]
    assert recording_server.requests[1].body_sha256 == hashlib.sha256(b"{}").hexdigest()


def test_last_temporary_error_raised(recording_server: RecordingServer) -> None:
    recording_server.replies = [Reply(503, {"Retry-After": "0"}) for _ in range(10)]
    store = local_store(recording_server.url, "bucket")

    with pytest.raises(StoreError) as raised:
        store.exists("v2/app/tags/list")

    assert raised.value.temporary
    assert getattr(raised.value, "retry_after", None) == 0.0
    assert "HEAD s3://bucket/v2/app/tags/list: HTTP 503" in one_line_without_secret(raised.value)
    assert len(recording_server.requests) == 5


def test_error_code_in_message(recording_server: RecordingServer) -> None:
    body = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Access\n Denied</Message></Error>"
    recording_server.replies = [Reply(403, {"Content-Type": "application/xml"}, body)]
    store = local_store(recording_server.url, "bucket")

    with pytest.raises(StoreError) as raised:
        store.write_bytes("v2/app/tags/list", b"{}", "application/json", MUTABLE_CACHE)

    assert not raised.value.temporary
    assert (
        one_line_without_secret(raised.value)
        == "PUT s3://bucket/v2/app/tags/list: HTTP 403 AccessDenied: Access Denied"
    )
    assert len(recording_server.requests) == 1


@pytest.mark.usefixtures("fast_retries")
def test_check_unreachable_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    endpoint = f"http://{LOOPBACK}:{free_port()}"
    store = local_store(endpoint)

    with caplog.at_level(logging.DEBUG), pytest.raises(StoreError) as raised:
        store.check()

    message = one_line_without_secret(raised.value)
    assert f"cannot connect to {endpoint}" in message
    assert "PLUGIN_S3_ENDPOINT" in message
    assert SECRET_KEY not in caplog.text


def test_label_and_repr_hide_secret() -> None:
    store = local_store("http://127.0.0.1:3900/", prefix="/registry/")

    assert store.label == f"s3://{PUBLIC_BUCKET}/registry at http://127.0.0.1:3900"
    assert SECRET_KEY not in repr(store)
    assert SECRET_KEY not in repr(vars(store))


# Against a real SeaweedFS S3 gateway.


def test_round_trip_keeps_headers(seaweed: SeaweedS3) -> None:
    store = local_store(seaweed.endpoint, prefix="round-trip")
    key = "v2/app/manifests/latest"
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'

    store.write_bytes(key, body, INDEX_TYPE, MUTABLE_CACHE)

    assert store.exists(key)
    assert store.read(key) == body
    public = anonymous_get(seaweed, f"round-trip/{key}")
    assert public.status_code == 200
    assert public.content == body
    assert public.headers["Content-Type"] == INDEX_TYPE
    assert public.headers["Cache-Control"] == MUTABLE_CACHE


def test_missing_key(seaweed: SeaweedS3) -> None:
    store = local_store(seaweed.endpoint, prefix="missing")

    assert not store.exists("v2/app/manifests/never-written")
    assert store.read("v2/app/manifests/never-written") is None


def test_blob_from_file(seaweed: SeaweedS3, tmp_path: Path) -> None:
    blob = blob_file(tmp_path, 5 * MIB)
    store = local_store(seaweed.endpoint, prefix="blobs")
    key = blob_key("app", blob.digest)

    store.write_blob(key, blob, BLOB_CONTENT_TYPE, IMMUTABLE_CACHE)

    assert store.exists(key)
    public = anonymous_get(seaweed, f"blobs/{key}")
    assert public.status_code == 200
    assert len(public.content) == blob.size
    assert hashlib.sha256(public.content).hexdigest() == blob.digest.hex
    assert public.headers["Cache-Control"] == IMMUTABLE_CACHE


def test_check_passes(seaweed: SeaweedS3) -> None:
    local_store(seaweed.endpoint, prefix="check").check()


def test_check_wrong_secret(seaweed: SeaweedS3, caplog: pytest.LogCaptureFixture) -> None:
    store = local_store(seaweed.endpoint, secret_key=SECRET_KEY + "-wrong")

    with caplog.at_level(logging.DEBUG), pytest.raises(StoreError) as raised:
        store.check()

    message = one_line_without_secret(raised.value)
    assert "rejected the credentials" in message
    assert "PLUGIN_S3_ACCESS_KEY" in message
    assert "PLUGIN_S3_SECRET_KEY" in message
    assert SECRET_KEY not in caplog.text


def test_check_unknown_access_key(seaweed: SeaweedS3) -> None:
    store = S3Store(seaweed.endpoint, PUBLIC_BUCKET, REGION, "nobody", SECRET_KEY)

    with pytest.raises(StoreError) as raised:
        store.check()

    assert "PLUGIN_S3_ACCESS_KEY" in one_line_without_secret(raised.value)


def test_check_missing_bucket(seaweed: SeaweedS3) -> None:
    store = local_store(seaweed.endpoint, bucket="no-such-bucket")

    with pytest.raises(StoreError) as raised:
        store.check()

    message = one_line_without_secret(raised.value)
    assert "bucket 'no-such-bucket' not found" in message
    assert "PLUGIN_S3_BUCKET" in message


def test_read_in_missing_bucket_raises(seaweed: SeaweedS3) -> None:
    store = local_store(seaweed.endpoint, bucket="no-such-bucket")

    with pytest.raises(StoreError, match="NoSuchBucket"):
        store.read("v2/app/tags/list")


def test_write_with_wrong_secret_hides_it(seaweed: SeaweedS3, caplog: pytest.LogCaptureFixture) -> None:
    store = local_store(seaweed.endpoint, secret_key=SECRET_KEY + "-wrong")

    with caplog.at_level(logging.DEBUG), pytest.raises(StoreError) as raised:
        store.write_bytes("v2/app/tags/list", b"{}", "application/json", MUTABLE_CACHE)

    assert "HTTP 403" in one_line_without_secret(raised.value)
    assert SECRET_KEY not in caplog.text
