"""The build command: one shell command run per platform before packing, with the target in its environment.

The variables follow Docker's build arguments (`TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, `TARGETVARIANT`)
and Go's cross-compiling variables, so `go build` with no flags writes a binary for the platform.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from plugin.errors import SourceError
from plugin.oci.platform import Platform

log = logging.getLogger(__name__)

SHELL = "/bin/sh"
TAIL_LINES = 3  # the last output lines a failure message repeats; the whole output is logged above it


def target_environment(platform: Platform) -> dict[str, str]:
    """Return the variables that tell a build which platform to build for.

    As in Docker, `linux/arm64` has no variant here: arm64's only variant, v8, is implied.
    """
    variant = "" if platform.architecture == "arm64" else platform.variant
    target = "/".join(part for part in (platform.os, platform.architecture, variant) if part)
    env = {
        "TARGETPLATFORM": target,
        "TARGETOS": platform.os,
        "TARGETARCH": platform.architecture,
        "TARGETVARIANT": variant,
        "GOOS": platform.os,
        "GOARCH": platform.architecture,
        "CGO_ENABLED": "0",  # a static binary: the image has no C library, unless a base image brings one
    }
    if platform.architecture == "arm":
        env["GOARM"] = variant.removeprefix("v")
    if platform.architecture == "amd64" and variant:
        env["GOAMD64"] = variant
    return env


@dataclass(frozen=True)
class CommandResult:
    platform: Platform
    exit_code: int
    last_lines: tuple[str, ...]
    seconds: float


def _run_for_platform(command: str, platform: Platform, cwd: Path, base_env: Mapping[str, str]) -> CommandResult:
    """Run the command for one platform, logging each output line prefixed with the platform."""
    log.info("%s: running the build command", platform)
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        process = subprocess.Popen(
            [SHELL, "-c", command],
            cwd=cwd,
            env={**base_env, **target_environment(platform)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as exc:
        raise SourceError(f"cannot start {SHELL} for the build command of {platform}: {exc}") from exc
    with process:
        assert process.stdout is not None
        for raw_line in process.stdout:
            line = raw_line.decode(errors="replace").rstrip()
            log.info("%s | %s", platform, line)
            if line.strip():
                tail.append(line.strip())
        exit_code = process.wait()
    seconds = time.monotonic() - started
    log.info("%s: the build command exited with status %d after %.1f s", platform, exit_code, seconds)
    return CommandResult(platform, exit_code, tuple(tail), seconds)


def _failure_message(setting: str, failed: Sequence[CommandResult]) -> str:
    first = failed[0]
    others = "".join(f", {result.platform} (exit status {result.exit_code})" for result in failed[1:])
    output_tail = " / ".join(first.last_lines) if first.last_lines else "no output"
    return (
        f"{setting} failed for {first.platform} with exit status {first.exit_code}{others}; "
        f"its output, logged above, ends with: {output_tail}"
    )


def run_build_command(
    command: str, platforms: Sequence[Platform], cwd: Path, parallel: bool, setting: str
) -> None:
    """Run `command` with `/bin/sh -c` in `cwd` once per platform.

    One platform at a time, the first failure stops the rest. In parallel, every platform runs to its end.
    Raises SourceError naming `setting`, each failed platform and the end of the first one's output.
    """
    base_env = dict(os.environ)
    if parallel:
        with ThreadPoolExecutor(len(platforms)) as pool:
            results = list(pool.map(lambda p: _run_for_platform(command, p, cwd, base_env), platforms))
    else:
        results = []
        for platform in platforms:
            results.append(_run_for_platform(command, platform, cwd, base_env))
            if results[-1].exit_code != 0:
                break

    failed = [result for result in results if result.exit_code != 0]
    if failed:
        raise SourceError(_failure_message(setting, failed))
