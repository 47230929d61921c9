"""The machine and the software versions a result was measured with, printed above the table."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from zlib_ng import zlib_ng

VERSION_TIMEOUT = 30.0  # seconds for one `--version` call


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / (1 << 20)
    return 0.0


def os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def command_version(argv: list[str]) -> str:
    """Return the first line a tool prints for its version, or why there is none."""
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT, check=False)
    except FileNotFoundError:
        return "not installed"
    lines = (completed.stdout or completed.stderr).strip().splitlines()
    return lines[0] if lines else f"exit code {completed.returncode}"


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_lines() -> list[str]:
    return [
        f"date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {os.cpu_count()} cores, {memory_gib():.1f} GiB memory, {cpu_model()}",
        f"system: {os_name()}, Linux {platform.release()}",
    ]


def version_lines() -> list[str]:
    plume = command_version([sys.executable, "-m", "plugin", "--version"])
    return [
        f"plume: {plume}; Python {platform.python_version()}",
        f"zlib-ng: Python package {package_version('zlib-ng')}, library {zlib_ng.ZLIBNG_VERSION}; "
        f"isal: Python package {package_version('isal')}",
        f"skopeo: {command_version(['skopeo', '--version'])}; umoci: {command_version(['umoci', '--version'])}",
        f"buildah: {command_version(['buildah', '--version'])}",
        f"registry: {command_version(['docker-registry', '--version'])}",
        f"go: {command_version(['go', 'version'])}",
    ]
