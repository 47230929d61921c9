"""End-to-end tests of publishing to a static registry in an S3 bucket, as Garage users do.

SeaweedFS plays Garage's S3 API, and nginx in front of the bucket imitates Garage's website endpoint, which
serves the bucket read-only to `docker pull`. Every client check reads through nginx without credentials.
The bucket's own state is read with a signed ListObjectsV2.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests

from tests.conftest import PlumeRun, run_plume
from tests.rig.clients import Skopeo, pull_and_run
from tests.rig.goapp import GO_TARGETS, GoTarget
from tests.rig.nginx import GarageWebsite
from tests.rig.processes import LOOPBACK, free_port
from tests.rig.registry import Registry
from tests.rig.seaweed import SeaweedS3, start_seaweed
from tests.test_main_job import (
    EXPECTED_INDEX_PLATFORMS,
    NO_BLOB_UPLOADED,
    OCI_INDEX,
    OCI_MANIFEST,
    PULL_PLATFORMS,
    TAG,
    image_settings,
    index_platforms,
)

BUCKET = "plume-registry"
ACCESS_KEY = "plume-e2e"
# Distinctive, so that a test can search all of plume's output for it.
SECRET_KEY = "Garage-secret-7Tq4-never-printed"
WRONG_SECRET_KEY = "Wrong-secret-3Lm8-never-printed"
DIGEST_REFERENCE = re.compile(r"sha256:[0-9a-f]{64}")
# What "long" and "short" mean for Cache-Control here: a day or more for content addressed keys, which never
# change, and five minutes or less for tags, which move.
LONG_MAX_AGE = 24 * 3600
SHORT_MAX_AGE = 300
REQUEST_TIMEOUT = 10.0  # seconds for one request to the local S3 store or nginx


@pytest.fixture(scope="module")
def seaweed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    server = start_seaweed(tmp_path_factory.mktemp("seaweed-e2e"), BUCKET, ACCESS_KEY, SECRET_KEY)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def website(seaweed_s3: SeaweedS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GarageWebsite]:
    server = GarageWebsite(tmp_path_factory.mktemp("nginx-website"), seaweed_s3.endpoint, BUCKET)
    yield server
    server.stop()


def s3_settings(name: str, s3: SeaweedS3, website: GarageWebsite, endpoint: str | None = None) -> dict[str, str]:
    """Return the step settings that publish the four-platform Go image as `name` to the bucket.

    When `name` has a host, plume pushes to that registry as well.
    """
    settings = image_settings(name)
    del settings["PLUGIN_INSECURE"]
    settings.update(
        {
            "PLUGIN_S3_ENDPOINT": endpoint or s3.endpoint,
            "PLUGIN_S3_BUCKET": s3.public_bucket,
            "PLUGIN_S3_ACCESS_KEY": s3.access_key,
            "PLUGIN_S3_SECRET_KEY": s3.secret_key,
            "PLUGIN_S3_PUBLIC_URL": website.url,
        }
    )
    return settings


# Reading the bucket as its owner (signed) and as a puller (anonymous, through the website endpoint).


@dataclass(frozen=True)
class StoredObject:
    key: str
    etag: str
    last_modified: str


def local_name(tag: str) -> str:
    """Drop the XML namespace from an element tag."""
    return tag.rsplit("}", 1)[-1]


def list_objects(s3: SeaweedS3, prefix: str = "") -> dict[str, StoredObject]:
    """Return every object whose key starts with `prefix`, read with signed ListObjectsV2 requests."""
    objects: dict[str, StoredObject] = {}
    bucket_url = f"{s3.endpoint}/{s3.public_bucket}"
    query = {"list-type": "2", "prefix": prefix}
    while True:
        response = requests.get(bucket_url, params=query, auth=s3.auth(), timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, response.text
        root = ElementTree.fromstring(response.content)
        for element in root:
            if local_name(element.tag) == "Contents":
                fields = {local_name(child.tag): child.text or "" for child in element}
                objects[fields["Key"]] = StoredObject(fields["Key"], fields["ETag"], fields["LastModified"])
        fields = {local_name(child.tag): child.text or "" for child in root}
        if fields.get("IsTruncated") != "true":
            return objects
        query["continuation-token"] = fields["NextContinuationToken"]


def tag_keys(objects: dict[str, StoredObject], name: str) -> set[str]:
    """Return the keys of `manifests/<tag>` objects, leaving out the keys named by a digest."""
    manifests = f"v2/{name}/manifests/"
    return {
        key
        for key in objects
        if key.startswith(manifests) and not DIGEST_REFERENCE.fullmatch(key.removeprefix(manifests))
    }


def website_get(website: GarageWebsite, key: str) -> requests.Response:
    """GET a key without credentials through the website endpoint, as `docker pull` would."""
    return requests.get(f"{website.url}/{quote(key, safe='/:')}", timeout=REQUEST_TIMEOUT)


def cache_directives(header: str) -> dict[str, str]:
    directives: dict[str, str] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        directives[name.lower()] = value
    return directives


# A proxy in front of the S3 endpoint that records writes and can stop accepting them.


@dataclass(frozen=True)
class ForwardedRequest:
    method: str
    key: str  # the object key, decoded; empty for a request on the bucket itself


class S3RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards each request unchanged to an S3 endpoint and records it.

    With `max_writes` set, it forwards that many PUTs, then rejects every later PUT with 403 AccessDenied, as
    a bucket that stops accepting writes midway would. Host is forwarded unchanged, so signatures stay valid.
    """

    def __init__(self, upstream: str, bucket: str, max_writes: int | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.bucket = bucket
        self.max_writes = max_writes
        self.requests: list[ForwardedRequest] = []
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def written_keys(self) -> list[str]:
        """Return the keys of the PUTs the proxy forwarded, in the order they arrived."""
        return [request.key for request in self.requests if request.method == "PUT"]

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def key_of(self, path: str) -> str:
        bucket_path = unquote(path.split("?", 1)[0]).removeprefix(f"/{self.bucket}")
        return bucket_path.removeprefix("/")

    def admit(self, method: str, path: str) -> bool:
        """Record a request that may go on; return False for a PUT beyond the write limit."""
        with self._lock:
            if method == "PUT" and self.max_writes is not None and len(self.written_keys()) >= self.max_writes:
                return False
            self.requests.append(ForwardedRequest(method, self.key_of(path)))
            return True

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> http.client.HTTPResponse:
        assert self.upstream.hostname is not None
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=REQUEST_TIMEOUT)
        # Host is among the headers, so http.client sends it as it is rather than the upstream's.
        connection.request(method, path, body=body, headers=headers)
        return connection.getresponse()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if not proxy.admit(self.command, self.path):
                    self._reject_write()
                    return
                headers = {name: value for name, value in self.headers.items() if name.lower() != "connection"}
                upstream = proxy.forward(self.command, self.path, headers, body)
                content = upstream.read()
                self.send_response(upstream.status)
                for name, value in upstream.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                content_length = upstream.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", content_length or str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            def _reject_write(self) -> None:
                body = b"<Error><Code>AccessDenied</Code><Message>writes are disabled</Message></Error>"
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def s3_proxy(seaweed_s3: SeaweedS3) -> Iterator[S3RecordingProxy]:
    proxy = S3RecordingProxy(seaweed_s3.endpoint, BUCKET)
    yield proxy
    proxy.stop()


