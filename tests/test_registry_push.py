"""End-to-end pushes to registries with Docker Hub's rules: token authentication with every way of giving a
login, cross-repository mounts, chunked uploads, and a proxy with a body size limit. skopeo checks each result.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import TOKEN_REGISTRY_CREDENTIALS, PlumeRun, run_plume
from tests.rig.body_limit import BodyLimitProxy
from tests.rig.clients import Skopeo
from tests.rig.registry import Credentials, Registry
from tests.rig.tokens import TokenServer
from tests.test_main_job import TAG, ExpectedError, assert_one_error_line, image_settings

INDEX_AND_BLOBS = 13  # one index, four manifests, four configs and four layers


def assert_pullable(skopeo: Skopeo, reference: str, layout: Path, credentials: Credentials | None = None) -> None:
    """Copy every platform with skopeo, which checks each digest, and check the files it wrote."""
    skopeo.copy_all(reference, layout, "copied", credentials)
    blobs = list((layout / "blobs" / "sha256").iterdir())
    assert len(blobs) == INDEX_AND_BLOBS, sorted(blob.name for blob in blobs)
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def assert_no_secret(run: PlumeRun, secret: str) -> None:
    assert secret not in run.stdout
    assert secret not in run.stderr


def docker_config_document(registry: Registry, credentials: Credentials) -> dict[str, object]:
    """A config.json as `docker login` writes it, with a Docker Hub entry that must not be used here."""
    auth = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    decoy = base64.b64encode(b"someone-else:not-this-password").decode()
    return {"auths": {"https://index.docker.io/v1/": {"auth": decoy}, registry.host: {"auth": auth}}}


def login_settings(how: str, registry: Registry, credentials: Credentials, work_dir: Path) -> dict[str, str]:
    """The settings that give plume the login one way: username and password, logins, or a config.json."""
    if how == "username_and_password":
        return {"PLUGIN_USERNAME": credentials.username, "PLUGIN_PASSWORD": credentials.password}
    if how == "logins":
        logins = [
            {"registry": "https://index.docker.io/v1/", "username": "someone-else", "password": "not-this-password"},
            {"registry": registry.host, "username": credentials.username, "password": credentials.password},
        ]
        return {"PLUGIN_LOGINS": json.dumps(logins)}
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "config.json").write_text(json.dumps(docker_config_document(registry, credentials)))
    if how == "docker_config":
        return {"PLUGIN_DOCKER_CONFIG": str(work_dir / "config.json")}
    return {"DOCKER_CONFIG": str(work_dir)}


LOGIN_SOURCES = {
    "username_and_password": "PLUGIN_USERNAME and PLUGIN_PASSWORD",
    "logins": "PLUGIN_LOGINS",
    "docker_config": "PLUGIN_DOCKER_CONFIG",
    "docker_config_directory": "DOCKER_CONFIG",
}


@pytest.mark.parametrize("how", list(LOGIN_SOURCES))
def test_token_auth_push_with_each_login(
    how: str, go_project: Path, token_registry: Registry, token_server: TokenServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    credentials = TOKEN_REGISTRY_CREDENTIALS
    name = f"hub/{how.replace('_', '-')}"
    settings = image_settings(f"{token_registry.host}/{name}")
    settings.update(login_settings(how, token_registry, credentials, tmp_path / "docker"))
    requests_before = len(token_server.requests_for(credentials.username))

    run = run_plume(settings, go_project)

    assert run.exit_code == 0, run.describe()
    assert f"logged in with the credentials from {LOGIN_SOURCES[how]}" in run.stdout
    assert_no_secret(run, credentials.password)
    token_scopes = [request.scopes for request in token_server.requests_for(credentials.username)[requests_before:]]
    assert token_scopes == [(f"repository:{name}:pull,push",)], "one token, cached for the whole push"
    assert_pullable(skopeo, f"{token_registry.host}/{name}:{TAG}", tmp_path / "layout", credentials)


def test_wrong_login_in_logins_fails_without_leaking_it(go_project: Path, token_registry: Registry) -> None:
    wrong = Credentials(TOKEN_REGISTRY_CREDENTIALS.username, "dckr_pat_Wrong-5f0c")
    settings = image_settings(f"{token_registry.host}/hub/denied")
    settings["PLUGIN_LOGINS"] = json.dumps(
        [{"registry": token_registry.host, "username": wrong.username, "password": wrong.password}]
    )
    catalog_before = token_registry.catalog()

    run = run_plume(settings, go_project)

    assert_one_error_line(run, ExpectedError("PLUGIN_LOGINS", "refused", exit_code=1))
    assert_no_secret(run, wrong.password)
    assert token_registry.catalog() == catalog_before


def test_mount_from_another_repository(
    go_project: Path, token_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    credentials = TOKEN_REGISTRY_CREDENTIALS
    base = run_plume(image_settings(f"{token_registry.host}/hub/base", credentials), go_project)
    assert base.exit_code == 0, base.describe()
    settings = image_settings(f"{token_registry.host}/hub/mounted", credentials)
    settings["PLUGIN_MOUNT_FROM"] = f"{token_registry.host}/hub/base"

    run = run_plume(settings, go_project)

    assert run.exit_code == 0, run.describe()
    assert run.stdout.count("mounted into") == 8, run.describe()
    assert "0 blobs uploaded (0 B), 0 already there, 8 mounted from another repository" in run.stdout
    assert token_registry.request_count("PUT", "/v2/hub/mounted/blobs/uploads/") == 0
    assert token_registry.request_count("POST", r"/v2/hub/mounted/blobs/uploads/\?mount=") == 8
    assert_pullable(skopeo, f"{token_registry.host}/hub/mounted:{TAG}", tmp_path / "layout", credentials)


def test_chunked_push(go_project: Path, open_registry: Registry, skopeo: Skopeo, tmp_path: Path) -> None:
    settings = image_settings(f"{open_registry.host}/chunked/hello")
    settings["PLUGIN_CHUNK_SIZE"] = "128KiB"

    run = run_plume(settings, go_project)

    assert run.exit_code == 0, run.describe()
    # Each layer is 500 to 560 KiB: five chunks of at most 128 KiB.
    assert open_registry.request_count("PATCH", "/v2/chunked/hello/blobs/uploads/") == 4 * 5
    assert_pullable(skopeo, f"{open_registry.host}/chunked/hello:{TAG}", tmp_path / "layout")


def test_push_through_a_proxy_with_a_body_limit(
    go_project: Path, open_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    limited = BodyLimitProxy(tmp_path / "nginx", open_registry.port, max_body="200k")
    try:
        run = run_plume(image_settings(f"{limited.host}/limited/hello"), go_project)
    finally:
        limited.stop()

    assert run.exit_code == 0, run.describe()
    assert "as too large (413); sending chunks of" in run.stderr
    assert_pullable(skopeo, f"{open_registry.host}/limited/hello:{TAG}", tmp_path / "layout")


def identity_token_config(work_dir: Path, registry: Registry) -> str:
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "config.json"
    path.write_text(json.dumps({"auths": {registry.host: {"identitytoken": "Identity-secret-3a9d"}}}))
    return str(path)


BAD_PUBLISHING_SETTINGS = {
    "chunk_size_too_small": ({"PLUGIN_CHUNK_SIZE": "1000"}, "PLUGIN_CHUNK_SIZE", "'1000'"),
    "timeout_zero": ({"PLUGIN_TIMEOUT": "0"}, "PLUGIN_TIMEOUT", "'0'"),
    "logins_not_json": ({"PLUGIN_LOGINS": "[{registry: x}"}, "PLUGIN_LOGINS", "not valid JSON"),
    "mount_from_other_registry": ({"PLUGIN_MOUNT_FROM": "ghcr.io/me/base"}, "PLUGIN_MOUNT_FROM", "ghcr.io/me/base"),
    "docker_config_missing": ({"PLUGIN_DOCKER_CONFIG": "/nonexistent/config.json"}, "PLUGIN_DOCKER_CONFIG", "cannot"),
}


@pytest.mark.parametrize("case", [*BAD_PUBLISHING_SETTINGS, "docker_config_identity_token"])
def test_invalid_login_or_upload_setting_publishes_nothing(
    case: str, go_project: Path, open_registry: Registry, tmp_path: Path
) -> None:
    settings = image_settings(f"{open_registry.host}/rejected/settings")
    if case == "docker_config_identity_token":
        settings["PLUGIN_DOCKER_CONFIG"] = identity_token_config(tmp_path, open_registry)
        expected = ExpectedError("PLUGIN_DOCKER_CONFIG", "identity token", exit_code=2)
    else:
        overrides, variable, value = BAD_PUBLISHING_SETTINGS[case]
        settings.update(overrides)
        expected = ExpectedError(variable, value, exit_code=2)
    catalog_before = open_registry.catalog()

    run = run_plume(settings, go_project)

    assert_one_error_line(run, expected)
    assert_no_secret(run, "Identity-secret-3a9d")
    assert open_registry.catalog() == catalog_before
