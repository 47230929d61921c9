"""A small OCI distribution client: ping, blob existence, mount and upload, manifest existence and upload.

Each method is one protocol step. A request that can be repeated alone is retried on its own by the shared
policy. A manifest PUT that failed without a clear answer may have been stored anyway, so before sending it
again plume asks for the manifest by its reference and stops when the registry already has these bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests

from plugin.errors import RegistryError
from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST
from plugin.oci.models import SerializedManifest
from plugin.publish.registry.auth import Credentials, Scopes, repository_scope
from plugin.publish.registry.transport import REQUEST_TIMEOUT, RegistryTransport, registry_error
from plugin.publish.registry.upload import DEFAULT_CHUNK_SIZE, BlobUploader
from plugin.publish.retry import with_retries

log = logging.getLogger(__name__)

OCI_MANIFEST_TYPES = frozenset({OCI_INDEX, OCI_MANIFEST})
# Error codes of a registry that rejects a manifest's format rather than its content.
FORMAT_REJECTION_CODES = frozenset({"MANIFEST_INVALID", "UNSUPPORTED"})
FORMAT_HINT = (
    "the registry may not accept OCI manifests: set PLUGIN_MANIFEST_FORMAT=docker to publish a Docker "
    "manifest list and Docker media types instead"
)


@dataclass(frozen=True)
class MountResult:
    """What a cross-repository mount request did: linked the blob, or opened an upload session instead."""

    mounted: bool
    session_url: str | None = None


class RegistryClient:
    """Talks to one repository of one registry."""

    def __init__(
        self,
        base_url: str,
        repository: str,
        credentials: Credentials | None = None,
        session: requests.Session | None = None,
        timeout: float = REQUEST_TIMEOUT,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.transport = RegistryTransport(base_url, credentials, session or requests.Session(), timeout)
        self.base_url = self.transport.base_url
        self.repository = repository
        self.scopes: Scopes = (repository_scope(repository, "pull,push"),)
        self.uploader = BlobUploader(self.transport, f"{self.base_url}/v2/{repository}", self.scopes, chunk_size)

    def url(self, path: str) -> str:
        return f"{self.base_url}/v2/{self.repository}/{path}"

    def ping(self) -> None:
        """GET /v2/, answer any challenge, and prove the answer is accepted: a check that uploads nothing."""
        url = f"{self.base_url}/v2/"

        def get() -> requests.Response:
            return self.transport.checked(self.transport.request("GET", url, self.scopes), (200, 401))

        response = with_retries(get, f"GET {url}")
        if response.status_code == 401:
            raise registry_error(response, self.transport.auth.refused_hint())

    def blob_exists(self, digest: Digest) -> bool:
        return self.uploader.blob_exists(digest)

    def mount_blob(self, blob: Blob, source: str) -> MountResult:
        """Ask the registry to link `blob` from the repository `source` on the same registry.

        Sent once: a failure raises, and the caller uploads the blob instead.
        """
        url = self.url(f"blobs/uploads/?mount={blob.digest}&from={source}")
        scopes = (*self.scopes, repository_scope(source, "pull"))

        def post() -> requests.Response:
            return self.transport.checked(self.transport.request("POST", url, scopes), (201, 202))

        response = with_retries(post, f"mount of blob {blob.digest.short} from {source}", attempts=1)
        if response.status_code == 201:
            return MountResult(mounted=True)
        return MountResult(mounted=False, session_url=self.uploader.session_location(response))

    def upload_blob(self, blob: Blob, session_url: str | None = None) -> None:
        """Upload `blob`, into the already open session at `session_url` when given."""
        self.uploader.upload(blob, session_url)

    def manifest_digest(self, reference: str, media_type: str) -> Digest | None:
        """The digest `reference` resolves to, from a HEAD request, or None when the registry has no such manifest."""
        url = self.url(f"manifests/{reference}")
        headers = {"Accept": media_type}

        def head() -> requests.Response:
            return self.transport.checked(self.transport.request("HEAD", url, self.scopes, headers=headers), (200, 404))

        response = with_retries(head, f"HEAD {url}")
        header = response.headers.get("Docker-Content-Digest", "")
        if response.status_code == 404 or not header:
            return None
        try:
            return Digest.parse(header)
        except ValueError:
            return None

    def put_manifest(self, reference: str, manifest: SerializedManifest) -> Digest:
        """Upload manifest bytes under a digest or a tag; the Content-Type is the body's own media type."""
        url = self.url(f"manifests/{reference}")
        headers = {"Content-Type": manifest.media_type}
        attempts_sent = 0

        def put() -> None:
            nonlocal attempts_sent
            if attempts_sent and self.manifest_digest(reference, manifest.media_type) == manifest.digest:
                log.info("manifest %s: the registry has it although the PUT failed", reference)
                return
            attempts_sent += 1
            response = self.transport.request("PUT", url, self.scopes, data=manifest.body, headers=headers)
            if response.status_code != 201:
                raise self._manifest_error(response, manifest)

        with_retries(put, f"PUT {url}")
        return manifest.digest

    def _manifest_error(self, response: requests.Response, manifest: SerializedManifest) -> RegistryError:
        error = self.transport.error(response)
        format_codes = FORMAT_REJECTION_CODES & set(error.codes)
        rejects_format = error.status == 415 or (error.status == 400 and bool(format_codes))
        if rejects_format and manifest.media_type in OCI_MANIFEST_TYPES:
            return registry_error(response, FORMAT_HINT)
        return error

    def get_manifest(self, reference: str) -> SerializedManifest | None:
        """The manifest or index `reference` resolves to, in either family, or None when there is none."""
        url = self.url(f"manifests/{reference}")
        headers = {"Accept": ", ".join(sorted(MANIFEST_TYPES))}

        def get() -> requests.Response:
            return self.transport.checked(self.transport.request("GET", url, self.scopes, headers=headers), (200, 404))

        response = with_retries(get, f"GET {url}")
        if response.status_code == 404:
            return None
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return SerializedManifest(media_type, response.content)

    def get_small_blob(self, digest: Digest) -> bytes | None:
        """A blob read whole into memory, such as an image config, or None when the registry has no such blob."""
        url = self.url(f"blobs/{digest}")

        def get() -> requests.Response:
            return self.transport.checked(self.transport.request("GET", url, self.scopes), (200, 404))

        response = with_retries(get, f"GET {url}")
        return None if response.status_code == 404 else response.content

    @classmethod
    def for_pulling(cls, base_url: str, repository: str, credentials: Credentials | None = None) -> RegistryClient:
        """Make a client that asks only for pull access, enough to read another repository's images."""
        client = cls(base_url, repository, credentials)
        client.scopes = (repository_scope(repository, "pull"),)
        return client

    def open_blob(self, digest: Digest, offset: int = 0) -> requests.Response:
        """Start a streaming GET of a blob from byte `offset`; the caller reads `response.raw` and closes it.

        The status is 200, or 206 when the registry honoured the Range header of a non-zero `offset`.
        """
        url = self.url(f"blobs/{digest}")
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        expected = (200, 206) if offset else (200,)

        def get() -> requests.Response:
            response = self.transport.request("GET", url, self.scopes, headers=headers, stream=True)
            if response.status_code not in expected:
                error = self.transport.error(response)
                response.close()
                raise error
            return response

        return with_retries(get, f"GET {url}")
