"""The binary check on real Go binaries and on hand-made ELF headers of other machines."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from plugin.build.layer import LayerEntry
from plugin.errors import SourceError
from plugin.oci.platform import Platform
from plugin.sources.elf import ElfIdentity, check_binaries, read_elf_identity
from tests.rig.goapp import GO_TARGETS, GoTarget

SWITCH = "PLUGIN_CHECK_BINARIES"
EXPECTED_DESCRIPTIONS = {
    "linux/amd64": "ELF 64-bit LSB x86-64",
    "linux/arm64": "ELF 64-bit LSB AArch64",
    "linux/arm/v7": "ELF 32-bit LSB ARM",
    "linux/386": "ELF 32-bit LSB Intel 80386",
}


def elf_prefix(bits: int, byte_order: Literal["little", "big"], machine: int) -> bytes:
    """The first 20 bytes of an ELF executable: e_ident, then e_type and e_machine in the file's byte order."""
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if byte_order == "little" else 2, 1]) + bytes(9)
    return ident + (2).to_bytes(2, byte_order) + machine.to_bytes(2, byte_order)


def one_file(platform: str, source: Path) -> dict[Platform, list[LayerEntry]]:
    return {Platform.parse(platform): [LayerEntry.file("/app", source)]}


@pytest.mark.parametrize("target", GO_TARGETS, ids=[target.file_name for target in GO_TARGETS])
def test_go_binary_header_names_its_machine(go_project: Path, target: GoTarget) -> None:
    identity = read_elf_identity(go_project / "dist" / target.file_name)

    assert str(identity) == EXPECTED_DESCRIPTIONS[target.platform]


def test_go_binaries_pass_for_their_platforms(go_project: Path) -> None:
    contents = {
        Platform.parse(target.platform): [LayerEntry.file("/app", go_project / "dist" / target.file_name)]
        for target in GO_TARGETS
    }

    check_binaries(contents, SWITCH)


def test_x86_64_binary_for_arm64_fails(go_project: Path) -> None:
    source = go_project / "dist" / "hello-linux-amd64"

    with pytest.raises(SourceError) as caught:
        check_binaries(one_file("linux/arm64", source), SWITCH)

    message = str(caught.value)
    assert str(source) in message
    assert "is ELF 64-bit LSB x86-64" in message
    assert "linux/arm64/v8 needs ELF 64-bit LSB AArch64" in message
    assert SWITCH in message


def test_arm_binary_for_386_fails_on_machine(go_project: Path) -> None:
    with pytest.raises(SourceError, match=r"is ELF 32-bit LSB ARM, but linux/386 needs ELF 32-bit LSB Intel 80386"):
        check_binaries(one_file("linux/386", go_project / "dist" / "hello-linux-armv7"), SWITCH)


def test_x32_binary_for_amd64_fails_on_class(tmp_path: Path) -> None:
    binary = tmp_path / "x32-app"
    binary.write_bytes(elf_prefix(32, "little", 62) + bytes(100))

    with pytest.raises(SourceError, match=r"is ELF 32-bit LSB x86-64, but linux/amd64 needs ELF 64-bit LSB x86-64"):
        check_binaries(one_file("linux/amd64", binary), SWITCH)


def test_ppc64_for_ppc64le_fails_on_byte_order(tmp_path: Path) -> None:
    binary = tmp_path / "ppc64-app"
    binary.write_bytes(elf_prefix(64, "big", 21))

    with pytest.raises(SourceError, match=r"is ELF 64-bit MSB PowerPC64, but linux/ppc64le needs ELF 64-bit LSB"):
        check_binaries(one_file("linux/ppc64le", binary), SWITCH)


def test_big_endian_machine_is_read_big_endian(tmp_path: Path) -> None:
    binary = tmp_path / "s390x-app"
    binary.write_bytes(elf_prefix(64, "big", 22))

    assert read_elf_identity(binary) == ElfIdentity(22, 64, "big")
    check_binaries(one_file("linux/s390x", binary), SWITCH)


@pytest.mark.parametrize(
    "content",
    [b"#!/bin/sh\necho hello\n", b"\x7fELF\x02\x01", b"", b"MZ\x90\x00" + bytes(60)],
    ids=["script", "truncated_header", "empty", "windows_executable"],
)
def test_non_elf_files_pass(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)

    assert read_elf_identity(path) is None
    check_binaries(one_file("linux/arm64", path), SWITCH)


def test_every_mismatch_is_counted(go_project: Path) -> None:
    amd64 = go_project / "dist" / "hello-linux-amd64"
    contents = {
        Platform.parse("linux/arm64"): [LayerEntry.file("/app", amd64), LayerEntry.file("/bin/tool", amd64)],
        Platform.parse("linux/386"): [LayerEntry.file("/app", amd64)],
    }

    with pytest.raises(SourceError, match=r"\(and 2 more files\)"):
        check_binaries(contents, SWITCH)
