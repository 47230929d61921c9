"""The content a publish sends: blobs on disk or in memory, manifests as bytes, and the tags to set."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from plugin.oci.digest import Digest
from plugin.oci.models import Descriptor, SerializedManifest
from plugin.oci.platform import Platform

READ_CHUNK = 1 << 20  # 1 MiB: large enough for fast copies, small enough to keep memory flat


@dataclass(frozen=True)
class Blob:
    """A layer or config blob: its descriptor, and where its bytes are.

    The bytes are in a file, in memory for small blobs, or behind `opener`, which returns a fresh stream on
    each call (a streaming GET from another registry, a member of an image archive). A blob with none of the
    three is one every destination already has, referenced without its bytes.
    """

    descriptor: Descriptor
    path: Path | None = None
    data: bytes | None = None
    opener: Callable[[], BinaryIO] | None = None

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def size(self) -> int:
        return self.descriptor.size

    @property
    def referenced_only(self) -> bool:
        """True for a blob known to be at every destination already, whose bytes plume does not have."""
        return self.path is None and self.data is None and self.opener is None

    def open(self) -> BinaryIO:
        """A binary stream of the blob's bytes; requests sends an open file in blocks with its length known."""
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.opener is not None:
            return self.opener()
        if self.path is None:
            raise FileNotFoundError(f"blob {self.digest} is only referenced: its bytes are not on this machine")
        return self.path.open("rb")

    def chunks(self, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """The blob's bytes, streamed from disk so memory does not grow with its size."""
        if self.data is not None:
            yield self.data
            return
        with self.open() as stream:
            while chunk := stream.read(chunk_size):
                yield chunk


@dataclass(frozen=True)
class PlatformImage:
    """One platform's image: its manifest, and the config and layers that manifest references."""

    platform: Platform
    manifest: SerializedManifest
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (*self.layers, self.config)

    @property
    def size(self) -> int:
        """Bytes a client downloads for this platform: manifest, config and layers."""
        return len(self.manifest.body) + sum(blob.size for blob in self.blobs)


@dataclass(frozen=True)
class ImageTree:
    """A multi-platform image ready to publish: per-platform images under one index, and its tags.

    Publishing follows the order this tree implies: every blob, then each platform's manifest by digest,
    then the index by digest, then the tags, so a tag never points at something missing.
    """

    images: tuple[PlatformImage, ...]
    index: SerializedManifest
    tags: tuple[str, ...]

    def unique_blobs(self) -> list[Blob]:
        """Return every blob once, in a stable order, even when platforms share a layer."""
        seen: dict[Digest, Blob] = {}
        for image in self.images:
            for blob in image.blobs:
                seen.setdefault(blob.digest, blob)
        return list(seen.values())


@dataclass(frozen=True)
class BaseLayer:
    """A compressed layer of an existing image, with the diff_id its config lists for it."""

    blob: Blob
    diff_id: Digest


@dataclass(frozen=True)
class BaseImage:
    """An existing image for one platform: a base image to build on, an archive's image or a fan-in child.

    `config` and `manifest` are the bytes as read. When plume changes nothing about the image, it publishes
    exactly these bytes, so the image keeps its digest.
    """

    platform: Platform
    config: bytes
    layers: tuple[BaseLayer, ...]
    origin: str  # where the image comes from, for logs and errors, such as `PLUGIN_BASE 'alpine:3.20'`
    manifest: SerializedManifest | None = None
