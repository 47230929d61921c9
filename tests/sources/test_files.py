"""Files and directories from the `files` map: modes, symlinks, hard links, templates and bad sources."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from plugin.build.layer import EntryKind, LayerEntry
from plugin.errors import SourceError
from plugin.oci.platform import Platform, RequestedPlatform
from plugin.sources.files import file_entries

SETTING = "PLUGIN_FILES"
AMD64 = RequestedPlatform.parse("linux/amd64")
ARM_V7 = RequestedPlatform.parse("linux/arm/v7")


def entries_for(mapping: dict[str, str], base_dir: Path) -> dict[str, LayerEntry]:
    contents = file_entries([AMD64], mapping, base_dir, SETTING)
    return {entry.path.as_posix(): entry for entry in contents[AMD64.platform]}


def make_tree(root: Path) -> Path:
    """A directory with a script, a private file, a nested directory, a symlink and a pair of hard links."""
    tree = root / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "start.sh").write_text("#!/bin/sh\nexec /app\n")
    (tree / "bin" / "start.sh").chmod(0o750)
    (tree / "secret.conf").write_text("token = none\n")
    (tree / "secret.conf").chmod(0o600)
    (tree / "bin").chmod(0o711)
    (tree / "current").symlink_to("bin/start.sh")
    (tree / "data-a").write_bytes(b"shared data")
    os.link(tree / "data-a", tree / "data-b")
    return tree


def test_directory_keeps_modes(tmp_path: Path) -> None:
    entries = entries_for({"tree": "/opt/app"}, make_tree(tmp_path).parent)

    assert entries["/opt/app"].kind is EntryKind.DIRECTORY
    assert entries["/opt/app/bin"].mode == 0o711
    assert entries["/opt/app/bin/start.sh"].mode == 0o750
    assert entries["/opt/app/secret.conf"].mode == 0o600


def test_symlink_inside_directory_stays_a_symlink(tmp_path: Path) -> None:
    entries = entries_for({"tree": "/opt/app"}, make_tree(tmp_path).parent)

    link = entries["/opt/app/current"]
    assert link.kind is EntryKind.SYMLINK
    assert link.link_target == "bin/start.sh"


def test_shared_inode_becomes_hard_link_to_first_path(tmp_path: Path) -> None:
    entries = entries_for({"tree": "/opt/app"}, make_tree(tmp_path).parent)

    assert entries["/opt/app/data-a"].kind is EntryKind.FILE
    assert entries["/opt/app/data-b"].kind is EntryKind.HARD_LINK
    assert entries["/opt/app/data-b"].link_target == "/opt/app/data-a"


def test_hard_link_across_two_sources(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)

    entries = entries_for({"tree/data-b": "/z/data", "tree/data-a": "/a/data"}, tree.parent)

    assert entries["/a/data"].kind is EntryKind.FILE
    assert entries["/z/data"].kind is EntryKind.HARD_LINK
    assert entries["/z/data"].link_target == "/a/data"


def test_file_goes_into_destination_ending_with_slash(tmp_path: Path) -> None:
    (tmp_path / "app.toml").write_text("port = 80\n")

    entries = entries_for({"app.toml": "/etc/app/"}, tmp_path)

    assert list(entries) == ["/etc/app/app.toml"]
    assert entries["/etc/app/app.toml"].mode == 0o644


def test_named_symlink_source_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.pem").write_text("certificate\n")
    (tmp_path / "ca.pem").symlink_to("real.pem")

    entries = entries_for({"ca.pem": "/etc/ssl/ca.pem"}, tmp_path)

    assert entries["/etc/ssl/ca.pem"].kind is EntryKind.FILE
    assert entries["/etc/ssl/ca.pem"].source == tmp_path / "ca.pem"


def test_directory_to_root_adds_no_root_entry(tmp_path: Path) -> None:
    (tmp_path / "rootfs" / "etc").mkdir(parents=True)
    (tmp_path / "rootfs" / "etc" / "motd").write_text("hi\n")

    entries = entries_for({"rootfs": "/"}, tmp_path)

    assert sorted(entries) == ["/etc", "/etc/motd"]


def test_long_paths_are_kept_whole(tmp_path: Path) -> None:
    deep = tmp_path / "src" / ("d" * 90) / ("e" * 90)
    deep.mkdir(parents=True)
    (deep / "file.txt").write_text("deep\n")

    entries = entries_for({"src": "/srv"}, tmp_path)

    assert f"/srv/{'d' * 90}/{'e' * 90}/file.txt" in entries


def test_source_template_is_filled_per_platform(tmp_path: Path) -> None:
    for name in ("amd64", "armv7"):
        (tmp_path / "plugins" / name).mkdir(parents=True)
        (tmp_path / "plugins" / name / f"{name}.so").write_bytes(b"plugin")

    contents = file_entries([AMD64, ARM_V7], {"plugins/{arch}{variant}": "/usr/lib/plugins"}, tmp_path, SETTING)

    paths = {platform: {entry.path for entry in entries} for platform, entries in contents.items()}
    assert PurePosixPath("/usr/lib/plugins/amd64.so") in paths[Platform.parse("linux/amd64")]
    assert PurePosixPath("/usr/lib/plugins/armv7.so") in paths[Platform.parse("linux/arm/v7")]
    assert PurePosixPath("/usr/lib/plugins/amd64.so") not in paths[Platform.parse("linux/arm/v7")]


def test_missing_source_names_setting_and_platform(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        file_entries([ARM_V7], {"plugins/{arch}{variant}": "/usr/lib/plugins"}, tmp_path, SETTING)

    message = str(caught.value)
    assert message.startswith(SETTING)
    assert str(tmp_path / "plugins" / "armv7") in message
    assert "linux/arm/v7" in message


def test_file_to_root_goes_into_root(tmp_path: Path) -> None:
    (tmp_path / "app").write_bytes(b"binary")

    entries = entries_for({"app": "/"}, tmp_path)

    assert list(entries) == ["/app"]


def test_fifo_inside_directory_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    os.mkfifo(tmp_path / "run" / "events")

    with pytest.raises(SourceError, match="is not a regular file, directory or symlink"):
        entries_for({"run": "/run/app"}, tmp_path)


def test_unreadable_directory_names_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()

    def deny(path: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("plugin.sources.files.os.scandir", deny)

    with pytest.raises(SourceError, match=r"^PLUGIN_FILES: cannot read .*locked: .*Permission denied"):
        entries_for({"locked": "/srv"}, tmp_path)
