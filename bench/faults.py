"""Benchmark: how much slower a push through faults is than a clean push of the same image.

Run from the repository root after `bash tests/run` has installed what the tests use:

    .venv/bin/python -m bench.faults [--runs 3] [--rate 0.25]

It builds the tests' Go program for four platforms and starts the CNCF registry and the tests'
fault-injecting proxy on 127.0.0.1. Then plume pushes the image `--runs` times directly and `--runs` times
through the proxy at the fault rate, each time to a new repository. The script prints one line with the
medians and their ratio.
Every server it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import run_plume
from tests.rig.faults import FaultProxy, FaultRate
from tests.rig.goapp import build_go_binaries
from tests.rig.registry import Registry
from tests.test_main_job import image_settings


@dataclass(frozen=True)
class Push:
    seconds: float
    requests: int
    faults: int


def timed_push(settings: dict[str, str], project: Path, proxy: FaultProxy | None) -> Push:
    started = time.monotonic()
    run = run_plume(settings, project)
    seconds = time.monotonic() - started
    if run.exit_code != 0:
        raise SystemExit(f"plume failed:\n{run.describe()}")
    if proxy is None:
        return Push(seconds, 0, 0)
    return Push(seconds, proxy.request_count(), len(proxy.failures_injected()))


def measure(runs: int, rate: float, work_dir: Path) -> tuple[list[Push], list[Push]]:
    project = work_dir / "project"
    build_go_binaries(project)
    registry = Registry(work_dir / "registry")
    clean: list[Push] = []
    faulty: list[Push] = []
    try:
        for number in range(runs):
            clean.append(timed_push(image_settings(f"{registry.host}/clean/run{number}"), project, None))
            proxy = FaultProxy(registry.url, FaultRate(rate))
            try:
                settings = image_settings(f"{proxy.host}/faulty/run{number}")
                faulty.append(timed_push(settings, project, proxy))
            finally:
                proxy.stop()
    finally:
        registry.stop()
    return clean, faulty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="pushes of each kind; the medians are compared")
    parser.add_argument("--rate", type=float, default=0.25, help="fraction of requests the proxy makes fail")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="plume-bench-faults-") as work_dir:
        clean, faulty = measure(arguments.runs, arguments.rate, Path(work_dir))

    clean_seconds = statistics.median(push.seconds for push in clean)
    faulty_seconds = statistics.median(push.seconds for push in faulty)
    faults = statistics.median(push.faults for push in faulty)
    requests = statistics.median(push.requests for push in faulty)
    print(
        f"faulty push: {faulty_seconds:.1f} s, clean push: {clean_seconds:.1f} s, "
        f"slowdown {faulty_seconds / clean_seconds:.1f}x "
        f"(medians of {arguments.runs} runs; {faults:g} of {requests:g} requests failed, rate {arguments.rate:g}; "
        f"four platforms; {os.cpu_count()} CPUs, Python {platform.python_version()}, {sys.platform})"
    )


if __name__ == "__main__":
    main()
