"""Per-platform images and the index above them, built in parallel from each platform's layer entries."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plugin.build.layer import LayerEntry, layer_diff_id, write_layer
from plugin.oci.content import Blob, ImageTree, PlatformImage
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import ManifestFormat
from plugin.oci.models import Descriptor, RuntimeConfig, image_config, image_index, image_manifest
from plugin.oci.platform import Platform
from plugin.sizes import human_size

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    """How every platform's image is made: runtime config, format, timestamps, compression and scratch space."""

    runtime: RuntimeConfig
    manifest_format: ManifestFormat
    epoch: int
    compression_level: int
    work_dir: Path
    index_annotations: Mapping[str, str] | None = None
    reusable_layers: Mapping[Digest, Descriptor] = field(default_factory=dict)


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_platform_image(platform: Platform, entries: Sequence[LayerEntry], options: BuildOptions) -> PlatformImage:
    """Pack one platform's files into a layer, then write its config and manifest."""
    types = options.manifest_format.media_types
    layer, diff_id = _reused_layer(platform, entries, options) or _packed_layer(platform, entries, options)

    config_bytes = image_config(platform, options.runtime, [diff_id], rfc3339(options.epoch))
    config = Blob(Descriptor(types.config, Digest.of_bytes(config_bytes), len(config_bytes)), data=config_bytes)
    manifest = image_manifest(types, config.descriptor, [layer.descriptor])
    return PlatformImage(platform, manifest, config, (layer,))


def _reused_layer(
    platform: Platform, entries: Sequence[LayerEntry], options: BuildOptions
) -> tuple[Blob, Digest] | None:
    """The destination's existing layer when its content is the same, found by hashing the tar only.

    NOTE: when the content changed, the input files are read a second time by `_packed_layer`; only runs
    whose destination already has a tag pay for this check.
    """
    if not options.reusable_layers:
        return None
    diff_id = layer_diff_id(entries, options.epoch)
    existing = options.reusable_layers.get(diff_id)
    if existing is None or existing.media_type != options.manifest_format.media_types.layer_gzip:
        return None
    log.info("%s: layer %s unchanged, reused without compressing", platform, existing.digest.short)
    return Blob(existing), diff_id


def _packed_layer(platform: Platform, entries: Sequence[LayerEntry], options: BuildOptions) -> tuple[Blob, Digest]:
    types = options.manifest_format.media_types
    layer_path = options.work_dir / f"layer-{str(platform).replace('/', '-')}.tar.gz"
    layer_file = write_layer(entries, layer_path, options.epoch, options.compression_level)
    layer = Blob(Descriptor(types.layer_gzip, layer_file.digest, layer_file.size), path=layer_file.path)
    log.info("%s: layer %s packed (%s)", platform, layer.digest.short, human_size(layer.size))
    return layer, layer_file.diff_id


def build_tree(
    contents: Mapping[Platform, Sequence[LayerEntry]], tags: Sequence[str], options: BuildOptions
) -> ImageTree:
    """Build every platform at once (compression and hashing release the GIL), then the index.

    Index entries follow the platforms' sorted order, so the index digest does not depend on the order the
    platforms were written in.
    """
    platforms = sorted(contents)
    workers = min(len(platforms), os.cpu_count() or 1) or 1
    with ThreadPoolExecutor(workers) as pool:
        images = list(pool.map(lambda p: build_platform_image(p, contents[p], options), platforms))

    types = options.manifest_format.media_types
    index = image_index(
        types, [image.manifest.descriptor(image.platform) for image in images], options.index_annotations
    )
    return ImageTree(tuple(images), index, tuple(tags))
