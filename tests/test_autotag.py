"""Semantic versions from commit tags, and the tags each release gets."""

from __future__ import annotations

import pytest

from plugin.autotag import Version, VersionError, version_tags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v1.2.3", Version(1, 2, 3)),
        ("1.2.3", Version(1, 2, 3)),
        ("v1.3.0-rc.1", Version(1, 3, 0, "rc.1")),
        ("1.2.3+build.5", Version(1, 2, 3, "", "build.5")),
        ("10.20.30-alpha.beta-2+exp.sha.5114f85", Version(10, 20, 30, "alpha.beta-2", "exp.sha.5114f85")),
        ("0.0.0", Version(0, 0, 0)),
    ],
)
def test_version_parse(text: str, expected: Version) -> None:
    assert Version.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["1.2", "v1", "01.2.3", "1.02.3", "1.2.3-01", "1.2.3-", "1.2.3+", "vv1.2.3", "release-2024", "1.2.3.4", ""]
)
def test_version_parse_rejects(text: str) -> None:
    with pytest.raises(VersionError, match="is not a semantic version"):
        Version.parse(text)


def test_version_is_written_without_v() -> None:
    assert str(Version.parse("v1.3.0-rc.1+build.7")) == "1.3.0-rc.1+build.7"


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        ("v1.2.3", "", ["1.2.3", "1.2", "1", "latest"]),
        ("v0.4.1", "", ["0.4.1", "0.4", "latest"]),
        ("v1.3.0-rc.1", "", ["1.3.0-rc.1"]),
        ("1.2.3+build.5", "", ["1.2.3+build.5"]),
        ("v1.2.3", "alpine", ["1.2.3-alpine", "1.2-alpine", "1-alpine", "alpine"]),
        ("v1.3.0-rc.1", "alpine", ["1.3.0-rc.1-alpine"]),
    ],
)
def test_version_tags(text: str, suffix: str, expected: list[str]) -> None:
    assert version_tags(Version.parse(text), suffix) == expected
