"""A real OCI registry for the tests: the CNCF distribution registry (Debian package `docker-registry`).

Each registry listens on 127.0.0.1 on a free port and keeps its blobs in a fresh folder. The config is
written here because the packaged default config listens on all interfaces.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.rig.processes import LOOPBACK, free_port, start_ready_server

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


@dataclass(frozen=True)
class TokenAuth:
    """Where the registry sends clients for tokens, and how it checks them."""

    realm: str
    service: str
    issuer: str
    bundle_path: Path  # PEM certificates whose keys may sign tokens


def auth_config(htpasswd_file: Path | None, token_auth: TokenAuth | None) -> list[str]:
    if token_auth is not None:
        return [
            "auth:",
            "  token:",
            f"    realm: {token_auth.realm}",
            f"    service: {token_auth.service}",
            f"    issuer: {token_auth.issuer}",
            f"    rootcertbundle: {token_auth.bundle_path}",
        ]
    if htpasswd_file is not None:
        return [
            "auth:",
            "  htpasswd:",
            f"    realm: {HTPASSWD_REALM}",
            f"    path: {htpasswd_file}",
        ]
    return []


def registry_config(
    port: int, storage_dir: Path, htpasswd_file: Path | None, read_only: bool, token_auth: TokenAuth | None = None
) -> str:
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
    lines += auth_config(htpasswd_file, token_auth)
    return "\n".join(lines) + "\n"


class Registry:
    """A running registry, read-only on request.

    Without `credentials` it needs no login. With them it checks Basic auth, or, when `token_auth` is given
    too, it sends clients to a token server that accepts these credentials.
    """

    def __init__(
        self,
        work_dir: Path,
        credentials: Credentials | None = None,
        read_only: bool = False,
        token_auth: TokenAuth | None = None,
        bearer_token: Callable[[list[str]], str] | None = None,
    ) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.credentials = credentials
        self._bearer_token = bearer_token
        self.port = free_port()
        self.storage_dir = work_dir / "storage"
        self.storage_dir.mkdir()

        htpasswd_file = None
        if credentials is not None and token_auth is None:
            htpasswd_file = work_dir / "htpasswd"
            htpasswd_file.write_text(bcrypt_htpasswd_line(credentials) + "\n")
        config_file = work_dir / "config.yml"
        config_file.write_text(registry_config(self.port, self.storage_dir, htpasswd_file, read_only, token_auth))

        ready_statuses = (200,) if credentials is None and token_auth is None else (401,)
        argv = [REGISTRY_COMMAND, "serve", str(config_file)]
        self.server = start_ready_server(argv, work_dir / "registry.log", f"{self.url}/v2/", ready_statuses)

    @property
    def host(self) -> str:
        """The registry's address as it appears in an image name."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def _auth(self) -> tuple[str, str] | None:
        if self.credentials is None or self._bearer_token is not None:
            return None
        return (self.credentials.username, self.credentials.password)

    def _headers(self, scopes: list[str]) -> dict[str, str]:
        if self._bearer_token is None:
            return {}
        return {"Authorization": f"Bearer {self._bearer_token(scopes)}"}

    def catalog(self) -> list[str]:
        """Return the repository names the registry lists in GET /v2/_catalog."""
        response = requests.get(
            f"{self.url}/v2/_catalog",
            params={"n": "1000"},
            auth=self._auth(),
            headers=self._headers(["registry:catalog:*"]),
            timeout=10,
        )
        response.raise_for_status()
        repositories: list[str] = response.json().get("repositories") or []
        return repositories

    def blob_upload_count(self, repository: str) -> int:
        """Count the blob uploads the registry has started for `repository`, read from its access log."""
        upload_start = re.compile(rf'"POST /v2/{re.escape(repository)}/blobs/uploads/[^ "]* HTTP')
        return len(upload_start.findall(self.server.log_text()))

    def request_count(self, method: str, path_pattern: str) -> int:
        """Count the requests in the registry's access log whose method matches and whose path matches the
        regular expression `path_pattern` from its start."""
        line = re.compile(rf'"{method} (?:{path_pattern})[^ "]* HTTP')
        return len(line.findall(self.server.log_text()))

    def linked_blobs(self, repository: str) -> set[str]:
        """Return the digests of the blobs `repository` holds, read from the registry's storage."""
        layers = self.storage_dir / "docker" / "registry" / "v2" / "repositories" / repository / "_layers" / "sha256"
        if not layers.is_dir():
            return set()
        return {f"sha256:{entry.name}" for entry in layers.iterdir() if (entry / "link").is_file()}

    def tag_digest(self, repository: str, tag: str) -> str | None:
        """Return the digest `tag` points at in `repository`, read from the registry's storage, or None."""
        repository_dir = self.storage_dir / "docker" / "registry" / "v2" / "repositories" / repository
        link = repository_dir / "_manifests" / "tags" / tag / "current" / "link"
        return link.read_text().strip() if link.is_file() else None

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
