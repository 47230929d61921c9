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
DOCKER_HUB_API = "registry-1.docker.io"


class ReferenceError(ValueError):
    """A tag or repository name that registries would refuse."""


def check_tag(tag: str) -> str:
    if not TAG_PATTERN.match(tag):
        raise ReferenceError(TAG_RULE)
    return tag


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
