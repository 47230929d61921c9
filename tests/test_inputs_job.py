"""End to end: a build command per platform, extra files and directories, and the binary check.

plume runs as a CI step would, against the real registry; skopeo, umoci and qemu check the results.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PlumeRun, run_plume
from tests.rig.clients import Platform, Skopeo, pull_and_run, run_binary, umoci_unpack
from tests.rig.goapp import ARTIFACT_TEMPLATE, GO_TARGETS, GOAPP_SOURCE, GoTarget
from tests.rig.registry import Registry

SOURCE_DATE_EPOCH = "1700000000"
PULL_PLATFORMS = {
    "linux/amd64": Platform("linux", "amd64"),
    "linux/arm64": Platform("linux", "arm64", "v8"),
    "linux/arm/v7": Platform("linux", "arm", "v7"),
    "linux/386": Platform("linux", "386"),
}
GO_BUILD_COMMAND = (
    'echo "building for $TARGETPLATFORM"; '
    'go build -trimpath -ldflags="-s -w" -o "dist/hello-$TARGETOS-$TARGETARCH$TARGETVARIANT" .'
)


@pytest.fixture
def fresh_registry(tmp_path: Path) -> Iterator[Registry]:
    """A registry of its own, so that an empty catalog proves nothing was pushed."""
    registry = Registry(tmp_path / "registry-fresh")
    yield registry
    registry.stop()


def settings_for(repo: str, **values: str) -> dict[str, str]:
    settings = {"PLUGIN_REPO": repo, "PLUGIN_INSECURE": "true", "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    settings.update(values)
    return settings


def assert_one_error_line(run: PlumeRun, *fragments: str) -> str:
    assert run.exit_code != 0, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    error_lines = run.error_lines()
    assert len(error_lines) == 1, run.describe()
    for fragment in fragments:
        assert fragment in error_lines[0], run.describe()
    return error_lines[0]


def go_source_workspace(work_dir: Path) -> Path:
    """A workspace holding only the Go program's source, as a checkout would."""
    work_dir.mkdir(parents=True)
    for name in ("go.mod", "main.go"):
        shutil.copy2(GOAPP_SOURCE / name, work_dir / name)
    return work_dir


@pytest.fixture(scope="module")
def built_from_source(open_registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, PlumeRun]:
    """The Go program compiled by plume's build command for four platforms at once, then published."""
    workspace = go_source_workspace(tmp_path_factory.mktemp("build-command") / "workspace")
    settings = settings_for(
        f"{open_registry.host}/e2e/from-source",
        PLUGIN_PLATFORMS=",".join(target.platform for target in GO_TARGETS),
        PLUGIN_ARTIFACT=ARTIFACT_TEMPLATE,
        PLUGIN_BUILD_COMMAND=GO_BUILD_COMMAND,
        PLUGIN_BUILD_PARALLEL="true",
        GOFLAGS="",
        GOPROXY="off",  # the program has no dependencies, so the build must not download anything
    )
    run = run_plume(settings, workspace)
    assert run.exit_code == 0, run.describe()
    return f"{open_registry.host}/e2e/from-source:latest", run


@pytest.mark.parametrize("target", GO_TARGETS, ids=[target.file_name for target in GO_TARGETS])
def test_built_binary_runs_after_pull(
    built_from_source: tuple[str, PlumeRun], target: GoTarget, skopeo: Skopeo, tmp_path: Path
) -> None:
    reference, run = built_from_source

    output = pull_and_run(skopeo, reference, PULL_PLATFORMS[target.platform], tmp_path)

    assert output.strip() == target.greeting
    assert f"| building for {target.platform}" in run.stdout


@pytest.mark.parametrize("parallel", ["false", "true"], ids=["one_at_a_time", "parallel"])
def test_failed_build_command_publishes_nothing(fresh_registry: Registry, tmp_path: Path, parallel: str) -> None:
    command = (
        'echo "linking for $TARGETARCH"; [ "$TARGETARCH" != arm64 ] || { echo "ld: cannot find -lssl" >&2; exit 2; }'
    )
    settings = settings_for(
        f"{fresh_registry.host}/e2e/broken",
        PLUGIN_PLATFORMS="linux/amd64,linux/arm64",
        PLUGIN_ARTIFACT="dist/app-{arch}",
        PLUGIN_BUILD_COMMAND=command,
        PLUGIN_BUILD_PARALLEL=parallel,
    )

    run = run_plume(settings, tmp_path)

    assert run.exit_code == 1, run.describe()
    assert_one_error_line(run, "PLUGIN_BUILD_COMMAND", "linux/arm64", "exit status 2", "ld: cannot find -lssl")
    assert "linking for arm64" in run.stdout
    assert fresh_registry.catalog() == []


