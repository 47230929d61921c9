"""Image archives as input, one per platform: docker-archive, OCI archive and OCI layout directory.

- docker-archive: what `docker save`, skopeo's `docker-archive:` and Nix `dockerTools` write, gzipped or
  not. `manifest.json` names one image's config file and its layer files.
- OCI archive: a tar of an OCI image layout, as skopeo's `oci-archive:`, buildah and kaniko write.
- OCI layout directory: `oci-layout`, `index.json` and `blobs/sha256/`. An index may list indexes in
  turn; plume follows them down to the image for the platform.

An archive with both `index.json` and `manifest.json` (newer `docker save`) is read as an OCI layout.
The config's platform must be the one the archive is given for, after normalising names such as
`aarch64`. Each layer is checked before anything is uploaded:
- a gzip layer is kept as it is, once its digest and diff_id match;
- an uncompressed layer is gzip-compressed once into the work directory, and its diff_id must match;
- a zstd layer (OCI only) is kept once its digest matches; its diff_id is taken from the config.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin.build.layer import compress_layer, hash_gzip_layer
from plugin.errors import SourceError
from plugin.oci.content import READ_CHUNK, BaseImage, BaseLayer, Blob
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import (
    GZIP_LAYER_TYPES,
    IMAGE_MANIFEST_TYPES,
    INDEX_TYPES,
    OCI_LAYER_GZIP,
    OCI_LAYER_TAR,
    OCI_LAYER_ZSTD,
    TAR_LAYER_TYPES,
)
from plugin.oci.models import Descriptor, SerializedManifest
from plugin.oci.platform import Platform
from plugin.sources.archive_files import GZIP_MAGIC, ArchiveFiles, FileRegion, open_archive_files, read_small
from plugin.sources.images import (
    IndexEntry,
    check_config_platform,
    check_digest,
    choose_entry,
    diff_ids_of,
    index_entries,
    json_object,
    manifest_parts,
)

log = logging.getLogger(__name__)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_INDEX_DEPTH = 4  # indexes inside indexes; a layout from `skopeo copy --all` nests one level
DOCKER_ARCHIVE = "docker-archive"
OCI_LAYOUT = "OCI layout"


@dataclass(frozen=True)
class LayerWork:
    """Scratch space for the layers plume compresses, and the gzip level it uses."""

    work_dir: Path
    compression_level: int


def archive_images(
    paths: Mapping[Platform, Path], setting: str, work: LayerWork
) -> dict[Platform, BaseImage]:
    """Read and check each platform's archive, all at once: hashing and compression release the GIL."""
    items = sorted(paths.items())
    workers = min(len(items), os.cpu_count() or 1) or 1
    with ThreadPoolExecutor(workers) as pool:
        images = list(pool.map(lambda item: read_archive(item[1], item[0], f"{setting} {shown(item[1])}", work), items))
    return {platform: image for (platform, _), image in zip(items, images, strict=True)}


def shown(path: Path) -> str:
    """`path` relative to the working directory when it is inside it, as the user most likely wrote it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_archive(path: Path, platform: Platform, origin: str, work: LayerWork) -> BaseImage:
    """Read the image for `platform` from the archive at `path`; `origin` starts every error message."""
    if not path.exists():
        raise SourceError(f"{origin}: no such file or directory")
    files = open_archive_files(path, work.work_dir, origin)
    if files.has("index.json"):
        kind, image = OCI_LAYOUT, _oci_layout_image(files, platform, origin, work)
    elif files.has("manifest.json"):
        kind, image = DOCKER_ARCHIVE, _docker_archive_image(files, platform, origin, work)
    else:
        raise SourceError(f"{origin} is neither an OCI layout (no index.json) nor a docker-archive (no manifest.json)")

    compressed = sum(1 for layer in image.layers if layer.blob.path is not None)
    layers = len(image.layers)
    log.info("%s: %s %s, %d of %d layers compressed by plume", platform, kind, shown(path), compressed, layers)
    return image


def _docker_archive_image(files: ArchiveFiles, platform: Platform, origin: str, work: LayerWork) -> BaseImage:
    entry = _single_docker_entry(read_small(files, "manifest.json"), origin)
    config_bytes = read_small(files, entry["Config"])
    config = json_object(config_bytes, f"{origin} config {entry['Config']}")
    check_config_platform(config, platform, origin)

    layer_names: list[str] = entry["Layers"]
    diff_ids = diff_ids_of(config, len(layer_names), origin)
    layers = tuple(
        _checked_layer(files.region(name), None, diff_id, f"{origin} layer {name}", work)
        for name, diff_id in zip(layer_names, diff_ids, strict=True)
    )
    return BaseImage(platform, config_bytes, layers, origin)


def _single_docker_entry(manifest_bytes: bytes, origin: str) -> dict[str, Any]:
    """Return the one image of a docker-archive's manifest.json; raise unless it has a `Config` and `Layers`."""
    what = f"{origin} manifest.json"
    try:
        loaded = json.loads(manifest_bytes)
    except ValueError as exc:
        raise SourceError(f"{what} is not valid JSON ({exc})") from exc
    if not isinstance(loaded, list) or len(loaded) != 1 or not isinstance(loaded[0], dict):
        count = len(loaded) if isinstance(loaded, list) else 0
        raise SourceError(f"{what} must list exactly one image, and lists {count}; save one image per archive")
    entry: dict[str, Any] = loaded[0]
    layers = entry.get("Layers")
    if not isinstance(entry.get("Config"), str) or not isinstance(layers, list):
        raise SourceError(f"{what} has no Config file name or no Layers list")
    if not all(isinstance(name, str) for name in layers):
        raise SourceError(f"{what}: Layers must be file names")
    return entry