# The four-platform Go image, published to the bucket once for this module.


@dataclass(frozen=True)
class BucketImage:
    name: str
    run: PlumeRun
    website: GarageWebsite

    @property
    def reference(self) -> str:
        return f"{self.website.host}/{self.name}:{TAG}"


@pytest.fixture(scope="module")
def bucket_image(go_project: Path, seaweed_s3: SeaweedS3, website: GarageWebsite) -> BucketImage:
    name = "e2e/hello"
    run = run_plume(s3_settings(name, seaweed_s3, website), go_project)
    assert run.exit_code == 0, run.describe()
    return BucketImage(name, run, website)


def test_ping_answers_200(bucket_image: BucketImage) -> None:
    response = requests.get(f"{bucket_image.website.url}/v2/", timeout=REQUEST_TIMEOUT)

    assert response.status_code == 200


def test_index_lists_four_platforms(bucket_image: BucketImage, skopeo: Skopeo) -> None:
    index = skopeo.raw_manifest(bucket_image.reference)

    assert index["mediaType"] == OCI_INDEX
    platforms = index_platforms(index)
    assert len(platforms) == len(EXPECTED_INDEX_PLATFORMS), platforms
    assert set(platforms) == EXPECTED_INDEX_PLATFORMS


def test_output_names_public_reference(bucket_image: BucketImage, skopeo: Skopeo) -> None:
    digest = skopeo.raw_manifest_digest(bucket_image.reference)

    assert f"{bucket_image.reference}@{digest}" in bucket_image.run.stdout, bucket_image.run.describe()


