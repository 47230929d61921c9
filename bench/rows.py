"""The rows of the result table, in print order, and the keys the target checks look them up by."""

from __future__ import annotations

from collections.abc import Sequence

from bench import codecs
from bench.samples import Row

PLUME_COLD = "plume-cold"
PLUME_COLD_FAST = "plume-cold-fast"
PLUME_STATIC_COLD = "plume-static-cold"
PLUME_BOTH_COLD = "plume-both-cold"
PLUME_WARM = "plume-warm"
PLUME_STATIC_WARM = "plume-static-warm"
UMOCI_COLD = "umoci-cold"
UMOCI_WARM = "umoci-warm"
BUILDAH_COLD = "buildah-cold"
BUILDAH_WARM = "buildah-warm"
FLOOR_PARALLEL = "floor-parallel"
PYTHON_BARE = "python-bare"
PLUME_VERSION = "plume-version"
PLUME_START_UP = "plume-start-up"
FIRST_REQUEST = "first-request"
PLUME_BIG = "plume-big"


def floor_key(codec: codecs.Codec) -> str:
    return "floor-" + codec.name.replace(" ", "-")


def floor_label(codec: codecs.Codec) -> str:
    if codec.new_compressor is None:
        return "floor: read + sha256 only, serial"
    return f"floor: {codec.name} + sha256, serial"


ZLIB_LEVELS = range(1, 10)
ISAL_LEVELS = range(4)
ISAL_COMPARED_LEVELS = (1, 2)  # ISA-L's fast levels, measured without --level-sweep


def floor_codecs(level: int, fast_level: int, sweep: bool) -> list[codecs.Codec]:
    """List plume's codec at both levels, stdlib zlib, ISA-L when installed, and hashing alone.

    With `sweep`, list zlib-ng at every level and ISA-L at every level too, to choose a default from.
    The first codec is plume's at its default level: the parallel floor and the warm-run check use it.
    """
    zlib_ng_levels = [level, fast_level]
    isal_levels: Sequence[int] = ISAL_COMPARED_LEVELS
    if sweep:
        zlib_ng_levels += [other for other in ZLIB_LEVELS if other not in zlib_ng_levels]
        isal_levels = ISAL_LEVELS

    floors = [codecs.zlib_ng_codec(zlib_ng_level) for zlib_ng_level in zlib_ng_levels]
    floors.append(codecs.stdlib_zlib_codec(6))
    floors += [codec for codec in map(codecs.isal_codec, isal_levels) if codec is not None]
    floors.append(codecs.hash_only_codec())
    return floors


def table_rows(level: int, fast_level: int, floors: Sequence[codecs.Codec], threads: int, big_mib: int) -> list[Row]:
    """List every row, each with the plume row its time is divided by in the `÷ plume` column."""
    rows = [
        Row(PLUME_COLD, f"plume cold -> registry (level {level})", None),
        Row(PLUME_COLD_FAST, f"plume cold -> registry (level {fast_level})", PLUME_COLD),
        Row(PLUME_STATIC_COLD, "plume cold -> static directory", PLUME_COLD),
        Row(PLUME_BOTH_COLD, "plume cold -> registry + static directory", PLUME_COLD),
        Row(PLUME_WARM, "plume warm -> registry", None),
        Row(PLUME_STATIC_WARM, "plume warm -> static directory", PLUME_WARM),
        Row(UMOCI_COLD, "umoci + skopeo cold", PLUME_COLD),
        Row(UMOCI_WARM, "umoci + skopeo warm", PLUME_WARM),
        Row(BUILDAH_COLD, "buildah (vfs) cold", PLUME_COLD),
        Row(BUILDAH_WARM, "buildah (vfs) warm", PLUME_WARM),
        Row(FLOOR_PARALLEL, f"floor: {floors[0].name} + sha256, {threads} threads", PLUME_COLD),
    ]
    rows += [Row(floor_key(codec), floor_label(codec), PLUME_COLD) for codec in floors]
    rows += [
        Row(PYTHON_BARE, "start: `python -c pass`", None),
        Row(PLUME_VERSION, "start: `python -m plugin --version`", None),
        Row(PLUME_START_UP, "start: a run stopped by an invalid setting", None),
        Row(FIRST_REQUEST, "start: spawn to first registry connection", None),
        Row(PLUME_BIG, f"plume cold -> registry, one {big_mib} MiB layer" if big_mib else "one big layer", None),
    ]
    return rows
