"""The binary check: every ELF file in a platform's image must be built for that platform.

Only the first 20 bytes of a file are read. They have the same layout in 32- and 64-bit ELF files: the
16-byte `e_ident` (magic, class, byte order), then `e_type` and `e_machine`, two bytes each, in the file's
byte order. Files that do not start with the ELF magic, such as scripts, pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from plugin.build.layer import EntryKind, LayerEntry
from plugin.errors import SourceError
from plugin.oci.platform import Platform

ELF_MAGIC = b"\x7fELF"
ELF_PREFIX_SIZE = 20
EI_CLASS, EI_DATA, E_MACHINE = 4, 5, 18
CLASS_BITS = {1: 32, 2: 64}
DATA_BYTE_ORDER = {1: "little", 2: "big"}

# e_machine values from the System V ABI's registry, for the architectures plume supports.
MACHINE_NAMES = {
    3: "Intel 80386",
    8: "MIPS",
    21: "PowerPC64",
    22: "IBM S/390",
    40: "ARM",
    62: "x86-64",
    183: "AArch64",
    243: "RISC-V",
    258: "LoongArch",
}


@dataclass(frozen=True)
class ElfIdentity:
    """The machine, word size and byte order that an ELF header declares."""

    machine: int
    bits: int  # 32 or 64 for a valid header, 0 for an unknown class
    byte_order: str  # "little" or "big" for a valid header, "" for an unknown encoding

    def __str__(self) -> str:
        machine = MACHINE_NAMES.get(self.machine, f"machine {self.machine}")
        bits = f"{self.bits}-bit" if self.bits else "unknown class"
        order = {"little": "LSB", "big": "MSB"}.get(self.byte_order, "unknown byte order")
        return f"ELF {bits} {order} {machine}"


# The identity each architecture's Linux binaries carry. The variant (arm v6 or v7, amd64 v3) is not in
# these 20 bytes, so it is not checked.
EXPECTED_IDENTITY = {
    "amd64": ElfIdentity(62, 64, "little"),
    "arm64": ElfIdentity(183, 64, "little"),
    "arm": ElfIdentity(40, 32, "little"),
    "386": ElfIdentity(3, 32, "little"),
    "ppc64le": ElfIdentity(21, 64, "little"),
    "s390x": ElfIdentity(22, 64, "big"),
    "riscv64": ElfIdentity(243, 64, "little"),
    "mips64le": ElfIdentity(8, 64, "little"),
    "loong64": ElfIdentity(258, 64, "little"),
}


def read_elf_identity(path: Path) -> ElfIdentity | None:
    """Read the identity from an ELF file's header, or return None for a file that is not ELF."""
    with path.open("rb") as stream:
        prefix = stream.read(ELF_PREFIX_SIZE)
    if len(prefix) < ELF_PREFIX_SIZE or not prefix.startswith(ELF_MAGIC):
        return None
    byte_order = DATA_BYTE_ORDER.get(prefix[EI_DATA], "")
    machine = int.from_bytes(prefix[E_MACHINE : E_MACHINE + 2], "big" if byte_order == "big" else "little")
    return ElfIdentity(machine, CLASS_BITS.get(prefix[EI_CLASS], 0), byte_order)


def _mismatches(platform: Platform, entries: Sequence[LayerEntry]) -> list[str]:
    expected = EXPECTED_IDENTITY.get(platform.architecture)
    if expected is None:
        return []
    found: list[str] = []
    for entry in entries:
        if entry.kind is not EntryKind.FILE or entry.source is None:
            continue
        try:
            identity = read_elf_identity(entry.source)
        except OSError as exc:
            raise SourceError(f"cannot read {entry.source} to check its architecture: {exc}") from exc
        if identity is not None and identity != expected:
            found.append(f"{entry.source} ({entry.path} in the image) is {identity}, but {platform} needs {expected}")
    return found


def check_binaries(contents: Mapping[Platform, Sequence[LayerEntry]], switch: str) -> None:
    """Raise SourceError naming the file, its ELF identity and the platform's when any file does not match.

    `switch` names the setting that turns the check off, for the message.
    """
    mismatches = [line for platform in sorted(contents) for line in _mismatches(platform, contents[platform])]
    if not mismatches:
        return
    more = f" (and {len(mismatches) - 1} more files)" if len(mismatches) > 1 else ""
    raise SourceError(
        f"wrong architecture: {mismatches[0]}{more}; set {switch} to false only if such files are meant to be there"
    )
