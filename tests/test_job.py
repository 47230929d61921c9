"""How the job turns settings into a registry destination: Docker Hub's names, logins and mounts."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from plugin.errors import SettingsError
from plugin.job import registry_credentials, registry_destination, repository_of
from plugin.settings import Settings
from tests.test_settings import settings_from

HUB_SECRET = "dckr_pat_Cli-secret-90ad"


def hub_config(tmp_path: Path, key: str = "https://index.docker.io/v1/") -> Path:
    auth = base64.b64encode(f"hub-user:{HUB_SECRET}".encode()).decode()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {key: {"auth": auth}, "ghcr.io": {"auth": "bm90OnVzZWQ="}}}))
    return path


@pytest.mark.parametrize(
    ("values", "api_path"),
    [
        ({"PLUGIN_REPO": "docker.io/alpine"}, "library/alpine"),
        ({"PLUGIN_REPO": "index.docker.io/me/app"}, "me/app"),
        ({"PLUGIN_REPO": "registry-1.docker.io/alpine"}, "library/alpine"),
        ({"PLUGIN_REPO": "alpine", "PLUGIN_REGISTRY": "https://index.docker.io/v1/"}, "library/alpine"),
    ],
)
def test_docker_hub_destination(monkeypatch: pytest.MonkeyPatch, values: dict[str, str], api_path: str) -> None:
    settings = settings_from(monkeypatch, **values)

    destination = registry_destination(settings, repository_of(settings))

    assert destination.client.base_url == "https://registry-1.docker.io"
    assert destination.client.repository == api_path
    assert destination.client.scopes == (f"repository:{api_path}:pull,push",)


def test_mount_source_under_library(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, PLUGIN_REPO="docker.io/me/app", PLUGIN_MOUNT_FROM="alpine")

    assert registry_destination(settings, repository_of(settings)).mount_from == "library/alpine"


def credentials_for(settings: Settings) -> tuple[str, str, str] | None:
    credentials = registry_credentials(settings, repository_of(settings))
    return None if credentials is None else (credentials.username, credentials.password, credentials.source)


def test_docker_config_key_of_docker_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = str(hub_config(tmp_path))
    settings = settings_from(monkeypatch, PLUGIN_REPO="docker.io/me/app", PLUGIN_DOCKER_CONFIG=config)

    assert credentials_for(settings) == ("hub-user", HUB_SECRET, f"PLUGIN_DOCKER_CONFIG {tmp_path / 'config.json'}")


def test_docker_config_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hub_config(tmp_path, key="docker.io")
    settings = settings_from(monkeypatch, PLUGIN_REPO="index.docker.io/me/app", DOCKER_CONFIG=str(tmp_path))

    assert credentials_for(settings) == ("hub-user", HUB_SECRET, f"DOCKER_CONFIG {tmp_path / 'config.json'}")


def test_logins_come_before_docker_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    logins = json.dumps([
        {"registry": "ghcr.io", "username": "other", "password": "other-secret"},
        {"username": "from-logins", "password": "logins-secret"},
    ])
    config = str(hub_config(tmp_path))
    settings = settings_from(
        monkeypatch, PLUGIN_REPO="docker.io/me/app", PLUGIN_LOGINS=logins, PLUGIN_DOCKER_CONFIG=config
    )

    assert credentials_for(settings) == ("from-logins", "logins-secret", "PLUGIN_LOGINS")


def test_username_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    logins = json.dumps([{"username": "from-logins", "password": "logins-secret"}])
    settings = settings_from(
        monkeypatch, PLUGIN_REPO="docker.io/me/app", PLUGIN_LOGINS=logins, PLUGIN_USERNAME="me", PLUGIN_PASSWORD="pw"
    )

    assert credentials_for(settings) == ("me", "pw", "PLUGIN_USERNAME and PLUGIN_PASSWORD")


def test_no_login_for_the_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_from(monkeypatch, PLUGIN_REPO="quay.io/me/app", PLUGIN_DOCKER_CONFIG=str(hub_config(tmp_path)))

    assert credentials_for(settings) is None


def test_unreadable_entry_names_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"ghcr.io": {"identitytoken": HUB_SECRET}}}))
    settings = settings_from(monkeypatch, PLUGIN_REPO="ghcr.io/me/app", PLUGIN_DOCKER_CONFIG=str(path))

    with pytest.raises(SettingsError) as raised:
        credentials_for(settings)

    expected = f"PLUGIN_DOCKER_CONFIG '{path}': the entry for ghcr.io contains an identity token"
    assert str(raised.value).startswith(expected)
    assert HUB_SECRET not in str(raised.value)
