"""Registry authentication against the real registry with token auth: tokens cached per scope and renewed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from plugin.oci.content import Blob
from plugin.oci.digest import Digest
from plugin.oci.models import Descriptor
from plugin.publish.registry.auth import Challenge, Credentials, repository_scope
from plugin.publish.registry.client import RegistryClient
from tests.conftest import TOKEN_REGISTRY_CREDENTIALS
from tests.rig.faults import FaultProxy
from tests.rig.registry import Registry
from tests.rig.tokens import TOKEN_LIFETIME, TokenServer

CREDENTIALS = Credentials(TOKEN_REGISTRY_CREDENTIALS.username, TOKEN_REGISTRY_CREDENTIALS.password)
SOME_DIGEST = Digest.of_bytes(b"not uploaded")
SOME_BLOB = Blob(Descriptor("application/octet-stream", SOME_DIGEST, len(b"not uploaded")), data=b"not uploaded")


@pytest.fixture
def tokens(token_server: TokenServer) -> Iterator[TokenServer]:
    """The session's token server, with its settings put back after the test."""
    yield token_server
    token_server.expires_in = TOKEN_LIFETIME
    token_server.untrusted_tokens = 0


def token_requests_for(tokens: TokenServer, repository: str) -> list[tuple[str, ...]]:
    return [
        request.scopes
        for request in tokens.requests_for(CREDENTIALS.username)
        if any(f":{repository}:" in scope for scope in request.scopes)
    ]


def test_challenge_parses_realm_service_and_scope() -> None:
    challenge = Challenge.parse('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                'scope="repository:library/alpine:pull"')

    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/alpine:pull",
    }


def test_credentials_repr_hides_the_password() -> None:
    assert "dckr_pat" not in repr(CREDENTIALS)


def test_one_token_per_scope(tokens: TokenServer, token_registry: Registry) -> None:
    client = RegistryClient(token_registry.url, "auth/cached", CREDENTIALS)

    client.ping()
    for _ in range(3):
        client.blob_exists(SOME_DIGEST)
    client.manifest_digest("latest", "application/vnd.oci.image.index.v1+json")

    assert token_requests_for(tokens, "auth/cached") == [(repository_scope("auth/cached", "pull,push"),)]


def test_mount_asks_for_pull_on_the_source(tokens: TokenServer, token_registry: Registry) -> None:
    client = RegistryClient(token_registry.url, "auth/target", CREDENTIALS)
    client.ping()

    first = client.mount_blob(SOME_BLOB, "auth/base")
    second = client.mount_blob(SOME_BLOB, "auth/base")

    assert not first.mounted
    assert not second.mounted
    assert token_requests_for(tokens, "auth/target") == [
        ("repository:auth/target:pull,push",),
        ("repository:auth/target:pull,push", "repository:auth/base:pull"),
    ]


def test_rejected_token_is_renewed(tokens: TokenServer, token_registry: Registry) -> None:
    proxy = FaultProxy(token_registry.url)
    try:
        client = RegistryClient(proxy.url, "auth/renewed", CREDENTIALS)
        client.ping()
        tokens.untrusted_tokens = 1

        exists = client.transport.request(
            "HEAD", client.url(f"blobs/{SOME_DIGEST}"), (*client.scopes, repository_scope("auth/other", "pull"))
        )
    finally:
        proxy.stop()

    assert exists.status_code == 404
    assert len(proxy.requests_matching("HEAD", f"/auth/renewed/blobs/{SOME_DIGEST}")) == 2
    assert len(token_requests_for(tokens, "auth/other")) == 2


def test_expiring_token_is_fetched_again(tokens: TokenServer, token_registry: Registry) -> None:
    tokens.expires_in = 1
    proxy = FaultProxy(token_registry.url)
    try:
        client = RegistryClient(proxy.url, "auth/expiring", CREDENTIALS)
        client.ping()
        time.sleep(0.6)  # past the half of the stated lifetime after which plume fetches a token again

        assert not client.blob_exists(SOME_DIGEST)
    finally:
        proxy.stop()

    assert len(token_requests_for(tokens, "auth/expiring")) == 2
    assert len(proxy.requests_matching("HEAD", f"/auth/expiring/blobs/{SOME_DIGEST}")) == 1
