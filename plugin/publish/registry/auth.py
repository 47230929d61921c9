"""Registry authentication: Basic credentials, or a Bearer token fetched from the realm a 401 names."""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass

import requests

from plugin.errors import PublishError, RegistryError
from plugin.publish.retry import with_retries

log = logging.getLogger(__name__)

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>)"

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


class RegistryAuth:
    """Holds the Authorization header value for one repository, and renews it from the challenge."""

    def __init__(
        self, registry: str, credentials: Credentials | None, session: requests.Session, timeout: float
    ) -> None:
        self._registry = registry
        self._credentials = credentials
        self._session = session
        self._timeout = timeout
        self._challenge: Challenge | None = None
        self.header: str | None = None

    def answer(self, challenge_header: str, scope: str) -> None:
        """Set the header that answers this challenge; raises when the credentials are refused."""
        challenge = Challenge.parse(challenge_header)
        self._challenge = challenge
        if challenge.scheme == "basic":
            if self._credentials is None:
                raise PublishError(f"{self._registry} requires a login: set PLUGIN_USERNAME and PLUGIN_PASSWORD")
            self.header = self._credentials.basic_header()
        elif challenge.scheme == "bearer":
            self.header = f"Bearer {self._fetch_token(challenge, scope)}"
        else:
            raise PublishError(f"{self._registry} requires unsupported authentication {challenge.scheme!r}")

    def _fetch_token(self, challenge: Challenge, scope: str) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise PublishError("the registry's Bearer challenge names no realm to ask for a token")
        params = {"scope": scope}
        if "service" in challenge.params:
            params["service"] = challenge.params["service"]
        auth = (self._credentials.username, self._credentials.password) if self._credentials else None

        def request_token() -> requests.Response:
            response = self._session.get(realm, params=params, auth=auth, timeout=self._timeout)
            if response.status_code != 200:
                raise RegistryError("GET", realm, response.status_code, detail=_token_refusal(response.status_code))
            return response

        response = with_retries(request_token, f"token request to {realm}")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise PublishError(f"the token server {realm} answered without a token")
        log.debug("token for %s received from %s", scope, realm)
        return token


def _token_refusal(status: int) -> str:
    if status in (401, 403):
        return "the credentials were refused: check PLUGIN_USERNAME and PLUGIN_PASSWORD"
    return "the token server failed"
