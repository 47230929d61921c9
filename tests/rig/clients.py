"""The real clients a user would pull plume's images with: skopeo 1.9, umoci 0.4 and qemu-user-static.

Every image reference here is a plain-HTTP registry on 127.0.0.1, so skopeo runs with TLS verification off.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.rig.registry import Credentials

COMMAND_TIMEOUT = 120.0  # seconds for one skopeo or umoci call on images of a few MB
BINARY_TIMEOUT = 30.0  # seconds for the hello binary, which runs in well under a second even under qemu

# Foreign binaries run through these emulators because binfmt_misc may not be mounted. Go binaries run
# natively on an x86-64 machine for amd64 and 386 (qemu-i386-static crashes on them).
EMULATORS = {"arm64": "qemu-aarch64-static", "arm": "qemu-arm-static"}
ACCEPT_ANY_IMAGE_POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


class ClientError(AssertionError):
    """A client command failed; the message has the command and its output for the test report."""


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        return cls(parts[0], parts[1], parts[2] if len(parts) > 2 else "")


def run_command_bytes(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> bytes:
    """Run a client command and return its stdout. Raises ClientError with the output when the command fails."""
    completed = subprocess.run(list(argv), capture_output=True, timeout=timeout, check=False)
    if completed.returncode != 0:
        stdout = completed.stdout.decode(errors="replace")
        stderr = completed.stderr.decode(errors="replace")
        raise ClientError(f"{' '.join(argv)} exited {completed.returncode}\nstdout: {stdout}\nstderr: {stderr}")
    return completed.stdout


def run_command(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> str:
    return run_command_bytes(argv, timeout).decode()


class Skopeo:
    """skopeo with its own trust policy, so the machine's /etc/containers/policy.json does not matter."""

    def __init__(self, work_dir: Path) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.policy_file = work_dir / "policy.json"
        self.policy_file.write_text(json.dumps(ACCEPT_ANY_IMAGE_POLICY))
        # An empty auth file keeps credentials stored on the machine out of the tests.
        self.auth_file = work_dir / "auth.json"
        self.auth_file.write_text("{}")

    def _global_flags(self) -> list[str]:
        return ["skopeo", "--policy", str(self.policy_file)]

    def _source_flags(self, credentials: Credentials | None) -> list[str]:
        flags = ["--src-tls-verify=false", "--src-authfile", str(self.auth_file)]
        if credentials is not None:
            flags += ["--src-creds", f"{credentials.username}:{credentials.password}"]
        return flags

    def _inspect_flags(self, credentials: Credentials | None) -> list[str]:
        flags = ["--tls-verify=false", "--authfile", str(self.auth_file)]
        if credentials is not None:
            flags += ["--creds", f"{credentials.username}:{credentials.password}"]
        return flags

    def raw_manifest_bytes(self, reference: str, credentials: Credentials | None = None) -> bytes:
        """Return the manifest or index that `docker://reference` names, byte for byte as the server sent it."""
        argv = [*self._global_flags(), "inspect", "--raw", *self._inspect_flags(credentials), f"docker://{reference}"]
        return run_command_bytes(argv)

    def raw_manifest(self, reference: str, credentials: Credentials | None = None) -> dict[str, Any]:
        """Return the manifest or index that `docker://reference` names, parsed from JSON."""
        parsed: dict[str, Any] = json.loads(self.raw_manifest_bytes(reference, credentials))
        return parsed

    def raw_manifest_digest(self, reference: str, credentials: Credentials | None = None) -> str:
        """Return the digest of the manifest or index that `docker://reference` names."""
        return "sha256:" + hashlib.sha256(self.raw_manifest_bytes(reference, credentials)).hexdigest()

    def image_config(
        self, reference: str, platform: Platform, credentials: Credentials | None = None
    ) -> dict[str, Any]:
        """Return the image config of one platform of `docker://reference`, parsed from JSON."""
        argv = [
            *self._global_flags(),
            *platform_override_flags(platform),
            "inspect",
            "--config",
            "--raw",
            *self._inspect_flags(credentials),
            f"docker://{reference}",
        ]
        parsed: dict[str, Any] = json.loads(run_command(argv))
        return parsed

    def list_tags(self, repository: str, credentials: Credentials | None = None) -> list[str]:
        """Return the tags `skopeo list-tags` reads from `/v2/NAME/tags/list` of `docker://repository`."""
        argv = [*self._global_flags(), "list-tags", *self._inspect_flags(credentials), f"docker://{repository}"]
        tags: list[str] = json.loads(run_command(argv))["Tags"]
        return tags

    def copy_all(self, reference: str, layout_dir: Path, tag: str, credentials: Credentials | None = None) -> None:
        """Copy every platform into an OCI layout. skopeo checks each blob's digest while copying."""
        layout_dir.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            *self._global_flags(),
            "copy",
            "--all",
            *self._source_flags(credentials),
            f"docker://{reference}",
            f"oci:{layout_dir}:{tag}",
        ]
        run_command(argv)

    def copy_platform(
        self,
        reference: str,
        platform: Platform,
        layout_dir: Path,
        tag: str,
        credentials: Credentials | None = None,
    ) -> None:
        """Copy one platform's image into an OCI layout, where `tag` names that platform's manifest."""
        argv = [
            *self._global_flags(),
            *platform_override_flags(platform),
            "copy",
            *self._source_flags(credentials),
            f"docker://{reference}",
            f"oci:{layout_dir}:{tag}",
        ]
        run_command(argv)


    def copy_to(self, reference: str, destination: str, platform: Platform | None = None) -> None:
        """Copy one platform of `docker://reference`, or every platform when `platform` is None, to a skopeo
        destination such as `docker-archive:FILE`, `oci-archive:FILE` or `oci:DIR:TAG`.
        """
        argv = [*self._global_flags()]
        if platform is not None:
            argv += platform_override_flags(platform)
        argv += ["copy", *self._source_flags(None)]
        if platform is None:
            argv.append("--all")
        run_command([*argv, f"docker://{reference}", destination])


