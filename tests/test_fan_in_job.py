"""End-to-end tests of fan-in: two CI steps each push one platform, and a third step lists both under one tag.

The linux/amd64 child is a tag of the destination repository; the linux/arm64 child lives in another
repository of the same registry and is named by the digest of its image manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import run_plume
from tests.rig.clients import Skopeo, pull_and_run
from tests.rig.goapp import GO_TARGETS
from tests.rig.registry import Registry
from tests.test_main_job import (
    OCI_INDEX,
    OCI_MANIFEST,
    PULL_PLATFORMS,
    ExpectedError,
    assert_one_error_line,
    image_settings,
    index_platforms,
)

TARGETS = {target.platform: target for target in GO_TARGETS}
DESTINATION = "e2e/fan"
ARM64_REPOSITORY = "e2e/fan-arm64"


@dataclass(frozen=True)
class Children:
    """The single-platform images earlier steps pushed, and the fan-in items that name them."""

    amd64_manifest: str  # digest of the linux/amd64 image manifest
    arm64_manifest: str  # digest of the linux/arm64 image manifest
    arm64_layers: frozenset[str]
    items: tuple[str, str]


def push_single_platform(registry: Registry, repository: str, tag: str, platform: str, project: Path) -> None:
    settings = {**image_settings(f"{registry.host}/{repository}"), "PLUGIN_TAGS": tag, "PLUGIN_PLATFORMS": platform}
    run = run_plume(settings, project)
    assert run.exit_code == 0, run.describe()


@pytest.fixture(scope="module")
def children(go_project: Path, open_registry: Registry, skopeo: Skopeo) -> Children:
    push_single_platform(open_registry, DESTINATION, "amd64", "linux/amd64", go_project)
    push_single_platform(open_registry, ARM64_REPOSITORY, "ci-42", "linux/arm64", go_project)

    amd64_index = skopeo.raw_manifest(f"{open_registry.host}/{DESTINATION}:amd64")
    arm64_index = skopeo.raw_manifest(f"{open_registry.host}/{ARM64_REPOSITORY}:ci-42")
    arm64_manifest = arm64_index["manifests"][0]["digest"]
    arm64_image = skopeo.raw_manifest(f"{open_registry.host}/{ARM64_REPOSITORY}@{arm64_manifest}")
    return Children(
        amd64_manifest=amd64_index["manifests"][0]["digest"],
        arm64_manifest=arm64_manifest,
        arm64_layers=frozenset(layer["digest"] for layer in arm64_image["layers"]),
        items=("amd64", f"{ARM64_REPOSITORY}@{arm64_manifest}"),
    )


def fan_in_settings(registry: Registry, repository: str, items: list[str]) -> dict[str, str]:
    return {
        "PLUGIN_REPO": f"{registry.host}/{repository}",
        "PLUGIN_FAN_IN": json.dumps(items),
        "PLUGIN_INSECURE": "true",
    }


@pytest.fixture(scope="module")
def fan_in_reference(children: Children, open_registry: Registry) -> str:
    run = run_plume(fan_in_settings(open_registry, DESTINATION, list(children.items)), Path.cwd())
    assert run.exit_code == 0, run.describe()
    return f"{open_registry.host}/{DESTINATION}:latest"


def test_fan_in_lists_both_children(fan_in_reference: str, children: Children, skopeo: Skopeo) -> None:
    index = skopeo.raw_manifest(fan_in_reference)

    assert index["mediaType"] == OCI_INDEX
    assert set(index_platforms(index)) == {("linux", "amd64", ""), ("linux", "arm64", "v8")}
    digests = {entry["digest"] for entry in index["manifests"]}
    assert digests == {children.amd64_manifest, children.arm64_manifest}


def test_fan_in_tag_copies_with_every_blob(fan_in_reference: str, skopeo: Skopeo, tmp_path: Path) -> None:
    layout = tmp_path / "layout"

    skopeo.copy_all(fan_in_reference, layout, "copied")

    blobs = list((layout / "blobs" / "sha256").iterdir())
    # One index, and per platform a manifest, a config and a layer.
    assert len(blobs) == 7, sorted(blob.name for blob in blobs)
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_fan_in_platform_runs_after_pull(
    fan_in_reference: str, platform: str, skopeo: Skopeo, tmp_path: Path
) -> None:
    output = pull_and_run(skopeo, fan_in_reference, PULL_PLATFORMS[platform], tmp_path)

    assert output.strip() == TARGETS[platform].greeting


def test_fan_in_copies_other_repository_blobs(
    fan_in_reference: str, children: Children, open_registry: Registry
) -> None:
    committed = open_registry.committed_blob_digests(DESTINATION)

    # The amd64 child was pushed here (one layer, one config); the fan-in added the arm64 child's blobs.
    assert children.arm64_layers <= set(committed)
    assert len(committed) == 4, committed


def push_index(registry: Registry, repository: str, tag: str, manifest_digest: str, platform: dict[str, str]) -> None:
    """Push an index by hand whose one entry claims `platform` for an existing image manifest."""
    manifest_url = f"{registry.url}/v2/{repository}/manifests"
    manifest = requests.get(f"{manifest_url}/{manifest_digest}", headers={"Accept": OCI_MANIFEST}, timeout=10)
    manifest.raise_for_status()
    entry = {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest.content), "platform": platform}
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}).encode()
    response = requests.put(f"{manifest_url}/{tag}", data=body, headers={"Content-Type": OCI_INDEX}, timeout=10)
    response.raise_for_status()


def test_child_whose_config_disagrees_fails(children: Children, open_registry: Registry) -> None:
    claimed = {"os": "linux", "architecture": "arm64"}
    push_index(open_registry, DESTINATION, "claims-arm64", children.amd64_manifest, claimed)
    item = f"{DESTINATION}:claims-arm64"
    catalog_before = open_registry.catalog()

    run = run_plume(fan_in_settings(open_registry, "e2e/fan-rejected", [item]), Path.cwd())

    assert_one_error_line(run, ExpectedError("PLUGIN_FAN_IN", item, exit_code=1))
    error = run.error_lines()[0]
    assert "linux/amd64" in error, run.describe()
    assert "linux/arm64" in error, run.describe()
    assert open_registry.catalog() == catalog_before


def test_two_children_for_one_platform_fail(children: Children, open_registry: Registry) -> None:
    catalog_before = open_registry.catalog()
    items = [f"{DESTINATION}:amd64", f"{DESTINATION}@{children.amd64_manifest}"]

    run = run_plume(fan_in_settings(open_registry, "e2e/fan-twice", items), Path.cwd())

    assert_one_error_line(run, ExpectedError("PLUGIN_FAN_IN", "linux/amd64", exit_code=1))
    assert open_registry.catalog() == catalog_before
