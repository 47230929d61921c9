"""Media types of the two manifest families. A published tree uses one family only."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_MANIFEST_TYPES
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
GZIP_LAYER_TYPES = frozenset({OCI_LAYER_GZIP, DOCKER_LAYER_GZIP})
TAR_LAYER_TYPES = frozenset({OCI_LAYER_TAR, DOCKER_LAYER_TAR})


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


def layer_type_in(types: MediaTypes, media_type: str) -> str | None:
    """Return the media type a layer has in the family of `types`, or None when that family has none.

    A gzip layer keeps its bytes and digest in either family; only the name of its type changes.
    """
    if media_type in GZIP_LAYER_TYPES:
        return types.layer_gzip
    is_oci = types.layer_gzip == OCI_LAYER_GZIP
    if media_type in TAR_LAYER_TYPES:
        return OCI_LAYER_TAR if is_oci else None
    if media_type == OCI_LAYER_ZSTD:
        return media_type if is_oci else None
    return None
