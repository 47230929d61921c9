"""An OCI registry repository as a destination."""

from __future__ import annotations

from collections.abc import Sequence

from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.models import SerializedManifest
from plugin.publish.registry.client import RegistryClient


class RegistryDestination:
    def __init__(self, client: RegistryClient, reference: str) -> None:
        self.client = client
        self.reference = reference

    @property
    def label(self) -> str:
        return f"registry {self.reference}"

    def check(self) -> None:
        self.client.ping()

    def has_blob(self, digest: Digest) -> bool:
        return self.client.blob_exists(digest)

    def put_blob(self, blob: Blob) -> None:
        self.client.upload_blob(blob)

    def has_manifest(self, reference: str, manifest: SerializedManifest) -> bool:
        return self.client.manifest_digest(reference, manifest.media_type) == manifest.digest

    def read_manifest(self, reference: str) -> SerializedManifest | None:
        return self.client.get_manifest(reference)

    def read_small_blob(self, digest: Digest) -> bytes | None:
        return self.client.get_small_blob(digest)

    def put_manifest(self, reference: str, manifest: SerializedManifest) -> None:
        self.client.put_manifest(reference, manifest)

    def tags_published(self, tags: Sequence[str]) -> None:
        """A registry keeps its own tag list."""
