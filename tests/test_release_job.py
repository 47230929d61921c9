"""End to end: automatic tags from a release tag, and labels and annotations from CI metadata.

plume runs with the variables Woodpecker or Drone sets on a tag event; skopeo reads the tags, the index
and each platform's config back from the real registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_plume
from tests.rig.clients import Platform, Skopeo
from tests.rig.goapp import ARTIFACT_TEMPLATE
from tests.rig.registry import Registry

SOURCE_DATE_EPOCH = "1700000000"
SOURCE_DATE = "2023-11-14T22:13:20Z"
COMMIT_SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8"
REPOSITORY_URL = "https://codeberg.org/example/hello"
CLONE_URL = "https://codeberg.org/example/hello.git"
PLATFORMS = {"linux/amd64": Platform("linux", "amd64"), "linux/arm64": Platform("linux", "arm64", "v8")}


@pytest.fixture
def fresh_registry(tmp_path: Path) -> Iterator[Registry]:
    """A registry of its own, so that its tag list and catalog show only what one run pushed."""
    registry = Registry(tmp_path / "registry-fresh")
    yield registry
    registry.stop()


def release_settings(repo: str, **values: str) -> dict[str, str]:
    """The settings of a release step with `auto_tag`, before the CI variables of the event are added."""
    settings = {
        "PLUGIN_REPO": repo,
        "PLUGIN_INSECURE": "true",
        "PLUGIN_PLATFORMS": ",".join(PLATFORMS),
        "PLUGIN_ARTIFACT": ARTIFACT_TEMPLATE,
        "PLUGIN_AUTO_TAG": "true",
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
    }
    settings.update(values)
    return settings


def woodpecker_tag_event(tag: str) -> dict[str, str]:
    return {
        "CI": "woodpecker",
        "CI_COMMIT_TAG": tag,
        "CI_COMMIT_SHA": COMMIT_SHA,
        "CI_REPO_URL": REPOSITORY_URL,
        "CI_REPO_CLONE_URL": CLONE_URL,
    }


def drone_tag_event(tag: str) -> dict[str, str]:
    return {
        "DRONE": "true",
        "DRONE_TAG": tag,
        "DRONE_COMMIT_SHA": COMMIT_SHA,
        "DRONE_REPO_LINK": REPOSITORY_URL,
        "DRONE_GIT_HTTP_URL": CLONE_URL,
    }


@pytest.fixture(scope="module")
def release_1_2_3(go_project: Path, open_registry: Registry) -> str:
    """The Go image published on the Woodpecker tag event v1.2.3, with a user label overriding one of plume's."""
    repository = f"{open_registry.host}/e2e/release"
    labels = {
        "org.opencontainers.image.url": "https://hello.example.org",
        "org.opencontainers.image.description": "Prints its platform",
    }
    settings = release_settings(repository, PLUGIN_LABELS=json.dumps(labels), **woodpecker_tag_event("v1.2.3"))
    run = run_plume(settings, go_project)
    assert run.exit_code == 0, run.describe()
    return repository


def test_release_has_four_tags(release_1_2_3: str, skopeo: Skopeo) -> None:
    assert sorted(skopeo.list_tags(release_1_2_3)) == ["1", "1.2", "1.2.3", "latest"]


def test_release_tags_name_one_index(release_1_2_3: str, skopeo: Skopeo) -> None:
    digests = {tag: skopeo.raw_manifest_digest(f"{release_1_2_3}:{tag}") for tag in ("1.2.3", "1.2", "1", "latest")}

    assert len(set(digests.values())) == 1, digests
    assert skopeo.raw_manifest(f"{release_1_2_3}:1")["mediaType"] == "application/vnd.oci.image.index.v1+json"


def test_index_annotations_carry_commit_and_source(release_1_2_3: str, skopeo: Skopeo) -> None:
    annotations = skopeo.raw_manifest(f"{release_1_2_3}:1.2.3")["annotations"]

    assert annotations["org.opencontainers.image.revision"] == COMMIT_SHA
    assert annotations["org.opencontainers.image.source"] == REPOSITORY_URL
    assert annotations["org.opencontainers.image.version"] == "1.2.3"
    assert annotations["org.opencontainers.image.created"] == SOURCE_DATE
    assert annotations["org.opencontainers.image.url"] == "https://hello.example.org"
    assert annotations["org.opencontainers.image.description"] == "Prints its platform"


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_config_labels_carry_commit_and_source(release_1_2_3: str, skopeo: Skopeo, platform: str) -> None:
    labels = skopeo.image_config(f"{release_1_2_3}:1.2.3", PLATFORMS[platform])["config"]["Labels"]

    assert labels["org.opencontainers.image.revision"] == COMMIT_SHA
    assert labels["org.opencontainers.image.source"] == REPOSITORY_URL
    assert labels["org.opencontainers.image.version"] == "1.2.3"
    assert labels["org.opencontainers.image.created"] == SOURCE_DATE
    assert labels["org.opencontainers.image.url"] == "https://hello.example.org"


def test_pre_release_gets_only_its_version(go_project: Path, fresh_registry: Registry, skopeo: Skopeo) -> None:
    repository = f"{fresh_registry.host}/e2e/release"
    settings = release_settings(repository, **drone_tag_event("v1.3.0-rc.1"))

    run = run_plume(settings, go_project)

    assert run.exit_code == 0, run.describe()
    assert skopeo.list_tags(repository) == ["1.3.0-rc.1"]
    annotations = skopeo.raw_manifest(f"{repository}:1.3.0-rc.1")["annotations"]
    assert annotations["org.opencontainers.image.revision"] == COMMIT_SHA
    assert annotations["org.opencontainers.image.version"] == "1.3.0-rc.1"


def test_build_metadata_needs_replacement(go_project: Path, fresh_registry: Registry, skopeo: Skopeo) -> None:
    repository = f"{fresh_registry.host}/e2e/release"
    settings = release_settings(repository, **woodpecker_tag_event("v2.0.0+build.7"))

    rejected = run_plume(settings, go_project)
    catalog_after_rejected = fresh_registry.catalog()
    settings["PLUGIN_TAG_PLUS_REPLACEMENT"] = "-"
    accepted = run_plume(settings, go_project)

    assert rejected.exit_code == 2, rejected.describe()
    assert len(rejected.error_lines()) == 1, rejected.describe()
    assert "CI_COMMIT_TAG 'v2.0.0+build.7'" in rejected.error_lines()[0]
    assert "PLUGIN_TAG_PLUS_REPLACEMENT" in rejected.error_lines()[0]
    assert catalog_after_rejected == []
    assert accepted.exit_code == 0, accepted.describe()
    assert skopeo.list_tags(repository) == ["2.0.0-build.7"]


def test_auto_labels_off_leaves_index_bare(go_project: Path, fresh_registry: Registry, skopeo: Skopeo) -> None:
    repository = f"{fresh_registry.host}/e2e/plain"
    settings = release_settings(repository, PLUGIN_AUTO_LABELS="false", **woodpecker_tag_event("v1.2.3"))

    run = run_plume(settings, go_project)

    assert run.exit_code == 0, run.describe()
    assert "annotations" not in skopeo.raw_manifest(f"{repository}:1.2.3")
    assert "Labels" not in skopeo.image_config(f"{repository}:1.2.3", PLATFORMS["linux/amd64"])["config"]