def test_copy_all_through_website(bucket_image: BucketImage, skopeo: Skopeo, tmp_path: Path) -> None:
    layout = tmp_path / "layout"

    skopeo.copy_all(bucket_image.reference, layout, "copied")

    # One index, four manifests, four configs and four layers, each checked against its digest by skopeo.
    assert len(list((layout / "blobs" / "sha256").iterdir())) == 13


@pytest.mark.parametrize("target", GO_TARGETS, ids=[target.file_name for target in GO_TARGETS])
def test_pulled_platform_runs_its_binary(
    bucket_image: BucketImage, target: GoTarget, skopeo: Skopeo, tmp_path: Path
) -> None:
    output = pull_and_run(skopeo, bucket_image.reference, PULL_PLATFORMS[target.platform], tmp_path)

    assert output.strip() == target.greeting


def test_manifest_content_type_is_media_type(bucket_image: BucketImage, skopeo: Skopeo) -> None:
    name = bucket_image.name
    index_digest = skopeo.raw_manifest_digest(bucket_image.reference)
    index = skopeo.raw_manifest(bucket_image.reference)
    expected = {f"v2/{name}/manifests/{TAG}": OCI_INDEX, f"v2/{name}/manifests/{index_digest}": OCI_INDEX}
    for entry in index["manifests"]:
        expected[f"v2/{name}/manifests/{entry['digest']}"] = entry["mediaType"]
    assert set(expected.values()) == {OCI_INDEX, OCI_MANIFEST}

    for key, media_type in expected.items():
        response = website_get(bucket_image.website, key)
        assert response.status_code == 200, key
        assert response.headers["Content-Type"] == media_type, key
        assert response.json()["mediaType"] == media_type, key


def test_digest_keys_cached_long_tags_short(bucket_image: BucketImage, seaweed_s3: SeaweedS3) -> None:
    name = bucket_image.name
    objects = list_objects(seaweed_s3, f"v2/{name}/")
    tags = tag_keys(objects, name)
    short_lived = {*tags, f"v2/{name}/tags/list"}
    long_lived = set(objects) - short_lived
    assert tags == {f"v2/{name}/manifests/{TAG}"}
    # Four configs and four layers, four manifests and the index.
    assert len(long_lived) == 13, sorted(long_lived)

    for key in sorted(long_lived):
        directives = cache_directives(website_get(bucket_image.website, key).headers.get("Cache-Control", ""))
        assert "immutable" in directives, key
        assert int(directives.get("max-age") or 0) >= LONG_MAX_AGE, key
    for key in sorted(short_lived):
        directives = cache_directives(website_get(bucket_image.website, key).headers.get("Cache-Control", ""))
        assert "immutable" not in directives, key
        assert "max-age" in directives, key
        assert int(directives["max-age"]) <= SHORT_MAX_AGE, key


