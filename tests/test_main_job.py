"""End-to-end tests of plume's main job: pack one Go binary per platform into a multi-platform image,
publish it, then pull it back with skopeo and umoci and run each platform's binary, as a user would.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PlumeRun, StaticServer, run_plume
from tests.rig.clients import Platform, Skopeo, pull_and_run
from tests.rig.goapp import ARTIFACT_TEMPLATE, GO_TARGETS, GoTarget
from tests.rig.processes import LOOPBACK, free_port
from tests.rig.registry import Credentials, Registry

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PLATFORMS_SETTING = ",".join(target.platform for target in GO_TARGETS)
# The platforms the index must list. An arm64 image carries variant v8 even when the user writes linux/arm64.
EXPECTED_INDEX_PLATFORMS = {
    ("linux", "amd64", ""),
    ("linux", "arm64", "v8"),
    ("linux", "arm", "v7"),
    ("linux", "386", ""),
}
# The platform skopeo selects for each target, in the index's own terms.
PULL_PLATFORMS = {
    "linux/amd64": Platform("linux", "amd64"),
    "linux/arm64": Platform("linux", "arm64", "v8"),
    "linux/arm/v7": Platform("linux", "arm", "v7"),
    "linux/386": Platform("linux", "386"),
}
SOURCE_DATE_EPOCH = "1700000000"
SOURCE_DATE = "2023-11-14T22:13:20Z"
TAG = "latest"
# Counts such as "0 blobs uploaded" or "uploaded 0 blobs" in plume's summary.
NO_BLOB_UPLOADED = re.compile(r"\b(0|no) (new )?(blobs?|layers?)\b[^\n]*\buploaded|\buploaded:? (0|no)\b")


def image_settings(repo: str, credentials: Credentials | None = None) -> dict[str, str]:
    """Return the step settings that publish the four-platform Go image as `repo`."""
    settings = {
        "PLUGIN_REPO": repo,
        "PLUGIN_TAGS": TAG,
        "PLUGIN_PLATFORMS": PLATFORMS_SETTING,
        "PLUGIN_ARTIFACT": ARTIFACT_TEMPLATE,
        "PLUGIN_INSECURE": "true",
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
    }
    if credentials is not None:
        settings["PLUGIN_USERNAME"] = credentials.username
        settings["PLUGIN_PASSWORD"] = credentials.password
    return settings


def index_platforms(index: dict[str, object]) -> list[tuple[str, str, str]]:
    manifests = index["manifests"]
    assert isinstance(manifests, list)
    return [
        (entry["platform"]["os"], entry["platform"]["architecture"], entry["platform"].get("variant", ""))
        for entry in manifests
    ]


@dataclass(frozen=True)
class PublishedImage:
    """An image plume published, and how a client reaches it."""

    repository: str  # HOST:PORT/NAME
    credentials: Credentials | None

    @property
    def reference(self) -> str:
        return f"{self.repository}:{TAG}"


def publish_to_registry(registry: Registry, name: str, cwd: Path) -> PublishedImage:
    repo = f"{registry.host}/{name}"
    run = run_plume(image_settings(repo, registry.credentials), cwd)
    assert run.exit_code == 0, run.describe()
    return PublishedImage(repo, registry.credentials)


@pytest.fixture(scope="module")
def static_server(go_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticServer]:
    """The image written as a static registry directory (a repository with no host), served by `plume serve`."""
    static_dir = tmp_path_factory.mktemp("static-registry")
    settings = image_settings("e2e/hello")
    del settings["PLUGIN_INSECURE"]
    settings["PLUGIN_STATIC_DIR"] = str(static_dir)
    run = run_plume(settings, go_project)
    assert run.exit_code == 0, run.describe()

    server = StaticServer(static_dir, tmp_path_factory.mktemp("plume-serve") / "serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["registry", "registry_basic_auth", "static_directory"])
def published_image(
    request: pytest.FixtureRequest,
    go_project: Path,
    open_registry: Registry,
    auth_registry: Registry,
) -> PublishedImage:
    """The Go image published once per destination kind and module."""
    if request.param == "registry":
        return publish_to_registry(open_registry, "e2e/hello", go_project)
    if request.param == "registry_basic_auth":
        return publish_to_registry(auth_registry, "e2e/hello", go_project)
    server: StaticServer = request.getfixturevalue("static_server")
    return PublishedImage(f"{server.host}/e2e/hello", None)


def test_tag_names_oci_index_of_four_platforms(published_image: PublishedImage, skopeo: Skopeo) -> None:
    index = skopeo.raw_manifest(published_image.reference, published_image.credentials)

    assert index["mediaType"] == OCI_INDEX
    platforms = index_platforms(index)
    assert len(platforms) == len(EXPECTED_INDEX_PLATFORMS), platforms
    assert set(platforms) == EXPECTED_INDEX_PLATFORMS
    assert {entry["mediaType"] for entry in index["manifests"]} == {OCI_MANIFEST}


def test_static_directory_has_pull_layout(static_server: StaticServer, skopeo: Skopeo) -> None:
    repository_dir = static_server.static_dir / "v2" / "e2e" / "hello"
    index_digest = skopeo.raw_manifest_digest(f"{static_server.host}/e2e/hello:{TAG}")

    assert (static_server.static_dir / "v2" / "index.html").is_file()
    assert (repository_dir / "manifests" / TAG).is_file()
    assert (repository_dir / "manifests" / index_digest).is_file()
    assert (repository_dir / "tags" / "list").is_file()
    blob_names = sorted(path.name for path in (repository_dir / "blobs").iterdir())
    # Four configs and four layers.
    assert len(blob_names) == 8, blob_names
    for name in blob_names:
        assert name.startswith("sha256:"), name
        assert hashlib.sha256((repository_dir / "blobs" / name).read_bytes()).hexdigest() == name[len("sha256:"):]


def test_tags_list_names_the_tag(published_image: PublishedImage, skopeo: Skopeo) -> None:
    tags = skopeo.list_tags(published_image.repository, published_image.credentials)

    assert tags == [TAG]


def test_copy_all_verifies_every_blob(published_image: PublishedImage, skopeo: Skopeo, tmp_path: Path) -> None:
    layout = tmp_path / "layout"

    skopeo.copy_all(published_image.reference, layout, "copied", published_image.credentials)

    blobs = list((layout / "blobs" / "sha256").iterdir())
    # One index, four manifests, four configs and four layers.
    assert len(blobs) == 13, sorted(blob.name for blob in blobs)
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


@pytest.mark.parametrize("target", GO_TARGETS, ids=[target.file_name for target in GO_TARGETS])
def test_pulled_platform_runs_its_binary(
    published_image: PublishedImage, target: GoTarget, skopeo: Skopeo, tmp_path: Path
) -> None:
    output = pull_and_run(
        skopeo,
        published_image.reference,
        PULL_PLATFORMS[target.platform],
        tmp_path,
        credentials=published_image.credentials,
    )

    assert output.strip() == target.greeting


@pytest.mark.parametrize("target", GO_TARGETS, ids=[target.file_name for target in GO_TARGETS])
def test_platform_config_starts_the_binary(
    published_image: PublishedImage, target: GoTarget, skopeo: Skopeo
) -> None:
    platform = PULL_PLATFORMS[target.platform]

    config = skopeo.image_config(published_image.reference, platform, published_image.credentials)

    assert config["os"] == platform.os
    assert config["architecture"] == platform.architecture
    assert config.get("variant", "") == platform.variant
    assert config["config"]["Entrypoint"] == ["/app"]
    assert config["created"] == SOURCE_DATE


def test_second_run_uploads_nothing(
    go_project: Path, open_registry: Registry, skopeo: Skopeo
) -> None:
    name = "e2e/again"
    reference = f"{open_registry.host}/{name}:{TAG}"
    settings = image_settings(f"{open_registry.host}/{name}")

    first = run_plume(settings, go_project)
    assert first.exit_code == 0, first.describe()
    first_digest = skopeo.raw_manifest_digest(reference)
    uploads_after_first = open_registry.blob_upload_count(name)
    assert uploads_after_first > 0, "the registry log shows no upload of the first run"
    assert not NO_BLOB_UPLOADED.search(first.output), first.describe()

    log_offset = len(open_registry.log_text())
    second = run_plume(settings, go_project)
    assert second.exit_code == 0, second.describe()
    question = rf'"(?:HEAD|GET) /v2/{name}/(?:manifests|blobs)/([^ ?"]+)'
    questions = Counter(re.findall(question, open_registry.log_text()[log_offset:]))
    assert questions, "the second run read nothing from the registry"
    assert max(questions.values()) == 1, f"asked more than once: {questions}"

    assert skopeo.raw_manifest_digest(reference) == first_digest
    assert open_registry.blob_upload_count(name) == uploads_after_first
    assert NO_BLOB_UPLOADED.search(second.output), second.describe()


@dataclass(frozen=True)
class ExpectedError:
    """The error a user should get for a wrong setting or file."""

    variable: str  # what the error line must name: the PLUGIN_ variable, or the registry's host
    value: str  # the value the error line must show
    exit_code: int | None  # None: any non-zero code


def copy_dist_without(go_project: Path, missing: GoTarget, work_dir: Path) -> Path:
    """Return a project folder whose dist/ lacks one platform's binary."""
    dist = work_dir / "dist"
    dist.mkdir(parents=True)
    for target in GO_TARGETS:
        if target != missing:
            shutil.copy2(go_project / "dist" / target.file_name, dist / target.file_name)
    return work_dir


