"""Platforms of existing images: normalised names, the check against the requested platform, index entries."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.errors import SourceError
from plugin.oci.platform import Platform
from plugin.sources.images import check_config_platform, choose_entry, index_entries

ARM64 = Platform.parse("linux/arm64")
DIGEST = "sha256:" + "c" * 64


@pytest.mark.parametrize(
    ("config", "requested"),
    [
        ({"os": "linux", "architecture": "aarch64"}, "linux/arm64"),
        ({"os": "linux", "architecture": "arm64v8"}, "linux/arm64"),
        ({"os": "linux", "architecture": "arm64", "variant": "v8"}, "linux/arm64"),
        ({"os": "linux", "architecture": "x86_64"}, "linux/amd64"),
        ({"os": "linux", "architecture": "i686"}, "linux/386"),
        ({"os": "linux", "architecture": "arm32v7"}, "linux/arm/v7"),
        ({"os": "linux", "architecture": "arm"}, "linux/arm/v6"),
    ],
)
def test_config_platform_matches_after_normalising(config: dict[str, Any], requested: str) -> None:
    check_config_platform(config, Platform.parse(requested), "archive")


@pytest.mark.parametrize(
    ("config", "requested"),
    [
        ({"os": "linux", "architecture": "amd64"}, "linux/arm64"),
        ({"os": "linux", "architecture": "arm", "variant": "v6"}, "linux/arm/v7"),
        ({"os": "linux", "architecture": "arm32v6"}, "linux/arm/v7"),
        ({"os": "windows", "architecture": "amd64"}, "linux/amd64"),
    ],
)
def test_config_for_another_platform_is_rejected(config: dict[str, Any], requested: str) -> None:
    with pytest.raises(SourceError, match=r"^archive"):
        check_config_platform(config, Platform.parse(requested), "archive")


def entry(platform: dict[str, str] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": DIGEST, "size": 9}
    if platform is not None:
        fields["platform"] = platform
    return fields


def test_index_entries_skip_unsupported_platforms() -> None:
    index = {
        "manifests": [
            entry({"os": "linux", "architecture": "arm64"}),
            entry({"os": "unknown", "architecture": "unknown"}),
            entry({"os": "windows", "architecture": "amd64"}),
        ]
    }

    entries = index_entries(index, "index")

    assert [found.platform for found in entries] == [ARM64]


def test_choose_entry_lists_available_platforms() -> None:
    entries = index_entries({"manifests": [entry({"os": "linux", "architecture": "amd64"})]}, "index")

    with pytest.raises(SourceError, match=r"^base has no image for linux/arm64/v8; it has linux/amd64$"):
        choose_entry(entries, ARM64, "base")


def test_choose_entry_takes_lone_entry() -> None:
    entries = index_entries({"manifests": [entry(None)]}, "layout")

    assert choose_entry(entries, ARM64, "layout").platform is None
