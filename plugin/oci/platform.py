"""Platforms in the `os/arch[/variant]` form, normalised the way registries and clients expect."""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED_OS = ("linux",)

# Other spellings seen in toolchains and image archives, mapped to the OCI architecture name.
ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "arm64v8": "arm64",
    "i386": "386",
    "i686": "386",
    "x86": "386",
    "armhf": "arm",
    "armel": "arm",
    "arm32v7": "arm",
    "arm32v6": "arm",
    "armv7": "arm",  # the {arch}{variant} spelling that file names use, as in app-linux-armv7
    "armv6": "arm",
    "armv5": "arm",
    "ppc64el": "ppc64le",
}

# The variant an alias implies, when the alias names one.
ALIAS_VARIANTS = {
    "arm64v8": "v8",
    "armhf": "v7",
    "arm32v7": "v7",
    "armv7": "v7",
    "armel": "v6",
    "arm32v6": "v6",
    "armv6": "v6",
    "armv5": "v5",
}

# Each architecture plume knows, with the variants it accepts and the one it implies when none is written.
ARCH_VARIANTS: dict[str, tuple[tuple[str, ...], str]] = {
    "amd64": (("v1", "v2", "v3", "v4"), ""),
    "arm64": (("v8",), "v8"),
    "arm": (("v5", "v6", "v7"), "v7"),
    "386": ((), ""),
    "ppc64le": ((), ""),
    "s390x": ((), ""),
    "riscv64": ((), ""),
    "mips64le": ((), ""),
    "loong64": ((), ""),
}


class PlatformError(ValueError):
    """A platform string that plume cannot accept; the message says what is accepted."""


@dataclass(frozen=True, order=True)
class Platform:
    """A normalised platform: `linux/arm64` always carries variant `v8`, 32-bit arm always its variant."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise PlatformError(f"{text!r} is not a platform: write os/arch or os/arch/variant")
        os_name, arch = parts[0], parts[1]
        variant = parts[2] if len(parts) == 3 else ALIAS_VARIANTS.get(arch, "")
        return cls.normalised(os_name, arch, variant)

    @classmethod
    def normalised(cls, os_name: str, arch: str, variant: str = "") -> Platform:
        os_name, arch, variant = os_name.lower(), arch.lower(), variant.lower()
        if os_name not in SUPPORTED_OS:
            raise PlatformError(f"operating system {os_name!r} is not supported: use {', '.join(SUPPORTED_OS)}")
        arch = ARCH_ALIASES.get(arch, arch)
        if arch not in ARCH_VARIANTS:
            known = ", ".join(sorted(ARCH_VARIANTS))
            raise PlatformError(f"architecture {arch!r} is not supported: use one of {known}")
        accepted, implied = ARCH_VARIANTS[arch]
        variant = variant or implied
        if variant and variant not in accepted:
            hint = ", ".join(accepted) if accepted else "none"
            raise PlatformError(f"variant {variant!r} does not exist for {arch}: accepted variants are {hint}")
        return cls(os_name, arch, variant)

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)

    def as_json(self) -> dict[str, str]:
        """The `platform` object of an index entry; the image config uses the same three values."""
        fields = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            fields["variant"] = self.variant
        return fields


@dataclass(frozen=True)
class RequestedPlatform:
    """A platform as the user wrote it, kept for path templates, beside its normalised form."""

    written: str
    platform: Platform

    @classmethod
    def parse(cls, text: str) -> RequestedPlatform:
        return cls(written=text.strip(), platform=Platform.parse(text))

    def template_fields(self) -> dict[str, str]:
        """`{os}`, `{arch}`, `{variant}` and `{platform}` exactly as written in the settings."""
        parts = self.written.split("/")
        return {
            "os": parts[0],
            "arch": parts[1],
            "variant": parts[2] if len(parts) == 3 else "",
            "platform": self.written,
        }
