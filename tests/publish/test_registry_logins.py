"""Logins from PLUGIN_LOGINS and from Docker's config.json, matched to registries as Docker matches them."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from plugin.publish.registry.logins import Login, find_login, parse_logins, read_docker_config

SECRET = "dckr_pat_Logins-secret-41b7"


def auth_value(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def write_config(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_logins_from_json_text() -> None:
    logins = parse_logins(
        json.dumps(
            [
                {"registry": "https://index.docker.io/v1/", "username": "hub-user", "password": SECRET},
                {"registry": "registry.example.org", "username": "ci", "password": "other"},
            ]
        )
    )

    assert logins == [Login("docker.io", "hub-user", SECRET), Login("registry.example.org", "ci", "other")]


def test_login_without_registry_is_for_docker_hub() -> None:
    assert parse_logins([{"username": "hub-user", "password": SECRET}]) == [Login("docker.io", "hub-user", SECRET)]


def test_find_login_picks_the_matching_registry() -> None:
    logins = [Login("registry.example.org", "a", "1"), Login("docker.io", "b", "2"), Login("docker.io", "c", "3")]

    assert find_login(logins, "docker.io") == Login("docker.io", "b", "2")
    assert find_login(logins, "ghcr.io") is None


def test_login_repr_hides_the_password() -> None:
    assert SECRET not in repr(Login("docker.io", "hub-user", SECRET))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"username": "u"}', "use a JSON list of maps"),
        ('["docker.io"]', "login 1 is not a map"),
        (f'[{{"username": "u", "password": "{SECRET}"}}, {{"username": "v"}}]', "login 2 has no `password`"),
        (f'[{{"password": "{SECRET}"}}]', "login 1 has no `username`"),
        (f'[{{"registry": "example.org/team", "username": "u", "password": "{SECRET}"}}]', "login 1 has the registry"),
    ],
)
def test_invalid_logins_never_show_a_password(raw: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_logins(raw)

    assert message in str(raised.value)
    assert SECRET not in str(raised.value)


def test_docker_hub_key_as_docker_writes_it(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.json",
        {"auths": {"https://index.docker.io/v1/": {"auth": auth_value("hub-user", SECRET)}}},
    )

    assert read_docker_config(config).login_for("docker.io") == Login("docker.io", "hub-user", SECRET)


def test_username_and_password_fields(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.json",
        {"auths": {"127.0.0.1:5000": {"username": "ci", "password": SECRET}}},
    )

    assert read_docker_config(config).login_for("127.0.0.1:5000") == Login("127.0.0.1:5000", "ci", SECRET)
    assert read_docker_config(config).login_for("docker.io") is None


def test_password_with_colons_survives(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.json", {"auths": {"ghcr.io": {"auth": auth_value("ci", "a:b:c")}}})

    assert read_docker_config(config).login_for("ghcr.io") == Login("ghcr.io", "ci", "a:b:c")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"auth": "%%%"}, "not base64 of USER:PASSWORD"),
        ({"auth": base64.b64encode(SECRET.encode()).decode()}, "not base64 of USER:PASSWORD"),
        ({"identitytoken": SECRET}, "identity token"),
        ({}, "neither `auth` nor `username` and `password`"),
    ],
)
def test_unreadable_entry_for_the_registry(tmp_path: Path, entry: dict[str, str], message: str) -> None:
    config = write_config(tmp_path / "config.json", {"auths": {"ghcr.io": entry}})

    with pytest.raises(ValueError) as raised:
        read_docker_config(config).login_for("ghcr.io")

    assert message in str(raised.value)
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not valid JSON"), ('["a"]', "is not a Docker config.json"), ('{"auths": []}', "not a Docker")],
)
def test_unreadable_config_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)

    with pytest.raises(ValueError, match=message):
        read_docker_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be read"):
        read_docker_config(tmp_path / "absent.json")


def test_credential_helper_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = write_config(tmp_path / "config.json", {"auths": {}, "credsStore": "desktop"})

    with caplog.at_level(logging.WARNING):
        assert read_docker_config(config).login_for("docker.io") is None

    assert "credential helper" in caplog.text
