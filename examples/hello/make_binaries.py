"""Write the four tiny static Linux executables that the hello example packs into an image.

The binaries are made by hand, byte by byte, so that the example runs on a machine that has Python but
no compiler, assembler or Go toolchain. Each file is an ELF header, one PT_LOAD program header, a few
instructions that call write(1, message, length) and exit(0) through raw system calls, and the message.
There is no libc and no section table, and the output is the same bytes on every run.

Usage: python3 make_binaries.py [OUTPUT_DIR]   (default: the dist/ folder next to this script)
"""

import argparse
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
EV_CURRENT = 1
ET_EXEC = 2
PT_LOAD = 1
PF_X = 1
PF_R = 4
PAGE_SIZE = 0x1000

EM_386 = 3
EM_ARM = 40
EM_X86_64 = 62
EM_AARCH64 = 183
EF_ARM_EABI_VER5 = 0x05000000

ELF64_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
ELF64_PROGRAM_HEADER = struct.Struct("<IIQQQQQQ")
ELF32_HEADER = struct.Struct("<16sHHIIIIIHHHHHH")
ELF32_PROGRAM_HEADER = struct.Struct("<IIIIIIII")

# An assembler takes the message and the virtual address of the first instruction, and returns the
# machine code with the message appended right after it.
Assembler = Callable[[bytes, int], bytes]


def assemble_amd64(message: bytes, code_address: int) -> bytes:
    del code_address  # the message is addressed relative to RIP
    code_length = 33
    lea_end = 17
    code = b"".join(
        [
            b"\xb8" + struct.pack("<I", 1),  # mov eax, 1 (write)
            b"\xbf" + struct.pack("<I", 1),  # mov edi, 1 (stdout)
            b"\x48\x8d\x35" + struct.pack("<i", code_length - lea_end),  # lea rsi, [rip + message]
            b"\xba" + struct.pack("<I", len(message)),  # mov edx, length
            b"\x0f\x05",  # syscall
            b"\xb8" + struct.pack("<I", 60),  # mov eax, 60 (exit)
            b"\x31\xff",  # xor edi, edi
            b"\x0f\x05",  # syscall
        ]
    )
    assert len(code) == code_length
    return code + message


def assemble_386(message: bytes, code_address: int) -> bytes:
    code_length = 31
    code = b"".join(
        [
            b"\xb8" + struct.pack("<I", 4),  # mov eax, 4 (write)
            b"\xbb" + struct.pack("<I", 1),  # mov ebx, 1 (stdout)
            b"\xb9" + struct.pack("<I", code_address + code_length),  # mov ecx, message address
            b"\xba" + struct.pack("<I", len(message)),  # mov edx, length
            b"\xcd\x80",  # int 0x80
            b"\xb8" + struct.pack("<I", 1),  # mov eax, 1 (exit)
            b"\x31\xdb",  # xor ebx, ebx
            b"\xcd\x80",  # int 0x80
        ]
    )
    assert len(code) == code_length
    return code + message


def arm64_movz(register: int, value: int) -> int:
    assert 0 <= value < 1 << 16
    return 0xD2800000 | value << 5 | register


def arm64_adr(register: int, offset: int) -> int:
    assert -(1 << 20) <= offset < 1 << 20
    offset &= (1 << 21) - 1
    return 0x10000000 | (offset & 3) << 29 | (offset >> 2) << 5 | register


def assemble_arm64(message: bytes, code_address: int) -> bytes:
    del code_address  # ADR addresses the message relative to its own address
    svc_0 = 0xD4000001
    words = [
        arm64_movz(8, 64),  # mov x8, #64 (write)
        arm64_movz(0, 1),  # mov x0, #1 (stdout)
        arm64_adr(1, 8 * 4 - 2 * 4),  # adr x1, message (the message follows the 8 instructions)
        arm64_movz(2, len(message)),  # mov x2, #length
        svc_0,
        arm64_movz(8, 93),  # mov x8, #93 (exit)
        arm64_movz(0, 0),  # mov x0, #0
        svc_0,
    ]
    return struct.pack(f"<{len(words)}I", *words) + message


