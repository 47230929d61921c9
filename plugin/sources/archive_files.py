"""The files of an image archive, read in place: a tar file (plain or gzip-compressed) or a directory.

Nothing is extracted. A plain tar's members are read where they lie in the file; a gzip-compressed tar is
first decompressed once into the work directory. Every member name is checked when the tar is opened: an
absolute name or one with a `..` component rejects the whole archive. Symlinks and hard links between
members are followed only while they stay inside the archive.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from plugin.errors import SourceError
from plugin.oci.content import READ_CHUNK
from plugin.sources.images import MAX_JSON_SIZE

GZIP_MAGIC = b"\x1f\x8b"
MAX_LINK_HOPS = 8  # links followed to reach a regular file; more means a loop


class UnsafeName(ValueError):
    """An archive path that is absolute or climbs out with `..`."""


def safe_name(name: str) -> str:
    """`name` relative to the archive's root, without `.` components; raises UnsafeName for an unsafe one."""
    if name.startswith("/"):
        raise UnsafeName(f"{name!r} is an absolute path")
    parts = [part for part in PurePosixPath(name).parts if part != "."]
    if ".." in parts:
        raise UnsafeName(f"{name!r} leaves the archive with '..'")
    return "/".join(parts)


def link_target(link: str, target: str) -> str:
    """Resolve where a symlink at `link` points in the archive; raise UnsafeName when that is outside it."""
    if target.startswith("/"):
        raise UnsafeName(f"{link!r} points to the absolute path {target!r}")
    resolved: list[str] = []
    for part in [*PurePosixPath(link).parent.parts, *PurePosixPath(target).parts]:
        if part == "..":
            if not resolved:
                raise UnsafeName(f"{link!r} points outside the archive to {target!r}")
            resolved.pop()
        elif part != ".":
            resolved.append(part)
    return "/".join(resolved)


@dataclass(frozen=True)
class FileRegion:
    """`size` bytes of the file at `path`, from byte `offset`: a member of a plain tar, or a whole file."""

    path: Path
    offset: int
    size: int

    def open(self) -> BinaryIO:
        return io.BufferedReader(_RegionReader(self), READ_CHUNK)

    def read_all(self) -> bytes:
        with self.open() as stream:
            return stream.read()


class _RegionReader(io.RawIOBase):
    def __init__(self, region: FileRegion) -> None:
        super().__init__()
        self._region = region
        self._file = region.path.open("rb")
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        starts = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._region.size}
        self._position = max(0, starts[whence] + offset)
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), self._region.size - self._position)
        if size <= 0:
            return 0
        self._file.seek(self._region.offset + self._position)
        count = self._file.readinto(memoryview(buffer)[:size])
        self._position += count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


class ArchiveFiles(Protocol):
    """Named files of an archive, such as `manifest.json` or `blobs/sha256/<hex>`."""

    @property
    def label(self) -> str:
        """The archive's path, for messages."""
        ...

    def has(self, name: str) -> bool: ...

    def region(self, name: str) -> FileRegion:
        """Locate the regular file `name`; raise SourceError when it is missing or not a regular file."""
        ...


def read_small(files: ArchiveFiles, name: str) -> bytes:
    """Read a JSON file of the archive whole; raise SourceError when it is larger than MAX_JSON_SIZE."""
    region = files.region(name)
    if region.size > MAX_JSON_SIZE:
        raise SourceError(f"{files.label}: {name} has {region.size} bytes, more than a manifest or config ever needs")
    return region.read_all()


class DirectoryFiles:
    """An unpacked archive or an OCI layout directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def label(self) -> str:
        return str(self.root)

    def has(self, name: str) -> bool:
        return (self.root / safe_name(name)).is_file()

    def region(self, name: str) -> FileRegion:
        try:
            path = self.root / safe_name(name)
        except UnsafeName as exc:
            raise SourceError(f"{self.label}: {exc}") from exc
        if not path.is_file():
            raise SourceError(f"{self.label}: {name} is missing or not a regular file")
        return FileRegion(path, 0, path.stat().st_size)


class TarFiles:
    """A plain tar file whose members are read in place."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self._label = label
        self._members = _member_index(path, label)

    @property
    def label(self) -> str:
        return self._label

    def has(self, name: str) -> bool:
        try:
            return safe_name(name) in self._members
        except UnsafeName:
            return False

    def region(self, name: str) -> FileRegion:
        member = self._regular_member(name)
        return FileRegion(self.path, member.offset_data, member.size)

    def _regular_member(self, name: str) -> tarfile.TarInfo:
        """Find the member `name` names, following links that stay inside the archive, up to a regular file."""
        try:
            current = safe_name(name)
            for _ in range(MAX_LINK_HOPS):
                member = self._members.get(current)
                if member is None:
                    raise SourceError(f"{self.label}: {name} is missing")
                if member.isreg() and not member.issparse():
                    return member
                if member.issym():
                    current = link_target(current, member.linkname)
                elif member.islnk():
                    current = safe_name(member.linkname)
                else:
                    raise SourceError(f"{self.label}: {name} is not a regular file")
        except UnsafeName as exc:
            raise SourceError(f"{self.label}: {name} links outside the archive: {exc}") from exc
        raise SourceError(f"{self.label}: {name} is a chain of more than {MAX_LINK_HOPS} links")


def _member_index(path: Path, label: str) -> dict[str, tarfile.TarInfo]:
    try:
        with tarfile.open(path, "r:") as tar:
            members = tar.getmembers()
    except (tarfile.TarError, OSError) as exc:
        raise SourceError(f"{label} is not a tar archive or an OCI layout directory ({exc})") from exc
    index = {}
    for member in members:
        try:
            index[safe_name(member.name)] = member
        except UnsafeName as exc:
            raise SourceError(f"{label}: unsafe path in the archive: {exc}") from exc
    return index


def open_archive_files(path: Path, work_dir: Path, label: str) -> ArchiveFiles:
    """Open the archive at `path`; a gzip-compressed tar is decompressed into `work_dir` first."""
    if path.is_dir():
        return DirectoryFiles(path)
    try:
        with path.open("rb") as stream:
            magic = stream.read(len(GZIP_MAGIC))
    except OSError as exc:
        raise SourceError(f"{label}: cannot read the archive ({exc.strerror or exc})") from exc
    if magic != GZIP_MAGIC:
        return TarFiles(path, label)

    handle, name = tempfile.mkstemp(suffix=".tar", prefix="archive-", dir=work_dir)
    plain = Path(name)
    try:
        with gzip.open(path, "rb") as compressed, os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(compressed, out, READ_CHUNK)
    except (OSError, EOFError) as exc:
        raise SourceError(f"{label}: cannot decompress the gzip archive ({exc})") from exc
    return TarFiles(plain, label)