def platform_override_flags(platform: Platform) -> list[str]:
    flags = ["--override-os", platform.os, "--override-arch", platform.architecture]
    if platform.variant:
        flags += ["--override-variant", platform.variant]
    return flags


def umoci_unpack(layout_dir: Path, tag: str, bundle_dir: Path) -> Path:
    """Unpack one platform's image with umoci and return the root filesystem folder."""
    argv = ["umoci", "unpack"]
    if os.geteuid() != 0:
        argv.append("--rootless")
    argv += ["--image", f"{layout_dir}:{tag}", str(bundle_dir)]
    run_command(argv)
    return bundle_dir / "rootfs"


def run_binary(binary: Path, architecture: str) -> str:
    """Run a static Linux binary, through qemu for arm and arm64, and return its stdout."""
    emulator = EMULATORS.get(architecture)
    argv = [str(binary)] if emulator is None else [emulator, str(binary)]
    return run_command(argv, timeout=BINARY_TIMEOUT)


def pull_and_run(
    skopeo: Skopeo,
    reference: str,
    platform: Platform,
    work_dir: Path,
    binary_path: str = "/app",
    credentials: Credentials | None = None,
) -> str:
    """Pull one platform of an image, unpack it and run the binary at `binary_path` inside it.

    Returns what the binary printed on stdout.
    """
    rootfs = pull_rootfs(skopeo, reference, platform, work_dir, credentials)
    return run_binary(rootfs / binary_path.lstrip("/"), platform.architecture)


def pull_rootfs(
    skopeo: Skopeo, reference: str, platform: Platform, work_dir: Path, credentials: Credentials | None = None
) -> Path:
    """Pull one platform of an image, unpack it with umoci and return its root filesystem folder."""
    work_dir.mkdir(parents=True, exist_ok=True)
    layout_dir = work_dir / "layout"
    bundle_dir = work_dir / "bundle"
    tag = "pulled"
    skopeo.copy_platform(reference, platform, layout_dir, tag, credentials)
    return umoci_unpack(layout_dir, tag, bundle_dir)