def arm_mov(register: int, value: int) -> int:
    assert 0 <= value < 256  # an unrotated 8-bit immediate
    return 0xE3A00000 | register << 12 | value


def arm_add_pc(register: int, value: int) -> int:
    assert 0 <= value < 256
    return 0xE28F0000 | register << 12 | value


def assemble_armv7(message: bytes, code_address: int) -> bytes:
    del code_address  # the message is addressed relative to PC
    svc_0 = 0xEF000000
    # In ARM state, PC reads as the address of the current instruction plus 8.
    words = [
        arm_mov(0, 1),  # mov r0, #1 (stdout)
        arm_add_pc(1, 8 * 4 - (1 * 4 + 8)),  # add r1, pc, #offset (the message follows the 8 instructions)
        arm_mov(2, len(message)),  # mov r2, #length
        arm_mov(7, 4),  # mov r7, #4 (write)
        svc_0,
        arm_mov(0, 0),  # mov r0, #0
        arm_mov(7, 1),  # mov r7, #1 (exit)
        svc_0,
    ]
    return struct.pack(f"<{len(words)}I", *words) + message


@dataclass(frozen=True)
class Target:
    file_name: str
    platform: str
    elf_class: int
    machine: int
    flags: int
    load_address: int
    assemble: Assembler


TARGETS = [
    Target("hello-linux-amd64", "linux/amd64", ELFCLASS64, EM_X86_64, 0, 0x400000, assemble_amd64),
    Target("hello-linux-arm64", "linux/arm64", ELFCLASS64, EM_AARCH64, 0, 0x400000, assemble_arm64),
    Target("hello-linux-armv7", "linux/arm/v7", ELFCLASS32, EM_ARM, EF_ARM_EABI_VER5, 0x10000, assemble_armv7),
    Target("hello-linux-386", "linux/386", ELFCLASS32, EM_386, 0, 0x08048000, assemble_386),
]


def build_executable(target: Target) -> bytes:
    """Build a whole ELF file whose single PT_LOAD segment maps the file, headers included."""
    if target.elf_class == ELFCLASS64:
        file_header, program_header = ELF64_HEADER, ELF64_PROGRAM_HEADER
    else:
        file_header, program_header = ELF32_HEADER, ELF32_PROGRAM_HEADER
    headers_size = file_header.size + program_header.size
    entry = target.load_address + headers_size

    message = f"hello from plume on {target.platform}\n".encode()
    body = target.assemble(message, entry)
    file_size = headers_size + len(body)

    ident = bytes([0x7F, *b"ELF", target.elf_class, ELFDATA2LSB, EV_CURRENT]).ljust(16, b"\0")
    # The program header follows the file header, and there is no section table.
    header = file_header.pack(
        ident, ET_EXEC, target.machine, EV_CURRENT, entry,
        file_header.size, 0, target.flags,
        file_header.size, program_header.size, 1, 0, 0, 0,
    )  # fmt: skip
    if target.elf_class == ELFCLASS64:
        segment = program_header.pack(
            PT_LOAD, PF_R | PF_X, 0, target.load_address, target.load_address, file_size, file_size, PAGE_SIZE
        )
    else:
        segment = program_header.pack(
            PT_LOAD, 0, target.load_address, target.load_address, file_size, file_size, PF_R | PF_X, PAGE_SIZE
        )
    return header + segment + body


def write_executables(output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    for target in TARGETS:
        path = output_dir / target.file_name
        path.write_bytes(build_executable(target))
        path.chmod(0o755)
        print(f"wrote {path} ({path.stat().st_size} bytes)")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="Write the hello example's static Linux executables.")
    parser.add_argument(
        "output_dir",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parent / "dist",
        help="folder to write the executables to (default: dist/ next to this script)",
    )
    args = parser.parse_args(argv)
    write_executables(args.output_dir)


if __name__ == "__main__":
    main(sys.argv[1:])
