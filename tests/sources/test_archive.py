"""Image archives made in the test: docker-archives and OCI layouts, their layers, links and unsafe paths."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from plugin.errors import SourceError
from plugin.oci.content import BaseImage
from plugin.oci.mediatypes import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST
from plugin.oci.platform import Platform
from plugin.sources.archive import LayerWork, archive_images, read_archive

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")


def layer_tar(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("app")
        info.size = len(content)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(architecture: str, diff_ids: list[str]) -> bytes:
    config = {"architecture": architecture, "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    return json.dumps(config).encode()


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def docker_archive(
    path: Path,
    layers: list[bytes],
    architecture: str = "amd64",
    *,
    diff_ids: list[str] | None = None,
    images: int = 1,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Write a docker-archive as `docker save` does; each layer is stored as given (a tar, or gzip of one)."""
    uncompressed = [gzip.decompress(layer) if layer[:2] == b"\x1f\x8b" else layer for layer in layers]
    config = image_config(architecture, diff_ids or [sha256(tar) for tar in uncompressed])
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    layer_names = [f"{index}/layer.tar" for index in range(len(layers))]
    manifest = [{"Config": config_name, "RepoTags": ["app:latest"], "Layers": layer_names}] * images
    with tarfile.open(path, "w") as tar:
        add_file(tar, config_name, config)
        for name, layer in zip(layer_names, layers, strict=True):
            add_file(tar, name, layer)
        for name, data in (extra or {}).items():
            add_file(tar, name, data)
        add_file(tar, "manifest.json", json.dumps(manifest).encode())
    return path


def read(path: Path, platform: Platform, tmp_path: Path) -> BaseImage:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return read_archive(path, platform, f"PLUGIN_ARCHIVE {path.name}", LayerWork(work, 6))


def blob_bytes(image: BaseImage, index: int) -> bytes:
    with image.layers[index].blob.open() as stream:
        return stream.read()


def test_uncompressed_layer_is_gzipped(tmp_path: Path) -> None:
    tar = layer_tar(b"binary")
    archive = docker_archive(tmp_path / "image.tar", [tar])

    image = read(archive, AMD64, tmp_path)

    (layer,) = image.layers
    compressed = blob_bytes(image, 0)
    assert gzip.decompress(compressed) == tar
    assert str(layer.diff_id) == sha256(tar)
    assert str(layer.blob.digest) == sha256(compressed)
    assert layer.blob.descriptor.media_type == OCI_LAYER_GZIP
    assert image.manifest is None


def test_gzip_layer_is_kept_as_it_is(tmp_path: Path) -> None:
    compressed = gzip.compress(layer_tar(b"binary"))
    archive = docker_archive(tmp_path / "image.tar", [compressed])

    image = read(archive, AMD64, tmp_path)

    assert blob_bytes(image, 0) == compressed
    assert image.layers[0].blob.path is None, "the layer is read from the archive, not copied"


def test_gzip_compressed_archive_is_read(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "image.tar", [layer_tar(b"binary")], "aarch64")
    zipped = tmp_path / "image.tar.gz"
    zipped.write_bytes(gzip.compress(archive.read_bytes()))

    image = read(zipped, ARM64, tmp_path)

    assert json.loads(image.config)["architecture"] == "aarch64", "the config is kept as read; the build normalises it"
    assert image.platform == ARM64


def test_unpacked_docker_archive_is_read(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "image.tar", [layer_tar(b"binary")])
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")

    image = read(unpacked, AMD64, tmp_path)

    assert len(image.layers) == 1


def test_layer_behind_a_symlink_is_followed(tmp_path: Path) -> None:
    tar = layer_tar(b"binary")
    archive = tmp_path / "image.tar"
    config = image_config("amd64", [sha256(tar)])
    manifest = [{"Config": "config.json", "Layers": ["abc/layer.tar"]}]
    with tarfile.open(archive, "w") as out:
        add_file(out, "config.json", config)
        add_file(out, "def.tar", tar)
        add_symlink(out, "abc/layer.tar", "../def.tar")
        add_file(out, "manifest.json", json.dumps(manifest).encode())

    image = read(archive, AMD64, tmp_path)

    assert gzip.decompress(blob_bytes(image, 0)) == tar


def test_symlink_out_of_the_archive_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    manifest = [{"Config": "config.json", "Layers": ["abc/layer.tar"]}]
    with tarfile.open(archive, "w") as out:
        add_file(out, "config.json", image_config("amd64", [sha256(b"x")]))
        add_symlink(out, "abc/layer.tar", "../../etc/passwd")
        add_file(out, "manifest.json", json.dumps(manifest).encode())

    with pytest.raises(SourceError, match=r"^PLUGIN_ARCHIVE image\.tar: abc/layer\.tar links outside the archive"):
        read(archive, AMD64, tmp_path)


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside", "blobs/../../outside"])
def test_unsafe_member_name_rejects_archive(name: str, tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "image.tar", [layer_tar(b"binary")], extra={name: b"x"})

    with pytest.raises(SourceError, match="unsafe path in the archive") as caught:
        read(archive, AMD64, tmp_path)
    assert repr(name) in str(caught.value)


