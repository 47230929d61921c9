"""The registry client's protocol steps, against a recording HTTP server."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from plugin.errors import PublishError, RegistryError
from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import OCI_INDEX
from plugin.oci.models import Descriptor, SerializedManifest
from plugin.publish.registry.auth import Credentials
from plugin.publish.registry.client import RegistryClient
from tests.publish.conftest import RecordingServer, Reply

PASSWORD = "pa55-Wq81-never-shown"


def file_blob(tmp_path: Path, content: bytes) -> Blob:
    path = tmp_path / "layer.tar.gz"
    path.write_bytes(content)
    return Blob(Descriptor("application/octet-stream", Digest.of_bytes(content), len(content)), path=path)


def test_ping_answers_a_bearer_challenge_with_a_pull_push_token(recording_server: RecordingServer) -> None:
    realm = f"{recording_server.url}/token"
    challenge = f'Bearer realm="{realm}",service="registry.test",scope="repository:team/app:pull"'
    recording_server.replies = [
        Reply(401, {"WWW-Authenticate": challenge}),
        Reply(200, {"Content-Type": "application/json"}, json.dumps({"token": "tok-123"}).encode()),
        Reply(200),
    ]
    client = RegistryClient(recording_server.url, "team/app", Credentials("ci", PASSWORD))

    client.ping()

    ping, token, second_ping = recording_server.requests
    assert urlsplit(token.path).path == "/token"
    query = parse_qs(urlsplit(token.path).query)
    assert query == {"scope": ["repository:team/app:pull,push"], "service": ["registry.test"]}
    expected_basic = base64.b64encode(f"ci:{PASSWORD}".encode()).decode()
    assert token.headers["authorization"] == f"Basic {expected_basic}"
    assert "authorization" not in ping.headers
    assert second_ping.headers["authorization"] == "Bearer tok-123"


def test_ping_with_refused_credentials_names_the_settings(recording_server: RecordingServer) -> None:
    recording_server.replies = [
        Reply(401, {"WWW-Authenticate": 'Basic realm="test"'}),
        Reply(401, {"WWW-Authenticate": 'Basic realm="test"'}),
    ]
    client = RegistryClient(recording_server.url, "app", Credentials("ci", PASSWORD))

    with pytest.raises(RegistryError) as caught:
        client.ping()

    assert "PLUGIN_USERNAME and PLUGIN_PASSWORD" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_upload_resolves_a_relative_location_and_sends_a_length(
    recording_server: RecordingServer, tmp_path: Path
) -> None:
    content = b"layer bytes " * 1000
    blob = file_blob(tmp_path, content)
    recording_server.replies = [
        Reply(202, {"Location": "/v2/app/blobs/uploads/session-1?state=abc"}),
        Reply(201),
    ]
    RegistryClient(recording_server.url, "app").upload_blob(blob)

    start, put = recording_server.requests
    assert (start.method, start.path) == ("POST", "/v2/app/blobs/uploads/")
    assert put.method == "PUT"
    assert urlsplit(put.path).path == "/v2/app/blobs/uploads/session-1"
    assert parse_qs(urlsplit(put.path).query) == {"state": ["abc"], "digest": [str(blob.digest)]}
    assert put.headers["content-length"] == str(len(content))
    assert "transfer-encoding" not in put.headers
    assert put.body_sha256 == hashlib.sha256(content).hexdigest()


def test_manifest_content_type_is_its_media_type(recording_server: RecordingServer) -> None:
    index = SerializedManifest(OCI_INDEX, b'{"schemaVersion":2,"mediaType":"' + OCI_INDEX.encode() + b'"}')
    recording_server.replies = [Reply(201)]

    RegistryClient(recording_server.url, "app").put_manifest("latest", index)

    (put,) = recording_server.requests
    assert (put.method, put.path) == ("PUT", "/v2/app/manifests/latest")
    assert put.headers["content-type"] == OCI_INDEX
    assert put.body_sha256 == index.digest.hex


def test_registry_error_codes_reach_the_message(recording_server: RecordingServer) -> None:
    body = json.dumps({"errors": [{"code": "MANIFEST_INVALID", "message": "bad"}]}).encode()
    recording_server.replies = [Reply(400, {"Content-Type": "application/json"}, body)]
    index = SerializedManifest(OCI_INDEX, b"{}")

    with pytest.raises(RegistryError, match=r"PUT http://127\.0\.0\.1:\d+/v2/app/manifests/latest answered 400: "
                       "MANIFEST_INVALID"):
        RegistryClient(recording_server.url, "app").put_manifest("latest", index)


def test_tls_to_plain_http_fails_at_once(recording_server: RecordingServer, caplog: pytest.LogCaptureFixture) -> None:
    plain_http = recording_server.url.replace("http://", "https://")

    with pytest.raises(PublishError, match="the TLS handshake failed") as caught:
        RegistryClient(plain_http, "app").ping()

    assert caught.value.temporary is False
    assert "attempt 2" not in caplog.text, "a handshake that failed once is not tried again"
