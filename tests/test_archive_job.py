"""End-to-end tests of publishing image archives: skopeo writes one archive per platform from an image plume
published first, in each kind plume reads, and plume publishes them as one index.

The four kinds, one per platform: a docker-archive (uncompressed layers, as `docker save` writes), an OCI
archive, an OCI layout directory whose index lists an index of every platform, and a gzip-compressed
docker-archive (as Nix `dockerTools` writes).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_plume
from tests.rig.clients import Skopeo, pull_and_run, pull_rootfs, run_binary
from tests.rig.goapp import GO_TARGETS, GoTarget
from tests.rig.registry import Registry
from tests.test_main_job import (
    EXPECTED_INDEX_PLATFORMS,
    PULL_PLATFORMS,
    ExpectedError,
    assert_one_error_line,
    index_platforms,
    publish_to_registry,
)

ARCHIVE_TEMPLATE = "archives/{os}-{arch}{variant}"
TARGETS = {target.platform: target for target in GO_TARGETS}
AMD64, ARM64, ARMV7, I386 = (TARGETS[p] for p in ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386"))


@dataclass(frozen=True)
class ArchiveProject:
    """A folder whose archives/ contains one archive per platform, and the image they were copied from."""

    directory: Path
    source_reference: str


def archive_name(target: GoTarget) -> str:
    return ARCHIVE_TEMPLATE.format(os=target.os, arch=target.arch, variant=target.variant)


@pytest.fixture(scope="module")
def archive_project(
    go_project: Path, open_registry: Registry, skopeo: Skopeo, tmp_path_factory: pytest.TempPathFactory
) -> ArchiveProject:
    source = publish_to_registry(open_registry, "e2e/archive-source", go_project).reference
    project = tmp_path_factory.mktemp("archive-project")
    archives = project / "archives"
    archives.mkdir()

    skopeo.copy_to(source, f"docker-archive:{project / archive_name(AMD64)}", PULL_PLATFORMS[AMD64.platform])
    skopeo.copy_to(source, f"oci-archive:{project / archive_name(ARM64)}", PULL_PLATFORMS[ARM64.platform])
    skopeo.copy_to(source, f"oci:{project / archive_name(ARMV7)}:all")
    plain = project / "386.tar"
    skopeo.copy_to(source, f"docker-archive:{plain}", PULL_PLATFORMS[I386.platform])
    (project / archive_name(I386)).write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    return ArchiveProject(project, source)


def archive_settings(repo: str) -> dict[str, str]:
    return {
        "PLUGIN_REPO": repo,
        "PLUGIN_PLATFORMS": ",".join(target.platform for target in GO_TARGETS),
        "PLUGIN_ARCHIVE": ARCHIVE_TEMPLATE,
        "PLUGIN_INSECURE": "true",
    }


@pytest.fixture(scope="module")
def archives_reference(archive_project: ArchiveProject, open_registry: Registry) -> str:
    repo = f"{open_registry.host}/e2e/from-archives"
    run = run_plume(archive_settings(repo), archive_project.directory)
    assert run.exit_code == 0, run.describe()
    return f"{repo}:latest"


def test_layout_index_nests_an_index(archive_project: ArchiveProject) -> None:
    """The layout directory is the nested case: its index.json lists one index, which lists the platforms."""
    index = json.loads((archive_project.directory / archive_name(ARMV7) / "index.json").read_text())

    assert [entry["mediaType"] for entry in index["manifests"]] == ["application/vnd.oci.image.index.v1+json"]


def test_archives_publish_one_index(archives_reference: str, skopeo: Skopeo, tmp_path: Path) -> None:
    index = skopeo.raw_manifest(archives_reference)

    assert set(index_platforms(index)) == EXPECTED_INDEX_PLATFORMS
    layout = tmp_path / "layout"
    skopeo.copy_all(archives_reference, layout, "copied")
    for blob in (layout / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


@pytest.mark.parametrize("target", GO_TARGETS, ids=[target.file_name for target in GO_TARGETS])
def test_archive_binary_runs_after_pull(
    archives_reference: str, target: GoTarget, skopeo: Skopeo, tmp_path: Path
) -> None:
    output = pull_and_run(skopeo, archives_reference, PULL_PLATFORMS[target.platform], tmp_path)

    assert output.strip() == target.greeting


@pytest.mark.parametrize("target", [AMD64, I386], ids=["docker_archive", "gzipped_docker_archive"])
def test_compressed_layers_keep_their_diff_ids(
    archives_reference: str, archive_project: ArchiveProject, target: GoTarget, skopeo: Skopeo
) -> None:
    platform = PULL_PLATFORMS[target.platform]
    source_config = skopeo.image_config(archive_project.source_reference, platform)

    config = skopeo.image_config(archives_reference, platform)

    assert config == source_config


@pytest.mark.parametrize("target", [ARM64, ARMV7], ids=["oci_archive", "oci_layout_directory"])
def test_unchanged_oci_image_keeps_digest(
    archives_reference: str, archive_project: ArchiveProject, target: GoTarget, skopeo: Skopeo
) -> None:
    platform = PULL_PLATFORMS[target.platform]
    key = (platform.os, platform.architecture, platform.variant)

    published = manifest_digests(skopeo.raw_manifest(archives_reference))
    source = manifest_digests(skopeo.raw_manifest(archive_project.source_reference))

    assert published[key] == source[key]


def manifest_digests(index: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    return {
        (entry["platform"]["os"], entry["platform"]["architecture"], entry["platform"].get("variant", "")): entry[
            "digest"
        ]
        for entry in index["manifests"]
    }


def with_config_architecture(archive: Path, output: Path, architecture: str) -> None:
    """Write a copy of a docker-archive whose config names `architecture` and no variant."""
    with tarfile.open(archive) as source:
        manifest = json.loads(source.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config_name = manifest[0]["Config"]
        config = json.loads(source.extractfile(config_name).read())  # type: ignore[union-attr]
        config["architecture"] = architecture
        config.pop("variant", None)
        config_bytes = json.dumps(config).encode()
        new_config_name = f"{hashlib.sha256(config_bytes).hexdigest()}.json"
        manifest[0]["Config"] = new_config_name
        replaced = {"manifest.json": json.dumps(manifest).encode(), new_config_name: config_bytes}

        with tarfile.open(output, "w") as copy:
            for member in source.getmembers():
                if member.name in ("manifest.json", config_name):
                    continue
                copy.addfile(member, source.extractfile(member) if member.isreg() else None)
            for name, data in replaced.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                copy.addfile(info, io.BytesIO(data))


def test_aarch64_archive_is_accepted_for_arm64(
    archive_project: ArchiveProject, open_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    plain = tmp_path / "arm64.tar"
    skopeo.copy_to(archive_project.source_reference, f"docker-archive:{plain}", PULL_PLATFORMS[ARM64.platform])
    with_config_architecture(plain, tmp_path / "aarch64.tar", "aarch64")
    repo = f"{open_registry.host}/e2e/from-aarch64"
    settings = {**archive_settings(repo), "PLUGIN_PLATFORMS": "linux/arm64", "PLUGIN_ARCHIVE": "aarch64.tar"}

    run = run_plume(settings, tmp_path)

    assert run.exit_code == 0, run.describe()
    platform = PULL_PLATFORMS[ARM64.platform]
    config = skopeo.image_config(f"{repo}:latest", platform)
    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm64", "v8")
    assert set(index_platforms(skopeo.raw_manifest(f"{repo}:latest"))) == {("linux", "arm64", "v8")}
    output = pull_and_run(skopeo, f"{repo}:latest", platform, tmp_path / "pulled")
    assert output.strip() == ARM64.greeting


def test_archive_for_other_platform_fails(
    archive_project: ArchiveProject, open_registry: Registry
) -> None:
    repo = f"{open_registry.host}/e2e/wrong-archive"
    settings = {
        **archive_settings(repo),
        "PLUGIN_ARCHIVE": "",
        "PLUGIN_PLATFORMS": "linux/amd64,linux/arm64",
        "PLUGIN_ARCHIVES": json.dumps({"linux/amd64": archive_name(AMD64), "linux/arm64": archive_name(AMD64)}),
    }
    catalog_before = open_registry.catalog()

    run = run_plume(settings, archive_project.directory)

    assert_one_error_line(run, ExpectedError("PLUGIN_ARCHIVES", archive_name(AMD64), exit_code=1))
    error = run.error_lines()[0]
    assert "linux/amd64" in error, run.describe()
    assert "linux/arm64" in error, run.describe()
    assert open_registry.catalog() == catalog_before


def test_unsafe_member_name_fails(
    archive_project: ArchiveProject, open_registry: Registry, tmp_path: Path
) -> None:
    unsafe = tmp_path / "unsafe.tar"
    shutil.copy(archive_project.directory / archive_name(AMD64), unsafe)
    with tarfile.open(unsafe, "a") as archive:
        info = tarfile.TarInfo("../outside")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"bad"))
    settings = {
        **archive_settings(f"{open_registry.host}/e2e/unsafe"),
        "PLUGIN_PLATFORMS": "linux/amd64",
        "PLUGIN_ARCHIVE": "unsafe.tar",
    }
    catalog_before = open_registry.catalog()

    run = run_plume(settings, tmp_path)

    assert_one_error_line(run, ExpectedError("PLUGIN_ARCHIVE", "unsafe.tar", exit_code=1))
    assert "../outside" in run.error_lines()[0], run.describe()
    assert open_registry.catalog() == catalog_before



def test_binary_on_top_of_archive(
    archive_project: ArchiveProject, go_project: Path, open_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(archive_project.directory / "archives", project / "archives")
    shutil.copytree(go_project / "dist", project / "dist")
    repo = f"{open_registry.host}/e2e/archive-and-binary"
    settings = {
        **archive_settings(repo),
        "PLUGIN_PLATFORMS": "linux/amd64",
        "PLUGIN_ARTIFACT": "dist/hello-{os}-{arch}{variant}",
        "PLUGIN_INSTALL_PATH": "/opt/second/hello",
    }

    run = run_plume(settings, project)

    assert run.exit_code == 0, run.describe()
    platform = PULL_PLATFORMS[AMD64.platform]
    rootfs = pull_rootfs(skopeo, f"{repo}:latest", platform, tmp_path / "pulled")
    assert run_binary(rootfs / "app", platform.architecture).strip() == AMD64.greeting
    assert run_binary(rootfs / "opt/second/hello", platform.architecture).strip() == AMD64.greeting
    config = skopeo.image_config(f"{repo}:latest", platform)
    source_config = skopeo.image_config(archive_project.source_reference, platform)
    assert config["rootfs"]["diff_ids"][:-1] == source_config["rootfs"]["diff_ids"]
    assert config["config"]["Entrypoint"] == ["/app"], "the archive's entrypoint stays"
