"""Files and directories copied into each platform's image from a map of source path templates to destinations.

A source file goes to its destination, or into it when the destination ends with `/`. A source directory's
contents go under its destination, recursively: modes are kept, symlinks inside it are stored as symlinks
(never followed), and files that share an inode are stored once, the others as tar hard links. A source
named directly is followed when it is a symlink, as `cp -r` and Docker's COPY do.
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath

from plugin.build.layer import EntryKind, LayerEntry, layer_order
from plugin.errors import SourceError
from plugin.oci.platform import Platform, RequestedPlatform

ROOT = PurePosixPath("/")
InodeKey = tuple[int, int]  # (st_dev, st_ino): equal keys are the same file on disk


class _Collector:
    """The entries of one platform, with the inode of every regular file for finding hard links."""

    def __init__(self, setting: str) -> None:
        self.setting = setting
        self.entries: list[LayerEntry] = []
        self.inodes: dict[PurePosixPath, InodeKey] = {}

    def add_file(self, destination: PurePosixPath, source: Path, status: os.stat_result) -> None:
        self.entries.append(LayerEntry.file(destination, source, stat.S_IMODE(status.st_mode)))
        self.inodes[destination] = (status.st_dev, status.st_ino)

    def add_tree(self, root: Path, destination: PurePosixPath) -> None:
        for source, path, status in _walk(root, destination):
            if stat.S_ISDIR(status.st_mode):
                self.entries.append(LayerEntry.directory(path, stat.S_IMODE(status.st_mode)))
            elif stat.S_ISLNK(status.st_mode):
                self.entries.append(LayerEntry.symlink(path, os.readlink(source)))
            elif stat.S_ISREG(status.st_mode):
                self.add_file(path, source, status)
            else:
                raise SourceError(f"{self.setting}: {source} is not a regular file, directory or symlink")

    def with_hard_links(self) -> list[LayerEntry]:
        """Turn every file but the first (in layer order) of each set of paths sharing an inode into a hard link."""
        by_inode: dict[InodeKey, list[PurePosixPath]] = defaultdict(list)
        for path, inode in self.inodes.items():
            by_inode[inode].append(path)
        link_targets: dict[PurePosixPath, PurePosixPath] = {}
        for paths in by_inode.values():
            first, *others = sorted(paths, key=layer_order)
            link_targets.update((other, first) for other in others)

        entries: list[LayerEntry] = []
        for entry in self.entries:
            target = link_targets.get(entry.path) if entry.kind is EntryKind.FILE else None
            entries.append(entry if target is None else LayerEntry.hard_link(entry.path, target, entry.mode))
        return entries


def _walk(root: Path, destination: PurePosixPath) -> Iterator[tuple[Path, PurePosixPath, os.stat_result]]:
    """Yield every path under `root`, without following symlinks, with its image path under `destination`."""
    pending = [(root, destination)]
    while pending:
        directory, image_directory = pending.pop()
        with os.scandir(directory) as scan:
            children = sorted(scan, key=lambda child: child.name)
        for child in children:
            status = child.stat(follow_symlinks=False)
            source, path = Path(child.path), image_directory / child.name
            yield source, path, status
            if stat.S_ISDIR(status.st_mode):
                pending.append((source, path))


def _copy_one(collector: _Collector, source: Path, destination: str) -> None:
    status = source.stat()
    target = PurePosixPath(destination)
    if stat.S_ISDIR(status.st_mode):
        if target != ROOT:
            collector.entries.append(LayerEntry.directory(target, stat.S_IMODE(status.st_mode)))
        collector.add_tree(source, target)
    elif stat.S_ISREG(status.st_mode):
        if destination.endswith("/"):
            target = target / source.name
        collector.add_file(target, source, status)
    else:
        raise SourceError(f"{collector.setting}: {source} is not a regular file or directory")


def file_entries(
    platforms: Sequence[RequestedPlatform],
    mapping: Mapping[str, str],
    base_dir: Path,
    setting: str,
) -> dict[Platform, list[LayerEntry]]:
    """Collect each platform's entries for `mapping`, from source path templates to absolute destinations.

    Raises SourceError naming `setting` when a source is missing or is a special file.
    """
    contents: dict[Platform, list[LayerEntry]] = {}
    for requested in platforms:
        collector = _Collector(setting)
        fields = requested.template_fields()
        copies = [(base_dir / template.format(**fields), destination) for template, destination in mapping.items()]
        missing = [str(source) for source, _ in copies if not source.exists()]
        if missing:
            raise SourceError(f"{setting}: nothing at {', '.join(missing)} for {requested.platform}")
        for source, destination in copies:
            try:
                _copy_one(collector, source, destination)
            except OSError as exc:
                raise SourceError(f"{setting}: cannot read {source}: {exc}") from exc
        contents[requested.platform] = collector.with_hard_links()
    return contents
