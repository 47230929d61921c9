"""One list of layer entries per platform from several settings, with clashing paths reported, not overwritten."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

from plugin.build.layer import EntryKind, LayerEntry
from plugin.errors import SourceError
from plugin.oci.platform import Platform

EntriesBySetting = tuple[str, Mapping[Platform, Sequence[LayerEntry]]]


def merge_entries(groups: Sequence[EntriesBySetting]) -> dict[Platform, list[LayerEntry]]:
    """Merge each platform's entries from every (setting, entries) group, in the order given.

    A directory given twice is kept once, with the first mode. Raises SourceError, naming both settings,
    when anything else is given twice or when a path lies inside a file or a symlink.
    """
    platforms = sorted({platform for _, contents in groups for platform in contents})
    return {platform: _merge_platform(platform, groups) for platform in platforms}


def _merge_platform(platform: Platform, groups: Sequence[EntriesBySetting]) -> list[LayerEntry]:
    merged: dict[PurePosixPath, tuple[LayerEntry, str]] = {}
    for setting, contents in groups:
        for entry in contents.get(platform, ()):
            existing = merged.get(entry.path)
            if existing is None:
                merged[entry.path] = (entry, setting)
            elif entry.kind is not EntryKind.DIRECTORY or existing[0].kind is not EntryKind.DIRECTORY:
                raise SourceError(
                    f"{setting}: {entry.path} is given twice for the {platform} image (also by {existing[1]})"
                )

    for path, (_, setting) in merged.items():
        for parent in path.parents:
            found = merged.get(parent)
            if found is not None and found[0].kind is not EntryKind.DIRECTORY:
                raise SourceError(
                    f"{setting}: {path} is inside {parent}, which {found[1]} makes a {found[0].kind.value} "
                    f"in the {platform} image"
                )
    return [entry for entry, _ in merged.values()]
