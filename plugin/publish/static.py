"""The static registry layout: the files of the registry pull protocol, kept in an object store.

A plain web server (Garage's website endpoint, nginx, `plume serve`) can serve these keys to `docker pull`:

    v2/index.html                          so that `GET /v2/` answers 200
    v2/<name>/blobs/sha256:<hex>           layers and configs
    v2/<name>/manifests/sha256:<hex>       every manifest and the index, by digest
    v2/<name>/manifests/<tag>              a copy of the index, one per tag
    v2/<name>/tags/list                    {"name": ..., "tags": [...]}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.models import SerializedManifest, canonical_json

log = logging.getLogger(__name__)

# Content addressed keys never change, so caches may keep them for a year.
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
# Tags move: a CDN in front must check again soon.
MUTABLE_CACHE = "public, max-age=60, must-revalidate"
BLOB_CONTENT_TYPE = "application/octet-stream"
TAGS_CONTENT_TYPE = "application/json"
PING_BODY = b"{}"


class ObjectStore(Protocol):
    """A flat key-value store with per-object Content-Type and Cache-Control: an S3 bucket or a directory."""

    @property
    def label(self) -> str:
        """Where the store is, with no credentials in it."""
        ...

    def check(self) -> None:
        """Prove the store is reachable and writable with the given credentials, writing nothing."""
        ...

    def exists(self, key: str) -> bool: ...

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        ...

    def write_bytes(self, key: str, data: bytes, content_type: str, cache_control: str) -> None: ...

    def write_blob(self, key: str, blob: Blob, content_type: str, cache_control: str) -> None:
        """Stream a blob from disk; its sha256 digest is known, so stores need not hash it again."""
        ...


def blob_key(name: str, digest: Digest) -> str:
    return f"v2/{name}/blobs/{digest}"


def manifest_key(name: str, reference: str) -> str:
    return f"v2/{name}/manifests/{reference}"


def tags_key(name: str) -> str:
    return f"v2/{name}/tags/list"


PING_KEY = "v2/index.html"


def merged_tags(existing: bytes | None, name: str, new_tags: Iterable[str]) -> bytes:
    """Return the tags/list body with the new tags merged into those already published."""
    tags = set(new_tags)
    if existing:
        try:
            tags.update(json.loads(existing).get("tags") or [])
        except (ValueError, AttributeError):
            log.warning("existing %s is not valid JSON; writing it again", tags_key(name))
    return canonical_json({"name": name, "tags": sorted(tags)})


class StaticRegistry:
    """A destination that writes the static registry layout into an object store."""

    def __init__(self, store: ObjectStore, name: str, public_url: str = "") -> None:
        self.store = store
        self.name = name
        self.public_url = public_url.rstrip("/")

    @property
    def label(self) -> str:
        return f"static registry in {self.store.label}"

    @property
    def reference(self) -> str:
        host = self.public_url.split("://", 1)[-1]
        return f"{host}/{self.name}" if host else self.name

    def check(self) -> None:
        self.store.check()

    def has_blob(self, digest: Digest) -> bool:
        return self.store.exists(blob_key(self.name, digest))

    def put_blob(self, blob: Blob) -> None:
        self.store.write_blob(blob_key(self.name, blob.digest), blob, BLOB_CONTENT_TYPE, IMMUTABLE_CACHE)

    def has_manifest(self, reference: str, manifest: SerializedManifest) -> bool:
        key = manifest_key(self.name, reference)
        if reference == str(manifest.digest):
            return self.store.exists(key)
        return self.store.read(key) == manifest.body

    def read_manifest(self, reference: str) -> SerializedManifest | None:
        body = self.store.read(manifest_key(self.name, reference))
        if body is None:
            return None
        try:
            media_type = json.loads(body).get("mediaType", "")
        except (ValueError, AttributeError):
            return None
        return SerializedManifest(str(media_type), body)

    def read_small_blob(self, digest: Digest) -> bytes | None:
        return self.store.read(blob_key(self.name, digest))

    def put_manifest(self, reference: str, manifest: SerializedManifest) -> None:
        cache_control = IMMUTABLE_CACHE if reference == str(manifest.digest) else MUTABLE_CACHE
        self.store.write_bytes(manifest_key(self.name, reference), manifest.body, manifest.media_type, cache_control)

    def tags_published(self, tags: Sequence[str]) -> None:
        if not self.store.exists(PING_KEY):
            self.store.write_bytes(PING_KEY, PING_BODY, "text/html", MUTABLE_CACHE)
        existing = self.store.read(tags_key(self.name))
        body = merged_tags(existing, self.name, tags)
        if body != existing:
            self.store.write_bytes(tags_key(self.name), body, TAGS_CONTENT_TYPE, MUTABLE_CACHE)
