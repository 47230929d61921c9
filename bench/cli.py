"""`python -m bench`: build the payload, measure every row several times, print medians and the targets."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import codecs, rows, scenarios
from bench.jobs import JobError
from bench.machine import machine_lines, version_lines
from bench.payload import MIB, Payload, build_payload
from bench.report import report_lines
from bench.samples import Results, Sample
from bench.scenarios import Bench, ColdWarm
from plugin.build.layer import DEFAULT_COMPRESSION_LEVEL
from tests.rig.goapp import GO_TARGETS

DEFAULT_RUNS = 3  # about 40 s a run on 2 cores with the default sizes
DEFAULT_SIZE_MIB = 20
DEFAULT_BIG_LAYER_MIB = 1024
FASTEST_LEVEL = 1
MIN_SIZE_MIB = 2  # the Go programs the payload starts with are about 1.3 MB
REQUIRED_COMMANDS = ("docker-registry", "skopeo", "umoci", "go")


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure plume against umoci + skopeo and buildah on one payload; print medians and targets.",
    )
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help="runs of every row; the table has medians (%(default)s)"
    )
    parser.add_argument(
        "--size-mib", type=int, default=DEFAULT_SIZE_MIB, help="size of each executable in MiB (%(default)s)"
    )
    parser.add_argument(
        "--big-layer-mib",
        type=int,
        default=DEFAULT_BIG_LAYER_MIB,
        help="size in MiB of the one-layer run that measures peak RSS; 0 skips it (%(default)s)",
    )
    parser.add_argument(
        "--level", type=int, default=DEFAULT_COMPRESSION_LEVEL, help="plume's default level (%(default)s)"
    )
    parser.add_argument("--fast-level", type=int, default=FASTEST_LEVEL, help="plume's fastest level (%(default)s)")
    parser.add_argument("--work-dir", type=Path, help="scratch folder; without it, a new temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder with every job's output")
    parser.add_argument("--skip-peers", action="store_true", help="measure plume and the codec floors only")
    parser.add_argument(
        "--level-sweep", action="store_true", help="also time the floors of zlib-ng 1 to 9 and ISA-L 0 to 3"
    )
    arguments = parser.parse_args(argv)
    if arguments.runs < 1:
        parser.error(f"--runs {arguments.runs}: give 1 or more")
    if arguments.size_mib < MIN_SIZE_MIB:
        parser.error(f"--size-mib {arguments.size_mib}: give {MIN_SIZE_MIB} or more")
    if arguments.big_layer_mib and arguments.big_layer_mib < MIN_SIZE_MIB:
        parser.error(f"--big-layer-mib {arguments.big_layer_mib}: give 0 or {MIN_SIZE_MIB} or more")
    return arguments


def missing_commands() -> list[str]:
    return [command for command in REQUIRED_COMMANDS if shutil.which(command) is None]


def buildah_unavailable() -> str | None:
    """Why the buildah rows cannot run here, or None when they can."""
    if shutil.which("buildah") is None:
        return "buildah is not installed (apt-get install buildah)"
    if os.geteuid() != 0:
        return "buildah with the vfs driver is measured as root only"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing, so buildah's blob info cache cannot be emptied"
    return None


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parallel_threads(payload: Payload) -> int:
    return min(len(payload.files), os.cpu_count() or 1)


class Runner:
    """Measures every row once per call of `run_once`, reporting each measurement on stderr."""

    def __init__(self, bench: Bench, results: Results, floors: Sequence[codecs.Codec], buildah: bool) -> None:
        self.bench = bench
        self.results = results
        self.floors = floors
        self.buildah = buildah

    def record(self, key: str, sample: Sample | None) -> None:
        if sample is None:
            return
        self.results.add(key, sample)
        progress(f"  {self.results[key].label}: {sample.seconds:.3f} s")

    def record_pair(self, cold_key: str, warm_key: str, measure: Callable[[], ColdWarm]) -> None:
        pair = measure()
        self.record(cold_key, pair.cold)
        self.record(warm_key, pair.warm)

    def run_once(self, skip_peers: bool) -> None:
        bench = self.bench
        self.record_pair(rows.PLUME_COLD, rows.PLUME_WARM, lambda: scenarios.plume_to_registry(bench, bench.level))
        self.record(rows.PLUME_COLD_FAST, scenarios.plume_to_registry(bench, bench.fast_level, warm=False).cold)
        self.record_pair(rows.PLUME_STATIC_COLD, rows.PLUME_STATIC_WARM, lambda: scenarios.plume_to_directory(bench))
        self.record(rows.PLUME_BOTH_COLD, scenarios.plume_to_both(bench))
        if not skip_peers:
            self.record_pair(rows.UMOCI_COLD, rows.UMOCI_WARM, lambda: scenarios.umoci_skopeo(bench))
            if self.buildah:
                self.record_pair(rows.BUILDAH_COLD, rows.BUILDAH_WARM, lambda: scenarios.buildah(bench))
        self.run_floors()
        self.record(rows.PYTHON_BARE, Sample.of_job(scenarios.bare_python(bench)))
        self.record(rows.PLUME_VERSION, Sample.of_job(scenarios.plume_version(bench)))
        self.record(rows.PLUME_START_UP, Sample.of_job(scenarios.plume_start_up(bench)))
        self.record(rows.FIRST_REQUEST, Sample(scenarios.plume_first_request(bench)))

    def run_floors(self) -> None:
        paths = [file.path for file in self.bench.payload.files]
        parallel = codecs.measure_floor(paths, self.floors[0], threads=parallel_threads(self.bench.payload))
        self.record(rows.FLOOR_PARALLEL, Sample(parallel.seconds, layer_bytes=parallel.compressed_bytes))
        for codec in self.floors:
            floor = codecs.measure_floor(paths, codec)
            layer_bytes = floor.compressed_bytes if codec.new_compressor else None
            self.record(rows.floor_key(codec), Sample(floor.seconds, layer_bytes=layer_bytes))

    def run_big_layer(self, size_mib: int) -> None:
        """Publish one platform with a `size_mib` executable once, for its peak RSS, then remove its files."""
        progress(f"one {size_mib} MiB layer")
        payload = build_payload(self.bench.work_dir / "big", size_mib * MIB, GO_TARGETS[:1])
        try:
            self.record(rows.PLUME_BIG, scenarios.plume_big_layer(self.bench, payload))
        finally:
            shutil.rmtree(payload.directory, ignore_errors=True)


def header_lines(payload: Payload, runs: int, load_before: float, notes: Sequence[str]) -> list[str]:
    platforms = ", ".join(payload.platforms)
    files = ", ".join(f"{file.platform} {file.sha256[:12]}" for file in payload.files)
    runs_word = "run" if runs == 1 else "runs"
    return [
        *machine_lines(),
        f"load average over 1 minute: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after {runs} {runs_word}",
        *version_lines(),
        f"payload: {len(payload.files)} x {payload.size / MIB:.0f} MiB executables ({platforms}); sha256 {files}",
        *notes,
    ]


def measure(arguments: argparse.Namespace, work_dir: Path) -> list[str]:
    """Build the payload, measure every row `--runs` times, and return the report's lines."""
    load_before = os.getloadavg()[0]
    progress(f"building the payload in {work_dir}")
    payload = build_payload(work_dir, arguments.size_mib * MIB)
    bench = Bench(payload, work_dir, arguments.level, arguments.fast_level)
    floors = rows.floor_codecs(arguments.level, arguments.fast_level, arguments.level_sweep)
    threads = parallel_threads(payload)
    results = Results(rows.table_rows(arguments.level, arguments.fast_level, floors, threads, arguments.big_layer_mib))

    notes = []
    buildah_reason = None if arguments.skip_peers else buildah_unavailable()
    if buildah_reason:
        notes.append(f"buildah rows skipped: {buildah_reason}")
    runner = Runner(bench, results, floors, buildah=buildah_reason is None)
    scenarios.plume_version(bench)  # compiles plume's modules once, as installing the step image does
    for run in range(arguments.runs):
        progress(f"run {run + 1} of {arguments.runs}")
        runner.run_once(arguments.skip_peers)
    if arguments.big_layer_mib:
        runner.run_big_layer(arguments.big_layer_mib)
    header = header_lines(payload, arguments.runs, load_before, notes)
    return report_lines(header, results, rows.floor_key(floors[0]))


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    missing = missing_commands()
    if missing:
        print(f"error: missing commands: {', '.join(missing)}; bench/run installs them", file=sys.stderr)
        return 2

    work_dir = arguments.work_dir or Path(tempfile.mkdtemp(prefix="plume-bench-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        lines = measure(arguments, work_dir.resolve())
    except JobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if not arguments.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    print("\n".join(lines))
    return 0
