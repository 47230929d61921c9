"""How plume reaches a base image: Docker Hub names, which login it sends, and when it speaks plain HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from plugin.errors import SourceError
from plugin.job import base_source
from plugin.oci.platform import Platform
from plugin.oci.reference import ImageReference, Repository
from plugin.settings import Settings
from plugin.sources.base import base_images
from tests.publish.conftest import RecordingServer, Reply
from tests.test_settings import settings_from

DESTINATION_PASSWORD = "destination-pass-81"
BASE_PASSWORD = "base-pass-27"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="test"'}


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    """A registry stand-in on 127.0.0.1 that records each request and sends the queued replies."""
    server = RecordingServer()
    server.start()
    yield server
    server.stop()


def base_settings(monkeypatch: pytest.MonkeyPatch, repo: str, base: str, **values: str) -> Settings:
    return settings_from(monkeypatch, PLUGIN_REPO=repo, PLUGIN_BASE=base, **values)


def test_docker_hub_base_uses_library_path(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = base_settings(monkeypatch, "registry.example.org/app", "alpine:3.20")
    reference = ImageReference.parse(settings.base).with_default_host()

    source = base_source(settings, Repository.parse(settings.repo), reference.repository)

    assert source.client.base_url == "https://registry-1.docker.io"
    assert source.client.repository == "library/alpine"
    assert source.client.scopes == ("repository:library/alpine:pull",)


@pytest.mark.parametrize(
    ("insecure", "base_insecure", "base_host", "scheme"),
    [
        ("true", "false", "registry.example.org", "http"),
        ("true", "false", "other.example.org", "https"),
        ("false", "true", "other.example.org", "http"),
        ("false", "false", "registry.example.org", "https"),
    ],
)
def test_base_plain_http_needs_opt_in(
    monkeypatch: pytest.MonkeyPatch, insecure: str, base_insecure: str, base_host: str, scheme: str
) -> None:
    settings = base_settings(
        monkeypatch,
        "registry.example.org/app",
        f"{base_host}/base:1",
        PLUGIN_INSECURE=insecure,
        PLUGIN_BASE_INSECURE=base_insecure,
    )

    source = base_source(settings, Repository.parse(settings.repo), Repository.parse(f"{base_host}/base"))

    assert source.client.base_url == f"{scheme}://{base_host}"


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def read_base(settings: Settings) -> None:
    reference = ImageReference.parse(settings.base)
    source = base_source(settings, Repository.parse(settings.repo), reference.repository)
    base_images(source, reference, [Platform.parse("linux/amd64")], "PLUGIN_BASE")


@pytest.mark.parametrize(
    ("repo_host", "values", "expected"),
    [
        ("{host}", {"PLUGIN_USERNAME": "ci", "PLUGIN_PASSWORD": DESTINATION_PASSWORD}, ("ci", DESTINATION_PASSWORD)),
        (
            "{host}",
            {
                "PLUGIN_USERNAME": "ci",
                "PLUGIN_PASSWORD": DESTINATION_PASSWORD,
                "PLUGIN_BASE_USERNAME": "reader",
                "PLUGIN_BASE_PASSWORD": BASE_PASSWORD,
            },
            ("reader", BASE_PASSWORD),
        ),
        (
            "registry.example.org",
            {"PLUGIN_BASE_USERNAME": "reader", "PLUGIN_BASE_PASSWORD": BASE_PASSWORD},
            ("reader", BASE_PASSWORD),
        ),
    ],
    ids=["destination_login_on_same_registry", "base_login_wins", "base_login_on_other_registry"],
)
def test_base_login(
    monkeypatch: pytest.MonkeyPatch,
    recording_server: RecordingServer,
    repo_host: str,
    values: dict[str, str],
    expected: tuple[str, str],
) -> None:
    host = recording_server.url.removeprefix("http://")
    settings = base_settings(
        monkeypatch, f"{repo_host.format(host=host)}/app", f"{host}/base:1", PLUGIN_BASE_INSECURE="true", **values
    )
    recording_server.replies = [Reply(401, BASIC_CHALLENGE), Reply(404)]

    with pytest.raises(SourceError, match="no manifest 1"):
        read_base(settings)

    assert recording_server.requests[1].headers["authorization"] == basic(*expected)


def test_destination_login_not_sent_elsewhere(
    monkeypatch: pytest.MonkeyPatch, recording_server: RecordingServer
) -> None:
    host = recording_server.url.removeprefix("http://")
    settings = base_settings(
        monkeypatch,
        "registry.example.org/app",
        f"{host}/base:1",
        PLUGIN_BASE_INSECURE="true",
        PLUGIN_USERNAME="ci",
        PLUGIN_PASSWORD=DESTINATION_PASSWORD,
    )
    recording_server.replies = [Reply(401, BASIC_CHALLENGE)]

    with pytest.raises(SourceError) as caught:
        read_base(settings)

    message = str(caught.value)
    assert message.startswith(f"PLUGIN_BASE '{host}/base:1': ")
    assert "PLUGIN_BASE_USERNAME and PLUGIN_BASE_PASSWORD" in message
    assert all("authorization" not in request.headers for request in recording_server.requests)
