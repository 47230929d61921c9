"""Settings as Woodpecker and Drone pass them, and the one-line errors for bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugin.errors import SettingsError
from plugin.settings import CiMetadata, Settings, image_tags, load_ci_metadata, load_settings

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
        (
            {"PLUGIN_COMPRESSION_LEVEL": "fast"},
            "PLUGIN_COMPRESSION_LEVEL 'fast': use a whole number: gzip level from 1 (fastest) to 9 (smallest)",
        ),
        ({"PLUGIN_MANIFEST_FORMAT": "v1"}, "PLUGIN_MANIFEST_FORMAT 'v1': oci (an OCI index) or docker"),
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


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"PLUGIN_FILES": '{"conf": "etc/app"}'}, "PLUGIN_FILES 'etc/app': use an absolute path"),
        ({"PLUGIN_FILES": '{"conf": "/etc/../../root"}'}, "PLUGIN_FILES '/etc/../../root': use an absolute path"),
        ({"PLUGIN_FILES": '{"conf-{cpu}": "/etc/app"}'}, "PLUGIN_FILES 'conf-{cpu}': unknown placeholder"),
        ({"PLUGIN_FILES": '{" ": "/etc/app"}'}, "PLUGIN_FILES ' ': give a source path"),
        ({"PLUGIN_AUTO_TAG_SUFFIX": "alpine+3"}, "PLUGIN_AUTO_TAG_SUFFIX 'alpine+3': use only letters"),
        ({"PLUGIN_TAG_PLUS_REPLACEMENT": "/"}, "PLUGIN_TAG_PLUS_REPLACEMENT '/': use only letters"),
        (
            {"PLUGIN_TAGS": "1.2.3+b.5,1.2.3-b.5", "PLUGIN_TAG_PLUS_REPLACEMENT": "-"},
            "PLUGIN_TAG_PLUS_REPLACEMENT '-': tags '1.2.3+b.5' (PLUGIN_TAGS) and '1.2.3-b.5' (PLUGIN_TAGS) both become",
        ),
        ({"PLUGIN_BUILD_PARALLEL": "sometimes"}, "PLUGIN_BUILD_PARALLEL 'sometimes': use true or false"),
    ],
)
def test_invalid_new_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], expected: str
) -> None:
    message = error_from(monkeypatch, **values)
    assert message.startswith(expected)
    assert "\n" not in message


def test_plus_in_tag_error_suggests_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    message = error_from(monkeypatch, PLUGIN_TAGS="1.2.3+build")
    assert "PLUGIN_TAG_PLUS_REPLACEMENT" in message


def test_files_alone_need_no_artifact(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, PLUGIN_ARTIFACT="", PLUGIN_FILES='{"site": "/srv/www"}')
    assert settings.files == {"site": "/srv/www"}


def test_ci_metadata_prefers_woodpecker_then_drone() -> None:
    woodpecker_and_drone = {
        "CI_COMMIT_TAG": "",
        "DRONE_TAG": "v2.0.0",
        "CI_COMMIT_SHA": "aaaa",
        "DRONE_COMMIT_SHA": "bbbb",
        "CI_REPO_LINK": "https://old.example.org/app",
        "DRONE_REPO_LINK": "https://drone.example.org/app",
        "DRONE_GIT_HTTP_URL": "https://drone.example.org/app.git",
    }
    ci = load_ci_metadata(woodpecker_and_drone)
    assert ci == CiMetadata(
        commit_tag="v2.0.0",
        commit_tag_variable="DRONE_TAG",
        commit_sha="aaaa",
        repository_url="https://old.example.org/app",
        clone_url="https://drone.example.org/app.git",
    )


def tags_for(monkeypatch: pytest.MonkeyPatch, commit_tag: str, **values: str) -> list[str]:
    settings = settings_from(monkeypatch, PLUGIN_AUTO_TAG="true", **values)
    return image_tags(settings, load_ci_metadata({"CI_COMMIT_TAG": commit_tag}))


def test_auto_tag_replaces_default_latest(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tags_for(monkeypatch, "v1.2.3") == ["1.2.3", "1.2", "1", "latest"]
    assert tags_for(monkeypatch, "v1.3.0-rc.1") == ["1.3.0-rc.1"]


def test_auto_tag_keeps_explicit_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tags_for(monkeypatch, "v1.3.0-rc.1", PLUGIN_TAGS="edge,1.3.0-rc.1") == ["1.3.0-rc.1", "edge"]


def test_auto_tag_without_commit_tag_uses_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tags_for(monkeypatch, "") == ["latest"]


def test_auto_tag_replaces_plus(monkeypatch: pytest.MonkeyPatch) -> None:
    tags = tags_for(monkeypatch, "v1.2.3+build.5", PLUGIN_TAG_PLUS_REPLACEMENT="-", PLUGIN_AUTO_TAG_SUFFIX="slim")
    assert tags == ["1.2.3-build.5-slim"]


def test_auto_tag_plus_without_replacement_names_commit_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        tags_for(monkeypatch, "v1.2.3+build.5")
    assert str(caught.value).startswith("CI_COMMIT_TAG 'v1.2.3+build.5': gives the tag '1.2.3+build.5', but a tag is")


def test_auto_tag_collision_with_explicit_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        tags_for(monkeypatch, "v1.2.3+b", PLUGIN_TAGS="1.2.3-b", PLUGIN_TAG_PLUS_REPLACEMENT="-")
    message = str(caught.value)
    assert message.startswith("PLUGIN_TAG_PLUS_REPLACEMENT '-': tags '1.2.3+b' (CI_COMMIT_TAG)")
    assert "'1.2.3-b' (PLUGIN_TAGS) both become '1.2.3-b'" in message


def test_auto_tag_rejects_tag_that_is_not_semver(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        tags_for(monkeypatch, "nightly")
    assert str(caught.value).startswith("CI_COMMIT_TAG 'nightly': PLUGIN_AUTO_TAG needs a semantic version")


def test_auto_tag_off_ignores_commit_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, PLUGIN_TAGS="main")
    assert image_tags(settings, load_ci_metadata({"CI_COMMIT_TAG": "v9.9.9"})) == ["main"]


def test_base_defaults_to_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from(monkeypatch).base == "scratch"
    assert settings_from(monkeypatch, PLUGIN_BASE="").base == "scratch"


def test_archive_replaces_the_artifact(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, PLUGIN_ARTIFACT="", PLUGIN_ARCHIVE="dist/image-{os}-{arch}.tar")
    assert settings.archive == "dist/image-{os}-{arch}.tar"


def test_fan_in_accepts_tags_digests_and_names(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = "sha256:" + "a" * 64
    settings = settings_from(
        monkeypatch,
        PLUGIN_REPO="registry.example.org/app",
        PLUGIN_ARTIFACT="",
        PLUGIN_FAN_IN=f'["amd64", "{digest}", "app-arm64@{digest}"]',
    )
    assert settings.fan_in == ["amd64", digest, f"app-arm64@{digest}"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"PLUGIN_BASE": "Alpine:3"}, "PLUGIN_BASE 'Alpine:3': a repository is"),
        ({"PLUGIN_BASE": "alpine@sha256:12"}, "PLUGIN_BASE 'alpine@sha256:12': 'sha256:12' is not a digest"),
        ({"PLUGIN_ARCHIVE": "dist/{name}.tar"}, "PLUGIN_ARCHIVE 'dist/{name}.tar': unknown placeholder"),
        ({"PLUGIN_ARCHIVE": "a.tar", "PLUGIN_ARCHIVES": '{"linux/amd64": "a.tar"}'}, "PLUGIN_ARCHIVES: set"),
        ({"PLUGIN_ARCHIVE": "a.tar", "PLUGIN_BASE": "alpine"}, "PLUGIN_BASE 'alpine': an image archive"),
        (
            {"PLUGIN_ARTIFACT": "", "PLUGIN_ARCHIVES": '{"linux/amd64": "a.tar"}'},
            "PLUGIN_ARCHIVES: no path given for linux/arm64",
        ),
        (
            {"PLUGIN_ARTIFACT": "", "PLUGIN_ARCHIVES": '{"linux/amd64": "a.tar", "linux/sparc": "b.tar"}'},
            "PLUGIN_ARCHIVES 'linux/sparc': architecture 'sparc'",
        ),
        ({"PLUGIN_FAN_IN": "amd64"}, "PLUGIN_FAN_IN: builds nothing, so it cannot be combined with PLUGIN_ARTIFACT"),
        ({"PLUGIN_ARTIFACT": "", "PLUGIN_FAN_IN": "amd64"}, "PLUGIN_FAN_IN: reads images from a registry"),
        (
            {"PLUGIN_ARTIFACT": "", "PLUGIN_REGISTRY": "registry.example.org", "PLUGIN_FAN_IN": "other.org/app:1"},
            "PLUGIN_FAN_IN 'other.org/app:1': 'other.org/app:1' is on another registry",
        ),
        ({"PLUGIN_BASE_INSECURE": "sometimes"}, "PLUGIN_BASE_INSECURE 'sometimes': use true or false"),
    ],
)
def test_invalid_input_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], expected: str
) -> None:
    message = error_from(monkeypatch, **values)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_base_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, PLUGIN_BASE_PASSWORD="base-s3cr3t")
    assert "base-s3cr3t" not in repr(settings)


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
