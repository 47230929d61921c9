"""Registry logins as CI users keep them: a list of logins, and Docker's config.json.

Both name registries the way Docker does, so `https://index.docker.io/v1/`, `docker.io` and
`registry-1.docker.io` all mean Docker Hub. Error messages here never contain a password or an `auth` value.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin.oci.reference import ReferenceError, registry_name

log = logging.getLogger(__name__)

# A login without a registry is for Docker Hub, as in Docker's own config.json and `docker login`.
DEFAULT_LOGIN_REGISTRY = "https://index.docker.io/v1/"
LOGIN_FIELDS = "a JSON list of maps with `registry`, `username` and `password`"


@dataclass(frozen=True)
class Login:
    """A user name and password (or access token) for one registry, named as `registry_name` writes it."""

    registry: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Login(registry={self.registry!r}, username={self.username!r}, password=<hidden>)"


def parse_logins(raw: Any) -> list[Login]:
    """Read a list of login maps, given as JSON text or already decoded. Raises ValueError without secrets."""
    if isinstance(raw, str):
        if not raw.strip():
            return []
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValueError(f"not valid JSON: use {LOGIN_FIELDS}") from None
    if not isinstance(raw, list):
        raise ValueError(f"use {LOGIN_FIELDS}")
    return [_login_from(number, item) for number, item in enumerate(raw, start=1)]


def _login_from(number: int, item: Any) -> Login:
    if not isinstance(item, Mapping):
        raise ValueError(f"login {number} is not a map: use {LOGIN_FIELDS}")
    fields: dict[str, str] = {}
    for field in ("username", "password"):
        value = item.get(field)
        if not isinstance(value, str) or not value:
            raise ValueError(f"login {number} has no `{field}`: use {LOGIN_FIELDS}")
        fields[field] = value
    address = item.get("registry") or DEFAULT_LOGIN_REGISTRY
    try:
        registry = registry_name(str(address))
    except ReferenceError as exc:
        raise ValueError(f"login {number} has the registry {address!r}: {exc}") from None
    return Login(registry, fields["username"], fields["password"])


def find_login(logins: Sequence[Login], registry: str) -> Login | None:
    """Return the first login for `registry`, written as `registry_name` writes it."""
    return next((login for login in logins if login.registry == registry), None)


@dataclass(frozen=True)
class DockerConfig:
    """The `auths` entries of a Docker config.json, keyed by `registry_name`, and the credential helpers it names."""

    path: Path
    auths: Mapping[str, Mapping[str, Any]]
    uses_helpers: bool

    def login_for(self, registry: str) -> Login | None:
        """Return the login stored for `registry`, or None. Raises ValueError for an entry plume cannot read."""
        entry = self.auths.get(registry)
        if entry is None:
            if self.uses_helpers:
                log.warning(
                    "%s names a credential helper, which plume does not run; it has no `auths` entry for %s",
                    self.path,
                    registry,
                )
            return None
        username, password = _entry_credentials(entry, registry)
        return Login(registry, username, password)


def read_docker_config(path: Path) -> DockerConfig:
    """Read a Docker config.json. Raises ValueError when it cannot be read or is not a config file."""
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror})") from None
    except ValueError:
        raise ValueError("is not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("auths", {}), dict):
        raise ValueError('is not a Docker config.json: expected an object with an "auths" object')

    auths: dict[str, Mapping[str, Any]] = {}
    for key, entry in document.get("auths", {}).items():
        try:
            registry = registry_name(key)
        except ReferenceError:
            log.debug("%s: skipping the entry %r, which names no registry", path, key)
            continue
        if isinstance(entry, dict):
            auths.setdefault(registry, entry)
    uses_helpers = bool(document.get("credsStore") or document.get("credHelpers"))
    return DockerConfig(path, auths, uses_helpers)


def _entry_credentials(entry: Mapping[str, Any], registry: str) -> tuple[str, str]:
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username and password:
        return username, password
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError(f"the `auth` value for {registry} is not base64 of USER:PASSWORD") from None
        username, colon, password = decoded.partition(":")
        if colon and username and password:
            return username, password
        raise ValueError(f"the `auth` value for {registry} is not base64 of USER:PASSWORD")
    if entry.get("identitytoken"):
        raise ValueError(f"the entry for {registry} contains an identity token, which plume cannot use")
    raise ValueError(f"the entry for {registry} has neither `auth` nor `username` and `password`")