def _oci_layout_image(files: ArchiveFiles, platform: Platform, origin: str, work: LayerWork) -> BaseImage:
    index = json_object(read_small(files, "index.json"), f"{origin} index.json")
    entry = choose_entry(_image_entries(files, index, origin, depth=0), platform, origin)
    manifest_bytes = _small_blob(files, entry.descriptor, f"{origin} manifest")
    parts = manifest_parts(json_object(manifest_bytes, f"{origin} manifest"), f"{origin} manifest")
    config_bytes = _small_blob(files, parts.config, f"{origin} config")
    config = json_object(config_bytes, f"{origin} config")
    check_config_platform(config, platform, origin)

    diff_ids = diff_ids_of(config, len(parts.layers), origin)
    layers = tuple(
        _checked_layer(files.region(blob_name(layer.digest)), layer, diff_id, f"{origin} layer {layer.digest}", work)
        for layer, diff_id in zip(parts.layers, diff_ids, strict=True)
    )
    manifest = SerializedManifest(entry.descriptor.media_type, manifest_bytes)
    return BaseImage(platform, config_bytes, layers, origin, manifest)


def _image_entries(files: ArchiveFiles, index: Mapping[str, Any], origin: str, depth: int) -> list[IndexEntry]:
    """Collect every image manifest the index lists, directly or through the indexes it lists."""
    found = []
    for entry in index_entries(index, f"{origin} index"):
        if entry.descriptor.media_type in IMAGE_MANIFEST_TYPES:
            found.append(entry)
        elif entry.descriptor.media_type in INDEX_TYPES:
            if depth >= MAX_INDEX_DEPTH:
                raise SourceError(f"{origin}: indexes nest more than {MAX_INDEX_DEPTH} levels deep")
            nested = json_object(_small_blob(files, entry.descriptor, f"{origin} index"), f"{origin} index")
            found.extend(_image_entries(files, nested, origin, depth + 1))
    return found


def blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _small_blob(files: ArchiveFiles, descriptor: Descriptor, what: str) -> bytes:
    return check_digest(read_small(files, blob_name(descriptor.digest)), descriptor.digest, what)


def _checked_layer(
    region: FileRegion, declared: Descriptor | None, diff_id: Digest, what: str, work: LayerWork
) -> BaseLayer:
    """Check the layer in `region` against its descriptor (when the archive has one) and its diff_id."""
    if declared is not None and declared.size != region.size:
        raise SourceError(f"{what} is {region.size} bytes long, but its descriptor gives {declared.size}")
    with region.open() as stream:
        magic = stream.read(len(ZSTD_MAGIC))
    media_type = declared.media_type if declared is not None else _media_type_from(magic, what)

    if media_type in GZIP_LAYER_TYPES:
        return _gzip_layer(region, declared, media_type, diff_id, what)
    if media_type in TAR_LAYER_TYPES:
        return _compressed_layer(region, declared, diff_id, what, work)
    if media_type == OCI_LAYER_ZSTD and declared is not None:
        return _zstd_layer(region, declared, diff_id, what)
    raise SourceError(f"{what} has media type {media_type!r}; plume reads gzip, zstd and uncompressed tar layers")


def _media_type_from(magic: bytes, what: str) -> str:
    """Tell a gzip layer from a tar by its first bytes, because a docker-archive names no media types."""
    if magic.startswith(GZIP_MAGIC):
        return OCI_LAYER_GZIP
    if magic == ZSTD_MAGIC:
        raise SourceError(f"{what} is zstd-compressed, which a docker-archive cannot declare; use an OCI archive")
    return OCI_LAYER_TAR


def _gzip_layer(
    region: FileRegion, declared: Descriptor | None, media_type: str, diff_id: Digest, what: str
) -> BaseLayer:
    try:
        with region.open() as stream:
            hashes = hash_gzip_layer(stream)
    except ValueError as exc:
        raise SourceError(f"{what}: {exc}") from exc
    if declared is not None and hashes.digest != declared.digest:
        raise SourceError(f"{what} does not match its digest: its content hashes to {hashes.digest}")
    _check_diff_id(hashes.diff_id, diff_id, what)
    descriptor = declared or Descriptor(media_type, hashes.digest, hashes.size)
    return BaseLayer(Blob(descriptor, opener=region.open), diff_id)


def _compressed_layer(
    region: FileRegion, declared: Descriptor | None, diff_id: Digest, what: str, work: LayerWork
) -> BaseLayer:
    handle, name = tempfile.mkstemp(suffix=".tar.gz", prefix="layer-", dir=work.work_dir)
    os.close(handle)
    with region.open() as stream:
        layer = compress_layer(stream, Path(name), work.compression_level)
    if declared is not None and layer.diff_id != declared.digest:
        raise SourceError(f"{what} does not match its digest: its content hashes to {layer.diff_id}")
    _check_diff_id(layer.diff_id, diff_id, what)
    return BaseLayer(Blob(Descriptor(OCI_LAYER_GZIP, layer.digest, layer.size), path=layer.path), diff_id)


def _zstd_layer(region: FileRegion, declared: Descriptor, diff_id: Digest, what: str) -> BaseLayer:
    # NOTE: plume has no zstd decompressor, so the diff_id of a zstd layer is the config's, unchecked.
    sha256 = hashlib.sha256()
    with region.open() as stream:
        while chunk := stream.read(READ_CHUNK):
            sha256.update(chunk)
    digest = Digest(sha256.hexdigest())
    if digest != declared.digest:
        raise SourceError(f"{what} does not match its digest: its content hashes to {digest}")
    return BaseLayer(Blob(declared, opener=region.open), diff_id)


def _check_diff_id(actual: Digest, expected: Digest, what: str) -> None:
    if actual != expected:
        raise SourceError(f"{what}: its tar hashes to {actual}, but the config lists diff_id {expected}")
