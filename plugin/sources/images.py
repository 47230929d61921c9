"""Helpers for base images, image archives and fan-in children: reading their JSON and checking platforms.

Every platform found in an index entry or an image config is normalised with `Platform.normalised`, so
`aarch64`, `arm64v8` and `arm64` with or without variant `v8` all compare equal to linux/arm64.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plugin.errors import SourceError
from plugin.oci.digest import Digest
from plugin.oci.mediatypes import CONFIG_TYPES
from plugin.oci.models import Descriptor
from plugin.oci.platform import ALIAS_VARIANTS, Platform, PlatformError

MAX_JSON_SIZE = 16 << 20  # bytes; a config with a long history stays far below, and a wrong file fails fast


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse `data` as a JSON object, or raise a SourceError naming `what`."""
    try:
        loaded = json.loads(data)
    except ValueError as exc:
        raise SourceError(f"{what} is not valid JSON ({exc})") from exc
    if not isinstance(loaded, dict):
        raise SourceError(f"{what} is not a JSON object")
    return loaded


def check_digest(data: bytes, expected: Digest, what: str) -> bytes:
    """Return `data` when its sha256 is `expected`, else raise a SourceError naming `what`."""
    actual = Digest.of_bytes(data)
    if actual != expected:
        raise SourceError(f"{what} does not match its digest {expected}: its content hashes to {actual}")
    return data


def descriptor_of(fields: Any, what: str) -> Descriptor:
    """Parse a descriptor from its JSON object; `index_entries` reads the platform of an index entry."""
    try:
        return Descriptor(
            str(fields["mediaType"]),
            Digest.parse(str(fields["digest"])),
            int(fields["size"]),
            annotations={str(k): str(v) for k, v in (fields.get("annotations") or {}).items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SourceError(f"{what} has an invalid descriptor: {json.dumps(fields)[:200]}") from exc


@dataclass(frozen=True)
class ManifestParts:
    """The config and the layers an image manifest references, in order."""

    config: Descriptor
    layers: tuple[Descriptor, ...]


def manifest_parts(body: Mapping[str, Any], what: str) -> ManifestParts:
    """Read an image manifest's config and layer descriptors; raises unless the config is an image config."""
    config = descriptor_of(body.get("config"), what)
    if config.media_type not in CONFIG_TYPES:
        raise SourceError(f"{what} is not a container image: its config has media type {config.media_type}")
    layers = body.get("layers")
    if not isinstance(layers, list):
        raise SourceError(f"{what} lists no layers")
    return ManifestParts(config, tuple(descriptor_of(layer, what) for layer in layers))


def config_platform(config: Mapping[str, Any], what: str) -> Platform:
    """Return the platform an image config names, normalised; raise SourceError for one plume does not support."""
    os_name = str(config.get("os") or "")
    architecture = str(config.get("architecture") or "")
    variant = str(config.get("variant") or "") or ALIAS_VARIANTS.get(architecture.lower(), "")
    try:
        return Platform.normalised(os_name, architecture, variant)
    except PlatformError as exc:
        raise SourceError(f"{what} is for {os_name or '?'}/{architecture or '?'}: {exc}") from exc


def check_config_platform(config: Mapping[str, Any], expected: Platform, what: str) -> None:
    """Raise unless the config's platform is `expected`. A config without a variant matches any variant."""
    found = config_platform(config, what)
    variant_given = bool(config.get("variant")) or str(config.get("architecture") or "").lower() in ALIAS_VARIANTS
    if not variant_given and (found.os, found.architecture) == (expected.os, expected.architecture):
        return
    if found != expected:
        written = "/".join(str(config.get(key)) for key in ("os", "architecture", "variant") if config.get(key))
        raise SourceError(
            f"{what} is an image for {found} (its config names {written}), not for {expected}; "
            "plume never relabels an image for another platform"
        )


def diff_ids_of(config: Mapping[str, Any], layer_count: int, what: str) -> list[Digest]:
    """Return the config's diff_ids; raise SourceError unless there is one per layer."""
    rootfs = config.get("rootfs") or {}
    try:
        diff_ids = [Digest.parse(str(text)) for text in rootfs.get("diff_ids") or []]
    except (ValueError, AttributeError) as exc:
        raise SourceError(f"{what}: the config's rootfs.diff_ids are not sha256 digests") from exc
    if len(diff_ids) != layer_count:
        raise SourceError(f"{what}: the config lists {len(diff_ids)} diff_ids for {layer_count} layers")
    return diff_ids


@dataclass(frozen=True)
class IndexEntry:
    """A manifest an index lists, with its normalised platform, or None when the entry names none."""

    descriptor: Descriptor
    platform: Platform | None


def index_entries(index: Mapping[str, Any], what: str) -> list[IndexEntry]:
    """List the entries of an index, leaving out those for platforms plume does not support.

    That leaves out attestation manifests (platform `unknown/unknown`) and images for other systems.
    """
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise SourceError(f"{what} lists no manifests")
    found = []
    for fields in entries:
        descriptor = descriptor_of(fields, what)
        written = fields.get("platform")
        if not written:
            found.append(IndexEntry(descriptor, None))
            continue
        try:
            platform = Platform.normalised(
                str(written.get("os", "")), str(written.get("architecture", "")), str(written.get("variant", ""))
            )
        except PlatformError:
            continue
        found.append(IndexEntry(descriptor, platform))
    return found


def platforms_listed(entries: Sequence[IndexEntry]) -> str:
    names = sorted({str(entry.platform) for entry in entries if entry.platform is not None})
    return ", ".join(names) if names else "no supported platform"


def choose_entry(entries: Sequence[IndexEntry], platform: Platform, what: str) -> IndexEntry:
    """Pick the one entry for `platform`, or the only entry when it names no platform (its config is checked later)."""
    matches = [entry for entry in entries if entry.platform == platform]
    if len(matches) > 1:
        raise SourceError(f"{what} has {len(matches)} images for {platform}; keep one")
    if matches:
        return matches[0]
    if len(entries) == 1 and entries[0].platform is None:
        return entries[0]
    raise SourceError(f"{what} has no image for {platform}; it has {platforms_listed(entries)}")
