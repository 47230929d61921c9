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
    """What the container runs: the `config` object of an image config."""

    entrypoint: Sequence[str] | None = None
    cmd: Sequence[str] | None = None
    env: Sequence[str] = ()
    working_dir: str = ""
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.entrypoint is not None:
            fields["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            fields["Cmd"] = list(self.cmd)
        if self.env:
            fields["Env"] = list(self.env)
        if self.working_dir:
            fields["WorkingDir"] = self.working_dir
        if self.user:
            fields["User"] = self.user
        if self.labels:
            fields["Labels"] = dict(self.labels)
        return fields


def image_config(
    platform: Platform, runtime: RuntimeConfig, diff_ids: Sequence[Digest], created: str
) -> bytes:
    """The image config JSON; os, architecture and variant come from the same value as the index entry."""
    config: dict[str, Any] = {
        "created": created,
        "architecture": platform.architecture,
        "os": platform.os,
        "config": runtime.as_json(),
        "rootfs": {"type": "layers", "diff_ids": [str(d) for d in diff_ids]},
        "history": [{"created": created, "created_by": "plume"} for _ in diff_ids],
    }
    if platform.variant:
        config["variant"] = platform.variant
    return canonical_json(config)


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
