"""Reusing a destination's unchanged layers instead of compressing them again."""

from __future__ import annotations

from pathlib import Path

from plugin.build.image import BuildOptions, build_tree
from plugin.build.layer import LayerEntry
from plugin.oci.content import ImageTree
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import ManifestFormat
from plugin.oci.models import Descriptor, RuntimeConfig
from plugin.oci.platform import Platform
from plugin.publish import publish_tree
from plugin.publish.directory import DirectoryStore
from plugin.publish.reuse import layers_everywhere
from plugin.publish.static import StaticRegistry

PLATFORMS = [Platform.parse("linux/amd64"), Platform.parse("linux/arm64")]


def build(tmp_path: Path, content: bytes, reusable: dict[Digest, Descriptor] | None = None) -> ImageTree:
    work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    work.mkdir()
    contents = {}
    for platform in PLATFORMS:
        binary = work / f"app-{platform.architecture}"
        binary.write_bytes(content + platform.architecture.encode())
        contents[platform] = [LayerEntry.file("/app", binary, mode=0o755)]
    options = BuildOptions(
        RuntimeConfig(entrypoint=["/app"]), ManifestFormat.OCI, 0, 6, work, reusable_layers=reusable or {}
    )
    return build_tree(contents, ["latest"], options)


def static(tmp_path: Path, name: str) -> StaticRegistry:
    return StaticRegistry(DirectoryStore(tmp_path / name), "app")


def test_unchanged_layers_are_reused_without_compression(tmp_path: Path) -> None:
    destination = static(tmp_path, "one")
    first = build(tmp_path, b"version 1")
    publish_tree(destination, first)

    reusable = layers_everywhere([destination], ["latest"])
    second = build(tmp_path, b"version 1", reusable)

    assert second.index.digest == first.index.digest
    assert all(image.layers[0].path is None for image in second.images), "no layer was compressed"
    report = publish_tree(destination, second)
    assert report.blobs_uploaded == 0


def test_changed_layers_are_compressed_again(tmp_path: Path) -> None:
    destination = static(tmp_path, "one")
    publish_tree(destination, build(tmp_path, b"version 1"))

    reusable = layers_everywhere([destination], ["latest"])
    changed = build(tmp_path, b"version 2", reusable)

    assert all(image.layers[0].path is not None for image in changed.images)
    assert publish_tree(destination, changed).blobs_uploaded == 4, "two layers and two configs"


def test_layer_missing_from_one_destination_is_not_reused(tmp_path: Path) -> None:
    has_it, lacks_it = static(tmp_path, "one"), static(tmp_path, "two")
    publish_tree(has_it, build(tmp_path, b"version 1"))

    assert layers_everywhere([has_it, lacks_it], ["latest"]) == {}
    assert len(layers_everywhere([has_it], ["latest"])) == 2


def test_no_existing_tag_means_nothing_to_reuse(tmp_path: Path) -> None:
    assert layers_everywhere([static(tmp_path, "empty")], ["latest", "1.0"]) == {}


def test_layer_lost_by_the_destination_is_built_again(tmp_path: Path) -> None:
    destination = static(tmp_path, "one")
    first = build(tmp_path, b"version 1")
    publish_tree(destination, first)
    lost = first.images[0].layers[0].digest
    (tmp_path / "one" / "v2" / "app" / "blobs" / str(lost)).unlink()

    reusable = layers_everywhere([destination], ["latest"])
    again = build(tmp_path, b"version 1", reusable)

    assert lost not in {layer.digest for layer in reusable.values()}
    assert publish_tree(destination, again).blobs_uploaded == 1
    assert destination.has_blob(lost)
