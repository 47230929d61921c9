"""Per-platform images and the index: config values, media type families, determinism."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from plugin.build.image import BuildOptions, build_tree
from plugin.build.layer import LayerEntry
from plugin.errors import SourceError
from plugin.oci import mediatypes
from plugin.oci.content import BaseImage, BaseLayer, Blob, ImageTree
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import ManifestFormat
from plugin.oci.models import Descriptor, RuntimeConfig, canonical_json, image_manifest
from plugin.oci.platform import Platform

PLATFORMS = ["linux/arm64", "linux/amd64", "linux/arm/v7", "linux/386"]


def build(tmp_path: Path, platforms: list[str], manifest_format: ManifestFormat = ManifestFormat.OCI) -> ImageTree:
    contents = {}
    for text in platforms:
        binary = tmp_path / f"app-{text.replace('/', '-')}"
        binary.write_bytes(f"binary for {text}".encode())
        contents[Platform.parse(text)] = [LayerEntry.file("/app", binary, mode=0o755)]
    work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    runtime = RuntimeConfig(entrypoint=["/app"], env=["PATH=/bin"], labels={"a": "b"})
    options = BuildOptions(runtime, manifest_format, epoch=0, compression_level=6, work_dir=work)
    return build_tree(contents, ["latest"], options)


def test_config_platform_matches_the_index_entry(tmp_path: Path) -> None:
    tree = build(tmp_path, PLATFORMS)
    index = json.loads(tree.index.body)
    for entry, image in zip(index["manifests"], tree.images, strict=True):
        assert entry["digest"] == str(image.manifest.digest)
        config = json.loads(image.config.data or b"")
        fields = {k: config[k] for k in ("os", "architecture", "variant") if k in config}
        assert fields == entry["platform"]
        assert config["config"]["Entrypoint"] == ["/app"]
        assert config["rootfs"]["diff_ids"] and len(config["rootfs"]["diff_ids"]) == len(image.layers)


def test_index_digest_does_not_depend_on_platform_order(tmp_path: Path) -> None:
    first = build(tmp_path, PLATFORMS)
    second = build(tmp_path, list(reversed(PLATFORMS)))
    assert first.index.digest == second.index.digest
    platforms = [entry["platform"]["architecture"] for entry in json.loads(first.index.body)["manifests"]]
    assert platforms == ["386", "amd64", "arm", "arm64"]


@pytest.mark.parametrize(
    ("manifest_format", "family"),
    [
        (
            ManifestFormat.OCI,
            {mediatypes.OCI_INDEX, mediatypes.OCI_MANIFEST, mediatypes.OCI_CONFIG, mediatypes.OCI_LAYER_GZIP},
        ),
        (
            ManifestFormat.DOCKER,
            {
                mediatypes.DOCKER_MANIFEST_LIST,
                mediatypes.DOCKER_MANIFEST,
                mediatypes.DOCKER_CONFIG,
                mediatypes.DOCKER_LAYER_GZIP,
            },
        ),
    ],
)
def test_one_manifest_family_throughout(tmp_path: Path, manifest_format: ManifestFormat, family: set[str]) -> None:
    tree = build(tmp_path, PLATFORMS[:2], manifest_format)
    seen = {json.loads(tree.index.body)["mediaType"]}
    for image in tree.images:
        manifest = json.loads(image.manifest.body)
        seen |= {manifest["mediaType"], manifest["config"]["mediaType"]}
        seen |= {layer["mediaType"] for layer in manifest["layers"]}
        assert image.manifest.media_type == manifest["mediaType"]
    assert seen == family
    assert tree.index.media_type == json.loads(tree.index.body)["mediaType"]


def test_manifest_digest_is_of_the_exact_bytes_sent(tmp_path: Path) -> None:
    tree = build(tmp_path, PLATFORMS[:1])
    image = tree.images[0]
    assert image.manifest.digest.hex == hashlib.sha256(image.manifest.body).hexdigest()
    entry = json.loads(tree.index.body)["manifests"][0]
    assert entry["size"] == len(image.manifest.body)


def base_image(platform: Platform, layer_type: str = mediatypes.OCI_LAYER_GZIP) -> BaseImage:
    """A one-layer image as a base image or an archive gives it, with its manifest in the OCI family."""
    layer_bytes = gzip.compress(f"layer of {platform}".encode(), mtime=0)
    diff_id = Digest.of_bytes(gzip.decompress(layer_bytes))
    layer = Blob(Descriptor(layer_type, Digest.of_bytes(layer_bytes), len(layer_bytes)), data=layer_bytes)
    config = canonical_json(
        {
            "architecture": platform.architecture,
            "os": platform.os,
            **({"variant": platform.variant} if platform.variant else {}),
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [str(diff_id)]},
        }
    )
    config_descriptor = Descriptor(mediatypes.OCI_CONFIG, Digest.of_bytes(config), len(config))
    manifest = image_manifest(ManifestFormat.OCI.media_types, config_descriptor, [layer.descriptor])
    return BaseImage(platform, config, (BaseLayer(layer, diff_id),), "test base", manifest)


def build_on(
    tmp_path: Path,
    bases: dict[Platform, BaseImage],
    with_binary: bool,
    manifest_format: ManifestFormat = ManifestFormat.OCI,
) -> ImageTree:
    contents = {}
    if with_binary:
        binary = tmp_path / "app"
        binary.write_bytes(b"binary")
        contents = {platform: [LayerEntry.file("/app", binary, mode=0o755)] for platform in bases}
    runtime = RuntimeConfig(default_entrypoint=["/app"] if with_binary else None)
    options = BuildOptions(runtime, manifest_format, epoch=0, compression_level=6, work_dir=tmp_path)
    return build_tree(contents, ["latest"], options, bases)


def test_unchanged_base_keeps_its_bytes(tmp_path: Path) -> None:
    platform = Platform.parse("linux/arm64")
    base = base_image(platform)

    tree = build_on(tmp_path, {platform: base}, with_binary=False)

    (image,) = tree.images
    assert base.manifest is not None
    assert image.manifest.body == base.manifest.body
    assert image.config.data == base.config


def test_binary_layer_on_top_of_base(tmp_path: Path) -> None:
    platform = Platform.parse("linux/amd64")
    base = base_image(platform)

    tree = build_on(tmp_path, {platform: base}, with_binary=True)

    (image,) = tree.images
    manifest = json.loads(image.manifest.body)
    config = json.loads(image.config.data or b"")
    assert manifest["layers"][0]["digest"] == str(base.layers[0].blob.digest)
    assert len(manifest["layers"]) == 2
    assert config["rootfs"]["diff_ids"][0] == str(base.layers[0].diff_id)
    assert config["config"]["Cmd"] == ["/bin/sh"], "the base's cmd is kept"
    assert "Entrypoint" not in config["config"], "the binary is not the entrypoint of a base that runs a command"


def test_docker_format_relabels_base_gzip_layers(tmp_path: Path) -> None:
    platform = Platform.parse("linux/amd64")
    base = base_image(platform)

    tree = build_on(tmp_path, {platform: base}, with_binary=False, manifest_format=ManifestFormat.DOCKER)

    (image,) = tree.images
    manifest = json.loads(image.manifest.body)
    assert manifest["mediaType"] == mediatypes.DOCKER_MANIFEST
    assert manifest["layers"][0]["mediaType"] == mediatypes.DOCKER_LAYER_GZIP
    assert manifest["layers"][0]["digest"] == str(base.layers[0].blob.digest)
    assert image.config.data == base.config, "the config bytes do not depend on the manifest family"


def test_docker_format_rejects_zstd_layer(tmp_path: Path) -> None:
    platform = Platform.parse("linux/amd64")
    base = base_image(platform, mediatypes.OCI_LAYER_ZSTD)

    with pytest.raises(SourceError, match="PLUGIN_MANIFEST_FORMAT=oci"):
        build_on(tmp_path, {platform: base}, with_binary=False, manifest_format=ManifestFormat.DOCKER)


def test_each_platform_is_handed_over_once_as_soon_as_built(tmp_path: Path) -> None:
    handed_over: list[Platform] = []
    contents = {}
    for text in PLATFORMS:
        binary = tmp_path / f"app-{text.replace('/', '-')}"
        binary.write_bytes(f"binary for {text}".encode())
        contents[Platform.parse(text)] = [LayerEntry.file("/app", binary, mode=0o755)]
    options = BuildOptions(RuntimeConfig(), ManifestFormat.OCI, epoch=0, compression_level=6, work_dir=tmp_path)

    tree = build_tree(contents, ["latest"], options, on_image=lambda image: handed_over.append(image.platform))

    assert sorted(handed_over) == sorted(contents)
    assert [image.platform for image in tree.images] == sorted(contents), "the index order stays sorted"


def test_unusable_base_stops_the_build_before_any_platform_is_handed_over(tmp_path: Path) -> None:
    usable, unusable = Platform.parse("linux/amd64"), Platform.parse("linux/arm64")
    bases = {usable: base_image(usable), unusable: base_image(unusable, mediatypes.OCI_LAYER_ZSTD)}
    options = BuildOptions(RuntimeConfig(), ManifestFormat.DOCKER, epoch=0, compression_level=6, work_dir=tmp_path)
    handed_over: list[Platform] = []

    with pytest.raises(SourceError, match="PLUGIN_MANIFEST_FORMAT=oci"):
        build_tree({}, ["latest"], options, bases, on_image=lambda image: handed_over.append(image.platform))
    assert handed_over == []
