"""A token server like Docker Hub's, for a registry that runs with token authentication.

The registry sends clients here with a Bearer challenge. This server checks their Basic credentials and
returns a JWT that grants the repository actions they asked for (only `pull` to an anonymous client),
signed with RS256. The JWT header carries the signing certificate in `x5c`, and the registry trusts it
because the same certificate is in its `rootcertbundle`. The CNCF registry 2.8 accepts `aud` only as a
plain string.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.rig.processes import LOOPBACK

ISSUER = "plume-tests-token-issuer"
SERVICE = "plume-tests-registry"
TOKEN_LIFETIME = 300  # seconds, as Docker Hub's tokens
CERTIFICATE_LIFETIME = datetime.timedelta(days=1)
ANONYMOUS_ACTIONS = frozenset({"pull"})


def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class TokenRequest:
    """One request to the token server: the account, the scopes and the status it returned."""

    account: str | None  # None for an anonymous request
    scopes: tuple[str, ...]
    status: int


def access_entry(scope: str, anonymous: bool) -> dict[str, Any] | None:
    """The JWT `access` entry that grants a `type:name:actions` scope, or None for a scope it cannot parse."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    granted = [action for action in actions.split(",") if action and (not anonymous or action in ANONYMOUS_ACTIONS)]
    return {"type": kind, "name": name, "actions": granted}


class SigningKey:
    """An RSA key with a self-signed certificate, written as the bundle the registry trusts."""

    def __init__(self, bundle_path: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + CERTIFICATE_LIFETIME)
            .sign(self.key, hashes.SHA256())
        )
        bundle_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        self.bundle_path = bundle_path

    def jwt(self, claims: Mapping[str, Any]) -> str:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        signing_input = f"{base64url(json.dumps(header).encode())}.{base64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{base64url(signature)}"


class TokenServer:
    """The token server on a free loopback port, for the given users and passwords.

    Tests may change two settings. `expires_in` is the lifetime each response states. `untrusted_tokens` is
    how many of the next tokens to sign with a key the registry does not trust, so that it rejects them.
    """

    def __init__(self, work_dir: Path, users: Mapping[str, str]) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.signing_key = SigningKey(work_dir / "token-bundle.pem")
        self.untrusted_key = SigningKey(work_dir / "untrusted.pem")
        self.users = dict(users)
        self.requests: list[TokenRequest] = []
        self.expires_in = TOKEN_LIFETIME
        self.untrusted_tokens = 0
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/token"

    @property
    def bundle_path(self) -> Path:
        return self.signing_key.bundle_path

    def token(self, scopes: Sequence[str], account: str | None, trusted: bool = True) -> str:
        """A token for `scopes`, as this server grants it to `account` (None: anonymous)."""
        now = int(time.time())
        access = [entry for scope in scopes if (entry := access_entry(scope, account is None)) is not None]
        claims = {
            "iss": ISSUER,
            "sub": account or "",
            "aud": SERVICE,
            "exp": now + TOKEN_LIFETIME,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return (self.signing_key if trusted else self.untrusted_key).jwt(claims)

    def requests_for(self, account: str) -> list[TokenRequest]:
        with self._lock:
            return [request for request in self.requests if request.account == account]

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_is_trusted(self) -> bool:
        with self._lock:
            if self.untrusted_tokens > 0:
                self.untrusted_tokens -= 1
                return False
            return True

    def _account(self, authorization: str | None) -> tuple[str | None, bool]:
        """The user a Basic header names and whether its password is right; (None, True) without a header."""
        if not authorization:
            return None, True
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None, False
        return username, self.users.get(username) == password

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                scopes = tuple(query.get("scope", []))
                account, accepted = server._account(self.headers.get("Authorization"))
                if parts.path != "/token" or query.get("service") != [SERVICE]:
                    self._reply(400, {"details": "unknown path or service"})
                    server._record(TokenRequest(account, scopes, 400))
                elif not accepted:
                    self._reply(401, {"details": "incorrect username or password"})
                    server._record(TokenRequest(account, scopes, 401))
                else:
                    token = server.token(scopes, account, server._next_is_trusted())
                    self._reply(200, {"token": token, "access_token": token, "expires_in": server.expires_in})
                    server._record(TokenRequest(account, scopes, 200))

            def _reply(self, status: int, body: Mapping[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

