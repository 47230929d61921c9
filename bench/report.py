"""The printed result: a Markdown table of medians with ratios against plume, then the speed targets."""

from __future__ import annotations

from dataclasses import dataclass

from bench import rows
from bench.samples import Results, Row

MIB = 1 << 20
MB = 1_000_000

# The targets plume is held to, all measured by this benchmark in one run.
COLD_VS_UMOCI = 2.0  # cold publish at the default level, times faster than umoci + skopeo
COLD_VS_BUILDAH = 4.0  # the same against buildah
FAST_VS_UMOCI = 4.0  # cold publish at the fastest level against umoci + skopeo
WARM_SECONDS = 0.5
MAX_RSS_BYTES = 100 * MB
FIRST_REQUEST_SECONDS = 0.3
# A warm run that compressed its layers would use, beyond plume's start-up, at least the CPU time of
# compressing the payload once, measured by the serial floor at plume's level. Below half of that, the run
# only hashed its input. The start-up is the CPU time of a run stopped by an invalid setting: the imports
# and settings checks that every run pays first.
COMPRESSED_CPU_SHARE = 0.5


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _time_ratio(row: Row, results: Results) -> str:
    if row.compared_with is None:
        return ""
    base = results[row.compared_with].seconds
    seconds = row.seconds
    if not base or seconds is None:
        return ""
    return f"{seconds / base:.2f}"


def _layer_ratio(row: Row, results: Results) -> str:
    """Divide a row's layer bytes by plume's at the default level, for rows that compressed the same payload."""
    base = results[rows.PLUME_COLD].layer_bytes
    same_payload = row.compared_with is not None or row.key in (rows.PLUME_COLD, rows.PLUME_WARM)
    if row.layer_bytes is None or not base or not same_payload:
        return ""
    return f"{row.layer_bytes / base:.3f}"


def _spread(row: Row) -> str:
    seconds = [sample.seconds for sample in row.samples]
    if len(seconds) < 2:
        return ""
    return f"{min(seconds):.2f}-{max(seconds):.2f}"


def _sent(row: Row) -> str:
    if row.sent_blobs is None or row.sent_bytes is None:
        return ""
    return f"{row.sent_blobs:.0f} / {row.sent_bytes / MIB:.2f}"


