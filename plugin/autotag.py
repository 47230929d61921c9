"""Tags derived from a release's semantic version, such as `1.2.3`, `1.2`, `1` and `latest` for `v1.2.3`."""

from __future__ import annotations

import re
from dataclasses import dataclass

LATEST = "latest"

# Semantic Versioning 2.0.0: numbers without leading zeros, then an optional pre-release after `-` (dot-separated
# identifiers, numeric ones without leading zeros) and optional build metadata after `+`.
_NUMBER = r"0|[1-9][0-9]*"
_PRERELEASE_PART = rf"(?:{_NUMBER}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_PART = r"[0-9A-Za-z-]+"
SEMVER_PATTERN = re.compile(
    rf"^(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>{_PRERELEASE_PART}(?:\.{_PRERELEASE_PART})*))?"
    rf"(?:\+(?P<build>{_BUILD_PART}(?:\.{_BUILD_PART})*))?$"
)


class VersionError(ValueError):
    """Text that is not a semantic version."""


@dataclass(frozen=True)
class Version:
    """A semantic version; `str()` writes it without the `v` a Git tag may carry."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse `1.2.3`, `v1.2.3`, `1.3.0-rc.1` or `1.2.3+build.5`."""
        match = SEMVER_PATTERN.match(text.removeprefix("v"))
        if match is None:
            raise VersionError(f"{text!r} is not a semantic version such as v1.2.3 or 1.3.0-rc.1")
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            match["prerelease"] or "",
            match["build"] or "",
        )

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text


def version_tags(version: Version, suffix: str = "") -> list[str]:
    """The tags a release gets: the full version, `MAJOR.MINOR`, `MAJOR` and `latest`.

    A pre-release or a version with build metadata gets only its full version, so `latest` and the short
    tags keep pointing at the last plain release. Major version 0 gets no `0` tag, because 0.x releases
    promise no compatibility with each other. A suffix is appended to each tag with `-`, and replaces
    `latest`, as Docker Hub's `1.2-alpine` and `alpine` tags do.
    """
    full = str(version)
    if version.prerelease or version.build:
        tags = [full]
    elif version.major == 0:
        tags = [full, f"0.{version.minor}", LATEST]
    else:
        tags = [full, f"{version.major}.{version.minor}", str(version.major), LATEST]
    if not suffix:
        return tags
    return [suffix if tag == LATEST else f"{tag}-{suffix}" for tag in tags]
