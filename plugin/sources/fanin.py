"""Fan-in: one index over per-platform images that earlier steps or other CI agents already pushed.

Each item names an image on the destination registry by tag or digest. A child that is an index (plume
and buildx push even one platform as an index) gives every platform it lists. Each child's platform is read
from its config and checked against its index entry, and two children for one platform are an error.
Nothing is built: the children's manifests, configs and layers are published as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from plugin.errors import SourceError
from plugin.oci.content import BaseImage
from plugin.oci.mediatypes import IMAGE_MANIFEST_TYPES, INDEX_TYPES
from plugin.oci.platform import Platform
from plugin.oci.reference import ImageReference, ReferenceError, Repository
from plugin.sources.images import index_entries, json_object
from plugin.sources.registry import RegistrySource, errors_named, fetch_manifest, registry_image

log = logging.getLogger(__name__)


def fan_in_images(
    items: Sequence[str],
    repository: Repository,
    source_for: Callable[[Repository], RegistrySource],
    setting: str,
) -> dict[Platform, BaseImage]:
    """Read every child image; `source_for` returns the source to read a repository of the destination registry."""
    images: dict[Platform, BaseImage] = {}
    items_by_platform: dict[Platform, str] = {}
    for item in items:
        origin = f"{setting} {item!r}"
        try:
            reference = ImageReference.in_repository(item, repository)
        except ReferenceError as exc:
            raise SourceError(f"{origin}: {exc}") from exc
        source = source_for(reference.repository)
        with errors_named(source, origin):
            children = _child_images(source, reference, origin)
        for image in children:
            earlier = items_by_platform.setdefault(image.platform, item)
            if image.platform in images:
                raise SourceError(f"{setting} {earlier!r} and {item!r} are both images for {image.platform}; keep one")
            images[image.platform] = image
            digest = image.manifest.digest.short if image.manifest else "?"
            log.info("%s: %s manifest %s", image.platform, reference, digest)
    return images


def _child_images(source: RegistrySource, reference: ImageReference, origin: str) -> list[BaseImage]:
    top = fetch_manifest(source, reference.reference, origin)
    if top.media_type in IMAGE_MANIFEST_TYPES:
        return [registry_image(source, top, None, origin)]
    if top.media_type not in INDEX_TYPES:
        raise SourceError(f"{origin} is not an image: its manifest has media type {top.media_type!r}")

    entries = [
        entry
        for entry in index_entries(json_object(top.body, origin), origin)
        if entry.descriptor.media_type in IMAGE_MANIFEST_TYPES
    ]
    if not entries:
        raise SourceError(f"{origin} is an index that lists no image for a supported platform")
    images = []
    for entry in entries:
        what = origin if entry.platform is None else f"{origin} for {entry.platform}"
        manifest = fetch_manifest(source, str(entry.descriptor.digest), what)
        images.append(registry_image(source, manifest, entry.platform, what))
    return images