def assert_one_error_line(run: PlumeRun, expected: ExpectedError) -> None:
    assert run.exit_code != 0, run.describe()
    if expected.exit_code is not None:
        assert run.exit_code == expected.exit_code, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    error_lines = run.error_lines()
    assert len(error_lines) == 1, run.describe()
    assert expected.variable in error_lines[0], run.describe()
    assert expected.value in error_lines[0], run.describe()


BAD_SETTINGS = {
    "unknown_platform": ({"PLUGIN_PLATFORMS": "linux/amd64,linux/sparc"}, "PLUGIN_PLATFORMS", "linux/sparc"),
    "tag_with_plus": ({"PLUGIN_TAGS": "latest,1.0.0+build.7"}, "PLUGIN_TAGS", "1.0.0+build.7"),
    "tag_of_129_characters": ({"PLUGIN_TAGS": "v" * 129}, "PLUGIN_TAGS", "v" * 129),
    "repository_with_upper_case": ({"PLUGIN_REPO": "{host}/e2e/Hello"}, "PLUGIN_REPO", "e2e/Hello"),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_invalid_setting_publishes_nothing(
    case: str, go_project: Path, open_registry: Registry
) -> None:
    overrides, variable, value = BAD_SETTINGS[case]
    settings = image_settings(f"{open_registry.host}/e2e/rejected")
    settings.update({key: text.format(host=open_registry.host) for key, text in overrides.items()})
    catalog_before = open_registry.catalog()

    run = run_plume(settings, go_project)

    assert_one_error_line(run, ExpectedError(variable, value, exit_code=2))
    assert open_registry.catalog() == catalog_before


def test_missing_binary_publishes_nothing(go_project: Path, open_registry: Registry, tmp_path: Path) -> None:
    missing = GO_TARGETS[-1]
    project = copy_dist_without(go_project, missing, tmp_path)
    settings = image_settings(f"{open_registry.host}/e2e/incomplete")
    catalog_before = open_registry.catalog()

    run = run_plume(settings, project)

    expected = ExpectedError("PLUGIN_ARTIFACT", f"dist/{missing.file_name}", exit_code=None)
    assert_one_error_line(run, expected)
    assert open_registry.catalog() == catalog_before


def test_missing_binary_found_before_any_request(go_project: Path, tmp_path: Path) -> None:
    missing = GO_TARGETS[0]
    project = copy_dist_without(go_project, missing, tmp_path)
    settings = image_settings(f"{LOOPBACK}:{free_port()}/e2e/hello")

    run = run_plume(settings, project)

    assert_one_error_line(run, ExpectedError("PLUGIN_ARTIFACT", f"dist/{missing.file_name}", exit_code=1))
    assert "warning:" not in run.stderr, "no request was tried, so none was retried"


def test_unreachable_registry_fails(go_project: Path) -> None:
    host = f"{LOOPBACK}:{free_port()}"
    settings = image_settings(f"{host}/e2e/hello")

    run = run_plume(settings, go_project)

    assert_one_error_line(run, ExpectedError(host, host, exit_code=1))


def test_wrong_password_fails_without_leaking_it(go_project: Path, auth_registry: Registry) -> None:
    assert auth_registry.credentials is not None
    wrong = Credentials(auth_registry.credentials.username, "Wrong-password-9c0e")
    settings = image_settings(f"{auth_registry.host}/e2e/denied", wrong)
    catalog_before = auth_registry.catalog()

    run = run_plume(settings, go_project)

    assert_one_error_line(run, ExpectedError(auth_registry.host, auth_registry.host, exit_code=1))
    assert wrong.password not in run.stdout
    assert wrong.password not in run.stderr
    assert auth_registry.catalog() == catalog_before


def test_rejected_push_reports_one_error(go_project: Path, read_only_registry: Registry) -> None:
    settings = image_settings(f"{read_only_registry.host}/e2e/hello")

    run = run_plume(settings, go_project)

    host = read_only_registry.host
    assert_one_error_line(run, ExpectedError(host, host, exit_code=1))
    assert read_only_registry.catalog() == []


def test_failed_destination_does_not_stop_the_others(
    go_project: Path, read_only_registry: Registry, tmp_path: Path, skopeo: Skopeo
) -> None:
    static_dir = tmp_path / "static"
    settings = {**image_settings(f"{read_only_registry.host}/e2e/hello"), "PLUGIN_STATIC_DIR": str(static_dir)}

    run = run_plume(settings, go_project)

    host = read_only_registry.host
    assert_one_error_line(run, ExpectedError(host, host, exit_code=1))
    assert read_only_registry.catalog() == []
    server = StaticServer(static_dir, tmp_path / "serve.log")
    try:
        assert skopeo.list_tags(f"{server.host}/e2e/hello") == [TAG]
        skopeo.copy_all(f"{server.host}/e2e/hello:{TAG}", tmp_path / "pulled", TAG)
    finally:
        server.stop()
