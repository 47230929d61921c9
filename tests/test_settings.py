"""Settings as Woodpecker and Drone pass them, and the one-line errors for bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugin.errors import SettingsError
from plugin.settings import Settings, load_settings

BASE = {"PLUGIN_REPO": "hello", "PLUGIN_ARTIFACT": "dist/app-{arch}"}


def clear_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("PLUGIN_", "SOURCE_DATE_EPOCH", "DOCKER_CONFIG")):
            monkeypatch.delenv(name)


def settings_from(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    clear_settings(monkeypatch)
    for name, value in {**BASE, **values}.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def error_from(monkeypatch: pytest.MonkeyPatch, **values: str) -> str:
    with pytest.raises(SettingsError) as caught:
        settings_from(monkeypatch, **values)
    return str(caught.value)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch)
    assert settings.tags == ["latest"]
    assert settings.platforms == ["linux/amd64", "linux/arm64"]
    assert settings.install_path == "/app"
    assert settings.source_date_epoch == 0


@pytest.mark.parametrize("written", ["1.0,latest", '["1.0", "latest"]', " 1.0 , latest ,"])
def test_lists_accept_comma_joined_and_json(monkeypatch: pytest.MonkeyPatch, written: str) -> None:
    assert settings_from(monkeypatch, PLUGIN_TAGS=written).tags == ["1.0", "latest"]


@pytest.mark.parametrize("written", ['{"A": "1", "B": "x=y"}', "A=1,B=x=y", '["A=1", "B=x=y"]'])
def test_maps_accept_json_objects_and_key_value_items(monkeypatch: pytest.MonkeyPatch, written: str) -> None:
    assert settings_from(monkeypatch, PLUGIN_LABELS=written).labels == {"A": "1", "B": "x=y"}


def test_entrypoint_as_json_keeps_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, PLUGIN_ENTRYPOINT='["/bin/sh", "-c", "echo a,b"]')
    assert settings.entrypoint == ["/bin/sh", "-c", "echo a,b"]


def test_artifacts_map_replaces_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch,
        PLUGIN_ARTIFACT="",
        PLUGIN_ARTIFACTS='{"linux/amd64": "target/x86_64-unknown-linux-musl/release/app", '
        '"linux/arm64": "target/aarch64-unknown-linux-musl/release/app"}',
    )
    assert settings.artifacts["linux/arm64"] == "target/aarch64-unknown-linux-musl/release/app"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"PLUGIN_TAGS": "1.2.3+build"}, "PLUGIN_TAGS '1.2.3+build': a tag is 1 to 128"),
        ({"PLUGIN_TAGS": "x" * 129}, f"PLUGIN_TAGS '{'x' * 129}': a tag is 1 to 128"),
        ({"PLUGIN_REPO": "Hello"}, "PLUGIN_REPO 'Hello': a repository is"),
        ({"PLUGIN_PLATFORMS": "linux/amd64,linux/sparc"}, "PLUGIN_PLATFORMS 'linux/sparc': architecture 'sparc'"),
        (
            {"PLUGIN_PLATFORMS": "linux/arm64,linux/aarch64"},
            "PLUGIN_PLATFORMS 'linux/aarch64': the same platform as 'linux/arm64'",
        ),
        ({"PLUGIN_INSECURE": "maybe"}, "PLUGIN_INSECURE 'maybe': use true or false"),
        ({"PLUGIN_COMPRESSION_LEVEL": "12"}, "PLUGIN_COMPRESSION_LEVEL '12': gzip level from 1"),
        ({"PLUGIN_MANIFEST_FORMAT": "v1"}, "PLUGIN_MANIFEST_FORMAT 'v1': `oci`"),
        ({"PLUGIN_ARTIFACT": "dist/{name}"}, "PLUGIN_ARTIFACT 'dist/{name}': unknown placeholder"),
        ({"PLUGIN_ARTIFACT": ""}, "PLUGIN_ARTIFACT: required"),
        ({"PLUGIN_REPO": ""}, "PLUGIN_REPO '': a repository is"),
        ({"PLUGIN_INSTALL_PATH": "app"}, "PLUGIN_INSTALL_PATH 'app': use an absolute path"),
        ({"PLUGIN_ENV": "{not json"}, "PLUGIN_ENV '{not json': a JSON object is not valid JSON"),
        ({"SOURCE_DATE_EPOCH": "yesterday"}, "SOURCE_DATE_EPOCH 'yesterday': use a whole number"),
        (
            {"PLUGIN_ARTIFACT": "", "PLUGIN_ARTIFACTS": '{"linux/amd64": "a"}'},
            "PLUGIN_ARTIFACTS: no path given for linux/arm64",
        ),
    ],
)
def test_invalid_values_name_the_variable_value_and_rule(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], expected: str
) -> None:
    message = error_from(monkeypatch, **values)
    assert message.startswith(expected)
    assert "\n" not in message


def test_missing_repo_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings(monkeypatch)
    monkeypatch.setenv("PLUGIN_ARTIFACT", "x")
    with pytest.raises(SettingsError, match=r"^PLUGIN_REPO: required"):
        load_settings()


def test_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, PLUGIN_PASSWORD="s3cr3t-value")
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings)


LOGIN_SECRET = "dckr_pat_Settings-secret-77c1"


def test_logins_as_woodpecker_passes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    logins = f'[{{"registry": "https://index.docker.io/v1/", "username": "hub", "password": "{LOGIN_SECRET}"}}]'

    settings = settings_from(monkeypatch, PLUGIN_LOGINS=logins)

    assert [(login.registry, login.username) for login in settings.logins] == [("docker.io", "hub")]
    assert LOGIN_SECRET not in repr(settings)


def test_invalid_logins_never_show_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    message = error_from(monkeypatch, PLUGIN_LOGINS=f'[{{"registry": "docker.io", "password": "{LOGIN_SECRET}"}}]')

    assert message.startswith("PLUGIN_LOGINS: login 1 has no `username`")
    assert LOGIN_SECRET not in message


def test_docker_config_path_from_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "auth.json"
    config.write_text('{"auths": {}}')

    assert settings_from(monkeypatch, PLUGIN_DOCKER_CONFIG=str(config)).docker_config_path() == config


def test_docker_config_from_the_directory_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"auths": {}}')

    assert settings_from(monkeypatch, DOCKER_CONFIG=str(tmp_path)).docker_config_path() == tmp_path / "config.json"


def test_docker_config_directory_without_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_from(monkeypatch, DOCKER_CONFIG=str(tmp_path))

    assert settings.docker_config_path() == tmp_path / "config.json"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"PLUGIN_DOCKER_CONFIG": "/nonexistent/c.json"}, "PLUGIN_DOCKER_CONFIG '/nonexistent/c.json': cannot be read"),
        ({"PLUGIN_CHUNK_SIZE": "1000"}, "PLUGIN_CHUNK_SIZE '1000': use a size of at least 64KiB"),
        ({"PLUGIN_CHUNK_SIZE": "lots"}, "PLUGIN_CHUNK_SIZE 'lots': use a size of at least 64KiB"),
        ({"PLUGIN_TIMEOUT": "0"}, "PLUGIN_TIMEOUT '0': whole seconds, at least 1,"),
        ({"PLUGIN_TIMEOUT": "soon"}, "PLUGIN_TIMEOUT 'soon': use a whole number"),
        ({"PLUGIN_REGISTRY": "registry.example.org/team"}, "PLUGIN_REGISTRY 'registry.example.org/team': use a"),
        (
            {"PLUGIN_REPO": "ghcr.io/me/app", "PLUGIN_MOUNT_FROM": "docker.io/me/base"},
            "PLUGIN_MOUNT_FROM 'docker.io/me/base': name a repository on ghcr.io",
        ),
        ({"PLUGIN_MOUNT_FROM": "me/base"}, "PLUGIN_MOUNT_FROM 'me/base': needs a registry in PLUGIN_REPO"),
        ({"PLUGIN_REPO": "ghcr.io/app", "PLUGIN_MOUNT_FROM": "Me/Base"}, "PLUGIN_MOUNT_FROM 'Me/Base': a repository"),
    ],
)
def test_invalid_publishing_settings(monkeypatch: pytest.MonkeyPatch, values: dict[str, str], expected: str) -> None:
    message = error_from(monkeypatch, **values)

    assert message.startswith(expected), message
    assert "\n" not in message


def test_unreadable_config_in_the_directory_names_docker_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text(f'{{"auths": {{"docker.io": {{"auth": "{LOGIN_SECRET}"}}}}')

    message = error_from(monkeypatch, DOCKER_CONFIG=str(tmp_path))

    assert message.startswith(f"DOCKER_CONFIG '{tmp_path / 'config.json'}': is not valid JSON")
    assert LOGIN_SECRET not in message


@pytest.mark.parametrize(("written", "size"), [("8MiB", 8 * 1024 * 1024), ("65536", 65536), ("2 GiB", 2 * 1024**3)])
def test_chunk_size_units(monkeypatch: pytest.MonkeyPatch, written: str, size: int) -> None:
    assert settings_from(monkeypatch, PLUGIN_CHUNK_SIZE=written).chunk_size == size


def test_publishing_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch)

    assert settings.chunk_size == 64 * 1024 * 1024
    assert settings.timeout == 1800
    assert settings.logins == []
    assert settings.docker_config_path() is None


def test_docker_hub_address_as_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from(monkeypatch, PLUGIN_REGISTRY="https://index.docker.io/v1/").registry == "docker.io"


def test_mount_source_on_the_repo_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, PLUGIN_REPO="index.docker.io/me/app", PLUGIN_MOUNT_FROM="docker.io/me/base")

    assert settings.mount_from == "docker.io/me/base"
