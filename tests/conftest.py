"""Fixtures for the end-to-end tests: real registries, real clients, the Go test program and plume itself."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.rig.clients import Skopeo
from tests.rig.goapp import build_go_binaries
from tests.rig.processes import LOOPBACK, ServerProcess, free_port, wait_for_http
from tests.rig.registry import Credentials, Registry, TokenAuth
from tests.rig.tokens import ISSUER, SERVICE, TokenServer

PLUME_TIMEOUT = 180.0  # seconds for one plume run that packs four platforms of about 1.3 MB each
REGISTRY_CREDENTIALS = Credentials("plume-ci", "Basic-auth-secret-5d1c")
# A password shaped like a Docker Hub personal access token, which works wherever a password does.
TOKEN_REGISTRY_CREDENTIALS = Credentials("plume-hub-user", "dckr_pat_TokenAuth-secret-8e2f")


@dataclass(frozen=True)
class PlumeRun:
    """What a CI user sees of one plume run."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def describe(self) -> str:
        """Return the run's exit code and output, for assertion messages."""
        return f"exit code {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def plume_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """Return a clean environment like a CI step gets: PATH and HOME, plus the step's settings."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    env.update(settings)
    return env


def run_plume(settings: Mapping[str, str], cwd: Path, arguments: Sequence[str] = ()) -> PlumeRun:
    """Run `python -m plugin` as a CI step would and return its exit code and output."""
    completed = subprocess.run(
        [sys.executable, "-m", "plugin", *arguments],
        cwd=cwd,
        env=plume_environment(settings),
        capture_output=True,
        text=True,
        timeout=PLUME_TIMEOUT,
        check=False,
    )
    return PlumeRun(completed.returncode, completed.stdout, completed.stderr)


class StaticServer:
    """`plume serve DIR` on a free loopback port."""

    def __init__(self, static_dir: Path, log_path: Path) -> None:
        self.static_dir = static_dir
        self.port = free_port()
        argv = [sys.executable, "-m", "plugin", "serve", str(static_dir), "--host", LOOPBACK, "--port", str(self.port)]
        self.server = ServerProcess(argv, log_path)
        try:
            wait_for_http(f"http://{self.host}/v2/")
        except TimeoutError as exc:
            self.server.stop()
            raise AssertionError(f"plume serve is not ready: {exc}\n{self.server.log_text()}") from exc

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="session")
def go_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose dist/ contains the Go program built for linux/amd64, arm64, arm/v7 and 386."""
    project = tmp_path_factory.mktemp("go-project")
    build_go_binaries(project)
    return project


@pytest.fixture(scope="session")
def open_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    registry = Registry(tmp_path_factory.mktemp("registry-open"))
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    registry = Registry(tmp_path_factory.mktemp("registry-basic-auth"), REGISTRY_CREDENTIALS)
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    """A token server like Docker Hub's, which accepts TOKEN_REGISTRY_CREDENTIALS."""
    server = TokenServer(
        tmp_path_factory.mktemp("token-server"),
        {TOKEN_REGISTRY_CREDENTIALS.username: TOKEN_REGISTRY_CREDENTIALS.password},
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory, token_server: TokenServer) -> Iterator[Registry]:
    """A registry with token authentication, as Docker Hub has, backed by `token_server`."""
    token_auth = TokenAuth(token_server.realm, SERVICE, ISSUER, token_server.bundle_path)
    registry = Registry(
        tmp_path_factory.mktemp("registry-token-auth"),
        TOKEN_REGISTRY_CREDENTIALS,
        token_auth=token_auth,
        bearer_token=lambda scopes: token_server.token(scopes, TOKEN_REGISTRY_CREDENTIALS.username),
    )
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def skopeo(tmp_path_factory: pytest.TempPathFactory) -> Skopeo:
    return Skopeo(tmp_path_factory.mktemp("skopeo"))


@pytest.fixture
def read_only_registry(tmp_path: Path) -> Iterator[Registry]:
    """A registry in maintenance mode: `GET /v2/` returns 200, but every push is rejected."""
    registry = Registry(tmp_path / "registry-read-only", read_only=True)
    yield registry
    registry.stop()
