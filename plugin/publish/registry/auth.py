"""Registry authentication: Basic credentials, or Bearer tokens fetched from the realm a 401 names.

Bearer tokens are cached per set of scopes, because a token only grants what was asked for: pushing needs
`repository:NAME:pull,push`, and a cross-repository mount also needs `repository:SOURCE:pull`. A token is
fetched again when it is about to expire, and when the registry rejects it with a 401.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from dataclasses import dataclass

import requests

from plugin.errors import PublishError, RegistryError
from plugin.publish.retry import with_retries

log = logging.getLogger(__name__)

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')

Scopes = tuple[str, ...]

DEFAULT_TOKEN_LIFETIME = 60  # seconds a token lasts when the token server omits expires_in, per Docker's token spec
TOKEN_RENEW_MARGIN = 10.0  # seconds before expiry at which a cached token is fetched again
DEFAULT_CREDENTIAL_SOURCE = "PLUGIN_USERNAME and PLUGIN_PASSWORD"
LOGIN_SETTINGS = "PLUGIN_USERNAME and PLUGIN_PASSWORD, PLUGIN_LOGINS or PLUGIN_DOCKER_CONFIG"


def repository_scope(repository: str, actions: str) -> str:
    """Return a token scope such as `repository:library/alpine:pull,push`."""
    return f"repository:{repository}:{actions}"


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or access token) for one registry, and the setting they came from."""

    username: str
    password: str
    source: str = DEFAULT_CREDENTIAL_SOURCE

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>, source={self.source!r})"

    def basic_header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


@dataclass(frozen=True)
class Challenge:
    """A parsed `WWW-Authenticate` header."""

    scheme: str
    params: dict[str, str]

    @classmethod
    def parse(cls, header: str) -> Challenge:
        scheme, _, rest = header.strip().partition(" ")
        return cls(scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest)))


@dataclass(frozen=True)
class _Token:
    header: str
    renew_at: float  # time.monotonic() value


class RegistryAuth:
    """The Authorization header for each request to one registry, renewed from the registry's challenge."""

    def __init__(
        self, registry: str, credentials: Credentials | None, session: requests.Session, timeout: float
    ) -> None:
        self._registry = registry
        self._credentials = credentials
        self._session = session
        self._timeout = timeout
        self._challenge: Challenge | None = None
        self._tokens: dict[Scopes, _Token] = {}
        self._lock = threading.Lock()

    @property
    def credentials_source(self) -> str | None:
        """The setting the credentials came from, or None without credentials."""
        return self._credentials.source if self._credentials else None

    def refused_hint(self) -> str:
        """Return what to check when the registry rejects a request with 401 or 403."""
        if self._credentials is None:
            return f"the registry requires a login with push access: set {LOGIN_SETTINGS}"
        return (
            f"the registry rejected user {self._credentials.username!r} from {self._credentials.source}: "
            "check the user name and password (or token), and that it may push to this repository"
        )

    def header(self, scopes: Scopes) -> str | None:
        """Return the header for a request that needs `scopes`, or None before the registry sent a challenge."""
        with self._lock:
            challenge = self._challenge
            if challenge is None:
                return None
            if challenge.scheme == "basic":
                return self._credentials.basic_header() if self._credentials else None
            token = self._tokens.get(scopes)
            if token is None or time.monotonic() >= token.renew_at:
                token = self._fetch_token(challenge, scopes)
                self._tokens[scopes] = token
            return token.header

    def renew(self, challenge_header: str, scopes: Scopes, rejected: str | None) -> bool:
        """Respond to a 401 challenge; return whether a header other than the `rejected` one is now available.

        Raises PublishError when the registry asks for a login and no credentials are set, or for an
        unsupported scheme.
        """
        challenge = Challenge.parse(challenge_header)
        with self._lock:
            self._challenge = challenge
            if challenge.scheme == "basic":
                if self._credentials is None:
                    raise PublishError(f"{self._registry} requires a login: set {LOGIN_SETTINGS}")
                return self._credentials.basic_header() != rejected
            if challenge.scheme != "bearer":
                raise PublishError(f"{self._registry} requires unsupported authentication {challenge.scheme!r}")
            cached = self._tokens.get(scopes)
            if cached is not None and cached.header != rejected:
                return True  # another thread renewed it meanwhile
            self._tokens[scopes] = self._fetch_token(challenge, scopes)
            return True

    def _fetch_token(self, challenge: Challenge, scopes: Scopes) -> _Token:
        realm = challenge.params.get("realm")
        if not realm:
            raise PublishError(f"{self._registry}'s Bearer challenge names no realm to ask for a token")
        params: dict[str, str | list[str]] = {"scope": list(scopes)}
        if "service" in challenge.params:
            params["service"] = challenge.params["service"]
        auth = (self._credentials.username, self._credentials.password) if self._credentials else None

        def request_token() -> requests.Response:
            response = self._session.get(realm, params=params, auth=auth, timeout=self._timeout)
            if response.status_code != 200:
                raise RegistryError("GET", realm, response.status_code, detail=self._token_refusal(response))
            return response

        response = with_retries(request_token, f"token request to {realm}")
        return self._token_from(response, realm, scopes)

    def _token_from(self, response: requests.Response, realm: str, scopes: Scopes) -> _Token:
        try:
            body = response.json()
        except ValueError as exc:
            raise PublishError(f"the token server {realm} returned a body that is not JSON") from exc
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PublishError(f"the token server {realm} returned no token")
        lifetime = body.get("expires_in")
        if not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME
        margin = min(TOKEN_RENEW_MARGIN, lifetime / 2)
        log.debug("token for %s received from %s, valid for %s s", " ".join(scopes), realm, lifetime)
        return _Token(f"Bearer {token}", time.monotonic() + lifetime - margin)

    def _token_refusal(self, response: requests.Response) -> str:
        if response.status_code in (401, 403):
            if self._credentials is None:
                return f"the token server requires a login: set {LOGIN_SETTINGS}"
            return f"the credentials from {self._credentials.source} were refused"
        return "the token server failed"