# Several destinations, reruns and new tags.


def test_registry_and_bucket_share_index_digest(
    go_project: Path, seaweed_s3: SeaweedS3, website: GarageWebsite, open_registry: Registry, skopeo: Skopeo
) -> None:
    name = "e2e/both"
    settings = s3_settings(f"{open_registry.host}/{name}", seaweed_s3, website)
    settings["PLUGIN_INSECURE"] = "true"

    run = run_plume(settings, go_project)

    assert run.exit_code == 0, run.describe()
    registry_digest = skopeo.raw_manifest_digest(f"{open_registry.host}/{name}:{TAG}")
    bucket_digest = skopeo.raw_manifest_digest(f"{website.host}/{name}:{TAG}")
    assert bucket_digest == registry_digest
    summary = [line for line in run.stdout.splitlines() if "blobs uploaded" in line]
    assert any(line.startswith(f"registry {open_registry.host}/{name}") for line in summary), run.describe()
    assert any(f"s3://{BUCKET}" in line for line in summary), run.describe()


def test_second_run_uploads_nothing(
    go_project: Path, seaweed_s3: SeaweedS3, website: GarageWebsite, s3_proxy: S3RecordingProxy
) -> None:
    name = "e2e/again"
    first = run_plume(s3_settings(name, seaweed_s3, website), go_project)
    assert first.exit_code == 0, first.describe()
    objects_after_first = list_objects(seaweed_s3)

    second = run_plume(s3_settings(name, seaweed_s3, website, endpoint=s3_proxy.url), go_project)

    assert second.exit_code == 0, second.describe()
    assert s3_proxy.written_keys() == []
    assert list_objects(seaweed_s3) == objects_after_first
    assert NO_BLOB_UPLOADED.search(second.stdout), second.describe()


def test_second_tag_adds_tag_and_list(
    go_project: Path,
    seaweed_s3: SeaweedS3,
    website: GarageWebsite,
    s3_proxy: S3RecordingProxy,
    skopeo: Skopeo,
) -> None:
    name = "e2e/tagged"
    first = run_plume(s3_settings(name, seaweed_s3, website), go_project)
    assert first.exit_code == 0, first.describe()
    keys_after_first = set(list_objects(seaweed_s3))
    settings = s3_settings(name, seaweed_s3, website, endpoint=s3_proxy.url)
    settings["PLUGIN_TAGS"] = "1.0"

    second = run_plume(settings, go_project)

    assert second.exit_code == 0, second.describe()
    assert sorted(s3_proxy.written_keys()) == [f"v2/{name}/manifests/1.0", f"v2/{name}/tags/list"]
    assert set(list_objects(seaweed_s3)) - keys_after_first == {f"v2/{name}/manifests/1.0"}
    assert skopeo.list_tags(f"{website.host}/{name}") == ["1.0", TAG]
    assert skopeo.raw_manifest_digest(f"{website.host}/{name}:1.0") == skopeo.raw_manifest_digest(
        f"{website.host}/{name}:{TAG}"
    )


# Failures.


@dataclass(frozen=True)
class BrokenSetting:
    """A wrong S3 setting and the variable the one error line must name."""

    variable: str
    value: str  # "{unused_port}" is replaced by a loopback port that nothing listens on


BROKEN_SETTINGS = {
    "wrong-secret": BrokenSetting("PLUGIN_S3_SECRET_KEY", WRONG_SECRET_KEY),
    "missing-bucket": BrokenSetting("PLUGIN_S3_BUCKET", "plume-no-such-bucket"),
    "unreachable-endpoint": BrokenSetting("PLUGIN_S3_ENDPOINT", "http://127.0.0.1:{unused_port}"),
}


