"""Media types of the two manifest families. A published tree uses one family only."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_MANIFEST_TYPES


@dataclass(frozen=True)
class MediaTypes:
    """The four media types one family uses for an index, a manifest, a config and a gzip layer."""

    index: str
    manifest: str
    config: str
    layer_gzip: str


class ManifestFormat(StrEnum):
    """Which manifest family to publish."""

    OCI = "oci"
    DOCKER = "docker"

    @property
    def media_types(self) -> MediaTypes:
        if self is ManifestFormat.DOCKER:
            return MediaTypes(DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP)
        return MediaTypes(OCI_INDEX, OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP)
