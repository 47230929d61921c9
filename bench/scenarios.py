"""The measured jobs: plume and its peers publishing the payload, cold and warm, each as its own process.

Every cold job gets a fresh registry, and the warm job that follows it publishes the same input again to
that registry, from a fresh working folder: a new CI runner with no cache, as far as each tool allows.
Registries and folders are removed after each pair, so disk use stays at one pair's worth.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.destinations import (
    blobs_written,
    completed_uploads,
    directory_layer_bytes,
    directory_snapshot,
    log_offset,
    registry_layer_bytes,
)
from bench.forwarder import FirstConnectionForwarder
from bench.jobs import JobResult, run_job
from bench.payload import Payload
from bench.samples import Sample
from plugin.cli import EXIT_BAD_SETTING
from tests.rig.registry import Registry

PEERS_DIR = Path(__file__).resolve().parent / "peers"
REPOSITORY = "bench"
TAG = "latest"
# containers/image (skopeo, buildah) records which registry has which blob, and which compressed blob
# came from which uncompressed layer, in this file for root. A fresh runner has no such memory, so each
# peer job gets an empty tmpfs over the folder, in a private mount namespace that vanishes with the job.
ROOT_BLOB_INFO_CACHE = "/var/lib/containers/cache"
MOUNT_EMPTY_CACHE = 'mkdir -p "$1" && mount -t tmpfs -o mode=0700 plume-bench "$1" && shift && exec "$@"'


@dataclass(frozen=True)
class Bench:
    """The settings every job shares: the payload, plume's levels, and a scratch folder."""

    payload: Payload
    work_dir: Path
    level: int
    fast_level: int

    def job_dir(self, name: str) -> Path:
        """Return a new empty folder for one job."""
        path = self.work_dir / "jobs" / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path


@dataclass(frozen=True)
class ColdWarm:
    cold: Sample
    warm: Sample | None


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment a CI step starts with: PATH, HOME and LANG only, plus `extra`.

    LANG is C.UTF-8 as in the official Python images plume's step image is built on. Without it, Python
    would set LC_CTYPE for itself and every process it spawns, so launched jobs would differ from direct ones.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
    env.update(extra or {})
    return env


@contextmanager
def fresh_registry(bench: Bench, name: str) -> Iterator[Registry]:
    """Start an empty registry on 127.0.0.1 for one pair of jobs, then stop it and remove its storage."""
    directory = bench.job_dir(f"registry-{name}")
    registry = Registry(directory)
    try:
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(directory, ignore_errors=True)


# plume


def plume_settings(bench: Bench, repository: str, level: int, static_dir: Path | None = None) -> dict[str, str]:
    settings = {
        "PLUGIN_REPO": repository,
        "PLUGIN_TAGS": TAG,
        "PLUGIN_PLATFORMS": ",".join(bench.payload.platforms),
        "PLUGIN_ARTIFACT": bench.payload.artifact_template,
        "PLUGIN_COMPRESSION_LEVEL": str(level),
        "PLUGIN_INSECURE": "true",
    }
    if static_dir is not None:
        settings["PLUGIN_STATIC_DIR"] = str(static_dir)
    return settings


def run_plume(
    bench: Bench, name: str, settings: Mapping[str, str], arguments: tuple[str, ...] = (), exit_code: int = 0
) -> JobResult:
    """Run `python -m plugin` as a CI step does, from a fresh working folder."""
    job_dir = bench.job_dir(name)
    argv = [sys.executable, "-m", "plugin", *arguments]
    return run_job(argv, job_dir / "output.log", clean_environment(settings), cwd=job_dir, exit_code=exit_code)


def plume_to_registry(bench: Bench, level: int, warm: bool = True) -> ColdWarm:
    """Publish to an empty registry, then, when `warm`, publish the same input again."""
    with fresh_registry(bench, f"plume-{level}") as registry:
        settings = plume_settings(bench, f"{registry.host}/{REPOSITORY}", level)
        offset = log_offset(registry)
        job = run_plume(bench, f"plume-{level}-cold", settings)
        layer_bytes = registry_layer_bytes(registry, REPOSITORY, TAG)
        cold = Sample.of_job(job, layer_bytes, completed_uploads(registry, offset))
        if not warm:
            return ColdWarm(cold, None)

        offset = log_offset(registry)
        job = run_plume(bench, f"plume-{level}-warm", settings)
        return ColdWarm(cold, Sample.of_job(job, layer_bytes, completed_uploads(registry, offset)))


def plume_to_directory(bench: Bench) -> ColdWarm:
    """Write a static registry to an empty folder, then the same input again to that folder."""
    static_dir = bench.job_dir("static-registry") / "static"
    settings = plume_settings(bench, REPOSITORY, bench.level, static_dir)
    try:
        job = run_plume(bench, "plume-static-cold", settings)
        layer_bytes = directory_layer_bytes(static_dir, REPOSITORY, TAG)
        cold = Sample.of_job(job, layer_bytes, blobs_written(static_dir, {}))

        before = directory_snapshot(static_dir)
        job = run_plume(bench, "plume-static-warm", settings)
        return ColdWarm(cold, Sample.of_job(job, layer_bytes, blobs_written(static_dir, before)))
    finally:
        shutil.rmtree(static_dir, ignore_errors=True)