def make_files_workspace(go_project: Path, work_dir: Path) -> Path:
    """A workspace with the Go binaries, a per-platform config and a tree with modes, links and a long path."""
    shutil.copytree(go_project / "dist", work_dir / "dist")
    for arch in ("amd64", "arm64"):
        (work_dir / f"config-{arch}.toml").write_text(f"arch = '{arch}'\n")
    tree = work_dir / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "start.sh").write_text("#!/bin/sh\nexec /app \"$@\"\n")
    (tree / "bin" / "start.sh").chmod(0o750)
    (tree / "secret.conf").write_text("token = none\n")
    (tree / "secret.conf").chmod(0o600)
    (tree / "current").symlink_to("bin/start.sh")
    (tree / "data-a").write_bytes(b"shared data")
    os.link(tree / "data-a", tree / "data-b")
    long_dir = tree / ("long-directory-name-" * 4) / ("another-long-directory-name-" * 4)
    long_dir.mkdir(parents=True)
    (long_dir / "deep.txt").write_text("deep\n")
    return work_dir


def test_files_keep_modes_and_links(
    go_project: Path, open_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    workspace = make_files_workspace(go_project, tmp_path / "workspace")
    files = {"tree": "/opt/app", "config-{arch}.toml": "/etc/app/"}
    settings = settings_for(
        f"{open_registry.host}/e2e/with-files",
        PLUGIN_PLATFORMS="linux/amd64,linux/arm64",
        PLUGIN_ARTIFACT=ARTIFACT_TEMPLATE,
        PLUGIN_FILES=json.dumps(files),
    )

    run = run_plume(settings, workspace)
    assert run.exit_code == 0, run.describe()
    layout = tmp_path / "layout"
    skopeo.copy_platform(f"{open_registry.host}/e2e/with-files:latest", PULL_PLATFORMS["linux/arm64"], layout, "arm64")
    rootfs = umoci_unpack(layout, "arm64", tmp_path / "bundle")

    app = rootfs / "opt" / "app"
    assert stat.S_IMODE((app / "bin" / "start.sh").stat().st_mode) == 0o750
    assert stat.S_IMODE((app / "secret.conf").stat().st_mode) == 0o600
    assert (app / "current").is_symlink()
    assert os.readlink(app / "current") == "bin/start.sh"
    assert (app / "data-a").stat().st_ino == (app / "data-b").stat().st_ino
    assert (app / "data-b").read_bytes() == b"shared data"
    long_path = app / ("long-directory-name-" * 4) / ("another-long-directory-name-" * 4) / "deep.txt"
    assert long_path.read_text() == "deep\n"
    assert (rootfs / "etc" / "app" / "config-arm64.toml").read_text() == "arch = 'arm64'\n"
    assert not (rootfs / "etc" / "app" / "config-amd64.toml").exists()
    assert run_binary(rootfs / "app", "arm64").strip() == "hello from plume on linux/arm64"


def test_x86_64_binary_for_arm64_publishes_nothing(go_project: Path, fresh_registry: Registry) -> None:
    artifacts = {"linux/amd64": "dist/hello-linux-amd64", "linux/arm64": "dist/hello-linux-amd64"}
    settings = settings_for(
        f"{fresh_registry.host}/e2e/wrong-arch",
        PLUGIN_PLATFORMS="linux/amd64,linux/arm64",
        PLUGIN_ARTIFACTS=json.dumps(artifacts),
    )

    run = run_plume(settings, go_project)

    assert run.exit_code == 1, run.describe()
    assert_one_error_line(run, "dist/hello-linux-amd64", "x86-64", "linux/arm64", "AArch64")
    assert fresh_registry.catalog() == []
    assert fresh_registry.blob_upload_count("e2e/wrong-arch") == 0
