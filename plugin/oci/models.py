"""Descriptors, image configs, manifests and indexes, each turned into canonical bytes once."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from plugin.oci.digest import Digest
from plugin.oci.mediatypes import MediaTypes
from plugin.oci.platform import Platform


def canonical_json(value: Any) -> bytes:
    """Compact UTF-8 JSON with keys sorted: the same value always gives the same bytes."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content by media type, digest and size."""

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.platform is not None:
            fields["platform"] = self.platform.as_json()
        if self.annotations:
            fields["annotations"] = dict(self.annotations)
        return fields


@dataclass(frozen=True)
class SerializedManifest:
    """A manifest or index body, serialised once; its digest and upload use exactly these bytes."""

    media_type: str
    body: bytes

    @property
    def digest(self) -> Digest:
        return Digest.of_bytes(self.body)

    def descriptor(self, platform: Platform | None = None) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.body), platform)


@dataclass(frozen=True)
class RuntimeConfig:
    """What the container runs, as the step's settings give it; None or empty means "not set".

    A base image's own values stay where a field is not set. The two defaults apply only where neither the
    settings nor the base give a value. `default_entrypoint` applies when no entrypoint is set and the base
    has neither an entrypoint nor a cmd. Each `default_env` variable applies when no variable of its name exists.
    """

    entrypoint: Sequence[str] | None = None
    cmd: Sequence[str] | None = None
    env: Sequence[str] = ()  # KEY=VALUE items
    working_dir: str = ""
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    default_entrypoint: Sequence[str] | None = None
    default_env: Sequence[str] = ()


def image_manifest(types: MediaTypes, config: Descriptor, layers: Sequence[Descriptor]) -> SerializedManifest:
    body = {
        "schemaVersion": 2,
        "mediaType": types.manifest,
        "config": config.as_json(),
        "layers": [layer.as_json() for layer in layers],
    }
    return SerializedManifest(types.manifest, canonical_json(body))


def image_index(
    types: MediaTypes, manifests: Sequence[Descriptor], annotations: Mapping[str, str] | None = None
) -> SerializedManifest:
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": types.index,
        "manifests": [m.as_json() for m in manifests],
    }
    if annotations:
        body["annotations"] = dict(annotations)
    return SerializedManifest(types.index, canonical_json(body))
