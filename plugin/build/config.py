"""Image configs: each platform's config, built on its base image's config with the step's settings applied.

Everything in the base's config stays unless a setting replaces it: its `config` object (env, entrypoint,
cmd, working directory, user, labels, exposed ports, volumes...), its diff_ids and its history. An env
variable or a label replaces the base's one of the same name. Setting an entrypoint clears the base's cmd
unless a cmd is set too, as a Dockerfile's ENTRYPOINT does. An image without a base starts from an empty
config.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from plugin.oci.digest import Digest
from plugin.oci.models import RuntimeConfig
from plugin.oci.platform import Platform

CREATED_BY = "plume"  # the `created_by` of the history entry of each layer plume adds


def platform_config(
    base: Mapping[str, Any], platform: Platform, runtime: RuntimeConfig, added: Sequence[Digest], created: str
) -> dict[str, Any]:
    """The config for `platform`: the base's config, the runtime settings, and the diff_ids of `added` layers.

    os, architecture and variant come from `platform`, the same value as the index entry. `created` and a
    history entry per added layer are set only when layers are added, so an image passed through keeps its own.
    """
    config = copy.deepcopy(dict(base))
    config["architecture"] = platform.architecture
    config["os"] = platform.os
    if platform.variant:
        config["variant"] = platform.variant
    else:
        config.pop("variant", None)

    runtime_fields = runtime_json(base.get("config") or {}, runtime)
    if runtime_fields or "config" in base:
        config["config"] = runtime_fields

    if added:
        diff_ids = list((base.get("rootfs") or {}).get("diff_ids") or [])
        config["rootfs"] = {"type": "layers", "diff_ids": [*diff_ids, *(str(d) for d in added)]}
        history = list(base.get("history") or [])
        config["history"] = [*history, *({"created": created, "created_by": CREATED_BY} for _ in added)]
        config["created"] = created
    return config


def runtime_json(base: Mapping[str, Any], runtime: RuntimeConfig) -> dict[str, Any]:
    """The `config` object of an image config: the base's, with each runtime setting that is set replacing it."""
    merged = dict(base)
    env = merged_env(base.get("Env") or [], runtime.env, runtime.default_env)
    if env:
        merged["Env"] = env

    base_runs_a_command = bool(base.get("Entrypoint") or base.get("Cmd"))
    if runtime.entrypoint is not None:
        merged["Entrypoint"] = list(runtime.entrypoint)
        if runtime.cmd is None:
            merged.pop("Cmd", None)
    elif runtime.default_entrypoint is not None and not base_runs_a_command:
        merged["Entrypoint"] = list(runtime.default_entrypoint)
    if runtime.cmd is not None:
        merged["Cmd"] = list(runtime.cmd)

    if runtime.working_dir:
        merged["WorkingDir"] = runtime.working_dir
    if runtime.user:
        merged["User"] = runtime.user
    if runtime.labels:
        merged["Labels"] = {**(base.get("Labels") or {}), **runtime.labels}
    return merged


def merged_env(base: Sequence[str], settings: Sequence[str], defaults: Sequence[str]) -> list[str]:
    """KEY=VALUE items: the base's in their order, each replaced by a setting of the same name, then the new
    settings, with every default whose name is still missing put first.
    """
    by_name: dict[str, str] = {}
    for item in [*base, *settings]:
        by_name[_env_name(item)] = item
    missing_defaults = [item for item in defaults if _env_name(item) not in by_name]
    return [*missing_defaults, *by_name.values()]


def _env_name(item: str) -> str:
    return item.partition("=")[0]
