"""The build command: the target variables per platform, its output in the log, and failures."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from plugin.errors import SourceError
from plugin.oci.platform import Platform
from plugin.sources.build_command import run_build_command, target_environment

SETTING = "PLUGIN_BUILD_COMMAND"
PRINT_TARGET = (
    'echo "$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT] $GOOS $GOARCH [${GOARM-unset}] $CGO_ENABLED"'
)


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (
            "linux/amd64",
            {"TARGETPLATFORM": "linux/amd64", "TARGETARCH": "amd64", "TARGETVARIANT": "", "GOARCH": "amd64"},
        ),
        (
            "linux/arm64",
            {"TARGETPLATFORM": "linux/arm64", "TARGETARCH": "arm64", "TARGETVARIANT": "", "GOARCH": "arm64"},
        ),
        (
            "linux/arm/v7",
            {"TARGETPLATFORM": "linux/arm/v7", "TARGETVARIANT": "v7", "GOARCH": "arm", "GOARM": "7"},
        ),
        ("linux/arm/v6", {"TARGETPLATFORM": "linux/arm/v6", "GOARM": "6"}),
        ("linux/386", {"TARGETPLATFORM": "linux/386", "TARGETARCH": "386", "GOARCH": "386"}),
        ("linux/amd64/v3", {"TARGETPLATFORM": "linux/amd64/v3", "TARGETVARIANT": "v3", "GOAMD64": "v3"}),
    ],
)
def test_target_environment(platform: str, expected: dict[str, str]) -> None:
    env = target_environment(Platform.parse(platform))

    for name, value in expected.items():
        assert env[name] == value, name
    assert env["TARGETOS"] == env["GOOS"] == "linux"
    assert env["CGO_ENABLED"] == "0"


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64", "linux/386"])
def test_no_goarm_outside_arm(platform: str) -> None:
    assert "GOARM" not in target_environment(Platform.parse(platform))


@pytest.mark.parametrize("parallel", [False, True], ids=["one_at_a_time", "parallel"])
def test_command_sees_its_platform(tmp_path: Path, parallel: bool, caplog: pytest.LogCaptureFixture) -> None:
    platforms = [Platform.parse("linux/amd64"), Platform.parse("linux/arm/v7")]
    command = f'{PRINT_TARGET}; {PRINT_TARGET} > "out-$TARGETARCH.txt"'

    with caplog.at_level(logging.INFO):
        run_build_command(command, platforms, tmp_path, parallel, SETTING)

    assert (tmp_path / "out-amd64.txt").read_text() == "linux/amd64 linux amd64 [] linux amd64 [unset] 0\n"
    assert (tmp_path / "out-arm.txt").read_text() == "linux/arm/v7 linux arm [v7] linux arm [7] 0\n"
    assert "linux/arm/v7 | linux/arm/v7 linux arm [v7] linux arm [7] 0" in caplog.messages


def test_step_environment_is_inherited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_VERSION", "1.2.3")

    run_build_command('echo "$APP_VERSION" > version.txt', [Platform.parse("linux/amd64")], tmp_path, False, SETTING)

    assert (tmp_path / "version.txt").read_text() == "1.2.3\n"


def test_failure_names_platform_status_and_output(tmp_path: Path) -> None:
    command = (
        'echo "compiling for $TARGETARCH"; [ "$TARGETARCH" != arm64 ] || { echo "no linker for arm64" >&2; exit 3; }'
    )
    platforms = [Platform.parse("linux/amd64"), Platform.parse("linux/arm64")]

    with pytest.raises(SourceError) as caught:
        run_build_command(command, platforms, tmp_path, False, SETTING)

    message = str(caught.value)
    assert message.startswith(f"{SETTING} failed for linux/arm64/v8 with exit status 3")
    assert "no linker for arm64" in message
    assert "linux/amd64" not in message


def test_one_at_a_time_stops_at_first_failure(tmp_path: Path) -> None:
    command = 'touch "ran-$TARGETARCH"; [ "$TARGETARCH" != amd64 ]'
    platforms = [Platform.parse("linux/amd64"), Platform.parse("linux/arm64")]

    with pytest.raises(SourceError, match="failed for linux/amd64 with exit status 1"):
        run_build_command(command, platforms, tmp_path, False, SETTING)

    assert (tmp_path / "ran-amd64").exists()
    assert not (tmp_path / "ran-arm64").exists()


def test_parallel_reports_every_failed_platform(tmp_path: Path) -> None:
    command = 'touch "ran-$TARGETARCH"; [ "$TARGETARCH" = 386 ] || exit 2'
    platforms = [Platform.parse("linux/amd64"), Platform.parse("linux/386"), Platform.parse("linux/arm64")]

    with pytest.raises(SourceError) as caught:
        run_build_command(command, platforms, tmp_path, True, SETTING)

    message = str(caught.value)
    assert "failed for linux/amd64 with exit status 2, linux/arm64/v8 (exit status 2)" in message
    assert "no output" in message
    assert {path.name for path in tmp_path.iterdir()} == {"ran-amd64", "ran-386", "ran-arm64"}
