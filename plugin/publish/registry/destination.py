"""An OCI registry repository as a destination."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from plugin.errors import PublishError
from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.models import SerializedManifest
from plugin.publish import Mounted
from plugin.publish.registry.client import RegistryClient

log = logging.getLogger(__name__)


class RegistryDestination:
    """A repository of a registry; `mount_from` names another repository there to link blobs from."""

    def __init__(self, client: RegistryClient, reference: str, mount_from: str | None = None) -> None:
        self.client = client
        self.reference = reference
        self.mount_from = mount_from

    @property
    def label(self) -> str:
        return f"registry {self.reference}"

    def check(self) -> None:
        self.client.ping()
        source = self.client.transport.auth.credentials_source
        if source is not None:
            log.info("%s: logged in with the credentials from %s", self.label, source)

    def has_blob(self, digest: Digest) -> bool:
        return self.client.blob_exists(digest)

    def put_blob(self, blob: Blob) -> Mounted | None:
        """Mount the blob from `mount_from` when set; upload it when it is not there or the mount fails.

        After a failed mount, the remaining blobs are uploaded without trying to mount them.
        """
        source = self.mount_from
        if source is None:
            self.client.upload_blob(blob)
            return None
        try:
            result = self.client.mount_blob(blob, source)
        except PublishError as exc:
            log.warning("blob %s: mount from %s failed (%s); uploading it instead", blob.digest.short, source, exc)
            self.mount_from = None
            self.client.upload_blob(blob)
            return None
        if result.mounted:
            return Mounted(source)
        log.debug("blob %s is not in %s; uploading it into the session the mount opened", blob.digest.short, source)
        self.client.upload_blob(blob, result.session_url)
        return None

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
