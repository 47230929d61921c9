"""Per-platform images and the index: config values, media type families, determinism."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from plugin.build.image import BuildOptions, build_tree
from plugin.build.layer import LayerEntry
from plugin.oci import mediatypes
from plugin.oci.content import ImageTree
from plugin.oci.mediatypes import ManifestFormat
from plugin.oci.models import RuntimeConfig
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
