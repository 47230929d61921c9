"""A local directory as an object store, so the static registry layout can be written to disk.

Each object's Content-Type and Cache-Control go to a small JSON file under `.meta/`, mirroring the metadata
an S3 bucket keeps, so `plume serve` (or any server taught to read them) sends the right headers.
Every file is written to a temporary name and renamed into place: a reader never sees half an object.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from plugin.errors import StoreError
from plugin.oci.content import Blob

META_DIR = ".meta"
PUBLISHED_FILE_MODE = 0o644  # readable by whatever web server is put in front


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def label(self) -> str:
        return f"directory {self.root.resolve()}"

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError("create", str(self.root), exc.strerror or str(exc)) from exc
        if not os.access(self.root, os.W_OK):
            raise StoreError("write", str(self.root), "the directory is not writable")

    def path_of(self, key: str) -> Path:
        return self.root / key

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def read(self, key: str) -> bytes | None:
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError:
            return None

    def write_bytes(self, key: str, data: bytes, content_type: str, cache_control: str) -> None:
        self._replace(key, lambda out: out.write(data))
        self._write_metadata(key, content_type, cache_control)

    def write_blob(self, key: str, blob: Blob, content_type: str, cache_control: str) -> None:
        def copy(out: BinaryIO) -> None:
            with blob.open() as source:
                shutil.copyfileobj(source, out)

        self._replace(key, copy)
        self._write_metadata(key, content_type, cache_control)

    def _write_metadata(self, key: str, content_type: str, cache_control: str) -> None:
        body = json.dumps({"Content-Type": content_type, "Cache-Control": cache_control}).encode()
        self._replace(f"{META_DIR}/{key}.json", lambda out: out.write(body))

    def _replace(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        target = self.path_of(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
            try:
                with os.fdopen(handle, "wb") as out:
                    fill(out)
                os.chmod(temporary, PUBLISHED_FILE_MODE)
                os.replace(temporary, target)
            finally:
                Path(temporary).unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError("write", str(target), exc.strerror or str(exc)) from exc


def read_metadata(root: Path, key: str) -> dict[str, str]:
    """Return the headers recorded for `key`, or an empty dict when none were recorded."""
    try:
        loaded = json.loads((root / META_DIR / f"{key}.json").read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
