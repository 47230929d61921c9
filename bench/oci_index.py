"""Add a multi-platform image index to an OCI layout, over images that umoci tagged one per platform.

umoci 0.4 writes single-platform images only, so the umoci + skopeo peer needs this step to publish one
multi-arch tag. It uses the standard library alone, because it runs as `python -I` inside the peer's job.

Usage: python -I oci_index.py LAYOUT TAG IMAGE_TAG=PLATFORM...
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


def platform_object(text: str) -> dict[str, str]:
    parts = text.split("/")
    platform = {"architecture": parts[1], "os": parts[0]}
    if len(parts) > 2:
        platform["variant"] = parts[2]
    return platform


def write_index(layout: Path, tag: str, images: dict[str, str]) -> str:
    """Write an index over `images` (image tag to platform) as a blob, tag it `tag`, return its digest."""
    layout_index_path = layout / "index.json"
    layout_index: dict[str, Any] = json.loads(layout_index_path.read_text())
    by_tag = {entry["annotations"][REF_NAME]: entry for entry in layout_index["manifests"]}

    manifests = []
    for image_tag, platform in images.items():
        entry = by_tag[image_tag]
        manifests.append(
            {
                "mediaType": entry["mediaType"],
                "digest": entry["digest"],
                "size": entry["size"],
                "platform": platform_object(platform),
            }
        )
    body = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests}).encode()
    hex_digest = hashlib.sha256(body).hexdigest()
    (layout / "blobs" / "sha256" / hex_digest).write_bytes(body)

    descriptor = {
        "mediaType": INDEX_TYPE,
        "digest": f"sha256:{hex_digest}",
        "size": len(body),
        "annotations": {REF_NAME: tag},
    }
    layout_index["manifests"].append(descriptor)
    layout_index_path.write_text(json.dumps(layout_index))
    return f"sha256:{hex_digest}"


def main(arguments: list[str]) -> int:
    if len(arguments) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    layout, tag, *pairs = arguments
    images = dict(pair.split("=", 1) for pair in pairs)
    print(write_index(Path(layout), tag, images))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
