"""A base image from a registry: the image for each requested platform, found through the base's index.

Every requested platform must be in the base before anything is built or uploaded. Only manifests and
configs are read here; the base's layers are streamed to each destination that lacks them while publishing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from plugin.errors import SourceError
from plugin.oci.content import BaseImage
from plugin.oci.mediatypes import IMAGE_MANIFEST_TYPES, INDEX_TYPES
from plugin.oci.models import SerializedManifest
from plugin.oci.platform import Platform
from plugin.oci.reference import ImageReference
from plugin.sizes import human_size
from plugin.sources.images import choose_entry, index_entries, json_object, platforms_listed
from plugin.sources.registry import RegistrySource, errors_named, fetch_manifest, registry_image

log = logging.getLogger(__name__)

def base_images(
    source: RegistrySource, reference: ImageReference, platforms: Sequence[Platform], setting: str
) -> dict[Platform, BaseImage]:
    """Read the base's image for each platform. Raises a SourceError naming `setting` and every missing platform."""
    origin = f"{setting} {str(reference)!r}"
    with errors_named(source, origin):
        top = fetch_manifest(source, reference.reference, origin)
        if top.media_type in INDEX_TYPES:
            images = _images_from_index(source, top, platforms, origin)
        elif top.media_type in IMAGE_MANIFEST_TYPES:
            images = _single_image(source, top, platforms, origin)
        else:
            raise SourceError(f"{origin} is not an image: its manifest has media type {top.media_type!r}")

    for platform, image in sorted(images.items()):
        size = sum(layer.blob.size for layer in image.layers)
        digest = image.manifest.digest.short if image.manifest else "?"
        layers = f"{len(image.layers)} layer{'' if len(image.layers) == 1 else 's'}"
        log.info("%s: base %s manifest %s (%s, %s)", platform, reference, digest, layers, human_size(size))
    return images


def _images_from_index(
    source: RegistrySource, index: SerializedManifest, platforms: Sequence[Platform], origin: str
) -> dict[Platform, BaseImage]:
    entries = index_entries(json_object(index.body, origin), origin)
    missing = [str(platform) for platform in platforms if not any(e.platform == platform for e in entries)]
    if missing:
        raise SourceError(f"{origin} has no image for {', '.join(missing)}; it has {platforms_listed(entries)}")

    images = {}
    for platform in platforms:
        entry = choose_entry(entries, platform, origin)
        if entry.descriptor.media_type not in IMAGE_MANIFEST_TYPES:
            raise SourceError(
                f"{origin}: the entry for {platform} has media type {entry.descriptor.media_type!r}, "
                "not an image manifest"
            )
        manifest = fetch_manifest(source, str(entry.descriptor.digest), f"{origin} for {platform}")
        images[platform] = registry_image(source, manifest, platform, f"{origin} for {platform}")
    return images


def _single_image(
    source: RegistrySource, manifest: SerializedManifest, platforms: Sequence[Platform], origin: str
) -> dict[Platform, BaseImage]:
    image = registry_image(source, manifest, None, origin)
    missing = [str(platform) for platform in platforms if platform != image.platform]
    if missing:
        raise SourceError(
            f"{origin} has no image for {', '.join(missing)}; it is a single image for {image.platform}"
        )
    return {image.platform: image}
