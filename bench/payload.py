"""The benchmark's input: one executable per platform, a real Go ELF file extended to a chosen size.

The tail after the real program is made of slices of that same program, picked at offsets and with lengths
from a seeded splitmix64 sequence. Each slice is 4 to 64 KiB of real machine code and data, and inside it
the compressor's 32 KiB window contains the program's own neighbouring bytes, so the file compresses about
as well as the program itself does. The ELF loader ignores bytes past the program's segments, so the
extended file still runs. Go records the repository's commit, and whether the work tree differs from it, in
each binary, so the same Go version and the same commit give the same files, byte for byte, on every
machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.rig.goapp import GO_TARGETS, GoTarget, build_go_binaries

MIB = 1 << 20
SLICE_MIN = 4 * 1024
SLICE_MAX = 64 * 1024
WRITE_CHUNK = 8 * MIB
UINT64_MASK = (1 << 64) - 1
# The file names PLUGIN_ARTIFACT expands to, for the platforms as GO_TARGETS writes them.
ARTIFACT_TEMPLATE = "app-{os}-{arch}{variant}"


@dataclass(frozen=True)
class PlatformFile:
    """One platform's executable in the payload."""

    platform: str  # as written in PLUGIN_PLATFORMS, such as `linux/arm/v7`
    path: Path
    source_sha256: str  # of the real Go program the file starts with
    sha256: str


@dataclass(frozen=True)
class Payload:
    """The executables of every platform, all of one size, in one folder."""

    directory: Path
    files: tuple[PlatformFile, ...]
    size: int

    @property
    def platforms(self) -> list[str]:
        return [file.platform for file in self.files]

    @property
    def artifact_template(self) -> str:
        """The PLUGIN_ARTIFACT value that names these files."""
        return str(self.directory / ARTIFACT_TEMPLATE)

    @property
    def total_size(self) -> int:
        return self.size * len(self.files)


def splitmix64(seed: int) -> Iterator[int]:
    """Yield the splitmix64 sequence of `seed`: a tiny generator whose output no library version can change."""
    state = seed & UINT64_MASK
    while True:
        state = (state + 0x9E3779B97F4A7C15) & UINT64_MASK
        mixed = state
        mixed = ((mixed ^ (mixed >> 30)) * 0xBF58476D1CE4E5B9) & UINT64_MASK
        mixed = ((mixed ^ (mixed >> 27)) * 0x94D049BB133111EB) & UINT64_MASK
        yield mixed ^ (mixed >> 31)


def platform_seed(platform: str) -> int:
    return int.from_bytes(hashlib.sha256(platform.encode()).digest()[:8], "big")


def extended_chunks(program: bytes, size: int, seed: int) -> Iterator[bytes]:
    """Yield `program` followed by slices of itself until `size` bytes in all, in chunks of about 8 MiB."""
    numbers = splitmix64(seed)
    chunk = bytearray(program[:size])
    remaining = size - len(chunk)
    while remaining > 0:
        offset = next(numbers) % len(program)
        length = SLICE_MIN + next(numbers) % (SLICE_MAX - SLICE_MIN)
        piece = program[offset : offset + min(length, remaining)]
        chunk += piece
        remaining -= len(piece)
        if len(chunk) >= WRITE_CHUNK:
            yield bytes(chunk)
            chunk.clear()
    if chunk:
        yield bytes(chunk)


def write_extended(program_path: Path, out_path: Path, size: int, platform: str) -> PlatformFile:
    """Write `program_path` extended to `size` bytes as an executable at `out_path`."""
    program = program_path.read_bytes()
    digest = hashlib.sha256()
    with out_path.open("wb") as out:
        for chunk in extended_chunks(program, size, platform_seed(platform)):
            digest.update(chunk)
            out.write(chunk)
    out_path.chmod(0o755)
    return PlatformFile(platform, out_path, hashlib.sha256(program).hexdigest(), digest.hexdigest())


def artifact_name(target: GoTarget) -> str:
    return ARTIFACT_TEMPLATE.format(os=target.os, arch=target.arch, variant=target.variant)


def build_payload(work_dir: Path, size: int, targets: tuple[GoTarget, ...] = GO_TARGETS) -> Payload:
    """Build the Go test program for each target, then extend each binary to `size` bytes."""
    go_dist = build_go_binaries(work_dir / "go")
    directory = work_dir / f"payload-{size}"
    directory.mkdir(parents=True, exist_ok=True)
    files = tuple(
        write_extended(go_dist / target.file_name, directory / artifact_name(target), size, target.platform)
        for target in targets
    )
    return Payload(directory, files, size)
