"""Content digests in the `algorithm:hex` form used by OCI."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SHA256_HEX = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True, order=True)
class Digest:
    """A sha256 content digest such as `sha256:2c26b4...`."""

    hex: str
    algorithm: str = "sha256"

    def __post_init__(self) -> None:
        if self.algorithm != "sha256" or not _SHA256_HEX.match(self.hex):
            raise ValueError(f"not a sha256 digest: {self.algorithm}:{self.hex}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        algorithm, _, hex_part = text.partition(":")
        return cls(hex=hex_part, algorithm=algorithm)

    @classmethod
    def of_bytes(cls, data: bytes) -> Digest:
        return cls(hashlib.sha256(data).hexdigest())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        """The first 12 hex digits, for log lines."""
        return self.hex[:12]
