"""A destination wrapper that records, for one run, which blobs and manifests the destination holds.

Before the build, the job reads the current tag, its manifests and their configs to find layers that need no
compression. When the image has not changed, publishing then checks the same configs, manifests and tag
again. The wrapper returns those checks from what the run has already read or written, so they cost no
request. A check on anything not recorded goes to the destination.
"""

from __future__ import annotations

from collections.abc import Sequence

from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.models import SerializedManifest
from plugin.publish import Destination, Mounted


class RememberedDestination:
    """A destination, and the blobs and manifests it returned or stored during this run."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self._blobs: set[Digest] = set()
        self._manifests: dict[str, Digest] = {}  # the digest each tag or digest reference resolved to

    @property
    def label(self) -> str:
        return self.destination.label

    @property
    def reference(self) -> str:
        return self.destination.reference

    def check(self) -> None:
        self.destination.check()

    def has_blob(self, digest: Digest) -> bool:
        if digest in self._blobs:
            return True
        if self.destination.has_blob(digest):
            self._blobs.add(digest)
            return True
        return False

    def put_blob(self, blob: Blob) -> Mounted | None:
        mounted = self.destination.put_blob(blob)
        self._blobs.add(blob.digest)
        return mounted

    def read_manifest(self, reference: str) -> SerializedManifest | None:
        manifest = self.destination.read_manifest(reference)
        if manifest is not None:
            self._remember_manifest(reference, manifest)
        return manifest

    def read_small_blob(self, digest: Digest) -> bytes | None:
        data = self.destination.read_small_blob(digest)
        if data is not None:
            self._blobs.add(digest)
        return data

    def has_manifest(self, reference: str, manifest: SerializedManifest) -> bool:
        if self._manifests.get(reference) == manifest.digest:
            return True
        return self.destination.has_manifest(reference, manifest)

    def put_manifest(self, reference: str, manifest: SerializedManifest) -> None:
        self.destination.put_manifest(reference, manifest)
        self._remember_manifest(reference, manifest)

    def tags_published(self, tags: Sequence[str]) -> None:
        self.destination.tags_published(tags)

    def _remember_manifest(self, reference: str, manifest: SerializedManifest) -> None:
        digest = manifest.digest
        self._manifests[reference] = digest
        self._manifests[str(digest)] = digest
