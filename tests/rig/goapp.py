"""Cross-compile the tiny Go program in tests/data/goapp for the four platforms the end-to-end tests pack."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GOAPP_SOURCE = Path(__file__).resolve().parent.parent / "data" / "goapp"
BUILD_TIMEOUT = 300.0  # seconds for one architecture, which takes about 10 s on 2 cores with a cold build cache


@dataclass(frozen=True)
class GoTarget:
    """One platform of the test image: how Go names it and what the program prints on it."""

    platform: str  # as written in PLUGIN_PLATFORMS
    goarch: str
    goarm: str  # "" unless GOARCH is arm
    file_name: str  # the name PLUGIN_ARTIFACT=dist/hello-{os}-{arch}{variant} expands to

    @property
    def os(self) -> str:
        return self.platform.split("/")[0]

    @property
    def arch(self) -> str:
        return self.platform.split("/")[1]

    @property
    def variant(self) -> str:
        parts = self.platform.split("/")
        return parts[2] if len(parts) > 2 else ""

    @property
    def greeting(self) -> str:
        """The line the program prints when it runs."""
        return f"hello from plume on {self.platform}"


GO_TARGETS = (
    GoTarget("linux/amd64", "amd64", "", "hello-linux-amd64"),
    GoTarget("linux/arm64", "arm64", "", "hello-linux-arm64"),
    GoTarget("linux/arm/v7", "arm", "7", "hello-linux-armv7"),
    GoTarget("linux/386", "386", "", "hello-linux-386"),
)
ARTIFACT_TEMPLATE = "dist/hello-{os}-{arch}{variant}"


def go_build_env(target: GoTarget, project_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOOS": target.os,
        "GOARCH": target.goarch,
        "GOFLAGS": "",
        "GOPROXY": "off",  # the program has no dependencies, so the build must not download anything
    }
    env.pop("GOARM", None)
    if not any(env.get(name) for name in ("GOCACHE", "XDG_CACHE_HOME", "HOME")):
        env["GOCACHE"] = str(project_dir / "go-build-cache")  # go refuses to build without a cache folder
    if target.goarm:
        env["GOARM"] = target.goarm
    return env


def build_go_binaries(project_dir: Path) -> Path:
    """Build every target into `project_dir/dist/` and return that folder."""
    dist = project_dir / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    for target in GO_TARGETS:
        output = dist / target.file_name
        subprocess.run(
            ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(output), "."],
            cwd=GOAPP_SOURCE,
            env=go_build_env(target, project_dir),
            check=True,
            timeout=BUILD_TIMEOUT,
        )
    return dist