def plume_to_both(bench: Bench) -> Sample:
    """Publish to an empty registry and an empty static folder in one run."""
    static_dir = bench.job_dir("static-registry-beside") / "static"
    with fresh_registry(bench, "plume-both") as registry:
        settings = plume_settings(bench, f"{registry.host}/{REPOSITORY}", bench.level, static_dir)
        offset = log_offset(registry)
        job = run_plume(bench, "plume-both-cold", settings)
        layer_bytes = registry_layer_bytes(registry, REPOSITORY, TAG)
        sample = Sample.of_job(job, layer_bytes, completed_uploads(registry, offset))
    shutil.rmtree(static_dir, ignore_errors=True)
    return sample


def plume_first_request(bench: Bench) -> float:
    """Return the seconds from spawning a cold plume run to its first TCP connection to the registry."""
    with fresh_registry(bench, "plume-first-request") as registry:
        forwarder = FirstConnectionForwarder(registry.port)
        try:
            settings = plume_settings(bench, f"{forwarder.host}/{REPOSITORY}", bench.level)
            job = run_plume(bench, "plume-first-request", settings)
        finally:
            forwarder.close()
    if forwarder.first_connection_at is None:
        raise RuntimeError("plume finished without connecting to the registry")
    return forwarder.first_connection_at - job.started_at


def plume_version(bench: Bench) -> JobResult:
    """Time `python -m plugin --version`: the interpreter's start and the imports of plume's entry point."""
    return run_plume(bench, "plume-version", {}, ("--version",))


def plume_start_up(bench: Bench) -> JobResult:
    """Time a run that stops at an invalid setting, with status 2: the imports and the settings checks that
    every run pays before its work begins."""
    settings = plume_settings(bench, f"127.0.0.1:1/{REPOSITORY}", bench.level)
    settings["PLUGIN_COMPRESSION_LEVEL"] = "0"
    return run_plume(bench, "plume-start-up", settings, exit_code=EXIT_BAD_SETTING)


def bare_python(bench: Bench) -> JobResult:
    """Time an interpreter that starts and does nothing, the floor under any Python tool's start."""
    job_dir = bench.job_dir("python-bare")
    return run_job([sys.executable, "-c", "pass"], job_dir / "output.log", clean_environment(), cwd=job_dir)


def plume_big_layer(bench: Bench, payload: Payload) -> Sample:
    """Publish one platform whose executable is `payload`'s single large file to an empty registry."""
    with fresh_registry(bench, "plume-big") as registry:
        settings = plume_settings(bench, f"{registry.host}/{REPOSITORY}", bench.level)
        settings["PLUGIN_PLATFORMS"] = ",".join(payload.platforms)
        settings["PLUGIN_ARTIFACT"] = payload.artifact_template
        offset = log_offset(registry)
        job = run_plume(bench, "plume-big-cold", settings)
        layer_bytes = registry_layer_bytes(registry, REPOSITORY, TAG)
        return Sample.of_job(job, layer_bytes, completed_uploads(registry, offset))


# peers


def peer_argv(script: str, job_dir: Path, destination: str, payload: Payload) -> list[str]:
    """Build the peer script's command, in a private mount namespace with an empty blob info cache when root."""
    pairs = [f"{file.platform}={file.path}" for file in payload.files]
    command = ["bash", str(PEERS_DIR / script), str(job_dir), destination, *pairs]
    if os.geteuid() != 0:
        # NOTE: only the root path has been run. This one relies on XDG_DATA_HOME for skopeo's cache.
        return command
    return ["unshare", "--mount", "--propagation", "private", "bash", "-c", MOUNT_EMPTY_CACHE, "bash",
            ROOT_BLOB_INFO_CACHE, *command]  # fmt: skip


def run_peer(bench: Bench, script: str, name: str, destination: str) -> JobResult:
    """Run one peer script from a fresh folder, with a fresh HOME and (when not root) a fresh cache folder."""
    job_dir = bench.job_dir(name)
    home = job_dir / "home"
    home.mkdir()
    env = clean_environment({"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "PYTHON": sys.executable})
    return run_job(peer_argv(script, job_dir, destination, bench.payload), job_dir / "output.log", env)


def peer_to_registry(bench: Bench, script: str, name: str) -> ColdWarm:
    """Run a peer against an empty registry, then again from a fresh folder against the filled registry."""
    with fresh_registry(bench, name) as registry:
        destination = f"{registry.host}/{REPOSITORY}:{TAG}"
        offset = log_offset(registry)
        job = run_peer(bench, script, f"{name}-cold", destination)
        layer_bytes = registry_layer_bytes(registry, REPOSITORY, TAG)
        cold = Sample.of_job(job, layer_bytes, completed_uploads(registry, offset))
        shutil.rmtree(bench.work_dir / "jobs" / f"{name}-cold", ignore_errors=True)

        offset = log_offset(registry)
        job = run_peer(bench, script, f"{name}-warm", destination)
        warm = Sample.of_job(job, registry_layer_bytes(registry, REPOSITORY, TAG), completed_uploads(registry, offset))
        shutil.rmtree(bench.work_dir / "jobs" / f"{name}-warm", ignore_errors=True)
        return ColdWarm(cold, warm)


def umoci_skopeo(bench: Bench) -> ColdWarm:
    return peer_to_registry(bench, "umoci-skopeo.sh", "umoci")


def buildah(bench: Bench) -> ColdWarm:
    return peer_to_registry(bench, "buildah.sh", "buildah")
