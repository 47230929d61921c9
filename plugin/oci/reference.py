"""Repository names and tags, checked against the distribution spec's grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass

TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
HOST_PATTERN = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?$")
MAX_NAME_LENGTH = 255

TAG_RULE = "a tag is 1 to 128 letters, digits, '_', '.' or '-', and does not start with '.' or '-'"
NAME_RULE = (
    "a repository is [HOST[:PORT]/]PATH where PATH is lower-case components of letters and digits "
    "joined by '/', each component possibly containing single '.', '_', '__' or '-' separators"
)

DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DOCKER_HUB = "docker.io"  # the name Docker Hub goes by in plume's logs and credential lookups
DOCKER_HUB_API = "registry-1.docker.io"
# Paths a registry address may end with in a Docker config.json key or a login, such as `https://index.docker.io/v1/`.
API_VERSION_PATHS = ("/v1", "/v2")
REGISTRY_RULE = "use a registry host with an optional :PORT, such as registry.example.org or docker.io"


class ReferenceError(ValueError):
    """A tag or repository name that registries would refuse."""


def check_tag(tag: str) -> str:
    if not TAG_PATTERN.match(tag):
        raise ReferenceError(TAG_RULE)
    return tag


def registry_name(address: str) -> str:
    """Reduce a registry address to the lower-case `host[:port]` plume compares registries by.

    Accepts a scheme and an API version path, as Docker's config.json keys have them, and maps every name
    of Docker Hub to `docker.io`: `https://index.docker.io/v1/` and `registry-1.docker.io` both give `docker.io`.
    Raises ReferenceError for an address with any other path.
    """
    host = address.strip().lower()
    for scheme in ("https://", "http://"):
        host = host.removeprefix(scheme)
    host = host.rstrip("/")
    for version_path in API_VERSION_PATHS:
        host = host.removesuffix(version_path)
    if not host or not HOST_PATTERN.match(host):
        raise ReferenceError(REGISTRY_RULE)
    return DOCKER_HUB if host in DOCKER_HUB_NAMES else host


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


@dataclass(frozen=True)
class Repository:
    """A repository: the registry host it lives on (None when not named) and its path there."""

    host: str | None
    path: str

    @classmethod
    def parse(cls, text: str) -> Repository:
        text = text.strip()
        first, _, rest = text.partition("/")
        host: str | None = None
        path = text
        if rest and _looks_like_host(first):
            if not HOST_PATTERN.match(first):
                raise ReferenceError(NAME_RULE)
            host, path = first, rest
        if not path or len(text) > MAX_NAME_LENGTH:
            raise ReferenceError(NAME_RULE)
        if not all(PATH_COMPONENT.match(component) for component in path.split("/")):
            raise ReferenceError(NAME_RULE)
        return cls(host, path)

    def on_host(self, host: str) -> Repository:
        return Repository(host, self.path)

    @property
    def is_docker_hub(self) -> bool:
        return self.host is not None and self.host.lower() in DOCKER_HUB_NAMES

    @property
    def registry(self) -> str:
        """The registry as `registry_name` writes it, for comparing two repositories' registries."""
        assert self.host is not None, "a repository without a host has no registry"
        return registry_name(self.host)

    @property
    def api_host(self) -> str:
        """The host that serves the registry API; Docker Hub's is not the name users write."""
        assert self.host is not None, "a repository without a host has no registry"
        return DOCKER_HUB_API if self.is_docker_hub else self.host

    @property
    def api_path(self) -> str:
        """The path in API URLs and token scopes; a one-part Docker Hub name lives under `library/`."""
        if self.is_docker_hub and "/" not in self.path:
            return f"library/{self.path}"
        return self.path

    def __str__(self) -> str:
        return f"{self.host}/{self.path}" if self.host else self.path
