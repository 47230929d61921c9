"""End-to-end tests of building on a base image: plume publishes a three-platform base with a file layer and
its own runtime settings, then puts the Go binary on top of it for each platform.

skopeo and umoci pull the results, and each platform's binary runs next to the base's file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_plume
from tests.rig.clients import Platform, Skopeo, pull_rootfs, run_binary
from tests.rig.goapp import ARTIFACT_TEMPLATE, GO_TARGETS, GoTarget
from tests.rig.registry import Credentials, Registry
from tests.test_main_job import PULL_PLATFORMS, SOURCE_DATE, ExpectedError, assert_one_error_line, index_platforms

BASE_TARGETS = [target for target in GO_TARGETS if target.platform != "linux/386"]
MISSING_TARGET = next(target for target in GO_TARGETS if target.platform == "linux/386")
BASE_FILE = "/etc/base-release"
BASE_ENTRYPOINT = ["/bin/base-init", "--"]
BASE_CMD = ["/bin/sh"]
BASE_ENV = {"GREETING": "from-base", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
BASE_LABELS = {"org.example.base": "yes", "org.example.owner": "base-team"}
BASE_WORKDIR = "/srv"
BASE_USER = "65534"
APP_ENV = {"GREETING": "from-app"}
APP_LABELS = {"org.example.owner": "app-team"}
WRONG_PASSWORD = "Wrong-base-password-4f1a"


def base_file_text(target: GoTarget) -> str:
    return f"base for {target.platform}\n"


@dataclass(frozen=True)
class BaseImage:
    """A base image published by plume, with what its config says."""

    reference: str  # HOST:PORT/NAME:TAG
    credentials: Credentials | None
    layer_digests: frozenset[str]


def publish_base(registry: Registry, name: str, tag: str, work_dir: Path, skopeo: Skopeo) -> BaseImage:
    """Publish the base: one layer per platform holding a text file, and runtime settings an app keeps."""
    for target in BASE_TARGETS:
        release = work_dir / "base" / f"release-{target.file_name}"
        release.parent.mkdir(parents=True, exist_ok=True)
        release.write_text(base_file_text(target))
    settings = {
        "PLUGIN_REPO": f"{registry.host}/{name}",
        "PLUGIN_TAGS": tag,
        "PLUGIN_PLATFORMS": ",".join(target.platform for target in BASE_TARGETS),
        "PLUGIN_ARTIFACT": "base/release-hello-{os}-{arch}{variant}",
        "PLUGIN_INSTALL_PATH": BASE_FILE,
        "PLUGIN_ENTRYPOINT": json.dumps(BASE_ENTRYPOINT),
        "PLUGIN_CMD": json.dumps(BASE_CMD),
        "PLUGIN_ENV": json.dumps(BASE_ENV),
        "PLUGIN_LABELS": json.dumps(BASE_LABELS),
        "PLUGIN_WORKDIR": BASE_WORKDIR,
        "PLUGIN_USER": BASE_USER,
        "PLUGIN_INSECURE": "true",
    }
    if registry.credentials is not None:
        settings["PLUGIN_USERNAME"] = registry.credentials.username
        settings["PLUGIN_PASSWORD"] = registry.credentials.password
    run = run_plume(settings, work_dir)
    assert run.exit_code == 0, run.describe()

    reference = f"{registry.host}/{name}:{tag}"
    layers: set[str] = set()
    index = skopeo.raw_manifest(reference, registry.credentials)
    for entry in index["manifests"]:
        manifest = skopeo.raw_manifest(f"{registry.host}/{name}@{entry['digest']}", registry.credentials)
        layers.update(layer["digest"] for layer in manifest["layers"])
    assert len(layers) == len(BASE_TARGETS), index
    return BaseImage(reference, registry.credentials, frozenset(layers))


def app_settings(repo: str, base: str, targets: list[GoTarget]) -> dict[str, str]:
    return {
        "PLUGIN_REPO": repo,
        "PLUGIN_PLATFORMS": ",".join(target.platform for target in targets),
        "PLUGIN_ARTIFACT": ARTIFACT_TEMPLATE,
        "PLUGIN_BASE": base,
        "PLUGIN_ENV": json.dumps(APP_ENV),
        "PLUGIN_LABELS": json.dumps(APP_LABELS),
        "PLUGIN_INSECURE": "true",
        "SOURCE_DATE_EPOCH": "1700000000",
    }


@pytest.fixture(scope="module")
def base_image(open_registry: Registry, skopeo: Skopeo, tmp_path_factory: pytest.TempPathFactory) -> BaseImage:
    return publish_base(open_registry, "e2e/base", "1", tmp_path_factory.mktemp("base"), skopeo)


@pytest.fixture(scope="module")
def app_reference(go_project: Path, open_registry: Registry, base_image: BaseImage) -> str:
    """The Go binary built on the base, published to another repository of the same registry."""
    repo = f"{open_registry.host}/e2e/on-base"
    run = run_plume(app_settings(repo, base_image.reference, BASE_TARGETS), go_project)
    assert run.exit_code == 0, run.describe()
    return f"{repo}:latest"


def test_index_lists_the_base_platforms(app_reference: str, skopeo: Skopeo) -> None:
    index = skopeo.raw_manifest(app_reference)

    assert set(index_platforms(index)) == {("linux", "amd64", ""), ("linux", "arm64", "v8"), ("linux", "arm", "v7")}


@pytest.mark.parametrize("target", BASE_TARGETS, ids=[target.file_name for target in BASE_TARGETS])
def test_binary_runs_beside_the_base_file(
    app_reference: str, target: GoTarget, skopeo: Skopeo, tmp_path: Path
) -> None:
    platform = PULL_PLATFORMS[target.platform]

    rootfs = pull_rootfs(skopeo, app_reference, platform, tmp_path)

    assert run_binary(rootfs / "app", platform.architecture).strip() == target.greeting
    assert (rootfs / BASE_FILE.lstrip("/")).read_text() == base_file_text(target)


def test_config_keeps_the_base_settings(app_reference: str, base_image: BaseImage, skopeo: Skopeo) -> None:
    platform = Platform("linux", "arm64", "v8")
    base_config = skopeo.image_config(base_image.reference, platform)

    config = skopeo.image_config(app_reference, platform)

    runtime = config["config"]
    base_diff_ids = base_config["rootfs"]["diff_ids"]
    assert config["rootfs"]["diff_ids"][: len(base_diff_ids)] == base_diff_ids
    assert len(config["rootfs"]["diff_ids"]) == len(base_diff_ids) + 1
    assert len(config["history"]) == len(base_config["history"]) + 1
    assert runtime["Env"] == ["GREETING=from-app", "PATH=/usr/bin:/bin", "LANG=C.UTF-8"]
    # The standard labels from CI metadata (here the creation time) join the base's and the step's.
    assert runtime["Labels"].items() >= {**BASE_LABELS, **APP_LABELS}.items()
    assert runtime["Entrypoint"] == BASE_ENTRYPOINT
    assert runtime["Cmd"] == BASE_CMD
    assert runtime["WorkingDir"] == BASE_WORKDIR
    assert runtime["User"] == BASE_USER
    assert config["created"] == SOURCE_DATE
    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm64", "v8")


def test_copy_all_verifies_every_blob(app_reference: str, skopeo: Skopeo, tmp_path: Path) -> None:
    layout = tmp_path / "layout"

    skopeo.copy_all(app_reference, layout, "copied")

    blobs = list((layout / "blobs" / "sha256").iterdir())
    # One index, and per platform a manifest, a config, the base's layer and the binary's layer.
    assert len(blobs) == 1 + 4 * len(BASE_TARGETS), sorted(blob.name for blob in blobs)
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def test_base_layers_mounted_within_one_registry(
    app_reference: str, base_image: BaseImage, open_registry: Registry
) -> None:
    committed = set(open_registry.committed_blob_digests("e2e/on-base"))
    linked = open_registry.linked_blobs("e2e/on-base")

    assert base_image.layer_digests <= linked, "the base's layers are in the app's repository"
    assert not base_image.layer_digests & committed, "and were mounted, not uploaded"


def test_base_layers_streamed_from_another_registry(
    go_project: Path, base_image: BaseImage, skopeo: Skopeo, tmp_path: Path
) -> None:
    destination = Registry(tmp_path / "second-registry")
    try:
        repo = f"{destination.host}/e2e/elsewhere"
        settings = {**app_settings(repo, base_image.reference, BASE_TARGETS), "PLUGIN_BASE_INSECURE": "true"}

        run = run_plume(settings, go_project)

        assert run.exit_code == 0, run.describe()
        assert base_image.layer_digests <= set(destination.committed_blob_digests("e2e/elsewhere"))
        skopeo.copy_all(f"{repo}:latest", tmp_path / "layout", "copied")
    finally:
        destination.stop()


def test_base_layers_not_uploaded_again(
    go_project: Path, open_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    name = "e2e/same-repository"
    base = publish_base(open_registry, name, "base", tmp_path / "base", skopeo)
    committed_before = open_registry.committed_blob_digests(name)
    settings = app_settings(f"{open_registry.host}/{name}", base.reference, BASE_TARGETS)
    settings["PLUGIN_ENTRYPOINT"] = "/app"

    run = run_plume(settings, go_project)

    assert run.exit_code == 0, run.describe()
    committed_now = open_registry.committed_blob_digests(name)[len(committed_before) :]
    assert not base.layer_digests & set(committed_now), run.describe()
    # Each platform's binary layer and config.
    assert len(committed_now) == 2 * len(BASE_TARGETS), run.describe()
    for digest in base.layer_digests:
        assert f"blob {digest.removeprefix('sha256:')[:12]} skipped" in run.stdout, run.describe()

    platform = PULL_PLATFORMS["linux/arm/v7"]
    rootfs = pull_rootfs(skopeo, f"{open_registry.host}/{name}:latest", platform, tmp_path / "pulled")
    assert run_binary(rootfs / "app", platform.architecture).strip() == "hello from plume on linux/arm/v7"
    config = skopeo.image_config(f"{open_registry.host}/{name}:latest", platform)
    assert config["config"]["Entrypoint"] == ["/app"]
    assert "Cmd" not in config["config"], "setting an entrypoint clears the base's cmd"


def test_base_missing_platform_fails(
    go_project: Path, open_registry: Registry, base_image: BaseImage
) -> None:
    targets = [*BASE_TARGETS, MISSING_TARGET]
    settings = app_settings(f"{open_registry.host}/e2e/base-incomplete", base_image.reference, targets)
    catalog_before = open_registry.catalog()

    run = run_plume(settings, go_project)

    assert_one_error_line(run, ExpectedError("PLUGIN_BASE", base_image.reference, exit_code=1))
    assert MISSING_TARGET.platform in run.error_lines()[0], run.describe()
    assert open_registry.catalog() == catalog_before


@pytest.fixture(scope="module")
def base_with_login(auth_registry: Registry, skopeo: Skopeo, tmp_path_factory: pytest.TempPathFactory) -> BaseImage:
    return publish_base(auth_registry, "e2e/private-base", "1", tmp_path_factory.mktemp("private-base"), skopeo)


def test_base_on_other_registry_with_login(
    go_project: Path, open_registry: Registry, base_with_login: BaseImage, skopeo: Skopeo, tmp_path: Path
) -> None:
    assert base_with_login.credentials is not None
    repo = f"{open_registry.host}/e2e/on-private-base"
    settings = {
        **app_settings(repo, base_with_login.reference, BASE_TARGETS),
        "PLUGIN_BASE_USERNAME": base_with_login.credentials.username,
        "PLUGIN_BASE_PASSWORD": base_with_login.credentials.password,
        "PLUGIN_BASE_INSECURE": "true",
    }

    run = run_plume(settings, go_project)

    assert run.exit_code == 0, run.describe()
    assert base_with_login.credentials.password not in run.output
    skopeo.copy_all(f"{repo}:latest", tmp_path / "layout", "copied")
    assert base_with_login.layer_digests <= set(open_registry.committed_blob_digests("e2e/on-private-base"))


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"PLUGIN_BASE_PASSWORD": WRONG_PASSWORD}, "PLUGIN_BASE_PASSWORD"),
        ({"PLUGIN_BASE_INSECURE": "false"}, "PLUGIN_BASE_INSECURE"),
    ],
    ids=["wrong_password", "plain_http_without_opt_in"],
)
def test_base_access_failure_names_the_setting(
    overrides: dict[str, str], named: str, go_project: Path, open_registry: Registry, base_with_login: BaseImage
) -> None:
    assert base_with_login.credentials is not None
    settings = {
        **app_settings(f"{open_registry.host}/e2e/base-denied", base_with_login.reference, BASE_TARGETS),
        "PLUGIN_BASE_USERNAME": base_with_login.credentials.username,
        "PLUGIN_BASE_PASSWORD": base_with_login.credentials.password,
        "PLUGIN_BASE_INSECURE": "true",
        **overrides,
    }
    catalog_before = open_registry.catalog()

    run = run_plume(settings, go_project)

    assert_one_error_line(run, ExpectedError("PLUGIN_BASE", base_with_login.reference, exit_code=1))
    assert named in run.error_lines()[0], run.describe()
    assert WRONG_PASSWORD not in run.output
    assert base_with_login.credentials.password not in run.output
    assert open_registry.catalog() == catalog_before
