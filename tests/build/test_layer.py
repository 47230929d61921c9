"""Reproducible layers: tar layout, gzip header, and both hashes."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from plugin.build.layer import EntryKind, LayerEntry, compress_layer, hash_gzip_layer, layer_diff_id, write_layer

EPOCH = 1_700_000_000


def make_binary(tmp_path: Path, name: str = "app", content: bytes = b"\x7fELF fake binary") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    path.chmod(0o700)
    return path


def test_same_input_gives_byte_identical_layers(tmp_path: Path) -> None:
    binary = make_binary(tmp_path)
    first = write_layer([LayerEntry.file("/usr/local/bin/app", binary)], tmp_path / "one.tar.gz", EPOCH, 6)
    binary.touch()  # a new mtime on disk must not change the layer
    second = write_layer([LayerEntry.file("/usr/local/bin/app", binary)], tmp_path / "two.tar.gz", EPOCH, 6)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert (first.digest, first.diff_id) == (second.digest, second.diff_id)


def test_digest_is_of_the_compressed_bytes_and_diff_id_of_the_tar(tmp_path: Path) -> None:
    layer = write_layer([LayerEntry.file("/app", make_binary(tmp_path))], tmp_path / "layer.tar.gz", 0, 6)
    compressed = layer.path.read_bytes()
    assert layer.digest.hex == hashlib.sha256(compressed).hexdigest()
    assert layer.size == len(compressed)
    assert layer.diff_id.hex == hashlib.sha256(gzip.decompress(compressed)).hexdigest()


def test_gzip_header_has_no_file_name_and_no_time(tmp_path: Path) -> None:
    layer = write_layer([LayerEntry.file("/app", make_binary(tmp_path))], tmp_path / "layer.tar.gz", EPOCH, 6)
    header = layer.path.read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] == 0, "no FNAME or other optional fields"
    assert header[4:8] == b"\0\0\0\0", "mtime is 0"


def test_tar_is_sorted_with_root_owned_parent_directories(tmp_path: Path) -> None:
    entries = [
        LayerEntry.file("/usr/local/bin/zz", make_binary(tmp_path, "zz")),
        LayerEntry.file("/etc/app.conf", make_binary(tmp_path, "conf", b"x = 1\n"), mode=0o644),
        LayerEntry.file("/usr/local/bin/app", make_binary(tmp_path)),
    ]
    layer = write_layer(entries, tmp_path / "layer.tar.gz", EPOCH, 6)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.path.read_bytes()))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == [
        "etc", "etc/app.conf", "usr", "usr/local", "usr/local/bin", "usr/local/bin/app", "usr/local/bin/zz"
    ]
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == EPOCH
        if member.isdir():
            assert member.mode == 0o755
    modes = {m.name: m.mode for m in members if m.isfile()}
    assert modes == {"etc/app.conf": 0o644, "usr/local/bin/app": 0o755, "usr/local/bin/zz": 0o755}


def test_tar_is_pax_format(tmp_path: Path) -> None:
    long_name = "/opt/" + "d" * 120 + "/app"
    layer = write_layer([LayerEntry.file(long_name, make_binary(tmp_path))], tmp_path / "layer.tar.gz", 0, 6)
    tar_bytes = gzip.decompress(layer.path.read_bytes())
    assert b"path=opt/" in tar_bytes, "a long name is stored in a PAX extended header"
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        assert tar.getnames()[-1] == long_name.lstrip("/")


def test_compression_level_changes_bytes_not_content(tmp_path: Path) -> None:
    binary = make_binary(tmp_path, content=bytes(range(256)) * 4096)
    fast = write_layer([LayerEntry.file("/app", binary)], tmp_path / "fast.tar.gz", 0, 1)
    small = write_layer([LayerEntry.file("/app", binary)], tmp_path / "small.tar.gz", 0, 9)
    assert fast.diff_id == small.diff_id
    assert small.size <= fast.size


def layer_members(layer_path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer_path.read_bytes()))) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_symlink_is_stored_as_symlink(tmp_path: Path) -> None:
    entries = [
        LayerEntry.file("/usr/bin/app", make_binary(tmp_path)),
        LayerEntry.symlink("/usr/local/bin/app", "../../bin/app"),
    ]
    layer = write_layer(entries, tmp_path / "layer.tar.gz", EPOCH, 6)
    link = layer_members(layer.path)["usr/local/bin/app"]
    assert link.issym()
    assert link.linkname == "../../bin/app"
    assert (link.uid, link.gid, link.mtime) == (0, 0, EPOCH)


def test_hard_link_points_at_the_earlier_file(tmp_path: Path) -> None:
    binary = make_binary(tmp_path)
    entries = [
        LayerEntry.hard_link("/usr/bin/zz", "/usr/bin/aa", mode=0o755),
        LayerEntry.file("/usr/bin/aa", binary),
    ]
    layer = write_layer(entries, tmp_path / "layer.tar.gz", EPOCH, 6)
    members = layer_members(layer.path)
    assert members["usr/bin/aa"].isfile()
    assert members["usr/bin/zz"].islnk()
    assert members["usr/bin/zz"].linkname == "usr/bin/aa"
    assert members["usr/bin/zz"].size == 0
    assert list(members).index("usr/bin/aa") < list(members).index("usr/bin/zz")


def test_hard_link_before_its_target_is_rejected(tmp_path: Path) -> None:
    entries = [
        LayerEntry.hard_link("/a", "/b", mode=0o644),
        LayerEntry.file("/b", make_binary(tmp_path)),
    ]
    with pytest.raises(ValueError, match="hard link /a"):
        write_layer(entries, tmp_path / "layer.tar.gz", EPOCH, 6)


def test_entry_inside_a_symlink_is_rejected(tmp_path: Path) -> None:
    entries = [LayerEntry.symlink("/lib", "usr/lib"), LayerEntry.file("/lib/app.so", make_binary(tmp_path))]
    with pytest.raises(ValueError, match="inside /lib, which is a symlink"):
        write_layer(entries, tmp_path / "layer.tar.gz", EPOCH, 6)


def test_long_link_targets_survive(tmp_path: Path) -> None:
    deep = "/opt/" + "/".join(["segment-of-a-long-path"] * 8)
    entries = [
        LayerEntry.file(f"{deep}/data", make_binary(tmp_path)),
        LayerEntry.symlink("/opt/short", deep.lstrip("/") + "/data"),
        LayerEntry.hard_link(f"{deep}/same", f"{deep}/data", mode=0o755),
    ]
    layer = write_layer(entries, tmp_path / "layer.tar.gz", EPOCH, 6)
    members = layer_members(layer.path)
    assert len(deep) > 100
    assert members["opt/short"].linkname == deep.lstrip("/") + "/data"
    assert members[f"{deep.lstrip('/')}/same"].linkname == f"{deep.lstrip('/')}/data"


def test_links_keep_the_layer_reproducible(tmp_path: Path) -> None:
    def build(name: str) -> bytes:
        binary = make_binary(tmp_path, f"app-{name}")
        entries = [
            LayerEntry.symlink("/bin/app-link", "app"),
            LayerEntry.file("/bin/app", binary),
            LayerEntry.hard_link("/bin/app-hard", "/bin/app", mode=0o755),
        ]
        return write_layer(entries, tmp_path / f"{name}.tar.gz", EPOCH, 6).path.read_bytes()

    assert build("one") == build("two")


@pytest.mark.parametrize(
    "make_entry",
    [
        lambda: LayerEntry(PurePosixPath("/a"), kind=EntryKind.FILE),
        lambda: LayerEntry(PurePosixPath("/a"), kind=EntryKind.SYMLINK),
        lambda: LayerEntry(PurePosixPath("/a"), link_target="b"),
    ],
    ids=["file_without_source", "symlink_without_target", "directory_with_target"],
)
def test_inconsistent_entry_is_rejected(make_entry: Callable[[], LayerEntry]) -> None:
    with pytest.raises(ValueError):
        make_entry()


def test_compress_layer_keeps_diff_id(tmp_path: Path) -> None:
    tar_bytes = make_tar({"etc/hostname": b"box\n"})

    layer = compress_layer(io.BytesIO(tar_bytes), tmp_path / "layer.tar.gz", 6)

    compressed = layer.path.read_bytes()
    assert gzip.decompress(compressed) == tar_bytes
    assert layer.diff_id.hex == hashlib.sha256(tar_bytes).hexdigest()
    assert layer.digest.hex == hashlib.sha256(compressed).hexdigest()
    assert layer.size == len(compressed)


def test_hash_gzip_layer_reads_several_members() -> None:
    tar_bytes = make_tar({"a": b"1" * 5000, "b": b"2" * 5000})
    compressed = gzip.compress(tar_bytes[:3000]) + gzip.compress(tar_bytes[3000:])

    hashes = hash_gzip_layer(io.BytesIO(compressed))

    assert hashes.diff_id.hex == hashlib.sha256(tar_bytes).hexdigest()
    assert hashes.digest.hex == hashlib.sha256(compressed).hexdigest()
    assert hashes.size == len(compressed)


@pytest.mark.parametrize("data", [b"plain tar bytes", gzip.compress(b"x" * 1000)[:-12]], ids=["not_gzip", "cut_short"])
def test_hash_gzip_layer_rejects_broken_gzip(data: bytes) -> None:
    with pytest.raises(ValueError):
        hash_gzip_layer(io.BytesIO(data))


def make_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# The digests of one fixed tree, as plume 0.1.0 wrote it with `tarfile`'s stream mode and zlib-ng 1.1.0 at
# level 4. A change of either value changes every digest users have published, so it must be deliberate.
GOLDEN_DIFF_ID = "sha256:e1114e8284ea378fe14436207650f1b79a49b0a9330508698e426a3b73963c39"
GOLDEN_DIGEST = "sha256:3f962a3612b25366fbb1e0a2263d99e0ad20173f06cfc8eeaeaa7805544e464e"


def test_layer_bytes_stay_those_of_earlier_versions(tmp_path: Path) -> None:
    program = make_binary(tmp_path, "program", bytes(range(256)) * 6000 + b"tail")  # over 1 MiB, not in blocks
    program.chmod(0o755)
    empty = make_binary(tmp_path, "empty", b"")
    empty.chmod(0o644)
    deep = "/opt/" + "/".join(["a-rather-long-directory-name"] * 5)  # over 100 characters: a PAX header
    entries = [
        LayerEntry.file("/usr/bin/app", program),
        LayerEntry.file(f"{deep}/empty", empty),
        LayerEntry.symlink("/usr/bin/link", "app"),
        LayerEntry.hard_link("/usr/bin/zz-hard", "/usr/bin/app", 0o755),
        LayerEntry.directory("/var/lib/data", 0o700),
    ]
    layer = write_layer(entries, tmp_path / "layer.tar.gz", 1700000000, 4)
    assert (str(layer.diff_id), str(layer.digest)) == (GOLDEN_DIFF_ID, GOLDEN_DIGEST)
    assert str(layer_diff_id(entries, 1700000000)) == GOLDEN_DIFF_ID

