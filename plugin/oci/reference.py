"""Repository names and tags, checked against the distribution spec's grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass

from plugin.oci.digest import Digest

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
DEFAULT_IMAGE_HOST = "docker.io"  # where an image written without a host lives, as Docker and skopeo assume
DEFAULT_TAG = "latest"
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

    def same_registry(self, other: Repository) -> bool:
        """Tell whether both repositories live on one registry; every name of Docker Hub counts as one."""
        if self.host is None or other.host is None:
            return False
        return self.api_host.lower() == other.api_host.lower()


@dataclass(frozen=True)
class ImageReference:
    """An image in a repository, named by a tag or a digest: `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`."""

    repository: Repository
    tag: str = ""
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        name, at, digest_text = text.strip().partition("@")
        digest = _parse_digest(digest_text) if at else None
        tag = ""
        last_component = name.rsplit("/", 1)[-1]
        if ":" in last_component:
            name, _, tag = name.rpartition(":")
            check_tag(tag)
        return cls(Repository.parse(name), tag, digest)

    @classmethod
    def in_repository(cls, text: str, repository: Repository) -> ImageReference:
        """Parse an image of `repository`'s registry: a bare tag or digest names an image of `repository`
        itself, and a reference written without a host lives on `repository`'s host.
        """
        text = text.strip()
        if text.startswith(("sha256:", "@")):
            return cls(repository, digest=_parse_digest(text.removeprefix("@")))
        if not any(separator in text for separator in "/:@"):
            return cls(repository, tag=check_tag(text))
        parsed = cls.parse(text)
        if parsed.repository.host is None:
            assert repository.host is not None, "a repository without a host has no registry"
            return cls(parsed.repository.on_host(repository.host), parsed.tag, parsed.digest)
        if not parsed.repository.same_registry(repository):
            raise ReferenceError(f"{text!r} is on another registry than {repository}")
        return parsed

    def with_default_host(self) -> ImageReference:
        """Return the same image, on Docker Hub when no host was written."""
        if self.repository.host is not None:
            return self
        return ImageReference(self.repository.on_host(DEFAULT_IMAGE_HOST), self.tag, self.digest)

    @property
    def reference(self) -> str:
        """What goes after `/manifests/` in the registry API: the digest when given, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.repository}{tag}{digest}"


def _parse_digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except ValueError as exc:
        raise ReferenceError(f"{text!r} is not a digest: write sha256: and 64 lower-case hex digits") from exc
