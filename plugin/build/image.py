"""Per-platform images and the index above them, built in parallel from each platform's layer entries.

A platform with a base image gets the base's layers first and plume's layer on top. A base image with no
layer to add and nothing else to change (an archive's image, a fan-in child) keeps its config and manifest
bytes, so its digest stays the same.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plugin.build.config import platform_config
from plugin.build.layer import LayerEntry, layer_diff_id, write_layer
from plugin.errors import SourceError
from plugin.oci.content import BaseImage, Blob, ImageTree, PlatformImage
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import ManifestFormat, layer_type_in
from plugin.oci.models import Descriptor, RuntimeConfig, canonical_json, image_index, image_manifest
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


def build_platform_image(
    platform: Platform, entries: Sequence[LayerEntry], options: BuildOptions, base: BaseImage | None = None
) -> PlatformImage:
    """Pack one platform's files into a layer on top of its base's layers, then write its config and manifest."""
    types = options.manifest_format.media_types
    layers = [] if base is None else base_layers(base, options.manifest_format)
    added: list[Digest] = []
    if entries:
        layer, diff_id = _reused_layer(platform, entries, options) or _packed_layer(platform, entries, options)
        layers.append(layer)
        added.append(diff_id)

    base_config = {} if base is None else json.loads(base.config)
    config_fields = platform_config(base_config, platform, options.runtime, added, rfc3339(options.epoch))
    config_bytes = base.config if base is not None and config_fields == base_config else canonical_json(config_fields)
    config = Blob(Descriptor(types.config, Digest.of_bytes(config_bytes), len(config_bytes)), data=config_bytes)

    manifest = image_manifest(types, config.descriptor, [layer.descriptor for layer in layers])
    if base is not None and base.manifest is not None and _same_image(base.manifest.body, manifest.body):
        manifest = base.manifest
    return PlatformImage(platform, manifest, config, tuple(layers))


def base_layers(base: BaseImage, manifest_format: ManifestFormat) -> list[Blob]:
    """The base's layers with the media types of `manifest_format`; a gzip layer keeps its bytes and digest."""
    layers = []
    for layer in base.layers:
        written = layer.blob.descriptor.media_type
        media_type = layer_type_in(manifest_format.media_types, written)
        if media_type is None:
            in_oci = layer_type_in(ManifestFormat.OCI.media_types, written) is not None
            fix = "set PLUGIN_MANIFEST_FORMAT=oci" if in_oci else "plume copies tar layers only, compressed or not"
            raise SourceError(
                f"{base.origin}: layer {layer.blob.digest.short} has media type {written}, which a "
                f"{manifest_format.value} manifest cannot list; {fix}"
            )
        descriptor = dataclasses.replace(layer.blob.descriptor, media_type=media_type)
        layers.append(dataclasses.replace(layer.blob, descriptor=descriptor))
    return layers


def _same_image(original: bytes, rebuilt: bytes) -> bool:
    """Tell whether a rebuilt manifest lists the same config and layers as the original, in the same family.

    Only those fields are compared, so the original's annotations and formatting do not count.
    """
    fields = ("mediaType", "config", "layers")
    original_fields, rebuilt_fields = json.loads(original), json.loads(rebuilt)
    return all(original_fields.get(name) == rebuilt_fields.get(name) for name in fields)


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
    contents: Mapping[Platform, Sequence[LayerEntry]],
    tags: Sequence[str],
    options: BuildOptions,
    bases: Mapping[Platform, BaseImage] | None = None,
    on_image: Callable[[PlatformImage], None] | None = None,
) -> ImageTree:
    """Build every platform at once (compression and hashing release the GIL), then the index.

    A platform is built when it has entries in `contents`, a base in `bases`, or both. Index entries follow
    the platforms' sorted order, so the index digest does not depend on the order the platforms were written in.
    `on_image` is called with each platform's image as soon as it is built, in this thread.
    """
    bases = bases or {}
    # Checked before any platform is built, so that no blob leaves before a base turns out to be unusable.
    for base in bases.values():
        base_layers(base, options.manifest_format)
    platforms = sorted(set(contents) | set(bases))
    workers = min(len(platforms), os.cpu_count() or 1) or 1
    built: dict[Platform, PlatformImage] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix="build") as pool:
        futures = [
            pool.submit(build_platform_image, platform, contents.get(platform, ()), options, bases.get(platform))
            for platform in platforms
        ]
        try:
            for future in as_completed(futures):
                image = future.result()
                built[image.platform] = image
                if on_image is not None:
                    on_image(image)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    images = [built[platform] for platform in platforms]

    types = options.manifest_format.media_types
    index = image_index(
        types, [image.manifest.descriptor(image.platform) for image in images], options.index_annotations
    )
    return ImageTree(tuple(images), index, tuple(tags))
