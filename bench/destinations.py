"""What a destination received, read from outside the tool that published: the registry and the directory.

The CNCF registry does not log request body sizes, so the bytes a tool sent are the stored sizes of the
blobs whose upload it completed (a PUT or POST with `digest=` and status 201), read from the access log lines
it wrote during the job. A cross-repository mount sends no bytes and is not counted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import requests

from tests.rig.registry import Registry

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
REQUEST_TIMEOUT = 30.0
# An access log line of a completed upload: the request that carries `digest=` and its 201 status.
COMPLETED_UPLOAD = re.compile(
    r'"(?:PUT|POST) /v2/[^ ]+/blobs/uploads/[^ "]*[?&]digest=(?P<digest>sha256(?::|%3A)[0-9a-f]{64})[^ "]*'
    r' HTTP/[0-9.]+" 201'
)


@dataclass(frozen=True)
class Uploads:
    """The blobs a registry stored during one job."""

    count: int
    bytes: int


def completed_uploads(registry: Registry, log_offset: int) -> Uploads:
    """Count the blob uploads the registry completed since `log_offset` of its log, and their stored bytes."""
    count = 0
    total = 0
    for match in COMPLETED_UPLOAD.finditer(registry.log_text()[log_offset:]):
        digest = unquote(match["digest"]).removeprefix("sha256:")
        count += 1
        total += blob_path(registry, digest).stat().st_size
    return Uploads(count, total)


def blob_path(registry: Registry, hex_digest: str) -> Path:
    """Return the file in which the registry's filesystem driver stores a blob's content."""
    return registry.storage_dir / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"


def log_offset(registry: Registry) -> int:
    return len(registry.log_text())


def _get_json(url: str, accept: tuple[str, ...]) -> dict[str, Any]:
    response = requests.get(url, headers={"Accept": ", ".join(accept)}, timeout=REQUEST_TIMEOUT)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def registry_layer_bytes(registry: Registry, repository: str, tag: str) -> int:
    """Sum the layer sizes of every platform manifest the tag's index or manifest list references."""
    base = f"{registry.url}/v2/{repository}/manifests"
    index = _get_json(f"{base}/{tag}", INDEX_TYPES)
    total = 0
    for entry in index["manifests"]:
        manifest = _get_json(f"{base}/{entry['digest']}", MANIFEST_TYPES)
        total += sum(layer["size"] for layer in manifest["layers"])
    return total


def directory_layer_bytes(static_dir: Path, repository: str, tag: str) -> int:
    """Sum the layer sizes of every platform manifest the tag's index references in a static registry."""
    manifests = static_dir / "v2" / repository / "manifests"
    index = json.loads((manifests / tag).read_bytes())
    total = 0
    for entry in index["manifests"]:
        manifest = json.loads((manifests / entry["digest"]).read_bytes())
        total += sum(layer["size"] for layer in manifest["layers"])
    return total


FileStamp = tuple[int, int, int]  # inode, size and modification time in nanoseconds


def directory_snapshot(root: Path) -> dict[Path, FileStamp]:
    """Stamp every file under `root`, to tell afterwards which ones a job wrote."""
    if not root.exists():
        return {}
    stamps: dict[Path, FileStamp] = {}
    for path in root.rglob("*"):
        if path.is_file():
            status = path.stat()
            stamps[path] = (status.st_ino, status.st_size, status.st_mtime_ns)
    return stamps


def blobs_written(root: Path, before: dict[Path, FileStamp]) -> Uploads:
    """Count the blob files under `root/v2/` that are new or changed since `before`, and their bytes."""
    count = 0
    total = 0
    for path, stamp in directory_snapshot(root).items():
        parts = path.relative_to(root).parts
        is_blob = len(parts) > 2 and parts[0] == "v2" and parts[-2] == "blobs"
        if is_blob and before.get(path) != stamp:
            count += 1
            total += stamp[1]
    return Uploads(count, total)
