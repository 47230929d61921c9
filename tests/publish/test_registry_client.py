"""The registry client against the real CNCF registry, with the fault proxy in between to choose what fails."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from plugin.errors import PublishError, RegistryError
from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import DOCKER_MANIFEST, OCI_MANIFEST
from plugin.oci.models import Descriptor, SerializedManifest, canonical_json
from plugin.publish.registry.auth import Credentials
from plugin.publish.registry.client import RegistryClient
from plugin.publish.registry.destination import RegistryDestination
from tests.conftest import TOKEN_REGISTRY_CREDENTIALS
from tests.publish.conftest import RecordingServer
from tests.rig.body_limit import BodyLimitProxy
from tests.rig.faults import Fault, FaultProxy, ProxiedRequest, every_matching, first_matching
from tests.rig.registry import Registry

CHUNK = 64 * 1024
BLOB_SIZE = 3 * CHUNK + 1000  # four chunks, the last one short
CLIENT_CREDENTIALS = Credentials(TOKEN_REGISTRY_CREDENTIALS.username, TOKEN_REGISTRY_CREDENTIALS.password)

DROP_BEFORE = Fault("connection dropped before the registry saw the request")
DROP_AFTER = Fault("connection dropped after the registry acted", forward_first=True)
ERROR_AFTER = Fault("500 after the registry acted", status=500, forward_first=True)


def file_blob(tmp_path: Path, size: int, name: str = "blob") -> Blob:
    """A blob of random bytes in a file, as plume keeps its layers."""
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return Blob(Descriptor("application/octet-stream", Digest.of_bytes(data), size), path=path)


def stored_digest(registry: Registry, repository: str, digest: Digest) -> str:
    """Download a blob straight from the registry, past the proxy, and return its sha256 digest."""
    response = requests.get(f"{registry.url}/v2/{repository}/blobs/{digest}", timeout=10)
    response.raise_for_status()
    return "sha256:" + hashlib.sha256(response.content).hexdigest()


def is_blob_put(request: ProxiedRequest) -> bool:
    return request.method == "PUT" and "/blobs/uploads/" in request.path


def is_patch_after_first(request: ProxiedRequest) -> bool:
    return request.method == "PATCH" and request.headers.get("content-range", "").split("-")[0] != "0"


@pytest.fixture
def proxy(open_registry: Registry) -> Iterator[FaultProxy]:
    proxy = FaultProxy(open_registry.url)
    yield proxy
    proxy.stop()


def client_through(proxy: FaultProxy, repository: str, chunk_size: int = CHUNK) -> RegistryClient:
    return RegistryClient(proxy.url, repository, chunk_size=chunk_size)


@pytest.mark.usefixtures("fast_retries")
class TestBlobUpload:
    def test_small_blob_goes_in_one_put(self, proxy: FaultProxy, open_registry: Registry, tmp_path: Path) -> None:
        blob = file_blob(tmp_path, CHUNK)

        client_through(proxy, "client/whole").upload_blob(blob)

        assert proxy.requests_matching("PATCH", "/client/whole/") == []
        assert len(proxy.requests_matching("PUT", "/client/whole/blobs/uploads/")) == 1
        assert stored_digest(open_registry, "client/whole", blob.digest) == str(blob.digest)

    def test_large_blob_goes_in_ranged_chunks(
        self, proxy: FaultProxy, open_registry: Registry, tmp_path: Path
    ) -> None:
        blob = file_blob(tmp_path, BLOB_SIZE)

        client_through(proxy, "client/chunked").upload_blob(blob)

        patches = proxy.requests_matching("PATCH", "/client/chunked/")
        ranges = [patch.headers["content-range"] for patch in patches]
        assert ranges == [f"0-{CHUNK - 1}", f"{CHUNK}-{2 * CHUNK - 1}", f"{2 * CHUNK}-{3 * CHUNK - 1}",
                          f"{3 * CHUNK}-{BLOB_SIZE - 1}"]
        assert [patch.headers["content-length"] for patch in patches] == ["65536", "65536", "65536", "1000"]
        commit = proxy.requests_matching("PUT", "/client/chunked/blobs/uploads/")
        assert len(commit) == 1
        assert commit[0].headers.get("content-length") == "0"
        assert stored_digest(open_registry, "client/chunked", blob.digest) == str(blob.digest)

    def test_rejected_whole_blob_goes_in_chunks(
        self, proxy: FaultProxy, open_registry: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        no_body_in_put = Fault("405 for a PUT with a body", status=405)
        proxy.plan = every_matching(no_body_in_put, lambda r: is_blob_put(r) and r.headers["content-length"] != "0")
        client = client_through(proxy, "client/no-whole")
        blobs = [file_blob(tmp_path, CHUNK, "first"), file_blob(tmp_path, CHUNK, "second")]

        with caplog.at_level(logging.WARNING):
            for blob in blobs:
                client.upload_blob(blob)

        assert "rejected blob" in caplog.text
        assert "sending blobs in chunks from now on" in caplog.text
        assert len(proxy.requests_matching("PATCH", "/client/no-whole/")) == 2
        assert len(proxy.requests_matching("PUT", "/client/no-whole/blobs/uploads/")) == 3, "one rejected, two commits"
        for blob in blobs:
            assert stored_digest(open_registry, "client/no-whole", blob.digest) == str(blob.digest)

    def test_chunk_not_received_is_resumed(
        self, proxy: FaultProxy, open_registry: Registry, tmp_path: Path
    ) -> None:
        proxy.plan = first_matching(DROP_BEFORE, is_patch_after_first)
        blob = file_blob(tmp_path, BLOB_SIZE)

        client_through(proxy, "client/resumed").upload_blob(blob)

        assert len(proxy.requests_matching("POST", "/client/resumed/blobs/uploads/")) == 1
        assert len(proxy.requests_matching("GET", "/client/resumed/blobs/uploads/")) == 1
        assert len(proxy.requests_matching("PATCH", "/client/resumed/")) == 5
        assert stored_digest(open_registry, "client/resumed", blob.digest) == str(blob.digest)

    def test_lost_session_starts_again(self, proxy: FaultProxy, open_registry: Registry, tmp_path: Path) -> None:
        # The registry appends the chunk but the response is lost, so its session state no longer matches ours.
        proxy.plan = first_matching(DROP_AFTER, is_patch_after_first)
        blob = file_blob(tmp_path, BLOB_SIZE)

        client_through(proxy, "client/restarted").upload_blob(blob)

        assert len(proxy.requests_matching("POST", "/client/restarted/blobs/uploads/")) == 2
        assert stored_digest(open_registry, "client/restarted", blob.digest) == str(blob.digest)

    def test_session_lost_again_and_again_gives_up(self, proxy: FaultProxy, tmp_path: Path) -> None:
        proxy.plan = every_matching(DROP_AFTER, is_patch_after_first)
        blob = file_blob(tmp_path, BLOB_SIZE)

        with pytest.raises(PublishError, match=f"lost the upload session of blob {blob.digest.short} 5 times"):
            client_through(proxy, "client/lost").upload_blob(blob)

        assert len(proxy.requests_matching("POST", "/client/lost/blobs/uploads/")) == 5

    def test_commit_that_arrived_is_not_sent_again(
        self, proxy: FaultProxy, open_registry: Registry, tmp_path: Path
    ) -> None:
        proxy.plan = first_matching(ERROR_AFTER, is_blob_put)
        blob = file_blob(tmp_path, CHUNK)

        client_through(proxy, "client/committed").upload_blob(blob)

        assert len(proxy.requests_matching("POST", "/client/committed/blobs/uploads/")) == 1
        assert len(proxy.requests_matching("PUT", "/client/committed/blobs/uploads/")) == 1
        assert len(proxy.requests_matching("HEAD", f"/client/committed/blobs/{blob.digest}")) == 1
        assert stored_digest(open_registry, "client/committed", blob.digest) == str(blob.digest)

    def test_failed_commit_uses_a_fresh_session(
        self, proxy: FaultProxy, open_registry: Registry, tmp_path: Path
    ) -> None:
        proxy.plan = first_matching(DROP_BEFORE, is_blob_put)
        blob = file_blob(tmp_path, CHUNK)

        client_through(proxy, "client/recommitted").upload_blob(blob)

        assert len(proxy.requests_matching("HEAD", f"/client/recommitted/blobs/{blob.digest}")) == 1
        puts = proxy.requests_matching("PUT", "/client/recommitted/blobs/uploads/")
        assert len(puts) == 2
        assert puts[0].path.split("?")[0] != puts[1].path.split("?")[0], "the second PUT reused the first session"
        assert stored_digest(open_registry, "client/recommitted", blob.digest) == str(blob.digest)

    def test_failed_chunked_commit_keeps_its_session(
        self, proxy: FaultProxy, open_registry: Registry, tmp_path: Path
    ) -> None:
        proxy.plan = first_matching(DROP_BEFORE, is_blob_put)
        blob = file_blob(tmp_path, BLOB_SIZE)

        client_through(proxy, "client/chunks-recommitted").upload_blob(blob)

        assert len(proxy.requests_matching("HEAD", f"/client/chunks-recommitted/blobs/{blob.digest}")) == 1
        assert len(proxy.requests_matching("GET", "/client/chunks-recommitted/blobs/uploads/")) == 1
        assert len(proxy.requests_matching("POST", "/client/chunks-recommitted/blobs/uploads/")) == 1
        assert len(proxy.requests_matching("PATCH", "/client/chunks-recommitted/")) == 4
        assert len(proxy.requests_matching("PUT", "/client/chunks-recommitted/blobs/uploads/")) == 2
        assert stored_digest(open_registry, "client/chunks-recommitted", blob.digest) == str(blob.digest)

    def test_commit_failing_every_time_gives_up(self, proxy: FaultProxy, tmp_path: Path) -> None:
        proxy.plan = every_matching(Fault("503", status=503), is_blob_put)
        blob = file_blob(tmp_path, CHUNK)

        with pytest.raises(RegistryError, match="answered 503"):
            client_through(proxy, "client/never").upload_blob(blob)

        assert len(proxy.requests_matching("PUT", "/client/never/blobs/uploads/")) == 5


@pytest.mark.usefixtures("fast_retries")
class TestManifests:
    def manifest(self, media_type: str = OCI_MANIFEST) -> SerializedManifest:
        body = {"schemaVersion": 2, "mediaType": media_type, "config": {}, "layers": [], "nonce": os.urandom(8).hex()}
        return SerializedManifest(media_type, canonical_json(body))

    def pushed_config(self, client: RegistryClient, media_type: str) -> SerializedManifest:
        """A manifest whose config blob is in the registry, so that the registry accepts it."""
        config_bytes = canonical_json({"architecture": "amd64", "os": "linux", "nonce": os.urandom(8).hex()})
        config = Blob(Descriptor("application/vnd.oci.image.config.v1+json", Digest.of_bytes(config_bytes),
                                 len(config_bytes)), data=config_bytes)
        client.upload_blob(config)
        body = {"schemaVersion": 2, "mediaType": media_type, "config": config.descriptor.as_json(), "layers": []}
        return SerializedManifest(media_type, canonical_json(body))

    def test_put_that_arrived_is_not_sent_again(self, proxy: FaultProxy) -> None:
        client = client_through(proxy, "client/manifest")
        manifest = self.pushed_config(client, OCI_MANIFEST)
        proxy.plan = first_matching(DROP_AFTER, lambda r: r.method == "PUT" and "/manifests/" in r.path)

        client.put_manifest("v1", manifest)

        assert len(proxy.requests_matching("PUT", "/client/manifest/manifests/v1")) == 1
        assert client.manifest_digest("v1", OCI_MANIFEST) == manifest.digest

    def test_put_that_got_lost_is_sent_again(self, proxy: FaultProxy) -> None:
        client = client_through(proxy, "client/manifest")
        manifest = self.pushed_config(client, OCI_MANIFEST)
        proxy.plan = first_matching(DROP_BEFORE, lambda r: r.method == "PUT" and "/manifests/" in r.path)

        client.put_manifest("v2", manifest)

        assert len(proxy.requests_matching("PUT", "/client/manifest/manifests/v2")) == 2
        assert len(proxy.requests_matching("HEAD", "/client/manifest/manifests/v2")) == 1
        assert client.manifest_digest("v2", OCI_MANIFEST) == manifest.digest

    def test_rejected_oci_manifest_points_to_docker_format(self, proxy: FaultProxy) -> None:
        rejection = Fault(
            "400 MANIFEST_INVALID",
            status=400,
            headers={"Content-Type": "application/json"},
            body=b'{"errors": [{"code": "MANIFEST_INVALID", "message": "unsupported media type"}]}',
        )
        proxy.plan = every_matching(rejection, lambda r: r.headers.get("content-type") == OCI_MANIFEST)
        client = client_through(proxy, "client/old-registry")

        with pytest.raises(RegistryError) as raised:
            client.put_manifest("v1", self.manifest(OCI_MANIFEST))
        docker_manifest = self.pushed_config(client, DOCKER_MANIFEST)
        client.put_manifest("v1", docker_manifest)

        assert "PLUGIN_MANIFEST_FORMAT=docker" in str(raised.value)
        assert "MANIFEST_INVALID" in str(raised.value)
        assert client.manifest_digest("v1", DOCKER_MANIFEST) == docker_manifest.digest


@pytest.mark.usefixtures("fast_retries")
class TestMount:
    @pytest.fixture
    def token_proxy(self, token_registry: Registry) -> Iterator[FaultProxy]:
        proxy = FaultProxy(token_registry.url)
        yield proxy
        proxy.stop()

    def test_blob_in_source_is_mounted(self, token_proxy: FaultProxy, token_registry: Registry, tmp_path: Path) -> None:
        blob = file_blob(tmp_path, CHUNK)
        RegistryClient(token_proxy.url, "mount/source", CLIENT_CREDENTIALS).upload_blob(blob)
        destination = RegistryDestination(
            RegistryClient(token_proxy.url, "mount/target", CLIENT_CREDENTIALS), "target", mount_from="mount/source"
        )

        outcome = destination.put_blob(blob)

        assert outcome is not None
        assert outcome.source == "mount/source"
        assert proxy_uploads(token_proxy, "mount/target") == []
        assert str(blob.digest) in token_registry.linked_blobs("mount/target")

    def test_missing_blob_uses_opened_session(
        self, token_proxy: FaultProxy, token_registry: Registry, tmp_path: Path
    ) -> None:
        blob = file_blob(tmp_path, CHUNK)
        destination = RegistryDestination(
            RegistryClient(token_proxy.url, "mount/other", CLIENT_CREDENTIALS), "other", mount_from="mount/empty"
        )
        destination.check()

        outcome = destination.put_blob(blob)

        assert outcome is None
        assert len(token_proxy.requests_matching("POST", "/mount/other/blobs/uploads/")) == 1
        assert len(proxy_uploads(token_proxy, "mount/other")) == 1
        assert str(blob.digest) in token_registry.linked_blobs("mount/other")

    def test_failed_mount_falls_back_to_upload(
        self, token_proxy: FaultProxy, token_registry: Registry, tmp_path: Path
    ) -> None:
        blob = file_blob(tmp_path, CHUNK)
        RegistryClient(token_proxy.url, "mount/source2", CLIENT_CREDENTIALS).upload_blob(blob)
        token_proxy.plan = every_matching(Fault("500", status=500), lambda r: "mount=" in r.path)
        client = RegistryClient(token_proxy.url, "mount/fallback", CLIENT_CREDENTIALS)
        destination = RegistryDestination(client, "fallback", mount_from="mount/source2")

        outcome = destination.put_blob(blob)

        assert outcome is None
        assert len(proxy_uploads(token_proxy, "mount/fallback")) == 1
        assert str(blob.digest) in token_registry.linked_blobs("mount/fallback")


def proxy_uploads(proxy: FaultProxy, repository: str) -> list[str]:
    """The upload PUTs the proxy passed for `repository`."""
    return [record.path for record in proxy.requests_matching("PUT", f"/v2/{repository}/blobs/uploads/")]


class TestRedirects:
    def test_authorization_stays_on_the_registry(
        self, token_registry: Registry, recording_server: RecordingServer, tmp_path: Path
    ) -> None:
        blob = file_blob(tmp_path, 100)
        elsewhere = f"{recording_server.url}/storage/{blob.digest.hex}"
        redirect = Fault("307 to another host", status=307, headers={"Location": elsewhere})
        proxy = FaultProxy(token_registry.url, every_matching(redirect, lambda r: r.method == "HEAD"))
        try:
            client = RegistryClient(proxy.url, "redirect/app", CLIENT_CREDENTIALS)
            client.ping()

            assert client.blob_exists(blob.digest)
        finally:
            proxy.stop()

        head = proxy.requests_matching("HEAD", f"/redirect/app/blobs/{blob.digest}")
        assert len(head) == 1
        assert head[0].headers["authorization"].startswith("Bearer ")
        assert [request.path for request in recording_server.requests] == [f"/storage/{blob.digest.hex}"]
        assert "authorization" not in recording_server.requests[0].headers

    def test_redirect_on_the_registry_keeps_authorization(self, token_registry: Registry, tmp_path: Path) -> None:
        blob = file_blob(tmp_path, 100)
        proxy = FaultProxy(token_registry.url)
        location = f"/v2/redirect/app/blobs/{blob.digest}?followed=1"
        same_origin = Fault("307 to the same registry", status=307, headers={"Location": location})
        proxy.plan = first_matching(same_origin, lambda r: r.method == "HEAD")
        try:
            client = RegistryClient(proxy.url, "redirect/app", CLIENT_CREDENTIALS)
            client.ping()

            assert not client.blob_exists(blob.digest)
        finally:
            proxy.stop()

        followed = proxy.requests_matching("HEAD", "?followed=1")
        assert len(followed) == 1
        assert followed[0].headers["authorization"].startswith("Bearer ")


class TestErrors:
    def test_missing_login_names_the_settings(self, token_registry: Registry, tmp_path: Path) -> None:
        client = RegistryClient(token_registry.url, "anonymous/app")
        client.ping()

        with pytest.raises(PublishError) as raised:
            client.upload_blob(file_blob(tmp_path, 100))

        assert "401" in str(raised.value)
        assert "PLUGIN_LOGINS" in str(raised.value)
        assert "PLUGIN_DOCKER_CONFIG" in str(raised.value)


class TestBodyLimit:
    @pytest.fixture
    def limited(self, open_registry: Registry, tmp_path: Path) -> Iterator[BodyLimitProxy]:
        proxy = BodyLimitProxy(tmp_path / "nginx", open_registry.port, max_body="100k")
        yield proxy
        proxy.stop()

    def test_chunks_shrink_below_the_limit(
        self, limited: BodyLimitProxy, open_registry: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        blob = file_blob(tmp_path, 300 * 1024)
        client = RegistryClient(limited.url, "client/limited", chunk_size=1024 * 1024)

        with caplog.at_level(logging.WARNING):
            client.upload_blob(blob)

        assert stored_digest(open_registry, "client/limited", blob.digest) == str(blob.digest)
        assert "rejected a request of 300.0 KiB as too large (413); sending chunks of 150.0 KiB" in caplog.text
        assert "rejected a request of 150.0 KiB as too large (413); sending chunks of 75.0 KiB" in caplog.text
        assert open_registry.request_count("PATCH", "/v2/client/limited/") == 4

    def test_limit_below_the_smallest_chunk_fails(self, open_registry: Registry, tmp_path: Path) -> None:
        tiny = BodyLimitProxy(tmp_path / "nginx", open_registry.port, max_body="16k")
        try:
            client = RegistryClient(tiny.url, "client/tiny")
            with pytest.raises(RegistryError) as raised:
                client.upload_blob(file_blob(tmp_path, 100 * 1024))
        finally:
            tiny.stop()

        assert "answered 413" in str(raised.value)
        assert "client_max_body_size" in str(raised.value)
