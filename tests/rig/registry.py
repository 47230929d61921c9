"""A real OCI registry for the tests: the CNCF distribution registry (Debian package `docker-registry`).

Each registry listens on 127.0.0.1 on a free port and keeps its blobs in a fresh folder. The config is
written here because the packaged default config listens on all interfaces.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.rig.processes import LOOPBACK, ServerProcess, free_port, wait_for_http

REGISTRY_COMMAND = "docker-registry"
HTPASSWD_REALM = "plume-tests"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def bcrypt_htpasswd_line(credentials: Credentials) -> str:
    """Return one htpasswd entry with a bcrypt hash, the only hash the registry accepts."""
    completed = subprocess.run(
        ["htpasswd", "-Bbn", credentials.username, credentials.password],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return completed.stdout.strip()


def registry_config(port: int, storage_dir: Path, htpasswd_file: Path | None, read_only: bool) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage_dir}",
        "  delete:",
        "    enabled: true",
    ]
    if read_only:
        # Maintenance mode: pulls work, and every push is rejected with 405.
        lines += ["  maintenance:", "    readonly:", "      enabled: true"]
    lines += [
        "http:",
        f"  addr: {LOOPBACK}:{port}",
    ]
    if htpasswd_file is not None:
        lines += [
            "auth:",
            "  htpasswd:",
            f"    realm: {HTPASSWD_REALM}",
            f"    path: {htpasswd_file}",
        ]
    return "\n".join(lines) + "\n"


class Registry:
    """A running registry, without auth or with Basic auth when `credentials` is given, read-only on request."""

    def __init__(self, work_dir: Path, credentials: Credentials | None = None, read_only: bool = False) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.credentials = credentials
        self.port = free_port()
        self.storage_dir = work_dir / "storage"
        self.storage_dir.mkdir()

        htpasswd_file = None
        if credentials is not None:
            htpasswd_file = work_dir / "htpasswd"
            htpasswd_file.write_text(bcrypt_htpasswd_line(credentials) + "\n")
        config_file = work_dir / "config.yml"
        config_file.write_text(registry_config(self.port, self.storage_dir, htpasswd_file, read_only))

        self.server = ServerProcess([REGISTRY_COMMAND, "serve", str(config_file)], work_dir / "registry.log")
        ready_statuses = (200,) if credentials is None else (401,)
        try:
            wait_for_http(f"{self.url}/v2/", accepted=ready_statuses)
        except TimeoutError:
            self.server.stop()
            raise

    @property
    def host(self) -> str:
        """The registry's address as it appears in an image name."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def _auth(self) -> tuple[str, str] | None:
        if self.credentials is None:
            return None
        return (self.credentials.username, self.credentials.password)

    def catalog(self) -> list[str]:
        """Return the repository names the registry lists in GET /v2/_catalog."""
        response = requests.get(f"{self.url}/v2/_catalog", params={"n": "1000"}, auth=self._auth(), timeout=10)
        response.raise_for_status()
        repositories: list[str] = response.json().get("repositories") or []
        return repositories

    def blob_upload_count(self, repository: str) -> int:
        """Count the blob uploads the registry has started for `repository`, read from its access log."""
        upload_start = re.compile(rf'"POST /v2/{re.escape(repository)}/blobs/uploads/[^ "]* HTTP')
        return len(upload_start.findall(self.server.log_text()))

    def log_text(self) -> str:
        return self.server.log_text()

    def committed_blob_digests(self, repository: str) -> list[str]:
        """Return the digest of each blob upload committed into `repository`, read from the registry's access log.

        An upload ends with a PUT to its session URL carrying `digest=sha256:HEX`, sometimes percent-encoded.
        """
        session = rf'"PUT /v2/{re.escape(repository)}/blobs/uploads/[^ "]*'
        commit = re.compile(session + r'[?&]digest=sha256(?::|%3A)([0-9a-f]{64})[^ "]* HTTP')
        return [f"sha256:{hex_digest}" for hex_digest in commit.findall(self.server.log_text())]

    def stop(self) -> None:
        self.server.stop()
