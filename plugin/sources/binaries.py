"""One binary per platform, found from a path template or an explicit per-platform map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from plugin.build.layer import LayerEntry
from plugin.errors import SourceError
from plugin.oci.platform import Platform, RequestedPlatform


def artifact_paths(
    platforms: Sequence[RequestedPlatform],
    template: str,
    explicit: Mapping[Platform, str],
    base_dir: Path,
) -> dict[Platform, Path]:
    """Return each platform's binary path: from `explicit` when given, else the template filled as written."""
    paths: dict[Platform, Path] = {}
    for requested in platforms:
        written = explicit.get(requested.platform) or template.format(**requested.template_fields())
        paths[requested.platform] = base_dir / written
    return paths


def binary_entries(paths: Mapping[Platform, Path], install_path: str, setting: str) -> dict[Platform, list[LayerEntry]]:
    """One layer entry per platform: its binary at `install_path`, executable. Every file is checked first."""
    missing = [f"{platform}: {path}" for platform, path in paths.items() if not path.is_file()]
    if missing:
        raise SourceError(f"{setting}: no file for {'; '.join(missing)}")
    return {platform: [LayerEntry.file(install_path, path, mode=0o755)] for platform, path in paths.items()}