def table_lines(results: Results) -> list[str]:
    """Format one Markdown line per measured row, with medians over its samples."""
    lines = [
        "| job | runs | median s | min-max s | ÷ plume | CPU s | peak RSS MB | layers MiB | layers ÷ plume |"
        " blobs sent / MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results.measured():
        rss = None if row.max_rss is None else row.max_rss / MB
        cells = [
            row.label,
            str(len(row.samples)),
            _number(row.seconds, 3),
            _spread(row),
            _time_ratio(row, results),
            _number(row.cpu_seconds),
            _number(rss, 1),
            "" if row.layer_bytes is None else f"{row.layer_bytes / MIB:.2f}",
            _layer_ratio(row, results),
            _sent(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


@dataclass(frozen=True)
class TargetCheck:
    """A target with its measured value and whether the value meets it."""

    target: str
    measured: str
    met: bool | None  # None when a row it needs was not measured

    def line(self) -> str:
        if self.met is None:
            return f"- not measured: {self.target}"
        verdict = "met" if self.met else "MISSED"
        return f"- {verdict}: {self.target}: {self.measured}"


NOT_MEASURED = "not measured"


def speedup_check(results: Results, peer_key: str, plume_key: str, goal: float) -> TargetCheck:
    peer, plume = results[peer_key], results[plume_key]
    target = f"{plume.label} at least {goal:.0f}x faster than {peer.label}"
    if not peer.seconds or not plume.seconds:
        return TargetCheck(target, NOT_MEASURED, None)
    speedup = peer.seconds / plume.seconds
    return TargetCheck(target, f"{speedup:.2f}x ({peer.seconds:.3f} s against {plume.seconds:.3f} s)", speedup >= goal)


def layer_bytes_check(results: Results, peer_keys: list[str]) -> TargetCheck:
    target = "cold publish, default level: total layer bytes no larger than the peers'"
    plume_bytes = results[rows.PLUME_COLD].layer_bytes
    peers = {results[key].label: results[key].layer_bytes for key in peer_keys}
    measured_peers = {label: size for label, size in peers.items() if size}
    if not plume_bytes or not measured_peers:
        return TargetCheck(target, NOT_MEASURED, None)
    others = ", ".join(f"{label} {size / MIB:.2f} MiB" for label, size in measured_peers.items())
    return TargetCheck(
        target, f"plume {plume_bytes / MIB:.2f} MiB; {others}", plume_bytes <= min(measured_peers.values())
    )


def warm_checks(results: Results, warm_key: str, compress_floor_key: str) -> list[TargetCheck]:
    """Check that every warm run sent no blob bytes, ended in time and used too little CPU to have compressed."""
    row = results[warm_key]
    sent = row.maximum(lambda sample: sample.sent.bytes if sample.sent else None)
    checks = [
        TargetCheck(
            f"{row.label}: zero blob bytes sent",
            NOT_MEASURED if sent is None else f"{sent:.0f} bytes in the worst run",
            None if sent is None else sent == 0,
        ),
        TargetCheck(
            f"{row.label}: under {WARM_SECONDS} s",
            f"{_number(row.seconds, 3)} s",
            None if row.seconds is None else row.seconds < WARM_SECONDS,
        ),
    ]
    checks.append(no_compression_check(results, row, compress_floor_key))
    return checks


def no_compression_check(results: Results, row: Row, compress_floor_key: str) -> TargetCheck:
    target = f"{row.label}: no layer compressed (judged by CPU time)"
    floor, cpu = results[compress_floor_key].seconds, row.cpu_seconds
    start_up = results[rows.PLUME_START_UP].cpu_seconds
    if floor is None or cpu is None or start_up is None:
        return TargetCheck(target, NOT_MEASURED, None)
    work = cpu - start_up
    limit = COMPRESSED_CPU_SHARE * floor
    measured = (
        f"{work:.2f} s of CPU beyond the {start_up:.2f} s start-up; compressing the payload once takes "
        f"{floor:.2f} s, so the limit is {limit:.2f} s"
    )
    return TargetCheck(target, measured, work < limit)


def rss_check(results: Results, key: str) -> TargetCheck:
    row = results[key]
    target = f"{row.label}: peak RSS under {MAX_RSS_BYTES / MB:.0f} MB"
    peak = row.maximum(lambda sample: sample.max_rss)
    if peak is None:
        return TargetCheck(target, NOT_MEASURED, None)
    return TargetCheck(target, f"{peak / MB:.1f} MB in the worst run", peak < MAX_RSS_BYTES)


def first_request_check(results: Results) -> TargetCheck:
    target = f"first network request within {FIRST_REQUEST_SECONDS} s of start"
    seconds = results[rows.FIRST_REQUEST].seconds
    if seconds is None:
        return TargetCheck(target, NOT_MEASURED, None)
    return TargetCheck(target, f"{seconds:.3f} s (median)", seconds <= FIRST_REQUEST_SECONDS)


def target_checks(results: Results, compress_floor_key: str) -> list[TargetCheck]:
    """Check every target of the benchmark, in the order the docs list them."""
    return [
        speedup_check(results, rows.UMOCI_COLD, rows.PLUME_COLD, COLD_VS_UMOCI),
        speedup_check(results, rows.BUILDAH_COLD, rows.PLUME_COLD, COLD_VS_BUILDAH),
        layer_bytes_check(results, [rows.UMOCI_COLD, rows.BUILDAH_COLD]),
        speedup_check(results, rows.UMOCI_COLD, rows.PLUME_COLD_FAST, FAST_VS_UMOCI),
        *warm_checks(results, rows.PLUME_WARM, compress_floor_key),
        *warm_checks(results, rows.PLUME_STATIC_WARM, compress_floor_key),
        rss_check(results, rows.PLUME_COLD),
        rss_check(results, rows.PLUME_BIG),
        first_request_check(results),
    ]


def report_lines(header: list[str], results: Results, compress_floor_key: str) -> list[str]:
    """Assemble the printed result: machine and versions, the table, its legend, then the targets."""
    legend = [
        "",
        "median s: wall time from spawn to exit (codec floors: inside the benchmark process); min-max s: its range.",
        "÷ plume: median s divided by that of plume cold -> registry (cold rows and floors) or of plume warm ->"
        " registry (warm rows).",
        "CPU s: user + system time of the job's processes; peak RSS: the largest of its processes.",
        "layers MiB: compressed layer bytes the tag references (floors: compressed output bytes).",
        "blobs sent: blob uploads the registry completed (directory: blob files written) during the job.",
    ]
    targets = [check.line() for check in target_checks(results, compress_floor_key)]
    return [*header, "", *table_lines(results), *legend, "", "Targets:", *targets]
