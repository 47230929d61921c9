"""Image configs built on a base image's config: what is kept, what a setting replaces, and the defaults."""

from __future__ import annotations

from typing import Any

from plugin.build.config import merged_env, platform_config, runtime_json
from plugin.oci.digest import Digest
from plugin.oci.models import RuntimeConfig
from plugin.oci.platform import Platform

ARM64 = Platform.parse("linux/arm64")
BASE_DIFF_ID = "sha256:" + "1" * 64
ADDED = Digest("2" * 64)
CREATED = "2023-11-14T22:13:20Z"
DEFAULT_PATH = "PATH=/usr/local/bin:/usr/bin:/bin"
BINARY_DEFAULTS = RuntimeConfig(default_entrypoint=["/app"], default_env=[DEFAULT_PATH])


def base_config(**runtime: Any) -> dict[str, Any]:
    return {
        "architecture": "arm64",
        "os": "linux",
        "created": "2020-01-01T00:00:00Z",
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [BASE_DIFF_ID]},
        "history": [{"created_by": "base step"}],
        "os.features": ["kept"],
    }


def test_base_diff_ids_come_first() -> None:
    config = platform_config(base_config(), ARM64, RuntimeConfig(), [ADDED], CREATED)

    assert config["rootfs"]["diff_ids"] == [BASE_DIFF_ID, str(ADDED)]
    assert config["history"] == [{"created_by": "base step"}, {"created": CREATED, "created_by": "plume"}]
    assert config["created"] == CREATED
    assert config["os.features"] == ["kept"]


def test_platform_comes_from_the_index_entry() -> None:
    config = platform_config({**base_config(), "architecture": "aarch64"}, ARM64, RuntimeConfig(), [], CREATED)

    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm64", "v8")


def test_no_added_layer_keeps_dates() -> None:
    base = {**base_config(Env=["A=1"]), "variant": "v8"}

    config = platform_config(base, ARM64, RuntimeConfig(), [], CREATED)

    assert config == base


def test_env_setting_replaces_in_place() -> None:
    assert merged_env(["A=1", "B=2", "C=3"], ["B=changed", "D=4"], []) == ["A=1", "B=changed", "C=3", "D=4"]


def test_default_env_only_fills_missing_names() -> None:
    assert merged_env(["PATH=/bin"], [], [DEFAULT_PATH]) == ["PATH=/bin"]
    assert merged_env(["A=1"], [], [DEFAULT_PATH]) == [DEFAULT_PATH, "A=1"]
    assert merged_env([], ["PATH=/opt"], [DEFAULT_PATH]) == ["PATH=/opt"]


def test_base_runtime_is_kept_without_settings() -> None:
    base = {
        "Entrypoint": ["/init"],
        "Cmd": ["serve"],
        "WorkingDir": "/srv",
        "User": "65534",
        "Labels": {"a": "1"},
        "ExposedPorts": {"8080/tcp": {}},
    }

    assert runtime_json(base, BINARY_DEFAULTS) == {**base, "Env": [DEFAULT_PATH]}


def test_settings_replace_base_values() -> None:
    base = {"WorkingDir": "/srv", "User": "65534", "Labels": {"a": "1", "b": "base"}}
    runtime = RuntimeConfig(working_dir="/work", user="1000", labels={"b": "app", "c": "3"})

    merged = runtime_json(base, runtime)

    assert merged["WorkingDir"] == "/work"
    assert merged["User"] == "1000"
    assert merged["Labels"] == {"a": "1", "b": "app", "c": "3"}


def test_entrypoint_setting_clears_the_base_cmd() -> None:
    merged = runtime_json({"Entrypoint": ["/init"], "Cmd": ["/bin/sh"]}, RuntimeConfig(entrypoint=["/app"]))

    assert merged["Entrypoint"] == ["/app"]
    assert "Cmd" not in merged


def test_entrypoint_and_cmd_settings_replace_both() -> None:
    runtime = RuntimeConfig(entrypoint=["/app"], cmd=["--port", "80"])

    merged = runtime_json({"Entrypoint": ["/init"], "Cmd": ["/bin/sh"]}, runtime)

    assert (merged["Entrypoint"], merged["Cmd"]) == (["/app"], ["--port", "80"])


def test_binary_entrypoint_needs_idle_base() -> None:
    assert runtime_json({}, BINARY_DEFAULTS)["Entrypoint"] == ["/app"]
    assert runtime_json({"Entrypoint": None, "Cmd": None}, BINARY_DEFAULTS)["Entrypoint"] == ["/app"]
    assert "Entrypoint" not in runtime_json({"Cmd": ["/bin/sh"]}, BINARY_DEFAULTS)


def test_cmd_setting_gives_binary_arguments() -> None:
    runtime = RuntimeConfig(cmd=["--help"], default_entrypoint=["/app"])

    merged = runtime_json({}, runtime)

    assert (merged["Entrypoint"], merged["Cmd"]) == (["/app"], ["--help"])
