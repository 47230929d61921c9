"""Codec floors: the unavoidable work of a cold publish, timed inside this process on the payload's bytes.

Each floor reads every file in 1 MiB chunks, hashes the chunk (the layer's diff_id), compresses it to gzip
and hashes the output (the layer's digest), as a layer writer must. It skips the tar headers and the disk
write, so a real publish cannot beat it with the same codec, level and number of threads.
"""

from __future__ import annotations

import hashlib
import importlib
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from zlib_ng import zlib_ng

READ_CHUNK = 1 << 20
GZIP_WINDOW = 31  # zlib's window bits for a gzip wrapper


class Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


CompressorFactory = Callable[[], Compressor]


@dataclass(frozen=True)
class Codec:
    """A deflate implementation at one level, producing gzip streams."""

    name: str  # such as `zlib-ng 6`
    new_compressor: CompressorFactory | None  # None when the floor only hashes


@dataclass(frozen=True)
class FloorResult:
    seconds: float
    compressed_bytes: int


def zlib_ng_codec(level: int) -> Codec:
    return Codec(f"zlib-ng {level}", lambda: zlib_ng.compressobj(level, zlib_ng.DEFLATED, GZIP_WINDOW))


def stdlib_zlib_codec(level: int) -> Codec:
    return Codec(f"stdlib zlib {level}", lambda: zlib.compressobj(level, zlib.DEFLATED, GZIP_WINDOW))


def isal_codec(level: int) -> Codec | None:
    """ISA-L's deflate at `level` (0 to 3), or None when the `isal` package is not installed."""
    try:
        isal_zlib = importlib.import_module("isal.isal_zlib")
    except ImportError:
        return None

    def new_compressor() -> Compressor:
        compressor: Compressor = isal_zlib.compressobj(level, isal_zlib.DEFLATED, GZIP_WINDOW)
        return compressor

    return Codec(f"isal {level}", new_compressor)


def hash_only_codec() -> Codec:
    return Codec("sha256 only", None)


def _process_file(path: Path, codec: Codec) -> int:
    """Hash, compress and hash again one file; return the compressed size."""
    uncompressed = hashlib.sha256()
    compressed = hashlib.sha256()
    compressor = codec.new_compressor() if codec.new_compressor else None
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(READ_CHUNK):
            uncompressed.update(chunk)
            if compressor is not None:
                output = compressor.compress(chunk)
                compressed.update(output)
                size += len(output)
    if compressor is not None:
        output = compressor.flush()
        compressed.update(output)
        size += len(output)
    return size


def measure_floor(paths: Sequence[Path], codec: Codec, threads: int = 1) -> FloorResult:
    """Process every file with `codec`, one after another or on `threads` threads, and time it."""
    started = time.perf_counter()
    if threads == 1:
        sizes = [_process_file(path, codec) for path in paths]
    else:
        with ThreadPoolExecutor(threads) as pool:
            sizes = list(pool.map(lambda path: _process_file(path, codec), paths))
    return FloorResult(time.perf_counter() - started, sum(sizes))
