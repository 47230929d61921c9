"""Merging each platform's entries from several settings: shared directories, clashing paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.build.layer import LayerEntry
from plugin.errors import SourceError
from plugin.oci.platform import Platform
from plugin.sources.merge import merge_entries

AMD64 = Platform.parse("linux/amd64")


def a_file(tmp_path: Path, name: str = "app") -> Path:
    path = tmp_path / name
    path.write_bytes(b"content")
    return path


def test_shared_directory_is_kept_once_with_first_mode(tmp_path: Path) -> None:
    first = {AMD64: [LayerEntry.directory("/etc", 0o755), LayerEntry.file("/etc/a", a_file(tmp_path))]}
    second = {AMD64: [LayerEntry.directory("/etc", 0o700), LayerEntry.file("/etc/b", a_file(tmp_path))]}

    merged = merge_entries([("PLUGIN_ARTIFACT", first), ("PLUGIN_FILES", second)])

    etc = [entry for entry in merged[AMD64] if entry.path.as_posix() == "/etc"]
    assert len(etc) == 1
    assert etc[0].mode == 0o755
    assert len(merged[AMD64]) == 3


def test_file_given_twice_names_both_settings(tmp_path: Path) -> None:
    binary = {AMD64: [LayerEntry.file("/app", a_file(tmp_path))]}
    files = {AMD64: [LayerEntry.file("/app", a_file(tmp_path, "other"))]}

    with pytest.raises(SourceError) as caught:
        merge_entries([("PLUGIN_ARTIFACT", binary), ("PLUGIN_FILES", files)])

    message = str(caught.value)
    assert message.startswith("PLUGIN_FILES: /app is given twice")
    assert "PLUGIN_ARTIFACT" in message
    assert "linux/amd64" in message


def test_path_inside_a_symlink_is_rejected(tmp_path: Path) -> None:
    files = {AMD64: [LayerEntry.symlink("/lib", "usr/lib")]}
    binary = {AMD64: [LayerEntry.file("/lib/app", a_file(tmp_path))]}

    with pytest.raises(SourceError, match=r"/lib/app is inside /lib, which PLUGIN_FILES makes a symlink"):
        merge_entries([("PLUGIN_FILES", files), ("PLUGIN_ARTIFACT", binary)])


def test_platforms_of_every_group_are_merged(tmp_path: Path) -> None:
    arm64 = Platform.parse("linux/arm64")
    binary = {AMD64: [LayerEntry.file("/app", a_file(tmp_path))], arm64: [LayerEntry.file("/app", a_file(tmp_path))]}
    files = {AMD64: [LayerEntry.symlink("/bin/app", "/app")]}

    merged = merge_entries([("PLUGIN_ARTIFACT", binary), ("PLUGIN_FILES", files)])

    assert sorted(merged) == [AMD64, arm64]
    assert len(merged[AMD64]) == 2
    assert len(merged[arm64]) == 1
