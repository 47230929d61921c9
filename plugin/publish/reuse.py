"""Layers a destination already serves, found through the tags being published, so they need no compression.

A re-run from a fresh CI runner has no local cache, but the destination's current tag lists every layer
with both hashes: the config's `diff_ids` (uncompressed) beside the manifest's layer descriptors
(compressed). When a new layer's diff_id is among them, that compressed layer can be referenced as it is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from plugin.errors import PublishError
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import IMAGE_MANIFEST_TYPES, INDEX_TYPES
from plugin.oci.models import Descriptor, SerializedManifest
from plugin.publish import Destination

log = logging.getLogger(__name__)


def layers_by_diff_id(destination: Destination, tags: Sequence[str]) -> dict[Digest, Descriptor]:
    """Map each layer's diff_id to its descriptor, for every image the first existing tag points to."""
    for tag in tags:
        top = destination.read_manifest(tag)
        if top is not None:
            return _layers_of(destination, top)
    return {}


def layers_everywhere(destinations: Sequence[Destination], tags: Sequence[str]) -> dict[Digest, Descriptor]:
    """Return the layers that every destination serves under the same digest: only those skip compression."""
    common: dict[Digest, Descriptor] | None = None
    for destination in destinations:
        try:
            known = layers_by_diff_id(destination, tags)
        except (PublishError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot read the current tag from %s, so every layer is compressed: %s", destination.label, exc)
            return {}
        if common is not None:
            known = {diff_id: layer for diff_id, layer in common.items() if known.get(diff_id) == layer}
        common = known
    # A tag can outlive a blob it lists (a manual cleanup, a half-repaired bucket): keep only layers that
    # every destination really has, so the others are built again and a re-run repairs the destination.
    return {
        diff_id: layer
        for diff_id, layer in (common or {}).items()
        if all(destination.has_blob(layer.digest) for destination in destinations)
    }


def _layers_of(destination: Destination, top: SerializedManifest) -> dict[Digest, Descriptor]:
    manifests = [top]
    if top.media_type in INDEX_TYPES:
        manifests = []
        for entry in json.loads(top.body).get("manifests", []):
            child = destination.read_manifest(entry["digest"])
            if child is not None:
                manifests.append(child)

    found: dict[Digest, Descriptor] = {}
    for manifest in manifests:
        if manifest.media_type not in IMAGE_MANIFEST_TYPES:
            continue
        body = json.loads(manifest.body)
        config = destination.read_small_blob(Digest.parse(body["config"]["digest"]))
        if config is None:
            continue
        diff_ids = json.loads(config).get("rootfs", {}).get("diff_ids", [])
        for diff_id, layer in zip(diff_ids, body.get("layers", []), strict=False):
            found[Digest.parse(diff_id)] = Descriptor(
                layer["mediaType"], Digest.parse(layer["digest"]), int(layer["size"])
            )
    return found
