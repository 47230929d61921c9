"""End-to-end pushes through faults, each checked with skopeo as a user would pull the result.

A proxy between plume and the registry drops connections, returns 5xx and 429, and stalls. An outage
outlasts the retries, a push is killed and started again, and a registry rejects the OCI format.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PLUME_TIMEOUT, TOKEN_REGISTRY_CREDENTIALS, plume_environment, run_plume
from tests.rig.clients import Skopeo
from tests.rig.faults import STANDARD_FAULTS, Fault, FaultProxy, FaultRate, ProxiedRequest, every_matching
from tests.rig.registry import Registry
from tests.test_main_job import TAG, ExpectedError, assert_one_error_line, image_settings
from tests.test_registry_push import assert_pullable

FAULT_RATE = 0.25
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json")
RECOVERED = re.compile(r"recovered from (\d+) failed requests by retrying")
BLOB_PUSHED = re.compile(r"^blob \w+ pushed to ")
UNAVAILABLE = Fault("503", status=503)


def is_manifest_put(request: ProxiedRequest) -> bool:
    return request.method == "PUT" and "/manifests/" in request.path


def is_blob_put(request: ProxiedRequest) -> bool:
    return request.method == "PUT" and "/blobs/uploads/" in request.path


def outage_after(requests: int, fault: Fault) -> Callable[[ProxiedRequest], Fault | None]:
    """Return a plan that forwards the first `requests` requests, then fails every later one with `fault`."""
    seen = [0]
    lock = threading.Lock()

    def plan(request: ProxiedRequest) -> Fault | None:
        with lock:
            seen[0] += 1
            return fault if seen[0] > requests else None

    return plan


@pytest.mark.parametrize("chunk_size", ["64MiB", "192KiB"], ids=["whole_blobs", "chunks"])
def test_push_completes_through_faults(
    chunk_size: str, go_project: Path, token_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    credentials = TOKEN_REGISTRY_CREDENTIALS
    name = f"faults/{chunk_size.lower()}"
    proxy = FaultProxy(token_registry.url, FaultRate(FAULT_RATE))
    settings = image_settings(f"{proxy.host}/{name}", credentials)
    settings["PLUGIN_CHUNK_SIZE"] = chunk_size
    try:
        run = run_plume(settings, go_project)
    finally:
        proxy.stop()

    assert run.exit_code == 0, run.describe()
    faults = proxy.faults_injected()
    assert len(faults) / proxy.request_count() >= 0.2, f"{len(faults)} faults in {proxy.request_count()} requests"
    assert set(faults) == {fault.name for fault in STANDARD_FAULTS}
    recovered = RECOVERED.search(run.stdout)
    assert recovered is not None, run.describe()
    assert int(recovered.group(1)) == len(proxy.failures_injected()), run.describe()
    assert_pullable(skopeo, f"{token_registry.host}/{name}:{TAG}", tmp_path / "layout", credentials)


def test_outage_during_blobs_leaves_no_tag(go_project: Path, open_registry: Registry) -> None:
    proxy = FaultProxy(open_registry.url, outage_after(8, UNAVAILABLE))
    try:
        run = run_plume(image_settings(f"{proxy.host}/outage/blobs"), go_project)
    finally:
        proxy.stop()

    assert_one_error_line(run, ExpectedError(proxy.host, "answered 503", exit_code=1))
    assert "FAILED registry" in run.stdout
    assert open_registry.tag_digest("outage/blobs", TAG) is None


def test_outage_at_manifests_keeps_the_previous_tag(
    go_project: Path, open_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    name = "outage/previous"
    first = run_plume(image_settings(f"{open_registry.host}/{name}"), go_project)
    assert first.exit_code == 0, first.describe()
    previous = open_registry.tag_digest(name, TAG)
    proxy = FaultProxy(open_registry.url, every_matching(UNAVAILABLE, is_manifest_put))
    changed = image_settings(f"{proxy.host}/{name}")
    changed["PLUGIN_LABELS"] = "release=second"  # new configs, so new manifests and a new index
    try:
        run = run_plume(changed, go_project)
    finally:
        proxy.stop()

    assert_one_error_line(run, ExpectedError(proxy.host, "answered 503", exit_code=1))
    assert len(proxy.requests_matching("PUT", "/manifests/")) == 5, "one manifest, tried five times"
    assert open_registry.tag_digest(name, TAG) == previous
    assert_pullable(skopeo, f"{open_registry.host}/{name}:{TAG}", tmp_path / "layout")


def test_deadline_ends_a_push_that_cannot_finish(go_project: Path, open_registry: Registry) -> None:
    throttled = Fault("429 with Retry-After in seconds", status=429, retry_after_seconds=1)
    proxy = FaultProxy(open_registry.url, every_matching(throttled, is_manifest_put))
    settings = image_settings(f"{proxy.host}/outage/deadline")
    settings["PLUGIN_TIMEOUT"] = "3"
    try:
        run = run_plume(settings, go_project)
    finally:
        proxy.stop()

    assert_one_error_line(run, ExpectedError(proxy.host, "answered 429", exit_code=1))
    assert "the deadline of 3 s set by PLUGIN_TIMEOUT" in run.stderr, run.describe()
    assert len(proxy.requests_matching("PUT", "/manifests/")) < 5, "the deadline came before the last attempt"
    assert open_registry.tag_digest("outage/deadline", TAG) is None


def start_plume(settings: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "plugin"],
        cwd=cwd,
        env=plume_environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def kill_after_first_pushed_blob(process: subprocess.Popen[str]) -> list[str]:
    """Read plume's output until it reports a pushed blob, then SIGKILL it; return the lines read."""
    watchdog = threading.Timer(PLUME_TIMEOUT, process.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if BLOB_PUSHED.match(line):
                os.kill(process.pid, signal.SIGKILL)
                break
        process.wait(timeout=PLUME_TIMEOUT)
    finally:
        watchdog.cancel()
    return lines


def test_killed_push_resumes_with_missing_blobs(
    go_project: Path, open_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    name = "killed/hello"
    stall = Fault("answer stalled for 1 s", forward_first=True, delay=1.0)
    proxy = FaultProxy(open_registry.url, every_matching(stall, is_blob_put))
    try:
        process = start_plume(image_settings(f"{proxy.host}/{name}"), go_project)
        lines = kill_after_first_pushed_blob(process)
    finally:
        proxy.stop()
    assert process.returncode == -signal.SIGKILL, "".join(lines)
    present = open_registry.linked_blobs(name)
    assert 0 < len(present) < 8, present
    assert open_registry.tag_digest(name, TAG) is None
    uploads_before = open_registry.blob_upload_count(name)

    run = run_plume(image_settings(f"{open_registry.host}/{name}"), go_project)

    assert run.exit_code == 0, run.describe()
    assert open_registry.blob_upload_count(name) - uploads_before == 8 - len(present)
    summary = f"{8 - len(present)} blobs uploaded"
    assert summary in run.stdout, run.describe()
    assert f"{len(present)} already there" in run.stdout, run.describe()
    assert_pullable(skopeo, f"{open_registry.host}/{name}:{TAG}", tmp_path / "layout")


def test_rejected_oci_format_names_the_docker_setting(
    go_project: Path, open_registry: Registry, skopeo: Skopeo, tmp_path: Path
) -> None:
    rejection = Fault(
        "400 MANIFEST_INVALID",
        status=400,
        headers={"Content-Type": "application/json"},
        body=b'{"errors": [{"code": "MANIFEST_INVALID", "message": "manifest invalid"}]}',
    )
    proxy = FaultProxy(
        open_registry.url,
        every_matching(rejection, lambda r: is_manifest_put(r) and r.headers.get("content-type") in OCI_TYPES),
    )
    settings = image_settings(f"{proxy.host}/old/registry")
    try:
        rejected = run_plume(settings, go_project)
        settings["PLUGIN_MANIFEST_FORMAT"] = "docker"
        accepted = run_plume(settings, go_project)
    finally:
        proxy.stop()

    assert_one_error_line(rejected, ExpectedError("PLUGIN_MANIFEST_FORMAT=docker", "MANIFEST_INVALID", exit_code=1))
    assert accepted.exit_code == 0, accepted.describe()
    reference = f"{open_registry.host}/old/registry:{TAG}"
    assert skopeo.raw_manifest(reference)["mediaType"] == DOCKER_MANIFEST_LIST
    assert_pullable(skopeo, reference, tmp_path / "layout")