def test_unsafe_config_name_rejected(tmp_path: Path) -> None:
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    (unpacked / "manifest.json").write_text(json.dumps([{"Config": "../config.json", "Layers": []}]))

    with pytest.raises(SourceError, match="leaves the archive"):
        read(unpacked, AMD64, tmp_path)


def test_archive_of_two_images_is_rejected(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "image.tar", [layer_tar(b"binary")], images=2)

    with pytest.raises(SourceError, match="must list exactly one image, and lists 2"):
        read(archive, AMD64, tmp_path)


def test_wrong_diff_id_is_rejected(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "image.tar", [layer_tar(b"binary")], diff_ids=[sha256(b"other")])

    with pytest.raises(SourceError, match="but the config lists diff_id"):
        read(archive, AMD64, tmp_path)


def test_archive_for_other_platform_rejected(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "image.tar", [layer_tar(b"binary")], "amd64")

    with pytest.raises(SourceError, match=r"image\.tar is an image for linux/amd64.*not for linux/arm64/v8"):
        read(archive, ARM64, tmp_path)


def test_file_that_is_no_archive_is_rejected(tmp_path: Path) -> None:
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("hello")

    with pytest.raises(SourceError, match="not a tar archive or an OCI layout directory"):
        read(not_archive, AMD64, tmp_path)


def test_missing_archive_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^PLUGIN_ARCHIVE absent\.tar: no such file or directory$"):
        read(tmp_path / "absent.tar", AMD64, tmp_path)


def write_blob(layout: Path, data: bytes) -> dict[str, Any]:
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)
    return {"digest": sha256(data), "size": len(data)}


def oci_layout(layout: Path, platforms: dict[Platform, bytes]) -> dict[Platform, dict[str, Any]]:
    """Write an OCI layout whose index.json lists one index of one image per platform, as `skopeo copy --all`
    writes it. Returns each platform's manifest descriptor.
    """
    entries = {}
    for platform, content in platforms.items():
        compressed = gzip.compress(layer_tar(content), mtime=0)
        layer = {"mediaType": OCI_LAYER_GZIP, **write_blob(layout, compressed)}
        config_bytes = image_config(platform.architecture, [sha256(gzip.decompress(compressed))])
        config = {"mediaType": OCI_CONFIG, **write_blob(layout, config_bytes)}
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
        entries[platform] = {
            "mediaType": OCI_MANIFEST,
            **write_blob(layout, json.dumps(manifest).encode()),
            "platform": platform.as_json(),
        }
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries.values())}
    nested = {"mediaType": OCI_INDEX, **write_blob(layout, json.dumps(index).encode())}
    top = {"schemaVersion": 2, "manifests": [nested]}
    (layout / "index.json").write_text(json.dumps(top))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return entries


def test_layout_follows_nested_index(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    entries = oci_layout(layout, {AMD64: b"amd64 binary", ARM64: b"arm64 binary"})

    image = read(layout, ARM64, tmp_path)

    assert image.manifest is not None
    assert str(image.manifest.digest) == entries[ARM64]["digest"]
    assert gzip.decompress(blob_bytes(image, 0)) == layer_tar(b"arm64 binary")


def test_layout_blob_with_wrong_digest_rejected(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    entries = oci_layout(layout, {AMD64: b"amd64 binary"})
    manifest_path = layout / "blobs" / "sha256" / entries[AMD64]["digest"].removeprefix("sha256:")
    manifest_path.write_bytes(manifest_path.read_bytes().replace(b"schemaVersion", b"schemaversion"))

    with pytest.raises(SourceError, match="does not match its digest"):
        read(layout, AMD64, tmp_path)


def test_layout_without_platform_lists_others(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    oci_layout(layout, {AMD64: b"amd64 binary"})

    with pytest.raises(SourceError, match="has no image for linux/arm64/v8; it has linux/amd64"):
        read(layout, ARM64, tmp_path)


def test_archive_images_reads_every_platform(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    oci_layout(layout, {AMD64: b"amd64 binary", ARM64: b"arm64 binary"})
    docker = docker_archive(tmp_path / "amd64.tar", [layer_tar(b"binary")])
    work = tmp_path / "work"
    work.mkdir()

    images = archive_images({AMD64: docker, ARM64: layout}, "PLUGIN_ARCHIVES", LayerWork(work, 6))

    assert {platform: image.platform for platform, image in images.items()} == {AMD64: AMD64, ARM64: ARM64}
    assert images[AMD64].origin.startswith("PLUGIN_ARCHIVES ")