@pytest.mark.parametrize("case", list(BROKEN_SETTINGS))
def test_broken_setting_fails_in_one_line(
    case: str, go_project: Path, seaweed_s3: SeaweedS3, website: GarageWebsite
) -> None:
    broken = BROKEN_SETTINGS[case]
    name = f"e2e/{case}"
    settings = s3_settings(name, seaweed_s3, website)
    settings[broken.variable] = broken.value.format(unused_port=free_port())
    settings["PLUGIN_DEBUG"] = "true"  # debug output must not show the secret either

    run = run_plume(settings, go_project)

    assert run.exit_code != 0, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    error_lines = run.error_lines()
    assert len(error_lines) == 1, run.describe()
    assert broken.variable in error_lines[0], run.describe()
    for secret in (SECRET_KEY, WRONG_SECRET_KEY):
        assert secret not in run.stdout
        assert secret not in run.stderr
    objects = list_objects(seaweed_s3, f"v2/{name}/")
    assert tag_keys(objects, name) == set()
    assert objects == {}


# A step stopped midway.


def body_digest(response: requests.Response) -> str:
    return "sha256:" + hashlib.sha256(response.content).hexdigest()


def assert_tags_reference_existing_content(s3: SeaweedS3, website: GarageWebsite, name: str) -> None:
    """Check that every tag object, and every tag in tags/list, resolves to content that is all in the bucket."""
    objects = list_objects(s3, f"v2/{name}/")
    for tag_key in tag_keys(objects, name):
        response = website_get(website, tag_key)
        assert f"v2/{name}/manifests/{body_digest(response)}" in objects, tag_key
        for entry in response.json()["manifests"]:
            manifest_key = f"v2/{name}/manifests/{entry['digest']}"
            assert manifest_key in objects, f"{tag_key} -> {manifest_key}"
            manifest: dict[str, Any] = website_get(website, manifest_key).json()
            for blob in [manifest["config"], *manifest["layers"]]:
                assert f"v2/{name}/blobs/{blob['digest']}" in objects, f"{tag_key} -> {manifest_key} -> {blob}"

    tags_list_key = f"v2/{name}/tags/list"
    if tags_list_key in objects:
        for tag in website_get(website, tags_list_key).json()["tags"]:
            assert f"v2/{name}/manifests/{tag}" in objects, f"tags/list names {tag}, which has no tag object"


# The step writes 8 blobs, 4 manifests and the index by digest (13 objects), then the tag, then v2/index.html
# when it is missing, then tags/list. Each limit lets that many writes through and rejects the rest: the step
# stops among the blobs, among the manifests, just before the tag, and just after it.
TAG_WRITE = 14
WRITE_LIMITS = [3, 10, 13, 14]


@pytest.mark.parametrize("max_writes", WRITE_LIMITS)
def test_interrupted_step_leaves_no_broken_tag(
    max_writes: int, go_project: Path, seaweed_s3: SeaweedS3, website: GarageWebsite, skopeo: Skopeo, tmp_path: Path
) -> None:
    name = f"e2e/interrupted-{max_writes}"
    proxy = S3RecordingProxy(seaweed_s3.endpoint, BUCKET, max_writes=max_writes)
    try:
        interrupted = run_plume(s3_settings(name, seaweed_s3, website, endpoint=proxy.url), go_project)
    finally:
        proxy.stop()
    assert interrupted.exit_code == 1, interrupted.describe()
    assert len(interrupted.error_lines()) == 1, interrupted.describe()
    assert len(proxy.written_keys()) == max_writes
    tag_written = f"v2/{name}/manifests/{TAG}" in list_objects(seaweed_s3, f"v2/{name}/")
    assert tag_written == (max_writes >= TAG_WRITE)
    assert_tags_reference_existing_content(seaweed_s3, website, name)

    rerun = run_plume(s3_settings(name, seaweed_s3, website), go_project)

    assert rerun.exit_code == 0, rerun.describe()
    assert_tags_reference_existing_content(seaweed_s3, website, name)
    assert skopeo.list_tags(f"{website.host}/{name}") == [TAG]
    skopeo.copy_all(f"{website.host}/{name}:{TAG}", tmp_path / "layout", "copied")
