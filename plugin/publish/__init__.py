"""Destinations: where a built image tree goes. Each one is checked before anything is uploaded anywhere.

`publish_tree` contains the one upload order that every destination follows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from plugin.oci.content import Blob, ImageTree
from plugin.oci.digest import Digest
from plugin.oci.models import SerializedManifest
from plugin.sizes import human_size

log = logging.getLogger(__name__)

UPLOAD_WORKERS = 4  # parallel blob uploads: they wait on the network; registries throttle many more


@dataclass(frozen=True)
class Mounted:
    """A blob that the destination linked from another of its repositories, so no bytes were sent."""

    source: str  # the repository the blob came from


@dataclass
class PublishReport:
    """The counts and bytes one destination received, and the references it now serves."""

    destination: str
    blobs_uploaded: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0
    bytes_uploaded: int = 0
    manifests_written: int = 0
    manifests_skipped: int = 0
    references: list[str] = field(default_factory=list)


class Destination(Protocol):
    """One place to publish to: a registry repository, an S3 static registry or a local directory."""

    @property
    def label(self) -> str:
        """A short description for logs and the summary, with no credentials in it."""
        ...

    @property
    def reference(self) -> str:
        """The name users pull, such as `registry.example.org/app`."""
        ...

    def check(self) -> None:
        """Reach the destination and prove the credentials work, uploading nothing."""
        ...

    def has_blob(self, digest: Digest) -> bool: ...

    def put_blob(self, blob: Blob) -> Mounted | None:
        """Store a blob; return Mounted when it was linked from another repository instead of uploaded."""
        ...

    def read_manifest(self, reference: str) -> SerializedManifest | None:
        """The manifest or index stored under a digest or a tag, or None."""
        ...

    def read_small_blob(self, digest: Digest) -> bytes | None:
        """A small blob, such as an image config, read whole; None when absent."""
        ...

    def has_manifest(self, reference: str, manifest: SerializedManifest) -> bool:
        """Tell whether `reference` (a digest or a tag) already resolves to exactly this manifest."""
        ...

    def put_manifest(self, reference: str, manifest: SerializedManifest) -> None:
        """Store a manifest or index under a digest or a tag, with its own media type."""
        ...

    def tags_published(self, tags: Sequence[str]) -> None:
        """Called once every tag is in place, for destinations that keep a list of tags."""
        ...


class BlobPusher:
    """A bounded pool that sends blobs to one destination, each digest once, from the moment it is handed over.

    The job hands each platform's blobs over as soon as that platform is built, so they travel while the
    other platforms are still being compressed. `publish_tree` hands over the rest and waits for all of
    them before it writes a manifest.
    """

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self._pool = ThreadPoolExecutor(UPLOAD_WORKERS, thread_name_prefix="upload")
        self._pushes: dict[Digest, Future[BlobOutcome]] = {}

    def push(self, blob: Blob) -> None:
        if blob.digest not in self._pushes:
            self._pushes[blob.digest] = self._pool.submit(_push_blob, self.destination, blob)

    def outcome(self, blob: Blob) -> BlobOutcome:
        """Wait for the blob's push, starting it if needed, and raise what the push raised."""
        self.push(blob)
        return self._pushes[blob.digest].result()

    def close(self) -> None:
        """Drop the pushes that have not started and wait for those under way."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BlobPusher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def publish_tree(destination: Destination, tree: ImageTree, pusher: BlobPusher | None = None) -> PublishReport:
    """Publish in the order that keeps every tag valid: all blobs, then each platform's manifest by
    digest, then the index by digest, then the tags. A step stopped at any point leaves no tag pointing
    at something missing, and running it again finishes the job.

    `pusher` is the destination's pusher when some blobs were handed over early; otherwise one is made here.
    """
    if pusher is None:
        with BlobPusher(destination) as own_pusher:
            return publish_tree(destination, tree, own_pusher)

    report = PublishReport(destination.label)
    blobs = tree.unique_blobs()
    for blob in blobs:
        pusher.push(blob)
    for blob in blobs:
        outcome = pusher.outcome(blob)
        report.blobs_uploaded += outcome == BlobOutcome.UPLOADED
        report.blobs_skipped += outcome == BlobOutcome.SKIPPED
        report.blobs_mounted += outcome == BlobOutcome.MOUNTED
        report.bytes_uploaded += blob.size if outcome == BlobOutcome.UPLOADED else 0

    for image in tree.images:
        state = _push_manifest(destination, str(image.manifest.digest), image.manifest, report)
        log.info("manifest %s@%s (%s) %s", destination.reference, image.manifest.digest, image.platform, state)
    state = _push_manifest(destination, str(tree.index.digest), tree.index, report)
    log.info("index %s@%s %s", destination.reference, tree.index.digest, state)
    for tag in tree.tags:
        state = _push_manifest(destination, tag, tree.index, report)
        report.references.append(f"{destination.reference}:{tag}@{tree.index.digest}")
        log.info("tag %s:%s@%s %s", destination.reference, tag, tree.index.digest, state)
    destination.tags_published(tree.tags)
    return report


def _push_manifest(
    destination: Destination, reference: str, manifest: SerializedManifest, report: PublishReport
) -> str:
    """Store the manifest under `reference` unless it is already there, and return which happened, for the log."""
    if destination.has_manifest(reference, manifest):
        report.manifests_skipped += 1
        return "already there"
    destination.put_manifest(reference, manifest)
    report.manifests_written += 1
    return "written"


class BlobOutcome(Enum):
    SKIPPED = "skipped"
    UPLOADED = "uploaded"
    MOUNTED = "mounted"


def _push_blob(destination: Destination, blob: Blob) -> BlobOutcome:
    size = human_size(blob.size)
    # A referenced-only blob was reused because every destination had it a moment ago: no need to ask again.
    if blob.referenced_only or destination.has_blob(blob.digest):
        log.info("blob %s skipped: %s has it (%s)", blob.digest.short, destination.reference, size)
        return BlobOutcome.SKIPPED
    mounted = destination.put_blob(blob)
    if mounted is not None:
        log.info("blob %s mounted into %s from %s (%s)", blob.digest.short, destination.reference, mounted.source, size)
        return BlobOutcome.MOUNTED
    log.info("blob %s pushed to %s (%s)", blob.digest.short, destination.reference, size)
    return BlobOutcome.UPLOADED
